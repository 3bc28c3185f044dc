// Pipeline tests: a Datapath with net_ring ports, megaflows installed through
// the dpif API, packets in through rx rings and out through tx rings.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/dpif/datapath.h"
#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"
#include "datapath/packet/packet.h"
#include "tests/common/ring_datapath.h"
#include "tests/common/ring_port.h"

namespace sluice::dp {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;

DpActionsPtr Actions(const std::string& text) {
  std::vector<DpAction> a;
  Status st = ParseActions(text, &a);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::make_shared<const DpActions>(a);
}

void Match(const std::string& text, FlowKey* key, FlowMask* mask) {
  Status st = ParseMatch(text, key, mask);
  ASSERT_TRUE(st.ok()) << text << ": " << st.message();
}

class PipelineTest : public sluice::testing::RingDatapathTest {
 protected:
  void SetUp() override {
    DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 4096;
    o.emc_insert_inv_prob = 1;  // always insert: EMC behaviour is deterministic
    OpenDatapath(o, 3);
  }

  // Puts frames on port `port_no`'s rx ring.
  void Inject(uint32_t port_no, const std::vector<std::vector<uint8_t>>& frames) {
    ports_[port_no - 1].Inject(dp_->pool(), frames);
  }

  PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

};

TEST_F(PipelineTest, ForwardsMatchingPacketsAndUpcallsMisses) {
  FlowKey key;
  FlowMask mask;
  Match("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.255.255.0)", &key, &mask);
  Ufid ufid;
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("2"), Datapath::kAllPmds, &ufid).ok());

  std::vector<std::vector<uint8_t>> hits, misses;
  for (uint32_t i = 0; i < 5; ++i) hits.push_back(UdpFrame(0xc0a80001 + i, 0x0a000001 + i, 1000, 53));
  for (uint32_t i = 0; i < 3; ++i) misses.push_back(UdpFrame(0xc0a80001, 0x0a010001 + i, 1000, 53));
  auto all = hits;
  all.insert(all.end(), misses.begin(), misses.end());
  Inject(1, all);
  EXPECT_EQ(dp_->PollAllOnce(), 8u);

  // The matching packets leave on port 2, byte for byte, in order.
  EXPECT_EQ(ports_[1].Drain(), hits);
  EXPECT_TRUE(ports_[2].Drain().empty());

  // Each miss is an upcall carrying its packet and its key.
  for (uint32_t i = 0; i < 3; ++i) {
    Upcall u;
    ASSERT_TRUE(dp_->RecvUpcall(&u));
    EXPECT_EQ(u.type, UpcallType::kMiss);
    EXPECT_EQ(u.key.in_port, 1u);
    EXPECT_EQ(u.key.eth_type, Be16(0x0800));
    EXPECT_EQ(u.key.nw_dst, Be32(0x0a010001 + i));
    EXPECT_EQ(u.key.nw_proto, 17);
    EXPECT_EQ(u.key.tp_dst, Be16(53));
    EXPECT_EQ(u.layout.l3_ofs, 14);
    EXPECT_EQ(std::vector<uint8_t>(PacketData(u.packet), PacketData(u.packet) + PacketLen(u.packet)),
              misses[i]);
    rte_pktmbuf_free(u.packet);
  }
  Upcall extra;
  EXPECT_FALSE(dp_->RecvUpcall(&extra));

  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(ufid, &info));
  EXPECT_EQ(info.packets, 5u);
  EXPECT_EQ(info.bytes, 5u * 60);
  EXPECT_GT(info.used_ms, 0u);

  PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.rx_packets, 8u);
  EXPECT_EQ(c.emc_hits + c.dpcls_hits, 5u);
  EXPECT_EQ(c.dpcls_hits, 5u);  // first packets of new flows: nothing cached yet
  EXPECT_EQ(c.misses, 3u);
  EXPECT_EQ(c.upcalls, 3u);
  EXPECT_EQ(c.tx_packets, 5u);

  // The same packets again hit the megaflow: with a single subtable the
  // classifier alone is cheaper than the exact-match cache, which the PMD
  // keeps off (EmcPolicy::kAuto; dpif_emc_policy_dpdk_test covers it on).
  Inject(1, hits);
  dp_->PollAllOnce();
  EXPECT_EQ(ports_[1].Drain().size(), 5u);
  c = Counters();
  EXPECT_EQ(c.emc_state, static_cast<uint64_t>(EmcState::kOffCheaper));
  EXPECT_EQ(c.emc_hits, 0u);
  EXPECT_EQ(c.dpcls_hits, 10u);
  ASSERT_TRUE(dp_->FlowGet(ufid, &info));
  EXPECT_EQ(info.packets, 10u);
}

