// Tests of the byte-level rewrite primitives (rewrite.h) and the ExecDrop
// names. Helpers: actions_test_util.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- Byte-level primitives --------------------------------------------------------------

TEST(RewriteTest, PrimitivesReportWhetherTheLayerWasThere) {
  Bytes f = kV4Udp;
  SetIpv4 a{};
  a.ttl = 1;
  a.ttl_mask = 0xff;
  EXPECT_TRUE(SetIpv4Masked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, a));
  EXPECT_FALSE(SetIpv4Masked(f.data(), 33, kV4Layout, a));
  EXPECT_FALSE(SetIpv4Masked(f.data(), static_cast<uint32_t>(f.size()), {}, a));
  SetL4 p{};
  p.src = Be16(1);
  p.src_mask = Be16(0xffff);
  EXPECT_TRUE(SetUdpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  EXPECT_FALSE(SetTcpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  EXPECT_FALSE(SetSctpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  Bytes g = kV6Udp;
  SetIpv6 b{};
  b.hlimit_mask = 0xff;
  EXPECT_TRUE(SetIpv6Masked(g.data(), static_cast<uint32_t>(g.size()), kV6Layout, b));
  EXPECT_FALSE(SetIpv6Masked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, b));
  SetEth e{};
  EXPECT_TRUE(SetEthMasked(f.data(), 12, e));
  EXPECT_FALSE(SetEthMasked(f.data(), 11, e));
}

// Every primitive, on every prefix of several frames copied into a heap
// buffer of exactly that size: nothing is read or written past `len` (an
// AddressSanitizer build turns any overread into a failure), and a prefix
// shorter than the header the action needs is left unchanged.
TEST(RewriteTest, ExactSizeBuffersAreNeverOverrun) {
  Spec v6ext;
  v6ext.l3 = L3::kIpv6;
  v6ext.proto = csum::kIpProtoTcp;
  Ext6 rh{rewrite::kIpv6Routing};
  rh.segs_left = 1;
  v6ext.ext = {Ext6{rewrite::kIpv6HopByHop}, rh, Ext6{rewrite::kIpv6Fragment}};
  const Built b6 = Build(v6ext);
  struct Frame {
    Bytes bytes;
    PacketLayout layout;
  } frames[] = {{kV4Tcp, kV4Layout},
                {kV4Udp, kV4Layout},
                {kV4Sctp, kV4Layout},
                {kV6Udp, kV6Layout},
                {b6.bytes, b6.layout}};
  SetEth eth{};
  eth.src_mask = kAllOnesMac;
  SetIpv4 v4{};
  v4.src = Be32(0x01020304);
  v4.src_mask = Be32(0xffffffff);
  v4.tos_mask = 0xff;
  SetIpv6 v6{};
  std::memset(v6.dst_mask, 0xff, 16);
  v6.hlimit_mask = 0xff;
  SetL4 l4{};
  l4.src = Be16(7);
  l4.src_mask = Be16(0xffff);
  for (const Frame& f : frames) {
    for (size_t len = 0; len <= f.bytes.size(); ++len) {
      SCOPED_TRACE(testing::Message() << "len " << len);
      const uint32_t n = static_cast<uint32_t>(len);
      auto fresh = [&] {
        std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
        std::memcpy(buf.get(), f.bytes.data(), len);
        return buf;
      };
      auto unchanged = [&](const std::unique_ptr<uint8_t[]>& buf) {
        return std::memcmp(buf.get(), f.bytes.data(), len) == 0;
      };
      auto buf = fresh();
      if (!SetEthMasked(buf.get(), n, eth)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetIpv4Masked(buf.get(), n, f.layout, v4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetIpv6Masked(buf.get(), n, f.layout, v6)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetTcpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetUdpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetSctpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
    }
  }
}

TEST(RewriteTest, ExecDropNames) {
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoOutput), "action_drop");
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoMbuf), "action_no_mbuf");
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoRoom), "push_vlan_no_room");
}

}  // namespace
}  // namespace sluice::dp
