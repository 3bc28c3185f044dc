// Tests for datapath/actions/actions_format.h: the text form of datapath
// actions and of whole flows ("MATCH actions:ACTIONS").
//
// Actions are built field by field here (not with the DpAction factories)
// and compared bitwise, so these tests do not depend on dp_actions.cc.

#include "datapath/actions/actions_format.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "datapath/flow/flow_format.h"

namespace sluice::dp {
namespace {

DpAction Blank(DpActionType type) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = type;
  return a;
}

DpAction Output(uint32_t port) {
  DpAction a = Blank(DpActionType::kOutput);
  a.port = port;
  return a;
}

DpAction PushVlan(uint16_t tpid, uint16_t tci) {
  DpAction a = Blank(DpActionType::kPushVlan);
  a.push_vlan.tpid = Be16(tpid);
  a.push_vlan.tci = Be16(tci);
  return a;
}

be32 Ip(const char* s) {
  be32 a{};
  EXPECT_TRUE(ParseIpv4(s, &a)) << s;
  return a;
}

EthAddr Mac(const char* s) {
  EthAddr a{};
  EXPECT_TRUE(ParseEthAddr(s, &a)) << s;
  return a;
}

bool SameActions(const std::vector<DpAction>& a, const std::vector<DpAction>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(static_cast<const void*>(&a[i]), static_cast<const void*>(&b[i]),
                    sizeof(DpAction)) != 0) {
      return false;
    }
  }
  return true;
}

// Expects FormatActions(actions) == text and ParseActions(text) == actions.
void ExpectBoth(const std::vector<DpAction>& actions, const std::string& text) {
  SCOPED_TRACE(text);
  EXPECT_EQ(FormatActions(actions), text);
  std::vector<DpAction> parsed;
  Status st = ParseActions(text, &parsed);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(SameActions(parsed, actions)) << FormatActions(parsed);
}

TEST(ActionsFormat, OutputAndDrop) {
  ExpectBoth({Output(2)}, "2");
  ExpectBoth({}, "drop");
  ExpectBoth({Output(1), Output(4294967295u)}, "1,4294967295");
}

TEST(ActionsFormat, VlanActions) {
  ExpectBoth({PushVlan(0x8100, kVlanPresent | 10), Output(3)}, "push_vlan(vid=10,pcp=0),3");
  ExpectBoth({PushVlan(0x88a8, kVlanPresent | 5 << 13 | 4095)},
             "push_vlan(tpid=0x88a8,vid=4095,pcp=5)");
  ExpectBoth({PushVlan(0x8100, 7)}, "push_vlan(vid=7,pcp=0,cfi=0)");
  ExpectBoth({Blank(DpActionType::kPopVlan), Output(1)}, "pop_vlan,1");
}

TEST(ActionsFormat, UserspaceAndRecirc) {
  DpAction u = Blank(DpActionType::kUserspace);
  u.userspace.cookie = 0x1234;
  ExpectBoth({u}, "userspace(cookie=0x1234)");
  u.userspace.cookie = ~uint64_t{0};
  ExpectBoth({u}, "userspace(cookie=0xffffffffffffffff)");
  DpAction r = Blank(DpActionType::kRecirc);
  r.recirc_id = 5;
  ExpectBoth({r}, "recirc(0x5)");
  r.recirc_id = 0;
  ExpectBoth({r}, "recirc(0)");
}

TEST(ActionsFormat, Meter) {
  ExpectBoth({DpAction::Meter(7), Output(2)}, "meter(7),2");
  ExpectBoth({DpAction::Meter(0)}, "meter(0)");
  ExpectBoth({DpAction::Meter(4294967295u)}, "meter(4294967295)");
  std::vector<DpAction> parsed;
  ASSERT_TRUE(ParseActions("meter( 0x10 ),3", &parsed).ok());
  EXPECT_EQ(FormatActions(parsed), "meter(16),3");
  Status st = ParseActions("meter()", &parsed);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad meter id"), std::string::npos) << st.message();
  st = ParseActions("meter", &parsed);
  EXPECT_NE(st.message().find("expected meter(...)"), std::string::npos) << st.message();
}

