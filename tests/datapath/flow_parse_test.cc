// Tests for ParseFlow (datapath/flow/parse.h).
//
// Frames are built byte by byte here (or written out as hex dumps of
// real-world-shaped frames, cross-checked with tcpdump when written), not
// with the parser's own wire structs, so that a wrong struct layout in
// datapath/flow/proto.h cannot hide a wrong parse. Expected keys are spelled
// out field by field and compared bitwise with the whole parsed key, which
// also proves every other byte is zero.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/flow/parse.h"

namespace sluice::dp {
namespace {

using Mac = std::array<uint8_t, 6>;
using Ip6 = std::array<uint8_t, 16>;

constexpr Mac kMacA = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kMacB = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
constexpr Mac kMacC = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
constexpr Ip6 kIp6A = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
constexpr Ip6 kIp6B = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
constexpr uint32_t kPort = 7;

// --- Frame building ---------------------------------------------------------

struct Bytes {
  std::vector<uint8_t> v;

  size_t size() const { return v.size(); }
  Bytes& U8(uint8_t x) {
    v.push_back(x);
    return *this;
  }
  Bytes& U16(uint16_t x) { return U8(static_cast<uint8_t>(x >> 8)).U8(static_cast<uint8_t>(x)); }
  Bytes& U32(uint32_t x) {
    return U16(static_cast<uint16_t>(x >> 16)).U16(static_cast<uint16_t>(x));
  }
  template <size_t N>
  Bytes& Arr(const std::array<uint8_t, N>& a) {
    v.insert(v.end(), a.begin(), a.end());
    return *this;
  }
  Bytes& Zeros(size_t n) {
    v.insert(v.end(), n, 0);
    return *this;
  }
  Bytes& Hex(std::string_view s) {
    int hi = -1;
    for (char c : s) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) continue;
      if (hi < 0) {
        hi = d;
      } else {
        U8(static_cast<uint8_t>(hi << 4 | d));
        hi = -1;
      }
    }
    return *this;
  }
  void Put16(size_t at, uint16_t x) {
    v[at] = static_cast<uint8_t>(x >> 8);
    v[at + 1] = static_cast<uint8_t>(x);
  }
  Bytes& PadTo(size_t n) {
    if (v.size() < n) Zeros(n - v.size());
    return *this;
  }
};

Bytes Eth(const Mac& dst, const Mac& src, uint16_t type) {
  Bytes b;
  b.Arr(dst).Arr(src).U16(type);
  return b;
}

struct Ip4Opts {
  uint8_t tos = 0;
  uint8_t ttl = 64;
  uint16_t frag = 0;  // flags | offset word
  std::vector<uint8_t> options = {};
};

// Appends an IPv4 header; FinishIp4 fills in total length and checksum.
size_t AddIp4(Bytes& b, uint8_t proto, uint32_t src, uint32_t dst, const Ip4Opts& o = {}) {
  size_t at = b.size();
  b.U8(static_cast<uint8_t>(0x40 | (20 + o.options.size()) / 4)).U8(o.tos).U16(0).U16(0x1234);
  b.U16(o.frag).U8(o.ttl).U8(proto).U16(0).U32(src).U32(dst);
  b.v.insert(b.v.end(), o.options.begin(), o.options.end());
  return at;
}

