// Tests for the OpenFlow classifier and its prefix tries: lookups against a
// linear-scan reference on random tables with interleaved inserts and
// removes, the wildcard soundness property, wildcard quality (prefix tries
// and staged lookup), FindExactly / ForEachMatching / HasOverlap against
// their linear definitions, priorities and ties, and PrefixTrie against
// brute force. Every random test prints its seed on failure; set
// SLUICE_TEST_SEED to vary the base seed.
#include "ofproto/classifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ofproto/prefix_trie.h"

namespace sluice::ofproto {
namespace {

using Rng = std::mt19937_64;

uint64_t BaseSeed() {
  const char* s = std::getenv("SLUICE_TEST_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 20240611u;
}

std::string SeedTrace(uint64_t seed) {
  return "seed=" + std::to_string(seed) +
         " (rerun with SLUICE_TEST_SEED=" + std::to_string(BaseSeed()) + ")";
}

bool Coin(Rng& rng, int one_in) { return rng() % one_in == 0; }

constexpr be32 Ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Be32(static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
              static_cast<uint32_t>(c) << 8 | d);
}

be32 PrefixMask(int len) {
  return Be32(len == 0 ? 0u : static_cast<uint32_t>(~0ull << (32 - len)));
}

void SetPrefix(uint8_t* bytes, int n_bytes, int len) {
  std::memset(bytes, 0, n_bytes);
  for (int i = 0; i < len; ++i) bytes[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
}

OfMask EmptyMask() {
  OfMask m;
  m.Clear();
  return m;
}

std::string MaskString(const OfMask& m) {
  std::string s;
  char buf[40];
  for (int w = 0; w < kOfFlowWords; ++w) {
    if (!m.words()[w]) continue;
    std::snprintf(buf, sizeof(buf), "w%d=%016llx ", w,
                  static_cast<unsigned long long>(m.words()[w]));
    s += buf;
  }
  return s.empty() ? "(none)" : s;
}

// ---------------------------------------------------------------------------
// Random tables and flows over small, realistic domains.

constexpr uint16_t kTypes[] = {0x0800, 0x0806, 0x86dd};
constexpr uint8_t kProtos[] = {1, 6, 17};
constexpr uint16_t kPorts[] = {22, 53, 80, 443};
constexpr uint16_t kVids[] = {10, 20};
constexpr be32 kIpBases[] = {Ip(10, 0, 0, 0), Ip(10, 0, 1, 0), Ip(10, 1, 0, 0), Ip(192, 168, 1, 0),
                             Ip(172, 16, 0, 0)};

dp::EthAddr Mac(Rng& rng) {
  dp::EthAddr a = {{0x02, 0, 0, 0, 0, static_cast<uint8_t>(rng() % 4)}};
  if (Coin(rng, 5)) a.b[0] = 0x01;  // multicast
  return a;
}

be32 RandomIp(Rng& rng) {
  uint32_t ip = kIpBases[rng() % std::size(kIpBases)].host();
  switch (rng() % 8) {
    case 0:
      ip = static_cast<uint32_t>(rng());
      break;
    case 1:
    case 2:
      ip ^= static_cast<uint32_t>(rng() & 0xffff);
      break;
    case 3:
    case 4:
    case 5:
      ip ^= static_cast<uint32_t>(rng() & 0xff);
      break;
    default:
      break;
  }
  return Be32(ip);
}

void RandomIp6(Rng& rng, uint8_t* a) {
  static constexpr uint8_t kBases[3][4] = {
      {0x20, 0x01, 0x0d, 0xb8}, {0xfe, 0x80, 0, 0}, {0x20, 0x01, 0x0d, 0xb9}};
  std::memset(a, 0, 16);
  std::memcpy(a, kBases[rng() % 3], 4);
  const int tail = static_cast<int>(rng() % 3);
  if (tail == 1) a[15] = static_cast<uint8_t>(rng());
  if (tail == 2) {
    for (int i = 4; i < 16; ++i) a[i] = static_cast<uint8_t>(rng());
  }
}

OfFlow RandomFlow(Rng& rng) {
  OfFlow f;
  f.Clear();
  dp::FlowKey& k = f.dp;
  k.in_port = 1 + static_cast<uint32_t>(rng() % 4);
  k.eth_type = Be16(kTypes[rng() % std::size(kTypes)]);
  k.eth_dst = Mac(rng);
  k.eth_src = Mac(rng);
  if (Coin(rng, 3)) {
    k.vlan[0].tpid = Be16(0x8100);
    k.vlan[0].tci = Be16(dp::kVlanPresent | kVids[rng() % 2]);
  }
  k.nw_src = RandomIp(rng);
  k.nw_dst = RandomIp(rng);
  k.nw_proto = kProtos[rng() % std::size(kProtos)];
  k.nw_ttl = 64;
  k.tp_src = Be16(static_cast<uint16_t>(1024 + rng() % 4));
  k.tp_dst = Be16(kPorts[rng() % std::size(kPorts)]);
  RandomIp6(rng, k.ipv6_src);
  RandomIp6(rng, k.ipv6_dst);
  f.metadata = rng() % 4;
  f.regs[0] = static_cast<uint32_t>(rng() % 3);
  return f;
}

// Any bits at all (for the "elsewhere" of the soundness property).
OfFlow NoiseFlow(Rng& rng) {
  OfFlow f;
  for (int w = 0; w < kOfFlowWords; ++w) f.words()[w] = rng();
  return f;
}

// A mask over the fields OpenFlow rules match on.
OfMask RandomMask(Rng& rng) {
  OfMask m = EmptyMask();
  dp::FlowKey& k = m.dp;
  if (Coin(rng, 2)) k.in_port = 0xffffffffu;
  if (Coin(rng, 2)) k.eth_type = Be16(0xffff);
  if (Coin(rng, 6)) {
    std::memset(&k.eth_dst, 0xff, sizeof(k.eth_dst));
  } else if (Coin(rng, 12)) {
    k.eth_dst.b[0] = 0x01;
  }
  if (Coin(rng, 3)) {
    k.nw_src = PrefixMask(1 + static_cast<int>(rng() % 32));
  } else if (Coin(rng, 20)) {
    k.nw_src = Be32(0xff00ff00u);  // not a prefix: no trie
  }
  if (Coin(rng, 3)) {
    k.nw_dst = PrefixMask(1 + static_cast<int>(rng() % 32));
  } else if (Coin(rng, 20)) {
    k.nw_dst = Be32(0x00ffff00u);
  }
  if (Coin(rng, 4)) k.nw_proto = 0xff;
  if (Coin(rng, 4)) {
    k.tp_dst = Be16(0xffff);
  } else if (Coin(rng, 20)) {
    k.tp_dst = Be16(0xff00);
  }
  if (Coin(rng, 8)) k.vlan[0].tci = Be16(dp::kVlanPresent | dp::kVlanVidMask);
  if (Coin(rng, 8)) SetPrefix(k.ipv6_dst, 16, 1 + static_cast<int>(rng() % 128));
  if (Coin(rng, 12)) SetPrefix(k.ipv6_src, 16, 1 + static_cast<int>(rng() % 128));
  if (Coin(rng, 8)) {
    m.metadata = ~0ull;
  } else if (Coin(rng, 16)) {
    m.metadata = 0x1;
  }
  if (Coin(rng, 16)) m.regs[0] = 0xffffffffu;
  return m;
}

// A flow that `match` matches, random elsewhere.
OfFlow FlowFor(Rng& rng, const OfMatch& match) {
  OfFlow f = RandomFlow(rng);
  for (int w = 0; w < kOfFlowWords; ++w) {
    f.words()[w] = (f.words()[w] & ~match.mask.words()[w]) | match.value.words()[w];
  }
  return f;
}

// ---------------------------------------------------------------------------
// The reference: a linear scan with the documented order (classifier.h,
// invariant 1): priority descending, then the "epoch" of the rule's mask
// (the insertion number that last brought the mask into the table), then
// the rule's insertion number.

class Reference {
 public:
  void Insert(ClsRule* r) {
    ++seq_;
    MaskEntry& e = masks_[Key(r->match.mask)];
    if (e.count++ == 0) e.epoch = seq_;
    rules_.push_back({r, seq_});
  }
  void Remove(ClsRule* r) {
    auto it =
        std::find_if(rules_.begin(), rules_.end(), [r](const Entry& e) { return e.rule == r; });
    ASSERT_NE(it, rules_.end());
    rules_.erase(it);
    auto m = masks_.find(Key(r->match.mask));
    if (--m->second.count == 0) masks_.erase(m);
  }
  const ClsRule* Lookup(const OfFlow& f) const {
    const Entry* best = nullptr;
    uint64_t best_epoch = 0;
    for (const Entry& e : rules_) {
      if (!e.rule->match.Matches(f)) continue;
      const uint64_t epoch = masks_.at(Key(e.rule->match.mask)).epoch;
      if (!best || e.rule->priority > best->rule->priority ||
          (e.rule->priority == best->rule->priority &&
           (epoch < best_epoch || (epoch == best_epoch && e.seq < best->seq)))) {
        best = &e;
        best_epoch = epoch;
      }
    }
    return best ? best->rule : nullptr;
  }
  const ClsRule* FindExactly(const OfMatch& m, int32_t priority) const {
    OfFlow v;
    MaskFlow(m.value, m.mask, &v);
    for (const Entry& e : rules_) {  // in insertion order: the oldest first
      if (e.rule->priority == priority && e.rule->match.mask == m.mask &&
          e.rule->match.value == v) {
        return e.rule;
      }
    }
    return nullptr;
  }
  std::set<const ClsRule*> Matching(const OfMatch& filter) const {
    std::set<const ClsRule*> out;
    for (const Entry& e : rules_) {
      bool ok = true;
      for (int w = 0; w < kOfFlowWords; ++w) {
        const uint64_t fm = filter.mask.words()[w];
        ok &= (e.rule->match.mask.words()[w] & fm) == fm;
        ok &= (e.rule->match.value.words()[w] & fm) == (filter.value.words()[w] & fm);
      }
      if (ok) out.insert(e.rule);
    }
    return out;
  }
  bool HasOverlap(const OfMatch& m, int32_t priority) const {
    for (const Entry& e : rules_) {
      if (e.rule->priority != priority) continue;
      bool ok = true;
      for (int w = 0; w < kOfFlowWords; ++w) {
        const uint64_t both = e.rule->match.mask.words()[w] & m.mask.words()[w];
        ok &= ((e.rule->match.value.words()[w] ^ m.value.words()[w]) & both) == 0;
      }
      if (ok) return true;
    }
    return false;
  }
  size_t size() const { return rules_.size(); }

 private:
  struct Entry {
    ClsRule* rule;
    uint64_t seq;
  };
  struct MaskEntry {
    size_t count = 0;
    uint64_t epoch = 0;
  };
  static std::string Key(const OfMask& m) {
    return std::string(reinterpret_cast<const char*>(&m), sizeof(m));
  }

  uint64_t seq_ = 0;
  std::vector<Entry> rules_;
  std::map<std::string, MaskEntry> masks_;
};

// A random table: rules drawn from a palette of masks, priorities from a
// span (1 = all equal: ties everywhere).
struct Table {
  std::vector<std::unique_ptr<ClsRule>> live;  // outlives cls
  Classifier cls;
  Reference ref;
  std::vector<OfMask> palette;
  int32_t span = 1;

  void Setup(Rng& rng) {
    const int n_masks = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n_masks; ++i) palette.push_back(RandomMask(rng));
    if (Coin(rng, 3)) palette.push_back(EmptyMask());  // a catch-all
    static constexpr int32_t kSpans[] = {1, 3, 8, 1000};
    span = kSpans[rng() % std::size(kSpans)];
  }
  std::unique_ptr<ClsRule> NewRule(Rng& rng) {
    auto r = std::make_unique<ClsRule>();
    r->match.mask = palette[rng() % palette.size()];
    // Values from flows (so they look real); sometimes copy a live rule's
    // match, to get equal matches with other priorities.
    if (!live.empty() && Coin(rng, 8)) {
      r->match = live[rng() % live.size()]->match;
    } else {
      r->match.value = RandomFlow(rng);  // Insert masks it
    }
    r->priority = static_cast<int32_t>(rng() % static_cast<uint64_t>(span));
    return r;
  }
  void InsertRandom(Rng& rng) {
    live.push_back(NewRule(rng));
    cls.Insert(live.back().get());
    ref.Insert(live.back().get());
  }
  void RemoveRandom(Rng& rng) {
    const size_t i = rng() % live.size();
    cls.Remove(live[i].get());
    ref.Remove(live[i].get());
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
  }
  OfFlow Flow(Rng& rng) const {
    if (!live.empty() && !Coin(rng, 3)) return FlowFor(rng, live[rng() % live.size()]->match);
    return RandomFlow(rng);
  }
};

// ---------------------------------------------------------------------------

TEST(ClassifierTest, StageMasksPartitionTheFlow) {
  for (int w = 0; w < kOfFlowWords; ++w) {
    uint64_t all = 0;
    for (int s = 0; s < Classifier::kNumStages; ++s) {
      const uint64_t m = Classifier::StageMask(s).words()[w];
      EXPECT_EQ(all & m, 0u) << "stage " << s << " overlaps at word " << w;
      all |= m;
    }
    EXPECT_EQ(all, ~0ull) << "word " << w;
  }
  OfFlow f;
  f.Clear();
  f.dp.eth_type = Be16(0xffff);
  EXPECT_EQ(f.words()[1] & Classifier::StageMask(Classifier::kStageL2).words()[1], f.words()[1]);
  f.Clear();
  f.dp.in_port = 0xffffffffu;
  f.metadata = ~0ull;
  for (int w : {0, 16}) {
    EXPECT_EQ(Classifier::StageMask(Classifier::kStageMetadata).words()[w] & f.words()[w],
              f.words()[w]);
  }
}

TEST(ClassifierTest, PrefixLength) {
  OfMask m = EmptyMask();
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwDst), 0);
  m.dp.nw_dst = PrefixMask(24);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwDst), 24);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwSrc), 0);
  m.dp.nw_src = PrefixMask(32);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwSrc), 32);
  m.dp.nw_src = Be32(0xff00ff00u);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwSrc), -1);
  m.dp.nw_src = Be32(0x7fffffffu);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieNwSrc), -1);
  SetPrefix(m.dp.ipv6_dst, 16, 77);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieIpv6Dst), 77);
  SetPrefix(m.dp.ipv6_src, 16, 128);
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieIpv6Src), 128);
  m.dp.ipv6_src[15] = 0x7f;
  EXPECT_EQ(Classifier::PrefixLength(m, Classifier::kTrieIpv6Src), -1);
}

