// Tests for the megaflow classifier: against a linear-scan reference model on
// random non-overlapping megaflows, ranking and Sort(), subtable life cycle,
// hash collisions and bucket overflow, and every specialised lookup routine
// against the generic one.
#include "datapath/dpcls/dpcls.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "datapath/dpcls/subtable.h"

namespace sluice::dp {
namespace {

using Rng = std::mt19937_64;

bool Coin(Rng& rng, int one_in) { return rng() % one_in == 0; }

be32 PrefixMask(int len) {
  return Be32(len == 0 ? 0u : static_cast<uint32_t>(~0ull << (32 - len)));
}

// A random mask over fields real megaflows match on. Like megaflows from an
// OpenFlow pipeline, every mask matches in_port; every mask also matches a
// nw_src prefix of at least 16 bits, so that hundreds of random rules can
// coexist without overlapping; the rest is random.
FlowMask RandomMask(Rng& rng) {
  FlowMask m;
  m.Clear();
  m.in_port = 0xffffffffu;
  if (Coin(rng, 2)) m.eth_type = Be16(0xffff);
  if (Coin(rng, 4)) std::memset(&m.eth_dst, 0xff, sizeof(m.eth_dst));
  if (Coin(rng, 2)) m.nw_proto = 0xff;
  m.nw_src = PrefixMask(16 + static_cast<int>(rng() % 17));
  if (Coin(rng, 2)) m.nw_dst = PrefixMask(static_cast<int>(rng() % 33));
  if (Coin(rng, 3)) m.tp_dst = Be16(0xffff);
  if (Coin(rng, 4)) m.tp_src = Be16(0xfff0);
  if (Coin(rng, 5)) m.vlan[0].tci = Be16(kVlanVidMask | kVlanPresent);
  if (Coin(rng, 8)) m.ipv6_src[1] = 0xff;
  if (Coin(rng, 8)) m.pkt_mark = 0x3;
  if (Coin(rng, 8)) m.dp_hash = 0x7;
  return m;
}

// A random packet key from small domains (but nw_src, 10.0.0.0/8).
FlowKey RandomKey(Rng& rng) {
  static constexpr uint16_t kTypes[] = {0x0800, 0x86dd, 0x0806};
  static constexpr uint8_t kProtos[] = {1, 6, 17};
  static constexpr uint16_t kPorts[] = {53, 80, 443, 8080};
  FlowKey k;
  k.Clear();
  k.in_port = 1 + static_cast<uint32_t>(rng() % 8);
  k.eth_type = Be16(kTypes[rng() % 3]);
  k.eth_dst = EthAddr{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(rng() % 3)}};
  k.nw_proto = kProtos[rng() % 3];
  k.nw_src = Be32(0x0a000000u | static_cast<uint32_t>(rng() % (1u << 24)));
  k.nw_dst = Be32(0x0a000000u | static_cast<uint32_t>(rng() % 4096));
  k.tp_src = Be16(static_cast<uint16_t>(rng() % 1024));
  k.tp_dst = Coin(rng, 2) ? Be16(kPorts[rng() % 4]) : Be16(static_cast<uint16_t>(rng() % 64));
  k.vlan[0].tci = Be16(static_cast<uint16_t>(kVlanPresent | (rng() % 3)));
  k.ipv6_src[1] = static_cast<uint8_t>(rng() % 3);
  k.pkt_mark = static_cast<uint32_t>(rng() % 4);
  k.dp_hash = static_cast<uint32_t>(rng());
  return k;
}

FlowKey Masked(const FlowKey& k, const FlowMask& m) {
  FlowKey out;
  MaskKey(k, m, &out);
  return out;
}

// A key that matches (masked_key, mask), random elsewhere.
FlowKey KeyMatching(const FlowKey& masked_key, const FlowMask& mask, Rng& rng) {
  FlowKey k = RandomKey(rng);
  for (int i = 0; i < kFlowWords; ++i) {
    k.words()[i] = masked_key.words()[i] | (k.words()[i] & ~mask.words()[i]);
  }
  return k;
}

bool Matches(const FlowKey& key, const FlowKey& masked_key, const FlowMask& mask) {
  for (int i = 0; i < kFlowWords; ++i) {
    if ((key.words()[i] ^ masked_key.words()[i]) & mask.words()[i]) return false;
  }
  return true;
}

// Two megaflows overlap iff they agree on every bit both masks match.
bool Overlap(const FlowKey& k1, const FlowMask& m1, const FlowKey& k2, const FlowMask& m2) {
  for (int i = 0; i < kFlowWords; ++i) {
    if ((k1.words()[i] ^ k2.words()[i]) & m1.words()[i] & m2.words()[i]) return false;
  }
  return true;
}

std::array<uint64_t, kFlowWords> WordsOf(const FlowKey& k) {
  std::array<uint64_t, kFlowWords> a;
  std::memcpy(a.data(), k.words(), sizeof(a));
  return a;
}

// One megaflow in the reference model, inserted into two classifiers (the
// specialised one and the generic one) through two rule objects.
struct Flow {
  FlowMask mask;
  std::unique_ptr<DpclsRule> spec = std::make_unique<DpclsRule>();
  std::unique_ptr<DpclsRule> gen = std::make_unique<DpclsRule>();
};

class Model {
 public:
  // The index of the flow a linear scan finds for `key`, or -1.
  int Find(const FlowKey& key) const {
    int found = -1;
    for (size_t i = 0; i < flows.size(); ++i) {
      if (Matches(key, flows[i].spec->key, flows[i].mask)) {
        EXPECT_EQ(found, -1) << "the model's rules overlap";
        found = static_cast<int>(i);
      }
    }
    return found;
  }
  bool OverlapsAny(const FlowKey& key, const FlowMask& mask) const {
    for (const Flow& f : flows) {
      if (Overlap(key, mask, f.spec->key, f.mask)) return true;
    }
    return false;
  }
  size_t DistinctMasks() const {
    std::set<std::array<uint64_t, kFlowWords>> masks;
    for (const Flow& f : flows) masks.insert(WordsOf(f.mask));
    return masks.size();
  }

