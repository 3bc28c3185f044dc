#pragma once
// What: the exact-match cache, per PMD: a packet's full key -> its megaflow.
//
// Design: a direct-mapped-by-hash, 2-way set of kEmcEntries entries indexed
// by the packet hash (the NIC's RSS hash or the parser's). An entry holds the
// full key, its hash and the DpclsRule it resolved to. A hit needs one hash
// compare and one 128-byte key compare; it skips the classifier entirely.
// Entries whose rule is dead (removed from the dpcls) count as misses and are
// cleared when seen. Insertion happens after a classifier hit, with a
// configurable probability (1 in `insert_inv_prob`, 0 = never), so that many
// short flows do not thrash the cache (Open vSwitch's emc-insert-inv-prob).
// SlowSweep() clears dead entries a few at a time so that a dead rule is
// referenced by no entry once a full sweep cycle has passed: the owner uses
// sweep_cycles() to know when a removed rule may be freed.
//
// Invariants:
//   1. A hit returns a rule whose key equals the looked-up key under its mask,
//      and which is not dead.
//   2. After sweep_cycles() advances by 2 past the moment a rule was marked
//      dead, no entry refers to that rule.
//
// Thread-safety: owned by one PMD; not thread-safe.
// Memory: kEmcEntries * sizeof(EmcEntry) (about 1.2 MiB).

#include <cstdint>
#include <memory>

#include "datapath/dpcls/dpcls.h"
#include "datapath/flow/flow_key.h"

namespace sluice::dp {

inline constexpr uint32_t kEmcEntries = 8192;

struct EmcEntry {
  FlowKey key;
  DpclsRule* rule = nullptr;
  uint32_t hash = 0;
};

class Emc {
 public:
  explicit Emc(uint32_t insert_inv_prob = 100);

  // For each bit i of keys_map, looks up (*keys[i], hashes[i]); on a hit sets
  // rules[i] and bit i of the result.
  uint32_t LookupBatch(const FlowKey* const keys[], const uint32_t hashes[], uint32_t keys_map,
                       DpclsRule* rules[]);
  // Considers caching key -> rule (subject to the insertion probability).
  void MaybeInsert(const FlowKey& key, uint32_t hash, DpclsRule* rule);
  // Always caches (tests).
  void Insert(const FlowKey& key, uint32_t hash, DpclsRule* rule);

  void SlowSweep(uint32_t n_entries = 64);
  uint64_t sweep_cycles() const { return sweep_cycles_; }
  void Clear();

  void set_insert_inv_prob(uint32_t p) { insert_inv_prob_ = p; }
  uint32_t insert_inv_prob() const { return insert_inv_prob_; }
  size_t CountValid() const;

 private:
  std::unique_ptr<EmcEntry[]> entries_;
  uint32_t insert_inv_prob_;
  uint32_t rng_ = 0x12345678;
  uint32_t sweep_pos_ = 0;
  uint64_t sweep_cycles_ = 0;
};

}  // namespace sluice::dp