void FinishIp4(Bytes& b, size_t l3, size_t total) {
  b.Put16(l3 + 2, static_cast<uint16_t>(total));
  size_t hlen = (b.v[l3] & 0x0f) * 4u;
  uint32_t sum = 0;
  for (size_t i = 0; i < hlen; i += 2) sum += b.v[l3 + i] << 8 | b.v[l3 + i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  b.Put16(l3 + 10, static_cast<uint16_t>(~sum));
}
void FinishIp4(Bytes& b, size_t l3) { FinishIp4(b, l3, b.size() - l3); }

size_t AddIp6(Bytes& b, uint8_t next, const Ip6& src, const Ip6& dst, uint8_t tc = 0,
              uint32_t label = 0, uint8_t hlim = 64) {
  size_t at = b.size();
  b.U32(6u << 28 | uint32_t{tc} << 20 | label).U16(0).U8(next).U8(hlim).Arr(src).Arr(dst);
  return at;
}
void FinishIp6(Bytes& b, size_t l3) { b.Put16(l3 + 4, static_cast<uint16_t>(b.size() - l3 - 40)); }

Bytes& AddUdp(Bytes& b, uint16_t sp, uint16_t dp, size_t payload) {
  b.U16(sp).U16(dp).U16(static_cast<uint16_t>(8 + payload)).U16(0);
  for (size_t i = 0; i < payload; ++i) b.U8(static_cast<uint8_t>(i * 7 + 1));
  return b;
}

Bytes& AddTcp(Bytes& b, uint16_t sp, uint16_t dp, uint16_t off_flags) {
  return b.U16(sp).U16(dp).U32(0x01020304).U32(0x05060708).U16(off_flags).U16(0xffff).U16(0).U16(0);
}

// --- Expected keys ----------------------------------------------------------

FlowKey BaseKey(const Mac& dst, const Mac& src, uint16_t eth_type) {
  FlowKey k;
  k.Clear();
  k.in_port = kPort;
  std::memcpy(k.eth_dst.b, dst.data(), 6);
  std::memcpy(k.eth_src.b, src.data(), 6);
  k.eth_type = Be16(eth_type);
  return k;
}

EthAddr E(const Mac& m) {
  EthAddr e;
  std::memcpy(e.b, m.data(), 6);
  return e;
}

std::string Dump(const FlowKey& k) {
  std::string s;
  char buf[32];
  for (int i = 0; i < kFlowWords; ++i) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&k) + i * 8;
    std::snprintf(buf, sizeof(buf), "  w%-2d %02x%02x%02x%02x %02x%02x%02x%02x\n", i, p[0], p[1],
                  p[2], p[3], p[4], p[5], p[6], p[7]);
    s += buf;
  }
  return s;
}

struct Parsed {
  ParseStatus status;
  FlowKey key;
  PacketLayout layout;
};

// Parses from an exactly sized heap copy so that ASan reports any read past
// the end.
Parsed ParseExact(const uint8_t* data, size_t len, uint32_t in_port = kPort) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[len]);
  if (len) std::memcpy(copy.get(), data, len);
  Parsed p;
  std::memset(&p.key, 0xa5, sizeof(p.key));  // prove the parser clears it
  p.layout.l3_ofs = 1234;
  p.layout.l4_ofs = 4321;
  p.status = ParseFlow(copy.get(), static_cast<uint32_t>(len), in_port, &p.key, &p.layout);
  return p;
}
Parsed ParseExact(const Bytes& b) { return ParseExact(b.v.data(), b.size()); }

// Any offset the parser reports, even with an error status, must leave room
// for the smallest header at that layer inside the frame.
void ExpectOffsetsInBounds(const Parsed& p, size_t len) {
  if (p.layout.l3_ofs != kNoOffset) {
    EXPECT_GE(p.layout.l3_ofs, 14u);
    EXPECT_LE(p.layout.l3_ofs + 20u, len);  // 20: IPv4 (ARP 28, IPv6 40)
  }
  if (p.layout.l4_ofs != kNoOffset) {
    EXPECT_NE(p.layout.l3_ofs, kNoOffset);
    EXPECT_GT(p.layout.l4_ofs, p.layout.l3_ofs);
    EXPECT_LE(p.layout.l4_ofs + 4u, len);  // 4: ICMPv6 (the smallest L4 header)
  }
}

// --- Valid frames with their expected keys ----------------------------------

struct Case {
  std::string name;
  Bytes frame;
  FlowKey key;
  uint16_t l3 = kNoOffset;
  uint16_t l4 = kNoOffset;
};

