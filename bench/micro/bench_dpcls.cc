// Megaflow classifier lookup: keys per second for a burst of 32, over
// 1 / 8 / 32 subtables and 1k / 100k rules, every key hitting either the
// last-ranked subtable (the worst case) or a random one. Baseline in the same
// binary: the same tuple-space search with one std::unordered_map per mask.
//
// Masks look like real megaflows: in_port + recirc_id, eth_type, a nw_dst
// prefix, maybe a nw_src prefix, maybe nw_proto / L4 ports (3-5 used words).
// Rules of different subtables never overlap (recirc_id = subtable number).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/micro/bench_keys.h"
#include "datapath/dpcls/dpcls.h"
#include "datapath/util/hash.h"

namespace sluice::dp {
namespace {

using bench::KeyHasher;

enum Hit { kHitLast = 0, kHitRandom = 1 };

be32 PrefixMask(int len) {
  return Be32(len == 0 ? 0u : static_cast<uint32_t>(~0ull << (32 - len)));
}

FlowMask BenchMask(int i) {
  static constexpr int kDst[] = {32, 24, 16, 8};
  static constexpr int kSrc[] = {0, 32, 24, 16};
  FlowMask m;
  m.Clear();
  m.in_port = 0xffffffffu;
  m.recirc_id = 0xffffffffu;
  m.eth_type = Be16(0xffff);
  m.nw_dst = PrefixMask(kDst[i % 4]);
  m.nw_src = PrefixMask(kSrc[(i / 4) % 4]);
  const int l4 = (i / 16) % 4;
  if (l4 >= 1) m.nw_proto = 0xff;
  if (l4 >= 2) m.tp_dst = Be16(0xffff);
  if (l4 >= 3) m.tp_src = Be16(0xffff);
  return m;
}

FlowKey RandomPacket(std::mt19937_64& rng) { return bench::RandomUdpKey(rng, 1024); }

struct Setup {
  int n_subtables, n_rules, hit;
  DpclsImpl impl;
  Dpcls cls;
  std::unique_ptr<DpclsRule[]> rules;
  std::vector<int> rule_subtable;
  std::vector<FlowMask> masks;
  std::vector<FlowKey> keys;
  std::vector<const FlowKey*> key_ptrs;
  // Baseline: one unordered_map per mask, in the same order.
  std::vector<std::unordered_map<FlowKey, DpclsRule*, KeyHasher>> maps;

