#include "datapath/emc/emc.h"

#include <immintrin.h>

#include <bit>
#include <cstring>

namespace sluice::dp {

namespace {

// Whole-key equality: four 32-byte compares.
inline bool KeysEqual(const FlowKey& a, const FlowKey& b) {
  const auto* pa = reinterpret_cast<const __m256i*>(&a);
  const auto* pb = reinterpret_cast<const __m256i*>(&b);
  __m256i x = _mm256_xor_si256(_mm256_loadu_si256(pa), _mm256_loadu_si256(pb));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_loadu_si256(pa + 1), _mm256_loadu_si256(pb + 1)));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_loadu_si256(pa + 2), _mm256_loadu_si256(pb + 2)));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_loadu_si256(pa + 3), _mm256_loadu_si256(pb + 3)));
  return _mm256_testz_si256(x, x);
}
static_assert(sizeof(FlowKey) == 4 * sizeof(__m256i));

// Bit w set when way w of `s` is occupied and stores `hash`.
inline uint32_t MatchWays(const EmcSet& s, uint32_t hash) {
  return static_cast<uint32_t>(s.rule[0] != nullptr && s.hash[0] == hash) |
         static_cast<uint32_t>(s.rule[1] != nullptr && s.hash[1] == hash) << 1;
}

}  // namespace

Emc::Emc(uint32_t insert_inv_prob) : sets_(new EmcSet[kEmcSets]), keys_(new FlowKey[kEmcEntries]) {
  set_insert_inv_prob(insert_inv_prob);
  Clear();
}

uint32_t Emc::LookupBatch(const FlowKey* const keys[], const uint32_t hashes[], uint32_t keys_map,
                          DpclsRule* rules[]) {
  constexpr uint32_t kSetMask = kEmcSets - 1;
  // Locals: the stores below (rules[], ways[]) could alias the members.
  EmcSet* const sets = sets_.get();
  const FlowKey* const cache_keys = keys_.get();

  // 1. Match hashes in the tag lines; prefetch the candidate keys and rules.
  // (The tag loads of a burst overlap out of order; prefetching them first
  // measured slower, see bench_emc.)
  uint8_t ways[kMaxBurst];
  uint32_t cand_map = 0;
  for (uint32_t m = keys_map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const uint32_t set = hashes[i] & kSetMask;
    const EmcSet& s = sets[set];
    const uint32_t w = MatchWays(s, hashes[i]);
    if (w == 0) continue;
    ways[i] = static_cast<uint8_t>(w);
    cand_map |= 1u << i;
    for (uint32_t x = w; x; x &= x - 1) {
      const int way = std::countr_zero(x);
      const FlowKey* k = &cache_keys[set * kEmcWays + way];
      __builtin_prefetch(k);
      __builtin_prefetch(reinterpret_cast<const char*>(k) + 64);
      __builtin_prefetch(&s.rule[way]->dead);
    }
  }

  // 2. Compare keys; a dead rule is a miss and frees its way.
  uint32_t hit_map = 0;
  for (uint32_t m = cand_map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const uint32_t set = hashes[i] & kSetMask;
    EmcSet& s = sets[set];
    for (uint32_t x = ways[i]; x; x &= x - 1) {
      const int way = std::countr_zero(x);
      DpclsRule* rule = s.rule[way];
      // Null when an earlier key of this burst (the same flow) found the
      // rule dead and cleared the way.
      if (rule == nullptr || !KeysEqual(cache_keys[set * kEmcWays + way], *keys[i])) continue;
      if (rule->dead) {
        s.rule[way] = nullptr;
      } else {
        rules[i] = rule;
        hit_map |= 1u << i;
      }
      break;  // invariant 3: no other way holds this key
    }
  }
  return hit_map;
}

void Emc::MaybeInsert(const FlowKey& key, uint32_t hash, DpclsRule* rule) {
  if (insert_inv_prob_ == 0) return;
  if (insert_inv_prob_ != 1 && NextRandom() > insert_threshold_) return;
  Insert(key, hash, rule);
}

void Emc::Insert(const FlowKey& key, uint32_t hash, DpclsRule* rule) {
  if (rule == nullptr || rule->dead) return;  // keeps invariant 2
  const uint32_t set = hash & (kEmcSets - 1);
  EmcSet& s = sets_[set];
  FlowKey* k = &keys_[set * kEmcWays];

  // Already cached: update in place (invariant 3).
  for (uint32_t x = MatchWays(s, hash); x; x &= x - 1) {
    const int way = std::countr_zero(x);
    if (KeysEqual(k[way], key)) {
      s.rule[way] = rule;
      return;
    }
  }
  int victim;
  if (s.rule[0] == nullptr || s.rule[0]->dead) {
    victim = 0;
  } else if (s.rule[1] == nullptr || s.rule[1]->dead) {
    victim = 1;
  } else {
    victim = static_cast<int>(NextRandom() >> 31);
  }
  std::memcpy(&k[victim], &key, sizeof(FlowKey));
  s.hash[victim] = hash;
  s.rule[victim] = rule;
}

void Emc::SlowSweep(uint32_t n_entries) {
  // Whole sets at a time when the cursor is at a set boundary (always, for
  // even n_entries): the entries visited and the wraps are the same as one
  // entry at a time.
  EmcSet* const sets = sets_.get();
  uint32_t i = 0;
  if (sweep_pos_ % kEmcWays == 0) {
    for (; i + kEmcWays <= n_entries; i += kEmcWays) {
      EmcSet& s = sets[sweep_pos_ / kEmcWays];
      for (uint32_t w = 0; w < kEmcWays; ++w) {
        if (s.rule[w] != nullptr && s.rule[w]->dead) s.rule[w] = nullptr;
      }
      sweep_pos_ += kEmcWays;
      if (sweep_pos_ == kEmcEntries) {
        sweep_pos_ = 0;
        ++sweep_cycles_;
      }
    }
  }
  for (; i < n_entries; ++i) {
    EmcSet& s = sets[sweep_pos_ / kEmcWays];
    DpclsRule*& rule = s.rule[sweep_pos_ % kEmcWays];
    if (rule != nullptr && rule->dead) rule = nullptr;
    if (++sweep_pos_ == kEmcEntries) {
      sweep_pos_ = 0;
      ++sweep_cycles_;
    }
  }
}

void Emc::Clear() {
  for (uint32_t i = 0; i < kEmcSets; ++i) sets_[i] = EmcSet{};
}

size_t Emc::CountValid() const {
  size_t n = 0;
  for (uint32_t i = 0; i < kEmcSets; ++i) {
    for (uint32_t w = 0; w < kEmcWays; ++w) {
      n += sets_[i].rule[w] != nullptr && !sets_[i].rule[w]->dead;
    }
  }
  return n;
}

size_t Emc::CountRefs(const DpclsRule* rule) const {
  size_t n = 0;
  for (uint32_t i = 0; i < kEmcSets; ++i) {
    for (uint32_t w = 0; w < kEmcWays; ++w) n += sets_[i].rule[w] == rule;
  }
  return n;
}

}  // namespace sluice::dp
