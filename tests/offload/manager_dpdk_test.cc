// OffloadManager (offload/offload_thread.h) over the software eSwitch: full
// offload, fallback to partial (with MARK on the packets) and to software,
// refusals remembered and not retried, modify make-before-break, delete with
// the last counters folded, counter deltas, queue limit, the thread, and the
// statistics `sluicectl offload-stats` prints.
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "datapath/flow/parse.h"
#include "offload/eswitch.h"
#include "offload/offload_thread.h"
#include "tests/datapath/actions_test_util.h"

namespace sluice::offload {
namespace {

using dp::DpAction;
using dp::testutil::Build;
using dp::testutil::Bytes;
using dp::testutil::Pkt;
using dp::testutil::Pool;
using dp::testutil::Spec;

constexpr uint32_t kUplink = 1, kVf1 = 2, kVf2 = 3, kOtherDomain = 50;

struct Megaflow {
  dp::Ufid ufid;
  dp::FlowKey key;
  dp::FlowMask mask;
  Bytes frame;
};

// A 5-tuple megaflow from VF1 for a frame with source address `src`.
Megaflow Flow(uint32_t src, uint32_t in_port = kVf1) {
  Megaflow m;
  Spec s;
  s.v4_src = src;
  m.frame = Build(s).bytes;
  dp::PacketLayout layout;
  EXPECT_EQ(dp::ParseFlow(m.frame.data(), static_cast<uint32_t>(m.frame.size()), in_port, &m.key,
                          &layout),
            dp::ParseStatus::kOk);
  m.mask.Clear();
  m.mask.in_port = 0xffffffffu;
  m.mask.eth_type = Be16(0xffff);
  m.mask.vlan[0].tci = Be16(dp::kVlanPresent);
  m.mask.nw_src = m.mask.nw_dst = Be32(0xffffffff);
  m.mask.nw_proto = 0xff;
  m.mask.tp_src = m.mask.tp_dst = Be16(0xffff);
  // Byte-wise (dp::MaskKey reads the key as uint64_t words: inlined right
  // after the field stores above, GCC's alias analysis may reorder them).
  dp::FlowKey masked;
  auto* out = reinterpret_cast<unsigned char*>(&masked);
  const auto* k = reinterpret_cast<const unsigned char*>(&m.key);
  const auto* mk = reinterpret_cast<const unsigned char*>(&m.mask);
  for (size_t i = 0; i < sizeof(masked); ++i) out[i] = k[i] & mk[i];
  m.ufid = dp::UfidFromMatch(masked, m.mask);
  return m;
}

class ManagerTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Pool(), nullptr);
    in_use_ = rte_mempool_in_use_count(Pool());
  }
  void TearDown() override {
    mgr_.reset();
    if (esw_) {
      EXPECT_EQ(esw_->rule_count(), 0u) << "rules left behind";
    }
    esw_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(Pool()), in_use_) << "mbuf leak";
  }
  void Make(EswitchConfig c = {}, OffloadOptions o = {}) {
    c.pool = Pool();
    Status st;
    esw_ = Eswitch::Create(c, &st);
    ASSERT_NE(esw_, nullptr) << st.message();
    backend_ = std::make_unique<EswitchBackend>(esw_.get());
    mgr_ = std::make_unique<OffloadManager>(backend_.get(), o);
    PortMap ports;
    for (uint16_t v = 0; v < esw_->n_vports(); ++v) ports.Set(v + 1u, esw_->PortInfo(v));
    OffloadPort other;
    other.domain_id = 99;
    other.flow_port_id = 77;
    ports.Set(kOtherDomain, other);
    mgr_->SetPorts(ports);
  }
  // Sends `n` copies of `frame` from `vport`'s outside and runs the hardware.
  void Send(uint16_t vport, const Bytes& frame, int n = 1) {
    for (int i = 0; i < n; ++i) {
      rte_mbuf* m = Pkt(frame);
      ASSERT_EQ(esw_->InjectFromOutside(vport, &m, 1), 1u);
    }
    esw_->Poll();
  }
  size_t Outside(uint16_t vport) {
    size_t n = 0;
    rte_mbuf* pkts[32];
    unsigned got;
    while ((got = esw_->ReceiveOutside(vport, pkts, 32)) > 0) {
      n += got;
      for (unsigned i = 0; i < got; ++i) rte_pktmbuf_free(pkts[i]);
    }
    return n;
  }
  std::vector<rte_mbuf*> Rx(uint16_t port) {
    std::vector<rte_mbuf*> out;
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = rte_eth_rx_burst(port, 0, pkts, 32)) > 0) out.insert(out.end(), pkts, pkts + n);
    return out;
  }
  FlowOffloadInfo Info(const dp::Ufid& u) {
    FlowOffloadInfo i;
    EXPECT_TRUE(mgr_->Get(u, &i));
    return i;
  }

  std::unique_ptr<Eswitch> esw_;
  std::unique_ptr<EswitchBackend> backend_;
  std::unique_ptr<OffloadManager> mgr_;
  unsigned in_use_ = 0;
};

