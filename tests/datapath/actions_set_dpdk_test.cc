// Tests of the set actions (execute.h, rewrite.h) on real mbufs: literal
// rewrite vectors, every field masked and unmasked, checksum updates
// (IPv4, TCP, UDP including a zero checksum, SCTP CRC32c, IPv6 extension
// headers), fragments, frames without the layer and truncated packets.
// Helpers: actions_test_util.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- Set actions: literal vectors --------------------------------------------------------

TEST_F(ExecuteTest, LiteralIpv4Rewrites) {
  Ipv4Set src;
  src.src = 0x0a010203;
  src.src_mask = 0xffffffff;
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(src)}, kV4Tcp, kV4Layout)), Hex(kV4TcpSrcSet));
  Ipv4Set dst_ttl;
  dst_ttl.dst = 0xc0a80101;
  dst_ttl.dst_mask = 0xffffffff;
  dst_ttl.ttl = 63;
  dst_ttl.ttl_mask = 0xff;
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(dst_ttl)}, kV4Udp, kV4Layout)), Hex(kV4UdpDstTtlSet));
}

TEST_F(ExecuteTest, LiteralIpv6Rewrite) {
  Ipv6Set s;
  s.src = V6(0x2001, 1);
  s.src[2] = 0x0d;
  s.src[3] = 0xb8;
  s.src_mask = AllOnes6();
  EXPECT_EQ(Hex(RunOne({SetIpv6Action(s)}, kV6Udp, kV6Layout)), Hex(kV6UdpSrcSet));
}

TEST_F(ExecuteTest, LiteralSctpRewrite) {
  const Bytes got =
      RunOne({SetL4Action(DpActionType::kSetSctp, 5000, 0xffff, 0, 0)}, kV4Sctp, kV4Layout);
  EXPECT_EQ(Hex(got), Hex(kV4SctpSportSet));
  EXPECT_TRUE(SctpChecksumOk(got.data() + 34, got.size() - 34));
}

// --- Set actions: every field, masked and unmasked ---------------------------------------

TEST_F(ExecuteTest, SetEthMaskedAndUnmasked) {
  Spec s;
  CheckSet(SetEthAction(Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f), kAllOnesMac,
                        Mac(0x10, 0x20, 0x30, 0x40, 0x50, 0x60), kAllOnesMac),
           s);
  CheckSet(SetEthAction(Mac(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff), Mac(0xf0, 0, 0xff, 0, 0, 0x0f),
                        Mac(0x11, 0x22, 0x33, 0x44, 0x55, 0x66), Mac(0, 0, 0, 0, 0, 0xff)),
           s);
  s.l3 = L3::kNone;  // works on any Ethernet frame
  CheckSet(SetEthAction(Mac(1, 2, 3, 4, 5, 6), kAllOnesMac, Mac(0, 0, 0, 0, 0, 0),
                        Mac(0, 0, 0, 0, 0, 0)),
           s);
}

TEST_F(ExecuteTest, SetIpv4EachFieldMaskedAndUnmasked) {
  for (uint8_t proto :
       {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoSctp, csum::kIpProtoIcmp}) {
    for (uint8_t opts : {0, 2}) {
      SCOPED_TRACE(testing::Message() << "proto " << int(proto) << " opts " << int(opts));
      Spec s;
      s.proto = proto;
      s.v4_opt_words = opts;
      s.v4_src = 0xc0a80a0b;
      s.v4_dst = 0xac100001;
      s.tos = 0x2e;
      s.ttl = 17;
      Ipv4Set f;
      f.src = 0x01020304;
      f.src_mask = 0xffffffff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.dst = 0x05060708;
      f.dst_mask = 0xffffffff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.src = 0x0a000000;
      f.src_mask = 0xff000000;  // a prefix
      f.dst = 0x00000063;
      f.dst_mask = 0x000000ff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.tos = 0xb8;
      f.tos_mask = 0xfc;  // DSCP only, ECN kept
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.ttl = 5;
      f.ttl_mask = 0xff;
      CheckSet(SetIpv4Action(f), s);
      f = {0xdeadbeef, 0xffffffff, 0x01010101, 0xffffffff, 0x03, 0xff, 200, 0xff};
      CheckSet(SetIpv4Action(f), s);
      f = {0xdeadbeef, 0x0f0f0f0f, 0x01010101, 0xf0f0f0f0, 0x03, 0x03, 200, 0x0f};
      CheckSet(SetIpv4Action(f), s);
    }
  }
}

