// Tests of DpAction/DpActions (dp_actions.h) and of the executor's delivery
// (execute.h) on real mbufs: single and multiple outputs, sharing by
// refcount and private copies, drops, userspace and recirculation, ordering,
// chunking of large batches and copy failures. Helpers: actions_test_util.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- DpAction / DpActions ----------------------------------------------------------

TEST(DpActionsTest, SingleOutputOnlyForExactlyOneOutput) {
  EXPECT_FALSE(DpActions().single_output());
  const DpActions one({DpAction::Output(7)});
  EXPECT_TRUE(one.single_output());
  EXPECT_EQ(one.single_output_port(), 7u);
  EXPECT_FALSE(DpActions({DpAction::Output(1), DpAction::Output(2)}).single_output());
  EXPECT_FALSE(DpActions({DpAction::Recirc(1)}).single_output());
  EXPECT_FALSE(DpActions({DpAction::Pop(), DpAction::Output(2)}).single_output());
}

TEST(DpActionsTest, EqualityComparesOnlyMeaningfulBytes) {
  DpAction a = DpAction::Output(3);
  DpAction b = DpAction::Output(3);
  std::memset(reinterpret_cast<uint8_t*>(&b.port) + 4, 0xab, 8);  // bytes beyond `port`
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == DpAction::Output(4));
  EXPECT_FALSE(DpAction::Output(3) == DpAction::Recirc(3));

  DpAction p1 = DpAction::Pop(), p2 = DpAction::Pop();
  std::memset(&p2.ipv6, 0x5a, sizeof(p2.ipv6));
  EXPECT_EQ(p1, p2);

  DpAction l1 = SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff);
  DpAction l2 = l1;
  std::memset(reinterpret_cast<uint8_t*>(&l2.l4) + sizeof(SetL4), 0x77, 16);
  EXPECT_EQ(l1, l2);
  l2.l4.dst_mask = Be16(0xff00);
  EXPECT_FALSE(l1 == l2);
  DpAction l3 = l1;
  l3.type = DpActionType::kSetUdp;
  EXPECT_FALSE(l1 == l3);

  EXPECT_EQ(DpAction::Push(Be16(0x8100), Be16(0x1005)), DpAction::Push(Be16(0x8100), Be16(0x1005)));
  EXPECT_FALSE(DpAction::Push(Be16(0x8100), Be16(0x1005)) ==
               DpAction::Push(Be16(0x88a8), Be16(0x1005)));
  EXPECT_EQ(DpAction::ToUserspace(99), DpAction::ToUserspace(99));
  EXPECT_FALSE(DpAction::ToUserspace(99) == DpAction::ToUserspace(98));
  Ipv4Set s4;
  s4.ttl = 5;
  s4.ttl_mask = 0xff;
  EXPECT_EQ(SetIpv4Action(s4), SetIpv4Action(s4));
  s4.ttl = 6;
  EXPECT_FALSE(SetIpv4Action(s4) == SetIpv4Action(Ipv4Set{}));
  EXPECT_EQ(DpActions({DpAction::Pop(), DpAction::Output(1)}),
            DpActions({DpAction::Pop(), DpAction::Output(1)}));
}

// --- Delivery, sharing, copying, dropping -------------------------------------------

TEST_F(ExecuteTest, SingleOutputHandsTheBatchThrough) {
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < kMaxBurst; ++i) pkts.push_back(Pkt(kV4Udp));
  const std::vector<rte_mbuf*> orig = pkts;
  std::vector<PacketLayout> layouts(pkts.size(), kV4Layout);
  RunPkts({DpAction::Output(5)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kOutput);
  EXPECT_EQ(sink_.got[0].arg, 5u);
  EXPECT_EQ(sink_.got[0].pkts, orig);
  for (rte_mbuf* m : orig) EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
}

TEST_F(ExecuteTest, EmptyListDrops) {
  Run({}, {kV4Udp, kV4Tcp, kV6Udp}, {kV4Layout, kV4Layout, kV6Layout});
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 3u);
}

TEST_F(ExecuteTest, SetWithoutOutputDrops) {
  Ipv4Set s;
  s.ttl = 1;
  s.ttl_mask = 0xff;
  Run({SetIpv4Action(s), DpAction::Pop()}, {kV4Udp, kV4Udp}, {kV4Layout, kV4Layout});
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 2u);
}