std::vector<Case> ValidCases() {
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

TEST(ParseFlowTest, ValidFramesGiveExpectedKeysAndOffsets) {
  for (const Case& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    Parsed p = ParseExact(c.frame);
    EXPECT_EQ(p.status, ParseStatus::kOk) << ParseStatusName(p.status);
    EXPECT_TRUE(p.key == c.key) << "got:\n" << Dump(p.key) << "want:\n" << Dump(c.key);
    EXPECT_EQ(p.layout.l3_ofs, c.l3);
    EXPECT_EQ(p.layout.l4_ofs, c.l4);
  }
}

// Checks the expected keys themselves against the raw frame bytes at the
// expected offsets, so that a wrong hand-written key and a wrong parser
// cannot agree by accident on where a field comes from.
TEST(ParseFlowTest, ExpectedOffsetsPointAtTheHeaders) {
  for (const Case& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    const auto& v = c.frame.v;
    if (c.l3 != kNoOffset) {
      uint16_t type = static_cast<uint16_t>(v[c.l3 - 2] << 8 | v[c.l3 - 1]);
      EXPECT_EQ(Be16(type), c.key.eth_type);
      if (type == 0x0800) {
        EXPECT_EQ(v[c.l3] >> 4, 4);
        EXPECT_EQ(0, std::memcmp(&c.key.nw_src, &v[c.l3 + 12], 8));
      } else if (type == 0x86dd) {
        EXPECT_EQ(v[c.l3] >> 4, 6);
        EXPECT_EQ(0, std::memcmp(c.key.ipv6_src, &v[c.l3 + 8], 32));
      } else {
        EXPECT_EQ(0, std::memcmp(&c.key.nw_src, &v[c.l3 + 14], 4));
        EXPECT_EQ(0, std::memcmp(&c.key.nw_dst, &v[c.l3 + 24], 4));
      }
    }
    if (c.l4 != kNoOffset && c.key.nw_proto != 1 && c.key.nw_proto != 58) {
      EXPECT_EQ(0, std::memcmp(&c.key.tp_src, &v[c.l4], 4));
    }
  }
}

// --- Malformed frames -------------------------------------------------------

struct BadCase {
  std::string name;
  Bytes frame;
  ParseStatus want;
};

Bytes Ip4Frame(uint8_t proto, size_t l4_bytes, size_t pad_to = 0) {
  Bytes b = Eth(kMacA, kMacB, 0x0800);
  size_t l3 = AddIp4(b, proto, 0x0a000001, 0x0a000002);
  for (size_t i = 0; i < l4_bytes; ++i) b.U8(0x50);  // 0x50: TCP data offset 5
  FinishIp4(b, l3);
  b.PadTo(pad_to);
  return b;
}

Bytes Ip6Frame(uint8_t next, const Bytes& payload) {
  Bytes b = Eth(kMacA, kMacB, 0x86dd);
  size_t l3 = AddIp6(b, next, kIp6A, kIp6B, 0, 0, 255);
  b.v.insert(b.v.end(), payload.v.begin(), payload.v.end());
  FinishIp6(b, l3);
  return b;
}

Bytes NdFrame(uint8_t type, const Bytes& options) {
  Bytes body;
  body.U8(type).U8(0).U16(0).U32(0).Arr(kIp6A);
  body.v.insert(body.v.end(), options.v.begin(), options.v.end());
  return Ip6Frame(58, body);
}

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

// --- Properties -------------------------------------------------------------

// Every truncation of every valid frame parses without reading past its end
// (the exactly sized heap copy makes ASan catch it), and a truncation is
// accepted only when it cut nothing the parser uses: then it must give the
// very same key and offsets as the whole frame.
TEST(ParseFlowTest, TruncationsNeverOverreadAndNeverInventFields) {
  for (const Case& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    Parsed full = ParseExact(c.frame);
    ASSERT_EQ(full.status, ParseStatus::kOk);
    for (size_t t = 0; t < c.frame.size(); ++t) {
      SCOPED_TRACE("truncated to " + std::to_string(t));
      Parsed p = ParseExact(c.frame.v.data(), t);
      ExpectOffsetsInBounds(p, t);
      EXPECT_EQ(p.key.in_port, kPort);
      if (p.status == ParseStatus::kOk) {
        EXPECT_TRUE(p.key == full.key) << "got:\n"
                                       << Dump(p.key) << "full frame:\n"
                                       << Dump(full.key);
        EXPECT_EQ(p.layout.l3_ofs, full.layout.l3_ofs);
        EXPECT_EQ(p.layout.l4_ofs, full.layout.l4_ofs);
      }
      if (t < 14) {
        EXPECT_EQ(p.status, ParseStatus::kTooShort);
      }
    }
  }
}

// Invariant 3 (and 2): the key depends only on the bytes and in_port, not
// on what the key or layout held before.
TEST(ParseFlowTest, Deterministic) {
  for (const Case& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    FlowKey k1, k2;
    PacketLayout l1, l2;
    std::memset(&k1, 0x00, sizeof(k1));
    std::memset(&k2, 0xff, sizeof(k2));
    l2.l3_ofs = 3;
    l2.l4_ofs = 5;
    ASSERT_EQ(ParseFlow(c.frame.v.data(), static_cast<uint32_t>(c.frame.size()), 42, &k1, &l1),
              ParseStatus::kOk);
    ASSERT_EQ(ParseFlow(c.frame.v.data(), static_cast<uint32_t>(c.frame.size()), 42, &k2, &l2),
              ParseStatus::kOk);
    EXPECT_TRUE(k1 == k2);
    EXPECT_EQ(l1.l3_ofs, l2.l3_ofs);
    EXPECT_EQ(l1.l4_ofs, l2.l4_ofs);
    EXPECT_EQ(k1.in_port, 42u);
    FlowKey k3 = k1;
    k3.in_port = kPort;
    EXPECT_TRUE(k3 == c.key);  // in_port is the only difference
  }
}

// Random mutations of the valid frames (byte flips, length fields bent,
// random lengths): no overread (ASan), offsets in bounds, deterministic, and
// an accepted frame's offsets are consistent with its key.
TEST(ParseFlowTest, RandomMutationsStayInBounds) {
  const uint64_t seed = 0x5eed'0001;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<Case> cases = ValidCases();
  int ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> f = cases[rng() % cases.size()].frame.v;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
    if (rng() % 8 == 0) f.resize(f.size() + rng() % 16, 0);
    Parsed a = ParseExact(f.data(), f.size());
    Parsed b = ParseExact(f.data(), f.size());
    ASSERT_TRUE(a.key == b.key && a.status == b.status) << "iteration " << iter;
    ExpectOffsetsInBounds(a, f.size());
    if (a.status == ParseStatus::kOk) {
      ++ok;
      const uint16_t et = a.key.eth_type.host();
      if (a.layout.l3_ofs != kNoOffset) {
        EXPECT_TRUE(et == 0x0800 || et == 0x86dd || et == 0x0806 || et == 0x8035) << et;
      }
      if (a.layout.l4_ofs != kNoOffset) {
        EXPECT_FALSE(a.key.nw_frag & kFragLater);
      }
      if (a.key.nw_frag & kFragLater) {
        EXPECT_EQ(a.key.tp_src, Be16(0));
        EXPECT_EQ(a.key.tp_dst, Be16(0));
      }
    }
  }
  EXPECT_GT(ok, 1000);  // the mutations do exercise the accepting paths
}