TEST_F(ExecuteTest, SetIpv4WithUdpChecksumZeroKeepsZero) {
  Spec s;
  s.udp_csum = false;
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  f.dst = 0x05060708;
  f.dst_mask = 0xffffffff;
  const Built b = Build(s);
  const Bytes got = RunOne({SetIpv4Action(f)}, b.bytes, b.layout);
  EXPECT_EQ(got[b.layout.l4_ofs + 6], 0);
  EXPECT_EQ(got[b.layout.l4_ofs + 7], 0);
  CheckSet(SetIpv4Action(f), s);
  CheckSet(SetL4Action(DpActionType::kSetUdp, 53, 0xffff, 5353, 0xffff), s);
}

// A rewrite after which the UDP checksum computes to 0 must write 0xffff.
TEST_F(ExecuteTest, UdpChecksumThatBecomesZeroIsWrittenAsAllOnes) {
  Spec after;
  after.payload = {0, 0};
  // Choose the payload so that the new frame's UDP sum is all ones.
  {
    Bytes seg = L4Segment(after);
    const uint16_t partial = CsumFold(CsumAdd(
        Ipv4PseudoHeaderSum(Be32(after.v4_src), Be32(after.v4_dst), csum::kIpProtoUdp, seg.size()),
        seg.data(), seg.size()));
    const uint16_t fill = static_cast<uint16_t>(0xffff - partial);
    std::memcpy(after.payload.data(), &fill, 2);
  }
  const Built want = Build(after);
  ASSERT_EQ(want.bytes[want.layout.l4_ofs + 6], 0xff);
  ASSERT_EQ(want.bytes[want.layout.l4_ofs + 7], 0xff);
  Spec before = after;
  before.v4_dst = 0x0a0000fe;
  const Built in = Build(before);
  ASSERT_NE(in.bytes[in.layout.l4_ofs + 6] | in.bytes[in.layout.l4_ofs + 7], 0);
  Ipv4Set f;
  f.dst = after.v4_dst;
  f.dst_mask = 0xffffffff;
  const Bytes got = RunOne({SetIpv4Action(f)}, in.bytes, in.layout);
  EXPECT_EQ(Hex(got), Hex(want.bytes));
  ExpectChecksumsValid(got, after);
  // The same through a port rewrite.
  Spec before_port = after;
  before_port.dport = 7;
  const Built in2 = Build(before_port);
  const Bytes got2 = RunOne({SetL4Action(DpActionType::kSetUdp, 0, 0, after.dport, 0xffff)},
                            in2.bytes, in2.layout);
  EXPECT_EQ(Hex(got2), Hex(want.bytes));
}

TEST_F(ExecuteTest, SetIpv6EachFieldMaskedAndUnmasked) {
  for (uint8_t proto :
       {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoIcmpv6, csum::kIpProtoSctp}) {
    SCOPED_TRACE(testing::Message() << "proto " << int(proto));
    Spec s;
    s.l3 = L3::kIpv6;
    s.proto = proto;
    s.tclass = 0x2e;
    s.label = 0xabcde;
    s.hlimit = 9;
    Ipv6Set f;
    f.src = V6(0x2001, 0x1234);
    f.src_mask = AllOnes6();
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.dst = V6(0x2001, 0x5678);
    f.dst_mask = AllOnes6();
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.src = V6(0x2002, 0x9999);
    f.src_mask = V6(0xffff, 0x00ff);  // a few bytes only
    f.dst = V6(0x3fff, 0xffff);
    f.dst_mask = V6(0x0fff, 0);
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.label = 0x12345;
    f.label_mask = 0xfffff;
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.label = 0x00f00;
    f.label_mask = 0x00ff0;
    f.tclass = 0x01;
    f.tclass_mask = 0x03;
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.tclass = 0xb8;
    f.tclass_mask = 0xff;
    f.hlimit = 1;
    f.hlimit_mask = 0xff;
    CheckSet(SetIpv6Action(f), s);
  }
}