  std::vector<Flow> flows;
};

// The core property: after every change, a batch lookup of random keys over a
// random subset equals the linear scan, for the specialised and the generic
// classifier alike, with and without Sort().
TEST(DpclsTest, MatchesLinearScanOnRandomRules) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    std::vector<FlowMask> masks;
    const int n_masks = 2 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n_masks; ++i) masks.push_back(RandomMask(rng));
    const size_t target = 100 + rng() % 900;

    Dpcls spec(DpclsImpl::kSpecialised);
    Dpcls gen(DpclsImpl::kGeneric);
    Model model;
    int lookups = 0;
    int hits = 0;
    int smc_lookups = 0;
    size_t max_rules = 0;
    for (int step = 0; step < 4000; ++step) {
      const int op = static_cast<int>(rng() % 10);
      if (op < 4 && model.flows.size() < target) {
        const FlowMask& mask = masks[rng() % masks.size()];
        const FlowKey key = Masked(RandomKey(rng), mask);
        if (model.OverlapsAny(key, mask)) continue;
        Flow f;
        f.mask = mask;
        f.spec->key = key;
        f.gen->key = key;
        spec.Insert(f.spec.get(), mask);
        gen.Insert(f.gen.get(), mask);
        model.flows.push_back(std::move(f));
      } else if (op < 6 && !model.flows.empty()) {
        const size_t i = rng() % model.flows.size();
        spec.Remove(model.flows[i].spec.get());
        gen.Remove(model.flows[i].gen.get());
        std::swap(model.flows[i], model.flows.back());
        model.flows.pop_back();
      } else {
        const FlowKey* keys[kMaxBurst];
        FlowKey storage[kMaxBurst];
        for (int i = 0; i < kMaxBurst; ++i) {
          if (!model.flows.empty() && !Coin(rng, 3)) {
            // Matching a rule, or one random bit away from it.
            const Flow& f = model.flows[rng() % model.flows.size()];
            storage[i] = KeyMatching(f.spec->key, f.mask, rng);
            if (Coin(rng, 2)) storage[i].words()[rng() % kFlowWords] ^= 1ull << (rng() % 64);
          } else {
            storage[i] = RandomKey(rng);
          }
          keys[i] = &storage[i];
        }
        const uint32_t map = static_cast<uint32_t>(rng());
        DpclsRule* spec_rules[kMaxBurst] = {};
        DpclsRule* gen_rules[kMaxBurst] = {};
        const uint32_t spec_found = spec.LookupBatch(keys, map, spec_rules);
        const uint32_t gen_found = gen.LookupBatch(keys, map, gen_rules);
        // Through the signature cache (invariant 7), with full hashes or,
        // every other time, hashes from a tiny domain, so that many keys
        // share a bucket and a hash; entries outlive removed rules, whose
        // indexes other rules reuse.
        uint32_t hashes[kMaxBurst];
        const bool tiny = (step / 7) % 2 == 1;
        for (int i = 0; i < kMaxBurst; ++i) {
          hashes[i] = tiny ? FlowKeyHash(storage[i]) % 5 : FlowKeyHash(storage[i]);
        }
        DpclsRule* smc_rules[kMaxBurst] = {};
        const uint32_t smc_found = spec.LookupBatch(keys, hashes, map, smc_rules);
        const uint32_t smc_again = spec.LookupBatch(keys, hashes, map, smc_rules);
        ASSERT_EQ(smc_found, smc_again) << "step " << step;
        if (spec.n_subtables() >= kSmcMinSubtables) {
          ASSERT_TRUE(spec.smc_active());
          ++smc_lookups;
        }
        for (int i = 0; i < kMaxBurst; ++i) {
          const uint32_t bit = 1u << i;
          const int want = (map & bit) ? model.Find(storage[i]) : -1;
          ASSERT_EQ((spec_found & bit) != 0, want >= 0) << "step " << step << " key " << i;
          ASSERT_EQ((gen_found & bit) != 0, want >= 0) << "step " << step << " key " << i;
          ASSERT_EQ((smc_found & bit) != 0, want >= 0) << "step " << step << " key " << i;
          if (want >= 0) {
            ASSERT_EQ(smc_rules[i], model.flows[want].spec.get()) << "step " << step;
            ASSERT_EQ(spec_rules[i], model.flows[want].spec.get()) << "step " << step;
            ASSERT_EQ(gen_rules[i], model.flows[want].gen.get()) << "step " << step;
            ++hits;
          }
        }
        ++lookups;
      }
      if (step % 97 == 0) spec.Sort();  // only one of them: ranking must not matter
      if (step % 250 == 0) {
        ASSERT_TRUE(spec.CheckInvariants()) << "step " << step;
        ASSERT_TRUE(gen.CheckInvariants()) << "step " << step;
      }
      ASSERT_EQ(spec.n_rules(), model.flows.size());
      ASSERT_EQ(gen.n_rules(), model.flows.size());
      ASSERT_EQ(spec.n_subtables(), model.DistinctMasks());
      max_rules = std::max(max_rules, model.flows.size());
    }
    EXPECT_GT(lookups, 500);
    if (n_masks >= static_cast<int>(kSmcMinSubtables) + 2) {
      EXPECT_GT(smc_lookups, 100);
    }
    EXPECT_GT(hits, 5000);  // the random keys really exercise hits
    EXPECT_GT(max_rules, 300u);
    // Single-key Lookup agrees too.
    for (int i = 0; i < 200; ++i) {
      const FlowKey k = RandomKey(rng);
      const int want = model.Find(k);
      EXPECT_EQ(spec.Lookup(k), want >= 0 ? model.flows[want].spec.get() : nullptr);
    }
  }
}

