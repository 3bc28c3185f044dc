#pragma once
// What: helpers shared by the files that implement ofctl_parse.h:
// ofctl_match.cc (lexical helpers, the field value/mask codec, matches),
// ofctl_actions.cc (actions and instructions) and ofctl_parse.cc (flow-mods
// and groups). Internal to those ofctl_*.cc files; not for use elsewhere.
// Each is defined, with its comment, in the file named above its group;
// helpers that one file alone uses stay in its anonymous namespace.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/util/status.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofproto::ofctl_internal {

inline constexpr uint32_t kGroupMaxId = 0xffffff00;
inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86dd;

// Lexical helpers (ofctl_match.cc).

bool IsSpace(char c);
char Lower(char c);
bool IEq(std::string_view a, std::string_view b);
// The text of an item for an error message, shortened when huge (garbage).
std::string Q(std::string_view s);
// The next item of `s` at or after *pos (see ofctl_match.cc).
Status NextItem(std::string_view s, size_t* pos, std::string_view* item);
Status SplitItems(std::string_view s, std::vector<std::string_view>* items);
// "key=value" or "key".
void SplitKv(std::string_view item, std::string_view* key, std::string_view* value,
             bool* has_value);
// An action or bucket item: "name:arg", "name=arg", "name(arg)" or "name".
bool SplitAction(std::string_view item, std::string_view* name, std::string_view* arg,
                 bool* has_arg, bool* parens);
// A decimal or 0x-hex unsigned integer (the whole text).
bool ParseU64(std::string_view s, uint64_t* out);
bool ParseBounded(std::string_view s, uint64_t max, uint64_t* out);

// Ports (ofctl_match.cc).

struct PortName {
  const char* name;
  uint32_t port;
};
inline constexpr PortName kPortNames[] = {
    {"IN_PORT", kPortInPort}, {"TABLE", kPortTable}, {"NORMAL", kPortNormal},
    {"FLOOD", kPortFlood},    {"ALL", kPortAll},     {"CONTROLLER", kPortController},
    {"LOCAL", kPortLocal},    {"ANY", kPortAny},     {"NONE", kPortAny},
};

// A port number or reserved name (case-insensitive).
bool ParsePort(std::string_view s, uint32_t* port);

// Field values (ofctl_match.cc).

// Parses "VALUE[/MASK]" for field `id` into wire-form value and mask (all
// ones without a mask). Returns "" or the problem.
std::string ParseValueMask(FieldId id, std::string_view text, FieldValue* v, FieldValue* m,
                           bool* has_mask);
// A field's value alone.
std::string FormatScalar(FieldId id, const FieldValue& v);

// Prerequisites (ofctl_match.cc).

const char* PrereqText(Prereq p);
bool ExactUint(const OfMatch& m, FieldId id, uint64_t* v);

// Matches (ofctl_match.cc).

// Builds a match item by item, refusing fields given twice and
// contradictions, and checks prerequisites once everything is in.
class MatchBuilder {
 public:
  MatchBuilder() { explicit_.Clear(); }

  // One match item (FIELD=VALUE or a shorthand).
  Status ParseItem(std::string_view item, std::string_view key, std::string_view value,
                   bool has_value);
  // Checks prerequisites and hands out the match.
  Status Finish(OfMatch* out) const;

 private:
  struct Item {
    std::string text;               // the item, for messages
    std::string name;               // the field name as written
    std::vector<FieldId> need_any;  // prerequisites: those of one of these
    std::string requires_text;      // what to tell the user when unmet
  };

  // Adds id=v/m. `implied` bits (from a shorthand, or the VLAN present bit
  // that a priority needs) may be repeated consistently; explicit ones not.
  Status Add(std::string_view item, std::string_view name, FieldId id, FieldValue v,
             const FieldValue& m, bool implied);
  void Need(std::string_view item, std::string_view name, std::vector<FieldId> any,
            std::string text = "");

  OfMatch match_ = OfMatch::CatchAll();
  OfMask explicit_;
  std::vector<Item> items_;
};

// Actions (ofctl_actions.cc).

// A list of actions (no instructions). `where` names the list in messages;
// `action_set` refuses two actions of a kind (write_actions).
Status ParseActionItems(const std::vector<std::string_view>& items, const OfMatch* match,
                        bool action_set, std::string_view where, OfActionList* out);

}  // namespace sluice::ofproto::ofctl_internal