  Setup(int s, int r, int h, DpclsImpl i)
      : n_subtables(s), n_rules(r), hit(h), impl(i), cls(i), rules(new DpclsRule[r]) {
    std::mt19937_64 rng(12345);
    for (int j = 0; j < s; ++j) masks.push_back(BenchMask(j));
    maps.resize(s);
    for (int j = 0; j < r; ++j) {
      const int st = j % s;
      FlowKey masked;
      do {
        FlowKey k = RandomPacket(rng);
        k.recirc_id = static_cast<uint32_t>(st);
        MaskKey(k, masks[st], &masked);
      } while (maps[st].count(masked));
      rules[j].key = masked;
      cls.Insert(&rules[j], masks[st]);
      maps[st].emplace(masked, &rules[j]);
      rule_subtable.push_back(st);
    }
    const int pool = r >= 10000 ? 65536 : 4096;
    keys.resize(pool);
    for (int j = 0; j < pool; ++j) {
      int ri;
      do {
        ri = static_cast<int>(rng() % r);
      } while (hit == kHitLast && rule_subtable[ri] != s - 1);
      const FlowKey noise = RandomPacket(rng);
      const FlowMask& m = masks[rule_subtable[ri]];
      for (int w = 0; w < kFlowWords; ++w) {
        keys[j].words()[w] = rules[ri].key.words()[w] | (noise.words()[w] & ~m.words()[w]);
      }
    }
    for (const FlowKey& k : keys) key_ptrs.push_back(&k);
  }
};

// Built once per configuration (benchmark calls a function several times).
Setup& GetSetup(int s, int r, int h, DpclsImpl impl) {
  static std::unique_ptr<Setup> cached;
  if (!cached || cached->n_subtables != s || cached->n_rules != r || cached->hit != h ||
      cached->impl != impl) {
    cached.reset();
    cached = std::make_unique<Setup>(s, r, h, impl);
  }
  return *cached;
}

std::string Label(const benchmark::State& state, const char* what) {
  return std::string(what) + " " + std::to_string(state.range(0)) + " subtables, " +
         std::to_string(state.range(1)) + " rules, hit " +
         (state.range(2) == kHitLast ? "last" : "random") + " subtable";
}

void RunDpcls(benchmark::State& state, DpclsImpl impl) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                      static_cast<int>(state.range(2)), impl);
  const size_t n_batches = s.keys.size() / kMaxBurst;
  size_t b = 0;
  uint64_t found_total = 0;
  DpclsRule* rules[kMaxBurst];
  for (auto _ : state) {
    const uint32_t found = s.cls.LookupBatch(&s.key_ptrs[b * kMaxBurst], ~0u, rules);
    benchmark::DoNotOptimize(rules);
    found_total += static_cast<uint64_t>(__builtin_popcount(found));
    if (++b == n_batches) b = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["hit_ratio"] =
      static_cast<double>(found_total) / (static_cast<double>(state.iterations()) * kMaxBurst);
  state.SetLabel(Label(state, impl == DpclsImpl::kGeneric ? "dpcls generic," : "dpcls,"));
}

void BM_DpclsLookupBatch(benchmark::State& state) { RunDpcls(state, DpclsImpl::kSpecialised); }
void BM_DpclsLookupBatchGeneric(benchmark::State& state) { RunDpcls(state, DpclsImpl::kGeneric); }

// Baseline: tuple-space search over std::unordered_map, key by key.
void BM_UnorderedMapTupleSpace(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                      static_cast<int>(state.range(2)), DpclsImpl::kSpecialised);
  const size_t n_batches = s.keys.size() / kMaxBurst;
  size_t b = 0;
  uint64_t found_total = 0;
  DpclsRule* rules[kMaxBurst];
  for (auto _ : state) {
    for (int i = 0; i < kMaxBurst; ++i) {
      const FlowKey& key = *s.key_ptrs[b * kMaxBurst + i];
      rules[i] = nullptr;
      for (int st = 0; st < s.n_subtables; ++st) {
        FlowKey masked;
        MaskKey(key, s.masks[st], &masked);
        auto it = s.maps[st].find(masked);
        if (it != s.maps[st].end()) {
          rules[i] = it->second;
          ++found_total;
          break;
        }
      }
    }
    benchmark::DoNotOptimize(rules);
    if (++b == n_batches) b = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["hit_ratio"] =
      static_cast<double>(found_total) / (static_cast<double>(state.iterations()) * kMaxBurst);
  state.SetLabel(Label(state, "baseline std::unordered_map per mask,"));
}

// Slow-path cost: inserting then removing `rules` megaflows over 8 masks
// (table growth and shrinking included); items are rules.
void BM_DpclsInsertRemove(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  constexpr int kMasks = 8;
  std::vector<FlowMask> masks;
  for (int j = 0; j < kMasks; ++j) masks.push_back(BenchMask(j));
  std::unique_ptr<DpclsRule[]> rules(new DpclsRule[n]);
  std::mt19937_64 rng(99);
  for (int j = 0; j < n; ++j) {
    FlowKey k = RandomPacket(rng);
    k.recirc_id = static_cast<uint32_t>(j % kMasks);
    k.in_port = static_cast<uint32_t>(j);  // every mask matches in_port: keys are distinct
    MaskKey(k, masks[j % kMasks], &rules[j].key);
  }
  for (auto _ : state) {
    Dpcls cls;
    for (int j = 0; j < n; ++j) cls.Insert(&rules[j], masks[j % kMasks]);
    for (int j = 0; j < n; ++j) cls.Remove(&rules[j]);
    benchmark::DoNotOptimize(cls.n_rules());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.SetLabel("dpcls insert + remove, " + std::to_string(n) + " rules, 8 masks");
}
BENCHMARK(BM_DpclsInsertRemove)->Arg(1000)->Arg(100000);

void Configs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"subtables", "rules", "hit"});
  for (int rules : {1000, 100000}) {
    b->Args({1, rules, kHitLast});
    for (int subtables : {8, 32}) {
      b->Args({subtables, rules, kHitLast});
      b->Args({subtables, rules, kHitRandom});
    }
  }
}

void GenericConfigs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"subtables", "rules", "hit"});
  for (int rules : {1000, 100000}) b->Args({8, rules, kHitRandom});
}

BENCHMARK(BM_DpclsLookupBatch)->Apply(Configs);
BENCHMARK(BM_DpclsLookupBatchGeneric)->Apply(GenericConfigs);
BENCHMARK(BM_UnorderedMapTupleSpace)->Apply(Configs);

}  // namespace
}  // namespace sluice::dp