TEST(ActionsFormat, SetActions) {
  DpAction ip = Blank(DpActionType::kSetIpv4);
  ip.ipv4.dst = Ip("10.0.0.2");
  ip.ipv4.dst_mask = Be32(0xffffffff);
  DpAction udp = Blank(DpActionType::kSetUdp);
  udp.l4.dst = Be16(80);
  udp.l4.dst_mask = Be16(0xffff);
  ExpectBoth({ip, udp, Output(2)}, "set(ipv4(dst=10.0.0.2)),set(udp(dst=80)),2");

  DpAction masked = Blank(DpActionType::kSetIpv4);
  masked.ipv4.src = Ip("10.0.0.0");
  masked.ipv4.src_mask = Be32(0xffffff00);
  masked.ipv4.tos = 0x04;
  masked.ipv4.tos_mask = 0xfc;
  masked.ipv4.ttl = 63;
  masked.ipv4.ttl_mask = 0xff;
  ExpectBoth({masked}, "set(ipv4(src=10.0.0.0/255.255.255.0,tos=0x4/0xfc,ttl=63))");

  DpAction eth = Blank(DpActionType::kSetEth);
  eth.eth.src = Mac("00:00:00:00:00:01");
  eth.eth.dst = Mac("00:00:00:00:00:02");
  eth.eth.src_mask = eth.eth.dst_mask = Mac("ff:ff:ff:ff:ff:ff");
  ExpectBoth({eth}, "set(eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02))");

  DpAction ip6 = Blank(DpActionType::kSetIpv6);
  ASSERT_TRUE(ParseIpv6("2001:db8::1", ip6.ipv6.src));
  std::memset(ip6.ipv6.src_mask, 0xff, 16);
  ASSERT_TRUE(ParseIpv6("fd00::", ip6.ipv6.dst));
  ASSERT_TRUE(ParseIpv6("ffff::", ip6.ipv6.dst_mask));
  ip6.ipv6.label = Be32(0x12345);
  ip6.ipv6.label_mask = Be32(0xfffff);
  ip6.ipv6.tclass = 0x10;
  ip6.ipv6.tclass_mask = 0xff;
  ip6.ipv6.hlimit = 64;
  ip6.ipv6.hlimit_mask = 0xff;
  ExpectBoth({ip6}, "set(ipv6(src=2001:db8::1,dst=fd00::/16,label=0x12345,tclass=0x10,hlimit=64))");

  DpAction tcp = Blank(DpActionType::kSetTcp);
  tcp.l4.src = Be16(1000);
  tcp.l4.src_mask = Be16(0xffff);
  tcp.l4.dst = Be16(0x0100);
  tcp.l4.dst_mask = Be16(0xff00);
  ExpectBoth({tcp}, "set(tcp(src=1000,dst=256/0xff00))");

  DpAction sctp = Blank(DpActionType::kSetSctp);
  sctp.l4.dst = Be16(5000);
  sctp.l4.dst_mask = Be16(0xffff);
  ExpectBoth({sctp}, "set(sctp(dst=5000))");

  // All masks zero: an empty, but well-formed, set.
  ExpectBoth({Blank(DpActionType::kSetEth)}, "set(eth())");
}

