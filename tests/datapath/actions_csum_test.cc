// Tests of the checksum helpers (datapath/actions/csum.h) against published
// vectors, real captured packets and independent reference implementations.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "datapath/actions/csum.h"

namespace sluice::dp {
namespace {

// Reference ones'-complement checksum: big-endian 16-bit words, summed and
// folded the slow, obvious way.
uint16_t RefChecksum(const std::vector<uint8_t>& b) {
  uint32_t s = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    s += static_cast<uint32_t>(b[i]) << 8 | (i + 1 < b.size() ? b[i + 1] : 0);
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<uint16_t>(~s);
}

// Reference CRC32c, bit by bit (reflected polynomial 0x82f63b78).
uint32_t RefCrc32c(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
  }
  return ~crc;
}

// RFC 1071 section 3's worked example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
TEST(CsumTest, Rfc1071Example) {
  const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(be16::FromRaw(CsumFold(CsumAdd(0, d, sizeof(d)))).host(), 0xddf2);
  EXPECT_EQ(CsumFinish(CsumAdd(0, d, sizeof(d))).host(), 0x220d);
}

TEST(CsumTest, OddLengthPadsWithZero) {
  const uint8_t d[] = {0x00, 0x01, 0xf2};
  EXPECT_EQ(be16::FromRaw(CsumFold(CsumAdd(0, d, sizeof(d)))).host(), 0xf201);
}

TEST(CsumTest, CsumAddMatchesReferenceOnRandomData) {
  const uint32_t seed = 0x5eed01;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937 rng(seed);
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> b(rng() % 1600);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    // Split at a random even point to exercise chaining of partial sums.
    const size_t cut = b.empty() ? 0 : (rng() % (b.size() + 1)) & ~size_t{1};
    uint64_t s = CsumAdd(0, b.data(), cut);
    s = CsumAdd(s, b.data() + cut, b.size() - cut);
    ASSERT_EQ(CsumFinish(s).host(), RefChecksum(b)) << "iter " << iter << " len " << b.size();
  }
}

// A real IPv4 header (the widely reproduced example of a captured UDP
// packet, 192.168.0.1 -> 192.168.0.199) with checksum 0xb861.
TEST(CsumTest, Ipv4HeaderKnownVector) {
  uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(Ipv4HeaderChecksum(ip, sizeof(ip)).host(), 0xb861);
  EXPECT_TRUE(Ipv4HeaderChecksumOk(ip, sizeof(ip)));
  ip[15] ^= 0x10;
  EXPECT_FALSE(Ipv4HeaderChecksumOk(ip, sizeof(ip)));
}

// Packets generated with scapy (Ether()/IP()/TCP() and friends), with the
// checksums scapy computed; the same vectors DPDK's checksum test uses.
const uint8_t kScapyV4Tcp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x7c, 0xcd, 0x7f, 0x00,
    0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x91, 0x7c, 0x00, 0x00,
};
const uint8_t kScapyV4Udp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7c, 0xcd, 0x7f, 0x00, 0x00, 0x01,
    0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
const uint8_t kScapyV4OptsUdp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x46, 0x00,
    0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7b, 0xc9, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
const uint8_t kScapyV6Tcp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x8f, 0x7d, 0x00, 0x00,
};
const uint8_t kScapyV6Udp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x87, 0x70, 0x78,
};

TEST(CsumTest, Ipv4TcpUdpKnownVectors) {
  struct Case {
    const uint8_t* f;
    size_t len;
    uint32_t ihl;
    uint8_t proto;
    uint16_t ip_csum;
    uint16_t l4_csum;
  } cases[] = {
      {kScapyV4Tcp, sizeof(kScapyV4Tcp), 20, csum::kIpProtoTcp, 0x7ccd, 0x917c},
      {kScapyV4Udp, sizeof(kScapyV4Udp), 20, csum::kIpProtoUdp, 0x7ccd, 0x896f},
      {kScapyV4OptsUdp, sizeof(kScapyV4OptsUdp), 24, csum::kIpProtoUdp, 0x7bc9, 0x896f},
  };
  for (const Case& c : cases) {
    const uint8_t* ip = c.f + 14;
    const uint8_t* l4 = ip + c.ihl;
    const uint32_t l4_len = static_cast<uint32_t>(c.len - 14 - c.ihl);
    EXPECT_EQ(Ipv4HeaderChecksum(ip, c.ihl).host(), c.ip_csum);
    EXPECT_TRUE(Ipv4HeaderChecksumOk(ip, c.ihl));
    EXPECT_EQ(Ipv4L4Checksum(ip, l4, l4_len, c.proto).host(), c.l4_csum);
    // Verification form: pseudo-header + segment (with its checksum) sums
    // to all ones.
    be32 src, dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    const uint64_t s = CsumAdd(Ipv4PseudoHeaderSum(src, dst, c.proto, l4_len), l4, l4_len);
    EXPECT_EQ(CsumFold(s), 0xffff);
  }
}