// Invariant 1 and 3: against the linear scan, inserts and removes
// interleaved, lookups with and without wildcard tracking.
TEST(ClassifierTest, MatchesLinearReference) {
  const uint64_t base = BaseSeed();
  for (uint64_t iter = 0; iter < 60; ++iter) {
    const uint64_t seed = base * 1000 + iter;
    SCOPED_TRACE(SeedTrace(seed));
    Rng rng(seed);
    Table t;
    t.Setup(rng);
    const int target = 1 + static_cast<int>(rng() % 300);
    for (int op = 0; op < 3 * target; ++op) {
      const bool grow = static_cast<int>(t.live.size()) < target;
      if (t.live.empty() || (grow ? !Coin(rng, 4) : Coin(rng, 2))) {
        t.InsertRandom(rng);
      } else {
        t.RemoveRandom(rng);
      }
      ASSERT_EQ(t.cls.size(), t.ref.size());
      if (op % 16 == 0) {
        ASSERT_TRUE(t.cls.CheckInvariants()) << "op " << op;
      }
      for (int q = 0; q < 4; ++q) {
        const OfFlow f = t.Flow(rng);
        const ClsRule* want = t.ref.Lookup(f);
        OfMask wc = EmptyMask();
        ASSERT_EQ(t.cls.Lookup(f, &wc), want) << "op " << op << " query " << q;
        ASSERT_EQ(t.cls.Lookup(f, nullptr), want) << "op " << op << " query " << q;
      }
    }
    ASSERT_TRUE(t.cls.CheckInvariants());
    // Drain: the table ends empty, with no subtables and empty tries.
    while (!t.live.empty()) t.RemoveRandom(rng);
    EXPECT_EQ(t.cls.size(), 0u);
    EXPECT_EQ(t.cls.n_subtables(), 0u);
    for (int f = 0; f < Classifier::kNumTries; ++f) {
      EXPECT_EQ(t.cls.trie(f).n_prefixes(), 0u);
      EXPECT_EQ(t.cls.trie(f).n_nodes(), 1u);
    }
    EXPECT_TRUE(t.cls.CheckInvariants());
  }
}

