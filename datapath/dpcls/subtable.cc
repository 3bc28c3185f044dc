#include "datapath/dpcls/subtable.h"

#include <immintrin.h>

#include <bit>
#include <cstring>
#include <new>
#include <unordered_set>
#include <vector>

#include "datapath/util/hash.h"

namespace sluice::dp {

namespace {

constexpr uint32_t kHashBasis = 0;
constexpr uint32_t kAllWays = (1u << DpclsSubtable::kWays) - 1;
constexpr std::align_val_t kLineAlign{64};
// Tables with at least this many buckets (16 KiB of buckets, 1280 rules)
// prefetch buckets and entries during batch lookups.
constexpr uint32_t kPrefetchMinBuckets = 256;

constexpr int StrideFor(int n_words) {
  return static_cast<int>(std::bit_ceil(static_cast<unsigned>(n_words + 1)));
}

// Bit w set when way w of `b` is occupied and stores `hash`.
inline uint32_t MatchWays(const DpclsSubtable::Bucket& b, uint32_t hash) {
  const __m256i lanes = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.hash));
  const __m256i eq = _mm256_cmpeq_epi32(lanes, _mm256_set1_epi32(static_cast<int>(hash)));
  return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(eq))) & b.occupied;
}

// Hash of key words kw[idx[j]] & mw[j] for j < n. kN >= 0 fixes n at
// compile time (the loop is unrolled); kN == -1 is the generic loop.
template <int kN>
inline uint32_t HashUsed(const AliasWord* kw, const uint8_t* idx, const uint64_t* mw, int n) {
  const int cnt = kN >= 0 ? kN : n;
  uint32_t h = kHashBasis;
#pragma GCC unroll 16
  for (int j = 0; j < cnt; ++j) h = HashAddWord(h, kw[idx[j]] & mw[j]);
  return HashFinish(h, static_cast<uint32_t>(cnt * 8));
}

// Whether entry `ent` (rule pointer, then the masked used words) matches the
// key words `kw` under the mask.
template <int kN>
inline bool WordsMatch(const uint64_t* ent, const AliasWord* kw, const uint8_t* idx,
                       const uint64_t* mw, int n) {
  const int cnt = kN >= 0 ? kN : n;
  uint64_t diff = 0;
#pragma GCC unroll 16
  for (int j = 0; j < cnt; ++j) diff |= (kw[idx[j]] & mw[j]) ^ ent[1 + j];
  return diff == 0;
}

template <typename T>
T* AllocLines(size_t n) {
  void* p = ::operator new(n * sizeof(T), kLineAlign);
  std::memset(p, 0, n * sizeof(T));
  return static_cast<T*>(p);
}

inline void FreeLines(void* p) {
  if (p) ::operator delete(p, kLineAlign);
}

}  // namespace

