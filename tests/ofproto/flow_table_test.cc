// OpenFlow 1.3 flow-mod semantics of FlowTables.
#include "ofproto/flow_table.h"

#include <gtest/gtest.h>

#include "tests/common/of_match.h"

namespace sluice::ofproto {
namespace {

constexpr auto M = sluice::testing::OfMatchOf;

FlowMod Add(uint8_t table, OfMatch match, int32_t prio, uint32_t out_port, uint64_t cookie = 0) {
  FlowMod fm;
  fm.command = FlowMod::Command::kAdd;
  fm.table_id = table;
  fm.match = match;
  fm.priority = prio;
  fm.cookie = cookie;
  fm.insts = Instructions::Apply({OfAction::Output(out_port)});
  return fm;
}

OfFlow Flow(uint32_t in_port, uint16_t eth_type = 0x0800, uint32_t nw_dst = 0x0a000001) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = in_port;
  f.dp.eth_type = Be16(eth_type);
  f.dp.nw_dst = Be32(nw_dst);
  f.dp.nw_proto = 6;
  return f;
}

uint32_t OutPort(const OfRule* r) { return r ? r->insts.apply[0].port : 0; }

TEST(FlowTables, AddLookupPrioritiesAndReplace) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  ASSERT_FALSE(t.Apply(Add(0, M({{FieldId::kInPort, 1}}), 10, 2), 0, &removed));
  ASSERT_FALSE(t.Apply(Add(0, M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}}), 20, 3), 0, &removed));
  ASSERT_FALSE(t.Apply(Add(0, OfMatch::CatchAll(), 0, 4), 0, &removed));
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1), nullptr)), 3u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1, 0x86dd), nullptr)), 2u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(7), nullptr)), 4u);
  EXPECT_EQ(t.Lookup(1, Flow(1), nullptr), nullptr);  // empty table: miss
  // Identical match and priority: replaced, counters cleared, no flow-removed.
  t.Lookup(0, Flow(1), nullptr);
  const OfRule* r = t.Lookup(0, Flow(1), nullptr);
  const_cast<OfRule*>(r)->AddStats(5, 500, 10);
  ASSERT_FALSE(t.Apply(Add(0, M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}}), 20, 9), 5, &removed));
  r = t.Lookup(0, Flow(1), nullptr);
  EXPECT_EQ(OutPort(r), 9u);
  EXPECT_EQ(r->packets.load(), 0u);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_TRUE(removed.empty());
  TableStats s = t.Stats(0);
  EXPECT_EQ(s.active, 3u);
  EXPECT_GE(s.lookups, 4u);
}

TEST(FlowTables, ModifyAndDeleteStrictAndNot) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  t.Apply(Add(0, M({{FieldId::kInPort, 1}}), 10, 2, 0x11), 0, &removed);
  t.Apply(Add(0, M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}}), 20, 3, 0x12), 0, &removed);
  t.Apply(Add(0, M({{FieldId::kInPort, 2}}), 10, 4, 0x21), 0, &removed);

  // Non-strict modify: every rule at least as specific as in_port=1.
  FlowMod mod;
  mod.command = FlowMod::Command::kModify;
  mod.match = M({{FieldId::kInPort, 1}});
  mod.insts = Instructions::Apply({OfAction::Output(7)});
  ASSERT_FALSE(t.Apply(mod, 1, &removed));
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1), nullptr)), 7u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1, 0x86dd), nullptr)), 7u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(2), nullptr)), 4u);

  // Strict modify touches only the exact match and priority.
  mod.command = FlowMod::Command::kModifyStrict;
  mod.priority = 10;
  mod.insts = Instructions::Apply({OfAction::Output(8)});
  ASSERT_FALSE(t.Apply(mod, 2, &removed));
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1, 0x86dd), nullptr)), 8u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(1), nullptr)), 7u);

  // Modify matching nothing: no change, no error (1.3); OF1.0 style adds.
  mod.command = FlowMod::Command::kModify;
  mod.match = M({{FieldId::kInPort, 5}});
  ASSERT_FALSE(t.Apply(mod, 3, &removed));
  EXPECT_EQ(t.size(), 3u);
  mod.modify_adds_if_missing = true;
  ASSERT_FALSE(t.Apply(mod, 3, &removed));
  EXPECT_EQ(t.size(), 4u);

  // Delete with a cookie mask: only cookies 0x1? go.
  FlowMod del;
  del.command = FlowMod::Command::kDelete;
  del.table_id = kAllTables;
  del.cookie = 0x10;
  del.cookie_mask = 0xf0;
  ASSERT_FALSE(t.Apply(del, 4, &removed));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(OutPort(t.Lookup(0, Flow(2), nullptr)), 4u);

  // Strict delete needs the priority too.
  del = FlowMod{};
  del.command = FlowMod::Command::kDeleteStrict;
  del.match = M({{FieldId::kInPort, 2}});
  del.priority = 11;
  ASSERT_FALSE(t.Apply(del, 5, &removed));
  EXPECT_EQ(t.size(), 2u);
  del.priority = 10;
  ASSERT_FALSE(t.Apply(del, 5, &removed));
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTables, OutPortFilterAndFlowRemoved) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  FlowMod a = Add(0, M({{FieldId::kInPort, 1}}), 10, 2);
  a.flags = kFlagSendFlowRem;
  t.Apply(a, 0, &removed);
  t.Apply(Add(0, M({{FieldId::kInPort, 2}}), 10, 3), 0, &removed);
  FlowMod del;
  del.command = FlowMod::Command::kDelete;
  del.table_id = 0;
  del.out_port = 3;
  t.Apply(del, 1, &removed);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(removed.empty());  // that rule did not ask for flow-removed
  del.out_port = kPortAny;
  t.Apply(del, 1, &removed);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].reason, RemovedReason::kDelete);
  EXPECT_TRUE(removed[0].rule->removed);
}

