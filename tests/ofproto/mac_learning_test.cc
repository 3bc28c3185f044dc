#include "ofproto/mac_learning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::ofproto {
namespace {

using dp::EthAddr;

EthAddr Mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  return EthAddr{{a, b, c, d, e, f}};
}

// A unicast, locally administered address numbered n.
EthAddr Mac(uint32_t n) {
  return Mac(0x02, 0x00, static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n));
}

const EthAddr kA = Mac(0x02, 0, 0, 0, 0, 0xa);
const EthAddr kB = Mac(0x02, 0, 0, 0, 0, 0xb);
const EthAddr kC = Mac(0x02, 0, 0, 0, 0, 0xc);
const EthAddr kD = Mac(0x02, 0, 0, 0, 0, 0xd);

TEST(MacLearningTest, LearnLookupRefresh) {
  MacLearning ml;
  EXPECT_EQ(ml.Lookup(kA, 0, 0), std::nullopt);
  const uint64_t g0 = ml.generation();
  EXPECT_EQ(ml.Learn(kA, 0, 7, 1000), LearnResult::kNew);
  EXPECT_GT(ml.generation(), g0);
  EXPECT_EQ(ml.Lookup(kA, 0, 1000), 7u);
  EXPECT_EQ(ml.Lookup(kB, 0, 1000), std::nullopt);
  EXPECT_EQ(ml.size(), 1u);

  const uint64_t g1 = ml.generation();
  EXPECT_EQ(ml.Learn(kA, 0, 7, 2000), LearnResult::kRefreshed);
  EXPECT_EQ(ml.generation(), g1) << "a refresh changes no Lookup answer";
  EXPECT_EQ(ml.size(), 1u);
  auto dump = ml.Dump(2500);
  ASSERT_EQ(dump.size(), 1u);
  EXPECT_EQ(dump[0].mac, kA);
  EXPECT_EQ(dump[0].vlan, 0);
  EXPECT_EQ(dump[0].port, 7u);
  EXPECT_FALSE(dump[0].is_static);
  EXPECT_EQ(dump[0].age_ms, 500u);
  EXPECT_EQ(ml.CheckInvariants(), "");
}

TEST(MacLearningTest, MoveBetweenPortsBumpsGeneration) {
  MacLearning ml;
  ml.Learn(kA, 5, 1, 100);
  const uint64_t g = ml.generation();
  EXPECT_EQ(ml.Learn(kA, 5, 2, 200), LearnResult::kMoved);
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.Lookup(kA, 5, 200), 2u);
  EXPECT_EQ(ml.size(), 1u);
  const uint64_t g2 = ml.generation();
  EXPECT_EQ(ml.Learn(kA, 5, 2, 300), LearnResult::kRefreshed);
  EXPECT_EQ(ml.generation(), g2);
}

TEST(MacLearningTest, AgingWithFakeClock) {
  MacLearning ml({.max_entries = 100, .aging_s = 10});
  ml.Learn(kA, 0, 1, 1000);
  ml.Learn(kB, 0, 2, 5000);
  EXPECT_EQ(ml.Lookup(kA, 0, 10999), 1u);
  EXPECT_EQ(ml.Lookup(kA, 0, 11000), std::nullopt) << "dead at stamp + aging";
  EXPECT_EQ(ml.Lookup(kB, 0, 11000), 2u);
  EXPECT_EQ(ml.Dump(11000).size(), 1u) << "Dump hides dead entries";
  EXPECT_EQ(ml.size(), 2u) << "dead but not yet expired";

  uint64_t g = ml.generation();
  EXPECT_EQ(ml.Expire(10999), 0u);
  EXPECT_EQ(ml.generation(), g);
  EXPECT_EQ(ml.Expire(11000), 1u);
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.size(), 1u);

  // A refresh keeps an entry alive.
  ml.Learn(kB, 0, 2, 14000);
  EXPECT_EQ(ml.Expire(20000), 0u);
  EXPECT_EQ(ml.Lookup(kB, 0, 23999), 2u);

  // Learning a dead (not yet expired) entry is a new learning.
  g = ml.generation();
  EXPECT_EQ(ml.Learn(kB, 0, 2, 24000), LearnResult::kNew);
  EXPECT_GT(ml.generation(), g);

  // set_aging applies to existing entries and bumps the generation.
  g = ml.generation();
  ml.set_aging(1);
  EXPECT_EQ(ml.aging(), 1u);
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.Lookup(kB, 0, 25000), std::nullopt);
  EXPECT_EQ(ml.Expire(25000), 1u);
  EXPECT_EQ(ml.size(), 0u);
  EXPECT_EQ(ml.CheckInvariants(), "");
}

