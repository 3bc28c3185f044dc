// The table of well-formed frames with their expected keys and offsets,
// shared by flow_parse_valid_test.cc and flow_parse_property_test.cc.

#pragma once

#include <string>
#include <vector>

#include "tests/datapath/flow_parse_test_util.h"

namespace sluice::dp {
namespace flow_parse_test {

// --- Valid frames with their expected keys ----------------------------------

struct Case {
  std::string name;
  Bytes frame;
  FlowKey key;
  uint16_t l3 = kNoOffset;
  uint16_t l4 = kNoOffset;
};

inline std::vector<Case> ValidCases() {
  std::vector<Case> cs;

  // UDP/IPv4, 60-byte frame (64 with FCS), DS field EF, ECN 0.
  {
    Case c{"udp4_60B", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 17, 0x0a000001, 0x0a000002, {.tos = 0xb8, .ttl = 63});
    AddUdp(c.frame, 1234, 5678, 18);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_tos = 0xb8;
    c.key.nw_ttl = 63;
    c.key.tp_src = Be16(1234);
    c.key.tp_dst = Be16(5678);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // The same with Ethernet padding after a short datagram.
  {
    Case c{"udp4_padded", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 17, 0x0a000001, 0x0a000002);
    AddUdp(c.frame, 53, 53, 0);
    FinishIp4(c.frame, l3);
    c.frame.PadTo(60);
    for (size_t i = 42; i < 60; ++i) c.frame.v[i] = 0xee;  // junk trailer
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.tp_src = c.key.tp_dst = Be16(53);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // A real-world TCP SYN with MSS, SACK-permitted, timestamps, NOP, wscale.
  {
    Case c{"tcp4_syn_options", {}, {}};
    c.frame.Hex(
        "525400123456 525400abcdef 0800"
        "4500 003c 1c46 4000 4006 26e9 c0a8010a 5db8d822"
        "c350 0050 12345678 00000000 a002 faf0 ee7a 0000"
        "020405b4 0402 080a009c3a1e00000000 01 030307");
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0xc0a8010a);
    c.key.nw_dst = Be32(0x5db8d822);
    c.key.nw_proto = 6;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(50000);
    c.key.tp_dst = Be16(80);
    c.key.tcp_flags = Be16(0x002);  // SYN
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // A DNS query for example.com over UDP.
  {
    Case c{"udp4_dns_query", {}, {}};
    c.frame.Hex(
        "525400123456 525400abcdef 0800"
        "4500 0039 b2e1 0000 4011 4477 c0a8010a c0a80101"
        "d431 0035 0025 2ca6"
        "abcd 0100 0001 0000 0000 0000 076578616d706c6503636f6d00 0001 0001");
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0xc0a8010a);
    c.key.nw_dst = Be32(0xc0a80101);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(54321);
    c.key.tp_dst = Be16(53);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // TCP with every one of the low 12 flag-word bits set, and a data offset
  // covering 4 bytes of options.
  {
    Case c{"tcp4_all_flags", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 6, 0x01020304, 0x05060708, {.tos = 0x03, .ttl = 1});
    AddTcp(c.frame, 443, 61000, 0x6fff).U32(0x01010101);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x01020304);
    c.key.nw_dst = Be32(0x05060708);
    c.key.nw_proto = 6;
    c.key.nw_tos = 0x03;
    c.key.nw_ttl = 1;
    c.key.tp_src = Be16(443);
    c.key.tp_dst = Be16(61000);
    c.key.tcp_flags = Be16(0x0fff);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // An ARP request, padded to the 60-byte minimum.
  {
    Case c{"arp_request", {}, {}};
    c.frame.Hex(
        "ffffffffffff 525400abcdef 0806"
        "0001 0800 06 04 0001 525400abcdef c0a8010a 000000000000 c0a80101");
    c.frame.PadTo(60);
    c.key = BaseKey({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kMacB, 0x0806);
    c.key.nw_proto = 1;
    c.key.nw_src = Be32(0xc0a8010a);
    c.key.nw_dst = Be32(0xc0a80101);
    c.key.arp_sha = E(kMacB);
    c.l3 = 14;
    cs.push_back(c);
  }
  // An ARP reply, unpadded (42 bytes).
  {
    Case c{"arp_reply", Eth(kMacB, kMacA, 0x0806), {}};
    c.frame.U16(1)
        .U16(0x0800)
        .U8(6)
        .U8(4)
        .U16(2)
        .Arr(kMacA)
        .U32(0xc0a80101)
        .Arr(kMacB)
        .U32(0xc0a8010a);
    c.key = BaseKey(kMacB, kMacA, 0x0806);
    c.key.nw_proto = 2;
    c.key.nw_src = Be32(0xc0a80101);
    c.key.nw_dst = Be32(0xc0a8010a);
    c.key.arp_sha = E(kMacA);
    c.key.arp_tha = E(kMacB);
    c.l3 = 14;
    cs.push_back(c);
  }
  // RARP request (EtherType 0x8035, opcode 3).
  {
    Case c{"rarp_request", Eth({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kMacC, 0x8035), {}};
    c.frame.U16(1).U16(0x0800).U8(6).U8(4).U16(3).Arr(kMacC).U32(0).Arr(kMacC).U32(0);
    c.key = BaseKey({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kMacC, 0x8035);
    c.key.nw_proto = 3;
    c.key.arp_sha = E(kMacC);
    c.key.arp_tha = E(kMacC);
    c.l3 = 14;
    cs.push_back(c);
  }
  // An opcode above 255 does not fit nw_proto: it stays zero.
  {
    Case c{"arp_big_opcode", Eth(kMacB, kMacA, 0x0806), {}};
    c.frame.U16(1)
        .U16(0x0800)
        .U8(6)
        .U8(4)
        .U16(0x0101)
        .Arr(kMacA)
        .U32(0x0a000001)
        .Arr(kMacB)
        .U32(0x0a000002);
    c.key = BaseKey(kMacB, kMacA, 0x0806);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.arp_sha = E(kMacA);
    c.key.arp_tha = E(kMacB);
    c.l3 = 14;
    cs.push_back(c);
  }
  // QinQ: S-tag VID 100 PCP 5, C-tag VID 10 PCP 1 with DEI set (DEI is not
  // kept: kVlanPresent takes its bit), then UDP/IPv4.
  {
    Case c{"qinq_udp4", {}, {}};
    c.frame.Hex(
        "525400123456 525400abcdef 88a8 a064 8100 300a 0800"
        "4500 0026 0001 0000 4011 66c4 0a000001 0a000002"
        "12b5 12b5 0012 0000 00010203040506070809");
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.vlan[0] = {Be16(0x88a8), Be16(0xb064)};
    c.key.vlan[1] = {Be16(0x8100), Be16(0x300a)};
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.tp_src = c.key.tp_dst = Be16(4789);
    c.l3 = 22;
    c.l4 = 42;
    cs.push_back(c);
  }
  // Two 802.1Q tags, then TCP/IPv4.
  {
    Case c{"double_8100_tcp4", Eth(kMacA, kMacB, 0x8100), {}};
    c.frame.U16(0x0fff).U16(0x8100).U16(0xe001).U16(0x0800);
    size_t l3 = AddIp4(c.frame, 6, 0xc0000201, 0xc6336402);
    AddTcp(c.frame, 22, 40000, 0x5010);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.vlan[0] = {Be16(0x8100), Be16(0x1fff)};
    c.key.vlan[1] = {Be16(0x8100), Be16(0xf001)};
    c.key.nw_src = Be32(0xc0000201);
    c.key.nw_dst = Be32(0xc6336402);
    c.key.nw_proto = 6;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(22);
    c.key.tp_dst = Be16(40000);
    c.key.tcp_flags = Be16(0x010);
    c.l3 = 22;
    c.l4 = 42;
    cs.push_back(c);
  }
  // One tag, VID 0 (priority tagged), on an 802.3 length frame.
  {
    Case c{"vlan_8023", Eth(kMacA, kMacB, 0x8100), {}};
    c.frame.U16(0x6000).U16(0x0026).Hex("424203 0000 00").PadTo(64);
    c.key = BaseKey(kMacA, kMacB, 0x05ff);
    c.key.vlan[0] = {Be16(0x8100), Be16(0x7000)};
    cs.push_back(c);
  }
  // 802.3 + LLC: a spanning-tree BPDU.
  {
    Case c{"dot3_stp", Eth({0x01, 0x80, 0xc2, 0, 0, 0}, kMacB, 0x0026), {}};
    c.frame.Hex(
        "424203 0000 00 00 8000525400abcdef 00000000 8000525400abcdef 8001 0000 1400 0200 0f00");
    c.frame.PadTo(60);
    c.key = BaseKey({0x01, 0x80, 0xc2, 0, 0, 0}, kMacB, 0x05ff);
    cs.push_back(c);
  }
  // 802.3 + LLC/SNAP carrying IPv4: stops at L2.
  {
    Case c{"dot3_snap", Eth(kMacA, kMacB, 0x0030), {}};
    c.frame.Hex("aaaa03 000000 0800");
    size_t l3 = AddIp4(c.frame, 17, 1, 2);
    AddUdp(c.frame, 1, 2, 0);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x05ff);
    cs.push_back(c);
  }
  // The boundary: 0x05ff is a length, 0x0600 a type.
  {
    Case c{"ethtype_05ff", Eth(kMacA, kMacB, 0x05ff), {}};
    c.key = BaseKey(kMacA, kMacB, 0x05ff);
    cs.push_back(c);
    Case d{"ethtype_0600", Eth(kMacA, kMacB, 0x0600), {}};
    d.key = BaseKey(kMacA, kMacB, 0x0600);
    cs.push_back(d);
  }
  // LLDP: a known EtherType without L3 parsing.
  {
    Case c{"lldp", Eth({0x01, 0x80, 0xc2, 0, 0, 0x0e}, kMacB, 0x88cc), {}};
    c.frame.Hex("0207 04525400abcdef 0403 0365746830 0602 0078 0000");
    c.key = BaseKey({0x01, 0x80, 0xc2, 0, 0, 0x0e}, kMacB, 0x88cc);
    cs.push_back(c);
  }
  // MPLS: EtherType only.
  {
    Case c{"mpls", Eth(kMacA, kMacB, 0x8847), {}};
    c.frame.U32(0x00064140).Zeros(40);
    c.key = BaseKey(kMacA, kMacB, 0x8847);
    cs.push_back(c);
  }
  // IPv4 with a router-alert option: an IGMPv2 membership report.
  {
    Case c{"igmp_router_alert", {}, {}};
    c.frame.Hex(
        "01005e480001 525400abcdef 0800"
        "4600 0020 0000 4000 0102 335c c0a8010a efc80001 94040000"
        "1600 fa35 efc80001");
    c.frame.PadTo(60);
    c.key = BaseKey({0x01, 0x00, 0x5e, 0x48, 0x00, 0x01}, kMacB, 0x0800);
    c.key.nw_src = Be32(0xc0a8010a);
    c.key.nw_dst = Be32(0xefc80001);
    c.key.nw_proto = 2;
    c.key.nw_ttl = 1;
    c.l3 = 14;
    cs.push_back(c);
  }
  // IPv4 with the largest header (40 bytes of options), then UDP.
  {
    Case c{"udp4_max_options", Eth(kMacA, kMacB, 0x0800), {}};
    std::vector<uint8_t> opts(40, 0x01);  // NOPs
    opts[39] = 0x00;                      // EOL
    size_t l3 = AddIp4(c.frame, 17, 0x0a0a0a0a, 0x0b0b0b0b, {.options = opts});
    AddUdp(c.frame, 67, 68, 4);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a0a0a0a);
    c.key.nw_dst = Be32(0x0b0b0b0b);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(67);
    c.key.tp_dst = Be16(68);
    c.l3 = 14;
    c.l4 = 74;
    cs.push_back(c);
  }
  // ICMP echo request: type 8, code 0.
  {
    Case c{"icmp4_echo", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 1, 0x0a000001, 0x08080808);
    c.frame.U8(8).U8(0).U16(0).U16(0x4242).U16(1).Zeros(32);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x08080808);
    c.key.nw_proto = 1;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(8);
    c.key.tp_dst = Be16(0);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // ICMP port unreachable: type 3, code 3.
  {
    Case c{"icmp4_unreach", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 1, 0x0a000002, 0x0a000001, {.tos = 0xc0});
    c.frame.U8(3).U8(3).U16(0).U32(0).Zeros(28);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000002);
    c.key.nw_dst = Be32(0x0a000001);
    c.key.nw_proto = 1;
    c.key.nw_tos = 0xc0;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(3);
    c.key.tp_dst = Be16(3);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // SCTP INIT (common header + one chunk header).
  {
    Case c{"sctp4", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 132, 0x0a000001, 0x0a000002);
    c.frame.U16(36412).U16(2905).U32(0).U32(0xdeadbeef).U8(1).U8(0).U16(4);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 132;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(36412);
    c.key.tp_dst = Be16(2905);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // GRE: an IP protocol without parsed L4 fields.
  {
    Case c{"gre4", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 47, 0x0a000001, 0x0a000002);
    c.frame.U16(0).U16(0x6558).Zeros(14);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 47;
    c.key.nw_ttl = 64;
    c.l3 = 14;
    cs.push_back(c);
  }
  // ICMPv6's protocol number inside IPv4 is not parsed as ICMPv6.
  {
    Case c{"proto58_in_ipv4", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 58, 0x0a000001, 0x0a000002);
    c.frame.U8(135).U8(0).U16(0).Zeros(20);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 58;
    c.key.nw_ttl = 64;
    c.l3 = 14;
    cs.push_back(c);
  }
  // IPv4 fragments: first (MF, offset 0) keeps L4; later ones do not.
  {
    Case c{"frag4_first", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 17, 0x0a000001, 0x0a000002, {.frag = 0x2000});
    AddUdp(c.frame, 5000, 6000, 1472);
    FinishIp4(c.frame, l3, 20 + 1480);
    c.frame.v.resize(14 + 20 + 1480);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.nw_frag = kFragAny;
    c.key.tp_src = Be16(5000);
    c.key.tp_dst = Be16(6000);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  {
    Case c{"frag4_middle", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 17, 0x0a000001, 0x0a000002, {.frag = 0x2000 | 185});
    AddUdp(c.frame, 5000, 6000, 40);  // looks like UDP but is not a header
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.nw_frag = kFragAny | kFragLater;
    c.l3 = 14;
    cs.push_back(c);
  }
  {
    Case c{"frag4_last", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 6, 0x0a000001, 0x0a000002, {.frag = 370});
    c.frame.Zeros(3);  // a 3-byte tail: too short for TCP, but it is not parsed
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 6;
    c.key.nw_ttl = 64;
    c.key.nw_frag = kFragAny | kFragLater;
    c.l3 = 14;
    cs.push_back(c);
  }
  {
    Case c{"df_not_fragment", Eth(kMacA, kMacB, 0x0800), {}};
    size_t l3 = AddIp4(c.frame, 17, 0x0a000001, 0x0a000002, {.frag = 0x4000});
    AddUdp(c.frame, 1, 2, 0);
    FinishIp4(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x0800);
    c.key.nw_src = Be32(0x0a000001);
    c.key.nw_dst = Be32(0x0a000002);
    c.key.nw_proto = 17;
    c.key.nw_ttl = 64;
    c.key.tp_src = Be16(1);
    c.key.tp_dst = Be16(2);
    c.l3 = 14;
    c.l4 = 34;
    cs.push_back(c);
  }
  // UDP/IPv6 with traffic class and flow label.
  {
    Case c{"udp6", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 17, kIp6A, kIp6B, 0xb9, 0xabcde, 5);
    AddUdp(c.frame, 546, 547, 12);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.ipv6_label = Be32(0xabcde);
    c.key.nw_tos = 0xb9;
    c.key.nw_ttl = 5;
    c.key.nw_proto = 17;
    c.key.tp_src = Be16(546);
    c.key.tp_dst = Be16(547);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // UDP/IPv6 followed by a trailer beyond the payload length.
  {
    Case c{"udp6_trailer", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 17, kIp6B, kIp6A);
    AddUdp(c.frame, 9, 10, 0);
    FinishIp6(c.frame, l3);
    c.frame.U32(0xdeadbeef);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6B.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6A.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 17;
    c.key.tp_src = Be16(9);
    c.key.tp_dst = Be16(10);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // TCP/IPv6 (FIN|ACK) behind a VLAN tag.
  {
    Case c{"vlan_tcp6", Eth(kMacA, kMacB, 0x8100), {}};
    c.frame.U16(0x2064).U16(0x86dd);
    size_t l3 = AddIp6(c.frame, 6, kIp6A, kIp6B, 0, 0xfffff, 255);
    AddTcp(c.frame, 8080, 33000, 0x5011);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    c.key.vlan[0] = {Be16(0x8100), Be16(0x3064)};
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.ipv6_label = Be32(0xfffff);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 6;
    c.key.tp_src = Be16(8080);
    c.key.tp_dst = Be16(33000);
    c.key.tcp_flags = Be16(0x011);
    c.l3 = 18;
    c.l4 = 58;
    cs.push_back(c);
  }
  // ICMPv6 echo request.
  {
    Case c{"icmp6_echo", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 58, kIp6A, kIp6B);
    c.frame.U8(128).U8(0).U16(0).U16(1).U16(2).Zeros(56);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(128);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // A real-world neighbour solicitation with a source link-layer option.
  const Ip6 kLinkLocal = {0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                          0x50, 0x54, 0x00, 0xff, 0xfe, 0xab, 0xcd, 0xef};
  const Ip6 kSolicited = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x01};
  {
    Case c{"nd_ns_sll", {}, {}};
    c.frame.Hex(
        "3333ff000001 525400abcdef 86dd"
        "6000 0000 0020 3a ff fe80000000000000505400fffeabcdef ff0200000000000000000001ff000001"
        "87 00 0e85 00000000 20010db8000000000000000000000001"
        "01 01 525400abcdef");
    c.key = BaseKey({0x33, 0x33, 0xff, 0x00, 0x00, 0x01}, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kLinkLocal.data(), 16);
    std::memcpy(c.key.ipv6_dst, kSolicited.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(135);
    std::memcpy(c.key.nd_target, kIp6A.data(), 16);
    c.key.arp_sha = E(kMacB);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // Neighbour advertisement (solicited, override) with a target option.
  {
    Case c{"nd_na_tll", Eth(kMacB, kMacA, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 58, kIp6A, kLinkLocal, 0, 0, 255);
    c.frame.U8(136).U8(0).U16(0).U32(0x60000000).Arr(kIp6A).U8(2).U8(1).Arr(kMacA);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacB, kMacA, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kLinkLocal.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(136);
    std::memcpy(c.key.nd_target, kIp6A.data(), 16);
    c.key.arp_tha = E(kMacA);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // Duplicate address detection: an NS from :: without options.
  {
    Case c{"nd_ns_dad", Eth({0x33, 0x33, 0xff, 0, 0, 1}, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 58, Ip6{}, kSolicited, 0, 0, 255);
    c.frame.U8(135).U8(0).U16(0).U32(0).Arr(kIp6A);
    FinishIp6(c.frame, l3);
    c.key = BaseKey({0x33, 0x33, 0xff, 0, 0, 1}, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_dst, kSolicited.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(135);
    std::memcpy(c.key.nd_target, kIp6A.data(), 16);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // NS with a nonce option, a 16-byte "link-layer" option (not Ethernet:
  // skipped), then the SLL option: only the Ethernet-sized SLL is kept.
  {
    Case c{"nd_ns_other_options", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 58, kIp6B, kSolicited, 0, 0, 255);
    c.frame.U8(135).U8(0).U16(0).U32(0).Arr(kIp6A);
    c.frame.U8(14).U8(1).Hex("010203040506");
    c.frame.U8(1).U8(2).Hex("0a0b0c0d0e0f 00000000 00000000");
    c.frame.U8(1).U8(1).Arr(kMacC);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6B.data(), 16);
    std::memcpy(c.key.ipv6_dst, kSolicited.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(135);
    std::memcpy(c.key.nd_target, kIp6A.data(), 16);
    c.key.arp_sha = E(kMacC);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // NS with a non-zero code is not neighbour discovery: no ND fields, and
  // its (malformed) options are not looked at.
  {
    Case c{"nd_ns_code1", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 58, kIp6B, kIp6A, 0, 0, 255);
    c.frame.U8(135).U8(1).U16(0).U32(0).Arr(kIp6A).U8(1).U8(0).Zeros(6);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6B.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6A.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(135);
    c.key.tp_dst = Be16(1);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // Router solicitation with an SLL option: type/code only.
  {
    Case c{"icmp6_router_solicit", Eth({0x33, 0x33, 0, 0, 0, 2}, kMacB, 0x86dd), {}};
    const Ip6 all_routers = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
    size_t l3 = AddIp6(c.frame, 58, kLinkLocal, all_routers, 0, 0, 255);
    c.frame.U8(133).U8(0).U16(0).U32(0).U8(1).U8(1).Arr(kMacB);
    FinishIp6(c.frame, l3);
    c.key = BaseKey({0x33, 0x33, 0, 0, 0, 2}, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kLinkLocal.data(), 16);
    std::memcpy(c.key.ipv6_dst, all_routers.data(), 16);
    c.key.nw_ttl = 255;
    c.key.nw_proto = 58;
    c.key.tp_src = Be16(133);
    c.l3 = 14;
    c.l4 = 54;
    cs.push_back(c);
  }
  // IPv6 hop-by-hop (PadN) + fragment header (first fragment) + UDP.
  {
    Case c{"ipv6_hbh_frag_udp", {}, {}};
    c.frame.Hex(
        "525400123456 525400abcdef 86dd"
        "6000 0000 0020 00 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
        "2c 00 0104 00000000"
        "11 00 0001 12345678"
        "14e9 14e9 0018 0000 0000000000000000");
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 17;
    c.key.nw_frag = kFragAny;
    c.key.tp_src = c.key.tp_dst = Be16(5353);
    c.l3 = 14;
    c.l4 = 70;
    cs.push_back(c);
  }
  // Routing header (24 bytes) + destination options (16 bytes) + TCP.
  {
    Case c{"ipv6_rt_dst_tcp", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 43, kIp6A, kIp6B);
    c.frame.U8(60).U8(2).U8(2).U8(1).U32(0).Arr(kIp6B);  // type 2 routing header
    c.frame.U8(6).U8(1).U8(1).U8(12).Zeros(12);          // dest options, PadN
    AddTcp(c.frame, 179, 50179, 0x5018);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 6;
    c.key.tp_src = Be16(179);
    c.key.tp_dst = Be16(50179);
    c.key.tcp_flags = Be16(0x018);
    c.l3 = 14;
    c.l4 = 14 + 40 + 24 + 16;
    cs.push_back(c);
  }
  // A 48-byte hop-by-hop header (length 5): router alert + a long PadN.
  {
    Case c{"ipv6_hbh_long_udp", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 0, kIp6A, kIp6B, 0, 0, 1);
    c.frame.U8(17).U8(5).U8(5).U8(2).U16(0).U8(1).U8(40).Zeros(40);
    AddUdp(c.frame, 521, 521, 24);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 1;
    c.key.nw_proto = 17;
    c.key.tp_src = c.key.tp_dst = Be16(521);
    c.l3 = 14;
    c.l4 = 14 + 40 + 48;
    cs.push_back(c);
  }
  // Authentication header (payload length 4 -> (4 + 2) * 4 = 24 bytes) + TCP.
  {
    Case c{"ipv6_ah_tcp", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 51, kIp6A, kIp6B);
    c.frame.U8(6).U8(4).U16(0).U32(0x100).U32(1).Zeros(12);
    AddTcp(c.frame, 1, 2, 0x5004);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 6;
    c.key.tp_src = Be16(1);
    c.key.tp_dst = Be16(2);
    c.key.tcp_flags = Be16(0x004);
    c.l3 = 14;
    c.l4 = 14 + 40 + 24;
    cs.push_back(c);
  }
  // A later IPv6 fragment: nw_proto is the fragment's next header, no L4.
  {
    Case c{"ipv6_frag_later", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 44, kIp6A, kIp6B);
    c.frame.U8(17).U8(0).U16(0x05a8 | 1).U32(0xcafe);  // offset 181 * 8, M
    AddUdp(c.frame, 7, 7, 8);                          // payload bytes, not a header
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 17;
    c.key.nw_frag = kFragAny | kFragLater;
    c.l3 = 14;
    cs.push_back(c);
  }
  // An atomic fragment (offset 0, M clear) is still a fragment.
  {
    Case c{"ipv6_atomic_frag", Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, 44, kIp6A, kIp6B);
    c.frame.U8(17).U8(0).U16(0).U32(1);
    AddUdp(c.frame, 100, 200, 0);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = 17;
    c.key.nw_frag = kFragAny;
    c.key.tp_src = Be16(100);
    c.key.tp_dst = Be16(200);
    c.l3 = 14;
    c.l4 = 62;
    cs.push_back(c);
  }
  // ESP, "no next header", and ICMP(v4) in IPv6: nw_proto only.
  for (uint8_t proto : {uint8_t{50}, uint8_t{59}, uint8_t{1}}) {
    Case c{"ipv6_proto_" + std::to_string(proto), Eth(kMacA, kMacB, 0x86dd), {}};
    size_t l3 = AddIp6(c.frame, proto, kIp6A, kIp6B);
    if (proto != 59) c.frame.U8(8).U8(0).U16(0).U32(0x12345678).Zeros(8);
    FinishIp6(c.frame, l3);
    c.key = BaseKey(kMacA, kMacB, 0x86dd);
    std::memcpy(c.key.ipv6_src, kIp6A.data(), 16);
    std::memcpy(c.key.ipv6_dst, kIp6B.data(), 16);
    c.key.nw_ttl = 64;
    c.key.nw_proto = proto;
    c.l3 = 14;
    cs.push_back(c);
  }
  return cs;
}

}  // namespace flow_parse_test
}  // namespace sluice::dp
