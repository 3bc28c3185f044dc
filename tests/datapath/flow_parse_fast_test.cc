// ParseFlow's fast path (untagged Ethernet/IPv4/UDP|TCP) against the general
// parser, ParseFlowGeneric: for random frames of the fast path's shape and
// for random mutations of them (every header byte the fast path decides on:
// EtherType, version/IHL, total length, flags/fragment offset, protocol, TCP
// data offset, and truncation), both must give the same status, the same key
// bytes and the same layout.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "datapath/flow/parse.h"

namespace sluice::dp {
namespace {

std::vector<uint8_t> RandomFrame(std::mt19937_64& rng) {
  const bool tcp = rng() & 1;
  const size_t l4 = tcp ? 20 + 4 * (rng() % 3) : 8;
  const size_t payload = rng() % 40;
  const size_t pad = rng() % 4 == 0 ? rng() % 8 : 0;  // Ethernet padding after the datagram
  std::vector<uint8_t> f(14 + 20 + l4 + payload + pad);
  for (auto& b : f) b = static_cast<uint8_t>(rng());
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const size_t total = 20 + l4 + payload;
  ip[2] = static_cast<uint8_t>(total >> 8);
  ip[3] = static_cast<uint8_t>(total);
  ip[6] &= 0x40;  // DF may be set; MF and offset clear
  ip[7] = 0;
  ip[9] = tcp ? 6 : 17;
  if (tcp) ip[20 + 12] = static_cast<uint8_t>((l4 / 4) << 4 | (ip[20 + 12] & 0x0f));
  return f;
}

void Mutate(std::mt19937_64& rng, std::vector<uint8_t>& f) {
  static const size_t kHot[] = {12, 13, 14, 16, 17, 20, 21, 23, 46, 47};
  switch (rng() % 4) {
    case 0:
      f[kHot[rng() % std::size(kHot)] % f.size()] = static_cast<uint8_t>(rng());
      break;
    case 1:
      f.erase(f.begin() + static_cast<std::ptrdiff_t>(rng() % (f.size() + 1)), f.end());
      break;
    case 2:
      f[kHot[rng() % std::size(kHot)] % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    default:
      f[rng() % f.size()] = static_cast<uint8_t>(rng());
      break;
  }
}

void ExpectSame(const std::vector<uint8_t>& f, uint64_t seed, int iter) {
  alignas(64) FlowKey a, b;
  std::memset(&a, 0xa5, sizeof(a));
  std::memset(&b, 0x5a, sizeof(b));
  PacketLayout la, lb;
  const ParseStatus sa = ParseFlow(f.data(), static_cast<uint32_t>(f.size()), 9, &a, &la);
  const ParseStatus sb = ParseFlowGeneric(f.data(), static_cast<uint32_t>(f.size()), 9, &b, &lb);
  ASSERT_EQ(sa, sb) << "seed " << seed << " iteration " << iter;
  if (sa != ParseStatus::kOk) return;
  ASSERT_EQ(0, std::memcmp(&a, &b, sizeof(a))) << "seed " << seed << " iteration " << iter;
  ASSERT_EQ(la.l3_ofs, lb.l3_ofs) << "seed " << seed << " iteration " << iter;
  ASSERT_EQ(la.l4_ofs, lb.l4_ofs) << "seed " << seed << " iteration " << iter;
}

TEST(FlowParseFast, ValidFramesMatchGenericParser) {
  const uint64_t seed = 20261122;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) ExpectSame(RandomFrame(rng), seed, i);
}

TEST(FlowParseFast, MutatedFramesMatchGenericParser) {
  const uint64_t seed = 7;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 100000; ++i) {
    std::vector<uint8_t> f = RandomFrame(rng);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n && !f.empty(); ++k) Mutate(rng, f);
    ExpectSame(f, seed, i);
  }
}

TEST(FlowParseFast, TcpFlagsAndPortsLandInTheKey) {
  std::vector<uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[1] = 0xb8;  // DSCP EF
  ip[3] = 40;
  ip[8] = 63;
  ip[9] = 6;
  uint8_t* tcp = ip + 20;
  tcp[0] = 0x30;  // 12345
  tcp[1] = 0x39;
  tcp[3] = 80;
  tcp[12] = 0x5f;  // data offset 5, reserved bits 0xf
  tcp[13] = 0x12;  // SYN ACK
  alignas(64) FlowKey k;
  PacketLayout l;
  ASSERT_EQ(ParseFlow(f.data(), static_cast<uint32_t>(f.size()), 3, &k, &l), ParseStatus::kOk);
  EXPECT_EQ(k.tp_src.host(), 12345);
  EXPECT_EQ(k.tp_dst.host(), 80);
  EXPECT_EQ(k.tcp_flags.host(), 0x0f12);
  EXPECT_EQ(k.nw_tos, 0xb8);
  EXPECT_EQ(k.nw_ttl, 63);
  EXPECT_EQ(k.nw_proto, 6);
  EXPECT_EQ(k.in_port, 3u);
  EXPECT_EQ(l.l3_ofs, 14);
  EXPECT_EQ(l.l4_ofs, 34);
}

}  // namespace
}  // namespace sluice::dp
