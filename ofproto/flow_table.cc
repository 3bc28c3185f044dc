#include "ofproto/flow_table.h"

#include <fmt/format.h>

#include <cstddef>

namespace sluice::ofproto {

FlowTables::FlowTables() {
  for (auto& t : tables_) t = std::make_unique<Table>();
}

FlowTables::~FlowTables() {
  // Take the rules out of the classifiers before the rules go away.
  for (auto& t : tables_) {
    for (auto& [p, rule] : t->rules) t->cls.Remove(&rule->cls);
  }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
OfRule* FlowTables::RuleOf(const ClsRule* r) {
  return reinterpret_cast<OfRule*>(reinterpret_cast<char*>(const_cast<ClsRule*>(r)) -
                                   offsetof(OfRule, cls));
}
#pragma GCC diagnostic pop

namespace {

bool CookieMatches(const OfRule& r, uint64_t cookie, uint64_t mask) {
  return (r.cookie & mask) == (cookie & mask);
}

bool ListOk(const OfActionList& l, const Validator& v, OfpResult* err) {
  for (const OfAction& a : l) {
    if (a.type == OfActionType::kOutput) {
      if (a.port == 0 || (a.port > kPortMax && a.port != kPortInPort && a.port != kPortNormal &&
                          a.port != kPortFlood && a.port != kPortAll && a.port != kPortController &&
                          a.port != kPortLocal && a.port != kPortTable)) {
        *err = MakeError(ofperr::kBadAction, ofperr::kBadActionBadOutPort,
                         fmt::format("output to invalid port {:#x}", a.port));
        return false;
      }
      if (a.port <= kPortMax && v.port) {
        if (OfpResult e = v.port(a.port)) {
          *err = e;
          return false;
        }
      }
    } else if (a.type == OfActionType::kGroup && v.group) {
      if (OfpResult e = v.group(a.group_id)) {
        *err = e;
        return false;
      }
    } else if (a.type == OfActionType::kSetField) {
      if (a.field >= FieldId::kCount || !Field(a.field).writable) {
        *err = MakeError(ofperr::kBadAction, ofperr::kBadActionBadSetType,
                         "set-field on a read-only field");
        return false;
      }
    } else if (a.type == OfActionType::kPushVlan) {
      if (a.ethertype != 0x8100 && a.ethertype != 0x88a8) {
        *err = MakeError(ofperr::kBadAction, ofperr::kBadActionBadArgument,
                         fmt::format("push_vlan with ethertype {:#06x}", a.ethertype));
        return false;
      }
    }
  }
  return true;
}

}  // namespace

OfpResult FlowTables::Validate(const FlowMod& fm) const {
  bool is_delete =
      fm.command == FlowMod::Command::kDelete || fm.command == FlowMod::Command::kDeleteStrict;
  if (fm.table_id == kAllTables && !is_delete) {
    return MakeError(ofperr::kFlowModFailed, ofperr::kFlowModBadTableId,
                     "table 255 (all) is only valid for delete");
  }
  if (static_cast<uint8_t>(fm.command) > 4) {
    return MakeError(ofperr::kFlowModFailed, ofperr::kFlowModBadCommand,
                     "unknown flow-mod command");
  }
  if (fm.flags & ~uint16_t{0x1f}) {
    return MakeError(ofperr::kFlowModFailed, ofperr::kFlowModBadFlags, "unknown flow-mod flags");
  }
  if (is_delete) return std::nullopt;
  if (auto bad = CheckPrerequisites(fm.match)) {
    return MakeError(ofperr::kBadMatch, ofperr::kBadMatchBadPrereq,
                     fmt::format("match on {} without its prerequisites", Field(*bad).name));
  }
  if (fm.insts.goto_table && *fm.insts.goto_table <= fm.table_id) {
    return MakeError(ofperr::kBadInstruction, ofperr::kBadInstBadTableId,
                     fmt::format("goto_table:{} from table {} (must go forward)",
                                 *fm.insts.goto_table, fm.table_id));
  }
  if (fm.insts.goto_table && *fm.insts.goto_table >= kNumTables) {
    return MakeError(ofperr::kBadInstruction, ofperr::kBadInstBadTableId,
                     "goto_table past the last table");
  }
  if (fm.insts.meter && validator_.meter) {
    if (OfpResult e = validator_.meter(*fm.insts.meter)) return e;
  }
  OfpResult err;
  if (!ListOk(fm.insts.apply, validator_, &err)) return err;
  if (fm.insts.write && !ListOk(*fm.insts.write, validator_, &err)) return err;
  return std::nullopt;
}

OfpResult FlowTables::Apply(const FlowMod& fm, uint64_t now_ms, std::vector<FlowRemoved>* removed) {
  if (OfpResult e = Validate(fm)) return e;
  switch (fm.command) {
    case FlowMod::Command::kAdd:
      return Add(fm, now_ms);
    case FlowMod::Command::kModify:
    case FlowMod::Command::kModifyStrict: {
      auto rules = Collect(fm, fm.command == FlowMod::Command::kModifyStrict);
      if (rules.empty()) {
        if (fm.modify_adds_if_missing) return Add(fm, now_ms);
        return std::nullopt;  // OpenFlow 1.3: nothing matched, nothing changes, no error
      }
      Modify(rules, fm, now_ms);
      return std::nullopt;
    }
    case FlowMod::Command::kDelete:
    case FlowMod::Command::kDeleteStrict: {
      auto rules = Collect(fm, fm.command == FlowMod::Command::kDeleteStrict);
      for (const auto& r : rules) Remove(r, RemovedReason::kDelete, removed);
      return std::nullopt;
    }
  }
  return MakeError(ofperr::kFlowModFailed, ofperr::kFlowModBadCommand, "unknown flow-mod command");
}

OfpResult FlowTables::Add(const FlowMod& fm, uint64_t now_ms) {
  Table& t = *tables_[fm.table_id];
  OfMatch match = fm.match;
  MaskFlow(match.value, match.mask, &match.value);
  if ((fm.flags & kFlagCheckOverlap) && t.cls.HasOverlap(match, fm.priority)) {
    // An identical rule is a replacement, not an overlap.
    if (!t.cls.FindExactly(match, fm.priority)) {
      return MakeError(ofperr::kFlowModFailed, ofperr::kFlowModOverlap,
                       "check_overlap: an overlapping rule of the same priority exists");
    }
  }
  auto rule = std::make_shared<OfRule>();
  rule->cls.match = match;
  rule->cls.priority = fm.priority;
  rule->table_id = fm.table_id;
  rule->cookie = fm.cookie;
  rule->idle_timeout = fm.idle_timeout;
  rule->hard_timeout = fm.hard_timeout;
  rule->flags = fm.flags;
  rule->insts = fm.insts;
  rule->created_ms = rule->modified_ms = now_ms;
  rule->used_ms = now_ms;
  if (const ClsRule* old = t.cls.FindExactly(match, fm.priority)) {
    // OpenFlow 1.3: an identical rule is replaced, counters and duration
    // included, without a flow-removed message.
    OfRule* o = RuleOf(old);
    t.cls.Remove(&o->cls);
    o->removed = true;
    t.rules.erase(o);
  }
  t.cls.Insert(&rule->cls);
  t.rules.emplace(rule.get(), rule);
  ++version_;
  return std::nullopt;
}

void FlowTables::Modify(const std::vector<OfRulePtr>& rules, const FlowMod& fm, uint64_t now_ms) {
  for (const auto& r : rules) {
    r->insts = fm.insts;
    r->modified_ms = now_ms;
    if (fm.flags & kFlagResetCounts) {
      r->packets = 0;
      r->bytes = 0;
    }
  }
  ++version_;
}

void FlowTables::Remove(const OfRulePtr& rule, RemovedReason reason,
                        std::vector<FlowRemoved>* removed) {
  if (rule->removed) return;
  Table& t = *tables_[rule->table_id];
  t.cls.Remove(&rule->cls);
  rule->removed = true;
  if (removed && (rule->flags & kFlagSendFlowRem)) removed->push_back({rule, reason});
  t.rules.erase(rule.get());
  ++version_;
}

std::vector<OfRulePtr> FlowTables::Collect(const FlowMod& fm, bool strict) const {
  std::vector<OfRulePtr> out;
  auto consider = [&](const ClsRule* c) {
    OfRule* r = RuleOf(c);
    if (!CookieMatches(*r, fm.cookie, fm.cookie_mask)) return;
    if (fm.out_port != kPortAny && !r->insts.OutputsTo(fm.out_port)) return;
    if (fm.out_group != kGroupAny && !r->insts.UsesGroup(fm.out_group)) return;
    out.push_back(r->shared_from_this());
  };
  OfMatch match = fm.match;
  MaskFlow(match.value, match.mask, &match.value);
  for (int id = 0; id < kNumTables; ++id) {
    if (fm.table_id != kAllTables && id != fm.table_id) continue;
    const Table& t = *tables_[id];
    if (t.rules.empty()) continue;
    if (strict) {
      if (const ClsRule* c = t.cls.FindExactly(match, fm.priority)) consider(c);
    } else {
      t.cls.ForEachMatching(match, [&](ClsRule* c) { consider(c); });
    }
  }
  return out;
}

std::vector<OfRulePtr> FlowTables::Select(uint8_t table_id, const OfMatch& match, uint64_t cookie,
                                          uint64_t cookie_mask, uint32_t out_port,
                                          uint32_t out_group) const {
  FlowMod fm;
  fm.command = FlowMod::Command::kDelete;
  fm.table_id = table_id;
  fm.match = match;
  fm.cookie = cookie;
  fm.cookie_mask = cookie_mask;
  fm.out_port = out_port;
  fm.out_group = out_group;
  return Collect(fm, false);
}

std::vector<OfRulePtr> FlowTables::All() const {
  return Select(kAllTables, OfMatch::CatchAll(), 0, 0, kPortAny, kGroupAny);
}

const OfRule* FlowTables::Lookup(uint8_t table, const OfFlow& flow, OfMask* wc) const {
  const Table& t = *tables_[table];
  t.lookups.fetch_add(1, std::memory_order_relaxed);
  const ClsRule* c = t.cls.Lookup(flow, wc);
  if (!c) return nullptr;
  t.matched.fetch_add(1, std::memory_order_relaxed);
  return RuleOf(c);
}

void FlowTables::ExpireTimeouts(uint64_t now_ms, std::vector<FlowRemoved>* removed) {
  std::vector<std::pair<OfRulePtr, RemovedReason>> expired;
  for (const auto& t : tables_) {
    for (const auto& [p, r] : t->rules) {
      if (r->hard_timeout && now_ms >= r->created_ms + uint64_t{r->hard_timeout} * 1000) {
        expired.emplace_back(r, RemovedReason::kHardTimeout);
      } else if (r->idle_timeout && now_ms >= r->used_ms.load(std::memory_order_relaxed) +
                                                  uint64_t{r->idle_timeout} * 1000) {
        expired.emplace_back(r, RemovedReason::kIdleTimeout);
      }
    }
  }
  for (auto& [r, why] : expired) Remove(r, why, removed);
}

void FlowTables::RemoveRulesUsingGroup(uint32_t group_id, std::vector<FlowRemoved>* removed) {
  std::vector<OfRulePtr> victims;
  for (const auto& t : tables_) {
    for (const auto& [p, r] : t->rules) {
      if (r->insts.UsesGroup(group_id)) victims.push_back(r);
    }
  }
  for (auto& r : victims) Remove(r, RemovedReason::kGroupDelete, removed);
}

void FlowTables::RemoveRulesUsingMeter(uint32_t meter_id, std::vector<FlowRemoved>* removed) {
  std::vector<OfRulePtr> victims;
  for (const auto& t : tables_) {
    for (const auto& [p, r] : t->rules) {
      if (r->insts.meter && *r->insts.meter == meter_id) victims.push_back(r);
    }
  }
  for (auto& r : victims) Remove(r, RemovedReason::kDelete, removed);
}

TableStats FlowTables::Stats(uint8_t table) const {
  const Table& t = *tables_[table];
  return TableStats{static_cast<uint32_t>(t.rules.size()), t.lookups.load(), t.matched.load()};
}

size_t FlowTables::size() const {
  size_t n = 0;
  for (const auto& t : tables_) n += t->rules.size();
  return n;
}

}  // namespace sluice::ofproto
