// OpenFlow meters on the ofproto side: meter-mod validation and errors
// (meter_table.h), translation of the meter instruction into a datapath
// meter(N) action ahead of the rule's actions (xlate.h), and flow-mods that
// name a meter that does not exist (FlowTables' Validator).
#include <gtest/gtest.h>

#include "datapath/actions/actions_format.h"
#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"
#include "ofproto/meter_table.h"
#include "ofproto/xlate.h"
#include "tests/common/of_match.h"

namespace sluice::ofproto {
namespace {

constexpr auto M = sluice::testing::OfMatchOf;

MeterMod Add(uint32_t id, uint16_t flags, std::vector<MeterBandSpec> bands) {
  MeterMod mm;
  mm.command = MeterMod::Command::kAdd;
  mm.meter_id = id;
  mm.flags = flags;
  mm.bands = std::move(bands);
  return mm;
}

MeterBandSpec DropBand(uint32_t rate, uint32_t burst = 0) {
  MeterBandSpec b;
  b.type = MeterBandSpec::kDrop;
  b.rate = rate;
  b.burst_size = burst;
  return b;
}

void ExpectMeterError(const OfpResult& r, uint16_t code) {
  ASSERT_TRUE(r.has_value()) << "expected meter-mod error " << code;
  EXPECT_EQ(r->type, ofperr::kMeterModFailed) << r->message;
  EXPECT_EQ(r->code, code) << r->message;
}

TEST(MeterTable, AddModifyDelete) {
  MeterTable t;
  ASSERT_FALSE(
      t.Apply(Add(1, kMeterFlagPktps | kMeterFlagBurst, {DropBand(10, 10)}), 5, nullptr, nullptr));
  ASSERT_NE(t.Find(1), nullptr);
  EXPECT_EQ(t.Find(1)->created_ms, 5u);
  const uint64_t v = t.version();

  MeterMod mod = Add(1, kMeterFlagKbps, {DropBand(100)});
  mod.command = MeterMod::Command::kModify;
  std::vector<uint32_t> changed;
  ASSERT_FALSE(t.Apply(mod, 9, &changed, nullptr));
  EXPECT_EQ(changed, std::vector<uint32_t>{1});
  EXPECT_EQ(t.Find(1)->flags, kMeterFlagKbps);
  EXPECT_EQ(t.Find(1)->created_ms, 5u);
  EXPECT_GT(t.version(), v);

  ASSERT_FALSE(t.Apply(Add(2, kMeterFlagKbps, {DropBand(1)}), 0, nullptr, nullptr));
  MeterMod del;
  del.command = MeterMod::Command::kDelete;
  del.meter_id = 7;  // missing: not an error
  std::vector<uint32_t> deleted;
  ASSERT_FALSE(t.Apply(del, 0, nullptr, &deleted));
  EXPECT_TRUE(deleted.empty());
  del.meter_id = kMeterAll;
  ASSERT_FALSE(t.Apply(del, 0, nullptr, &deleted));
  EXPECT_EQ(deleted, (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(t.meters().empty());
}

TEST(MeterTable, ValidationErrors) {
  MeterTable t;
  ASSERT_FALSE(t.Apply(Add(1, kMeterFlagKbps, {DropBand(10)}), 0, nullptr, nullptr));

  ExpectMeterError(t.Validate(Add(1, kMeterFlagKbps, {DropBand(10)})), ofperr::kMeterExists);
  MeterMod mod = Add(2, kMeterFlagKbps, {DropBand(10)});
  mod.command = MeterMod::Command::kModify;
  ExpectMeterError(t.Validate(mod), ofperr::kMeterUnknown);
  mod.command = static_cast<MeterMod::Command>(7);
  ExpectMeterError(t.Validate(mod), ofperr::kMeterBadCommand);

  ExpectMeterError(t.Validate(Add(0, kMeterFlagKbps, {DropBand(10)})), ofperr::kMeterInvalid);
  ExpectMeterError(t.Validate(Add(kMeterController, kMeterFlagKbps, {DropBand(10)})),
                   ofperr::kMeterInvalid);
  ExpectMeterError(t.Validate(Add(70000, kMeterFlagKbps, {DropBand(10)})),
                   ofperr::kMeterOutOfMeters);

  // Exactly one of kbps / pktps; no unknown flags.
  ExpectMeterError(t.Validate(Add(3, 0, {DropBand(10)})), ofperr::kMeterBadFlags);
  ExpectMeterError(t.Validate(Add(3, kMeterFlagKbps | kMeterFlagPktps, {DropBand(10)})),
                   ofperr::kMeterBadFlags);
  ExpectMeterError(t.Validate(Add(3, kMeterFlagBurst, {DropBand(10)})), ofperr::kMeterBadFlags);
  ExpectMeterError(t.Validate(Add(3, kMeterFlagKbps | 0x10, {DropBand(10)})),
                   ofperr::kMeterBadFlags);
  EXPECT_FALSE(
      t.Validate(Add(3, kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats, {DropBand(10, 5)})));

  // Bands.
  ExpectMeterError(t.Validate(Add(3, kMeterFlagKbps, {})), ofperr::kMeterBadBand);
  MeterBandSpec exp = DropBand(10);
  exp.type = MeterBandSpec::kExperimenter;
  ExpectMeterError(t.Validate(Add(3, kMeterFlagKbps, {exp})), ofperr::kMeterBadBand);
  ExpectMeterError(t.Validate(Add(3, kMeterFlagKbps, {DropBand(10), DropBand(0)})),
                   ofperr::kMeterBadRate);
  // A failed meter-mod changes nothing.
  EXPECT_TRUE(t.Apply(Add(3, kMeterFlagKbps, {DropBand(0)}), 0, nullptr, nullptr).has_value());
  EXPECT_EQ(t.Find(3), nullptr);
}

TEST(MeterTable, ToDatapath) {
  Meter m;
  m.id = 9;
  m.flags = kMeterFlagPktps | kMeterFlagBurst;
  MeterBandSpec r;
  r.type = MeterBandSpec::kDscpRemark;
  r.rate = 5;
  r.burst_size = 6;
  r.prec_level = 2;
  m.bands = {DropBand(10, 20), r};
  dp::MeterConfig c = ToDatapathMeter(m);
  EXPECT_EQ(c.id, 9u);
  EXPECT_TRUE(c.pktps);
  EXPECT_TRUE(c.burst_flag);
  ASSERT_EQ(c.bands.size(), 2u);
  EXPECT_EQ(c.bands[0].type, dp::MeterBand::kDrop);
  EXPECT_EQ(c.bands[0].rate, 10u);
  EXPECT_EQ(c.bands[0].burst, 20u);
  EXPECT_EQ(c.bands[1].type, dp::MeterBand::kDscpRemark);
  EXPECT_EQ(c.bands[1].prec_level, 2);
}

OfFlow UdpFlow(uint32_t in_port) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = in_port;
  f.dp.eth_type = Be16(0x0800);
  f.dp.nw_proto = 17;
  f.dp.nw_src = Be32(0x0a000001);
  f.dp.nw_dst = Be32(0x0a000002);
  return f;
}

class MeterFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t p = 1; p <= 4; ++p) env_.ports.push_back(XlatePort{p, true, 0, {}});
    env_.tables = &tables_;
    env_.groups = &groups_;
    env_.controller_cookie = [](const ControllerRequest&) { return uint64_t{0}; };
    Validator v;
    v.meter = [this](uint32_t meter) -> OfpResult {
      if (meters_.Find(meter)) return std::nullopt;
      return MakeError(ofperr::kMeterModFailed, ofperr::kMeterUnknown, "no meter");
    };
    tables_.set_validator(std::move(v));
  }
  OfpResult Flow(uint8_t table, OfMatch m, int32_t prio, Instructions insts) {
    FlowMod fm;
    fm.table_id = table;
    fm.match = m;
    fm.priority = prio;
    fm.insts = std::move(insts);
    fm.flags = kFlagSendFlowRem;
    std::vector<FlowRemoved> removed;
    return tables_.Apply(fm, 0, &removed);
  }
  std::string Run(const OfFlow& f) {
    XlateResult r;
    Xlate(env_, f, &r);
    return dp::FormatActions(r.actions);
  }

