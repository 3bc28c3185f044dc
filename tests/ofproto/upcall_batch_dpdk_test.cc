// Batched upcall handling (Ofproto::HandleUpcallBatch, BridgeSet's handlers):
// a storm of misses, several per flow, is handled in batches; every packet is
// forwarded exactly once, every packet is credited to its rule (and group
// buckets), no megaflow is installed twice, later misses of a flow reuse the
// batch's translation, the flow limit holds inside a batch, and a parked
// handler thread is woken by the first upcall a PMD queues.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "ofproto/bridge_set.h"
#include "ofproto/ofctl_parse.h"
#include "ofproto/ofproto.h"
#include "tests/common/ring_port.h"

namespace sluice::ofproto {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;

// UDP source port of a frame (the flow id in these tests).
uint16_t Sport(const std::vector<uint8_t>& f) { return static_cast<uint16_t>(f[34] << 8 | f[35]); }

class UpcallBatchTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(OfprotoOptions{}); }
  void Make(OfprotoOptions oo) {
    of_.reset();
    if (!dp_) {
      dp::DatapathOptions o;
      o.pmd_cores = {-1};
      o.n_mbufs = 8192;
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
    }
    oo.n_handlers = 0;
    oo.megaflow_idle_ms = 600000;
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
  void Flow(const std::string& text) {
    FlowMod fm;
    Status st = ParseFlowMod(text, FlowMod::Command::kAdd, &fm);
    ASSERT_TRUE(st.ok()) << st.message();
    OfpResult e = of_->FlowMod(fm);
    ASSERT_FALSE(e) << e->message;
  }
  // Receives everything queued on port 1 (the upcalls pile up: nothing is
  // handled yet), then handles them all, then lets the PMD execute.
  size_t StormThenHandle(size_t packets) {
    for (size_t got = 0; got < packets;) {
      const uint32_t n = dp_->PollAllOnce();
      if (n == 0) break;
      got += n;
    }
    size_t handled = of_->HandleUpcalls();
    dp_->Sync();
    dp_->PollAllOnce();
    return handled;
  }
  // The packet count of the table-0 rule with this priority.
  uint64_t RulePackets(uint16_t priority) {
    for (const auto& r : of_->Flows(0, OfMatch::CatchAll(), 0, 0, kPortAny, kGroupAny)) {
      if (r->priority() == priority) return r->packets.load();
    }
    ADD_FAILURE() << "no rule with priority " << priority;
    return 0;
  }
  dp::PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<Ofproto> of_;
  std::vector<RingPort> ports_;
  std::vector<PacketIn> packet_ins_;
};

// 64 flows x 4 packets; each batch of 64 upcalls holds 16 flows 4 times over.
TEST_F(UpcallBatchTest, StormForwardsEachPacketOnceAndInstallsEachMegaflowOnce) {
  // One megaflow per source address (set_field makes ip_src exact).
  Flow("priority=10,ip,actions=set_field:10.1.1.1->ip_src,output:2");
  constexpr int kFlows = 64, kPerFlow = 4, kPackets = kFlows * kPerFlow;
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < kPackets; ++j) {
    const int flow = (j / 64) * 16 + j % 16;
    frames.push_back(UdpFrame(0x0a000000 + flow, 0x0b000001, static_cast<uint16_t>(1000 + flow), 53));
  }
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(kPackets), static_cast<size_t>(kPackets));

  std::map<uint16_t, int> out;
  for (const auto& f : ports_[1].Drain()) out[Sport(f)]++;
  ASSERT_EQ(out.size(), static_cast<size_t>(kFlows));
  for (const auto& [sport, n] : out) EXPECT_EQ(n, kPerFlow) << "flow " << sport;

  const OfprotoStats s = of_->stats();
  EXPECT_EQ(s.upcalls, static_cast<uint64_t>(kPackets));
  EXPECT_EQ(s.deduped, static_cast<uint64_t>(kPackets - kFlows));
  EXPECT_EQ(s.installed, static_cast<uint64_t>(kFlows));
  EXPECT_EQ(dp_->FlowCount(), static_cast<size_t>(kFlows));
  EXPECT_EQ(Counters().flows, static_cast<uint64_t>(kFlows));  // kInstall applied once per flow
  EXPECT_EQ(Counters().executed, static_cast<uint64_t>(kPackets));
  EXPECT_EQ(s.ukeys, static_cast<uint64_t>(kFlows));
  // Every upcalled packet is the rule's, at once and after revalidation.
  EXPECT_EQ(RulePackets(10), static_cast<uint64_t>(kPackets));
  of_->Revalidate();
  EXPECT_EQ(RulePackets(10), static_cast<uint64_t>(kPackets));

  // The megaflows now carry the flows: no more upcalls.
  ports_[0].Inject(dp_->pool(), std::vector<std::vector<uint8_t>>(frames.begin(), frames.begin() + 64));
  EXPECT_EQ(StormThenHandle(64), 0u);
  EXPECT_EQ(ports_[1].Drain().size(), 64u);
  of_->Revalidate();
  EXPECT_EQ(RulePackets(10), static_cast<uint64_t>(kPackets + 64));
}