TEST_F(ManagerTest, FullOffloadAndCounterDeltas) {
  Make();
  Megaflow f = Flow(0x0a000001);
  ASSERT_TRUE(mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kVf2)}));
  EXPECT_EQ(Info(f.ufid).state, FlowState::kPending);
  EXPECT_EQ(mgr_->ProcessRequests(), 1u);
  EXPECT_EQ(Info(f.ufid).state, FlowState::kFull);
  Send(1, f.frame, 3);
  EXPECT_EQ(Outside(2), 3u);
  mgr_->QueryCounters();
  auto d = mgr_->TakeCounterDeltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ufid, f.ufid);
  EXPECT_EQ(d[0].packets, 3u);
  EXPECT_EQ(d[0].bytes, 3u * f.frame.size());
  mgr_->QueryCounters();
  EXPECT_TRUE(mgr_->TakeCounterDeltas().empty());  // nothing new
  Send(1, f.frame, 2);
  Outside(2);
  mgr_->QueryCounters();
  d = mgr_->TakeCounterDeltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packets, 2u);
  EXPECT_EQ(Info(f.ufid).hw_packets, 5u);
  // Delete folds the last counters in.
  Send(1, f.frame, 4);
  Outside(2);
  ASSERT_TRUE(mgr_->Del(f.ufid));
  mgr_->ProcessRequests();
  EXPECT_EQ(esw_->rule_count(), 0u);
  d = mgr_->TakeCounterDeltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packets, 4u);
  FlowOffloadInfo gone;
  EXPECT_FALSE(mgr_->Get(f.ufid, &gone));
  const OffloadStats s = mgr_->Stats();
  EXPECT_EQ(s.insertions, 1u);
  EXPECT_EQ(s.removals, 1u);
  EXPECT_EQ(s.n_full, 0u);
}

TEST_F(ManagerTest, FullRefusedFallsBackToPartialWithMark) {
  Make();
  Megaflow f = Flow(0x0a000002);
  // Output to a port of another switch domain: no full offload.
  ASSERT_TRUE(mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kOtherDomain)}));
  mgr_->ProcessRequests();
  FlowOffloadInfo i = Info(f.ufid);
  EXPECT_EQ(i.state, FlowState::kPartial);
  EXPECT_EQ(i.full_reason, Reason::kCrossDomainOutput);
  ASSERT_NE(i.mark, 0u);
  dp::Ufid back;
  ASSERT_TRUE(mgr_->UfidOfMark(i.mark, &back));
  EXPECT_EQ(back, f.ufid);
  Send(1, f.frame);
  auto rx = Rx(esw_->representor_port_id(1));
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_TRUE(rx[0]->ol_flags & RTE_MBUF_F_RX_FDIR_ID);
  EXPECT_EQ(rx[0]->hash.fdir.hi, i.mark);
  rte_pktmbuf_free(rx[0]);
  const OffloadStats s = mgr_->Stats();
  EXPECT_EQ(s.n_partial, 1u);
  EXPECT_EQ(s.full_fallbacks, 1u);
  EXPECT_EQ(s.refusals[static_cast<int>(Reason::kCrossDomainOutput)], 1u);
  ASSERT_TRUE(mgr_->Del(f.ufid));
  mgr_->ProcessRequests();
  EXPECT_FALSE(mgr_->UfidOfMark(i.mark, &back));
}

TEST_F(ManagerTest, DeviceErrorOnFullFallsBackToPartial) {
  Make();
  Megaflow f = Flow(0x0a000003);
  esw_->InjectFailure(EswitchOp::kCreate, EIO, 1);
  mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kVf2)});
  mgr_->ProcessRequests();
  EXPECT_EQ(Info(f.ufid).state, FlowState::kPartial);
  EXPECT_EQ(Info(f.ufid).full_reason, Reason::kDeviceError);
}