// Invariant 2, THE property: any flow that agrees with the looked-up flow on
// the reported wildcards gets the same rule.
TEST(ClassifierTest, WildcardsAreSound) {
  const uint64_t base = BaseSeed();
  size_t checked = 0, narrowed = 0;
  for (uint64_t iter = 0; iter < 80; ++iter) {
    const uint64_t seed = base * 2000 + iter;
    SCOPED_TRACE(SeedTrace(seed));
    Rng rng(seed);
    Table t;
    t.Setup(rng);
    const int n = 1 + static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) t.InsertRandom(rng);
    for (int i = 0; i < n / 4; ++i) t.RemoveRandom(rng);  // removal leaves no stale state
    for (int q = 0; q < 40; ++q) {
      const OfFlow f = t.Flow(rng);
      OfMask wc = EmptyMask();
      const ClsRule* r = t.cls.Lookup(f, &wc);
      ASSERT_EQ(r, t.ref.Lookup(f)) << "query " << q;
      for (int k = 0; k < 150; ++k) {
        OfFlow other;
        switch (rng() % 5) {
          case 0:
          case 1:
            other = t.Flow(rng);  // likely to hit some rule
            break;
          case 2:
          case 3:
            other = RandomFlow(rng);
            break;
          default:
            other = NoiseFlow(rng);
            break;
        }
        OfFlow g;
        for (int w = 0; w < kOfFlowWords; ++w) {
          g.words()[w] = (f.words()[w] & wc.words()[w]) | (other.words()[w] & ~wc.words()[w]);
        }
        const ClsRule* got = t.cls.Lookup(g, nullptr);
        ASSERT_EQ(got, r) << "query " << q << " probe " << k << " wc: " << MaskString(wc)
                          << "\n  reference for the probe: "
                          << (t.ref.Lookup(g) == got ? "agrees with classifier" : "disagrees");
        ++checked;
        if (!(g == f)) ++narrowed;
      }
      // A flow that agrees on wc gets the same rule, and its own wildcards
      // are sound too.
      const OfFlow other = t.Flow(rng);
      OfFlow g;
      for (int w = 0; w < kOfFlowWords; ++w) {
        g.words()[w] = (f.words()[w] & wc.words()[w]) | (other.words()[w] & ~wc.words()[w]);
      }
      OfMask wc2 = EmptyMask();
      ASSERT_EQ(t.cls.Lookup(g, &wc2), r);
      for (int k = 0; k < 20; ++k) {
        const OfFlow other2 = Coin(rng, 2) ? t.Flow(rng) : NoiseFlow(rng);
        OfFlow h;
        for (int w = 0; w < kOfFlowWords; ++w) {
          h.words()[w] = (g.words()[w] & wc2.words()[w]) | (other2.words()[w] & ~wc2.words()[w]);
        }
        ASSERT_EQ(t.cls.Lookup(h, nullptr), r) << "second level, probe " << k;
      }
    }
  }
  EXPECT_GT(checked, 100000u);
  EXPECT_GT(narrowed, checked / 2);
}