// Many rules in one subtable: the table grows and shrinks and no rule moves.
TEST(DpclsTest, GrowthKeepsRulePointers) {
  const uint64_t seed = 42;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  Rng rng(seed);
  FlowMask mask;
  mask.Clear();
  mask.in_port = 0xffffffffu;
  mask.nw_dst = Be32(0xffffffff);
  mask.tp_dst = Be16(0xffff);
  constexpr int kRules = 20000;
  std::vector<std::unique_ptr<DpclsRule>> rules;
  std::set<std::array<uint64_t, kFlowWords>> used;
  Dpcls cls;
  while (static_cast<int>(rules.size()) < kRules) {
    FlowKey k;
    k.Clear();
    k.in_port = static_cast<uint32_t>(rng() % 8);
    k.nw_dst = Be32(static_cast<uint32_t>(rng()));
    k.tp_dst = Be16(static_cast<uint16_t>(rng()));
    if (!used.insert(WordsOf(k)).second) continue;
    auto r = std::make_unique<DpclsRule>();
    r->key = k;
    cls.Insert(r.get(), mask);
    rules.push_back(std::move(r));
  }
  ASSERT_EQ(cls.n_subtables(), 1u);
  ASSERT_TRUE(cls.CheckInvariants());
  for (const auto& r : rules) ASSERT_EQ(cls.Lookup(r->key), r.get());
  // Remove 95 %, in random order: the table shrinks, the rest stay found.
  std::shuffle(rules.begin(), rules.end(), rng);
  const size_t keep = rules.size() / 20;
  for (size_t i = keep; i < rules.size(); ++i) cls.Remove(rules[i].get());
  ASSERT_TRUE(cls.CheckInvariants());
  ASSERT_EQ(cls.n_rules(), keep);
  for (size_t i = 0; i < rules.size(); ++i) {
    ASSERT_EQ(cls.Lookup(rules[i]->key), i < keep ? rules[i].get() : nullptr) << i;
  }
  for (size_t i = 0; i < keep; ++i) cls.Remove(rules[i].get());
  EXPECT_EQ(cls.n_subtables(), 0u);
  EXPECT_EQ(cls.n_rules(), 0u);
}

