#pragma once
// What: one dpcls subtable: the megaflows that share one mask, in a hash
// table keyed by the masked key's used words.
//
// Design: the mask's non-zero words (its FlowWordMap) are listed once, with
// their mask values, in a compact array; hashing, masking and comparing a
// key touch only those n_words words. The hash of a key is
//   HashFinish(HashAddWord(...HashAddWord(0, k[i0] & m0)..., k[in] & mn), n * 8)
// and equals DpclsRule::hash of the rule it matches.
//
// The table is two arrays:
//   - entries: dense, one per rule, `stride` words each (n_words + 1 rounded
//     up to a power of two, so an entry of up to 7 words never straddles a
//     cache line): word 0 is the DpclsRule*, words 1..n the rule's masked
//     used words. A probe compares against this compact copy, not against
//     the rule's 128-byte key, so the rule itself is not touched on a miss.
//   - buckets: a power-of-two array of 64-byte buckets, each with 7 ways of
//     (32-bit hash, entry index), an occupancy bitmap and an overflow count.
//     A key's home bucket is hash & bucket_mask; if it is full, the entry
//     goes to the next bucket (linear probing, cyclic) and every full bucket
//     passed increments its overflow count. A probe reads the home bucket,
//     matches the 8 hash lanes with one AVX2 compare, and moves on to the
//     next bucket only while the overflow count says something passed.
//     Removal walks the same path decrementing the counts, so no tombstones
//     are needed.
// The table grows (doubles buckets and entry capacity, then rebuilds the
// buckets) when it would exceed 5 entries per bucket (71 % of the ways) and
// halves when below 1 per bucket; entries are moved densely (the last entry
// fills a removed one's place). Rules are referenced by pointer only and are
// never moved.
//
// Batch lookup, per subtable, over the keys still unresolved:
//   1. hash every key, prefetch its home bucket;
//   2. match each key's hash in its bucket, prefetch the candidate entry;
//   3. compare the candidate's words with the masked key;
// keys whose bucket has overflowed, or whose candidate was a hash collision,
// finish in a generic probe that follows the whole probe sequence. Only
// tables of at least 256 buckets (16 KiB) prefetch: on smaller, cache-
// resident tables the prefetches measured slower than none (bench_dpcls:
// about -10 % at 1k rules, +15-30 % at 100k rules). Smaller tables do
// steps 1-3 for each key in one pass instead (no stage loops or scratch
// arrays: 58 -> ~45 instructions per key for one word, bench/callgrind.sh).
// Steps 1-3 are a template over the word count (1..kMaxSpecialisedWords), picked
// once when the subtable is created, with one generic instantiation for any
// count; LookupBatchGeneric() exists so that tests can check each
// specialisation against it.
//
// Invariants (CheckInvariants() verifies 1-5):
//   1. Entries [0, n_rules) are the subtable's rules, each once; entry e's
//      rule has subtable == this and hash == Hash(rule->key).
//   2. Every entry is referenced by exactly one occupied way, whose stored
//      hash is the entry's rule's hash; the way lies in the rule's home
//      bucket or in a bucket reached from it by linear probing.
//   3. A bucket's overflow count equals the number of entries whose home
//      bucket precedes it on their probe path (i.e. that passed it).
//   4. n_rules <= 5 * n_buckets, and n_buckets is a power of two.
//   5. The compact words of entry e equal rule->key's used words & mask.
//   6. LookupBatch (specialised) and LookupBatchGeneric return the same map
//      and rules for any keys.
//
// Thread-safety: none; owned by the Dpcls, i.e. by one PMD.
//
// Memory: sizeof(DpclsSubtable) (384 bytes) + 64 bytes per bucket + 5 *
// stride * 8 bytes per bucket of entry capacity; e.g. 4 used words at full
// load is 64 / 5 + 64 ~ 77 bytes per rule, twice that just after growing.

#include <immintrin.h>

#include <bit>
#include <cstddef>
#include <cstdint>

#include "datapath/dpcls/dpcls.h"
#include "datapath/flow/flow_key.h"

namespace sluice::dp {

class alignas(64) DpclsSubtable {
 public:
  static constexpr int kWays = 7;
  static constexpr int kMaxPerBucket = 5;  // growth threshold, entries per bucket
  static constexpr int kMaxSpecialisedWords = 8;

  // One cache line: hash lanes 0..6 and the overflow count form the first
  // 32 bytes (one AVX2 load; lane 7 is masked off by `occupied`), entry
  // indices the second.
  struct alignas(64) Bucket {
    uint32_t hash[kWays];
    uint32_t overflow;  // entries that passed this bucket on their probe path
    uint32_t entry[kWays];
    uint32_t occupied;  // bit w set when way w is in use (bits 0..6 only)
  };
  static_assert(sizeof(Bucket) == 64);
  static_assert(offsetof(Bucket, overflow) == 28 && offsetof(Bucket, entry) == 32);

  using LookupFn = uint32_t (*)(const DpclsSubtable&, const FlowKey* const keys[], uint32_t map,
                                DpclsRule* rules[]);

  DpclsSubtable(const FlowMask& mask, DpclsImpl impl);
  ~DpclsSubtable();
  DpclsSubtable(const DpclsSubtable&) = delete;
  DpclsSubtable& operator=(const DpclsSubtable&) = delete;