// A flow's misses in several batches: the later batches find its megaflow
// installed (no second install) and still credit every packet.
TEST_F(UpcallBatchTest, FlowSpanningBatchesInstalledOnce) {
  Flow("priority=10,ip,actions=set_field:10.1.1.1->ip_src,output:2");
  constexpr int kPackets = 200;  // two flows alternating: four batches
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < kPackets; ++j) frames.push_back(UdpFrame(0x0a000001 + j % 2, 0x0b000001, 1000 + j % 2, 53));
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(kPackets), static_cast<size_t>(kPackets));
  EXPECT_EQ(ports_[1].Drain().size(), static_cast<size_t>(kPackets));
  EXPECT_EQ(dp_->FlowCount(), 2u);
  EXPECT_EQ(Counters().flows, 2u);
  EXPECT_EQ(of_->stats().upcalls, static_cast<uint64_t>(kPackets));
  EXPECT_EQ(RulePackets(10), static_cast<uint64_t>(kPackets));
}

// Misses of different megaflows in one batch keep their own actions.
TEST_F(UpcallBatchTest, DifferentMegaflowsInOneBatchKeepTheirActions) {
  Flow("priority=20,udp,tp_dst=53,actions=output:2");
  Flow("priority=10,ip,actions=output:3");
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < 60; ++j) frames.push_back(UdpFrame(0x0a000001, 0x0b000001, 1000, j % 3 == 0 ? 53 : 54));
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(60), 60u);
  EXPECT_EQ(ports_[1].Drain().size(), 20u);
  EXPECT_EQ(ports_[2].Drain().size(), 40u);
  EXPECT_EQ(dp_->FlowCount(), 2u);
  EXPECT_EQ(of_->stats().deduped, 58u);
  EXPECT_EQ(RulePackets(20), 20u);
  EXPECT_EQ(RulePackets(10), 40u);
}

// Group buckets are credited per packet, deduplicated or not.
TEST_F(UpcallBatchTest, GroupBucketsCreditedForEveryPacket) {
  GroupMod gm;
  ASSERT_TRUE(ParseGroupMod("group_id=1,type=all,bucket=output:2,bucket=output:3", GroupMod::Command::kAdd, &gm).ok());
  ASSERT_FALSE(of_->GroupMod(gm));
  Flow("priority=10,ip,actions=group:1");
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < 40; ++j) frames.push_back(UdpFrame(0x0a000001 + j % 4, 0x0b000001, 1000, 53));
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(40), 40u);
  EXPECT_EQ(ports_[1].Drain().size(), 40u);
  EXPECT_EQ(ports_[2].Drain().size(), 40u);
  auto groups = of_->Groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].packets, 40u);
  ASSERT_EQ(groups[0].buckets.size(), 2u);
  EXPECT_EQ(groups[0].buckets[0].packets, 40u);
  EXPECT_EQ(groups[0].buckets[1].packets, 40u);
  EXPECT_EQ(RulePackets(10), 40u);
}