TEST_F(PipelineTest, ModifyAndDeleteTakeEffect) {
  FlowKey key;
  FlowMask mask;
  Match("in_port(1),eth_type(0x0800)", &key, &mask);
  Ufid ufid;
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("2"), Datapath::kAllPmds, &ufid).ok());
  std::vector<std::vector<uint8_t>> frames = {UdpFrame(1, 2, 3, 4)};
  Inject(1, frames);
  dp_->PollAllOnce();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);

  // Same match, new actions: the flow is modified (EMC entry still valid).
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("3"), Datapath::kAllPmds).ok());
  dp_->Sync();
  Inject(1, frames);
  dp_->PollAllOnce();
  EXPECT_TRUE(ports_[1].Drain().empty());
  EXPECT_EQ(ports_[2].Drain().size(), 1u);
  EXPECT_EQ(dp_->FlowCount(), 1u);

  // Deleted: the EMC must not keep serving it.
  ASSERT_TRUE(dp_->FlowDel(ufid).ok());
  dp_->Sync();
  Inject(1, frames);
  dp_->PollAllOnce();
  EXPECT_TRUE(ports_[2].Drain().empty());
  EXPECT_EQ(Counters().misses, 1u);
  EXPECT_FALSE(dp_->FlowDel(ufid).ok());
  EXPECT_EQ(dp_->FlowCount(), 0u);
}

TEST_F(PipelineTest, MultipleOutputsAndDrop) {
  FlowKey key;
  FlowMask mask;
  Match("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.1)", &key, &mask);
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("2,3")).ok());
  Match("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.2)", &key, &mask);
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("drop")).ok());
  Inject(1, {UdpFrame(1, 0x0a000001, 1, 2), UdpFrame(1, 0x0a000002, 1, 2), UdpFrame(1, 0x0a000001, 1, 2)});
  dp_->PollAllOnce();
  EXPECT_EQ(ports_[1].Drain().size(), 2u);
  EXPECT_EQ(ports_[2].Drain().size(), 2u);
  PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.action_drops, 1u);
  EXPECT_EQ(c.tx_packets, 4u);
}

TEST_F(PipelineTest, MalformedPacketsAreCountedAndDropped) {
  FlowKey key;
  FlowMask mask;
  Match("in_port(1)", &key, &mask);
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("2")).ok());
  auto bad = UdpFrame(1, 2, 3, 4);
  bad[14] = 0x43;  // IHL 3: malformed IPv4
  std::vector<uint8_t> runt(10, 0xab);
  Inject(1, {bad, runt, UdpFrame(1, 2, 3, 4)});
  dp_->PollAllOnce();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.parse_drops[static_cast<int>(ParseStatus::kBadIpv4)], 1u);
  EXPECT_EQ(c.parse_drops[static_cast<int>(ParseStatus::kTooShort)], 1u);
}

TEST_F(PipelineTest, ExecuteRunsActionsInThePmd) {
  auto f = UdpFrame(1, 2, 3, 4);
  rte_mbuf* m = PacketFromBytes(dp_->pool(), f.data(), static_cast<uint32_t>(f.size()));
  PacketLayout layout{14, 34};
  ASSERT_TRUE(dp_->Execute(0, m, 1, layout, Actions("3")).ok());
  dp_->Sync();
  EXPECT_EQ(ports_[2].Drain(), std::vector<std::vector<uint8_t>>{f});
  EXPECT_EQ(Counters().executed, 1u);
}

TEST_F(PipelineTest, RunningPmdForwardsAndFollowsChanges) {
  FlowKey key;
  FlowMask mask;
  Match("in_port(1)", &key, &mask);
  Ufid ufid;
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("2"), Datapath::kAllPmds, &ufid).ok());
  dp_->StartPmds();
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < 100; ++i) frames.push_back(UdpFrame(i, 2, 3, 4));
  Inject(1, frames);
  // Bounded wait for the PMD thread (a condition, not a fixed sleep).
  std::vector<std::vector<uint8_t>> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    auto more = ports_[1].Drain();
    got.insert(got.end(), more.begin(), more.end());
    std::this_thread::yield();
  }
  EXPECT_EQ(got, frames);

  // Changing actions and deleting a port while the PMD runs.
  ASSERT_TRUE(dp_->FlowPut(key, mask, Actions("3"), Datapath::kAllPmds).ok());
  ASSERT_TRUE(dp_->DelPort(2).ok());
  dp_->Sync();
  Inject(1, frames);
  got.clear();
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    auto more = ports_[2].Drain();
    got.insert(got.end(), more.begin(), more.end());
    std::this_thread::yield();
  }
  EXPECT_EQ(got.size(), 100u);
  dp_->StopPmds();
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(ufid, &info));
  EXPECT_EQ(info.packets, 200u);
  EXPECT_EQ(dp_->Ports().size(), 2u);
}

