#include "ofproto/ofctl_parse.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/ofproto/ofctl_test_util.h"

namespace sluice::ofproto::ofctl_test {
namespace {

// ---------------------------------------------------------------------------
// Fields, one by one: what the text means and how it prints.

struct FieldCase {
  const char* text;
  const char* formatted;  // FormatOfMatch of the parse
};

TEST(OfctlParse, EveryFieldParsesAndFormats) {
  const FieldCase cases[] = {
      {"", ""},
      {"in_port=7", "in_port=7"},
      {"in_port=LOCAL", "in_port=LOCAL"},
      {"in_port=controller", "in_port=CONTROLLER"},
      {"dl_src=00:11:22:33:44:55", "dl_src=00:11:22:33:44:55"},
      {"eth_src=0:1:2:3:4:5", "dl_src=00:01:02:03:04:05"},
      {"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"},
      {"eth_dst=aa:bb:cc:dd:ee:ff", "dl_dst=aa:bb:cc:dd:ee:ff"},
      {"dl_type=0x1234", "dl_type=0x1234"},
      {"eth_type=0x0800", "ip"},
      {"eth_type=2054", "arp"},
      {"dl_vlan=10", "dl_vlan=10"},
      {"dl_vlan=0", "dl_vlan=0"},
      {"dl_vlan=0xffff", "vlan_tci=0x0000/0x1fff"},
      {"dl_vlan=5,dl_vlan_pcp=3", "dl_vlan=5,dl_vlan_pcp=3"},
      {"dl_vlan_pcp=3", "dl_vlan_pcp=3"},
      {"vlan_pcp=7", "dl_vlan_pcp=7"},
      {"vlan_vid=4106", "dl_vlan=10"},
      {"vlan_vid=0x100a", "dl_vlan=10"},
      {"vlan_vid=0x1000/0x1000", "vlan_tci=0x1000/0x1000"},
      {"vlan_vid=0", "vlan_tci=0x0000/0x1fff"},
      {"vlan_tci=0x1005/0x1fff", "dl_vlan=5"},
      {"vlan_tci=0x7005", "dl_vlan=5,dl_vlan_pcp=3"},
      {"vlan_tci=0x1000/0x1f00", "vlan_tci=0x1000/0x1f00"},
      {"vlan_tci=0", "vlan_tci=0x0000/0x1fff"},  // no tag: no priority bits
      {"ip", "ip"},
      {"ipv6", "ipv6"},
      {"arp", "arp"},
      {"rarp", "rarp"},
      {"icmp", "icmp"},
      {"icmp6", "icmp6"},
      {"tcp", "tcp"},
      {"tcp6", "tcp6"},
      {"udp", "udp"},
      {"udp6", "udp6"},
      {"sctp", "sctp"},
      {"sctp6", "sctp6"},
      {"ip,nw_proto=6", "tcp"},
      {"ipv6,ip_proto=58", "icmp6"},
      {"ip,nw_proto=47", "ip,nw_proto=47"},
      {"dl_type=0x0800,nw_proto=17", "udp"},
      {"ip,nw_src=10.0.0.1", "ip,nw_src=10.0.0.1"},
      {"ip,nw_src=10.0.0.1/8", "ip,nw_src=10.0.0.0/8"},
      {"ip,nw_src=10.0.0.1/255.255.0.0", "ip,nw_src=10.0.0.0/16"},
      {"ip,nw_dst=10.1.2.3/255.0.255.0", "ip,nw_dst=10.0.2.0/255.0.255.0"},
      {"ip,ipv4_src=1.2.3.4", "ip,nw_src=1.2.3.4"},
      {"ip,ipv4_dst=1.2.3.4/32", "ip,nw_dst=1.2.3.4"},
      {"ip,ip_src=1.2.3.4,ip_dst=5.6.7.8", "ip,nw_src=1.2.3.4,nw_dst=5.6.7.8"},
      {"ip,nw_src=0.0.0.0/0", "ip"},
      {"ipv6,ipv6_src=2001:db8::1", "ipv6,ipv6_src=2001:db8::1"},
      {"ipv6,ipv6_src=2001:db8::/ffff:ffff::ff", "ipv6,ipv6_src=2001:db8::/ffff:ffff::ff"},
      {"ipv6,ipv6_dst=::/0", "ipv6"},
      {"ipv6,ipv6_label=0x12345", "ipv6,ipv6_label=0x12345"},
      {"ipv6,ipv6_label=0x5/0xf", "ipv6,ipv6_label=0x5/0xf"},
      {"ipv6,ipv6_label=0x8b22", "ipv6,ipv6_label=0x08b22"},
      {"ip,nw_tos=16", "ip,nw_tos=16"},
      {"ip,nw_tos=17", "ip,nw_tos=16"},  // ECN bits ignored, as ovs-ofctl does
      {"ip,ip_dscp=10", "ip,nw_tos=40"},
      {"ip,nw_ecn=3", "ip,nw_ecn=3"},
      {"ipv6,ip_ecn=1", "ipv6,nw_ecn=1"},
      {"ip,nw_ttl=64", "ip,nw_ttl=64"},
      {"ipv6,ip_ttl=1", "ipv6,nw_ttl=1"},
      {"tcp,tp_src=80", "tcp,tp_src=80"},
      {"tcp,tp_dst=0x50/0xfff0", "tcp,tp_dst=0x50/0xfff0"},
      {"udp,tp_dst=53", "udp,tp_dst=53"},
      {"sctp6,tp_dst=5", "sctp6,tp_dst=5"},
      {"tcp,tcp_src=1,tcp_dst=2", "tcp,tp_src=1,tp_dst=2"},
      {"udp,udp_src=1,udp_dst=2", "udp,tp_src=1,tp_dst=2"},
      {"sctp,sctp_src=1,sctp_dst=2", "sctp,tp_src=1,tp_dst=2"},
      {"tcp6,tcp_dst=443", "tcp6,tp_dst=443"},
      {"icmp,icmp_type=8,icmp_code=0", "icmp,icmp_type=8,icmp_code=0"},
      {"icmp,icmpv4_type=3", "icmp,icmp_type=3"},
      {"icmp6,icmpv6_type=128,icmpv6_code=0", "icmp6,icmp_type=128,icmp_code=0"},
      {"icmp6,icmp_type=1", "icmp6,icmp_type=1"},
      {"arp,arp_op=2", "arp,arp_op=2"},
      {"arp,nw_proto=1", "arp,arp_op=1"},
      {"arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24", "arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24"},
      {"arp,nw_src=1.2.3.4", "arp,arp_spa=1.2.3.4"},
      {"arp,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:02/ff:ff:ff:00:00:00",
       "arp,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:00/ff:ff:ff:00:00:00"},
      {"icmp6,icmp_type=135,nd_target=::1", "icmp6,icmp_type=135,nd_target=::1"},
      {"icmp6,icmp_type=135,nd_sll=00:00:00:00:00:01",
       "icmp6,icmp_type=135,nd_sll=00:00:00:00:00:01"},
      {"icmp6,icmpv6_type=136,ipv6_nd_tll=00:00:00:00:00:02,nd_target=fe80::1",
       "icmp6,icmp_type=136,nd_target=fe80::1,nd_tll=00:00:00:00:00:02"},
      {"tcp,tcp_flags=+syn-ack", "tcp,tcp_flags=+syn-ack"},
      {"tcp,tcp_flags=0x12/0x12", "tcp,tcp_flags=+syn+ack"},
      {"tcp,tcp_flags=0x002", "tcp,tcp_flags=0x002"},
      {"tcp,tcp_flags=0x800/0x800", "tcp,tcp_flags=0x800/0x800"},
      {"metadata=0x5", "metadata=0x5"},
      {"metadata=0x5/0xff", "metadata=0x5/0xff"},
      {"tun_id=0x10", "tun_id=0x10"},
      {"tunnel_id=16/0xf0", "tun_id=0x10/0xf0"},
      {"reg0=1", "reg0=0x1"},
      {"reg7=0x10/0xf0", "reg7=0x10/0xf0"},
      {"reg3=7,tun_id=0x10,metadata=0x5/0xff", "reg3=0x7,tun_id=0x10,metadata=0x5/0xff"},
      // The order ovs-ofctl prints (cross-checked with ovs-ofctl 3.1).
      {"tcp,reg0=1,metadata=3,tun_id=2,in_port=1,dl_vlan=3,dl_src=00:00:00:00:00:01,"
       "dl_dst=00:00:00:00:00:02,nw_src=1.1.1.1,nw_dst=2.2.2.2,nw_tos=4,nw_ecn=1,nw_ttl=5,"
       "tp_src=1,tp_dst=2,tcp_flags=+syn",
       "tcp,reg0=0x1,tun_id=0x2,metadata=0x3,in_port=1,dl_vlan=3,dl_src=00:00:00:00:00:01,"
       "dl_dst=00:00:00:00:00:02,nw_src=1.1.1.1,nw_dst=2.2.2.2,nw_tos=4,nw_ecn=1,nw_ttl=5,"
       "tp_src=1,tp_dst=2,tcp_flags=+syn"},
      {"dl_type=0x1234,in_port=1,dl_src=00:00:00:00:00:01",
       "in_port=1,dl_src=00:00:00:00:00:01,dl_type=0x1234"},
      {"icmp,icmp_type=8,icmp_code=0,nw_ttl=1", "icmp,nw_ttl=1,icmp_type=8,icmp_code=0"},
      {"in_port=1  ip   nw_dst=10.0.0.0/24", "ip,in_port=1,nw_dst=10.0.0.0/24"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    OfMatch m = Match(c.text);
    EXPECT_EQ(FormatOfMatch(m), c.formatted);
    // The value never has bits outside the mask, and prerequisites hold.
    for (int w = 0; w < kOfFlowWords; ++w) {
      EXPECT_EQ(m.value.words()[w] & ~m.mask.words()[w], 0u) << "word " << w;
    }
    EXPECT_FALSE(CheckPrerequisites(m).has_value());
    // Formatting is a fixed point.
    OfMatch again = Match(c.formatted);
    EXPECT_TRUE(MatchEq(m, again)) << FormatOfMatch(again);
  }
}

TEST(OfctlParse, FieldValues) {
  OfMatch m = Match("dl_vlan_pcp=5");
  EXPECT_EQ(Get(m, F::kVlanPcp), 5u);
  EXPECT_EQ(Get(m, F::kVlanVid), 0x1000u);  // a priority implies a tag
  EXPECT_EQ(Mask(m, F::kVlanVid), 0x1000u);

  m = Match("vlan_tci=0x7005/0xffff");
  EXPECT_EQ(Get(m, F::kVlanVid), 0x1005u);
  EXPECT_EQ(Get(m, F::kVlanPcp), 3u);

  m = Match("ip,nw_tos=0xb8");
  EXPECT_EQ(Get(m, F::kIpDscp), 46u);
  EXPECT_EQ(Mask(m, F::kIpEcn), 0u);

  m = Match("tcp,tcp_flags=+syn-ack");
  EXPECT_EQ(Get(m, F::kTcpFlags), 0x002u);
  EXPECT_EQ(Mask(m, F::kTcpFlags), 0x012u);

  m = Match("udp6,tp_src=0x50/0xfff0");
  EXPECT_EQ(Get(m, F::kUdpSrc), 0x50u);
  EXPECT_EQ(Mask(m, F::kUdpSrc), 0xfff0u);

  m = Match("in_port=LOCAL");
  EXPECT_EQ(Get(m, F::kInPort), kPortLocal);
  EXPECT_EQ(m.value.dp.in_port, kPortLocal);

  m = Match("metadata=0xfedcba9876543210");
  EXPECT_EQ(m.value.metadata, 0xfedcba9876543210u);

  m = Match("reg5=0x12345678/0xffff0000");
  EXPECT_EQ(m.value.regs[5], 0x12340000u);
  EXPECT_EQ(m.mask.regs[5], 0xffff0000u);

  m = Match("dl_src=0:1b:21:3a:4f:5e");
  EXPECT_EQ(m.value.dp.eth_src.b[1], 0x1b);
  EXPECT_EQ(m.value.dp.eth_src.b[5], 0x5e);
}

// Item order does not matter, and shorthands may repeat what fields say.
TEST(OfctlParse, OrderIndependentAndConsistentShorthands) {
  EXPECT_TRUE(MatchEq(Match("tp_dst=80,tcp"), Match("tcp,tp_dst=80")));
  EXPECT_TRUE(MatchEq(Match("nw_proto=6,ip"), Match("tcp")));
  EXPECT_TRUE(MatchEq(Match("tcp,nw_proto=6,dl_type=0x0800"), Match("tcp")));
  EXPECT_TRUE(MatchEq(Match("dl_vlan=5,dl_vlan_pcp=2"), Match("dl_vlan_pcp=2,dl_vlan=5")));
  EXPECT_TRUE(MatchEq(Match("ip,ip"), Match("ip")));
}

TEST(OfctlParse, MatchOnlyErrors) {
  OfMatch m = Match("tcp");
  OfMatch before = m;
  Status st = ParseOfMatch("priority=5", &m);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'priority=5'"), std::string::npos) << st.message();
  st = ParseOfMatch("ip,actions=drop", &m);
  EXPECT_FALSE(st.ok());
  st = ParseOfMatch("tp_dst=80", &m);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tp_dst requires tcp, udp or sctp (nw_proto)"), std::string::npos);
  EXPECT_TRUE(MatchEq(m, before));  // left alone on error
}

}  // namespace
}  // namespace sluice::ofproto::ofctl_test
