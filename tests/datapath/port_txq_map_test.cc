// Unit test: SpreadTxqs, the vhost-user tx queue map (datapath/port/port.h,
// "vhost-user tx queue remapping"). Pure; no EAL. The live remapping is
// tested end to end in tests/tools/vhost_it_test.cc
// (VhostTest.GuestWithFewerQueuePairsGetsEveryPmdsTraffic).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "datapath/port/port.h"

namespace sluice::dp {
namespace {

TEST(SpreadTxqs, EveryQueueEnabledMapsToItself) {
  EXPECT_EQ(SpreadTxqs({true}), (std::vector<uint16_t>{0}));
  EXPECT_EQ(SpreadTxqs({true, true, true}), (std::vector<uint16_t>{0, 1, 2}));
}

TEST(SpreadTxqs, NoQueueEnabledDropsEverywhere) {
  EXPECT_EQ(SpreadTxqs({false, false}), (std::vector<uint16_t>{kNoTxq, kNoTxq}));
  EXPECT_TRUE(SpreadTxqs({}).empty());
}

TEST(SpreadTxqs, DisabledQueuesGoToTheEnabledOnesInTurn) {
  // The guest took one queue pair of two: both PMDs share queue 0.
  EXPECT_EQ(SpreadTxqs({true, false}), (std::vector<uint16_t>{0, 0}));
  EXPECT_EQ(SpreadTxqs({true, true, false, false}), (std::vector<uint16_t>{0, 1, 0, 1}));
  EXPECT_EQ(SpreadTxqs({false, true, false, true}), (std::vector<uint16_t>{1, 1, 3, 3}));
  EXPECT_EQ(SpreadTxqs({true, true, true, false}), (std::vector<uint16_t>{0, 1, 2, 0}));
}

// Property, over random enable sets: every entry is an enabled queue, an
// enabled queue keeps itself, and the loads differ by at most one.
TEST(SpreadTxqs, EvenAndOnlyOnEnabledQueues) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    size_t n = 1 + rng() % 16;
    std::vector<bool> enabled(n);
    bool any = false;
    for (size_t q = 0; q < n; ++q) {
      enabled[q] = rng() % 2;
      any = any || enabled[q];
    }
    std::vector<uint16_t> map = SpreadTxqs(enabled);
    ASSERT_EQ(map.size(), n);
    if (!any) {
      EXPECT_TRUE(std::all_of(map.begin(), map.end(), [](uint16_t m) { return m == kNoTxq; }));
      continue;
    }
    std::vector<int> load(n, 0);
    for (size_t q = 0; q < n; ++q) {
      ASSERT_LT(map[q], n) << "iteration " << iter << " queue " << q;
      ASSERT_TRUE(enabled[map[q]]) << "iteration " << iter << " queue " << q;
      if (enabled[q]) {
        EXPECT_EQ(map[q], q);
      }
      ++load[map[q]];
    }
    int lo = static_cast<int>(n), hi = 0;
    for (size_t q = 0; q < n; ++q) {
      if (!enabled[q]) continue;
      lo = std::min(lo, load[q]);
      hi = std::max(hi, load[q]);
    }
    EXPECT_LE(hi - lo, 1) << "iteration " << iter;
  }
}

}  // namespace
}  // namespace sluice::dp