TEST_F(ExecuteTest, SeveralOutputsShareByRefcount) {
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp), Pkt(kV4Tcp)};
  const std::vector<rte_mbuf*> orig = pkts;
  std::vector<PacketLayout> layouts = {kV4Layout, kV4Layout};
  RunPkts({DpAction::Output(1), DpAction::Output(2), DpAction::Output(3)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.got[i].kind, Kind::kOutput);
    EXPECT_EQ(sink_.got[i].arg, i + 1);
    EXPECT_EQ(sink_.got[i].pkts, orig);  // the very same mbufs, in order
  }
  for (rte_mbuf* m : orig) EXPECT_EQ(rte_mbuf_refcnt_read(m), 3);
  // They share one buffer: a change through one is seen by the others.
  PacketData(sink_.got[0].pkts[0])[0] = 0x42;
  EXPECT_EQ(Read(sink_.got[2].pkts[0])[0], 0x42);
  EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 0u);
}

TEST_F(ExecuteTest, OutputBeforeRewriteGetsPrivateCopy) {
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp)};
  rte_mbuf* orig = pkts[0];
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({DpAction::Output(1), SetIpv4Action(s), DpAction::Output(2)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 2u);
  rte_mbuf* to1 = sink_.got[0].pkts.at(0);
  rte_mbuf* to2 = sink_.got[1].pkts.at(0);
  EXPECT_NE(to1, to2);
  EXPECT_EQ(to2, orig);  // the executor's own packet goes to the final output
  EXPECT_EQ(rte_mbuf_refcnt_read(to1), 1);
  EXPECT_EQ(rte_mbuf_refcnt_read(to2), 1);
  EXPECT_EQ(Hex(Read(to1)), Hex(kV4Udp));
  EXPECT_EQ(Hex(Read(to2)), Hex(kV4UdpDstTtlSet));
  // Changing one copy leaves the other alone.
  PacketData(to1)[20] ^= 0xff;
  EXPECT_EQ(Hex(Read(to2)), Hex(kV4UdpDstTtlSet));
}

TEST_F(ExecuteTest, SetThenOutputVersusOutputThenSet) {
  Ipv4Set s;
  s.src = 0x0a010203;
  s.src_mask = 0xffffffff;
  Run({SetIpv4Action(s), DpAction::Output(1)}, {kV4Tcp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4TcpSrcSet));
  sink_.FreeAll();

  Run({DpAction::Output(1), SetIpv4Action(s)}, {kV4Tcp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4Tcp));
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 1u);  // the rewritten one
}

TEST_F(ExecuteTest, UserspaceAndRecirculateReachTheSink) {
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp)};
  rte_mbuf* m = pkts[0];
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({DpAction::ToUserspace(0xfeedull << 32), DpAction::Output(4), DpAction::Recirc(9)}, pkts,
          layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kUserspace);
  EXPECT_EQ(sink_.got[0].arg, 0xfeedull << 32);
  EXPECT_EQ(sink_.got[1].kind, Kind::kOutput);
  EXPECT_EQ(sink_.got[1].arg, 4u);
  EXPECT_EQ(sink_.got[2].kind, Kind::kRecirc);
  EXPECT_EQ(sink_.got[2].arg, 9u);
  for (const Received& r : sink_.got) EXPECT_EQ(r.pkts.at(0), m);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 3);
  sink_.FreeAll();

  // Last-action userspace and recirc take ownership.
  Run({DpAction::Recirc(7)}, {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kRecirc);
  EXPECT_EQ(sink_.got[0].arg, 7u);
  EXPECT_EQ(rte_mbuf_refcnt_read(sink_.got[0].pkts.at(0)), 1);
  sink_.FreeAll();
  Run({DpAction::ToUserspace(1)}, {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kUserspace);
}

// A packet that arrives shared (another holder has a reference) is copied
// before it is changed; the other holder's bytes stay as they were.
TEST_F(ExecuteTest, SharedInputIsCopiedBeforeRewrite) {
  rte_mbuf* m = Pkt(kV4Udp);
  rte_mbuf_refcnt_update(m, 1);  // the "other holder" (this test)
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({SetIpv4Action(s), DpAction::Output(1)}, {m}, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_NE(sink_.got[0].pkts.at(0), m);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts[0])), Hex(kV4UdpDstTtlSet));
  EXPECT_EQ(Hex(Read(m)), Hex(kV4Udp));
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);  // the executor let go of its reference
  rte_pktmbuf_free(m);
}