// The pipelined batch lookup (see subtable.h). kN is the word count, or -1
// for the generic routine that reads it from the subtable.
template <int kN>
uint32_t SubtableLookupBatch(const DpclsSubtable& st, const FlowKey* const keys[], uint32_t map,
                             DpclsRule* rules[]) {
  const int n = kN >= 0 ? kN : st.n_words_;
  const int stride = kN >= 0 ? StrideFor(kN) : st.stride_;
  const uint8_t* idx = st.word_index_;
  const uint64_t* mw = st.mask_words_;
  const DpclsSubtable::Bucket* buckets = st.buckets_;
  const uint32_t bucket_mask = st.bucket_mask_;
  const uint64_t* entries = st.entries_;

  // Prefetching pays only when the table is unlikely to sit in L1/L2; on a
  // small table the prefetches cost more than they save (bench_dpcls).
  const bool prefetch = bucket_mask >= kPrefetchMinBuckets - 1;

  uint32_t hashes[kMaxBurst];
  const uint64_t* cand[kMaxBurst];

  if (!prefetch) {
    // A small, cache-resident table: nothing to overlap, so hash, match and
    // compare each key in one pass (no per-stage loops and scratch arrays).
    uint32_t found = 0;
    uint32_t slow_map = 0;
    for (uint32_t m = map; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      const AliasWord* kw = keys[i]->words();
      const uint32_t h = HashUsed<kN>(kw, idx, mw, n);
      hashes[i] = h;
      const DpclsSubtable::Bucket& b = buckets[h & bucket_mask];
      const uint32_t ways = MatchWays(b, h);
      if (ways) {
        const uint64_t* ent = entries + static_cast<size_t>(b.entry[std::countr_zero(ways)]) * stride;
        if (WordsMatch<kN>(ent, kw, idx, mw, n)) {
          rules[i] = DpclsSubtable::entry_rule(ent);
          found |= 1u << i;
          continue;
        }
        slow_map |= 1u << i;  // a hash collision: try every way on the path
      } else if (b.overflow) {
        slow_map |= 1u << i;
      }
    }
    for (uint32_t m = slow_map; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      if (DpclsRule* r = st.Probe(*keys[i], hashes[i])) {
        rules[i] = r;
        found |= 1u << i;
      }
    }
    return found;
  }

  // 1. Hash, prefetch the home bucket.
  for (uint32_t m = map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const uint32_t h = HashUsed<kN>(keys[i]->words(), idx, mw, n);
    hashes[i] = h;
    __builtin_prefetch(&buckets[h & bucket_mask]);
  }

  // 2. Match the hash in the home bucket, prefetch the candidate entry.
  uint32_t cand_map = 0;
  uint32_t slow_map = 0;
  for (uint32_t m = map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const DpclsSubtable::Bucket& b = buckets[hashes[i] & bucket_mask];
    const uint32_t ways = MatchWays(b, hashes[i]);
    if (ways) {
      const uint64_t* ent = entries + static_cast<size_t>(b.entry[std::countr_zero(ways)]) * stride;
      cand[i] = ent;
      __builtin_prefetch(ent);
      cand_map |= 1u << i;
    } else if (b.overflow) {
      slow_map |= 1u << i;
    }
  }

  // 3. Compare.
  uint32_t found = 0;
  for (uint32_t m = cand_map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const uint64_t* ent = cand[i];
    if (WordsMatch<kN>(ent, keys[i]->words(), idx, mw, n)) {
      rules[i] = DpclsSubtable::entry_rule(ent);
      found |= 1u << i;
    } else {
      slow_map |= 1u << i;  // a hash collision: try every way on the path
    }
  }

  // Rare: overflowed buckets and collisions.
  for (uint32_t m = slow_map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    if (DpclsRule* r = st.Probe(*keys[i], hashes[i])) {
      rules[i] = r;
      found |= 1u << i;
    }
  }
  return found;
}

namespace {

DpclsSubtable::LookupFn PickLookup(int n_words, DpclsImpl impl) {
  if (impl == DpclsImpl::kSpecialised) {
    switch (n_words) {
      case 1:
        return &SubtableLookupBatch<1>;
      case 2:
        return &SubtableLookupBatch<2>;
      case 3:
        return &SubtableLookupBatch<3>;
      case 4:
        return &SubtableLookupBatch<4>;
      case 5:
        return &SubtableLookupBatch<5>;
      case 6:
        return &SubtableLookupBatch<6>;
      case 7:
        return &SubtableLookupBatch<7>;
      case 8:
        return &SubtableLookupBatch<8>;
      default:
        break;
    }
  }
  return &SubtableLookupBatch<-1>;
}
static_assert(DpclsSubtable::kMaxSpecialisedWords == 8, "PickLookup covers 1..8");

}  // namespace

DpclsSubtable::DpclsSubtable(const FlowMask& mask, DpclsImpl impl) : mask_(mask) {
  word_map_ = WordMapOf(mask);
  for (int c = 0; c < 4; ++c) {
    if (word_map_ & (0xfu << (4 * c))) quarter_map_ |= static_cast<uint8_t>(1u << c);
  }
  static_assert(alignof(FlowKey) >= 32 && alignof(DpclsRule) >= 32, "aligned AVX2 loads");
  for (int i = 0; i < kFlowWords; ++i) {
    if (mask.words()[i]) {
      word_index_[n_words_] = static_cast<uint8_t>(i);
      mask_words_[n_words_] = mask.words()[i];
      ++n_words_;
    }
  }
  stride_ = StrideFor(n_words_);
  lookup_ = PickLookup(n_words_, impl);
  specialised_ = lookup_ != &SubtableLookupBatch<-1>;
  Resize(1);
}

DpclsSubtable::~DpclsSubtable() {
  FreeLines(buckets_);
  FreeLines(entries_);
}

uint32_t DpclsSubtable::LookupBatchGeneric(const FlowKey* const keys[], uint32_t map,
                                           DpclsRule* rules[]) const {
  return SubtableLookupBatch<-1>(*this, keys, map, rules);
}