// Every packet of a deduplicated flow still reaches the controller.
TEST_F(UpcallBatchTest, ControllerActionForEveryPacket) {
  Flow("priority=10,ip,actions=controller,output:2");
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < 24; ++j) frames.push_back(UdpFrame(0x0a000001 + j % 3, 0x0b000001, 1000, 53));
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(24), 24u);
  EXPECT_EQ(ports_[1].Drain().size(), 24u);
  of_->HandleUpcalls();  // the userspace upcalls the executed packets made
  EXPECT_EQ(packet_ins_.size(), 24u);
  EXPECT_EQ(of_->stats().packet_ins, 24u);
}

// The flow limit is enforced inside a batch; the packets are forwarded anyway.
TEST_F(UpcallBatchTest, FlowLimitInsideABatch) {
  OfprotoOptions oo;
  oo.flow_limit = 10;
  Make(oo);
  Flow("priority=10,ip,actions=set_field:10.1.1.1->ip_src,output:2");
  std::vector<std::vector<uint8_t>> frames;
  for (int j = 0; j < 64; ++j) frames.push_back(UdpFrame(0x0a000000 + j, 0x0b000001, 1000, 53));
  ports_[0].Inject(dp_->pool(), frames);
  EXPECT_EQ(StormThenHandle(64), 64u);
  EXPECT_EQ(ports_[1].Drain().size(), 64u);
  EXPECT_EQ(dp_->FlowCount(), 10u);
  EXPECT_EQ(of_->stats().installed, 10u);
  EXPECT_EQ(of_->stats().over_limit, 54u);
  EXPECT_EQ(of_->stats().ukeys, 10u);
  EXPECT_EQ(RulePackets(10), 64u);
}

// BridgeSet's handler thread parks when idle; the first upcall a PMD queues
// wakes it (the park has no timeout here, so nothing else could).
TEST(UpcallWakeupTest, ParkedHandlerWokenByFirstUpcall) {
  dp::DatapathOptions o;
  o.pmd_cores = {-1};
  o.n_mbufs = 4096;
  auto dp = std::make_unique<dp::Datapath>(o);
  ASSERT_TRUE(dp->Init().ok());
  std::vector<RingPort> ports;
  for (uint32_t i = 1; i <= 2; ++i) {
    ports.push_back(RingPort::Make());
    dp::PortConfig pc;
    pc.name = "p" + std::to_string(i);
    pc.devargs = ports.back().devargs();
    uint32_t no = 0;
    ASSERT_TRUE(dp->AddPort(pc, &no).ok());
  }
  {
    BridgeSet set(dp.get());
    set.set_park_timeout_ms(-1);
    OfprotoOptions oo;
    oo.name = "br0";
    auto br = set.Add(oo);
    ASSERT_NE(br, nullptr);
    for (uint32_t i = 1; i <= 2; ++i) {
      br->SetPort(XlatePort{i, true, 0, {}});
      set.AttachPort(i, "br0");
    }
    FlowMod fm;
    ASSERT_TRUE(ParseFlowMod("priority=10,ip,actions=output:2", FlowMod::Command::kAdd, &fm).ok());
    ASSERT_FALSE(br->FlowMod(fm));
    set.Start();
    while (dp->upcall_handlers_parked() == 0) std::this_thread::yield();
    const uint64_t wakeups = dp->upcall_wakeups();

    ports[0].Inject(dp->pool(), {UdpFrame(0x0a000001, 0x0b000001, 1000, 53)});
    size_t out = 0;
    while (out == 0) {  // the PMD runs on this thread: poll until the packet left
      dp->PollAllOnce();
      out += ports[1].Drain().size();
      std::this_thread::yield();
    }
    EXPECT_EQ(out, 1u);
    EXPECT_EQ(dp->upcall_wakeups(), wakeups + 1);
    while (br->stats().upcalls == 0) std::this_thread::yield();  // counted after the execute
    EXPECT_EQ(br->stats().upcalls, 1u);
    EXPECT_EQ(dp->FlowCount(), 1u);
    // Stop() wakes the parked handler (no timeout would).
  }
  for (auto& p : ports) p.Drain();
}

}  // namespace
}  // namespace sluice::ofproto