FlowMask FieldMask(int which) {
  FlowMask m;
  m.Clear();
  switch (which) {
    case 0:
      m.in_port = 0xffffffffu;
      break;
    case 1:
      m.nw_dst = PrefixMask(24);
      break;
    case 2:
      m.tp_dst = Be16(0xffff);
      break;
    default:
      m.nw_proto = 0xff;
      break;
  }
  return m;
}

FlowKey FieldKey(int which, uint32_t v) {
  FlowKey k;
  k.Clear();
  switch (which) {
    case 0:
      k.in_port = v;
      break;
    case 1:
      k.nw_dst = Be32(v << 8);
      break;
    case 2:
      k.tp_dst = Be16(static_cast<uint16_t>(v));
      break;
    default:
      k.nw_proto = static_cast<uint8_t>(v);
      break;
  }
  return k;
}

std::vector<int> Ranking(const Dpcls& cls, const std::vector<FlowMask>& masks) {
  std::vector<int> out;
  for (const DpclsSubtableInfo& info : cls.Subtables()) {
    for (size_t j = 0; j < masks.size(); ++j) {
      if (info.mask == masks[j]) out.push_back(static_cast<int>(j));
    }
  }
  return out;
}

TEST(DpclsTest, SubtablesRankingAndSort) {
  std::vector<FlowMask> masks = {FieldMask(0), FieldMask(1), FieldMask(2), FieldMask(3)};
  Dpcls cls;
  // Rules whose fields never overlap across masks: each field's rules use
  // values >= 1, and lookups set only one field (others 0).
  std::vector<std::unique_ptr<DpclsRule>> rules;
  for (int f = 0; f < 3; ++f) {
    for (uint32_t v = 1; v <= 3; ++v) {
      auto r = std::make_unique<DpclsRule>();
      r->key = FieldKey(f, v);
      cls.Insert(r.get(), masks[f]);
      rules.push_back(std::move(r));
    }
  }
  ASSERT_EQ(cls.n_subtables(), 3u);
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{0, 1, 2}));  // insertion order

  auto hit = [&](int f, int times) {
    for (int i = 0; i < times; ++i) {
      const FlowKey k = FieldKey(f, 1 + i % 3);
      const DpclsRule* r = cls.Lookup(k);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->key, k);
    }
  };
  hit(2, 5);
  hit(1, 3);
  std::vector<DpclsSubtableInfo> info = cls.Subtables();
  EXPECT_EQ(info[0].hits, 0u);
  EXPECT_EQ(info[1].hits, 3u);
  EXPECT_EQ(info[2].hits, 5u);
  EXPECT_EQ(info[2].n_rules, 3u);

  cls.Sort();
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{2, 1, 0}));
  for (const auto& i : cls.Subtables()) EXPECT_EQ(i.hits, 0u);  // reset

  // Ties keep the previous order (stable): 1 and 0 both get 2 hits.
  hit(0, 2);
  hit(1, 2);
  cls.Sort();
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{1, 0, 2}));
  // No hits at all: the order stays.
  cls.Sort();
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{1, 0, 2}));

  // A new mask ranks last; removing a subtable's last rule destroys it.
  auto r = std::make_unique<DpclsRule>();
  r->key = FieldKey(3, 17);
  cls.Insert(r.get(), masks[3]);
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{1, 0, 2, 3}));
  EXPECT_EQ(cls.n_subtables(), 4u);
  for (int i = 0; i < 3; ++i) cls.Remove(rules[i].get());  // all of field 0
  EXPECT_EQ(Ranking(cls, masks), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(cls.n_rules(), 7u);
  EXPECT_EQ(cls.Lookup(FieldKey(0, 1)), nullptr);
  EXPECT_EQ(cls.Lookup(FieldKey(3, 17)), r.get());
  EXPECT_TRUE(cls.CheckInvariants());
}