TEST_F(PipelineTest, PortAndPmdViews) {
  auto ports = dp_->Ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].name, "p1");
  EXPECT_EQ(ports[0].driver, "net_ring");
  uint32_t no;
  EXPECT_TRUE(dp_->PortByName("p3", &no));
  EXPECT_EQ(no, 3u);
  PortConfig dup;
  dup.name = "p1";
  dup.devargs = ports_[0].devargs();
  uint32_t want = 0;
  EXPECT_FALSE(dp_->AddPort(dup, &want).ok());
  auto pmds = dp_->PmdStats();
  ASSERT_EQ(pmds.size(), 1u);
  EXPECT_EQ(pmds[0].rxqs.size(), 3u);
}

}  // namespace
}  // namespace sluice::dp

namespace sluice::dp {
namespace {

// Two PMDs and a port with two rx queues (net_null generates packets when
// polled): each PMD gets one queue, both forward through the same megaflow,
// and a sink with one tx queue is shared by both PMDs behind its lock.
TEST(MultiQueue, TwoPmdsTwoRxQueuesSharedTxq) {
  DatapathOptions o;
  o.pmd_cores = {-1, -1};
  o.n_mbufs = 8192;
  Datapath dp(o);
  ASSERT_TRUE(dp.Init().ok());
  PortConfig src;
  src.name = "src";
  src.devargs = "net_null_mq0,size=64";
  src.n_rxq = 2;
  uint32_t src_no = 0;
  ASSERT_TRUE(dp.AddPort(src, &src_no).ok());
  PortConfig sink;
  sink.name = "sink";
  sink.devargs = "net_ring_mqsink";  // created below with one tx queue
  rte_ring* r = rte_ring_create("mq_sink", 4096, 0, 0);
  ASSERT_NE(r, nullptr);
  ASSERT_GE(rte_eth_from_rings("mqsink", &r, 1, &r, 1, 0), 0);
  uint32_t sink_no = 0;
  ASSERT_TRUE(dp.AddPort(sink, &sink_no).ok());
  auto ports = dp.Ports();
  ASSERT_EQ(ports[0].n_rxq, 2);

  // Each PMD polls one of the source's queues (plus, here, the sink's).
  auto pmds = dp.PmdStats();
  ASSERT_EQ(pmds.size(), 2u);
  int src_queues[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    for (const auto& q : pmds[i].rxqs) src_queues[i] += q.port == "src";
  }
  EXPECT_EQ(src_queues[0], 1);
  EXPECT_EQ(src_queues[1], 1);

  // net_null's frames are all zero: match them on the input port only.
  FlowKey key;
  FlowMask mask;
  ASSERT_TRUE(ParseMatch("in_port(" + std::to_string(src_no) + ")", &key, &mask).ok());
  std::vector<DpAction> a;
  ASSERT_TRUE(ParseActions(std::to_string(sink_no), &a).ok());
  ASSERT_TRUE(dp.FlowPut(key, mask, std::make_shared<const DpActions>(a)).ok());
  dp.StartPmds();
  // Drain the sink ring while the PMDs forward, until both PMDs have sent.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  uint64_t tx0 = 0, tx1 = 0;
  void* objs[256];
  while (std::chrono::steady_clock::now() < deadline && (tx0 < 1000 || tx1 < 1000)) {
    unsigned n = rte_ring_dequeue_burst(r, objs, 256, nullptr);
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
    auto s = dp.PmdStats();
    tx0 = s[0].counters.tx_packets;
    tx1 = s[1].counters.tx_packets;
  }
  dp.StopPmds();
  unsigned n;
  while ((n = rte_ring_dequeue_burst(r, objs, 256, nullptr)) > 0) {
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
  }
  EXPECT_GE(tx0, 1000u);
  EXPECT_GE(tx1, 1000u);
  FlowInfo info;
  ASSERT_TRUE(dp.FlowGet(UfidFromMatch(key, mask), &info));
  EXPECT_GT(info.packets, 2000u);  // summed over both PMDs' copies
}

}  // namespace
}  // namespace sluice::dp