TEST_F(ManagerTest, RefusalIsRememberedAndNotRetried) {
  Make();
  Megaflow f = Flow(0x0a000004);
  f.key.pkt_mark = 9;  // no rte_flow item for it: neither full nor partial
  f.mask.pkt_mark = 0xffffffffu;
  for (int i = 0; i < 5; ++i) mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kVf2)});
  mgr_->ProcessRequests();
  FlowOffloadInfo i = Info(f.ufid);
  EXPECT_EQ(i.state, FlowState::kRefused);
  EXPECT_EQ(i.reason, Reason::kUnsupportedMatchField);
  EXPECT_NE(i.detail.find("pkt_mark"), std::string::npos);
  OffloadStats s = mgr_->Stats();
  EXPECT_EQ(s.puts, 5u);
  EXPECT_EQ(s.skipped_refused, 4u);
  EXPECT_EQ(s.refusals[static_cast<int>(Reason::kUnsupportedMatchField)],
            2u);  // full + partial, once
  EXPECT_EQ(s.n_refused, 1u);
  // New actions are a new question: tried again (and refused again).
  mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kUplink)});
  mgr_->ProcessRequests();
  EXPECT_EQ(mgr_->Stats().refusals[static_cast<int>(Reason::kUnsupportedMatchField)], 4u);
  EXPECT_EQ(esw_->rule_count(), 0u);
}

TEST_F(ManagerTest, TableFullRefusesBothModes) {
  EswitchConfig c;
  c.max_rules = 1;
  Make(c);
  Megaflow a = Flow(0x0a000005), b = Flow(0x0a000006);
  mgr_->Put(a.ufid, a.key, a.mask, {DpAction::Output(kVf2)});
  mgr_->Put(b.ufid, b.key, b.mask, {DpAction::Output(kVf2)});
  mgr_->ProcessRequests();
  EXPECT_EQ(Info(a.ufid).state, FlowState::kFull);
  EXPECT_EQ(Info(b.ufid).state, FlowState::kRefused);
  EXPECT_EQ(Info(b.ufid).reason, Reason::kTableFull);
  EXPECT_EQ(Info(b.ufid).full_reason, Reason::kTableFull);
  EXPECT_EQ(mgr_->Stats().refusals[static_cast<int>(Reason::kTableFull)], 2u);
  // Software still handles b: its packets reach the representor.
  Send(1, b.frame);
  auto rx = Rx(esw_->representor_port_id(1));
  EXPECT_EQ(rx.size(), 1u);
  for (rte_mbuf* m : rx) rte_pktmbuf_free(m);
}

TEST_F(ManagerTest, ModifyIsMakeBeforeBreak) {
  Make();
  Megaflow f = Flow(0x0a000007);
  mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kVf2)});
  mgr_->ProcessRequests();
  Send(1, f.frame, 2);
  EXPECT_EQ(Outside(2), 2u);
  mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kUplink)});
  mgr_->ProcessRequests();
  EXPECT_EQ(Info(f.ufid).state, FlowState::kFull);
  EXPECT_EQ(esw_->rule_count(), 1u);
  Send(1, f.frame);
  EXPECT_EQ(Outside(0), 1u);
  EXPECT_EQ(Outside(2), 0u);
  const OffloadStats s = mgr_->Stats();
  EXPECT_EQ(s.modifications, 1u);
  EXPECT_EQ(s.insertions, 2u);
  EXPECT_EQ(s.removals, 1u);
  mgr_->QueryCounters();
  auto d = mgr_->TakeCounterDeltas();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].packets, 3u);  // 2 on the old rule (folded at modify) + 1 on the new
}

TEST_F(ManagerTest, QueueLimit) {
  OffloadOptions o;
  o.queue_limit = 2;
  Make({}, o);
  Megaflow f = Flow(0x0a000008);
  EXPECT_TRUE(mgr_->Put(f.ufid, f.key, f.mask, {}));
  EXPECT_TRUE(mgr_->Del(f.ufid));
  EXPECT_FALSE(mgr_->Put(f.ufid, f.key, f.mask, {}));
  EXPECT_EQ(mgr_->Stats().queue_drops, 1u);
  EXPECT_EQ(mgr_->Stats().queue_depth, 2u);
  mgr_->ProcessRequests();
  EXPECT_EQ(mgr_->Stats().queue_depth, 0u);
}

