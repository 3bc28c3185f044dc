// Tests of the executor's VLAN push and pop (execute.h, rewrite.h) on real
// mbufs: literal frames, QinQ, untagged frames, rewrites after a push/pop,
// headroom/tailroom and too-short frames. Helpers: actions_test_util.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- VLAN push / pop -------------------------------------------------------------------

TEST_F(ExecuteTest, PushVlanLiteral) {
  // The action's tci carries kVlanPresent; the wire must not.
  const auto layouts =
      Run({DpAction::Push(Be16(0x8100), Be16(0x2005 | kVlanPresent)), DpAction::Output(1)},
          {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4UdpTagged));
  EXPECT_EQ(layouts[0].l3_ofs, 18);
  EXPECT_EQ(layouts[0].l4_ofs, 38);
}

TEST_F(ExecuteTest, PopVlanLiteral) {
  const auto layouts = Run({DpAction::Pop(), DpAction::Output(1)}, {kV4UdpTagged}, {{18, 38}});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4Udp));
  EXPECT_EQ(layouts[0].l3_ofs, 14);
  EXPECT_EQ(layouts[0].l4_ofs, 34);
}

TEST_F(ExecuteTest, QinQPushAndPop) {
  Spec s;
  const Built plain = Build(s);
  Spec c = s;
  c.vlans = {{0x8100, 0x0064}};
  Spec qinq = s;
  qinq.vlans = {{0x88a8, 0xa0c8}, {0x8100, 0x0064}};

  // Push the customer tag, then the service tag (which becomes outermost).
  auto layouts =
      Run({DpAction::Push(Be16(0x8100), Be16(0x0064 | kVlanPresent)),
           DpAction::Push(Be16(0x88a8), Be16(0xa0c8 | kVlanPresent)), DpAction::Output(1)},
          {plain.bytes}, {plain.layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(Build(qinq).bytes));
  EXPECT_EQ(layouts[0].l3_ofs, Build(qinq).layout.l3_ofs);
  EXPECT_EQ(layouts[0].l4_ofs, Build(qinq).layout.l4_ofs);
  sink_.FreeAll();

  // Pop the outer tag: the customer tag remains; pop again: untagged; a
  // third pop finds no tag and changes nothing.
  const Built q = Build(qinq);
  layouts = Run({DpAction::Pop(), DpAction::Output(1), DpAction::Pop(), DpAction::Output(2),
                 DpAction::Pop(), DpAction::Output(3)},
                {q.bytes}, {q.layout});
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(Build(c).bytes));
  EXPECT_EQ(Hex(Read(sink_.got[1].pkts.at(0))), Hex(plain.bytes));
  EXPECT_EQ(Hex(Read(sink_.got[2].pkts.at(0))), Hex(plain.bytes));
  EXPECT_EQ(layouts[0].l3_ofs, plain.layout.l3_ofs);
  EXPECT_EQ(layouts[0].l4_ofs, plain.layout.l4_ofs);
}

TEST_F(ExecuteTest, PopLeavesUntaggedAndNonVlanFramesAlone) {
  EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, kV4Udp, kV4Layout)), Hex(kV4Udp));
  Spec s;
  s.vlans = {{0x9100, 0x0005}};  // not a TPID this datapath pops
  const Built b = Build(s);
  EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, b.bytes, b.layout)), Hex(b.bytes));
}

TEST_F(ExecuteTest, RewritesAfterPushAndPopUseTheMovedLayout) {
  Spec s;
  s.proto = csum::kIpProtoTcp;
  Ipv4Set set;
  set.dst = 0x0b0c0d0e;
  set.dst_mask = 0xffffffff;
  const DpAction push = DpAction::Push(Be16(0x8100), Be16(0x0007 | kVlanPresent));
  const DpAction tcp = SetL4Action(DpActionType::kSetTcp, 0, 0, 8080, 0xffff);
  Spec want = s;
  for (const DpAction& a : {push, SetIpv4Action(set), tcp}) ApplyToSpec(a, &want);
  const Built b = Build(s);
  Bytes got = RunOne({push, SetIpv4Action(set), tcp}, b.bytes, b.layout);
  EXPECT_EQ(Hex(got), Hex(Build(want).bytes));
  ExpectChecksumsValid(got, want);

  Spec tagged = s;
  tagged.vlans = {{0x88a8, 0x0003}, {0x8100, 0x0004}};
  Spec want2 = tagged;
  for (const DpAction& a : {DpAction::Pop(), SetIpv4Action(set), tcp}) ApplyToSpec(a, &want2);
  const Built t = Build(tagged);
  got = RunOne({DpAction::Pop(), SetIpv4Action(set), tcp}, t.bytes, t.layout);
  EXPECT_EQ(Hex(got), Hex(Build(want2).bytes));
  ExpectChecksumsValid(got, want2);
}

TEST_F(ExecuteTest, PushWithoutHeadroomUsesTailroomOrDrops) {
  // No headroom: the frame is shifted into the tailroom.
  rte_mbuf* m = rte_pktmbuf_alloc(Pool());
  ASSERT_NE(m, nullptr);
  m->data_off = 0;
  std::memcpy(rte_pktmbuf_append(m, kV4Udp.size()), kV4Udp.data(), kV4Udp.size());
  std::vector<PacketLayout> layouts = {kV4Layout};
  const DpAction push = DpAction::Push(Be16(0x8100), Be16(0x2005 | kVlanPresent));
  RunPkts({push, DpAction::Output(1)}, {m}, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4UdpTagged));
  EXPECT_EQ(layouts[0].l3_ofs, 18);
  sink_.FreeAll();

  // Neither headroom nor tailroom: dropped (never sent untagged), counted.
  rte_mbuf* full = rte_pktmbuf_alloc(Pool());
  ASSERT_NE(full, nullptr);
  full->data_off = 0;
  const uint16_t room = full->buf_len;
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(full, room));
  ASSERT_NE(p, nullptr);
  std::memcpy(p, kV4Udp.data(), kV4Udp.size());
  rte_mbuf* ok = Pkt(kV4Udp);
  std::vector<PacketLayout> two = {kV4Layout, kV4Layout};
  RunPkts({push, DpAction::Output(1)}, {full, ok}, two);
  EXPECT_EQ(sink_.drop(ExecDrop::kNoRoom), 1u);
  ASSERT_EQ(sink_.got.size(), 1u);
  ASSERT_EQ(sink_.got[0].pkts.size(), 1u);
  EXPECT_EQ(sink_.got[0].pkts[0], ok);
  EXPECT_EQ(two[0].l3_ofs, 18);  // layouts compacted along with the packets
}

TEST_F(ExecuteTest, PushAndPopOnTooShortFrames) {
  for (uint32_t len = 0; len < 14; ++len) {
    const Bytes f(kV4Udp.begin(), kV4Udp.begin() + len);
    EXPECT_EQ(Hex(RunOne({DpAction::Push(Be16(0x8100), Be16(0x1001))}, f, {})), Hex(f));
  }
  for (uint32_t len = 0; len < 18; ++len) {
    const Bytes f(kV4UdpTagged.begin(), kV4UdpTagged.begin() + len);
    EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, f, {})), Hex(f));
  }
}

}  // namespace
}  // namespace sluice::dp