// Invariant 3: wc only gains bits.
TEST(ClassifierTest, WildcardsOnlyGainBits) {
  const uint64_t seed = BaseSeed() * 3000;
  SCOPED_TRACE(SeedTrace(seed));
  Rng rng(seed);
  Table t;
  t.Setup(rng);
  for (int i = 0; i < 100; ++i) t.InsertRandom(rng);
  for (int q = 0; q < 500; ++q) {
    const OfFlow f = t.Flow(rng);
    OfMask pre = NoiseFlow(rng);
    for (int w = 0; w < kOfFlowWords; ++w) pre.words()[w] &= rng();  // sparse
    OfMask wc = pre;
    t.cls.Lookup(f, &wc);
    OfMask fresh = EmptyMask();
    t.cls.Lookup(f, &fresh);
    for (int w = 0; w < kOfFlowWords; ++w) {
      ASSERT_EQ(wc.words()[w], pre.words()[w] | fresh.words()[w]) << "word " << w;
    }
  }
}

OfFlow Ipv4Packet(be32 src, be32 dst) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = 1;
  f.dp.eth_type = Be16(0x0800);
  f.dp.nw_src = src;
  f.dp.nw_dst = dst;
  f.dp.nw_proto = 6;
  f.dp.tp_src = Be16(40000);
  f.dp.tp_dst = Be16(80);
  return f;
}

std::unique_ptr<ClsRule> CatchAll(int32_t priority) {
  auto r = std::make_unique<ClsRule>();
  r->match = OfMatch::CatchAll();
  r->priority = priority;
  return r;
}

std::unique_ptr<ClsRule> NwDstRule(be32 dst, int len, int32_t priority) {
  auto r = std::make_unique<ClsRule>();
  r->match = OfMatch::CatchAll();
  r->match.mask.dp.eth_type = Be16(0xffff);
  r->match.value.dp.eth_type = Be16(0x0800);
  r->match.mask.dp.nw_dst = PrefixMask(len);
  r->match.value.dp.nw_dst = dst;
  r->priority = priority;
  return r;
}

// One /24 rule and a catch-all: a packet outside the /24 costs one bit of
// nw_dst, a packet inside exactly the rule's match.
TEST(ClassifierTest, PrefixTrieNarrowsWildcards) {
  Classifier cls;
  auto rule = NwDstRule(Ip(10, 0, 0, 0), 24, 100);
  auto dflt = CatchAll(0);
  cls.Insert(rule.get());
  cls.Insert(dflt.get());

  {
    OfMask wc = EmptyMask();
    EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 2, 3, 4), Ip(192, 168, 1, 1)), &wc), dflt.get());
    OfMask want = EmptyMask();
    want.dp.nw_dst = PrefixMask(1);  // 192 = 1..., 10 = 0...
    EXPECT_EQ(wc, want) << MaskString(wc);
  }
  {
    OfMask wc = EmptyMask();
    EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 2, 3, 4), Ip(10, 0, 0, 5)), &wc), rule.get());
    EXPECT_EQ(wc, rule->match.mask) << MaskString(wc);  // eth_type and nw_dst/24
  }
  {
    // Diverges from 10.0.0.0/24 at its last bit: the /24 is needed, not /32.
    OfMask wc = EmptyMask();
    EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 2, 3, 4), Ip(10, 0, 1, 5)), &wc), dflt.get());
    OfMask want = EmptyMask();
    want.dp.nw_dst = PrefixMask(24);
    EXPECT_EQ(wc, want) << MaskString(wc);
  }
  {
    // An ARP packet: the L2 stage (eth_type) proves the miss.
    OfFlow arp = Ipv4Packet(Ip(1, 2, 3, 4), Ip(10, 0, 0, 5));
    arp.dp.eth_type = Be16(0x0806);
    OfMask wc = EmptyMask();
    EXPECT_EQ(cls.Lookup(arp, &wc), dflt.get());
    OfMask want = EmptyMask();
    want.dp.eth_type = Be16(0xffff);
    EXPECT_EQ(wc, want) << MaskString(wc);
  }
}

// Several prefix lengths: each skipped subtable costs only the bits that
// separate the address from the prefixes of its length.
TEST(ClassifierTest, PrefixTrieSeveralLengths) {
  Classifier cls;
  auto r24 = NwDstRule(Ip(10, 1, 2, 0), 24, 30);
  auto r16 = NwDstRule(Ip(192, 168, 0, 0), 16, 20);
  auto r8 = NwDstRule(Ip(10, 0, 0, 0), 8, 10);
  for (ClsRule* r : {r24.get(), r16.get(), r8.get()}) cls.Insert(r);

  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(192, 168, 5, 5)), &wc), r16.get());
  // /24 skipped with 1 bit; /16 matched (eth_type + /16); /8 pruned.
  EXPECT_EQ(wc.dp.nw_dst, PrefixMask(16));
  EXPECT_EQ(wc.dp.eth_type, Be16(0xffff));

  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(10, 1, 3, 4)), &wc), r8.get());
  // 10.1.3.4 leaves 10.1.2.0/24 at bit 23: 24 bits; /16 skipped with 1 bit.
  EXPECT_EQ(wc.dp.nw_dst, PrefixMask(24));

  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(11, 1, 2, 3)), &wc), nullptr);
  // 11 = 00001011 vs 10 = 00001010: every length is decided by bit 7.
  EXPECT_EQ(wc.dp.nw_dst, PrefixMask(8));
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(200, 1, 2, 3)), &wc), nullptr);
  // 200 = 11001000 vs 192 = 11000000: decided by bit 4.
  EXPECT_EQ(wc.dp.nw_dst, PrefixMask(5));
}