TEST(CsumTest, Ipv6TcpUdpKnownVectors) {
  EXPECT_EQ(Ipv6L4Checksum(kScapyV6Tcp + 14, kScapyV6Tcp + 54, 20, csum::kIpProtoTcp).host(),
            0x8f7d);
  EXPECT_EQ(Ipv6L4Checksum(kScapyV6Udp + 14, kScapyV6Udp + 54, 9, csum::kIpProtoUdp).host(),
            0x8770);
  const uint64_t s =
      CsumAdd(Ipv6PseudoHeaderSum(kScapyV6Udp + 22, kScapyV6Udp + 38, csum::kIpProtoUdp, 9),
              kScapyV6Udp + 54, 9);
  EXPECT_EQ(CsumFold(s), 0xffff);
}

TEST(CsumTest, L4ChecksumOffsets) {
  EXPECT_EQ(L4ChecksumOffset(csum::kIpProtoTcp), 16);
  EXPECT_EQ(L4ChecksumOffset(csum::kIpProtoUdp), 6);
  EXPECT_EQ(L4ChecksumOffset(csum::kIpProtoIcmpv6), 2);
  EXPECT_EQ(L4ChecksumOffset(csum::kIpProtoSctp), -1);
}

// A UDP checksum that computes to 0 is sent as 0xffff (0 means "none").
TEST(CsumTest, UdpZeroBecomesAllOnes) {
  uint8_t f[sizeof(kScapyV4Udp) + 1];
  std::memcpy(f, kScapyV4Udp, sizeof(kScapyV4Udp));
  f[sizeof(kScapyV4Udp)] = 0;
  uint8_t* ip = f + 14;
  uint8_t* udp = ip + 20;
  // Make the payload 2 bytes and choose them so that the full sum is all
  // ones: ip tot_len 30, udp len 10.
  ip[3] = 30;
  udp[5] = 10;
  udp[8] = udp[9] = 0;
  be32 src, dst;
  std::memcpy(&src, ip + 12, 4);
  std::memcpy(&dst, ip + 16, 4);
  udp[6] = udp[7] = 0;
  const uint16_t partial =
      CsumFold(CsumAdd(Ipv4PseudoHeaderSum(src, dst, csum::kIpProtoUdp, 10), udp, 10));
  const uint16_t fill = static_cast<uint16_t>(0xffff - partial);
  std::memcpy(udp + 8, &fill, 2);
  EXPECT_EQ(Ipv4L4Checksum(ip, udp, 10, csum::kIpProtoUdp).host(), 0xffff);
  // With 0xffff stored the segment still verifies (0xffff is -0).
  const uint16_t ones = 0xffff;
  std::memcpy(udp + 6, &ones, 2);
  EXPECT_EQ(CsumFold(CsumAdd(Ipv4PseudoHeaderSum(src, dst, csum::kIpProtoUdp, 10), udp, 10)),
            0xffff);
}

// RFC 1624 section 4: m = 0x5555 -> 0x3285 in a header whose other words sum
// to 0xcd7a. Eqn. 3 gives 0x0000 (what recomputation gives); eqn. 2 would
// wrongly give 0xffff.
TEST(CsumTest, Rfc1624Example) {
  EXPECT_EQ(CsumUpdate16(Be16(0xdd2f), Be16(0x5555), Be16(0x3285)).host(), 0x0000);
  const uint8_t before[] = {0xcd, 0x7a, 0x55, 0x55};
  const uint8_t after[] = {0xcd, 0x7a, 0x32, 0x85};
  EXPECT_EQ(CsumFinish(CsumAdd(0, before, 4)).host(), 0xdd2f);
  EXPECT_EQ(CsumFinish(CsumAdd(0, after, 4)).host(), 0x0000);
}