TEST(ActionsFormat, SetArpIcmpNd) {
  DpAction arp = Blank(DpActionType::kSetArp);
  arp.arp.spa = Ip("10.0.0.1");
  arp.arp.spa_mask = Be32(0xffffffff);
  arp.arp.tpa = Ip("10.0.0.2");
  arp.arp.tpa_mask = Be32(0xffffffff);
  arp.arp.op = Be16(2);
  arp.arp.op_mask = Be16(0xffff);
  arp.arp.sha = Mac("00:00:00:00:00:01");
  arp.arp.sha_mask = Mac("ff:ff:ff:ff:ff:ff");
  arp.arp.tha = Mac("00:00:00:00:00:02");
  arp.arp.tha_mask = Mac("ff:ff:ff:ff:ff:ff");
  ExpectBoth({arp, Output(1)},
             "set(arp(sip=10.0.0.1,tip=10.0.0.2,op=2,sha=00:00:00:00:00:01,"
             "tha=00:00:00:00:00:02)),1");

  DpAction arp_masked = Blank(DpActionType::kSetArp);
  arp_masked.arp.tpa = Ip("192.168.0.0");
  arp_masked.arp.tpa_mask = Be32(0xffff0000);
  arp_masked.arp.op = Be16(0x0100);
  arp_masked.arp.op_mask = Be16(0xff00);
  arp_masked.arp.sha = Mac("02:00:00:00:00:00");
  arp_masked.arp.sha_mask = Mac("ff:00:00:00:00:00");
  ExpectBoth({arp_masked},
             "set(arp(tip=192.168.0.0/255.255.0.0,op=256/0xff00,"
             "sha=02:00:00:00:00:00/ff:00:00:00:00:00))");

  DpAction icmp = Blank(DpActionType::kSetIcmp);
  icmp.icmp.type = 0;
  icmp.icmp.type_mask = 0xff;
  icmp.icmp.code = 3;
  icmp.icmp.code_mask = 0xff;
  ExpectBoth({icmp}, "set(icmp(type=0,code=3))");
  icmp.icmp.type = 0x80;
  icmp.icmp.type_mask = 0xf0;
  icmp.icmp.code = 0;
  icmp.icmp.code_mask = 0;
  ExpectBoth({icmp}, "set(icmp(type=128/0xf0))");

  DpAction icmp6 = Blank(DpActionType::kSetIcmpv6);
  icmp6.icmp.type = 129;
  icmp6.icmp.type_mask = 0xff;
  ExpectBoth({icmp6, Output(3)}, "set(icmpv6(type=129)),3");
  icmp6.icmp.code = 1;
  icmp6.icmp.code_mask = 0xff;
  icmp6.icmp.type_mask = 0;
  icmp6.icmp.type = 0;
  ExpectBoth({icmp6}, "set(icmpv6(code=1))");

  DpAction nd = Blank(DpActionType::kSetNd);
  ASSERT_TRUE(ParseIpv6("fe80::1", nd.nd.target));
  std::memset(nd.nd.target_mask, 0xff, 16);
  nd.nd.sll = Mac("00:11:22:33:44:55");
  nd.nd.sll_mask = Mac("ff:ff:ff:ff:ff:ff");
  nd.nd.tll = Mac("66:77:88:99:aa:bb");
  nd.nd.tll_mask = Mac("ff:ff:ff:ff:ff:ff");
  ExpectBoth({nd}, "set(nd(target=fe80::1,sll=00:11:22:33:44:55,tll=66:77:88:99:aa:bb))");
  DpAction nd_part = Blank(DpActionType::kSetNd);
  ASSERT_TRUE(ParseIpv6("2001:db8::", nd_part.nd.target));
  ASSERT_TRUE(ParseIpv6("ffff:ffff::", nd_part.nd.target_mask));
  nd_part.nd.tll = Mac("00:00:00:00:00:0b");
  nd_part.nd.tll_mask = Mac("00:00:00:00:00:ff");
  ExpectBoth({nd_part}, "set(nd(target=2001:db8::/32,tll=00:00:00:00:00:0b/00:00:00:00:00:ff))");

  ExpectBoth({Blank(DpActionType::kSetArp), Blank(DpActionType::kSetIcmp),
              Blank(DpActionType::kSetIcmpv6), Blank(DpActionType::kSetNd)},
             "set(arp()),set(icmp()),set(icmpv6()),set(nd())");

  // Parsing: any field order, prefixes, the values a user would type.
  const std::pair<const char*, const char*> cases[] = {
      {"set(arp(op=1,sip=10.1.1.1/24))", "set(arp(sip=10.1.1.0/255.255.255.0,op=1))"},
      {"set( icmp ( code = 0 , type = 8 ) )", "set(icmp(type=8,code=0))"},
      {"set(icmpv6(type=0x87))", "set(icmpv6(type=135))"},
      {"set(nd(tll=0:1:2:3:4:5,target=fe80::0:1))",
       "set(nd(target=fe80::1,tll=00:01:02:03:04:05))"},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(in);
    std::vector<DpAction> parsed;
    Status st = ParseActions(in, &parsed);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(FormatActions(parsed), out);
  }
}