// An IPv6 prefix table behaves the same way.
TEST(ClassifierTest, Ipv6PrefixTrie) {
  Classifier cls;
  auto r = std::make_unique<ClsRule>();
  r->match = OfMatch::CatchAll();
  r->match.mask.dp.eth_type = Be16(0xffff);
  r->match.value.dp.eth_type = Be16(0x86dd);
  SetPrefix(r->match.mask.dp.ipv6_src, 16, 64);
  const uint8_t net[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0};
  std::memcpy(r->match.value.dp.ipv6_src, net, 16);
  r->priority = 5;
  auto dflt = CatchAll(0);
  cls.Insert(r.get());
  cls.Insert(dflt.get());

  OfFlow f;
  f.Clear();
  f.dp.eth_type = Be16(0x86dd);
  const uint8_t in[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  std::memcpy(f.dp.ipv6_src, in, 16);
  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(f, &wc), r.get());
  EXPECT_EQ(wc, r->match.mask);

  const uint8_t out[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
  std::memcpy(f.dp.ipv6_src, out, 16);
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(f, &wc), dflt.get());
  OfMask want = EmptyMask();
  SetPrefix(want.dp.ipv6_src, 16, 47);  // 0x0001 vs 0x0002 part at bit 46
  EXPECT_EQ(wc, want) << MaskString(wc);
}

// Staged lookup: a table of ARP rules costs an IPv4 packet only eth_type.
TEST(ClassifierTest, StagedLookupArpTable) {
  const uint64_t seed = BaseSeed() * 4000;
  SCOPED_TRACE(SeedTrace(seed));
  Rng rng(seed);
  Classifier cls;
  std::vector<std::unique_ptr<ClsRule>> rules;
  for (int i = 0; i < 50; ++i) {
    auto r = std::make_unique<ClsRule>();
    r->match = OfMatch::CatchAll();
    OfMask& m = r->match.mask;
    OfFlow& v = r->match.value;
    m.dp.eth_type = Be16(0xffff);
    v.dp.eth_type = Be16(0x0806);
    switch (i % 4) {
      case 0:  // arp_op
        m.dp.nw_proto = 0xff;
        v.dp.nw_proto = static_cast<uint8_t>(1 + rng() % 2);
        break;
      case 1:  // arp_tpa
        m.dp.nw_dst = PrefixMask(32);
        v.dp.nw_dst = RandomIp(rng);
        break;
      case 2:  // arp_spa/24, arp_op
        m.dp.nw_src = PrefixMask(24);
        v.dp.nw_src = RandomIp(rng) & PrefixMask(24);
        m.dp.nw_proto = 0xff;
        v.dp.nw_proto = 1;
        break;
      default:  // arp_sha
        std::memset(&m.dp.arp_sha, 0xff, sizeof(m.dp.arp_sha));
        v.dp.arp_sha = Mac(rng);
        break;
    }
    r->priority = static_cast<int32_t>(rng() % 100);
    cls.Insert(r.get());
    rules.push_back(std::move(r));
  }
  OfMask want = EmptyMask();
  want.dp.eth_type = Be16(0xffff);
  for (int q = 0; q < 100; ++q) {
    OfFlow f = RandomFlow(rng);
    f.dp.eth_type = Be16(0x0800);
    OfMask wc = EmptyMask();
    EXPECT_EQ(cls.Lookup(f, &wc), nullptr);
    EXPECT_EQ(wc, want) << MaskString(wc);
  }
}

// Staged lookup: metadata first; a packet from another port costs in_port.
TEST(ClassifierTest, StagedLookupMetadataFirst) {
  Classifier cls;
  std::vector<std::unique_ptr<ClsRule>> rules;
  for (uint16_t port : {22, 80, 443}) {
    auto r = std::make_unique<ClsRule>();
    r->match = OfMatch::CatchAll();
    r->match.mask.dp.in_port = 0xffffffffu;
    r->match.value.dp.in_port = 7;
    r->match.mask.dp.eth_type = Be16(0xffff);
    r->match.value.dp.eth_type = Be16(0x0800);
    r->match.mask.dp.nw_proto = 0xff;
    r->match.value.dp.nw_proto = 6;
    r->match.mask.dp.tp_dst = Be16(0xffff);
    r->match.value.dp.tp_dst = Be16(port);
    r->priority = 10;
    cls.Insert(r.get());
    rules.push_back(std::move(r));
  }
  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(2, 2, 2, 2)), &wc), nullptr);  // in_port 1
  OfMask want = EmptyMask();
  want.dp.in_port = 0xffffffffu;
  EXPECT_EQ(wc, want) << MaskString(wc);

  // Right port and protocol, wrong L4 port: the whole mask.
  OfFlow f = Ipv4Packet(Ip(1, 1, 1, 1), Ip(2, 2, 2, 2));
  f.dp.in_port = 7;
  f.dp.tp_dst = Be16(8080);
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(f, &wc), nullptr);
  EXPECT_EQ(wc, rules[0]->match.mask) << MaskString(wc);
  f.dp.tp_dst = Be16(443);
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(f, &wc), rules[2].get());
  EXPECT_EQ(wc, rules[0]->match.mask);
}

// Priority pruning: once a high-priority rule matched, lower subtables are
// neither probed nor un-wildcarded.
TEST(ClassifierTest, PriorityPruningLimitsWildcards) {
  Classifier cls;
  auto hi = NwDstRule(Ip(10, 0, 0, 0), 8, 100);
  auto lo = std::make_unique<ClsRule>();
  lo->match = OfMatch::CatchAll();
  lo->match.mask.dp.tp_dst = Be16(0xffff);
  lo->match.value.dp.tp_dst = Be16(80);
  lo->priority = 50;
  cls.Insert(lo.get());
  cls.Insert(hi.get());
  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(10, 9, 9, 9)), &wc), hi.get());
  EXPECT_EQ(wc, hi->match.mask);
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(Ipv4Packet(Ip(1, 1, 1, 1), Ip(11, 9, 9, 9)), &wc), lo.get());
  EXPECT_EQ(wc.dp.tp_dst, Be16(0xffff));
}

std::unique_ptr<ClsRule> PortRule(uint32_t port, int32_t priority) {
  auto r = std::make_unique<ClsRule>();
  r->match = OfMatch::CatchAll();
  r->match.mask.dp.in_port = 0xffffffffu;
  r->match.value.dp.in_port = port;
  r->priority = priority;
  return r;
}

