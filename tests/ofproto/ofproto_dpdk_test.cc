// Ofproto end to end over net_ring ports: first packets go up, megaflows are
// installed, later packets stay in the datapath; rule changes revalidate
// megaflows; CONTROLLER yields packet-ins; statistics reach the rules.
#include "ofproto/ofproto.h"

#include "datapath/actions/actions_format.h"

#include <gtest/gtest.h>

#include "tests/common/of_match.h"

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"
#include "tests/common/ring_port.h"

namespace sluice::ofproto {
namespace {

constexpr auto M = sluice::testing::OfMatchOf;

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;
using FV = FieldValue;

class OfprotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dp::DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 4096;
    o.emc_insert_inv_prob = 1;
    dp_ = std::make_unique<dp::Datapath>(o);
    ASSERT_TRUE(dp_->Init().ok());
    for (uint32_t i = 1; i <= 3; ++i) {
      ports_.push_back(RingPort::Make());
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i);
      pc.devargs = ports_.back().devargs();
      uint32_t no = 0;
      ASSERT_TRUE(dp_->AddPort(pc, &no).ok());
    }
    OfprotoOptions oo;
    oo.megaflow_idle_ms = 60000;
    of_ = std::make_unique<Ofproto>(dp_.get(), oo);
    for (uint32_t i = 1; i <= 3; ++i) of_->SetPort(XlatePort{i, true, 0, {}});
    of_->set_packet_in_listener([this](const PacketIn& pi) { packet_ins_.push_back(pi); });
  }
  void TearDown() override {
    of_.reset();
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    for (auto& p : ports_) p.Drain();
    dp_.reset();
  }

  void Add(OfMatch m, int32_t prio, OfActionList actions, uint64_t cookie = 0) {
    ofproto::FlowMod fm;
    fm.match = m;
    fm.priority = prio;
    fm.cookie = cookie;
    fm.insts = Instructions::Apply(std::move(actions));
    OfpResult e = of_->FlowMod(fm);
    ASSERT_FALSE(e) << e->message;
  }
  // Polls the PMD and handles upcalls until quiet (synchronous mode).
  void Pump() {
    for (int i = 0; i < 10; ++i) {
      dp_->PollAllOnce();
      size_t n = of_->HandleUpcalls();
      dp_->Sync();  // executes the upcalled packets in the PMD
      dp_->PollAllOnce();
      if (n == 0) break;
    }
  }
  dp::PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<Ofproto> of_;
  std::vector<RingPort> ports_;
  std::vector<PacketIn> packet_ins_;
};

TEST_F(OfprotoTest, FirstPacketUpThenDatapath) {
  Add(M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}}), 10, {OfAction::Output(2)});
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 10; ++i) frames.push_back(UdpFrame(0x0a000001, 0x0a000002, 1000, 53));
  ports_[0].Inject(dp_->pool(), {frames[0]});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);  // the upcalled packet was executed
  EXPECT_EQ(of_->stats().installed, 1u);
  auto flows = dp_->FlowDump();
  ASSERT_EQ(flows.size(), 1u);
  // The megaflow matches what the rule looked at, no more.
  EXPECT_EQ(dp::FormatMatch(flows[0].key, flows[0].mask), "recirc_id(0),in_port(1),eth_type(0x0800)");
  EXPECT_EQ(dp::FormatActions(flows[0].actions->actions()), "2");

  // The rest stay in the datapath: no new upcall, all forwarded.
  ports_[0].Inject(dp_->pool(), std::vector<std::vector<uint8_t>>(frames.begin() + 1, frames.end()));
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 9u);
  EXPECT_EQ(of_->stats().upcalls, 1u);
  EXPECT_EQ(Counters().misses, 1u);

  // Statistics reach the rule after revalidation.
  of_->Revalidate();
  auto rules = of_->Flows(0, OfMatch::CatchAll(), 0, 0, kPortAny, kGroupAny);
  ASSERT_EQ(rules.size(), 1u);
  // The megaflow's 9 hits plus the upcalled first packet (credited when it
  // was translated, as Open vSwitch does).
  EXPECT_EQ(rules[0]->packets.load(), 10u);
  EXPECT_EQ(rules[0]->bytes.load(), 10u * 60);
}

