// Tests for ParseFlow (datapath/flow/parse.h): well-formed frames give the
// expected keys and offsets (see flow_parse_valid_cases.h).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "tests/datapath/flow_parse_test_util.h"
#include "tests/datapath/flow_parse_valid_cases.h"

namespace sluice::dp {
namespace {

using namespace flow_parse_test;

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

}  // namespace
}  // namespace sluice::dp