uint32_t DpclsSubtable::Hash(const FlowKey& key) const {
  return HashUsed<-1>(key.words(), word_index_, mask_words_, n_words_);
}

uint32_t DpclsSubtable::HashSpecialised(const FlowKey& key) const {
  const AliasWord* kw = key.words();
  switch (n_words_) {
    case 1:
      return HashUsed<1>(kw, word_index_, mask_words_, 1);
    case 2:
      return HashUsed<2>(kw, word_index_, mask_words_, 2);
    case 3:
      return HashUsed<3>(kw, word_index_, mask_words_, 3);
    case 4:
      return HashUsed<4>(kw, word_index_, mask_words_, 4);
    case 5:
      return HashUsed<5>(kw, word_index_, mask_words_, 5);
    case 6:
      return HashUsed<6>(kw, word_index_, mask_words_, 6);
    case 7:
      return HashUsed<7>(kw, word_index_, mask_words_, 7);
    case 8:
      return HashUsed<8>(kw, word_index_, mask_words_, 8);
    default:
      return Hash(key);
  }
}

bool DpclsSubtable::EntryMatches(const uint64_t* ent, const FlowKey& key) const {
  return WordsMatch<-1>(ent, key.words(), word_index_, mask_words_, n_words_);
}

DpclsRule* DpclsSubtable::Probe(const FlowKey& key, uint32_t hash) const {
  uint32_t b = hash & bucket_mask_;
  for (uint32_t step = 0; step <= bucket_mask_; ++step) {
    const Bucket& bucket = buckets_[b];
    for (uint32_t ways = MatchWays(bucket, hash); ways; ways &= ways - 1) {
      const uint64_t* ent = entry_at(bucket.entry[std::countr_zero(ways)]);
      if (EntryMatches(ent, key)) return entry_rule(ent);
    }
    if (bucket.overflow == 0) break;
    b = (b + 1) & bucket_mask_;
  }
  return nullptr;
}

void DpclsSubtable::Place(uint32_t e, uint32_t hash) {
  uint32_t b = hash & bucket_mask_;
  // Terminates: n_entries_ <= kMaxPerBucket * n_buckets < kWays * n_buckets.
  while (buckets_[b].occupied == kAllWays) {
    ++buckets_[b].overflow;
    b = (b + 1) & bucket_mask_;
  }
  Bucket& bucket = buckets_[b];
  const int w = std::countr_zero(~bucket.occupied & kAllWays);
  bucket.hash[w] = hash;
  bucket.entry[w] = e;
  bucket.occupied |= 1u << w;
}

void DpclsSubtable::FindWay(uint32_t e, uint32_t hash, bool unlink, uint32_t* b, int* w) {
  uint32_t bi = hash & bucket_mask_;
  for (uint32_t step = 0; step <= bucket_mask_; ++step) {
    Bucket& bucket = buckets_[bi];
    for (uint32_t ways = MatchWays(bucket, hash); ways; ways &= ways - 1) {
      const int way = std::countr_zero(ways);
      if (bucket.entry[way] == e) {
        *b = bi;
        *w = way;
        return;
      }
    }
    if (unlink) --bucket.overflow;
    bi = (bi + 1) & bucket_mask_;
  }
  __builtin_trap();  // entry not in the table: a broken invariant 2
}

void DpclsSubtable::Resize(uint32_t n_buckets) {
  const uint32_t capacity = n_buckets * kMaxPerBucket;
  Bucket* old_buckets = buckets_;
  uint64_t* old_entries = entries_;
  buckets_ = AllocLines<Bucket>(n_buckets);
  entries_ = AllocLines<uint64_t>(static_cast<size_t>(capacity) * stride_);
  if (old_entries) {
    std::memcpy(entries_, old_entries, static_cast<size_t>(n_entries_) * stride_ * 8);
  }
  FreeLines(old_buckets);
  FreeLines(old_entries);
  bucket_mask_ = n_buckets - 1;
  capacity_ = capacity;
  for (uint32_t e = 0; e < n_entries_; ++e) {
    // The stored words are already masked: hashing them with an all-ones
    // mask gives the rule's hash without touching the rule.
    const uint64_t* ent = entry_at(e);
    uint32_t h = kHashBasis;
    for (int j = 0; j < n_words_; ++j) h = HashAddWord(h, ent[1 + j]);
    Place(e, HashFinish(h, static_cast<uint32_t>(n_words_ * 8)));
  }
}