// Incremental update equals recomputation for random headers and changes.
TEST(CsumTest, IncrementalMatchesRecompute) {
  const uint32_t seed = 0x1624;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937 rng(seed);
  for (int iter = 0; iter < 20000; ++iter) {
    uint8_t h[60];
    for (auto& x : h) x = static_cast<uint8_t>(rng());
    const size_t len = 28 + 4 * (rng() % 9);  // room for a 16-byte field after the checksum
    h[10] = h[11] = 0;
    const be16 c0 = CsumFinish(CsumAdd(0, h, len));
    std::memcpy(h + 10, &c0, 2);
    // Change a 16-, 32- or 128-bit field at an even offset (not the checksum).
    const int kind = static_cast<int>(rng() % 3);
    const size_t width = kind == 0 ? 2 : kind == 1 ? 4 : 16;
    // Even offsets whose field does not overlap the checksum at 10-11.
    std::vector<size_t> offsets;
    for (size_t o = 0; o + width <= len; o += 2) {
      if (o + width <= 10 || o >= 12) offsets.push_back(o);
    }
    const size_t ofs = offsets[rng() % offsets.size()];
    uint8_t old_v[16], new_v[16];
    std::memcpy(old_v, h + ofs, width);
    for (size_t i = 0; i < width; ++i) new_v[i] = static_cast<uint8_t>(rng());
    if (rng() % 8 == 0) std::memcpy(new_v, old_v, width);  // no-op change
    std::memcpy(h + ofs, new_v, width);
    be16 inc;
    if (width == 2) {
      be16 o, n;
      std::memcpy(&o, old_v, 2);
      std::memcpy(&n, new_v, 2);
      inc = CsumUpdate16(c0, o, n);
    } else if (width == 4) {
      be32 o, n;
      std::memcpy(&o, old_v, 4);
      std::memcpy(&n, new_v, 4);
      inc = CsumUpdate32(c0, o, n);
    } else {
      inc = CsumUpdate128(c0, old_v, new_v);
    }
    h[10] = h[11] = 0;
    const be16 full = CsumFinish(CsumAdd(0, h, len));
    ASSERT_EQ(inc.host(), full.host()) << "iter " << iter << " width " << width << " ofs " << ofs;
  }
}

// CRC-32C check value, and the RFC 3720 (iSCSI) appendix B.4 vectors.
TEST(CsumTest, Crc32cKnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);
  uint8_t b[32];
  std::memset(b, 0, sizeof(b));
  EXPECT_EQ(Crc32c(b, 32), 0x8a9136aau);
  std::memset(b, 0xff, sizeof(b));
  EXPECT_EQ(Crc32c(b, 32), 0x62a8ab43u);
  for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(b, 32), 0x46dd794eu);
  for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(b, 32), 0x113fdb5cu);
}

TEST(CsumTest, Crc32cMatchesBitwiseReference) {
  const uint32_t seed = 0xc2c;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937 rng(seed);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<uint8_t> b(rng() % 300);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    ASSERT_EQ(Crc32c(b.data(), b.size()), RefCrc32c(b.data(), b.size())) << "len " << b.size();
  }
}

TEST(CsumTest, Crc32cZerosMatchesZeroBuffer) {
  const std::vector<uint8_t> zeros(200, 0);
  for (size_t n = 0; n < zeros.size(); ++n) {
    for (uint32_t start : {0u, 0xffffffffu, 0x12345678u}) {
      ASSERT_EQ(Crc32cZeros(start, n), Crc32cUpdate(start, zeros.data(), n)) << "n " << n;
    }
  }
}

// Real SCTP packets (an INIT and an ABORT from captures), with their stored
// CRC32c; the stored bytes are the CRC in little-endian order.
TEST(CsumTest, SctpChecksumCapturedPackets) {
  uint8_t init[] = {0x0f, 0xe4, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x9f, 0x78, 0xa7,
                    0x04, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00,
                    0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c};
  const uint8_t abort_pkt[] = {0x30, 0x39, 0x30, 0x39, 0xbe, 0x65, 0xa7, 0xef,
                               0x7d, 0xc1, 0xb2, 0xfc, 0x06, 0x00, 0x00, 0x04};
  EXPECT_EQ(SctpChecksum(init, sizeof(init)), 0x04a7789fu);
  EXPECT_TRUE(SctpChecksumOk(init, sizeof(init)));
  EXPECT_EQ(SctpChecksum(abort_pkt, sizeof(abort_pkt)), 0xfcb2c17du);
  EXPECT_TRUE(SctpChecksumOk(abort_pkt, sizeof(abort_pkt)));
  // Independent reference over the packet with the field zeroed.
  uint8_t z[sizeof(init)];
  std::memcpy(z, init, sizeof(init));
  std::memset(z + 8, 0, 4);
  EXPECT_EQ(SctpChecksum(init, sizeof(init)), RefCrc32c(z, sizeof(z)));
  init[20] ^= 1;
  EXPECT_FALSE(SctpChecksumOk(init, sizeof(init)));
}

}  // namespace
}  // namespace sluice::dp