TEST_F(ExecuteTest, SetIpv6WithTcpBehindExtensionHeaders) {
  Spec s;
  s.l3 = L3::kIpv6;
  s.proto = csum::kIpProtoTcp;
  s.ext = {Ext6{rewrite::kIpv6HopByHop}, Ext6{rewrite::kIpv6DestOpts},
           Ext6{rewrite::kIpv6Fragment, 0, 0, true}};  // first fragment
  Ipv6Set f;
  f.src = V6(0x2001, 0xa);
  f.src_mask = AllOnes6();
  f.dst = V6(0x2001, 0xb);
  f.dst_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 443, 0xffff, 0x8000, 0xf000), s);
}

// With a routing header that has segments left, the pseudo-header holds the
// final destination: changing the address field must not touch the TCP
// checksum; changing the source must.
TEST_F(ExecuteTest, SetIpv6DstWithRoutingHeaderPending) {
  Spec s;
  s.l3 = L3::kIpv6;
  s.proto = csum::kIpProtoTcp;
  Ext6 rh{rewrite::kIpv6Routing};
  rh.segs_left = 1;
  rh.addr = V6(0x2001, 0xf1);
  s.ext = {rh};
  const Built b = Build(s);
  Ipv6Set f;
  f.dst = V6(0x2001, 0xd5);
  f.dst_mask = AllOnes6();
  const Bytes got = RunOne({SetIpv6Action(f)}, b.bytes, b.layout);
  EXPECT_EQ(got[b.layout.l4_ofs + 16], b.bytes[b.layout.l4_ofs + 16]);
  EXPECT_EQ(got[b.layout.l4_ofs + 17], b.bytes[b.layout.l4_ofs + 17]);
  CheckSet(SetIpv6Action(f), s);
  f = {};
  f.src = V6(0x2001, 0x5);
  f.src_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
  // With no segments left the address field is the final destination.
  s.ext[0].segs_left = 0;
  f = {};
  f.dst = V6(0x2001, 0xd5);
  f.dst_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
}

TEST_F(ExecuteTest, SetL4PortsMaskedAndUnmasked) {
  struct Case {
    L3 l3;
    uint8_t proto;
    DpActionType type;
  } cases[] = {
      {L3::kIpv4, csum::kIpProtoTcp, DpActionType::kSetTcp},
      {L3::kIpv4, csum::kIpProtoUdp, DpActionType::kSetUdp},
      {L3::kIpv4, csum::kIpProtoSctp, DpActionType::kSetSctp},
      {L3::kIpv6, csum::kIpProtoTcp, DpActionType::kSetTcp},
      {L3::kIpv6, csum::kIpProtoUdp, DpActionType::kSetUdp},
      {L3::kIpv6, csum::kIpProtoSctp, DpActionType::kSetSctp},
  };
  for (const Case& c : cases) {
    for (size_t payload : {0, 1, 7, 8, 13, 200}) {
      SCOPED_TRACE(testing::Message() << "proto " << int(c.proto) << " payload " << payload);
      Spec s;
      s.l3 = c.l3;
      s.proto = c.proto;
      s.sport = 0x1234;
      s.dport = 0xabcd;
      s.payload.assign(payload, 0);
      for (size_t i = 0; i < payload; ++i) s.payload[i] = static_cast<uint8_t>(i * 7 + 3);
      CheckSet(SetL4Action(c.type, 80, 0xffff, 8080, 0xffff), s);
      CheckSet(SetL4Action(c.type, 0x00ff, 0x00ff, 0, 0), s);
      CheckSet(SetL4Action(c.type, 0, 0, 0x5000, 0xf000), s);
      CheckSet(SetL4Action(c.type, 0x1234, 0xffff, 0xabcd, 0xffff), s);  // same values
      // The wrong protocol's action is a no-op.
      const DpActionType other =
          c.type == DpActionType::kSetTcp ? DpActionType::kSetUdp : DpActionType::kSetTcp;
      const Built b = Build(s);
      EXPECT_EQ(Hex(RunOne({SetL4Action(other, 1, 0xffff, 2, 0xffff)}, b.bytes, b.layout)),
                Hex(b.bytes));
    }
  }
}