TEST_F(ExecuteTest, LargeBatchesAreChunkedForCopies) {
  const uint32_t n = kMaxBurst + 8;
  std::vector<rte_mbuf*> pkts;
  for (uint32_t i = 0; i < n; ++i) pkts.push_back(Pkt(kV4Udp));
  std::vector<PacketLayout> layouts(n, kV4Layout);
  RunPkts({DpAction::Output(1), DpAction::Output(2)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[0].pkts.size(), static_cast<size_t>(kMaxBurst));
  EXPECT_EQ(sink_.got[1].pkts.size(), 8u);
  EXPECT_EQ(sink_.got[2].pkts.size(), n);
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(i < static_cast<uint32_t>(kMaxBurst) ? sink_.got[0].pkts[i]
                                                   : sink_.got[1].pkts[i - kMaxBurst],
              sink_.got[2].pkts[i]);
  }
}

TEST_F(ExecuteTest, SinkWithoutDropHookCompilesAndWorks) {
  MinimalSink sink;
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp), Pkt(kV4Udp)};
  std::vector<PacketLayout> layouts = {kV4Layout, kV4Layout};
  const DpActions acts({DpAction::Output(1), DpAction::Pop(), DpAction::Recirc(3)});
  ExecuteActions(acts, pkts.data(), layouts.data(), 2, sink);
  EXPECT_EQ(sink.out.size(), 4u);
  FreePackets(sink.out.data(), static_cast<uint32_t>(sink.out.size()));
}

// When the pool is empty, copies are skipped and counted, never a crash; a
// shared packet that must be changed but cannot be copied is dropped.
TEST_F(ExecuteTest, CopyFailuresAreCountedNotFatal) {
  Status st;
  PktPoolOptions o;
  o.name = "actions_tiny";
  o.n_mbufs = 4;
  o.cache_size = 0;
  rte_mempool* tiny = CreatePktPool(o, &st);
  ASSERT_NE(tiny, nullptr) << st.message();
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < 4; ++i) pkts.push_back(PacketFromBytes(tiny, kV4Udp.data(), kV4Udp.size()));
  ASSERT_EQ(rte_mempool_avail_count(tiny), 0u);
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  {
    std::vector<PacketLayout> layouts(4, kV4Layout);
    RunPkts({DpAction::Output(1), SetIpv4Action(s), DpAction::Output(2)}, pkts, layouts);
    EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 4u);
    ASSERT_EQ(sink_.got.size(), 1u);  // no call for port 1 at all
    EXPECT_EQ(sink_.got[0].arg, 2u);
    ASSERT_EQ(sink_.got[0].pkts.size(), 4u);
    for (rte_mbuf* m : sink_.got[0].pkts) EXPECT_EQ(Hex(Read(m)), Hex(kV4UdpDstTtlSet));
    sink_.FreeAll();
  }
  {
    pkts.clear();
    for (int i = 0; i < 4; ++i) {
      pkts.push_back(PacketFromBytes(tiny, kV4Udp.data(), kV4Udp.size()));
      rte_mbuf_refcnt_update(pkts.back(), 1);
    }
    const std::vector<rte_mbuf*> held = pkts;
    std::vector<PacketLayout> layouts(4, kV4Layout);
    sink_.drops = {};
    RunPkts({SetIpv4Action(s), DpAction::Output(1)}, pkts, layouts);
    EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 4u);
    EXPECT_TRUE(sink_.got.empty());
    for (rte_mbuf* m : held) {
      EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
      EXPECT_EQ(Hex(Read(m)), Hex(kV4Udp));
      rte_pktmbuf_free(m);
    }
  }
  EXPECT_EQ(rte_mempool_in_use_count(tiny), 0u);
  rte_mempool_free(tiny);
}

}  // namespace
}  // namespace sluice::dp
