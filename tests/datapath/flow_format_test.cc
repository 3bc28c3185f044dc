// Tests for datapath/flow/flow_format.h: the text form of megaflow matches.

#include "datapath/flow/flow_format.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace sluice::dp {
namespace {

EthAddr Mac(const char* s) {
  EthAddr a{};
  EXPECT_TRUE(ParseEthAddr(s, &a)) << s;
  return a;
}

be32 Ip(const char* s) {
  be32 a{};
  EXPECT_TRUE(ParseIpv4(s, &a)) << s;
  return a;
}

void Ip6(const char* s, uint8_t out[16]) { EXPECT_TRUE(ParseIpv6(s, out)) << s; }

FlowKey ZeroKey() {
  FlowKey k;
  k.Clear();
  return k;
}

// Bytes of the key outside the mask.
bool HasBitsOutsideMask(const FlowKey& k, const FlowMask& m) {
  for (int i = 0; i < kFlowWords; ++i) {
    if (k.words()[i] & ~m.words()[i]) return true;
  }
  return false;
}

// Parses `text`, expects success and that FormatMatch gives `text` back.
void ExpectCanonical(const std::string& text, FlowKey* key_out = nullptr,
                     FlowMask* mask_out = nullptr) {
  SCOPED_TRACE(text);
  FlowKey k;
  FlowMask m;
  Status st = ParseMatch(text, &k, &m);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(HasBitsOutsideMask(k, m));
  EXPECT_EQ(FormatMatch(k, m), text);
  if (key_out) *key_out = k;
  if (mask_out) *mask_out = m;
}

std::string ParseError(const std::string& text) {
  FlowKey k;
  FlowMask m;
  Status st = ParseMatch(text, &k, &m);
  if (st.ok()) return "<ok>";
  EXPECT_EQ(k, ZeroKey()) << "key not cleared after error on " << text;
  EXPECT_EQ(m, ZeroKey()) << "mask not cleared after error on " << text;
  return st.message();
}

// ---------------------------------------------------------------------------
// Addresses.

TEST(FlowFormatAddr, EthAddr) {
  EthAddr a = {{0x00, 0x1b, 0x21, 0x3a, 0x4f, 0xfe}};
  EXPECT_EQ(FormatEthAddr(a), "00:1b:21:3a:4f:fe");
  EthAddr b{};
  ASSERT_TRUE(ParseEthAddr("00:1B:21:3a:4f:fe", &b));
  EXPECT_EQ(a, b);
  ASSERT_TRUE(ParseEthAddr("0:1b:21:3a:4f:fe", &b));
  EXPECT_EQ(a, b);
  for (const char* bad : {"", "00:1b:21:3a:4f", "00:1b:21:3a:4f:fe:01", "001:1b:21:3a:4f:fe",
                          "00-1b-21-3a-4f-fe", "00:1b:21:3a:4f:fg", "00:1b:21:3a:4f:", ":::::"}) {
    EXPECT_FALSE(ParseEthAddr(bad, &b)) << bad;
  }
}

TEST(FlowFormatAddr, Ipv4) {
  EXPECT_EQ(FormatIpv4(Be32(0x0a000001)), "10.0.0.1");
  EXPECT_EQ(FormatIpv4(Be32(0xffffffff)), "255.255.255.255");
  be32 a{};
  ASSERT_TRUE(ParseIpv4("192.168.1.254", &a));
  EXPECT_EQ(a, Be32(0xc0a801fe));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "10.0.0.300", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", "0001.2.3.4", "1.2.3.-4"}) {
    EXPECT_FALSE(ParseIpv4(bad, &a)) << bad;
  }
}