TEST(MacLearningTest, ClockSkewKeepsLruSorted) {
  MacLearning ml({.max_entries = 100, .aging_s = 10});
  ml.Learn(kA, 0, 1, 5000);
  // A thread that read the clock earlier wins the lock later.
  ml.Learn(kB, 0, 1, 4000);
  auto dump = ml.Dump(6000);
  ASSERT_EQ(dump.size(), 2u);
  EXPECT_EQ(dump[1].mac, kB);
  EXPECT_EQ(dump[1].age_ms, 1000u) << "stamped with the newest stamp, 5000";
  EXPECT_EQ(ml.CheckInvariants(), "");
  // Both die at 15000; Expire removes both.
  EXPECT_EQ(ml.Expire(15000), 2u);
  // A clock before the stamp counts as age 0.
  ml.Learn(kC, 0, 1, 20000);
  auto d = ml.Dump(19000);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].age_ms, 0u);
}

TEST(MacLearningTest, EvictsLeastRecentlyLearned) {
  MacLearning ml({.max_entries = 3, .aging_s = 300});
  ml.Learn(kA, 0, 1, 1);
  ml.Learn(kB, 0, 1, 2);
  ml.Learn(kC, 0, 1, 3);
  ml.Learn(kA, 0, 1, 4);  // refresh: B is now the least recent
  const uint64_t g = ml.generation();
  EXPECT_EQ(ml.Learn(kD, 0, 1, 5), LearnResult::kNew);
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.size(), 3u);
  EXPECT_EQ(ml.Lookup(kB, 0, 5), std::nullopt);
  EXPECT_EQ(ml.Lookup(kA, 0, 5), 1u);
  EXPECT_EQ(ml.Lookup(kC, 0, 5), 1u);
  EXPECT_EQ(ml.Lookup(kD, 0, 5), 1u);
  // A move counts as a learning too: C moves, so A goes next.
  EXPECT_EQ(ml.Learn(kC, 0, 2, 6), LearnResult::kMoved);
  ml.Learn(kB, 0, 1, 7);
  EXPECT_EQ(ml.Lookup(kA, 0, 7), std::nullopt);
  EXPECT_EQ(ml.Lookup(kC, 0, 7), 2u);
  // Lookups do not refresh: D (learned at 5) goes before C and B.
  EXPECT_EQ(ml.Lookup(kD, 0, 8), 1u);
  ml.Learn(kA, 0, 1, 8);
  EXPECT_EQ(ml.Lookup(kD, 0, 8), std::nullopt);

  // Lowering the limit evicts, LRU first.
  ml.set_max_entries(1);
  EXPECT_EQ(ml.max_entries(), 1u);
  EXPECT_EQ(ml.size(), 1u);
  EXPECT_EQ(ml.Lookup(kA, 0, 8), 1u);
  ml.set_max_entries(0);
  EXPECT_EQ(ml.size(), 0u);
  EXPECT_EQ(ml.Learn(kA, 0, 1, 9), LearnResult::kIgnored);
  EXPECT_EQ(ml.CheckInvariants(), "");
}