TEST(ClassifierTest, SameMatchDifferentPriorities) {
  Classifier cls;
  auto a = PortRule(1, 10);
  auto b = PortRule(1, 30);
  auto c = PortRule(1, 20);
  auto d = PortRule(1, 30);  // same match and priority as b, younger
  for (ClsRule* r : {a.get(), b.get(), c.get(), d.get()}) cls.Insert(r);
  EXPECT_EQ(cls.n_subtables(), 1u);
  EXPECT_EQ(cls.size(), 4u);
  OfFlow f = Ipv4Packet(Ip(1, 1, 1, 1), Ip(2, 2, 2, 2));
  EXPECT_EQ(cls.Lookup(f, nullptr), b.get());  // the older of the two at 30
  EXPECT_EQ(cls.FindExactly(b->match, 30), b.get());
  EXPECT_EQ(cls.FindExactly(b->match, 20), c.get());
  EXPECT_EQ(cls.FindExactly(b->match, 25), nullptr);
  cls.Remove(b.get());
  EXPECT_FALSE(b->inserted());
  EXPECT_EQ(cls.Lookup(f, nullptr), d.get());
  EXPECT_EQ(cls.FindExactly(b->match, 30), d.get());
  cls.Remove(d.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), c.get());
  cls.Remove(c.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), a.get());
  cls.Insert(b.get());  // re-insert: works, and it is the best again
  EXPECT_EQ(cls.Lookup(f, nullptr), b.get());
  EXPECT_TRUE(cls.CheckInvariants());
  cls.Remove(a.get());
  cls.Remove(b.get());
  EXPECT_EQ(cls.n_subtables(), 0u);
  EXPECT_EQ(cls.Lookup(f, nullptr), nullptr);
}

TEST(ClassifierTest, RemovingTheBestExposesTheNext) {
  Classifier cls;
  auto hi = NwDstRule(Ip(10, 0, 0, 0), 24, 100);
  auto mid = PortRule(1, 50);
  auto lo = CatchAll(0);
  for (ClsRule* r : {lo.get(), mid.get(), hi.get()}) cls.Insert(r);
  const OfFlow f = Ipv4Packet(Ip(1, 1, 1, 1), Ip(10, 0, 0, 1));
  EXPECT_EQ(cls.Lookup(f, nullptr), hi.get());
  cls.Remove(hi.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), mid.get());
  cls.Remove(mid.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), lo.get());
  EXPECT_EQ(cls.n_subtables(), 1u);
}

// Ties across masks: the rule whose mask has been in the table the longest
// wins, even when its subtable is visited later.
TEST(ClassifierTest, TiesGoToTheOlderMask) {
  Classifier cls;
  auto y = PortRule(1, 5);  // mask {in_port}: epoch 1
  auto x_hi = std::make_unique<ClsRule>();
  x_hi->match = OfMatch::CatchAll();
  x_hi->match.mask.dp.eth_type = Be16(0xffff);
  x_hi->match.value.dp.eth_type = Be16(0x86dd);
  x_hi->priority = 10;
  auto x_lo = std::make_unique<ClsRule>();
  x_lo->match = x_hi->match;
  x_lo->match.value.dp.eth_type = Be16(0x0800);
  x_lo->priority = 5;
  cls.Insert(y.get());
  cls.Insert(x_hi.get());  // mask {eth_type}: epoch 2, max 10, visited first
  cls.Insert(x_lo.get());
  const OfFlow f = Ipv4Packet(Ip(1, 1, 1, 1), Ip(2, 2, 2, 2));
  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(f, &wc), y.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), y.get());
  EXPECT_EQ(wc.dp.in_port, 0xffffffffu);
  EXPECT_EQ(wc.dp.eth_type, Be16(0xffff));

  // Once {in_port} leaves and comes back, it is the younger mask.
  cls.Remove(y.get());
  cls.Insert(y.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), x_lo.get());
  // Same priority, same mask epoch: the older rule.
  auto y2 = PortRule(1, 5);
  y2->match.mask.dp.eth_type = Be16(0xffff);
  y2->match.value.dp.eth_type = Be16(0x0800);
  cls.Insert(y2.get());
  EXPECT_EQ(cls.Lookup(f, nullptr), x_lo.get());
  EXPECT_TRUE(cls.HasOverlap(y2->match, 5));
}

TEST(ClassifierTest, FindExactly) {
  Classifier cls;
  auto r = NwDstRule(Ip(10, 0, 0, 0), 24, 100);
  cls.Insert(r.get());
  OfMatch m = r->match;
  EXPECT_EQ(cls.FindExactly(m, 100), r.get());
  EXPECT_EQ(cls.FindExactly(m, 99), nullptr);
  m.value.dp.nw_dst = Ip(10, 0, 0, 77);  // bits outside the mask do not count
  EXPECT_EQ(cls.FindExactly(m, 100), r.get());
  m.value.dp.nw_dst = Ip(10, 0, 1, 0);
  EXPECT_EQ(cls.FindExactly(m, 100), nullptr);
  m = r->match;
  m.mask.dp.nw_dst = PrefixMask(16);  // a wider match is not the same rule
  m.value.dp.nw_dst = Ip(10, 0, 0, 0);
  EXPECT_EQ(cls.FindExactly(m, 100), nullptr);
  EXPECT_EQ(cls.FindExactly(OfMatch::CatchAll(), 100), nullptr);
}

TEST(ClassifierTest, ForEachMatchingExample) {
  Classifier cls;
  auto a = NwDstRule(Ip(10, 0, 0, 0), 24, 1);
  auto b = NwDstRule(Ip(10, 0, 1, 0), 24, 1);
  auto c = NwDstRule(Ip(10, 0, 0, 0), 16, 1);
  auto d = PortRule(3, 1);
  for (ClsRule* r : {a.get(), b.get(), c.get(), d.get()}) cls.Insert(r);
  auto collect = [&cls](const OfMatch& filter) {
    std::set<const ClsRule*> s;
    cls.ForEachMatching(filter, [&s](ClsRule* r) { EXPECT_TRUE(s.insert(r).second); });
    return s;
  };
  OfMatch filter = OfMatch::CatchAll();
  EXPECT_EQ(collect(filter), (std::set<const ClsRule*>{a.get(), b.get(), c.get(), d.get()}));
  filter.mask.dp.nw_dst = PrefixMask(16);
  filter.value.dp.nw_dst = Ip(10, 0, 0, 0);
  EXPECT_EQ(collect(filter), (std::set<const ClsRule*>{a.get(), b.get(), c.get()}));
  filter.mask.dp.nw_dst = PrefixMask(24);
  filter.value.dp.nw_dst = Ip(10, 0, 1, 0);
  EXPECT_EQ(collect(filter), (std::set<const ClsRule*>{b.get()}));
  filter = OfMatch::CatchAll();
  filter.mask.dp.in_port = 0xffffffffu;
  filter.value.dp.in_port = 3;
  EXPECT_EQ(collect(filter), (std::set<const ClsRule*>{d.get()}));
  filter.value.dp.in_port = 4;
  EXPECT_TRUE(collect(filter).empty());
  size_t n = 0;
  cls.ForEach([&n](ClsRule*) { ++n; });
  EXPECT_EQ(n, 4u);
}