  FlowTables tables_;
  GroupTable groups_;
  MeterTable meters_;
  XlateEnv env_;
};

TEST_F(MeterFlowTest, MeterInstructionEmitsMeterBeforeOutputs) {
  ASSERT_FALSE(meters_.Apply(Add(5, kMeterFlagPktps, {DropBand(10)}), 0, nullptr, nullptr));
  ASSERT_FALSE(meters_.Apply(Add(6, kMeterFlagPktps, {DropBand(10)}), 0, nullptr, nullptr));
  Instructions i0 = Instructions::Apply({OfAction::Output(2)});
  i0.meter = 5;
  i0.goto_table = 1;
  ASSERT_FALSE(Flow(0, M({{FieldId::kInPort, 1}}), 10, i0));
  Instructions i1 = Instructions::Apply({OfAction::Output(3), OfAction::Output(4)});
  i1.meter = 6;
  ASSERT_FALSE(Flow(1, M({}), 10, i1));
  // Table 0's meter before its output; table 1's before its outputs.
  EXPECT_EQ(Run(UdpFlow(1)), "meter(5),2,meter(6),3,4");

  // A meter with no apply-actions still meters (and then drops: no output).
  Instructions only = Instructions::Apply({});
  only.meter = 5;
  ASSERT_FALSE(Flow(0, M({{FieldId::kInPort, 2}}), 10, only));
  EXPECT_EQ(Run(UdpFlow(2)), "meter(5)");
}

TEST_F(MeterFlowTest, FlowModWithUnknownMeterFails) {
  Instructions in = Instructions::Apply({OfAction::Output(2)});
  in.meter = 42;
  OfpResult e = Flow(0, M({}), 10, in);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, ofperr::kMeterModFailed);
  EXPECT_EQ(e->code, ofperr::kMeterUnknown);
  EXPECT_EQ(tables_.Stats(0).active, 0u);

  ASSERT_FALSE(meters_.Apply(Add(42, kMeterFlagKbps, {DropBand(1000)}), 0, nullptr, nullptr));
  EXPECT_FALSE(Flow(0, M({}), 10, in));
  EXPECT_EQ(tables_.Stats(0).active, 1u);

  // Deleting the meter removes the rules that use it.
  std::vector<FlowRemoved> removed;
  tables_.RemoveRulesUsingMeter(42, &removed);
  EXPECT_EQ(tables_.Stats(0).active, 0u);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].reason, RemovedReason::kDelete);
}

}  // namespace
}  // namespace sluice::ofproto