TEST(ActionsFormat, SetValueOutsideMaskIsNotPrinted) {
  DpAction ip = Blank(DpActionType::kSetIpv4);
  ip.ipv4.src = Ip("10.0.0.77");
  ip.ipv4.src_mask = Be32(0xffffff00);
  ip.ipv4.dst = Ip("1.2.3.4");  // mask zero: not printed
  EXPECT_EQ(FormatActions({ip}), "set(ipv4(src=10.0.0.0/255.255.255.0))");
}

TEST(ActionsFormat, ParserAcceptsVariants) {
  const std::pair<const char*, const char*> cases[] = {
      {"  2 ,  3 ", "2,3"},
      {" drop ", "drop"},
      {"push_vlan( vid = 10 , pcp = 0 ) , 3", "push_vlan(vid=10,pcp=0),3"},
      {"push_vlan()", "push_vlan(vid=0,pcp=0)"},
      {"push_vlan(pcp=7,vid=0x10,tpid=0x8100,cfi=1)", "push_vlan(vid=16,pcp=7)"},
      {"pop_vlan()", "pop_vlan"},
      {"0x10", "16"},
      {"recirc(5)", "recirc(0x5)"},
      {"userspace()", "userspace(cookie=0x0)"},
      {"userspace(cookie=4660)", "userspace(cookie=0x1234)"},
      {"set(ipv4(src=10.0.0.9/24))", "set(ipv4(src=10.0.0.0/255.255.255.0))"},
      {"set( udp ( dst = 80 ) ),2", "set(udp(dst=80)),2"},
      {"set(ipv6(src=2001:db8::/32,label=1))", "set(ipv6(src=2001:db8::/32,label=0x1))"},
      {"set(ipv6(label=1/0xffffffff))", "set(ipv6(label=0x1/0xffffffff))"},
      {"set(eth(dst=01:00:00:00:00:00/01:00:00:00:00:00))",
       "set(eth(dst=01:00:00:00:00:00/01:00:00:00:00:00))"},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(in);
    std::vector<DpAction> parsed;
    Status st = ParseActions(in, &parsed);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(FormatActions(parsed), out);
  }
}