// A catch-all megaflow (empty mask) matches every key.
TEST(DpclsTest, EmptyMaskMatchesEverything) {
  const uint64_t seed = 7;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  Rng rng(seed);
  FlowMask none;
  none.Clear();
  DpclsRule r;
  r.key.Clear();
  Dpcls cls;
  cls.Insert(&r, none);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cls.Lookup(RandomKey(rng)), &r);
  cls.Remove(&r);
  EXPECT_EQ(cls.Lookup(RandomKey(rng)), nullptr);
  EXPECT_EQ(cls.n_subtables(), 0u);
}

// A mask with exactly n non-zero words, at random positions, random bits.
FlowMask MaskWithWords(int n, Rng& rng) {
  std::array<int, kFlowWords> pos;
  for (int i = 0; i < kFlowWords; ++i) pos[i] = i;
  std::shuffle(pos.begin(), pos.end(), rng);
  FlowMask m;
  m.Clear();
  for (int i = 0; i < n; ++i) {
    uint64_t w = 0;
    while (w == 0) w = rng() & rng();  // about half the bits
    m.words()[pos[i]] = w;
  }
  return m;
}

FlowKey SparseRandomKey(Rng& rng) {
  FlowKey k;
  for (int i = 0; i < kFlowWords; ++i) k.words()[i] = rng() & 0x0101010101010101ull;
  return k;
}