// The SCTP update brings the CRC to what recomputation gives, but a packet
// whose CRC was wrong stays wrong by the same error.
TEST_F(ExecuteTest, SctpKeepsABadChecksumBad) {
  Bytes bad = kV4Sctp;
  bad[42] ^= 0x5a;
  const Bytes got =
      RunOne({SetL4Action(DpActionType::kSetSctp, 5000, 0xffff, 0, 0)}, bad, kV4Layout);
  Bytes want = kV4SctpSportSet;
  want[42] ^= 0x5a;
  EXPECT_EQ(Hex(got), Hex(want));
  EXPECT_FALSE(SctpChecksumOk(got.data() + 34, got.size() - 34));
}

TEST_F(ExecuteTest, SctpOnMultiSegmentPacket) {
  Spec s;
  s.proto = csum::kIpProtoSctp;
  s.payload.assign(300, 0);
  for (size_t i = 0; i < s.payload.size(); ++i) s.payload[i] = static_cast<uint8_t>(i);
  const Built b = Build(s);
  // Headers in the first segment, the rest in a second one.
  const uint32_t cut = 60;
  rte_mbuf* head = PacketFromBytes(Pool(), b.bytes.data(), cut);
  rte_mbuf* tail = PacketFromBytes(Pool(), b.bytes.data() + cut, b.bytes.size() - cut);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  ASSERT_EQ(Hex(Read(head)), Hex(b.bytes));
  const DpAction a = SetL4Action(DpActionType::kSetSctp, 0, 0, 9999, 0xffff);
  Spec want = s;
  ApplyToSpec(a, &want);
  std::vector<PacketLayout> layouts = {b.layout};
  // Two outputs: the first gets a deep copy of the chain, the last the chain.
  RunPkts({DpAction::Output(1), a, DpAction::Output(2)}, {head}, layouts);
  ASSERT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(b.bytes));
  EXPECT_EQ(Hex(Read(sink_.got[1].pkts.at(0))), Hex(Build(want).bytes));
  ExpectChecksumsValid(Read(sink_.got[1].pkts[0]), want);
  sink_.FreeAll();
  // Sharing a chain takes a reference on every segment.
  rte_mbuf* head2 = PacketFromBytes(Pool(), b.bytes.data(), cut);
  rte_mbuf* tail2 = PacketFromBytes(Pool(), b.bytes.data() + cut, b.bytes.size() - cut);
  ASSERT_EQ(rte_pktmbuf_chain(head2, tail2), 0);
  RunPkts({DpAction::Output(1), DpAction::Output(2)}, {head2}, layouts);
  EXPECT_EQ(rte_mbuf_refcnt_read(head2), 2);
  EXPECT_EQ(rte_mbuf_refcnt_read(tail2), 2);
}

// --- Packets without the layer ---------------------------------------------------------

TEST_F(ExecuteTest, FragmentsKeepTheirPayload) {
  // IPv4 later fragment: the bytes at "l4_ofs" are payload.
  Spec v4;
  v4.proto = csum::kIpProtoTcp;
  v4.frag = 100;  // offset 800 bytes
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  CheckSet(SetIpv4Action(f), v4);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), v4);
  // First fragment: TCP header present and updated; SCTP left alone.
  v4.frag = 0x2000;
  CheckSet(SetIpv4Action(f), v4);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), v4);
  v4.proto = csum::kIpProtoSctp;
  const Built b = Build(v4);
  EXPECT_EQ(
      Hex(RunOne({SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0xffff)}, b.bytes, b.layout)),
      Hex(b.bytes));

  Spec v6;
  v6.l3 = L3::kIpv6;
  v6.proto = csum::kIpProtoUdp;
  v6.ext = {Ext6{rewrite::kIpv6Fragment, 0, 77, false}};
  Ipv6Set g;
  g.src = V6(0x2001, 1);
  g.src_mask = AllOnes6();
  CheckSet(SetIpv6Action(g), v6);
  CheckSet(SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), v6);
}