TEST(FlowFormatAddr, Ipv6Rfc5952) {
  // RFC 5952: lower case, no leading zeros, the longest run of two or more
  // zero groups (the first on a tie) is "::", a single zero group is not.
  const char* canonical[] = {
      "::",
      "::1",
      "1::",
      "2001:db8::1",
      "2001:db8:0:1:1:1:1:1",
      "2001:0:0:1::1",
      "2001:db8::1:0:0:1",
      "fe80::1:2:3:4",
      "1:2:3:4:5:6:7:8",
      "::ffff:192.0.2.1",
      "ffff:ffff:ffff:ffff::",
  };
  for (const char* s : canonical) {
    uint8_t a[16];
    ASSERT_TRUE(ParseIpv6(s, a)) << s;
    EXPECT_EQ(FormatIpv6(a), s);
  }
  uint8_t a[16];
  ASSERT_TRUE(ParseIpv6("2001:0DB8:0000:0000:0000:0000:0000:0001", a));
  EXPECT_EQ(FormatIpv6(a), "2001:db8::1");
  ASSERT_TRUE(ParseIpv6("2001:db8:0:0:1:0:0:1", a));
  EXPECT_EQ(FormatIpv6(a), "2001:db8::1:0:0:1");
  for (const char* bad :
       {"", ":", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::", "::1 ", "2001:db8::1/64"}) {
    EXPECT_FALSE(ParseIpv6(bad, a)) << bad;
  }
  std::string with_nul("::1\0junk", 8);
  EXPECT_FALSE(ParseIpv6(with_nul, a));
}

// ---------------------------------------------------------------------------
// Formatting.

TEST(FlowFormat, ExampleFromDesign) {
  FlowKey k = ZeroKey();
  FlowMask m = ZeroKey();
  k.recirc_id = 0;
  m.recirc_id = 0xffffffff;
  k.in_port = 1;
  m.in_port = 0xffffffff;
  k.eth_src = Mac("00:00:00:00:00:01");
  k.eth_dst = Mac("00:00:00:00:00:02");
  m.eth_src = m.eth_dst = Mac("ff:ff:ff:ff:ff:ff");
  k.eth_type = Be16(0x0800);
  m.eth_type = Be16(0xffff);
  k.nw_src = Ip("10.0.0.1");
  m.nw_src = Be32(0xffffffff);
  k.nw_dst = Ip("10.1.2.3");  // bits outside the mask must not show
  m.nw_dst = Be32(0xffff0000);
  k.nw_proto = 17;
  m.nw_proto = 0xff;
  k.nw_frag = 0;
  m.nw_frag = 0x03;
  k.tp_src = Be16(3333);  // not in the mask
  k.tp_dst = Be16(53);
  m.tp_dst = Be16(0xffff);
  const std::string expect =
      "recirc_id(0),in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),"
      "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.1.0.0/255.255.0.0,proto=17,frag=no),"
      "udp(dst=53)";
  EXPECT_EQ(FormatMatch(k, m), expect);

  FlowKey k2;
  FlowMask m2;
  Status st = ParseMatch(expect, &k2, &m2);
  ASSERT_TRUE(st.ok()) << st.message();
  FlowKey masked;
  MaskKey(k, m, &masked);
  EXPECT_EQ(k2, masked);
  EXPECT_EQ(m2, m);
}

TEST(FlowFormat, EmptyMaskIsEmptyText) {
  FlowKey k;
  std::memset(&k, 0x5a, sizeof(k));
  EXPECT_EQ(FormatMatch(k, ZeroKey()), "");
  FlowKey k2;
  FlowMask m2;
  ASSERT_TRUE(ParseMatch("", &k2, &m2).ok());
  EXPECT_EQ(m2, ZeroKey());
  ASSERT_TRUE(ParseMatch("  \t ", &k2, &m2).ok());
  EXPECT_EQ(m2, ZeroKey());
}

TEST(FlowFormat, WildcardedFieldsAndGroupsAreOmitted) {
  FlowKey k;
  std::memset(&k, 0xab, sizeof(k));
  FlowMask m = ZeroKey();
  m.in_port = 0xffffffff;
  EXPECT_EQ(FormatMatch(k, m), "in_port(2880154539)");
  m.nw_dst = Be32(0xffffffff);  // eth_type wildcarded: ipv4() holds nw_*
  EXPECT_EQ(FormatMatch(k, m), "in_port(2880154539),ipv4(dst=171.171.171.171)");
  m.eth_src = Mac("ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(FormatMatch(k, m),
            "in_port(2880154539),eth(src=ab:ab:ab:ab:ab:ab),ipv4(dst=171.171.171.171)");
}

TEST(FlowFormat, CanonicalTextRoundTripsPerGroup) {
  const char* texts[] = {
      "recirc_id(0)",
      "recirc_id(0x5)",
      "recirc_id(0x5/0xff)",
      "dp_hash(0xab/0xff)",
      "in_port(3)",
      "in_port(0/0xffff)",
      "pkt_mark(0x10/0xf0)",
      "pkt_mark(0xdeadbeef)",
      "eth(src=00:11:22:33:44:55,dst=ff:ff:ff:ff:ff:ff)",
      "eth(src=00:11:22:00:00:00/ff:ff:ff:00:00:00)",
      "eth(dst=01:00:00:00:00:00/01:00:00:00:00:00)",
      "vlan(tpid=0x8100,vid=10,pcp=3)",
      "vlan(vid=10)",
      "vlan()",
      "vlan(cfi=0)",
      "vlan(vid=0,pcp=0,cfi=0)",
      "vlan(tpid=0x88a8,cfi=*)",
      "vlan(vid=16/0xff0,pcp=4/0x4)",
      "vlan(tpid=0x88a8,vid=100),vlan(tpid=0x8100,vid=200,pcp=1)",
      "vlan(cfi=*),vlan(vid=5)",
      "eth_type(0x0800)",
      "eth_type(0x05ff)",
      "eth_type(0x0800/0xff00)",
      "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.0/255.255.255.0,proto=6,tos=0x10/0xfc,"
      "ttl=64,frag=first),tcp(src=1024/0xfc00,dst=80),tcp_flags(0x2/0x12)",
      "eth_type(0x0800),ipv4(dst=10.0.0.0/255.0.255.0)",
      "eth_type(0x0800),ipv4(frag=later)",
      "eth_type(0x0800),ipv4(frag=no/0xff)",
      "eth_type(0x0800),ipv4(frag=0x2)",
      "eth_type(0x0800),ipv4(frag=first/0x1)",
      "eth_type(0x0800),ipv4(frag=0x4/0x4)",
      "eth_type(0x0800),ipv4(proto=17),udp(src=68,dst=67)",
      "eth_type(0x0800),ipv4(proto=132),sctp(dst=5000)",
      "eth_type(0x0800),ipv4(proto=1),icmp(type=8,code=0)",
      "eth_type(0x0800),ipv4(proto=1),icmp(type=8/0xffff)",
      "eth_type(0x86dd),ipv6(src=2001:db8::/32,dst=::1,label=0x12345,proto=58,tclass=0x10,"
      "hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=fe80::1,sll=00:11:22:33:44:55)",
      "eth_type(0x86dd),ipv6(src=2001:0:1::/ffff:0:ffff::,label=0x1/0xffffffff,proto=6),"
      "tcp(dst=443)",
      "eth_type(0x86dd),ipv6(proto=58),icmpv6(type=136),nd(target=::/64,tll=00:00:00:00:00:01)",
      "eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.0/255.255.255.0,op=1,"
      "sha=00:11:22:33:44:55,tha=00:00:00:00:00:00)",
      "eth_type(0x8035),arp(op=3)",
      "tcp_flags(0x2)",
      "tcp_flags(0x12/0xffff)",
      "l4(src=1)",
      "ipv4(proto=6/0xf),l4(dst=22)",
      "nd(target=fe80::/64)",
      "ipv6(src=::1)",
      "recirc_id(0x1),dp_hash(0x3/0x3),in_port(7),pkt_mark(0x1),eth(src=00:00:00:00:00:01),"
      "vlan(vid=1),vlan(vid=2),eth_type(0x0800),ipv4(proto=6),tcp(dst=22),tcp_flags(0x2)",
  };
  for (const char* t : texts) ExpectCanonical(t);
}

TEST(FlowFormat, FieldSemantics) {
  FlowKey k;
  FlowMask m;
  ExpectCanonical("eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0,frag=no)", &k, &m);
  EXPECT_EQ(k.eth_type, Be16(0x0800));
  EXPECT_EQ(m.nw_src, Be32(0xffffff00));
  EXPECT_EQ(k.nw_src, Be32(0x0a000000));
  EXPECT_EQ(k.nw_frag, 0);
  EXPECT_EQ(m.nw_frag, 0x03);

  ExpectCanonical("ipv4(frag=first)", &k, &m);
  EXPECT_EQ(k.nw_frag, kFragAny);
  EXPECT_EQ(m.nw_frag, 0x03);
  ExpectCanonical("ipv4(frag=later)", &k, &m);
  EXPECT_EQ(k.nw_frag, kFragAny | kFragLater);
  EXPECT_EQ(m.nw_frag, 0x03);

  ExpectCanonical("vlan(vid=10,pcp=3)", &k, &m);
  EXPECT_EQ(k.vlan[0].tci, Be16(3 << 13 | kVlanPresent | 10));
  EXPECT_EQ(m.vlan[0].tci, Be16(0xffff));
  EXPECT_EQ(m.vlan[0].tpid, Be16(0));
  EXPECT_EQ(m.vlan[1].tci, Be16(0));
  ExpectCanonical("vlan()", &k, &m);
  EXPECT_EQ(k.vlan[0].tci, Be16(kVlanPresent));
  EXPECT_EQ(m.vlan[0].tci, Be16(kVlanPresent));
  ExpectCanonical("vlan(cfi=0)", &k, &m);
  EXPECT_EQ(k.vlan[0].tci, Be16(0));
  EXPECT_EQ(m.vlan[0].tci, Be16(kVlanPresent));
  ExpectCanonical("vlan(cfi=*),vlan(tpid=0x8100,vid=7)", &k, &m);
  EXPECT_EQ(m.vlan[0].tci, Be16(0));
  EXPECT_EQ(m.vlan[0].tpid, Be16(0));
  EXPECT_EQ(k.vlan[1].tpid, Be16(0x8100));
  EXPECT_EQ(k.vlan[1].tci, Be16(kVlanPresent | 7));
  EXPECT_EQ(m.vlan[1].tci, Be16(kVlanPresent | kVlanVidMask));

  ExpectCanonical("eth_type(0x86dd),ipv6(src=2001:db8::/64,label=0x12345)", &k, &m);
  uint8_t want[16];
  Ip6("ffff:ffff:ffff:ffff::", want);
  EXPECT_EQ(std::memcmp(m.ipv6_src, want, 16), 0);
  EXPECT_EQ(m.ipv6_label, Be32(0x000fffff));
  EXPECT_EQ(k.ipv6_label, Be32(0x12345));

  ExpectCanonical("eth_type(0x0800),ipv4(proto=1),icmp(type=8,code=0)", &k, &m);
  EXPECT_EQ(k.tp_src, Be16(8));
  EXPECT_EQ(m.tp_src, Be16(0x00ff));
  EXPECT_EQ(m.tp_dst, Be16(0x00ff));

  ExpectCanonical("tcp_flags(0x2)", &k, &m);
  EXPECT_EQ(m.tcp_flags, Be16(0x0fff));

  ExpectCanonical("in_port(1)", &k, &m);
  EXPECT_EQ(k.in_port, 1u);
  EXPECT_EQ(m.in_port, 0xffffffffu);
}

TEST(FlowFormat, MaskForms) {
  // Both IPv4 mask forms, both IPv6 forms; value bits outside the mask drop.
  const std::pair<const char*, const char*> cases[] = {
      {"ipv4(src=10.0.0.0/24)", "ipv4(src=10.0.0.0/255.255.255.0)"},
      {"ipv4(src=10.0.0.77/24)", "ipv4(src=10.0.0.0/255.255.255.0)"},
      {"ipv4(src=10.0.0.1/32)", "ipv4(src=10.0.0.1)"},
      {"ipv4(src=10.0.0.1/255.255.255.255)", "ipv4(src=10.0.0.1)"},
      {"ipv4(src=10.0.0.1/0)", ""},
      {"ipv6(src=2001:db8::1/64)", "ipv6(src=2001:db8::/64)"},
      {"ipv6(src=2001:db8::/ffff:ffff::)", "ipv6(src=2001:db8::/32)"},
      {"ipv6(src=2001:db8::1/128)", "ipv6(src=2001:db8::1)"},
      {"eth(src=00:11:22:33:44:55/ff:ff:ff:ff:ff:ff)", "eth(src=00:11:22:33:44:55)"},
      {"tcp(dst=0x50)", "l4(dst=80)"},
      {"tcp(dst=80/0xffff)", "l4(dst=80)"},
      {"tcp(dst=81/0xfffe)", "l4(dst=80/0xfffe)"},
      {"tcp(dst=80/65520)", "l4(dst=80/0xfff0)"},
      {"in_port(0x10)", "in_port(16)"},
      {"eth_type(2048)", "eth_type(0x0800)"},
      {"recirc_id(5)", "recirc_id(0x5)"},
      {"ipv4(tos=16)", "ipv4(tos=0x10)"},
      {"ipv4(frag=3)", "ipv4(frag=later)"},
      {"ipv4(frag=later/0x3)", "ipv4(frag=later)"},
      {"vlan(cfi=1)", "vlan()"},
      {"vlan(vid=10,cfi=1)", "vlan(vid=10)"},
      {"dp_hash(0x0/0x0)", ""},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(in);
    FlowKey k;
    FlowMask m;
    Status st = ParseMatch(in, &k, &m);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_FALSE(HasBitsOutsideMask(k, m));
    EXPECT_EQ(FormatMatch(k, m), out);
  }
}

TEST(FlowFormat, SharedFieldsPrintInTheGroupOfTheEthType) {
  FlowKey k = ZeroKey();
  FlowMask m = ZeroKey();
  k.nw_src = Ip("10.0.0.1");
  m.nw_src = Be32(0xffffffff);
  k.nw_proto = 2;
  m.nw_proto = 0xff;
  k.arp_sha = Mac("00:00:00:00:00:07");
  m.arp_sha = Mac("ff:ff:ff:ff:ff:ff");
  k.nw_ttl = 9;
  m.nw_ttl = 0xff;
  k.tp_src = Be16(1);
  m.tp_src = Be16(0xffff);

  m.eth_type = Be16(0xffff);
  k.eth_type = Be16(0x0806);
  EXPECT_EQ(FormatMatch(k, m),
            "eth_type(0x0806),ipv4(ttl=9),arp(sip=10.0.0.1,op=2,sha=00:00:00:00:00:07),"
            "l4(src=1)");
  k.eth_type = Be16(0x86dd);
  EXPECT_EQ(FormatMatch(k, m),
            "eth_type(0x86dd),ipv4(src=10.0.0.1),ipv6(proto=2,hlimit=9),l4(src=1),"
            "nd(sll=00:00:00:00:00:07)");
  k.eth_type = Be16(0x0800);
  EXPECT_EQ(FormatMatch(k, m),
            "eth_type(0x0800),ipv4(src=10.0.0.1,proto=2,ttl=9),arp(sha=00:00:00:00:00:07),"
            "l4(src=1)");
  // Every variant parses back to the same key and mask.
  for (uint16_t et : {0x0806, 0x86dd, 0x0800, 0x8035, 0x1234}) {
    k.eth_type = Be16(et);
    std::string t = FormatMatch(k, m);
    SCOPED_TRACE(t);
    FlowKey k2;
    FlowMask m2;
    ASSERT_TRUE(ParseMatch(t, &k2, &m2).ok());
    EXPECT_EQ(k2, k);
    EXPECT_EQ(m2, m);
  }
}

TEST(FlowFormat, L4GroupNameFollowsProtoAndEthType) {
  FlowKey k = ZeroKey();
  FlowMask m = ZeroKey();
  m.eth_type = Be16(0xffff);
  m.nw_proto = 0xff;
  m.tp_dst = Be16(0x00ff);
  k.tp_dst = Be16(3);
  struct Case {
    uint16_t eth_type;
    uint8_t proto;
    const char* group;
  } cases[] = {
      {0x0800, 6, "tcp(dst=3/0xff)"},  {0x86dd, 6, "tcp(dst=3/0xff)"},
      {0x0800, 17, "udp(dst=3/0xff)"}, {0x0800, 132, "sctp(dst=3/0xff)"},
      {0x0800, 1, "icmp(code=3)"},     {0x86dd, 1, "l4(dst=3/0xff)"},
      {0x86dd, 58, "icmpv6(code=3)"},  {0x0800, 58, "l4(dst=3/0xff)"},
      {0x0800, 47, "l4(dst=3/0xff)"},  {0x0806, 6, "l4(dst=3/0xff)"},
  };
  for (const Case& c : cases) {
    k.eth_type = Be16(c.eth_type);
    k.nw_proto = c.proto;
    std::string t = FormatMatch(k, m);
    SCOPED_TRACE(t);
    EXPECT_NE(t.find(c.group), std::string::npos) << c.group;
    FlowKey k2;
    FlowMask m2;
    ASSERT_TRUE(ParseMatch(t, &k2, &m2).ok());
    EXPECT_EQ(k2, k);
    EXPECT_EQ(m2, m);
  }
}

TEST(FlowFormat, L4GroupImpliesNothingElse) {
  FlowKey k;
  FlowMask m;
  ASSERT_TRUE(ParseMatch("tcp(dst=80)", &k, &m).ok());
  FlowMask want = ZeroKey();
  want.tp_dst = Be16(0xffff);
  EXPECT_EQ(m, want);
  ASSERT_TRUE(ParseMatch("icmp(type=3)", &k, &m).ok());
  want = ZeroKey();
  want.tp_src = Be16(0x00ff);
  EXPECT_EQ(m, want);
}

TEST(FlowFormat, WhitespaceTolerance) {
  FlowKey k1, k2;
  FlowMask m1, m2;
  ASSERT_TRUE(
      ParseMatch("in_port(1),eth_type(0x0800),ipv4(src=10.0.0.0/24,proto=6),tcp(dst=80)", &k1, &m1)
          .ok());
  Status st = ParseMatch(
      "  in_port ( 1 ) ,\teth_type( 0x0800 ) , ipv4 ( src = 10.0.0.0 / 24 ,proto= 6 ) ,"
      "tcp(\ndst =80 )  ",
      &k2, &m2);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(k1, k2);
  EXPECT_EQ(m1, m2);
  // Fields in any order.
  ASSERT_TRUE(
      ParseMatch("tcp(dst=80),ipv4(proto=6,src=10.0.0.0/24),eth_type(0x0800),in_port(1)", &k2, &m2)
          .ok());
  EXPECT_EQ(k1, k2);
  EXPECT_EQ(m1, m2);
}

TEST(FlowFormat, ExactMaskShowsWideMasksExplicitly) {
  FlowKey k = ZeroKey();
  k.eth_type = Be16(0x86dd);
  k.nw_proto = 58;
  FlowMask m = ExactMask();
  std::string t = FormatMatch(k, m);
  EXPECT_NE(t.find("label=0/0xffffffff"), std::string::npos) << t;
  EXPECT_NE(t.find("frag=no/0xff"), std::string::npos) << t;
  EXPECT_NE(t.find("icmpv6(type=0/0xffff,code=0/0xffff)"), std::string::npos) << t;
  EXPECT_NE(t.find("tcp_flags(0/0xffff)"), std::string::npos) << t;
  FlowKey k2;
  FlowMask m2;
  ASSERT_TRUE(ParseMatch(t, &k2, &m2).ok());
  EXPECT_EQ(k2, k);
  EXPECT_EQ(m2, m);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(FlowFormatErrors, MessagesNameTheToken) {
  const std::pair<const char*, const char*> cases[] = {
      {"ipv4(dst=10.0.0.300)", "ipv4(dst=10.0.0.300): bad IPv4 address"},
      {"ipv4(src=10.0.0.0/33)", "ipv4(src=10.0.0.0/33): bad IPv4 mask"},
      {"ipv4(src=10.0.0.0/255.0.x.0)", "ipv4(src=10.0.0.0/255.0.x.0): bad IPv4 mask"},
      {"ipv6(src=2001:db8::/129)", "ipv6(src=2001:db8::/129): bad IPv6 mask"},
      {"ipv6(dst=2001:db8:::1)", "ipv6(dst=2001:db8:::1): bad IPv6 address"},
      {"eth(src=00:11:22:33:44)", "eth(src=00:11:22:33:44): bad Ethernet address"},
      {"eth(dst=00:11:22:33:44:55/ff)", "eth(dst=00:11:22:33:44:55/ff): bad Ethernet mask"},
      {"foo(1)", "'foo(1)': unknown field group 'foo'"},
      {"ipv4(foo=1)",
       "ipv4(foo=1): unknown field 'foo' (expected src, dst, proto, tos, ttl, frag)"},
      {"ipv4(src)", "ipv4(src): expected field=value"},
      {"ipv4(src=1.2.3.4", "'ipv4(src=1.2.3.4': missing ')'"},
      {"in_port(1))", "unexpected ')'"},
      {"in_port(abc)", "in_port(abc): bad number"},
      {"in_port()", "in_port(): missing value"},
      {"in_port(-1)", "in_port(-1): bad number"},
      {"in_port(4294967296)", "in_port(4294967296): value out of range (max 4294967295)"},
      {"in_port(99999999999999999999999)", "bad number"},
      {"vlan(vid=4096)", "vlan(vid=4096): value out of range (max 4095)"},
      {"vlan(pcp=8)", "vlan(pcp=8): value out of range (max 7)"},
      {"vlan(cfi=2)", "vlan(cfi=2): cfi takes 0, 1 or *"},
      {"tcp(dst=65536)", "tcp(dst=65536): value out of range (max 65535)"},
      {"icmp(type=256)", "icmp(type=256): value out of range (max 255)"},
      {"ipv4(ttl=1/0x100)", "ipv4(ttl=1/0x100): mask out of range (max 0xff)"},
      {"ipv4(ttl=1/zz)", "ipv4(ttl=1/zz): bad mask"},
      {"ipv4(src=/24)", "ipv4(src=/24): missing value or mask around '/'"},
      {"ipv4(frag=maybe)", "ipv4(frag=maybe): bad fragment type"},
      {"ipv4(frag=4)", "ipv4(frag=4): value out of range (max 0x3)"},
      {"ipv6(label=0x100000)", "ipv6(label=0x100000): value out of range (max 0xfffff)"},
      {"ipv4(src=1.2.3.4,src=1.2.3.5)", "ipv4(src=1.2.3.5): src is given twice"},
      {"ipv4(proto=6),ipv6(proto=6)", "ipv6(proto=6): proto is given twice"},
      {"arp(sha=00:00:00:00:00:01),nd(sll=00:00:00:00:00:01)", "sll is given twice"},
      {"in_port(1),in_port(2)", "'in_port(2)': in_port() is given twice"},
      {"vlan(),vlan(),vlan()", "'vlan()': more than two vlan groups"},
      {"vlan(cfi=0,cfi=1)", "cfi is given twice"},
      {"in_port", "'in_port': expected in_port(...)"},
      {"in_port(1) eth()", "'in_port(1) eth()': unexpected text after ')'"},
      {"in_port(1),,eth_type(0x800)", "empty field group"},
      {"in_port(1),", "empty field group"},
      {"ipv4(src=1.2.3.4,)", "ipv4(src=1.2.3.4,): empty field"},
      {"(1)", "'(1)': expected a name"},
      {"ipv4(src=(1))", "bad IPv4 address"},
      {"in_port=1", "'in_port=1': unexpected '=1'"},
  };
  for (const auto& [in, want] : cases) {
    std::string got = ParseError(in);
    EXPECT_NE(got.find(want), std::string::npos)
        << "input: " << in << "\n got: " << got << "\nwant: " << want;
  }
}

// ---------------------------------------------------------------------------
// Properties over random keys, masks and texts.

struct FieldLoc {
  size_t ofs;
  size_t size;
  bool address;  // prefix masks make sense
};

// Every field of FlowKey except the pads.
const FieldLoc kFields[] = {
    {offsetof(FlowKey, in_port), 4, false},    {offsetof(FlowKey, recirc_id), 4, false},
    {offsetof(FlowKey, eth_dst), 6, true},     {offsetof(FlowKey, eth_type), 2, false},
    {offsetof(FlowKey, eth_src), 6, true},     {offsetof(FlowKey, nw_proto), 1, false},
    {offsetof(FlowKey, nw_frag), 1, false},    {offsetof(FlowKey, vlan) + 0, 2, false},
    {offsetof(FlowKey, vlan) + 2, 2, false},   {offsetof(FlowKey, vlan) + 4, 2, false},
    {offsetof(FlowKey, vlan) + 6, 2, false},   {offsetof(FlowKey, nw_src), 4, true},
    {offsetof(FlowKey, nw_dst), 4, true},      {offsetof(FlowKey, tp_src), 2, false},
    {offsetof(FlowKey, tp_dst), 2, false},     {offsetof(FlowKey, tcp_flags), 2, false},
    {offsetof(FlowKey, nw_tos), 1, false},     {offsetof(FlowKey, nw_ttl), 1, false},
    {offsetof(FlowKey, ipv6_src), 16, true},   {offsetof(FlowKey, ipv6_dst), 16, true},
    {offsetof(FlowKey, ipv6_label), 4, false}, {offsetof(FlowKey, pkt_mark), 4, false},
    {offsetof(FlowKey, nd_target), 16, true},  {offsetof(FlowKey, arp_sha), 6, true},
    {offsetof(FlowKey, arp_tha), 6, true},     {offsetof(FlowKey, dp_hash), 4, false},
};

void RandomKeyAndMask(std::mt19937_64& rng, FlowKey* key, FlowMask* mask) {
  uint8_t* k = reinterpret_cast<uint8_t*>(key);
  uint8_t* m = reinterpret_cast<uint8_t*>(mask);
  for (size_t i = 0; i < sizeof(FlowKey); ++i) k[i] = static_cast<uint8_t>(rng());
  mask->Clear();
  // Mostly sparse masks, like real megaflows, sometimes dense.
  int density = static_cast<int>(rng() % 4);  // out of 4: chance a field is matched
  for (const FieldLoc& f : kFields) {
    if (static_cast<int>(rng() % 4) > density) continue;
    switch (rng() % 4) {
      case 0:  // exact
        std::memset(m + f.ofs, 0xff, f.size);
        break;
      case 1:  // prefix (for integers this is a high-bits mask)
      {
        size_t len = rng() % (f.size * 8 + 1);
        for (size_t b = 0; b < f.size; ++b) {
          size_t bits = len > 8 * b ? len - 8 * b : 0;
          m[f.ofs + b] = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        }
        break;
      }
      case 2:  // arbitrary
        for (size_t b = 0; b < f.size; ++b) m[f.ofs + b] = static_cast<uint8_t>(rng());
        break;
      default:  // a single bit
      {
        size_t bit = rng() % (f.size * 8);
        m[f.ofs + bit / 8] = static_cast<uint8_t>(1u << (bit % 8));
        break;
      }
    }
  }
  // Exercise the group-name choices with realistic eth_type / nw_proto.
  if (rng() % 2) {
    static const uint16_t kTypes[] = {0x0800, 0x86dd, 0x0806, 0x8035, 0x8100, 0x05ff};
    key->eth_type = Be16(kTypes[rng() % 6]);
    mask->eth_type = Be16(0xffff);
  }
  if (rng() % 2) {
    static const uint8_t kProtos[] = {6, 17, 132, 1, 58, 47};
    key->nw_proto = kProtos[rng() % 6];
    mask->nw_proto = 0xff;
  }
  mask->pad13 = mask->pad14 = 0;
  mask->pad15 = 0;
}

TEST(FlowFormatProperty, RandomKeysAndMasksRoundTrip) {
  for (uint64_t seed = 1; seed <= 4000; ++seed) {
    std::mt19937_64 rng(seed);
    FlowKey k;
    FlowMask m;
    RandomKeyAndMask(rng, &k, &m);
    std::string t = FormatMatch(k, m);
    SCOPED_TRACE(fmt::format("seed={} text={}", seed, t));
    FlowKey k2;
    FlowMask m2;
    Status st = ParseMatch(t, &k2, &m2);
    ASSERT_TRUE(st.ok()) << st.message();
    FlowKey masked;
    MaskKey(k, m, &masked);
    ASSERT_EQ(m2, m);
    ASSERT_EQ(k2, masked);
    ASSERT_EQ(FormatMatch(k2, m2), t);
  }
}

// Mutated and random texts never crash; whatever parses is canonicalisable.
TEST(FlowFormatProperty, GarbageNeverCrashes) {
  static const char kAlphabet[] = "()=,/:. \t0123456789abcdefx*-_ipvethlansorcdmkgqu";
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    std::string t;
    if (seed % 2) {
      FlowKey k;
      FlowMask m;
      RandomKeyAndMask(rng, &k, &m);
      t = FormatMatch(k, m);
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !t.empty(); ++e) {
        size_t pos = rng() % t.size();
        switch (rng() % 4) {
          case 0:
            t[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
            break;
          case 1:
            t.erase(pos, 1 + rng() % 5);
            break;
          case 2:
            t.insert(pos, 1, kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
            break;
          default:
            t.resize(pos);
            break;
        }
      }
    } else {
      size_t len = rng() % 60;
      for (size_t i = 0; i < len; ++i) {
        t += (rng() % 8) ? kAlphabet[rng() % (sizeof(kAlphabet) - 1)]
                         : static_cast<char>(rng() % 256);
      }
    }
    SCOPED_TRACE(fmt::format("seed={} text={}", seed, t));
    FlowKey k;
    FlowMask m;
    Status st = ParseMatch(t, &k, &m);
    if (st.ok()) {
      ASSERT_FALSE(HasBitsOutsideMask(k, m));
      std::string canon = FormatMatch(k, m);
      FlowKey k2;
      FlowMask m2;
      ASSERT_TRUE(ParseMatch(canon, &k2, &m2).ok()) << canon;
      ASSERT_EQ(k2, k);
      ASSERT_EQ(m2, m);
    } else {
      ASSERT_FALSE(st.message().empty());
      ASSERT_EQ(m, ZeroKey());
    }
  }
}

}  // namespace
}  // namespace sluice::dp
