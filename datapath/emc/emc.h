#pragma once
// What: the exact-match cache, per PMD: a packet's full key -> its megaflow.
//
// Design: kEmcEntries entries in kEmcSets sets of kEmcWays (2) ways; a key's
// set is hash & (kEmcSets - 1), the hash being the packet hash (the NIC's
// RSS hash or the parser's). A set's tags (both ways' hashes and rules) sit
// together in 32 bytes, apart from the 128-byte keys, so a probe reads one
// tag line and touches a key only when a stored hash matches: a miss costs
// one cache line, a hit one tag line, the two key lines and the rule's line
// (for its `dead` flag). A hit needs one hash compare and one 128-byte key
// compare (four AVX2 compares); it skips the classifier entirely. Entries
// whose rule is dead (removed from the dpcls) count as misses and are
// cleared when seen. LookupBatch is pipelined over the burst: match the
// hashes of all keys and prefetch the candidate keys and rules, then compare.
//
// Insertion happens after a classifier hit, with a configurable probability
// (1 in `insert_inv_prob`, 0 = never, 1 = always), so that many short flows
// do not thrash the cache (Open vSwitch's emc-insert-inv-prob). The coin is a
// xorshift32 PRNG compared with a threshold precomputed from the
// probability: no division per packet.
//
// Replacement: if the key is already cached in its set, its entry is
// updated in place; otherwise the new entry takes an empty way, else a way
// whose rule is dead, else a pseudo-random way (one bit of the PRNG), so
// that flows competing for a set evict each other without a fixed pattern.
//
// SlowSweep(n) clears dead entries n at a time with a cursor that walks all
// entries in order and increments sweep_cycles() each time it wraps to
// entry 0, so that a dead rule is referenced by no entry once a full sweep
// cycle has passed: the owner uses sweep_cycles() to know when a removed
// rule may be freed. Proof of invariant 2: Insert refuses a dead rule (and a
// rule, once dead, is never made live again, and the dpcls no longer
// returns it), so after the moment t0 at which rule R is marked dead no new
// entry can refer to R. Let c = sweep_cycles() at t0. The wrap that makes
// the count c + 1 happens after t0; the cursor then visits every entry
// 0..kEmcEntries-1 before the wrap that makes it c + 2, and clears each
// entry that refers to R. Hence at c + 2 no entry refers to R (lookups and
// Clear() only remove entries, never add).
//
// Invariants:
//   1. A hit returns a rule whose key equals the looked-up key under its mask,
//      and which is not dead.
//   2. After sweep_cycles() advances by 2 past the moment a rule was marked
//      dead, no entry refers to that rule.
//   3. No two occupied ways of a set hold the same (hash, key).
//   4. Insert(key, hash, rule) of a live rule makes the next lookup of
//      (key, hash) hit `rule`.
//
// Thread-safety: owned by one PMD; not thread-safe.
// Memory: kEmcSets * sizeof(EmcSet) + kEmcEntries * sizeof(FlowKey)
// = 128 KiB + 1 MiB.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "datapath/dpcls/dpcls.h"
#include "datapath/flow/flow_key.h"

namespace sluice::dp {

inline constexpr uint32_t kEmcEntries = 8192;
inline constexpr uint32_t kEmcWays = 2;
inline constexpr uint32_t kEmcSets = kEmcEntries / kEmcWays;
static_assert((kEmcSets & (kEmcSets - 1)) == 0, "sets are indexed by hash bits");

// The tags of one set; entry (set, way) has its key at keys_[set * 2 + way].
struct alignas(32) EmcSet {
  uint32_t hash[kEmcWays];
  DpclsRule* rule[kEmcWays];  // nullptr: the way is empty
};
static_assert(sizeof(EmcSet) == 32 && kEmcWays == 2);

class Emc {
 public:
  explicit Emc(uint32_t insert_inv_prob = 100);

  // For each bit i of keys_map, looks up (*keys[i], hashes[i]); on a hit sets
  // rules[i] and bit i of the result.
  uint32_t LookupBatch(const FlowKey* const keys[], const uint32_t hashes[], uint32_t keys_map,
                       DpclsRule* rules[]);
  // Considers caching key -> rule (subject to the insertion probability).
  void MaybeInsert(const FlowKey& key, uint32_t hash, DpclsRule* rule);
  // Always caches (tests); ignores a null or dead rule.
  void Insert(const FlowKey& key, uint32_t hash, DpclsRule* rule);

  void SlowSweep(uint32_t n_entries = 64);
  uint64_t sweep_cycles() const { return sweep_cycles_; }
  void Clear();

  void set_insert_inv_prob(uint32_t p) {
    insert_inv_prob_ = p;
    insert_threshold_ = p == 0 ? 0 : UINT32_MAX / p;
  }
  uint32_t insert_inv_prob() const { return insert_inv_prob_; }
  // Entries whose rule is set and not dead.
  size_t CountValid() const;
  // Entries that refer to `rule`, dead or not (tests, debugging).
  size_t CountRefs(const DpclsRule* rule) const;

 private:
  uint32_t NextRandom() {  // xorshift32; never returns 0
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
  }

  std::unique_ptr<EmcSet[]> sets_;
  std::unique_ptr<FlowKey[]> keys_;
  uint32_t insert_inv_prob_ = 0;
  uint32_t insert_threshold_ = 0;  // insert when NextRandom() <= this
  uint32_t rng_ = 0x12345678;
  uint32_t sweep_pos_ = 0;
  uint64_t sweep_cycles_ = 0;
};

}  // namespace sluice::dp