void DpclsSubtable::Insert(DpclsRule* rule) {
  rule->subtable = this;
  rule->hash = Hash(rule->key);
  if (n_entries_ == capacity_) Resize(static_cast<uint32_t>(n_buckets() * 2));
  const uint32_t e = n_entries_++;
  uint64_t* ent = entry_at(e);
  ent[0] = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rule));
  for (int j = 0; j < n_words_; ++j)
    ent[1 + j] = rule->key.words()[word_index_[j]] & mask_words_[j];
  Place(e, rule->hash);
}

void DpclsSubtable::Remove(DpclsRule* rule) {
  const uint32_t hash = rule->hash;
  // Find the rule's way, unlinking it from the overflow counts on its path.
  uint32_t bi = hash & bucket_mask_;
  uint32_t e = UINT32_MAX;
  for (uint32_t step = 0; step <= bucket_mask_ && e == UINT32_MAX; ++step) {
    Bucket& bucket = buckets_[bi];
    for (uint32_t ways = MatchWays(bucket, hash); ways; ways &= ways - 1) {
      const int way = std::countr_zero(ways);
      if (entry_rule(entry_at(bucket.entry[way])) == rule) {
        e = bucket.entry[way];
        bucket.occupied &= ~(1u << way);
        break;
      }
    }
    if (e == UINT32_MAX) {
      --bucket.overflow;
      bi = (bi + 1) & bucket_mask_;
    }
  }
  if (e == UINT32_MAX) __builtin_trap();  // not in this subtable
  rule->subtable = nullptr;

  // Keep entries dense: the last one fills the hole.
  const uint32_t last = --n_entries_;
  if (e != last) {
    std::memcpy(entry_at(e), entry_at(last), static_cast<size_t>(stride_) * 8);
    uint32_t b;
    int w;
    FindWay(last, entry_rule(entry_at(e))->hash, false, &b, &w);
    buckets_[b].entry[w] = e;
  }
  if (bucket_mask_ > 0 && n_entries_ < n_buckets()) Resize(static_cast<uint32_t>(n_buckets() / 2));
}

size_t DpclsSubtable::n_overflowed_buckets() const {
  size_t n = 0;
  for (uint32_t b = 0; b <= bucket_mask_; ++b) n += buckets_[b].overflow != 0;
  return n;
}

bool DpclsSubtable::CheckInvariants() const {
  const size_t nb = n_buckets();
  if (!std::has_single_bit(nb)) return false;                                   // 4
  if (n_entries_ > kMaxPerBucket * nb || n_entries_ > capacity_) return false;  // 4
  std::vector<int> refs(n_entries_, 0);
  std::vector<uint32_t> overflow(nb, 0);
  std::unordered_set<const DpclsRule*> seen;
  for (uint32_t e = 0; e < n_entries_; ++e) {  // 1, 5
    const uint64_t* ent = entry_at(e);
    const DpclsRule* rule = entry_rule(ent);
    if (!rule || !seen.insert(rule).second) return false;
    if (rule->subtable != this || rule->hash != Hash(rule->key)) return false;
    for (int j = 0; j < n_words_; ++j) {
      if (ent[1 + j] != (rule->key.words()[word_index_[j]] & mask_words_[j])) return false;
    }
  }
  for (uint32_t b = 0; b < nb; ++b) {  // 2, 3
    const Bucket& bucket = buckets_[b];
    if (bucket.occupied & ~kAllWays) return false;
    for (int w = 0; w < kWays; ++w) {
      if (!(bucket.occupied & (1u << w))) continue;
      const uint32_t e = bucket.entry[w];
      if (e >= n_entries_) return false;
      ++refs[e];
      if (bucket.hash[w] != entry_rule(entry_at(e))->hash) return false;
      for (uint32_t p = bucket.hash[w] & bucket_mask_; p != b; p = (p + 1) & bucket_mask_) {
        ++overflow[p];
      }
    }
  }
  for (uint32_t e = 0; e < n_entries_; ++e) {
    if (refs[e] != 1) return false;
  }
  for (uint32_t b = 0; b < nb; ++b) {
    if (buckets_[b].overflow != overflow[b]) return false;
  }
  return true;
}

}  // namespace sluice::dp