TEST(ActionsFormat, ErrorsNameTheToken) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "no actions (write 'drop' to drop)"},
      {"   ", "no actions"},
      {"foo", "'foo': unknown action"},
      {"foo(1)", "'foo(1)': unknown action"},
      {"drop,2", "'drop' must be the only action"},
      {"2,drop", "'drop' must be the only action"},
      {"2x", "'2x': bad output port"},
      {"4294967296", "'4294967296': output port out of range"},
      {"2,,3", "'2,,3': empty action"},
      {"2,", "empty action"},
      {"push_vlan", "'push_vlan': expected push_vlan(...)"},
      {"push_vlan(vid=4096)", "push_vlan(vid=4096): value out of range (max 4095)"},
      {"push_vlan(pcp=8)", "push_vlan(pcp=8): value out of range (max 7)"},
      {"push_vlan(vid=1,vid=2)", "push_vlan(vid=2): vid is given twice"},
      {"push_vlan(xid=1)", "push_vlan(xid=1): unknown field 'xid'"},
      {"push_vlan(vid)", "expected field=value"},
      {"push_vlan(vid=ten)", "push_vlan(vid=ten): bad number"},
      {"pop_vlan(1)", "'pop_vlan(1)': pop_vlan takes no arguments"},
      {"recirc()", "'recirc()': bad recirculation id"},
      {"recirc(0x100000000)", "recirculation id out of range"},
      {"userspace(cookie=abc)", "userspace(cookie=abc): bad cookie"},
      {"userspace(pid=1)", "userspace(pid=1): expected cookie=N"},
      {"set(ipv4(dst=1.2.3.400))", "set(ipv4(dst=1.2.3.400)): bad IPv4 address"},
      {"set(ipv4(port=1))",
       "set(ipv4(port=1)): unknown field 'port' (expected src, dst, tos, ttl)"},
      {"set(tcp(src=1,src=2))", "set(tcp(src=2)): src is given twice"},
      {"set(tcp(src=65536))", "set(tcp(src=65536)): value out of range (max 65535)"},
      {"set(ipv6(src=1::2::3))", "set(ipv6(src=1::2::3)): bad IPv6 address"},
      {"set(eth(src=zz:00:00:00:00:00))", "bad Ethernet address"},
      {"set(arp(src=1.2.3.4))",
       "set(arp(src=1.2.3.4)): unknown field 'src' (expected sip, tip, op, sha, tha)"},
      {"set(arp(op=65536))", "set(arp(op=65536)): value out of range (max 65535)"},
      {"set(icmp(type=256))", "set(icmp(type=256)): value out of range (max 255)"},
      {"set(icmpv6(code=1,code=2))", "set(icmpv6(code=2)): code is given twice"},
      {"set(nd(target=1.2.3.4))", "set(nd(target=1.2.3.4)): bad IPv6 address"},
      {"set(nd(sll=00:11))", "bad Ethernet address"},
      {"set(nd(slla=00:00:00:00:00:01))", "unknown field 'slla' (expected target, sll, tll)"},
      {"set(foo(x=1))", "'set(foo(x=1))': cannot set 'foo'"},
      {"set(ipv4)", "'set(ipv4)': expected set(ipv4(...))"},
      {"set(ipv4(src=1.2.3.4)", "missing ')'"},
      {"set(ipv4(src=1.2.3.4)))", "unexpected ')'"},
      {"set", "'set': expected set(...)"},
      {"2 3", "'2 3': bad output port"},
  };
  for (const auto& [in, want] : cases) {
    std::vector<DpAction> out = {Output(9)};
    Status st = ParseActions(in, &out);
    ASSERT_FALSE(st.ok()) << "input: " << in;
    EXPECT_NE(st.message().find(want), std::string::npos)
        << "input: " << in << "\n got: " << st.message() << "\nwant: " << want;
    EXPECT_TRUE(out.empty()) << in;
  }
}

TEST(ActionsFormat, UnknownTypeDoesNotCrash) {
  DpAction a = Blank(static_cast<DpActionType>(200));
  EXPECT_EQ(FormatAction(a), "unknown_action(200)");
}

// ---------------------------------------------------------------------------
// Whole flows.

