// Tests for the exact-match cache: hits agree with the megaflow classifier,
// dead rules miss and are cleared, the insertion probability, the sweep
// invariant and the 2-way set behaviour.
#include "datapath/emc/emc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "datapath/dpcls/dpcls.h"
#include "datapath/util/hash.h"

namespace sluice::dp {
namespace {

using Rng = std::mt19937_64;

uint32_t KeyHash(const FlowKey& k) { return HashWords(k.words(), kFlowWords, 0); }

// A packet key: in_port 1..4, UDP, 10.0.0.0/8 addresses, random ports.
FlowKey RandomKey(Rng& rng) {
  FlowKey k;
  k.Clear();
  k.in_port = 1 + static_cast<uint32_t>(rng() % 4);
  k.eth_type = Be16(0x0800);
  k.nw_proto = 17;
  k.nw_src = Be32(0x0a000000u | static_cast<uint32_t>(rng() % 64));
  k.nw_dst = Be32(0x0a000000u | static_cast<uint32_t>(rng() % 1024));
  k.tp_src = Be16(static_cast<uint16_t>(rng()));
  k.tp_dst = Be16(static_cast<uint16_t>(rng() % 4));
  return k;
}

// A key that differs from every other one made by it.
FlowKey UniqueKey(uint64_t i) {
  FlowKey k;
  k.Clear();
  k.in_port = 1;
  k.eth_type = Be16(0x0800);
  k.words()[4] = i * 0x9E3779B97F4A7C15ull + 1;
  return k;
}

DpclsRule* Lookup1(Emc& emc, const FlowKey& key, uint32_t hash) {
  const FlowKey* keys[1] = {&key};
  const uint32_t hashes[1] = {hash};
  DpclsRule* rules[1] = {nullptr};
  return emc.LookupBatch(keys, hashes, 1, rules) ? rules[0] : nullptr;
}

// Non-overlapping megaflows: one per (in_port, nw_dst /26), and one per
// (in_port, nw_src) on in_port 4 with a different mask shape.
struct Table {
  Dpcls dpcls;
  std::vector<std::unique_ptr<DpclsRule>> rules;

  Table() {
    FlowMask dst;
    dst.Clear();
    dst.in_port = 0xffffffffu;
    dst.nw_dst = Be32(0xffffffc0u);
    FlowMask src;
    src.Clear();
    src.in_port = 0xffffffffu;
    src.nw_src = Be32(0xffffffffu);
    for (uint32_t port = 1; port <= 3; ++port) {
      for (uint32_t net = 0; net < 16; ++net) {
        if (net % 5 == 4) continue;  // some keys miss
        auto r = std::make_unique<DpclsRule>();
        r->key.Clear();
        r->key.in_port = port;
        r->key.nw_dst = Be32(0x0a000000u | net << 6);
        dpcls.Insert(r.get(), dst);
        rules.push_back(std::move(r));
      }
    }
    for (uint32_t s = 0; s < 48; ++s) {
      auto r = std::make_unique<DpclsRule>();
      r->key.Clear();
      r->key.in_port = 4;
      r->key.nw_src = Be32(0x0a000000u | s);
      dpcls.Insert(r.get(), src);
      rules.push_back(std::move(r));
    }
  }
};

// The EMC, fed from dpcls hits, only ever returns what the dpcls returns;
// after a rule is removed and marked dead, neither returns it.
TEST(EmcTest, HitsAgreeWithDpcls) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    Table t;
    std::vector<std::unique_ptr<DpclsRule>> graveyard;  // removed, freed after the EMC
    Emc emc(1);
    std::vector<FlowKey> pool;  // the packets' flows: they repeat
    for (int i = 0; i < 3000; ++i) pool.push_back(RandomKey(rng));
    int emc_hits = 0;
    int dpcls_hits = 0;
    for (int round = 0; round < 2000; ++round) {
      FlowKey storage[kMaxBurst];
      const FlowKey* keys[kMaxBurst];
      uint32_t hashes[kMaxBurst];
      for (int i = 0; i < kMaxBurst; ++i) {
        storage[i] = pool[rng() % pool.size()];
        keys[i] = &storage[i];
        hashes[i] = KeyHash(storage[i]);
      }
      const uint32_t map = static_cast<uint32_t>(rng());
      DpclsRule* sentinel = reinterpret_cast<DpclsRule*>(uintptr_t{0x40});
      DpclsRule* rules[kMaxBurst];
      for (auto& r : rules) r = sentinel;
      const uint32_t hit = emc.LookupBatch(keys, hashes, map, rules);
      ASSERT_EQ(hit & ~map, 0u);
      for (int i = 0; i < kMaxBurst; ++i) {
        if (!(map & (1u << i))) {
          ASSERT_EQ(rules[i], sentinel);  // keys outside the map are not touched
          continue;
        }
        DpclsRule* want = t.dpcls.Lookup(storage[i]);
        if (hit & (1u << i)) {
          ASSERT_EQ(rules[i], want) << "round " << round;
          ASSERT_FALSE(rules[i]->dead);
          ++emc_hits;
        } else if (want != nullptr) {
          ++dpcls_hits;
          emc.Insert(storage[i], hashes[i], want);
          ASSERT_EQ(Lookup1(emc, storage[i], hashes[i]), want);  // invariant 4
        }
      }
      // Now and then the slow path removes a megaflow.
      if (round % 50 == 49 && t.rules.size() > 10) {
        const size_t i = rng() % t.rules.size();
        t.dpcls.Remove(t.rules[i].get());
        t.rules[i]->dead = true;
        graveyard.push_back(std::move(t.rules[i]));
        t.rules.erase(t.rules.begin() + static_cast<long>(i));
      }
    }
    EXPECT_GT(emc_hits, 10000);
    EXPECT_GT(dpcls_hits, 1000);
  }
}

