// OpenFlow classifier lookups: with wildcard tracking (what xlate does),
// without it, and a linear scan over the same rules (sorted by priority,
// first match wins) as the baseline, for 10 / 1000 rules over 1 / 20 masks.
// Counters: lookups per second (items), and for tracked lookups the average
// number of flow bits un-wildcarded (wc_bits: smaller means wider
// megaflows) and of nw_dst bits (nw_dst_bits).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "ofproto/classifier.h"

namespace sluice::ofproto {
namespace {

constexpr int kFlows = 4096;  // power of two

be32 PrefixMask(int len) {
  return Be32(len == 0 ? 0u : static_cast<uint32_t>(~0ull << (32 - len)));
}

// Mask k of the palette: eth_type and an nw_dst prefix (/32 down to /13)
// always; L4 port on even k, in_port on every third, an nw_src /16 on every
// fifth.
OfMask PaletteMask(int k) {
  OfMask m;
  m.Clear();
  m.dp.eth_type = Be16(0xffff);
  m.dp.nw_dst = PrefixMask(32 - k);
  if (k % 2 == 0) {
    m.dp.nw_proto = 0xff;
    m.dp.tp_dst = Be16(0xffff);
  }
  if (k % 3 == 0) m.dp.in_port = 0xffffffffu;
  if (k % 5 == 0) m.dp.nw_src = PrefixMask(16);
  return m;
}

OfFlow RandomFlow(std::mt19937_64& rng) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = 1 + static_cast<uint32_t>(rng() % 4);
  f.dp.eth_type = Be16(rng() % 8 ? 0x0800 : 0x86dd);
  // nw_src in 172.16/16; nw_dst in 10.0/16 three times in four, else anywhere.
  f.dp.nw_src = Be32(0xac100000u | static_cast<uint32_t>(rng() & 0xffff));
  f.dp.nw_dst = Be32(rng() % 4 ? 0x0a000000u | static_cast<uint32_t>(rng() & 0xffff)
                               : static_cast<uint32_t>(rng()));
  f.dp.nw_proto = rng() % 2 ? 6 : 17;
  f.dp.tp_src = Be16(static_cast<uint16_t>(rng()));
  f.dp.tp_dst = Be16(static_cast<uint16_t>(1 + rng() % 16));
  return f;
}

struct Setup {
  std::vector<std::unique_ptr<ClsRule>> rules;
  std::vector<const ClsRule*> by_priority;  // for the linear scan
  Classifier cls;
  std::vector<OfFlow> flows;

  Setup(int n_rules, int n_masks) {
    std::mt19937_64 rng(42);
    for (int i = 0; i < n_rules; ++i) {
      auto r = std::make_unique<ClsRule>();
      r->match.mask = PaletteMask(i % n_masks);
      r->match.value = RandomFlow(rng);
      r->match.value.dp.eth_type = Be16(0x0800);
      MaskFlow(r->match.value, r->match.mask, &r->match.value);
      r->priority = static_cast<int32_t>(rng() % 1000);
      if (cls.FindExactly(r->match, r->priority)) continue;
      cls.Insert(r.get());
      rules.push_back(std::move(r));
    }
    for (const auto& r : rules) by_priority.push_back(r.get());
    std::stable_sort(by_priority.begin(), by_priority.end(),
                     [](const ClsRule* a, const ClsRule* b) { return a->priority > b->priority; });
    // 3 in 4 flows are built to hit a rule, the rest are random.
    for (int i = 0; i < kFlows; ++i) {
      OfFlow f = RandomFlow(rng);
      if (rng() % 4) {
        const OfMatch& m = rules[rng() % rules.size()]->match;
        for (int w = 0; w < kOfFlowWords; ++w) {
          f.words()[w] = (f.words()[w] & ~m.mask.words()[w]) | m.value.words()[w];
        }
      }
      flows.push_back(f);
    }
  }
};

Setup& GetSetup(int n_rules, int n_masks) {
  static std::unique_ptr<Setup> cache[2][2];
  auto& s = cache[n_rules > 10][n_masks > 1];
  if (!s) s = std::make_unique<Setup>(n_rules, n_masks);
  return *s;
}

void Label(benchmark::State& state, const Setup& s) {
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>(s.rules.size());
  state.counters["masks"] = static_cast<double>(s.cls.n_subtables());
}

void BM_Lookup(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t i = 0;
  uint64_t hits = 0;
  for (auto _ : state) {
    const ClsRule* r = s.cls.Lookup(s.flows[i++ & (kFlows - 1)], nullptr);
    hits += r != nullptr;
    benchmark::DoNotOptimize(r);
  }
  Label(state, s);
  state.counters["hit_rate"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

void BM_LookupWc(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t i = 0;
  for (auto _ : state) {
    OfMask wc;
    wc.Clear();
    const ClsRule* r = s.cls.Lookup(s.flows[i++ & (kFlows - 1)], &wc);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(wc);
  }
  Label(state, s);
  // Megaflow width, outside the timed loop: one pass over the flows.
  uint64_t bits = 0, dst_bits = 0;
  for (const OfFlow& f : s.flows) {
    OfMask wc;
    wc.Clear();
    s.cls.Lookup(f, &wc);
    for (int w = 0; w < kOfFlowWords; ++w) {
      bits += static_cast<uint64_t>(std::popcount(wc.words()[w]));
    }
    dst_bits += static_cast<uint64_t>(std::popcount(wc.dp.nw_dst.raw));
  }
  state.counters["wc_bits"] = static_cast<double>(bits) / kFlows;
  state.counters["nw_dst_bits"] = static_cast<double>(dst_bits) / kFlows;
}

// Baseline: rules sorted by priority, the first that matches wins.
void BM_LinearScan(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t i = 0;
  for (auto _ : state) {
    const OfFlow& f = s.flows[i++ & (kFlows - 1)];
    const ClsRule* found = nullptr;
    for (const ClsRule* r : s.by_priority) {
      if (r->match.Matches(f)) {
        found = r;
        break;
      }
    }
    benchmark::DoNotOptimize(found);
  }
  Label(state, s);
}

// Insert then remove every rule of a table (slow-path flow_mod cost).
void BM_InsertRemove(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<ClsRule> copies(s.rules.size());
  for (size_t k = 0; k < copies.size(); ++k) {
    copies[k].match = s.rules[k]->match;
    copies[k].priority = s.rules[k]->priority;
  }
  for (auto _ : state) {
    Classifier cls;
    for (ClsRule& r : copies) cls.Insert(&r);
    for (ClsRule& r : copies) cls.Remove(&r);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(copies.size()));
  state.counters["rules"] = static_cast<double>(copies.size());
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rules", "masks"});
  for (int rules : {10, 1000}) {
    for (int masks : {1, 20}) b->Args({rules, masks});
  }
}

BENCHMARK(BM_LookupWc)->Apply(Args);
BENCHMARK(BM_Lookup)->Apply(Args);
BENCHMARK(BM_LinearScan)->Apply(Args);
BENCHMARK(BM_InsertRemove)->Apply(Args);

}  // namespace
}  // namespace sluice::ofproto
