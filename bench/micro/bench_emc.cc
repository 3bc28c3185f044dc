// Exact-match cache lookup: keys per second for a burst of 32, all hits and
// all misses, with 1k, 4k and 16k flows offered (16k: the cache is full
// and only the flows still cached are looked up). Baseline in the same binary:
// std::unordered_map<FlowKey, DpclsRule*> with the same keys (which must
// hash the key itself; the EMC is given the packet hash, as the PMD does).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/micro/bench_keys.h"
#include "datapath/emc/emc.h"
#include "datapath/util/hash.h"

namespace sluice::dp {
namespace {

using bench::KeyHasher;

FlowKey RandomPacket(std::mt19937_64& rng) { return bench::RandomUdpKey(rng, 4); }

struct Setup {
  int n_flows;
  Emc emc{1};
  std::vector<DpclsRule> rules = std::vector<DpclsRule>(64);
  std::unordered_map<FlowKey, DpclsRule*, KeyHasher> map;
  std::vector<FlowKey> hit_keys, miss_keys;
  std::vector<uint32_t> hit_hashes, miss_hashes;
  std::vector<const FlowKey*> hit_ptrs, miss_ptrs;

  explicit Setup(int n) : n_flows(n) {
    std::mt19937_64 rng(777);
    std::vector<FlowKey> cand;
    for (int i = 0; i < n; ++i) {
      const FlowKey k = RandomPacket(rng);
      const uint32_t h = KeyHasher()(k);
      DpclsRule* r = &rules[i % rules.size()];
      emc.Insert(k, h, r);
      map.emplace(k, r);
      cand.push_back(k);
    }
    // Keep the flows still cached (a full set evicts), repeated to 8192 keys.
    std::vector<FlowKey> cached;
    for (const FlowKey& k : cand) {
      const FlowKey* p[1] = {&k};
      const uint32_t h[1] = {static_cast<uint32_t>(KeyHasher()(k))};
      DpclsRule* r[1];
      if (emc.LookupBatch(p, h, 1, r)) cached.push_back(k);
    }
    for (int i = 0; i < 8192; ++i) hit_keys.push_back(cached[i % cached.size()]);
    std::shuffle(hit_keys.begin(), hit_keys.end(), rng);
    for (int i = 0; i < 8192; ++i) miss_keys.push_back(RandomPacket(rng));
    for (const FlowKey& k : hit_keys) hit_hashes.push_back(static_cast<uint32_t>(KeyHasher()(k)));
    for (const FlowKey& k : miss_keys) {
      miss_hashes.push_back(static_cast<uint32_t>(KeyHasher()(k)));
    }
    for (const FlowKey& k : hit_keys) hit_ptrs.push_back(&k);
    for (const FlowKey& k : miss_keys) miss_ptrs.push_back(&k);
  }
};

Setup& GetSetup(int n) {
  static std::unique_ptr<Setup> cached;
  if (!cached || cached->n_flows != n) {
    cached.reset();
    cached = std::make_unique<Setup>(n);
  }
  return *cached;
}

std::string Label(const benchmark::State& state, const char* what) {
  return std::string(what) + " " + std::to_string(state.range(0)) + " flows, all " +
         (state.range(1) ? "hit" : "miss");
}

void BM_EmcLookupBatch(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)));
  const bool hit = state.range(1) != 0;
  const auto& ptrs = hit ? s.hit_ptrs : s.miss_ptrs;
  const auto& hashes = hit ? s.hit_hashes : s.miss_hashes;
  const size_t n_batches = ptrs.size() / kMaxBurst;
  size_t b = 0;
  uint64_t hits = 0;
  DpclsRule* rules[kMaxBurst];
  for (auto _ : state) {
    const uint32_t m = s.emc.LookupBatch(&ptrs[b * kMaxBurst], &hashes[b * kMaxBurst], ~0u, rules);
    benchmark::DoNotOptimize(rules);
    hits += static_cast<uint64_t>(__builtin_popcount(m));
    if (++b == n_batches) b = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["hit_ratio"] =
      static_cast<double>(hits) / (static_cast<double>(state.iterations()) * kMaxBurst);
  state.SetLabel(Label(state, "emc,"));
}

void BM_UnorderedMapExact(benchmark::State& state) {
  Setup& s = GetSetup(static_cast<int>(state.range(0)));
  const bool hit = state.range(1) != 0;
  const auto& ptrs = hit ? s.hit_ptrs : s.miss_ptrs;
  const size_t n_batches = ptrs.size() / kMaxBurst;
  size_t b = 0;
  uint64_t hits = 0;
  DpclsRule* rules[kMaxBurst];
  for (auto _ : state) {
    for (int i = 0; i < kMaxBurst; ++i) {
      auto it = s.map.find(*ptrs[b * kMaxBurst + i]);
      rules[i] = it == s.map.end() ? nullptr : it->second;
      hits += it != s.map.end();
    }
    benchmark::DoNotOptimize(rules);
    if (++b == n_batches) b = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["hit_ratio"] =
      static_cast<double>(hits) / (static_cast<double>(state.iterations()) * kMaxBurst);
  state.SetLabel(Label(state, "baseline std::unordered_map,"));
}

void Configs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"flows", "hit"});
  for (int flows : {1024, 4096, 16384}) {
    b->Args({flows, 1});
    b->Args({flows, 0});
  }
}

BENCHMARK(BM_EmcLookupBatch)->Apply(Configs);
BENCHMARK(BM_UnorderedMapExact)->Apply(Configs);

}  // namespace
}  // namespace sluice::dp
