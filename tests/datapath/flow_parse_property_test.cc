// Tests for ParseFlow (datapath/flow/parse.h): properties over all valid
// frames (truncation, determinism) and random/mutated input.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/datapath/flow_parse_test_util.h"
#include "tests/datapath/flow_parse_valid_cases.h"

namespace sluice::dp {
namespace {

using namespace flow_parse_test;

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

}  // namespace
}  // namespace sluice::dp
