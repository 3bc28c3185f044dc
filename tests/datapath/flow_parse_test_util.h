// Shared helpers for the ParseFlow tests (flow_parse_*_test.cc): frame
// builders, expected-key helpers and the exact-size parse wrapper.
//
// Frames are built byte by byte here (or written out as hex dumps of
// real-world-shaped frames, cross-checked with tcpdump when written), not
// with the parser's own wire structs, so that a wrong struct layout in
// datapath/flow/proto.h cannot hide a wrong parse. Expected keys are spelled
// out field by field and compared bitwise with the whole parsed key, which
// also proves every other byte is zero.

#pragma once

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
namespace flow_parse_test {

using Mac = std::array<uint8_t, 6>;
using Ip6 = std::array<uint8_t, 16>;

inline constexpr Mac kMacA = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr Mac kMacB = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
inline constexpr Mac kMacC = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
inline constexpr Ip6 kIp6A = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
inline constexpr Ip6 kIp6B = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
inline constexpr uint32_t kPort = 7;

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

inline Bytes Eth(const Mac& dst, const Mac& src, uint16_t type) {
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
inline size_t AddIp4(Bytes& b, uint8_t proto, uint32_t src, uint32_t dst, const Ip4Opts& o = {}) {
  size_t at = b.size();
  b.U8(static_cast<uint8_t>(0x40 | (20 + o.options.size()) / 4)).U8(o.tos).U16(0).U16(0x1234);
  b.U16(o.frag).U8(o.ttl).U8(proto).U16(0).U32(src).U32(dst);
  b.v.insert(b.v.end(), o.options.begin(), o.options.end());
  return at;
}

inline void FinishIp4(Bytes& b, size_t l3, size_t total) {
  b.Put16(l3 + 2, static_cast<uint16_t>(total));
  size_t hlen = (b.v[l3] & 0x0f) * 4u;
  uint32_t sum = 0;
  for (size_t i = 0; i < hlen; i += 2) sum += b.v[l3 + i] << 8 | b.v[l3 + i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  b.Put16(l3 + 10, static_cast<uint16_t>(~sum));
}
inline void FinishIp4(Bytes& b, size_t l3) { FinishIp4(b, l3, b.size() - l3); }

inline size_t AddIp6(Bytes& b, uint8_t next, const Ip6& src, const Ip6& dst, uint8_t tc = 0,
                     uint32_t label = 0, uint8_t hlim = 64) {
  size_t at = b.size();
  b.U32(6u << 28 | uint32_t{tc} << 20 | label).U16(0).U8(next).U8(hlim).Arr(src).Arr(dst);
  return at;
}
inline void FinishIp6(Bytes& b, size_t l3) {
  b.Put16(l3 + 4, static_cast<uint16_t>(b.size() - l3 - 40));
}

inline Bytes& AddUdp(Bytes& b, uint16_t sp, uint16_t dp, size_t payload) {
  b.U16(sp).U16(dp).U16(static_cast<uint16_t>(8 + payload)).U16(0);
  for (size_t i = 0; i < payload; ++i) b.U8(static_cast<uint8_t>(i * 7 + 1));
  return b;
}

inline Bytes& AddTcp(Bytes& b, uint16_t sp, uint16_t dp, uint16_t off_flags) {
  return b.U16(sp).U16(dp).U32(0x01020304).U32(0x05060708).U16(off_flags).U16(0xffff).U16(0).U16(0);
}

// --- Expected keys ----------------------------------------------------------

inline FlowKey BaseKey(const Mac& dst, const Mac& src, uint16_t eth_type) {
  FlowKey k;
  k.Clear();
  k.in_port = kPort;
  std::memcpy(k.eth_dst.b, dst.data(), 6);
  std::memcpy(k.eth_src.b, src.data(), 6);
  k.eth_type = Be16(eth_type);
  return k;
}

inline EthAddr E(const Mac& m) {
  EthAddr e;
  std::memcpy(e.b, m.data(), 6);
  return e;
}

inline std::string Dump(const FlowKey& k) {
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
inline Parsed ParseExact(const uint8_t* data, size_t len, uint32_t in_port = kPort) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[len]);
  if (len) std::memcpy(copy.get(), data, len);
  Parsed p;
  std::memset(&p.key, 0xa5, sizeof(p.key));  // prove the parser clears it
  p.layout.l3_ofs = 1234;
  p.layout.l4_ofs = 4321;
  p.status = ParseFlow(copy.get(), static_cast<uint32_t>(len), in_port, &p.key, &p.layout);
  return p;
}
inline Parsed ParseExact(const Bytes& b) { return ParseExact(b.v.data(), b.size()); }

// Any offset the parser reports, even with an error status, must leave room
// for the smallest header at that layer inside the frame.
inline void ExpectOffsetsInBounds(const Parsed& p, size_t len) {
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

inline Bytes Ip4Frame(uint8_t proto, size_t l4_bytes, size_t pad_to = 0) {
  Bytes b = Eth(kMacA, kMacB, 0x0800);
  size_t l3 = AddIp4(b, proto, 0x0a000001, 0x0a000002);
  for (size_t i = 0; i < l4_bytes; ++i) b.U8(0x50);  // 0x50: TCP data offset 5
  FinishIp4(b, l3);
  b.PadTo(pad_to);
  return b;
}

inline Bytes Ip6Frame(uint8_t next, const Bytes& payload) {
  Bytes b = Eth(kMacA, kMacB, 0x86dd);
  size_t l3 = AddIp6(b, next, kIp6A, kIp6B, 0, 0, 255);
  b.v.insert(b.v.end(), payload.v.begin(), payload.v.end());
  FinishIp6(b, l3);
  return b;
}

inline Bytes NdFrame(uint8_t type, const Bytes& options) {
  Bytes body;
  body.U8(type).U8(0).U16(0).U32(0).Arr(kIp6A);
  body.v.insert(body.v.end(), options.v.begin(), options.v.end());
  return Ip6Frame(58, body);
}

}  // namespace flow_parse_test
}  // namespace sluice::dp