TEST(EmcTest, DeadRuleMissesAndIsCleared) {
  Emc emc(1);
  DpclsRule r;
  const FlowKey k = UniqueKey(1);
  emc.Insert(k, 77, &r);
  EXPECT_EQ(Lookup1(emc, k, 77), &r);
  EXPECT_EQ(emc.CountValid(), 1u);
  EXPECT_EQ(Lookup1(emc, k, 78), nullptr);  // the hash is part of the lookup
  r.dead = true;
  EXPECT_EQ(emc.CountValid(), 0u);
  EXPECT_EQ(emc.CountRefs(&r), 1u);
  EXPECT_EQ(Lookup1(emc, k, 77), nullptr);
  EXPECT_EQ(emc.CountRefs(&r), 0u);  // the lookup cleared the entry
  r.dead = false;                    // (test only: a real owner never revives a rule)
  EXPECT_EQ(Lookup1(emc, k, 77), nullptr);
  // A dead rule is never inserted.
  r.dead = true;
  emc.Insert(k, 77, &r);
  EXPECT_EQ(emc.CountRefs(&r), 0u);
  emc.MaybeInsert(k, 77, &r);
  EXPECT_EQ(emc.CountRefs(&r), 0u);
  emc.Insert(k, 77, nullptr);
  EXPECT_EQ(emc.CountRefs(nullptr), kEmcEntries);  // still all empty
}

// The same flow twice in one burst, its rule dead: the first clears the
// entry, the second must not trip over the cleared way.
TEST(EmcTest, DeadRuleTwiceInOneBurst) {
  Emc emc(1);
  DpclsRule r, other;
  const FlowKey k = UniqueKey(9);
  const FlowKey k2 = UniqueKey(10);
  emc.Insert(k, 5, &r);
  emc.Insert(k2, 5, &other);
  r.dead = true;
  const FlowKey* keys[4] = {&k, &k2, &k, &k};
  const uint32_t hashes[4] = {5, 5, 5, 5};
  DpclsRule* rules[4] = {};
  EXPECT_EQ(emc.LookupBatch(keys, hashes, 0xf, rules), 0x2u);
  EXPECT_EQ(rules[1], &other);
  EXPECT_EQ(emc.CountRefs(&r), 0u);
}

// MaybeInsert inserts about 1 in insert_inv_prob; 0 never, 1 always.
TEST(EmcTest, InsertionProbability) {
  constexpr int kTries = 40000;
  for (uint32_t p : {0u, 1u, 2u, 10u, 100u}) {
    SCOPED_TRACE(testing::Message() << "insert_inv_prob=" << p);
    Emc emc(p);
    EXPECT_EQ(emc.insert_inv_prob(), p);
    DpclsRule r;
    int inserted = 0;
    for (int i = 0; i < kTries; ++i) {
      const FlowKey k = UniqueKey(static_cast<uint64_t>(i));
      const uint32_t h = KeyHash(k);
      emc.MaybeInsert(k, h, &r);
      inserted += Lookup1(emc, k, h) == &r;
    }
    if (p == 0) {
      EXPECT_EQ(inserted, 0);
    } else if (p == 1) {
      EXPECT_EQ(inserted, kTries);
    } else {
      const double q = 1.0 / p;
      const double mean = kTries * q;
      const double sigma = std::sqrt(kTries * q * (1 - q));
      EXPECT_NEAR(inserted, mean, 5 * sigma);
    }
  }
  // set_insert_inv_prob takes effect.
  Emc emc(0);
  DpclsRule r;
  emc.set_insert_inv_prob(1);
  emc.MaybeInsert(UniqueKey(5), 5, &r);
  EXPECT_EQ(Lookup1(emc, UniqueKey(5), 5), &r);
}