TEST(FlowSpec, ParsesMatchAndActions) {
  FlowKey k;
  FlowMask m;
  std::vector<DpAction> acts;
  Status st = ParseFlowSpec(
      "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/24,proto=17),udp(dst=53) "
      "actions:push_vlan(vid=10,pcp=0),2",
      &k, &m, &acts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(k.in_port, 1u);
  EXPECT_EQ(m.in_port, 0xffffffffu);
  EXPECT_EQ(k.nw_dst, Be32(0x0a000000));
  EXPECT_EQ(m.nw_dst, Be32(0xffffff00));
  EXPECT_EQ(k.tp_dst, Be16(53));
  EXPECT_TRUE(SameActions(acts, {PushVlan(0x8100, kVlanPresent | 10), Output(2)}));
  EXPECT_EQ(FormatFlowSpec(k, m, acts),
            "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.255.255.0,proto=17),udp(dst=53) "
            "actions:push_vlan(vid=10,pcp=0),2");
}

TEST(FlowSpec, AcceptsDumpFlowsLines) {
  const char* lines[] = {
      "in_port(1),eth_type(0x0800), packets:10, bytes:600, used:0.5s, actions:2",
      "ufid:1234-5678, in_port(1),eth_type(0x0800), packets:0, bytes:0, used:never, "
      "flags:S., dp:sluice, offloaded:no, actions:2",
      "in_port(1),eth_type(0x0800), actions:2",
      "ufid:00000000-0000-0000-0000-000000000001, in_port(1),eth_type(0x0800), packets:7, "
      "bytes:420, used:0.010s, pmd:0, actions:2",
      "in_port(1),eth_type(0x0800) actions:2",
      "  in_port(1) , eth_type(0x0800)\tactions: 2 ",
  };
  for (const char* line : lines) {
    SCOPED_TRACE(line);
    FlowKey k;
    FlowMask m;
    std::vector<DpAction> acts;
    Status st = ParseFlowSpec(line, &k, &m, &acts);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(FormatFlowSpec(k, m, acts), "in_port(1),eth_type(0x0800) actions:2");
  }
}

TEST(FlowSpec, EmptyMatchAndDrop) {
  FlowKey k;
  FlowMask m;
  std::vector<DpAction> acts = {Output(1)};
  ASSERT_TRUE(ParseFlowSpec("actions:drop", &k, &m, &acts).ok());
  EXPECT_TRUE(acts.empty());
  FlowKey zero;
  zero.Clear();
  EXPECT_EQ(m, zero);
  EXPECT_EQ(FormatFlowSpec(k, m, acts), "actions:drop");
}

TEST(FlowSpec, DumpFlowsLineWithEmptyMatch) {
  FlowKey k;
  FlowMask m;
  std::vector<DpAction> acts;
  Status st =
      ParseFlowSpec("ufid:1, , packets:0, bytes:0, used:never, pmd:1, actions:drop", &k, &m, &acts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(FormatFlowSpec(k, m, acts), "actions:drop");
}

TEST(FlowSpec, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"in_port(1)", "missing 'actions:'"},
      {"in_port(1) actions:", "no actions"},
      {"in_port(1)actions:2", "missing 'actions:'"},
      {"in_port(x) actions:2", "in_port(x): bad number"},
      {"in_port(1),,eth_type(0x0800) actions:2", "empty field group"},
      {", in_port(1) actions:2", "empty field group"},
      {"in_port(1) actions:foo", "'foo': unknown action"},
      {"ipv4(src=1.2.3.4 actions:2", "missing ')'"},
  };
  for (const auto& [in, want] : cases) {
    FlowKey k;
    FlowMask m;
    std::vector<DpAction> acts;
    Status st = ParseFlowSpec(in, &k, &m, &acts);
    ASSERT_FALSE(st.ok()) << in;
    EXPECT_NE(st.message().find(want), std::string::npos)
        << "input: " << in << "\n got: " << st.message() << "\nwant: " << want;
    FlowKey zero;
    zero.Clear();
    EXPECT_EQ(m, zero);
    EXPECT_TRUE(acts.empty());
  }
}

// ---------------------------------------------------------------------------
// Properties.

void RandomBytes(std::mt19937_64& rng, void* p, size_t n) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(rng());
}