TEST_F(ManagerTest, ThreadAppliesRequestsAndReportsStats) {
  OffloadOptions o;
  o.counter_interval_ms = 10;
  Make({}, o);
  mgr_->Start();
  std::vector<Megaflow> flows;
  for (uint32_t i = 0; i < 200; ++i) {
    flows.push_back(Flow(0x0b000000 + i));
    ASSERT_TRUE(mgr_->Put(flows.back().ufid, flows.back().key, flows.back().mask,
                          {DpAction::Output(i % 2 ? kVf2 : kUplink)}));
  }
  mgr_->WaitIdle();
  OffloadStats s = mgr_->Stats();
  EXPECT_EQ(s.n_full, 200u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_GT(s.insertion_rate, 0.0);
  EXPECT_EQ(esw_->rule_count(), 200u);
  const std::string text = FormatOffloadStats(s);
  EXPECT_NE(text.find("flows: full 200 partial 0 refused 0"), std::string::npos) << text;
  std::printf("%s", text.c_str());
  for (const Megaflow& f : flows) mgr_->Del(f.ufid);
  mgr_->WaitIdle();
  mgr_->Stop();
  EXPECT_EQ(esw_->rule_count(), 0u);
  EXPECT_EQ(mgr_->Stats().removals, 200u);
}

// Both threads running (the offload thread and the hardware thread) while
// flows are put, modified and deleted between waves of traffic: every packet
// is accounted for, and the counter deltas add up to exactly the packets the
// rules forwarded.
TEST_F(ManagerTest, ThreadsTogetherAccountForEveryPacket) {
  OffloadOptions o;
  o.counter_interval_ms = 1;
  Make({}, o);
  esw_->StartThread();
  mgr_->Start();
  std::vector<Megaflow> flows;
  for (uint32_t i = 0; i < 40; ++i) flows.push_back(Flow(0x0d000000 + i));
  uint64_t injected = 0, by_rule = 0, missed = 0, counted = 0;
  auto take = [&] {
    for (const CounterDelta& d : mgr_->TakeCounterDeltas()) counted += d.packets;
  };
  auto wait_hardware = [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (esw_->stats().from_outside < injected && std::chrono::steady_clock::now() < deadline) {
      by_rule += Outside(0) + Outside(2);
    }
    by_rule += Outside(0) + Outside(2);
    auto rx = Rx(esw_->representor_port_id(1));
    missed += rx.size();
    for (rte_mbuf* m : rx) rte_pktmbuf_free(m);
  };
  for (int round = 0; round < 6; ++round) {
    for (size_t i = 0; i < flows.size(); ++i) {
      const Megaflow& f = flows[i];
      if ((i + round) % 3 == 0) {
        mgr_->Del(f.ufid);
      } else {
        mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(round % 2 ? kVf2 : kUplink)});
      }
    }
    mgr_->WaitIdle();
    for (const Megaflow& f : flows) {
      for (int k = 0; k < 3; ++k) {
        rte_mbuf* m = Pkt(f.frame);
        while (esw_->InjectFromOutside(1, &m, 1) != 1) {
        }
        ++injected;
      }
    }
    wait_hardware();
    take();
  }
  for (const Megaflow& f : flows) mgr_->Del(f.ufid);
  mgr_->WaitIdle();
  mgr_->Stop();
  esw_->StopThread();
  take();
  EXPECT_EQ(by_rule + missed, injected);
  EXPECT_EQ(counted, by_rule);
  EXPECT_GT(by_rule, 0u);
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(esw_->rule_count(), 0u);
}

TEST_F(ManagerTest, DestructorRemovesEveryRule) {
  Make();
  for (uint32_t i = 0; i < 10; ++i) {
    Megaflow f = Flow(0x0c000000 + i);
    mgr_->Put(f.ufid, f.key, f.mask, {DpAction::Output(kVf2)});
  }
  mgr_->ProcessRequests();
  EXPECT_EQ(esw_->rule_count(), 10u);
  mgr_.reset();
  EXPECT_EQ(esw_->rule_count(), 0u);
}

}  // namespace
}  // namespace sluice::offload