// Invariant 2: two sweep cycles after a rule dies, no entry refers to it,
// whatever the cursor's position and the sweep step sizes; live entries are
// untouched.
TEST(EmcTest, SlowSweepClearsDeadRulesWithinTwoCycles) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<std::unique_ptr<DpclsRule>> rules;
    for (int i = 0; i < 300; ++i) rules.push_back(std::make_unique<DpclsRule>());
    Emc emc(1);
    for (int i = 0; i < 20000; ++i) {
      const FlowKey k = UniqueKey(rng());
      emc.Insert(k, KeyHash(k), rules[rng() % rules.size()].get());
    }
    emc.SlowSweep(static_cast<uint32_t>(rng() % kEmcEntries));  // cursor anywhere
    std::vector<DpclsRule*> dead;
    for (auto& r : rules) {
      if (rng() % 3 == 0) {
        r->dead = true;
        dead.push_back(r.get());
      }
    }
    size_t dead_refs = 0;
    for (DpclsRule* r : dead) dead_refs += emc.CountRefs(r);
    ASSERT_GT(dead_refs, 1000u);
    const size_t live = emc.CountValid();
    const uint64_t c = emc.sweep_cycles();
    while (emc.sweep_cycles() < c + 2) {
      emc.SlowSweep(1 + static_cast<uint32_t>(rng() % 200));
      EXPECT_EQ(emc.CountValid(), live);
    }
    for (DpclsRule* r : dead) ASSERT_EQ(emc.CountRefs(r), 0u);
  }
}

TEST(EmcTest, SweepCyclesCountWraps) {
  Emc emc;
  EXPECT_EQ(emc.sweep_cycles(), 0u);
  emc.SlowSweep(kEmcEntries - 1);
  EXPECT_EQ(emc.sweep_cycles(), 0u);
  emc.SlowSweep(1);
  EXPECT_EQ(emc.sweep_cycles(), 1u);
  emc.SlowSweep(3 * kEmcEntries);
  EXPECT_EQ(emc.sweep_cycles(), 4u);
  for (int i = 0; i < 128; ++i) emc.SlowSweep();  // 128 * 64 = one cycle
  EXPECT_EQ(emc.sweep_cycles(), 5u);
}

// A set has two ways: two keys of one set both stay; a third evicts one of
// them; a dead or empty way is preferred; re-inserting a cached key updates
// it in place.
TEST(EmcTest, TwoWaySets) {
  const uint32_t h = 0x1234;
  const uint32_t h2 = h + kEmcSets;  // same set, other hash
  const FlowKey a = UniqueKey(1), b = UniqueKey(2), c = UniqueKey(3), d = UniqueKey(4);
  DpclsRule ra, rb, rc, ra2;
  Emc emc(1);
  emc.Insert(a, h, &ra);
  emc.Insert(b, h2, &rb);
  EXPECT_EQ(Lookup1(emc, a, h), &ra);
  EXPECT_EQ(Lookup1(emc, b, h2), &rb);
  EXPECT_EQ(Lookup1(emc, d, h), nullptr);   // same hash, other key
  EXPECT_EQ(Lookup1(emc, a, h2), nullptr);  // same key, other hash
  EXPECT_EQ(emc.CountValid(), 2u);

  // Update in place: no eviction.
  emc.Insert(a, h, &ra2);
  EXPECT_EQ(Lookup1(emc, a, h), &ra2);
  EXPECT_EQ(Lookup1(emc, b, h2), &rb);
  EXPECT_EQ(emc.CountValid(), 2u);

  // A third key evicts exactly one.
  emc.Insert(c, h, &rc);
  EXPECT_EQ(Lookup1(emc, c, h), &rc);
  const bool a_hits = Lookup1(emc, a, h) == &ra2;
  const bool b_hits = Lookup1(emc, b, h2) == &rb;
  EXPECT_NE(a_hits, b_hits);
  EXPECT_EQ(emc.CountValid(), 2u);

  // The way of a dead rule is taken before any live one.
  DpclsRule& survivor = a_hits ? ra2 : rb;
  rc.dead = true;
  emc.Insert(d, h, &ra);
  EXPECT_EQ(Lookup1(emc, d, h), &ra);
  EXPECT_EQ(emc.CountRefs(&survivor), 1u);
  EXPECT_EQ(emc.CountRefs(&rc), 0u);

  // Other sets are untouched by all this.
  EXPECT_EQ(emc.CountValid(), 2u);
  emc.Clear();
  EXPECT_EQ(emc.CountValid(), 0u);
  EXPECT_EQ(Lookup1(emc, d, h), nullptr);
}

// With many flows competing for sets, both ways of a set are used: about
// 8192 distinct keys fill much more of the cache than a direct-mapped one
// would (1 - 1/e = 63 %).
TEST(EmcTest, TwoWaysRaiseOccupancy) {
  const uint64_t seed = 5;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  Rng rng(seed);
  Emc emc(1);
  DpclsRule r;
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < kEmcEntries; ++i) {
    keys.push_back(UniqueKey(rng()));
    emc.Insert(keys.back(), KeyHash(keys.back()), &r);
  }
  const size_t valid = emc.CountValid();
  EXPECT_GT(valid, kEmcEntries * 7 / 10);
  size_t hits = 0;
  for (const FlowKey& k : keys) hits += Lookup1(emc, k, KeyHash(k)) == &r;
  EXPECT_EQ(hits, valid);
}

}  // namespace
}  // namespace sluice::dp