// Every specialised routine equals the generic one: same hashes, same
// lookup results on the same subtable, for every word count 0..16.
TEST(DpclsTest, SpecialisationsEqualGeneric) {
  for (uint64_t seed : {11, 12, 13}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Rng rng(seed);
    for (int n = 0; n <= kFlowWords; ++n) {
      SCOPED_TRACE(testing::Message() << "n_words=" << n);
      const FlowMask mask = MaskWithWords(n, rng);
      DpclsSubtable st(mask, DpclsImpl::kSpecialised);
      ASSERT_EQ(st.n_words(), n);
      EXPECT_EQ(st.specialised(), n >= 1 && n <= DpclsSubtable::kMaxSpecialisedWords);
      DpclsSubtable generic(mask, DpclsImpl::kGeneric);
      EXPECT_FALSE(generic.specialised());

      std::vector<std::unique_ptr<DpclsRule>> rules;
      std::set<std::array<uint64_t, kFlowWords>> used;
      const int n_rules = n == 0 ? 1 : 300;
      for (int attempts = 0; static_cast<int>(rules.size()) < n_rules && attempts < 5000;
           ++attempts) {
        const FlowKey k = Masked(SparseRandomKey(rng), mask);
        if (!used.insert(WordsOf(k)).second) continue;
        auto r = std::make_unique<DpclsRule>();
        r->key = k;
        st.Insert(r.get());
        rules.push_back(std::move(r));
      }
      ASSERT_TRUE(st.CheckInvariants());

      for (int round = 0; round < 60; ++round) {
        FlowKey storage[kMaxBurst];
        const FlowKey* keys[kMaxBurst];
        for (int i = 0; i < kMaxBurst; ++i) {
          storage[i] = Coin(rng, 2) ? KeyMatching(rules[rng() % rules.size()]->key, mask, rng)
                                    : SparseRandomKey(rng);
          keys[i] = &storage[i];
          ASSERT_EQ(st.HashSpecialised(storage[i]), st.Hash(storage[i]));
        }
        const uint32_t map = static_cast<uint32_t>(rng()) | 1u;
        DpclsRule* a[kMaxBurst] = {};
        DpclsRule* b[kMaxBurst] = {};
        const uint32_t fa = st.LookupBatch(keys, map, a);
        const uint32_t fb = st.LookupBatchGeneric(keys, map, b);
        ASSERT_EQ(fa, fb);
        for (int i = 0; i < kMaxBurst; ++i) {
          if (!(fa & (1u << i))) continue;
          ASSERT_EQ(a[i], b[i]);
          ASSERT_TRUE(Matches(storage[i], a[i]->key, mask));
          ASSERT_EQ(st.Find(storage[i]), a[i]);
        }
        // Nothing found that a scan would find, either.
        for (int i = 0; i < kMaxBurst; ++i) {
          if (!(map & (1u << i)) || (fa & (1u << i))) continue;
          for (const auto& r : rules) ASSERT_FALSE(Matches(storage[i], r->key, mask));
        }
      }
      for (const auto& r : rules) st.Remove(r.get());
      EXPECT_EQ(st.n_rules(), 0u);
    }
  }
}