TEST(MacLearningTest, StaticEntriesNeverAgedEvictedOrMoved) {
  MacLearning ml({.max_entries = 3, .aging_s = 10});
  uint64_t g = ml.generation();
  ASSERT_TRUE(ml.AddStatic(kA, 0, 9));
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.Lookup(kA, 0, 1'000'000'000), 9u);
  EXPECT_EQ(ml.Expire(1'000'000'000), 0u);

  g = ml.generation();
  EXPECT_EQ(ml.Learn(kA, 0, 1, 10), LearnResult::kIgnored);
  EXPECT_EQ(ml.Learn(kA, 0, 9, 10), LearnResult::kIgnored);
  EXPECT_EQ(ml.generation(), g);
  EXPECT_EQ(ml.Lookup(kA, 0, 10), 9u);

  // Fill with dynamics; the static entry survives every eviction.
  for (uint32_t i = 0; i < 20; ++i) ml.Learn(Mac(100 + i), 0, 1, 20 + i);
  EXPECT_EQ(ml.size(), 3u);
  EXPECT_EQ(ml.Lookup(kA, 0, 40), 9u);

  // Converting a dynamic entry to static, then changing its port.
  ml.Learn(kB, 0, 1, 50);
  ASSERT_TRUE(ml.AddStatic(kB, 0, 2));
  ASSERT_TRUE(ml.AddStatic(kB, 0, 3));
  EXPECT_EQ(ml.Lookup(kB, 0, 1'000'000), 3u);
  // Two statics, one dynamic slot left; filling statics pushes dynamics out.
  ASSERT_TRUE(ml.AddStatic(kC, 0, 4));
  EXPECT_EQ(ml.size(), 3u);
  EXPECT_EQ(ml.Dump(50).size(), 3u);
  EXPECT_EQ(ml.Learn(kD, 0, 1, 60), LearnResult::kIgnored) << "full of statics";
  EXPECT_FALSE(ml.AddStatic(kD, 0, 1));
  EXPECT_EQ(ml.size(), 3u);

  // Statics alone may exceed a lowered limit; they are kept.
  ml.set_max_entries(1);
  EXPECT_EQ(ml.size(), 3u);
  EXPECT_EQ(ml.CheckInvariants(), "");

  auto dump = ml.Dump(70);
  ASSERT_EQ(dump.size(), 3u);
  for (const auto& e : dump) {
    EXPECT_TRUE(e.is_static);
    EXPECT_EQ(e.age_ms, 0u);
  }

  // Delete removes a static entry.
  g = ml.generation();
  EXPECT_TRUE(ml.Delete(kB, 0));
  EXPECT_GT(ml.generation(), g);
  EXPECT_FALSE(ml.Delete(kB, 0));
  EXPECT_EQ(ml.Lookup(kB, 0, 70), std::nullopt);
  EXPECT_EQ(ml.CheckInvariants(), "");
}

TEST(MacLearningTest, MulticastAndBroadcastSourcesIgnored) {
  MacLearning ml;
  const uint64_t g = ml.generation();
  EXPECT_EQ(ml.Learn(Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0, 1, 1), LearnResult::kIgnored);
  EXPECT_EQ(ml.Learn(Mac(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01), 0, 1, 1), LearnResult::kIgnored);
  EXPECT_EQ(ml.Learn(Mac(0x33, 0x33, 0x00, 0x00, 0x00, 0x01), 0, 1, 1), LearnResult::kIgnored);
  EXPECT_EQ(ml.Learn(Mac(0x03, 0x00, 0x00, 0x00, 0x00, 0x01), 0, 1, 1), LearnResult::kIgnored);
  EXPECT_FALSE(ml.AddStatic(Mac(0x01, 0x80, 0xc2, 0x00, 0x00, 0x00), 0, 1));
  EXPECT_EQ(ml.size(), 0u);
  EXPECT_EQ(ml.generation(), g);
  // The unicast neighbour (bit 1, "locally administered", is not the group bit).
  EXPECT_EQ(ml.Learn(Mac(0x02, 0x00, 0x5e, 0x00, 0x00, 0x01), 0, 1, 1), LearnResult::kNew);
  // VLAN ids above 4095 are refused.
  EXPECT_EQ(ml.Learn(kA, 4096, 1, 1), LearnResult::kIgnored);
  EXPECT_EQ(ml.Learn(kA, 4095, 1, 1), LearnResult::kNew);
  EXPECT_EQ(ml.Lookup(kA, 4096, 1), std::nullopt);
}

TEST(MacLearningTest, FlushPortAndVlan) {
  MacLearning ml;
  ml.Learn(kA, 10, 1, 1);
  ml.Learn(kB, 10, 2, 1);
  ml.Learn(kC, 20, 1, 1);
  ml.Learn(kD, 20, 2, 1);
  ASSERT_TRUE(ml.AddStatic(Mac(1), 10, 1));
  ASSERT_TRUE(ml.AddStatic(Mac(2), 30, 3));

  uint64_t g = ml.generation();
  ml.FlushPort(1);  // keeps statics
  EXPECT_GT(ml.generation(), g);
  EXPECT_EQ(ml.Lookup(kA, 10, 1), std::nullopt);
  EXPECT_EQ(ml.Lookup(kC, 20, 1), std::nullopt);
  EXPECT_EQ(ml.Lookup(kB, 10, 1), 2u);
  EXPECT_EQ(ml.Lookup(Mac(1), 10, 1), 1u);
  EXPECT_EQ(ml.size(), 4u);

  g = ml.generation();
  ml.FlushPort(7);
  EXPECT_EQ(ml.generation(), g) << "nothing removed, nothing changed";

  ml.FlushPort(1, FlushStatic::kRemove);
  EXPECT_EQ(ml.Lookup(Mac(1), 10, 1), std::nullopt);
  EXPECT_EQ(ml.size(), 3u);

  ml.FlushVlan(20);
  EXPECT_EQ(ml.Lookup(kD, 20, 1), std::nullopt);
  EXPECT_EQ(ml.Lookup(kB, 10, 1), 2u);
  ml.FlushVlan(30);
  EXPECT_EQ(ml.Lookup(Mac(2), 30, 1), 3u);
  ml.FlushVlan(30, FlushStatic::kRemove);
  EXPECT_EQ(ml.Lookup(Mac(2), 30, 1), std::nullopt);

  ASSERT_TRUE(ml.AddStatic(Mac(3), 0, 1));
  ml.Flush();
  EXPECT_EQ(ml.size(), 1u);
  ml.Flush(FlushStatic::kRemove);
  EXPECT_EQ(ml.size(), 0u);
  EXPECT_EQ(ml.CheckInvariants(), "");
}

TEST(MacLearningTest, VlanIsolation) {
  MacLearning ml;
  EXPECT_EQ(ml.Learn(kA, 10, 1, 1), LearnResult::kNew);
  EXPECT_EQ(ml.Learn(kA, 20, 2, 1), LearnResult::kNew) << "not a move: another VLAN";
  EXPECT_EQ(ml.size(), 2u);
  EXPECT_EQ(ml.Lookup(kA, 10, 1), 1u);
  EXPECT_EQ(ml.Lookup(kA, 20, 2), 2u);
  EXPECT_EQ(ml.Lookup(kA, 0, 1), std::nullopt);
  ml.FlushVlan(10);
  EXPECT_EQ(ml.Lookup(kA, 20, 1), 2u);
}

TEST(MacLearningTest, DumpSortedByVlanThenMac) {
  MacLearning ml;
  ml.Learn(Mac(0x02, 0, 0, 0, 0, 0x02), 5, 1, 1);
  ml.Learn(Mac(0x04, 0, 0, 0, 0, 0x01), 1, 1, 1);
  ml.Learn(Mac(0x02, 0, 0, 0, 0, 0x01), 5, 1, 1);
  ml.Learn(Mac(0x02, 0, 0, 0, 0, 0x03), 0, 1, 1);
  ASSERT_TRUE(ml.AddStatic(Mac(0x02, 0, 0, 0, 0, 0x00), 5, 1));
  auto d = ml.Dump(1);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].vlan, 0);
  EXPECT_EQ(d[1].vlan, 1);
  EXPECT_EQ(d[2].mac, Mac(0x02, 0, 0, 0, 0, 0x00));
  EXPECT_EQ(d[3].mac, Mac(0x02, 0, 0, 0, 0, 0x01));
  EXPECT_EQ(d[4].mac, Mac(0x02, 0, 0, 0, 0, 0x02));
  EXPECT_EQ(d[4].vlan, 5);
}

TEST(MacLearningTest, IndexSurvivesGrowthAndChurn) {
  // Enough entries to grow the index several times, then delete in an
  // interleaved order to exercise backward-shift deletion.
  MacLearning ml({.max_entries = 5000, .aging_s = 300});
  for (uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(ml.Learn(Mac(i), i % 7, i, 1), LearnResult::kNew);
  ASSERT_EQ(ml.CheckInvariants(), "");
  for (uint32_t i = 0; i < 5000; i += 3) ASSERT_TRUE(ml.Delete(Mac(i), i % 7));
  ASSERT_EQ(ml.CheckInvariants(), "");
  for (uint32_t i = 0; i < 5000; ++i) {
    const auto port = ml.Lookup(Mac(i), i % 7, 1);
    if (i % 3 == 0) {
      ASSERT_EQ(port, std::nullopt) << i;
    } else {
      ASSERT_EQ(port, i) << i;
    }
  }
}

// ---- Reference model ------------------------------------------------------

// The obvious implementation: an ordered map and an explicit LRU list of keys,
// O(n) everywhere.
class ModelFdb {
 public:
  using Key = std::pair<uint16_t, std::array<uint8_t, 6>>;  // (vlan, mac)
  struct E {
    uint32_t port;
    uint64_t stamp;
    bool is_static;
  };

  ModelFdb(uint32_t max_entries, uint32_t aging_s)
      : max_entries_(max_entries), aging_ms_(uint64_t{aging_s} * 1000) {}

  // Each mutator returns whether a Lookup answer may have changed (i.e.
  // whether MacLearning's generation must change).
  std::pair<LearnResult, bool> Learn(const EthAddr& mac, uint16_t vlan, uint32_t port,
                                     uint64_t now) {
    if ((mac.b[0] & 1) || vlan > 4095) return {LearnResult::kIgnored, false};
    const Key k = MakeKey(mac, vlan);
    auto it = map_.find(k);
    if (it != map_.end()) {
      E& e = it->second;
      if (e.is_static) return {LearnResult::kIgnored, false};
      const bool dead = Dead(e, now);
      const bool moved = e.port != port;
      lru_.remove(k);
      e.stamp = NewStamp(now);
      e.port = port;
      lru_.push_back(k);
      if (dead) return {LearnResult::kNew, true};
      return {moved ? LearnResult::kMoved : LearnResult::kRefreshed, moved};
    }
    if (NumStatic() >= max_entries_) return {LearnResult::kIgnored, false};
    while (map_.size() >= max_entries_) EvictOne();
    map_[k] = E{port, NewStamp(now), false};
    lru_.push_back(k);
    return {LearnResult::kNew, true};
  }

  std::optional<uint32_t> Lookup(const EthAddr& mac, uint16_t vlan, uint64_t now) const {
    auto it = map_.find(MakeKey(mac, vlan));
    if (it == map_.end() || Dead(it->second, now)) return std::nullopt;
    return it->second.port;
  }

  std::pair<bool, bool> AddStatic(const EthAddr& mac, uint16_t vlan, uint32_t port) {
    if ((mac.b[0] & 1) || vlan > 4095) return {false, false};
    const Key k = MakeKey(mac, vlan);
    auto it = map_.find(k);
    if (it != map_.end()) {
      if (!it->second.is_static) lru_.remove(k);
      it->second = E{port, 0, true};
      return {true, true};
    }
    if (NumStatic() >= max_entries_) return {false, false};
    while (map_.size() >= max_entries_) EvictOne();
    map_[k] = E{port, 0, true};
    return {true, true};
  }

  bool Delete(const EthAddr& mac, uint16_t vlan) {
    const Key k = MakeKey(mac, vlan);
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    if (!it->second.is_static) lru_.remove(k);
    map_.erase(it);
    return true;
  }

  size_t Expire(uint64_t now) {
    return RemoveIf(false, [&](const Key&, const E& e) { return Dead(e, now); });
  }
  size_t FlushPort(uint32_t port, bool statics) {
    return RemoveIf(statics, [&](const Key&, const E& e) { return e.port == port; });
  }
  size_t FlushVlan(uint16_t vlan, bool statics) {
    return RemoveIf(statics, [&](const Key& k, const E&) { return k.first == vlan; });
  }
  size_t Flush(bool statics) {
    return RemoveIf(statics, [](const Key&, const E&) { return true; });
  }

  void set_aging(uint32_t s) { aging_ms_ = uint64_t{s} * 1000; }
  bool set_max_entries(uint32_t n) {
    max_entries_ = n;
    bool evicted = false;
    while (map_.size() > n && !lru_.empty()) {
      EvictOne();
      evicted = true;
    }
    return evicted;
  }

  size_t size() const { return map_.size(); }

  std::vector<MacLearning::Entry> Dump(uint64_t now) const {
    std::vector<MacLearning::Entry> out;
    for (const auto& [k, e] : map_) {  // std::map order is (vlan, mac)
      if (Dead(e, now)) continue;
      EthAddr mac{};
      std::copy(k.second.begin(), k.second.end(), mac.b);
      out.push_back({mac, k.first, e.port, e.is_static,
                     e.is_static ? 0 : (now > e.stamp ? now - e.stamp : 0)});
    }
    return out;
  }

 private:
  static Key MakeKey(const EthAddr& mac, uint16_t vlan) {
    Key k;
    k.first = vlan;
    std::copy(std::begin(mac.b), std::end(mac.b), k.second.begin());
    return k;
  }
  bool Dead(const E& e, uint64_t now) const {
    return !e.is_static && (now > e.stamp ? now - e.stamp : 0) >= aging_ms_;
  }
  uint64_t NewStamp(uint64_t now) const {
    return lru_.empty() ? now : std::max(now, map_.at(lru_.back()).stamp);
  }
  size_t NumStatic() const { return map_.size() - lru_.size(); }
  void EvictOne() {
    map_.erase(lru_.front());
    lru_.pop_front();
  }
  template <typename Pred>
  size_t RemoveIf(bool statics, Pred pred) {
    size_t n = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      if ((statics || !it->second.is_static) && pred(it->first, it->second)) {
        if (!it->second.is_static) lru_.remove(it->first);
        it = map_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  uint32_t max_entries_;
  uint64_t aging_ms_;
  std::map<Key, E> map_;
  std::list<Key> lru_;  // dynamic keys, least recently learned first
};

void ExpectSameDump(const std::vector<MacLearning::Entry>& got,
                    const std::vector<MacLearning::Entry>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].mac, want[i].mac) << i;
    ASSERT_EQ(got[i].vlan, want[i].vlan) << i;
    ASSERT_EQ(got[i].port, want[i].port) << i;
    ASSERT_EQ(got[i].is_static, want[i].is_static) << i;
    ASSERT_EQ(got[i].age_ms, want[i].age_ms) << i;
  }
}

void RunAgainstModel(uint32_t seed, int n_ops) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto rnd = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };

  constexpr uint32_t kMaxEntries = 48;
  constexpr uint32_t kAgingS = 10;
  MacLearning ml({.max_entries = kMaxEntries, .aging_s = kAgingS});
  ModelFdb model(kMaxEntries, kAgingS);

  // 80 unicast MACs, a few multicast ones; 3 VLANs plus an invalid one.
  std::vector<EthAddr> macs;
  for (uint32_t i = 0; i < 80; ++i) macs.push_back(Mac(i));
  macs.push_back(Mac(0x01, 0x00, 0x5e, 0, 0, 1));
  macs.push_back(Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  const uint16_t vlans[] = {0, 1, 4095, 4096};
  // Most traffic comes from a few hosts that mostly stay on their home port,
  // so refreshes and moves are common alongside new learnings and evictions.
  size_t last_mac = 0;
  auto pick_mac = [&] {
    last_mac = rnd(4) != 0 ? rnd(16) : rnd(macs.size());
    return macs[last_mac];
  };
  auto pick_vlan = [&] { return rnd(50) == 0 ? vlans[3] : vlans[rnd(3)]; };
  auto pick_port = [&] { return static_cast<uint32_t>(1 + rnd(6)); };
  auto learn_port = [&] {
    return rnd(4) != 0 ? static_cast<uint32_t>(1 + last_mac % 6) : pick_port();
  };

  // How often each LearnResult came up, so the run proves it exercised
  // every path.
  int results[4] = {};
  uint64_t now = 1'000'000;
  for (int op = 0; op < n_ops; ++op) {
    SCOPED_TRACE("op " + std::to_string(op));
    // Time mostly advances; sometimes a skewed, earlier reading arrives.
    if (rnd(20) == 0) {
      now -= rnd(300);
    } else {
      now += rnd(600);
    }
    const uint64_t gen_before = ml.generation();
    bool want_change = false;
    const uint64_t r = rnd(1000);
    if (r < 500) {
      const EthAddr mac = pick_mac();
      const uint16_t vlan = pick_vlan();
      const uint32_t port = learn_port();
      auto [want, changed] = model.Learn(mac, vlan, port, now);
      ASSERT_EQ(ml.Learn(mac, vlan, port, now), want);
      ++results[static_cast<int>(want)];
      want_change = changed;
    } else if (r < 750) {
      const EthAddr mac = pick_mac();
      const uint16_t vlan = pick_vlan();
      ASSERT_EQ(ml.Lookup(mac, vlan, now), model.Lookup(mac, vlan, now));
    } else if (r < 800) {
      const size_t want = model.Expire(now);
      ASSERT_EQ(ml.Expire(now), want);
      want_change = want > 0;
    } else if (r < 830) {
      const EthAddr mac = pick_mac();
      const uint16_t vlan = pick_vlan();
      const uint32_t port = pick_port();
      auto [want, changed] = model.AddStatic(mac, vlan, port);
      ASSERT_EQ(ml.AddStatic(mac, vlan, port), want);
      want_change = changed;
    } else if (r < 880) {
      const EthAddr mac = pick_mac();
      const uint16_t vlan = pick_vlan();
      want_change = model.Delete(mac, vlan);
      ASSERT_EQ(ml.Delete(mac, vlan), want_change);
    } else if (r < 900) {
      const uint32_t port = pick_port();
      const bool statics = rnd(2) == 0;
      want_change = model.FlushPort(port, statics) > 0;
      ml.FlushPort(port, statics ? FlushStatic::kRemove : FlushStatic::kKeep);
    } else if (r < 910) {
      const uint16_t vlan = pick_vlan();
      const bool statics = rnd(2) == 0;
      want_change = model.FlushVlan(vlan, statics) > 0;
      ml.FlushVlan(vlan, statics ? FlushStatic::kRemove : FlushStatic::kKeep);
    } else if (r < 913) {
      const bool statics = rnd(2) == 0;
      want_change = model.Flush(statics) > 0;
      ml.Flush(statics ? FlushStatic::kRemove : FlushStatic::kKeep);
    } else if (r < 923) {
      const uint32_t n = static_cast<uint32_t>(rnd(kMaxEntries + 10));
      want_change = model.set_max_entries(n);
      ml.set_max_entries(n);
    } else if (r < 930) {
      const uint32_t s = static_cast<uint32_t>(1 + rnd(2 * kAgingS));
      model.set_aging(s);
      ml.set_aging(s);
      want_change = true;
    } else {
      ExpectSameDump(ml.Dump(now), model.Dump(now));
      if (::testing::Test::HasFatalFailure()) return;
    }
    ASSERT_EQ(ml.generation() != gen_before, want_change);
    ASSERT_EQ(ml.size(), model.size());
    if (op % 16 == 0) {
      ASSERT_EQ(ml.CheckInvariants(), "");
    }
  }
  ASSERT_EQ(ml.CheckInvariants(), "");
  ExpectSameDump(ml.Dump(now), model.Dump(now));
  for (int n : results) EXPECT_GT(n, 20);
}

