#pragma once
// What: the OpenFlow flow tables of one bridge (tables 0-254) and the
// flow-mod semantics of OpenFlow 1.3: add, modify, modify-strict, delete,
// delete-strict, with cookies and cookie masks, out_port/out_group filters,
// check-overlap, idle and hard timeouts, flags, counters and per-table
// statistics.
//
// Design: each table is a Classifier (classifier.h) of OfRules. Rules are
// shared_ptrs so that translation caches (the revalidator's record of which
// rules a megaflow used) can outlive a rule's removal safely; a removed rule
// has `removed` set. Every change bumps version(), which tells the
// revalidator that megaflows may be stale. Validation that needs the rest of
// the bridge (do output ports and groups exist?) goes through a Validator
// callback, so this layer knows nothing of ports.
//
// Invariants:
//   1. At most one rule per (table, match, priority).
//   2. A rule is in its table's classifier iff !removed.
//   3. A failed flow-mod changes nothing.
//
// Thread-safety: not thread-safe; the Ofproto serialises flow-mods and
// lookups with its own lock. Rule counters are atomics (the revalidator adds
// to them while lookups read them).

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ofproto/classifier.h"
#include "ofproto/of_actions.h"
#include "ofproto/of_error.h"

namespace sluice::ofproto {

inline constexpr int kNumTables = 255;
inline constexpr uint8_t kAllTables = 0xff;

// OFPFF_* flow-mod flags.
inline constexpr uint16_t kFlagSendFlowRem = 1 << 0;
inline constexpr uint16_t kFlagCheckOverlap = 1 << 1;
inline constexpr uint16_t kFlagResetCounts = 1 << 2;
inline constexpr uint16_t kFlagNoPktCounts = 1 << 3;
inline constexpr uint16_t kFlagNoBytCounts = 1 << 4;

// OFPRR_* flow-removed reasons.
enum class RemovedReason : uint8_t { kIdleTimeout = 0, kHardTimeout = 1, kDelete = 2, kGroupDelete = 3 };

struct OfRule : std::enable_shared_from_this<OfRule> {
  ClsRule cls;  // match and priority
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  uint16_t idle_timeout = 0, hard_timeout = 0, flags = 0;
  Instructions insts;
  uint64_t created_ms = 0, modified_ms = 0;
  std::atomic<uint64_t> packets{0}, bytes{0}, used_ms{0};
  bool removed = false;

  const OfMatch& match() const { return cls.match; }
  int32_t priority() const { return cls.priority; }
  void AddStats(uint64_t p, uint64_t b, uint64_t used) {
    packets.fetch_add(p, std::memory_order_relaxed);
    bytes.fetch_add(b, std::memory_order_relaxed);
    uint64_t u = used_ms.load(std::memory_order_relaxed);
    if (used > u) used_ms.store(used, std::memory_order_relaxed);
  }
};
using OfRulePtr = std::shared_ptr<OfRule>;

struct FlowMod {
  enum class Command : uint8_t { kAdd = 0, kModify = 1, kModifyStrict = 2, kDelete = 3, kDeleteStrict = 4 };
  Command command = Command::kAdd;
  uint8_t table_id = 0;
  OfMatch match = OfMatch::CatchAll();
  int32_t priority = 0x8000;
  uint64_t cookie = 0, cookie_mask = 0;
  uint16_t idle_timeout = 0, hard_timeout = 0, flags = 0;
  uint32_t out_port = kPortAny;
  uint32_t out_group = kGroupAny;
  Instructions insts;
  // OpenFlow 1.0 semantics: a modify that matches nothing adds the flow.
  bool modify_adds_if_missing = false;
};

struct FlowRemoved {
  OfRulePtr rule;
  RemovedReason reason;
};

struct TableStats {
  uint32_t active = 0;
  uint64_t lookups = 0, matched = 0;
};

// Checks an output port / group id / meter id used by an instruction;
// returns an error for ones that do not exist. All default to accepting
// everything.
struct Validator {
  std::function<OfpResult(uint32_t port)> port;
  std::function<OfpResult(uint32_t group)> group;
  std::function<OfpResult(uint32_t meter)> meter;
};

class FlowTables {
 public:
  FlowTables();
  ~FlowTables();

  void set_validator(Validator v) { validator_ = std::move(v); }

  // Applies a flow-mod at time now_ms. Rules deleted with kFlagSendFlowRem
  // are appended to *removed (reason kDelete).
  OfpResult Apply(const FlowMod& fm, uint64_t now_ms, std::vector<FlowRemoved>* removed);

  // The rule of `table` that matches `flow`, or nullptr (table-miss).
  // ORs into *wc the bits consulted. Counts the lookup in table statistics.
  const OfRule* Lookup(uint8_t table, const OfFlow& flow, OfMask* wc) const;

  // Rules selected like a non-strict delete would (table_id may be
  // kAllTables): for flow and aggregate statistics requests.
  std::vector<OfRulePtr> Select(uint8_t table_id, const OfMatch& match, uint64_t cookie,
                                uint64_t cookie_mask, uint32_t out_port, uint32_t out_group) const;
  std::vector<OfRulePtr> All() const;

  // Removes rules whose idle or hard timeout has passed at now_ms.
  void ExpireTimeouts(uint64_t now_ms, std::vector<FlowRemoved>* removed);
  // Removes every rule that outputs to group `group_id` (group deleted).
  void RemoveRulesUsingGroup(uint32_t group_id, std::vector<FlowRemoved>* removed);
  // Removes every rule whose meter instruction names `meter_id` (meter
  // deleted; reason kDelete, OpenFlow 1.3 has no meter-delete reason).
  void RemoveRulesUsingMeter(uint32_t meter_id, std::vector<FlowRemoved>* removed);

  TableStats Stats(uint8_t table) const;
  size_t size() const;
  uint64_t version() const { return version_; }

 private:
  struct Table {
    Classifier cls;
    std::unordered_map<const OfRule*, OfRulePtr> rules;  // owning
    mutable std::atomic<uint64_t> lookups{0}, matched{0};
  };

  OfpResult Validate(const FlowMod& fm) const;
  OfpResult Add(const FlowMod& fm, uint64_t now_ms);
  void Modify(const std::vector<OfRulePtr>& rules, const FlowMod& fm, uint64_t now_ms);
  void Remove(const OfRulePtr& rule, RemovedReason reason, std::vector<FlowRemoved>* removed);
  std::vector<OfRulePtr> Collect(const FlowMod& fm, bool strict) const;
  static OfRule* RuleOf(const ClsRule* r);

  std::array<std::unique_ptr<Table>, kNumTables> tables_;
  Validator validator_;
  uint64_t version_ = 0;
};

}  // namespace sluice::ofproto