  // Adds `rule` (key masked by this mask); sets rule->subtable and
  // rule->hash. May rebuild the table; never moves rules.
  void Insert(DpclsRule* rule);
  // Removes `rule`, which must be in this subtable.
  void Remove(DpclsRule* rule);

  // For each bit i of map, looks *keys[i] up; sets rules[i] and bit i of the
  // result on a match. Uses the routine picked at creation.
  uint32_t LookupBatch(const FlowKey* const keys[], uint32_t map, DpclsRule* rules[]) const {
    return lookup_(*this, keys, map, rules);
  }
  // The same with the generic routine (tests).
  uint32_t LookupBatchGeneric(const FlowKey* const keys[], uint32_t map, DpclsRule* rules[]) const;
  // Hash of key's used words under this mask (generic loop).
  uint32_t Hash(const FlowKey& key) const;
  // The same through the specialised hash for n_words() (tests).
  uint32_t HashSpecialised(const FlowKey& key) const;
  // Whether `key` matches `rule` (one of this subtable's) under the mask:
  // the signature cache's check. Compares (key & mask) ^ rule.key 32 bytes
  // at a time, only over the 32-byte quarters of the key the mask uses
  // (usually words 0-7: two AVX2 compares).
  bool Matches(const FlowKey& key, const DpclsRule& rule) const {
    const auto* k = reinterpret_cast<const __m256i*>(&key);
    const auto* m = reinterpret_cast<const __m256i*>(&mask_);
    const auto* r = reinterpret_cast<const __m256i*>(&rule.key);
    __m256i diff = _mm256_setzero_si256();
    for (uint32_t q = quarter_map_; q; q &= q - 1) {
      const int c = std::countr_zero(q);
      diff = _mm256_or_si256(diff, _mm256_xor_si256(_mm256_and_si256(_mm256_load_si256(k + c),
                                                                      _mm256_load_si256(m + c)),
                                                     _mm256_load_si256(r + c)));
    }
    return _mm256_testz_si256(diff, diff);
  }
  // Finds the rule matching `key` by the generic probe (slow path, tests).
  DpclsRule* Find(const FlowKey& key) const { return Probe(key, Hash(key)); }

  const FlowMask& mask() const { return mask_; }
  FlowWordMap word_map() const { return word_map_; }
  int n_words() const { return n_words_; }
  size_t n_rules() const { return n_entries_; }
  size_t n_buckets() const { return bucket_mask_ + 1u; }
  bool specialised() const { return specialised_; }
  // Number of buckets with a non-zero overflow count (tests).
  size_t n_overflowed_buckets() const;

  uint64_t hits() const { return hits_; }
  void add_hits(uint64_t n) { hits_ += n; }
  void reset_hits() { hits_ = 0; }

  bool CheckInvariants() const;

 private:
  template <int kN>
  friend uint32_t SubtableLookupBatch(const DpclsSubtable&, const FlowKey* const[], uint32_t,
                                      DpclsRule*[]);

  uint64_t* entry_at(uint32_t e) const { return entries_ + static_cast<size_t>(e) * stride_; }
  static DpclsRule* entry_rule(const uint64_t* ent) {
    return reinterpret_cast<DpclsRule*>(static_cast<uintptr_t>(ent[0]));
  }
  bool EntryMatches(const uint64_t* ent, const FlowKey& key) const;
  // Follows the probe sequence of `hash`: every way with that hash, every
  // bucket while the overflow count says an entry passed.
  DpclsRule* Probe(const FlowKey& key, uint32_t hash) const;
  // Places entry `e` with `hash` in the buckets (overflow counts included).
  void Place(uint32_t e, uint32_t hash);
  // Finds the way that holds entry `e` of `hash`; bucket index in *b, way in
  // *w. Decrements the overflow counts on the way when `unlink` is set.
  void FindWay(uint32_t e, uint32_t hash, bool unlink, uint32_t* b, int* w);
  // Reallocates to `n_buckets` buckets (and 5x that entry capacity) and
  // re-places every entry.
  void Resize(uint32_t n_buckets);

  // Hot: read by every lookup. Line 0: pointers, sizes, word indices and
  // the hit count; line 1: the used words' mask values (up to 8).
  LookupFn lookup_;
  Bucket* buckets_ = nullptr;
  uint64_t* entries_ = nullptr;
  uint64_t hits_ = 0;  // written by the owning PMD on lookups and Sort()
  uint32_t bucket_mask_ = 0;
  int n_words_ = 0;
  int stride_ = 1;                                    // words per entry
  uint8_t word_index_[kFlowWords] = {};               // used word j is key word word_index_[j]
  alignas(64) uint64_t mask_words_[kFlowWords] = {};  // used word j's mask

  // Cold.
  uint32_t n_entries_ = 0;
  uint32_t capacity_ = 0;  // entries allocated (kMaxPerBucket * n_buckets)
  FlowWordMap word_map_ = 0;
  uint8_t quarter_map_ = 0;  // bit c set when the mask uses a word of key bytes [32c, 32c + 32)
  bool specialised_ = false;
  FlowMask mask_;
};

}  // namespace sluice::dp