TEST(FlowTables, Errors) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  // Prerequisites.
  OfpResult e = t.Apply(Add(0, M({{FieldId::kTcpDst, 80}}), 1, 2), 0, &removed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, ofperr::kBadMatch);
  EXPECT_EQ(e->code, ofperr::kBadMatchBadPrereq);
  // goto_table must go forward.
  FlowMod g = Add(3, OfMatch::CatchAll(), 1, 2);
  g.insts.goto_table = 2;
  e = t.Apply(g, 0, &removed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, ofperr::kBadInstruction);
  // Table 255 is for deletes only.
  e = t.Apply(Add(kAllTables, OfMatch::CatchAll(), 1, 2), 0, &removed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ofperr::kFlowModBadTableId);
  // Output to port 0 is invalid.
  e = t.Apply(Add(0, OfMatch::CatchAll(), 1, 0), 0, &removed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, ofperr::kBadAction);
  // The validator rejects unknown ports.
  t.set_validator({[](uint32_t p) -> OfpResult {
                     if (p > 10) return MakeError(ofperr::kBadAction, ofperr::kBadActionBadOutPort, "no port");
                     return std::nullopt;
                   },
                   nullptr, nullptr});
  EXPECT_TRUE(t.Apply(Add(0, OfMatch::CatchAll(), 1, 11), 0, &removed));
  EXPECT_FALSE(t.Apply(Add(0, OfMatch::CatchAll(), 1, 10), 0, &removed));
  // Overlap check.
  FlowMod o = Add(0, M({{FieldId::kInPort, 1}}), 1, 2);
  o.flags = kFlagCheckOverlap;
  e = t.Apply(o, 0, &removed);  // overlaps the catch-all of the same priority
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ofperr::kFlowModOverlap);
  o.priority = 2;
  EXPECT_FALSE(t.Apply(o, 0, &removed));
  EXPECT_EQ(t.size(), 2u);  // failed flow-mods changed nothing
}

TEST(FlowTables, Timeouts) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  FlowMod idle = Add(0, M({{FieldId::kInPort, 1}}), 1, 2);
  idle.idle_timeout = 10;
  idle.flags = kFlagSendFlowRem;
  FlowMod hard = Add(0, M({{FieldId::kInPort, 2}}), 1, 2);
  hard.hard_timeout = 30;
  hard.flags = kFlagSendFlowRem;
  t.Apply(idle, 1000, &removed);
  t.Apply(hard, 1000, &removed);
  // Traffic keeps the idle rule alive (the revalidator folds in used time).
  const_cast<OfRule*>(t.Lookup(0, Flow(1), nullptr))->AddStats(1, 60, 9000);
  t.ExpireTimeouts(12000, &removed);
  EXPECT_EQ(t.size(), 2u);
  t.ExpireTimeouts(19000, &removed);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].reason, RemovedReason::kIdleTimeout);
  t.ExpireTimeouts(31000, &removed);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[1].reason, RemovedReason::kHardTimeout);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTables, VersionBumpsOnChangeOnly) {
  FlowTables t;
  std::vector<FlowRemoved> removed;
  uint64_t v0 = t.version();
  t.Apply(Add(0, OfMatch::CatchAll(), 1, 2), 0, &removed);
  EXPECT_GT(t.version(), v0);
  uint64_t v1 = t.version();
  t.Lookup(0, Flow(1), nullptr);
  EXPECT_EQ(t.version(), v1);
  EXPECT_TRUE(t.Apply(Add(0, M({{FieldId::kTcpDst, 1}}), 1, 2), 0, &removed));
  EXPECT_EQ(t.version(), v1);
}

}  // namespace
}  // namespace sluice::ofproto