TEST(MacLearningTest, RandomOpsMatchReferenceModel) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    RunAgainstModel(seed, 5000);
    if (HasFatalFailure()) return;
  }
}

// ---- Concurrency smoke test -----------------------------------------------

TEST(MacLearningTest, ConcurrentLearnAndLookup) {
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 20000;
  constexpr uint32_t kMaxEntries = 256;
  MacLearning ml({.max_entries = kMaxEntries, .aging_s = 1});
  std::atomic<uint64_t> clock{0};
  std::atomic<bool> wrong_port{false};
  std::atomic<bool> generation_went_back{false};

  // Thread t owns MACs whose third byte is t and always learns them on port
  // 100 + t, so any entry for such a MAC must point at port 100 + t.
  auto worker = [&](int t) {
    std::mt19937 rng(1234 + t);
    uint64_t last_gen = 0;
    for (int i = 0; i < kOpsPerThread; ++i) {
      const uint64_t now = clock.fetch_add(1, std::memory_order_relaxed);
      const EthAddr mac = Mac(0x02, 0, static_cast<uint8_t>(t), 0, static_cast<uint8_t>(rng() % 4),
                              static_cast<uint8_t>(rng()));
      const uint16_t vlan = static_cast<uint16_t>(rng() % 3);
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2:
          ml.Learn(mac, vlan, 100 + t, now);
          break;
        case 3:
        case 4: {
          auto port = ml.Lookup(mac, vlan, now);
          if (port && *port != static_cast<uint32_t>(100 + t)) wrong_port = true;
          break;
        }
        case 5:
          ml.Expire(now);
          break;
        case 6:
          if (rng() % 64 == 0) ml.FlushVlan(vlan);
          break;
        case 7:
          if (rng() % 256 == 0) ml.Dump(now);
          break;
      }
      const uint64_t g = ml.generation();
      if (g < last_gen) generation_went_back = true;
      last_gen = g;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  EXPECT_FALSE(wrong_port.load());
  EXPECT_FALSE(generation_went_back.load());
  EXPECT_EQ(ml.CheckInvariants(), "");
  EXPECT_LE(ml.size(), kMaxEntries);
  EXPECT_GT(ml.generation(), 0u);
  for (const auto& e : ml.Dump(clock.load())) {
    EXPECT_EQ(e.port, 100u + e.mac.b[2]);
  }
}

}  // namespace
}  // namespace sluice::ofproto