TEST_F(OfprotoTest, RuleChangeRevalidatesMegaflow) {
  Add(M({{FieldId::kInPort, 1}}), 10, {OfAction::Output(2)});
  auto f = UdpFrame(1, 2, 3, 4);
  ports_[0].Inject(dp_->pool(), {f});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  // Replace the rule's actions: the megaflow must follow without an upcall.
  Add(M({{FieldId::kInPort, 1}}), 10, {OfAction::Output(3)});
  of_->Revalidate();
  EXPECT_EQ(of_->stats().modified, 1u);
  dp_->Sync();
  ports_[0].Inject(dp_->pool(), {f, f});
  Pump();
  EXPECT_TRUE(ports_[1].Drain().empty());
  EXPECT_EQ(ports_[2].Drain().size(), 2u);
  EXPECT_EQ(of_->stats().upcalls, 1u);
  // A higher-priority rule that looks at more fields makes the old mask
  // wrong: the megaflow goes, the next packet is translated again.
  Add(M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}, {FieldId::kIpProto, 17}}), 20, {OfAction::Output(2)});
  of_->Revalidate();
  EXPECT_EQ(of_->stats().deleted_stale, 1u);
  dp_->Sync();
  ports_[0].Inject(dp_->pool(), {f});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  EXPECT_EQ(of_->stats().upcalls, 2u);
}

TEST_F(OfprotoTest, ControllerActionYieldsPacketIn) {
  Add(M({{FieldId::kInPort, 2}}), 10, {OfAction::Output(kPortController, 32)}, 0xabcd);
  auto f = UdpFrame(0x0a000001, 0x0a000002, 1000, 53);
  ports_[1].Inject(dp_->pool(), {f});
  Pump();
  ASSERT_EQ(packet_ins_.size(), 1u);
  EXPECT_EQ(packet_ins_[0].reason, PacketInReason::kAction);
  EXPECT_EQ(packet_ins_[0].cookie, 0xabcdu);
  EXPECT_EQ(packet_ins_[0].in_port, 2u);
  EXPECT_EQ(packet_ins_[0].total_len, 60u);
  EXPECT_EQ(packet_ins_[0].data, std::vector<uint8_t>(f.begin(), f.begin() + 32));
  EXPECT_EQ(packet_ins_[0].metadata, 0u);
  // The packet-in carries the pipeline's metadata.
  ofproto::FlowMod fm;
  fm.match = M({{FieldId::kInPort, 1}});
  fm.priority = 10;
  fm.insts.has_write_metadata = true;
  fm.insts.metadata = 0x77;
  fm.insts.metadata_mask = 0xff;
  fm.insts.goto_table = 1;
  ASSERT_FALSE(of_->FlowMod(fm));
  fm = ofproto::FlowMod{};
  fm.table_id = 1;
  fm.insts = Instructions::Apply({OfAction::Output(kPortController, 0xffff)});
  ASSERT_FALSE(of_->FlowMod(fm));
  ports_[0].Inject(dp_->pool(), {f});
  Pump();
  ASSERT_EQ(packet_ins_.size(), 2u);
  EXPECT_EQ(packet_ins_[1].metadata, 0x77u);
  EXPECT_EQ(packet_ins_[1].table_id, 1u);
  EXPECT_EQ(packet_ins_[1].data.size(), 60u);
  packet_ins_.clear();
  // Table miss with miss-to-controller: reason no-match.
  of_->set_miss_to_controller(true);
  ports_[2].Inject(dp_->pool(), {f});
  Pump();
  ASSERT_EQ(packet_ins_.size(), 1u);
  EXPECT_EQ(packet_ins_[0].reason, PacketInReason::kNoMatch);
  EXPECT_EQ(packet_ins_[0].in_port, 3u);
}