TEST(ClassifierTest, HasOverlapExample) {
  Classifier cls;
  auto a = NwDstRule(Ip(10, 0, 0, 0), 24, 10);
  auto p = PortRule(1, 20);
  cls.Insert(a.get());
  cls.Insert(p.get());
  EXPECT_TRUE(cls.HasOverlap(a->match, 10));   // the identical match
  EXPECT_FALSE(cls.HasOverlap(a->match, 11));  // other priority
  auto m = NwDstRule(Ip(10, 0, 0, 0), 16, 10);
  EXPECT_TRUE(cls.HasOverlap(m->match, 10));  // wider prefix containing it
  m = NwDstRule(Ip(10, 0, 1, 0), 24, 10);
  EXPECT_FALSE(cls.HasOverlap(m->match, 10));  // disjoint prefix
  OfMatch udp = OfMatch::CatchAll();
  udp.mask.dp.nw_proto = 0xff;
  udp.value.dp.nw_proto = 17;
  EXPECT_TRUE(cls.HasOverlap(udp, 10));  // disjoint fields: a UDP packet to 10.0.0.x
  EXPECT_TRUE(cls.HasOverlap(udp, 20));
  udp.mask.dp.in_port = 0xffffffffu;
  udp.value.dp.in_port = 2;
  EXPECT_FALSE(cls.HasOverlap(udp, 20));
  EXPECT_FALSE(cls.HasOverlap(OfMatch::CatchAll(), 15));
}

// Invariant 8 on random tables.
TEST(ClassifierTest, QueriesMatchLinearDefinitions) {
  const uint64_t base = BaseSeed();
  for (uint64_t iter = 0; iter < 40; ++iter) {
    const uint64_t seed = base * 5000 + iter;
    SCOPED_TRACE(SeedTrace(seed));
    Rng rng(seed);
    Table t;
    t.Setup(rng);
    const int n = 1 + static_cast<int>(rng() % 150);
    for (int i = 0; i < n; ++i) t.InsertRandom(rng);
    for (int i = 0; i < n / 5; ++i) t.RemoveRandom(rng);
    size_t seen = 0;
    std::set<const ClsRule*> all;
    t.cls.ForEach([&](ClsRule* r) {
      ++seen;
      all.insert(r);
    });
    ASSERT_EQ(seen, t.live.size());
    ASSERT_EQ(all.size(), t.live.size());
    for (int q = 0; q < 60; ++q) {
      // A filter: a live rule's match (exact), a wider version of it, a
      // palette mask with flow values, or something random.
      OfMatch filter;
      switch (rng() % 4) {
        case 0:
          filter = t.live.empty() ? OfMatch::CatchAll() : t.live[rng() % t.live.size()]->match;
          break;
        case 1:
          filter = t.live.empty() ? OfMatch::CatchAll() : t.live[rng() % t.live.size()]->match;
          for (int w = 0; w < kOfFlowWords; ++w) filter.mask.words()[w] &= rng() | rng();
          break;
        case 2:
          filter.mask = t.palette[rng() % t.palette.size()];
          filter.value = t.Flow(rng);
          break;
        default:
          filter.mask = RandomMask(rng);
          filter.value = t.Flow(rng);
          break;
      }
      if (Coin(rng, 2)) MaskFlow(filter.value, filter.mask, &filter.value);
      std::set<const ClsRule*> got;
      t.cls.ForEachMatching(filter, [&got](ClsRule* r) { ASSERT_TRUE(got.insert(r).second); });
      ASSERT_EQ(got, t.ref.Matching(filter)) << "query " << q;
      for (int32_t prio : {0, 1, 2, static_cast<int32_t>(rng() % 1000)}) {
        ASSERT_EQ(t.cls.HasOverlap(filter, prio), t.ref.HasOverlap(filter, prio))
            << "query " << q << " priority " << prio;
        ASSERT_EQ(t.cls.FindExactly(filter, prio), t.ref.FindExactly(filter, prio))
            << "query " << q << " priority " << prio;
      }
    }
  }
}

// Every bit matched (the most (word, stage) pieces a mask can have) and no
// bit matched, side by side.
TEST(ClassifierTest, FullAndEmptyMasks) {
  const uint64_t seed = BaseSeed() * 7000;
  SCOPED_TRACE(SeedTrace(seed));
  Rng rng(seed);
  Classifier cls;
  auto exact = std::make_unique<ClsRule>();
  for (int w = 0; w < kOfFlowWords; ++w) exact->match.mask.words()[w] = ~0ull;
  exact->match.value = NoiseFlow(rng);
  exact->priority = 1;
  auto dflt = CatchAll(0);
  cls.Insert(exact.get());
  cls.Insert(dflt.get());
  EXPECT_TRUE(cls.CheckInvariants());
  OfMask wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(exact->match.value, &wc), exact.get());
  EXPECT_EQ(wc, exact->match.mask);
  OfFlow other = exact->match.value;
  other.regs[7] ^= 1;
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(other, &wc), dflt.get());
  EXPECT_FALSE(wc == EmptyMask());
  cls.Remove(exact.get());
  wc = EmptyMask();
  EXPECT_EQ(cls.Lookup(other, &wc), dflt.get());
  EXPECT_EQ(wc, EmptyMask());  // a catch-all alone looks at nothing
}