// Fully random bytes, with an Ethernet type forced to an interesting value
// half the time.
TEST(ParseFlowTest, RandomBytesStayInBounds) {
  const uint64_t seed = 0x5eed'0002;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const uint16_t types[] = {0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x8035};
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> f(rng() % 200);
    for (auto& x : f) x = static_cast<uint8_t>(rng());
    if (f.size() >= 14 && rng() % 2) {
      uint16_t t = types[rng() % std::size(types)];
      f[12] = static_cast<uint8_t>(t >> 8);
      f[13] = static_cast<uint8_t>(t);
      if (f.size() > 14 && t == 0x0800) f[14] = static_cast<uint8_t>(0x45 + rng() % 3);
      if (f.size() > 14 && t == 0x86dd) f[14] = 0x60;
    }
    Parsed p = ParseExact(f.data(), f.size());
    ExpectOffsetsInBounds(p, f.size());
    ASSERT_LT(static_cast<int>(p.status), static_cast<int>(ParseStatus::kCount))
        << "iteration " << iter;
  }
}

// A long IPv6 extension-header chain in a jumbo frame is walked to its end.
TEST(ParseFlowTest, LongExtensionChain) {
  Bytes chain;
  const int n = 1000;
  for (int i = 0; i < n; ++i) chain.U8(i + 1 < n ? 60 : 17).U8(0).Zeros(6);
  AddUdp(chain, 11, 12, 0);
  Bytes b = Ip6Frame(0, chain);
  Parsed p = ParseExact(b);
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key.nw_proto, 17);
  EXPECT_EQ(p.key.tp_src, Be16(11));
  EXPECT_EQ(p.layout.l4_ofs, 14 + 40 + 8 * n);
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