// A random mask over n bytes: zero, all ones, a prefix or arbitrary.
void RandomMask(std::mt19937_64& rng, uint8_t* m, size_t n) {
  switch (rng() % 4) {
    case 0:
      std::memset(m, 0, n);
      break;
    case 1:
      std::memset(m, 0xff, n);
      break;
    case 2: {
      size_t len = rng() % (n * 8 + 1);
      for (size_t b = 0; b < n; ++b) {
        size_t bits = len > 8 * b ? len - 8 * b : 0;
        m[b] = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
      }
      break;
    }
    default:
      RandomBytes(rng, m, n);
      break;
  }
}

// Random value under a random mask (value bits outside the mask cleared).
template <typename T>
void RandomMasked(std::mt19937_64& rng, T* value, T* mask) {
  uint8_t v[sizeof(T)], m[sizeof(T)];
  RandomBytes(rng, v, sizeof(T));
  RandomMask(rng, m, sizeof(T));
  for (size_t i = 0; i < sizeof(T); ++i) v[i] &= m[i];
  std::memcpy(static_cast<void*>(value), v, sizeof(T));
  std::memcpy(static_cast<void*>(mask), m, sizeof(T));
}

DpAction RandomAction(std::mt19937_64& rng) {
  auto type = static_cast<DpActionType>(rng() % (static_cast<int>(DpActionType::kMeter) + 1));
  DpAction a = Blank(type);
  switch (type) {
    case DpActionType::kOutput:
      a.port = static_cast<uint32_t>(rng());
      break;
    case DpActionType::kUserspace:
      a.userspace.cookie = rng();
      break;
    case DpActionType::kPushVlan:
      a.push_vlan.tpid = Be16(rng() % 2 ? 0x8100 : static_cast<uint16_t>(rng()));
      a.push_vlan.tci = Be16(static_cast<uint16_t>(rng()));
      break;
    case DpActionType::kPopVlan:
      break;
    case DpActionType::kSetEth:
      RandomMasked(rng, &a.eth.src, &a.eth.src_mask);
      RandomMasked(rng, &a.eth.dst, &a.eth.dst_mask);
      break;
    case DpActionType::kSetIpv4:
      RandomMasked(rng, &a.ipv4.src, &a.ipv4.src_mask);
      RandomMasked(rng, &a.ipv4.dst, &a.ipv4.dst_mask);
      RandomMasked(rng, &a.ipv4.tos, &a.ipv4.tos_mask);
      RandomMasked(rng, &a.ipv4.ttl, &a.ipv4.ttl_mask);
      break;
    case DpActionType::kSetIpv6:
      RandomMasked(rng, &a.ipv6.src, &a.ipv6.src_mask);
      RandomMasked(rng, &a.ipv6.dst, &a.ipv6.dst_mask);
      RandomMasked(rng, &a.ipv6.label, &a.ipv6.label_mask);
      RandomMasked(rng, &a.ipv6.tclass, &a.ipv6.tclass_mask);
      RandomMasked(rng, &a.ipv6.hlimit, &a.ipv6.hlimit_mask);
      break;
    case DpActionType::kSetTcp:
    case DpActionType::kSetUdp:
    case DpActionType::kSetSctp:
      RandomMasked(rng, &a.l4.src, &a.l4.src_mask);
      RandomMasked(rng, &a.l4.dst, &a.l4.dst_mask);
      break;
    case DpActionType::kSetArp:
      RandomMasked(rng, &a.arp.spa, &a.arp.spa_mask);
      RandomMasked(rng, &a.arp.tpa, &a.arp.tpa_mask);
      RandomMasked(rng, &a.arp.op, &a.arp.op_mask);
      RandomMasked(rng, &a.arp.sha, &a.arp.sha_mask);
      RandomMasked(rng, &a.arp.tha, &a.arp.tha_mask);
      break;
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6:
      RandomMasked(rng, &a.icmp.type, &a.icmp.type_mask);
      RandomMasked(rng, &a.icmp.code, &a.icmp.code_mask);
      break;
    case DpActionType::kSetNd:
      RandomMasked(rng, &a.nd.target, &a.nd.target_mask);
      RandomMasked(rng, &a.nd.sll, &a.nd.sll_mask);
      RandomMasked(rng, &a.nd.tll, &a.nd.tll_mask);
      break;
    case DpActionType::kRecirc:
      a.recirc_id = static_cast<uint32_t>(rng());
      break;
    case DpActionType::kMeter:
      a.meter_id = static_cast<uint32_t>(rng());
      break;
  }
  return a;
}