TEST_F(ExecuteTest, NonIpFramesIgnoreIpAndL4Sets) {
  Spec s;
  s.l3 = L3::kNone;
  const Built b = Build(s);
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  Ipv6Set g;
  g.src = V6(0x2001, 1);
  g.src_mask = AllOnes6();
  for (const DpAction& a :
       {SetIpv4Action(f), SetIpv6Action(g), SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0),
        SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0),
        SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0)}) {
    EXPECT_EQ(Hex(RunOne({a}, b.bytes, b.layout)), Hex(b.bytes));
  }
  // An IPv4 set on an IPv6 packet (and the reverse) is a no-op too.
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(f)}, kV6Udp, kV6Layout)), Hex(kV6Udp));
  EXPECT_EQ(Hex(RunOne({SetIpv6Action(g)}, kV4Udp, kV4Layout)), Hex(kV4Udp));
}

// A frame cut short anywhere before the end of the header a set action needs
// comes out unchanged.
TEST_F(ExecuteTest, TruncatedPacketsUnchanged) {
  Ipv4Set f4;
  f4.src = 0x01020304;
  f4.src_mask = 0xffffffff;
  f4.ttl = 3;
  f4.ttl_mask = 0xff;
  Ipv6Set f6;
  f6.src = V6(0x2001, 1);
  f6.src_mask = AllOnes6();
  f6.hlimit = 3;
  f6.hlimit_mask = 0xff;
  struct Case {
    Bytes frame;
    PacketLayout layout;
    DpAction action;
    uint32_t needed;  // bytes the action needs
  } cases[] = {
      {kV4Udp, kV4Layout, SetEthAction(kAllOnesMac, kAllOnesMac, kAllOnesMac, kAllOnesMac), 12},
      {kV4Udp, kV4Layout, SetIpv4Action(f4), 34},
      {kV4Tcp, kV4Layout, SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), 54},
      {kV4Udp, kV4Layout, SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), 42},
      {kV4Sctp, kV4Layout, SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0xffff), 46},
      {kV6Udp, kV6Layout, SetIpv6Action(f6), 54},
      {kV6Udp, kV6Layout, SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), 62},
  };
  for (const Case& c : cases) {
    for (uint32_t len = 0; len < c.needed; ++len) {
      SCOPED_TRACE(testing::Message() << "action " << int(c.action.type) << " len " << len);
      const Bytes cut(c.frame.begin(), c.frame.begin() + len);
      ASSERT_EQ(Hex(RunOne({c.action}, cut, c.layout)), Hex(cut));
    }
  }
  // IPv4 header whole but TCP header cut: the IPv4 header (and its checksum)
  // change, the L4 bytes do not.
  const Bytes full = RunOne({SetIpv4Action(f4)}, kV4Tcp, kV4Layout);
  for (uint32_t len = 34; len < 54; ++len) {
    const Bytes cut(kV4Tcp.begin(), kV4Tcp.begin() + len);
    Bytes want = cut;
    std::memcpy(want.data(), full.data(), 34);
    ASSERT_EQ(Hex(RunOne({SetIpv4Action(f4)}, cut, kV4Layout)), Hex(want)) << "len " << len;
  }
  // Missing layers by layout.
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(f4)}, kV4Udp, {kNoOffset, kNoOffset})), Hex(kV4Udp));
  EXPECT_EQ(Hex(RunOne({SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff)}, kV4Udp,
                       {14, kNoOffset})),
            Hex(kV4Udp));
}

}  // namespace
}  // namespace sluice::dp