TEST(ClassifierTest, InsertMasksTheValue) {
  auto r = PortRule(1, 1);
  r->match.value.dp.nw_dst = Ip(9, 9, 9, 9);  // outside the mask
  Classifier cls;
  cls.Insert(r.get());
  EXPECT_TRUE(r->inserted());
  EXPECT_EQ(r->match.value.dp.nw_dst, Be32(0));
  EXPECT_EQ(r->match.value.dp.in_port, 1u);
  EXPECT_TRUE(cls.CheckInvariants());
  cls.Remove(r.get());
  EXPECT_FALSE(r->inserted());
}

// ---------------------------------------------------------------------------
// PrefixTrie against brute force.

PrefixBits RandomPrefixBits(Rng& rng, int width) {
  PrefixBits p{rng(), width == 128 ? rng() : 0};
  if (width == 32) p.hi &= 0xffffffff00000000ull;
  // Cluster: most prefixes share a few leading patterns.
  if (!Coin(rng, 4)) {
    static constexpr uint64_t kTops[] = {0x0a00000000000000ull, 0xc0a8000000000000ull,
                                         0x2001000000000000ull};
    p.hi = (p.hi & 0x0000ffffffffffffull) | kTops[rng() % 3];
    if (width == 32) p.hi &= 0xffffffff00000000ull;
  }
  return p;
}

TEST(PrefixTrieTest, MatchesBruteForce) {
  const uint64_t base = BaseSeed();
  for (int width : {32, 128}) {
    for (uint64_t iter = 0; iter < 30; ++iter) {
      const uint64_t seed = base * 6000 + iter + static_cast<uint64_t>(width) * 100;
      SCOPED_TRACE(SeedTrace(seed));
      Rng rng(seed);
      PrefixTrie trie(width);
      std::vector<std::pair<PrefixBits, int>> stored;
      const int n = 1 + static_cast<int>(rng() % 100);
      for (int op = 0; op < 3 * n; ++op) {
        const bool grow = static_cast<int>(stored.size()) < n;
        if (stored.empty() || (grow ? !Coin(rng, 4) : Coin(rng, 2))) {
          const int len = Coin(rng, 3) ? (1 + static_cast<int>(rng() % 4)) * (width / 4)
                                       : 1 + static_cast<int>(rng() % width);
          PrefixBits p = RandomPrefixBits(rng, width);
          if (!stored.empty() && Coin(rng, 5)) p = stored[rng() % stored.size()].first;
          trie.Insert(p, std::min(len, width));
          stored.push_back({p.Truncate(std::min(len, width)), std::min(len, width)});
        } else {
          const size_t i = rng() % stored.size();
          trie.Remove(stored[i].first, stored[i].second);
          stored.erase(stored.begin() + static_cast<std::ptrdiff_t>(i));
        }
        ASSERT_TRUE(trie.CheckInvariants()) << "op " << op;
        ASSERT_EQ(trie.n_prefixes(), stored.size());
        ASSERT_LE(trie.n_nodes(), 2 * stored.size() + 1);
        PlenSet lens;
        for (const auto& [p, l] : stored) lens.Set(l);
        ASSERT_EQ(trie.plens(), lens);
        for (int q = 0; q < 4; ++q) {
          PrefixBits addr = RandomPrefixBits(rng, width);
          if (!stored.empty() && Coin(rng, 2)) {
            // Near a stored prefix: equal up to a random point.
            const auto& [p, l] = stored[rng() % stored.size()];
            const int keep = static_cast<int>(rng() % (width + 1));
            PrefixBits noise = RandomPrefixBits(rng, width);
            PrefixBits t = p.Truncate(keep);
            addr.hi = t.hi | (noise.hi & ~PrefixBits{~0ull, ~0ull}.Truncate(keep).hi);
            addr.lo = t.lo | (noise.lo & ~PrefixBits{~0ull, ~0ull}.Truncate(keep).lo);
            if (width == 32) {
              addr.hi &= 0xffffffff00000000ull;
              addr.lo = 0;
            }
          }
          PrefixTrieResult res;
          trie.Lookup(addr, &res);
          for (int len = 1; len <= width; ++len) {
            if (!lens.Has(len)) continue;
            bool match = false;
            int best_agree = -1;  // longest agreement of a stored /len with addr
            for (const auto& [p, l] : stored) {
              if (l != len) continue;
              const int cpl = std::min(CommonPrefixLength(p, addr), len);
              match |= cpl == len;
              best_agree = std::max(best_agree, cpl);
            }
            ASSERT_EQ(res.matched.Has(len), match) << "len " << len;
            if (match) continue;
            // needed is exactly one more than the longest agreement: the
            // fewest leading bits that rule out every stored /len.
            ASSERT_EQ(res.needed[len], best_agree + 1) << "len " << len;
          }
          for (int len = 0; len <= width; ++len) {
            if (!lens.Has(len)) {
              ASSERT_FALSE(res.matched.Has(len));
            }
          }
        }
      }
    }
  }
}

TEST(PrefixTrieTest, Basics) {
  PrefixTrie trie(32);
  const PrefixBits ten{0x0a00000000000000ull, 0};
  trie.Insert(ten, 8);
  trie.Insert(ten, 8);
  trie.Insert(PrefixBits{0x0a01020000000000ull, 0}, 24);
  EXPECT_EQ(trie.n_prefixes(), 3u);
  PrefixTrieResult r;
  trie.Lookup(PrefixBits{0x0a01020300000000ull, 0}, &r);
  EXPECT_TRUE(r.matched.Has(8));
  EXPECT_TRUE(r.matched.Has(24));
  trie.Lookup(PrefixBits{0x0a01030300000000ull, 0}, &r);
  EXPECT_TRUE(r.matched.Has(8));
  EXPECT_FALSE(r.matched.Has(24));
  EXPECT_EQ(r.needed[24], 24);
  trie.Lookup(PrefixBits{0x8000000000000000ull, 0}, &r);
  EXPECT_FALSE(r.matched.Has(8));
  EXPECT_EQ(r.needed[8], 1);
  EXPECT_EQ(r.needed[24], 1);
  trie.Remove(ten, 8);
  trie.Lookup(PrefixBits{0x0a01020300000000ull, 0}, &r);
  EXPECT_TRUE(r.matched.Has(8));
  trie.Remove(ten, 8);
  trie.Lookup(PrefixBits{0x0a01020300000000ull, 0}, &r);
  EXPECT_FALSE(r.matched.Has(8));
  EXPECT_TRUE(r.matched.Has(24));
  EXPECT_TRUE(trie.CheckInvariants());
  EXPECT_EQ(trie.n_nodes(), 2u);
}

}  // namespace
}  // namespace sluice::ofproto