TEST(ActionsFormatProperty, RandomActionListsRoundTrip) {
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<DpAction> actions(rng() % 6);
    for (DpAction& a : actions) a = RandomAction(rng);
    std::string t = FormatActions(actions);
    SCOPED_TRACE(fmt::format("seed={} text={}", seed, t));
    std::vector<DpAction> parsed;
    Status st = ParseActions(t, &parsed);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(SameActions(parsed, actions)) << FormatActions(parsed);
    ASSERT_EQ(FormatActions(parsed), t);
  }
}

TEST(ActionsFormatProperty, RandomFlowSpecsRoundTrip) {
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    std::mt19937_64 rng(seed);
    FlowKey k;
    FlowMask m;
    RandomBytes(rng, &k, sizeof(k));
    m.Clear();
    // A few random fields: in_port, eth_type, nw_src, tp_dst.
    if (rng() % 2) m.in_port = static_cast<uint32_t>(rng());
    if (rng() % 2) m.eth_type = Be16(0xffff);
    if (rng() % 2) m.nw_src = Be32(static_cast<uint32_t>(rng()));
    if (rng() % 2) m.tp_dst = Be16(static_cast<uint16_t>(rng()));
    FlowKey masked;
    MaskKey(k, m, &masked);
    std::vector<DpAction> actions(rng() % 4);
    for (DpAction& a : actions) a = RandomAction(rng);
    std::string t = FormatFlowSpec(k, m, actions);
    SCOPED_TRACE(fmt::format("seed={} text={}", seed, t));
    FlowKey k2;
    FlowMask m2;
    std::vector<DpAction> a2;
    Status st = ParseFlowSpec(t, &k2, &m2, &a2);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(k2, masked);
    ASSERT_EQ(m2, m);
    ASSERT_TRUE(SameActions(a2, actions));
  }
}

TEST(ActionsFormatProperty, GarbageNeverCrashes) {
  static const char kAlphabet[] = "()=,/:. 0123456789abcdefx_setipv4udrop";
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    std::string t;
    if (seed % 2) {
      std::vector<DpAction> actions(1 + rng() % 4);
      for (DpAction& a : actions) a = RandomAction(rng);
      t = FormatActions(actions);
      for (int e = 0; e < 3 && !t.empty(); ++e) {
        size_t pos = rng() % t.size();
        switch (rng() % 3) {
          case 0:
            t[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
            break;
          case 1:
            t.erase(pos, 1 + rng() % 4);
            break;
          default:
            t.insert(pos, 1, static_cast<char>(rng() % 256));
            break;
        }
      }
    } else {
      size_t len = rng() % 50;
      for (size_t i = 0; i < len; ++i) t += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    }
    SCOPED_TRACE(fmt::format("seed={} text={}", seed, t));
    std::vector<DpAction> parsed;
    Status st = ParseActions(t, &parsed);
    if (st.ok()) {
      std::string canon = FormatActions(parsed);
      std::vector<DpAction> again;
      ASSERT_TRUE(ParseActions(canon, &again).ok()) << canon;
      ASSERT_TRUE(SameActions(again, parsed));
    } else {
      ASSERT_FALSE(st.message().empty());
      ASSERT_TRUE(parsed.empty());
    }
    FlowKey k;
    FlowMask m;
    std::vector<DpAction> acts;
    (void)ParseFlowSpec("in_port(1) actions:" + t, &k, &m, &acts);
    (void)ParseFlowSpec(t, &k, &m, &acts);
  }
}

}  // namespace
}  // namespace sluice::dp
