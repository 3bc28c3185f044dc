// Tests for ParseFlow (datapath/flow/parse.h): malformed frames get their
// status, what an error leaves behind, and the status names.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/datapath/flow_parse_test_util.h"

namespace sluice::dp {
namespace {

using namespace flow_parse_test;

// --- Malformed frames -------------------------------------------------------

struct BadCase {
  std::string name;
  Bytes frame;
  ParseStatus want;
};

std::vector<BadCase> BadCases() {
  std::vector<BadCase> cs;
  auto add = [&](std::string name, Bytes b, ParseStatus want) {
    cs.push_back({std::move(name), std::move(b), want});
  };
  using S = ParseStatus;

  add("empty", Bytes{}, S::kTooShort);
  add("one_byte", Bytes{}.U8(0xff), S::kTooShort);
  add("thirteen_bytes", Bytes{}.Arr(kMacA).Arr(kMacB).U8(0x08), S::kTooShort);

  add("vlan_no_tag", Eth(kMacA, kMacB, 0x8100), S::kBadVlan);
  add("vlan_half_tag", Eth(kMacA, kMacB, 0x8100).U16(5), S::kBadVlan);
  add("vlan_tag_no_type", Eth(kMacA, kMacB, 0x8100).U16(5).U8(0x08), S::kBadVlan);
  add("qinq_inner_truncated", Eth(kMacA, kMacB, 0x88a8).U16(5).U16(0x8100).U16(6), S::kBadVlan);
  add("three_tags",
      Eth(kMacA, kMacB, 0x8100).U16(1).U16(0x8100).U16(2).U16(0x8100).U16(3).U16(0x0800).Zeros(40),
      S::kBadVlan);
  add("three_tags_mixed",
      Eth(kMacA, kMacB, 0x88a8).U16(1).U16(0x8100).U16(2).U16(0x88a8).U16(3).U16(0x0800),
      S::kBadVlan);

  auto arp = [](uint16_t hrd, uint16_t pro, uint8_t hln, uint8_t pln) {
    Bytes b = Eth(kMacA, kMacB, 0x0806);
    b.U16(hrd).U16(pro).U8(hln).U8(pln).U16(1).Arr(kMacB).U32(1).Arr(kMacA).U32(2);
    return b;
  };
  {
    Bytes b = arp(1, 0x0800, 6, 4);
    b.v.pop_back();
    add("arp_27_bytes", b, S::kBadArp);
    add("arp_header_only", Eth(kMacA, kMacB, 0x0806).U16(1).U16(0x0800).U8(6).U8(4).U16(1),
        S::kBadArp);
    add("arp_no_body", Eth(kMacA, kMacB, 0x0806), S::kBadArp);
    Bytes r = Eth(kMacA, kMacB, 0x8035).U16(1).U16(0x0800).U8(6).U8(4).U16(3);
    add("rarp_truncated", r, S::kBadArp);
  }
  add("arp_hrd_ieee802", arp(6, 0x0800, 6, 4), S::kBadArp);
  add("arp_pro_ipv6", arp(1, 0x86dd, 6, 4), S::kBadArp);
  add("arp_hln_8", arp(1, 0x0800, 8, 4), S::kBadArp);
  add("arp_pln_16", arp(1, 0x0800, 6, 16), S::kBadArp);

  add("ipv4_no_header", Eth(kMacA, kMacB, 0x0800), S::kBadIpv4);
  add("ipv4_19_bytes", Eth(kMacA, kMacB, 0x0800).U8(0x45).Zeros(18), S::kBadIpv4);
  {
    Bytes b = Ip4Frame(17, 8);
    b.v[14] = 0x65;  // version 6 under EtherType IPv4
    add("ipv4_version_6", b, S::kBadIpv4);
    b.v[14] = 0x44;  // IHL 4
    add("ipv4_ihl_4", b, S::kBadIpv4);
    b.v[14] = 0x40;
    add("ipv4_ihl_0", b, S::kBadIpv4);
  }
  {
    // IHL 6 (24 bytes) but only 20 header bytes in the frame.
    Bytes b = Eth(kMacA, kMacB, 0x0800);
    size_t l3 = AddIp4(b, 17, 1, 2);
    b.v[l3] = 0x46;
    b.Put16(l3 + 2, 20);
    add("ipv4_ihl_past_end", b, S::kBadIpv4);
  }
  {
    Bytes b = Ip4Frame(17, 8);
    b.Put16(14 + 2, 19);
    add("ipv4_total_below_ihl", b, S::kBadIpv4);
    Bytes opt = Eth(kMacA, kMacB, 0x0800);
    size_t l3 = AddIp4(opt, 17, 1, 2, {.options = {1, 1, 1, 0}});
    AddUdp(opt, 1, 2, 0);
    FinishIp4(opt, l3, 23);  // total < IHL*4 = 24
    add("ipv4_total_below_options", opt, S::kBadIpv4);
  }
  {
    Bytes b = Ip4Frame(17, 8, 60);
    b.Put16(14 + 2, 47);  // one byte more than the 46 the frame holds
    add("ipv4_total_past_end", b, S::kBadIpv4);
    Bytes v = Eth(kMacA, kMacB, 0x8100).U16(1).U16(0x0800).U8(0x45).Zeros(10);
    add("vlan_ipv4_truncated", v, S::kBadIpv4);
  }

  add("ipv6_no_header", Eth(kMacA, kMacB, 0x86dd), S::kBadIpv6);
  add("ipv6_39_bytes", Eth(kMacA, kMacB, 0x86dd).U8(0x60).Zeros(38), S::kBadIpv6);
  {
    Bytes b = Ip6Frame(59, Bytes{});
    b.v[14] = 0x40;  // version 4 under EtherType IPv6
    add("ipv6_version_4", b, S::kBadIpv6);
  }
  {
    Bytes udp;
    AddUdp(udp, 1, 2, 4);
    Bytes b = Ip6Frame(17, udp);
    b.Put16(18, 13);  // payload length one past the frame's end
    add("ipv6_payload_past_end", b, S::kBadIpv6);
  }
  add("ipv6_hbh_truncated", Ip6Frame(0, Bytes{}.U8(17).U8(0).Zeros(5)), S::kBadIpv6);
  add("ipv6_hbh_overrun", Ip6Frame(0, Bytes{}.U8(17).U8(1).Zeros(6 + 7)), S::kBadIpv6);
  add("ipv6_rt_overrun", Ip6Frame(43, Bytes{}.U8(59).U8(2).Zeros(6 + 8)), S::kBadIpv6);
  add("ipv6_dst_opts_truncated", Ip6Frame(60, Bytes{}.U8(59)), S::kBadIpv6);
  add("ipv6_frag_truncated", Ip6Frame(44, Bytes{}.U8(17).U8(0).U16(0).U16(0).U8(0)), S::kBadIpv6);
  add("ipv6_ah_overrun", Ip6Frame(51, Bytes{}.U8(6).U8(4).Zeros(18)), S::kBadIpv6);
  add("ipv6_hbh_then_frag_truncated", Ip6Frame(0, Bytes{}.U8(44).U8(0).Zeros(6).U8(17).Zeros(3)),
      S::kBadIpv6);
  {
    // The extension header fits in the frame but not in the payload length.
    Bytes b = Ip6Frame(0, Bytes{}.U8(59).U8(0).Zeros(6));
    b.Put16(18, 4);
    b.Zeros(8);
    add("ipv6_ext_past_payload", b, S::kBadIpv6);
  }

  add("tcp_19_bytes", Ip4Frame(6, 19), S::kBadL4);
  add("tcp_in_padding", Ip4Frame(6, 10, 60), S::kBadL4);  // bytes exist, but past total length
  {
    Bytes b = Ip4Frame(6, 20);
    b.v[34 + 12] = 0x40;  // data offset 4
    add("tcp_doff_4", b, S::kBadL4);
    b.v[34 + 12] = 0x00;
    add("tcp_doff_0", b, S::kBadL4);
    b.v[34 + 12] = 0x60;  // 24 bytes claimed, 20 present
    add("tcp_doff_past_end", b, S::kBadL4);
    Bytes p = Ip4Frame(6, 20, 80);
    p.v[34 + 12] = 0xf0;  // 60 bytes claimed; the frame has them, the datagram not
    add("tcp_doff_past_total_length", p, S::kBadL4);
  }
  add("udp_7_bytes", Ip4Frame(17, 7), S::kBadL4);
  add("udp_none", Ip4Frame(17, 0), S::kBadL4);
  add("sctp_11_bytes", Ip4Frame(132, 11), S::kBadL4);
  add("icmp_7_bytes", Ip4Frame(1, 7), S::kBadL4);
  {
    Bytes b = Eth(kMacA, kMacB, 0x0800);
    size_t l3 = AddIp4(b, 17, 1, 2, {.frag = 0x2000});
    b.Zeros(4);
    FinishIp4(b, l3);
    add("frag4_first_udp_truncated", b, S::kBadL4);
  }
  add("udp6_7_bytes", Ip6Frame(17, Bytes{}.Zeros(7)), S::kBadL4);
  add("tcp6_19_bytes", Ip6Frame(6, Bytes{}.Zeros(19)), S::kBadL4);
  add("icmp6_3_bytes", Ip6Frame(58, Bytes{}.U8(128).U8(0).U8(0)), S::kBadL4);
  add("ipv6_hbh_then_udp_truncated", Ip6Frame(0, Bytes{}.U8(17).U8(0).Zeros(6).Zeros(4)),
      S::kBadL4);

  add("nd_ns_23_bytes", Ip6Frame(58, Bytes{}.U8(135).U8(0).U16(0).U32(0).Zeros(15)), S::kBadNd);
  add("nd_na_no_target", Ip6Frame(58, Bytes{}.U8(136).U8(0).U16(0)), S::kBadNd);
  add("nd_zero_length_option", NdFrame(135, Bytes{}.U8(1).U8(0).Zeros(6)), S::kBadNd);
  add("nd_zero_length_after_good",
      NdFrame(136, Bytes{}.U8(2).U8(1).Arr(kMacA).U8(14).U8(0).Zeros(6)), S::kBadNd);
  add("nd_option_overrun", NdFrame(135, Bytes{}.U8(1).U8(2).Arr(kMacA)), S::kBadNd);
  add("nd_trailing_3_bytes", NdFrame(135, Bytes{}.U8(1).U8(1).Arr(kMacA).U8(1).U8(1).U8(0)),
      S::kBadNd);
  add("nd_trailing_1_byte", NdFrame(136, Bytes{}.U8(2)), S::kBadNd);
  add("nd_duplicate_sll", NdFrame(135, Bytes{}.U8(1).U8(1).Arr(kMacA).U8(1).U8(1).Arr(kMacB)),
      S::kBadNd);
  add("nd_duplicate_tll", NdFrame(136, Bytes{}.U8(2).U8(1).Arr(kMacA).U8(2).U8(1).Arr(kMacA)),
      S::kBadNd);
  return cs;
}

TEST(ParseFlowTest, MalformedFramesGetTheirStatus) {
  bool seen[static_cast<int>(ParseStatus::kCount)] = {};
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    Parsed p = ParseExact(c.frame);
    EXPECT_EQ(p.status, c.want) << "got " << ParseStatusName(p.status) << ", want "
                                << ParseStatusName(c.want);
    EXPECT_EQ(p.key.in_port, kPort);
    ExpectOffsetsInBounds(p, c.frame.size());
    seen[static_cast<int>(c.want)] = true;
  }
  for (int s = 1; s < static_cast<int>(ParseStatus::kCount); ++s) {
    EXPECT_TRUE(seen[s]) << "no malformed frame for "
                         << ParseStatusName(static_cast<ParseStatus>(s));
  }
}

// What an error leaves behind: the layers before the bad one are filled in.
TEST(ParseFlowTest, ErrorKeepsEarlierLayers) {
  Bytes b = Ip4Frame(6, 19);
  Parsed p = ParseExact(b);
  ASSERT_EQ(p.status, ParseStatus::kBadL4);
  EXPECT_EQ(p.key.eth_type, Be16(0x0800));
  EXPECT_EQ(p.key.nw_src, Be32(0x0a000001));
  EXPECT_EQ(p.key.nw_proto, 6);
  EXPECT_EQ(p.layout.l3_ofs, 14);
  EXPECT_EQ(p.layout.l4_ofs, kNoOffset);
  EXPECT_EQ(p.key.tp_src, Be16(0));

  Parsed t = ParseExact(Bytes{}.U8(1).U8(2).U8(3));
  ASSERT_EQ(t.status, ParseStatus::kTooShort);
  FlowKey zero;
  zero.Clear();
  zero.in_port = kPort;
  EXPECT_TRUE(t.key == zero) << Dump(t.key);
  EXPECT_EQ(t.layout.l3_ofs, kNoOffset);
  EXPECT_EQ(t.layout.l4_ofs, kNoOffset);
}

// Offsets are 16-bit: a frame whose extension headers push the L4 header
// past 0xfffe is refused rather than given a truncated offset. The same chain
// one header shorter still parses.
TEST(ParseFlowTest, ExtensionChainPast16BitOffsets) {
  for (int n : {8185, 8186}) {
    SCOPED_TRACE("extension headers: " + std::to_string(n));
    Bytes chain;
    for (int i = 0; i < n; ++i) chain.U8(i + 1 < n ? 60 : 17).U8(0).Zeros(6);
    AddUdp(chain, 11, 12, 0);
    Bytes b = Ip6Frame(0, chain);
    const size_t l4 = 14 + 40 + 8 * static_cast<size_t>(n);
    ASSERT_EQ(b.size(), l4 + 8);
    Parsed p = ParseExact(b);
    if (l4 <= 0xfffe) {
      EXPECT_EQ(p.status, ParseStatus::kOk);
      EXPECT_EQ(p.layout.l4_ofs, l4);
    } else {
      EXPECT_EQ(p.status, ParseStatus::kBadIpv6);
      EXPECT_EQ(p.layout.l4_ofs, kNoOffset);
    }
  }
}

TEST(ParseStatusTest, NamesAndTexts) {
  EXPECT_STREQ(ParseStatusName(ParseStatus::kOk), "ok");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kTooShort), "too_short");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadVlan), "bad_vlan");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadArp), "bad_arp");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadIpv4), "bad_ipv4");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadIpv6), "bad_ipv6");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadL4), "bad_l4");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kBadNd), "bad_nd");
  EXPECT_STREQ(ParseStatusName(ParseStatus::kCount), "unknown");
  EXPECT_STREQ(ParseStatusText(ParseStatus::kCount), "unknown parse status");
  EXPECT_STREQ(ParseStatusText(ParseStatus::kOk), "ok");
  EXPECT_STREQ(ParseStatusText(ParseStatus::kBadIpv4), "truncated or malformed IPv4 header");
  EXPECT_STREQ(ParseStatusText(ParseStatus::kBadNd), "malformed IPv6 neighbour discovery message");
  for (int s = 0; s < static_cast<int>(ParseStatus::kCount); ++s) {
    std::string name = ParseStatusName(static_cast<ParseStatus>(s));
    EXPECT_FALSE(name.empty());
    for (char ch : name)
      EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') << name;
    EXPECT_GT(std::strlen(ParseStatusText(static_cast<ParseStatus>(s))), 1u);
  }
}

}  // namespace
}  // namespace sluice::dp