TEST_F(OfprotoTest, PacketOutAndNormal) {
  auto f = UdpFrame(1, 2, 3, 4, /*src*/ 0x0a, /*dst*/ 0x0b);
  ASSERT_FALSE(of_->PacketOut(f.data(), static_cast<uint32_t>(f.size()), kPortController, {OfAction::Output(3)}));
  dp_->Sync();
  EXPECT_EQ(ports_[2].Drain(), std::vector<std::vector<uint8_t>>{f});

  // NORMAL: unknown destination floods; the answer goes straight back.
  Add(OfMatch::CatchAll(), 0, {OfAction::Output(kPortNormal)});
  ports_[0].Inject(dp_->pool(), {f});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  EXPECT_EQ(ports_[2].Drain().size(), 1u);
  auto reply = UdpFrame(2, 1, 4, 3, 0x0b, 0x0a);
  ports_[1].Inject(dp_->pool(), {reply});
  Pump();
  EXPECT_EQ(ports_[0].Drain(), std::vector<std::vector<uint8_t>>{reply});
  EXPECT_TRUE(ports_[2].Drain().empty());
  // The first flow's megaflow (a flood) is stale now that 0b is learned:
  // revalidation fixes it to a unicast.
  of_->Revalidate();
  ports_[0].Inject(dp_->pool(), {f});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  EXPECT_TRUE(ports_[2].Drain().empty());
}

TEST_F(OfprotoTest, IdleMegaflowsExpire) {
  of_.reset();
  OfprotoOptions oo;
  oo.megaflow_idle_ms = 0;
  of_ = std::make_unique<Ofproto>(dp_.get(), oo);
  for (uint32_t i = 1; i <= 3; ++i) of_->SetPort(XlatePort{i, true, 0, {}});
  Add(M({{FieldId::kInPort, 1}}), 10, {OfAction::Output(2)});
  ports_[0].Inject(dp_->pool(), {UdpFrame(1, 2, 3, 4)});
  Pump();
  EXPECT_EQ(dp_->FlowCount(), 1u);
  of_->Revalidate();
  EXPECT_EQ(dp_->FlowCount(), 0u);
  EXPECT_EQ(of_->stats().deleted_idle, 1u);
}

TEST_F(OfprotoTest, TraceShowsTablesAndMegaflow) {
  Add(M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}}), 10, {OfAction::Output(2)});
  OfFlow flow;
  flow.Clear();
  flow.dp.in_port = 1;
  flow.dp.eth_type = Be16(0x0800);
  auto lines = of_->Trace(flow);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("table 0: priority 10"), std::string::npos) << all;
  EXPECT_NE(all.find("megaflow: recirc_id(0),in_port(1),eth_type(0x0800)"), std::string::npos) << all;
  EXPECT_NE(all.find("datapath actions: 2"), std::string::npos) << all;
}

TEST_F(OfprotoTest, RunningThreads) {
  Add(M({{FieldId::kInPort, 1}}), 10, {OfAction::Output(2)});
  dp_->StartPmds();
  of_->Start();
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 200; ++i) frames.push_back(UdpFrame(i, 2, 3, 4));
  ports_[0].Inject(dp_->pool(), frames);
  size_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got < 200 && std::chrono::steady_clock::now() < deadline) {
    got += ports_[1].Drain().size();
    std::this_thread::yield();
  }
  EXPECT_EQ(got, 200u);
  of_->Stop();
  dp_->StopPmds();
}

