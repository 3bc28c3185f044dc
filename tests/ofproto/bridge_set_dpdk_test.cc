// BridgeSet: two bridges over one datapath. A miss goes to the bridge of its
// input port, a CONTROLLER action's packet-in to the bridge that made it
// (even for a packet-out, whose in_port is no port), a port of no bridge
// is dropped and counted, and a removed bridge takes its megaflows along.
#include <gtest/gtest.h>

#include "ofproto/bridge_set.h"
#include "tests/common/of_match.h"
#include "tests/common/ring_port.h"

namespace sluice::ofproto {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;

class BridgeSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dp::DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 4096;
    dp_ = std::make_unique<dp::Datapath>(o);
    ASSERT_TRUE(dp_->Init().ok());
    for (uint32_t i = 1; i <= 5; ++i) {
      ports_.push_back(RingPort::Make());
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i);
      pc.devargs = ports_.back().devargs();
      uint32_t no = 0;
      ASSERT_TRUE(dp_->AddPort(pc, &no).ok());
    }
    set_ = std::make_unique<BridgeSet>(dp_.get());
    for (const char* name : {"a", "b"}) {
      OfprotoOptions oo;
      oo.name = name;
      ASSERT_NE(set_->Add(oo), nullptr);
      set_->Find(name)->set_packet_in_listener([this, n = std::string(name)](const PacketIn& pi) {
        packet_ins_.emplace_back(n, pi.in_port);
      });
    }
    // a: ports 1 and 2; b: ports 3 and 4; port 5 belongs to no bridge.
    for (uint32_t i = 1; i <= 4; ++i) {
      std::string br = i <= 2 ? "a" : "b";
      set_->Find(br)->SetPort(XlatePort{i, true, 0, {}});
      set_->AttachPort(i, br);
    }
  }
  void TearDown() override {
    set_.reset();
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    for (auto& p : ports_) p.Drain();
    dp_.reset();
  }
  void Add(const std::string& br, OfMatch m, OfActionList actions) {
    ofproto::FlowMod fm;
    fm.match = m;
    fm.priority = 10;
    fm.insts = Instructions::Apply(std::move(actions));
    OfpResult e = set_->Find(br)->FlowMod(fm);
    ASSERT_FALSE(e) << e->message;
  }
  void Pump() {
    for (int i = 0; i < 10; ++i) {
      dp_->PollAllOnce();
      size_t n = set_->HandleUpcalls();
      dp_->Sync();
      dp_->PollAllOnce();
      if (n == 0) break;
    }
  }

  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<BridgeSet> set_;
  std::vector<RingPort> ports_;
  std::vector<std::pair<std::string, uint32_t>> packet_ins_;
};

TEST_F(BridgeSetTest, MissesGoToTheBridgeOfTheirPort) {
  Add("a", sluice::testing::OfMatchOf({}), {OfAction::Output(2)});
  Add("b", sluice::testing::OfMatchOf({}), {OfAction::Output(4)});
  ports_[0].Inject(dp_->pool(), {UdpFrame(0x0a000001, 0x0a000002, 1000, 53)});
  ports_[2].Inject(dp_->pool(), {UdpFrame(0x0a000003, 0x0a000004, 1000, 53)});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  EXPECT_EQ(ports_[3].Drain().size(), 1u);
  EXPECT_EQ(set_->Find("a")->stats().upcalls, 1u);
  EXPECT_EQ(set_->Find("b")->stats().upcalls, 1u);

  // A port of no bridge: its misses are dropped and counted.
  ports_[4].Inject(dp_->pool(), {UdpFrame(0x0a000005, 0x0a000006, 1000, 53)});
  Pump();
  EXPECT_EQ(set_->orphan_upcalls(), 1u);
  EXPECT_EQ(set_->BridgeOf(5), "");
  EXPECT_EQ(set_->BridgeOf(3), "b");
}

TEST_F(BridgeSetTest, PacketInsReturnToTheirBridge) {
  Add("b", sluice::testing::OfMatchOf({}), {OfAction::Output(kPortController)});
  ports_[2].Inject(dp_->pool(), {UdpFrame(0x0a000003, 0x0a000004, 1000, 53)});
  Pump();
  ASSERT_EQ(packet_ins_.size(), 1u);
  EXPECT_EQ(packet_ins_[0], std::make_pair(std::string("b"), 3u));

  // A packet-out has no input port; its CONTROLLER output still reaches b.
  auto frame = UdpFrame(0x0a000007, 0x0a000008, 1000, 53);
  ASSERT_FALSE(set_->Find("b")->PacketOut(frame.data(), static_cast<uint32_t>(frame.size()),
                                          kPortController, {OfAction::Output(kPortController)}));
  Pump();
  ASSERT_EQ(packet_ins_.size(), 2u);
  EXPECT_EQ(packet_ins_[1].first, "b");
}

TEST_F(BridgeSetTest, RemovingABridgeDeletesItsMegaflows) {
  Add("a", sluice::testing::OfMatchOf({}), {OfAction::Output(2)});
  Add("b", sluice::testing::OfMatchOf({}), {OfAction::Output(4)});
  ports_[0].Inject(dp_->pool(), {UdpFrame(0x0a000001, 0x0a000002, 1000, 53)});
  ports_[2].Inject(dp_->pool(), {UdpFrame(0x0a000003, 0x0a000004, 1000, 53)});
  Pump();
  ASSERT_EQ(dp_->FlowDump().size(), 2u);
  EXPECT_TRUE(set_->Remove("b"));
  EXPECT_FALSE(set_->Remove("b"));
  dp_->Sync();
  auto flows = dp_->FlowDump();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].key.in_port, 1u);
  EXPECT_EQ(set_->Find("b"), nullptr);
  EXPECT_EQ(set_->BridgeOf(3), "");
  EXPECT_EQ(set_->size(), 1u);
  // A name in use is refused.
  OfprotoOptions oo;
  oo.name = "a";
  EXPECT_EQ(set_->Add(oo), nullptr);
}

}  // namespace
}  // namespace sluice::ofproto
