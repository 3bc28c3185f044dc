#pragma once
// What: OpenFlow actions and instructions as the pipeline executes them
// (wire-independent: the OpenFlow codec decodes into these, ovs-ofctl-style
// text parses into these).
//
// Design: an OfAction is a small tagged value; lists are vectors. The action
// set of OpenFlow 1.3 (write-actions) keeps at most one action per kind and
// runs in the spec's fixed order (ActionSetOrder); set-field entries are one
// per field. Instructions hold at most one of each instruction type, as the
// spec requires, and are applied in its order: meter, apply-actions,
// clear-actions, write-actions, write-metadata, goto-table.
//
// Thread-safety: plain values.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ofproto/meta_flow.h"

namespace sluice::ofproto {

// OpenFlow 1.3 reserved port numbers.
inline constexpr uint32_t kPortMax = 0xffffff00;
inline constexpr uint32_t kPortInPort = 0xfffffff8;
inline constexpr uint32_t kPortTable = 0xfffffff9;
inline constexpr uint32_t kPortNormal = 0xfffffffa;
inline constexpr uint32_t kPortFlood = 0xfffffffb;
inline constexpr uint32_t kPortAll = 0xfffffffc;
inline constexpr uint32_t kPortController = 0xfffffffd;
inline constexpr uint32_t kPortLocal = 0xfffffffe;
inline constexpr uint32_t kPortAny = 0xffffffff;  // "no port" in filters

inline constexpr uint32_t kGroupAny = 0xffffffff;
inline constexpr uint16_t kControllerMaxLenNoBuffer = 0xffff;

enum class OfActionType : uint8_t {
  kOutput,
  kGroup,
  kSetField,
  kPushVlan,
  kPopVlan,
  kDecTtl,    // OFPAT_DEC_NW_TTL
  kSetQueue,
};

struct OfAction {
  OfActionType type = OfActionType::kOutput;
  uint32_t port = 0;        // kOutput
  uint16_t max_len = 0;     // kOutput to kPortController: bytes of packet to send
  uint32_t group_id = 0;    // kGroup
  FieldId field = FieldId::kCount;  // kSetField
  FieldValue value;         // kSetField
  uint16_t ethertype = 0;   // kPushVlan: 0x8100 or 0x88a8
  uint32_t queue_id = 0;    // kSetQueue

  static OfAction Output(uint32_t port, uint16_t max_len = 0) {
    OfAction a;
    a.type = OfActionType::kOutput;
    a.port = port;
    a.max_len = max_len;
    return a;
  }
  static OfAction Group(uint32_t id) {
    OfAction a;
    a.type = OfActionType::kGroup;
    a.group_id = id;
    return a;
  }
  static OfAction SetField(FieldId f, const FieldValue& v) {
    OfAction a;
    a.type = OfActionType::kSetField;
    a.field = f;
    a.value = v;
    return a;
  }
  static OfAction PushVlan(uint16_t ethertype = 0x8100) {
    OfAction a;
    a.type = OfActionType::kPushVlan;
    a.ethertype = ethertype;
    return a;
  }
  static OfAction PopVlan() {
    OfAction a;
    a.type = OfActionType::kPopVlan;
    return a;
  }
  static OfAction DecTtl() {
    OfAction a;
    a.type = OfActionType::kDecTtl;
    return a;
  }
  static OfAction SetQueue(uint32_t q) {
    OfAction a;
    a.type = OfActionType::kSetQueue;
    a.queue_id = q;
    return a;
  }
  bool operator==(const OfAction& o) const;
};

using OfActionList = std::vector<OfAction>;

// The OpenFlow 1.3 action set: at most one action of each kind (one
// set-field per field), executed in the spec's order by ActionSetOrder().
class ActionSet {
 public:
  void Write(const OfActionList& actions);  // write-actions: merge, replacing same-kind entries
  void Clear() { actions_.clear(); }
  bool empty() const { return actions_.empty(); }
  // The actions in execution order: pop-vlan, push-vlan, dec-ttl, set-field
  // (by field), set-queue, then group if present, else output.
  OfActionList ActionSetOrder() const;
  const OfActionList& raw() const { return actions_; }

 private:
  OfActionList actions_;
};

struct Instructions {
  std::optional<uint32_t> meter;
  OfActionList apply;
  bool has_apply = false;
  bool clear_actions = false;
  std::optional<OfActionList> write;
  bool has_write_metadata = false;
  uint64_t metadata = 0, metadata_mask = 0;
  std::optional<uint8_t> goto_table;

  static Instructions Apply(OfActionList actions) {
    Instructions i;
    i.apply = std::move(actions);
    i.has_apply = true;
    return i;
  }
  bool operator==(const Instructions& o) const;
  // Ports the instructions output to (for out_port filters), groups likewise.
  bool OutputsTo(uint32_t port) const;
  bool UsesGroup(uint32_t group_id) const;
};

// "2", "NORMAL", "CONTROLLER", ... Other text forms (ovs-ofctl syntax) are
// in ofctl_parse.h.
std::string FormatPort(uint32_t port);

}  // namespace sluice::ofproto