TEST_F(OfprotoTest, MeterLimitsBackToBackPackets) {
  // A pktps meter, rate 10, burst 10: of 100 back-to-back packets about 10
  // pass (the test takes milliseconds, worth well under one more token).
  ofproto::MeterMod mm;
  mm.command = MeterMod::Command::kAdd;
  mm.meter_id = 7;
  mm.flags = kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats;
  MeterBandSpec band;
  band.type = MeterBandSpec::kDrop;
  band.rate = 10;
  band.burst_size = 10;
  mm.bands = {band};
  ASSERT_FALSE(of_->MeterMod(mm));
  OfpResult again = of_->MeterMod(mm);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->code, ofperr::kMeterExists);

  ofproto::FlowMod fm;
  fm.match = M({{FieldId::kInPort, 1}});
  fm.priority = 10;
  fm.insts = Instructions::Apply({OfAction::Output(2)});
  fm.insts.meter = 8;  // no such meter
  OfpResult e = of_->FlowMod(fm);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, ofperr::kMeterModFailed);
  EXPECT_EQ(e->code, ofperr::kMeterUnknown);
  fm.insts.meter = 7;
  e = of_->FlowMod(fm);
  ASSERT_FALSE(e) << e->message;

  std::vector<std::vector<uint8_t>> frames(100, UdpFrame(0x0a000001, 0x0a000002, 1000, 53));
  for (int i = 0; i < 4; ++i) {
    ports_[0].Inject(dp_->pool(),
                     std::vector<std::vector<uint8_t>>(frames.begin() + i * 25,
                                                       frames.begin() + (i + 1) * 25));
    Pump();
  }
  const size_t passed = ports_[1].Drain().size();
  EXPECT_GE(passed, 10u);
  EXPECT_LE(passed, 11u);
  auto flows = dp_->FlowDump();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(dp::FormatActions(flows[0].actions->actions()), "meter(7),2");
  EXPECT_EQ(Counters().meter_drops, 100u - passed);

  std::vector<MeterInfo> meters = of_->Meters();
  ASSERT_EQ(meters.size(), 1u);
  EXPECT_EQ(meters[0].meter.id, 7u);
  EXPECT_EQ(meters[0].stats.packets_in, 100u);
  ASSERT_EQ(meters[0].stats.bands.size(), 1u);
  EXPECT_EQ(meters[0].stats.bands[0].packets, 100u - passed);

  // Deleting the meter deletes the rule that uses it.
  mm.command = MeterMod::Command::kDelete;
  ASSERT_FALSE(of_->MeterMod(mm));
  EXPECT_TRUE(of_->Meters().empty());
  EXPECT_TRUE(of_->Flows(0, OfMatch::CatchAll(), 0, 0, kPortAny, kGroupAny).empty());
  dp::MeterStats s;
  EXPECT_FALSE(dp_->MeterStats(7, &s));
}

}  // namespace
}  // namespace sluice::ofproto

namespace sluice::ofproto {
namespace {

TEST_F(OfprotoTest, GroupAndBucketCounters) {
  GroupMod sel;
  sel.group_id = 4;
  sel.type = GroupType::kAll;
  sel.buckets = {Bucket{0, kPortAny, kGroupAny, {OfAction::Output(2)}},
                 Bucket{0, kPortAny, kGroupAny, {OfAction::Output(3)}}};
  ASSERT_FALSE(of_->GroupMod(sel));
  Add(M({{FieldId::kInPort, 1}}), 10, {OfAction::Group(4)});
  std::vector<std::vector<uint8_t>> frames(6, UdpFrame(1, 2, 3, 4));
  ports_[0].Inject(dp_->pool(), {frames[0]});
  Pump();  // the first packet is executed and credited by the handler
  ports_[0].Inject(dp_->pool(), std::vector<std::vector<uint8_t>>(frames.begin() + 1, frames.end()));
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 6u);
  EXPECT_EQ(ports_[2].Drain().size(), 6u);
  of_->Revalidate();
  auto groups = of_->Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].packets, 6u);
  EXPECT_EQ(groups[0].bytes, 6u * 60);
  ASSERT_EQ(groups[0].buckets.size(), 2u);
  EXPECT_EQ(groups[0].buckets[0].packets, 6u);
  EXPECT_EQ(groups[0].buckets[1].packets, 6u);
}

}  // namespace
}  // namespace sluice::ofproto