// Keys that share a subtable hash: a bucket overflows into the next ones
// and a hash match with a different key falls back to the full probe.
TEST(DpclsTest, HashCollisionsAndOverflow) {
  const uint64_t seed = 99;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  Rng rng(seed);
  FlowMask mask;
  mask.Clear();
  mask.words()[4] = ~0ull;  // nw_src and nw_dst
  for (DpclsImpl impl : {DpclsImpl::kSpecialised, DpclsImpl::kGeneric}) {
    DpclsSubtable st(mask, impl);
    auto key_of = [](uint64_t w) {
      FlowKey k;
      k.Clear();
      k.words()[4] = w;
      return k;
    };
    // CRC32C is linear over GF(2) and the finisher a function of it, so
    // a ^ d shares a's hash whenever d ^ 0 collides with 0. Find three
    // independent such differences by a birthday search.
    std::vector<uint64_t> diffs;
    std::unordered_map<uint32_t, uint64_t> seen;
    for (int i = 0; i < (1 << 22) && diffs.size() < 3; ++i) {
      const uint64_t w = rng();
      const uint32_t h = st.Hash(key_of(w));
      auto [it, fresh] = seen.emplace(h, w);
      if (fresh || it->second == w) continue;
      const uint64_t d = it->second ^ w;
      bool independent = true;
      for (int s = 1; s < (1 << diffs.size()); ++s) {
        uint64_t span = 0;
        for (size_t j = 0; j < diffs.size(); ++j) {
          if (s & (1 << j)) span ^= diffs[j];
        }
        independent &= span != d;
      }
      if (independent) diffs.push_back(d);
    }
    ASSERT_EQ(diffs.size(), 3u);
    // 8 keys with one hash: more than a bucket's 7 ways.
    const uint64_t base = rng();
    std::vector<FlowKey> same;
    for (int s = 0; s < 8; ++s) {
      uint64_t w = base;
      for (int j = 0; j < 3; ++j) {
        if (s & (1 << j)) w ^= diffs[j];
      }
      same.push_back(key_of(w));
      ASSERT_EQ(st.Hash(same.back()), st.Hash(same[0]));
    }
    // And 40 keys whose hashes share their low 12 bits (one home bucket
    // for any table of up to 4096 buckets).
    std::vector<FlowKey> home;
    while (home.size() < 40) {
      const FlowKey k = key_of(rng());
      if ((st.Hash(k) & 0xfff) == 0x5a5) home.push_back(k);
    }

    std::vector<std::unique_ptr<DpclsRule>> rules;
    for (size_t i = 0; i < 7; ++i) {  // leave same[7] out: a colliding miss
      rules.push_back(std::make_unique<DpclsRule>());
      rules.back()->key = same[i];
    }
    for (const FlowKey& k : home) {
      rules.push_back(std::make_unique<DpclsRule>());
      rules.back()->key = k;
    }
    std::shuffle(rules.begin(), rules.end(), rng);
    for (const auto& r : rules) st.Insert(r.get());
    ASSERT_TRUE(st.CheckInvariants());
    EXPECT_GT(st.n_overflowed_buckets(), 0u);

    auto check_all = [&](size_t live_from) {
      // rules[live_from..] are in the table, rules[..live_from) are not.
      for (size_t base_i = 0; base_i < rules.size(); base_i += kMaxBurst) {
        const FlowKey* keys[kMaxBurst];
        const size_t n = std::min<size_t>(kMaxBurst, rules.size() - base_i);
        for (size_t i = 0; i < n; ++i) keys[i] = &rules[base_i + i]->key;
        const uint32_t map = n == 32 ? ~0u : (1u << n) - 1;
        DpclsRule* got[kMaxBurst] = {};
        const uint32_t found = st.LookupBatch(keys, map, got);
        DpclsRule* got_generic[kMaxBurst] = {};
        ASSERT_EQ(st.LookupBatchGeneric(keys, map, got_generic), found);
        for (size_t i = 0; i < n; ++i) {
          const bool live = base_i + i >= live_from;
          ASSERT_EQ((found >> i) & 1, live ? 1u : 0u) << base_i + i;
          if (live) {
            ASSERT_EQ(got[i], rules[base_i + i].get());
            ASSERT_EQ(got_generic[i], rules[base_i + i].get());
          }
        }
      }
      const FlowKey* miss[1] = {&same[7]};
      DpclsRule* got[1] = {};
      ASSERT_EQ(st.LookupBatch(miss, 1, got), 0u);
    };
    check_all(0);
    for (size_t i = 0; i < rules.size(); ++i) {
      st.Remove(rules[i].get());
      ASSERT_TRUE(st.CheckInvariants()) << "after removing " << i;
      check_all(i + 1);
    }
    EXPECT_EQ(st.n_overflowed_buckets(), 0u);
  }
}

}  // namespace
}  // namespace sluice::dp
