#pragma once
// What: the megaflow classifier (Open vSwitch's dpcls): tuple-space search
// over wildcarded flow keys.
//
// Design: rules with the same mask live in one subtable, a hash table keyed
// by the masked key's hash over just the words the mask uses (see
// datapath/dpcls/subtable.h for the table itself). A lookup probes
// subtables in rank order; a packet's key is masked, hashed and probed per
// subtable until found. Megaflows never overlap (the slow path guarantees a
// packet matches at most one), so the first match wins and no priorities are
// needed. Subtables are ranked by hit count and re-sorted by Sort(), which
// the PMD calls periodically.
//
// Batch lookup: LookupBatch() takes the live keys of a burst as a bitmap and,
// per subtable, hashes all remaining keys, then probes, then compares, so the
// per-key work is pipelined; keys found are removed from the map and later
// subtables see only the rest. Each subtable picks, when it is created, a
// lookup routine specialised for its number of used words (1..8, a
// template); other shapes use the generic routine. That is one indirect call
// per subtable per burst, never per packet.
//
// Signature cache (Open vSwitch's SMC, per Dpcls, i.e. per PMD): with many
// subtables a miss in the EMC costs a walk over several of them. The
// LookupBatch overload that takes the packets' hashes first probes a table
// of kSmcBuckets 64-byte buckets, each 8 ways of (32-bit packet hash, rule
// index); a way whose hash matches names a candidate rule, which is accepted
// only if the key matches it under its subtable's mask (a masked compare of
// the mask's used words). Keys the cache does not resolve walk the
// subtables as usual, and each one found there is cached (same hash: its way
// is updated; else an empty way; else ways are replaced round-robin). Rules
// are named by a dense index (DpclsRule::index, recycled after Remove), so
// an entry never points at freed memory: a removed rule's index names
// nothing or another rule, and the masked compare then rejects it or, if it
// matches, finds the one rule that key can match (rules never overlap). The
// cache is used only while there are at least kSmcMinSubtables subtables:
// with one or two, walking them costs no more than a probe of the cache's
// 2 MiB table, and a small table stays in L1/L2. SMC hits count as hits of
// the rule's subtable (invariant 5 is unchanged).
//
// Invariants:
//   1. A rule's key is already masked by its mask (key == key & mask).
//   2. For any key, LookupBatch returns the rule a linear scan over all rules
//      would find (rules never overlap, so that rule is unique), or none.
//   3. Insert/Remove never invalidate other rules' pointers.
//   4. n_subtables() equals the number of distinct masks among the rules: a
//      subtable is created by the first Insert of its mask and destroyed by
//      the Remove of its last rule.
//   5. A new subtable ranks last. Sort() orders subtables by hits counted
//      since the previous Sort(), most first, keeping the previous order
//      among equal counts (stable), and then resets every count to zero.
//   6. Results do not depend on DpclsImpl (specialised == generic).
//   7. LookupBatch with hashes returns what LookupBatch without them returns
//      (for any hashes that are equal for equal keys), whatever the cache
//      holds.
//
// Thread-safety: not thread-safe. One PMD owns each Dpcls; other threads
// change it only through the PMD's command ring.
//
// Memory: per subtable 384 bytes plus its hash table (see subtable.h: 64
// bytes per 5 rules of buckets plus one 16..128 byte entry per rule, twice
// that right after a growth). Rules themselves are owned by the caller. No
// allocation on lookup; Insert and Remove allocate when a table resizes.
// The signature cache: 2 MiB once there have been kSmcMinSubtables
// subtables, plus 12 bytes per rule index.

#include <cstdint>
#include <memory>
#include <vector>

#include "datapath/flow/flow_key.h"

namespace sluice::dp {

class DpclsSubtable;

// Embedded in the owner's flow object (a Megaflow).
struct DpclsRule {
  FlowKey key;                        // masked
  DpclsSubtable* subtable = nullptr;  // set by Insert, cleared by Remove
  uint32_t hash = 0;                  // set by Insert: hash of the masked key's used words
  uint32_t index = 0;                 // set by Insert: names the rule in the signature cache
  bool dead = false;                  // set by the owner when removed; checked by the EMC
};

inline constexpr uint32_t kSmcBuckets = 1u << 15;  // x 8 ways = 256k packet hashes, 2 MiB
inline constexpr size_t kSmcMinSubtables = 3;

// One signature-cache bucket: 8 ways of (packet hash, rule index).
struct alignas(64) DpclsSmcBucket {
  static constexpr uint32_t kEmpty = UINT32_MAX;
  uint32_t hash[8];
  uint32_t index[8];  // kEmpty: the way is free
};
static_assert(sizeof(DpclsSmcBucket) == 64);

struct DpclsSubtableInfo {
  FlowMask mask;
  size_t n_rules;
  uint64_t hits;  // since the last Sort()
};

// Which subtable lookup routines a classifier uses. kSpecialised (the
// default) picks a per-word-count template where one exists; kGeneric always
// uses the generic loop, so that tests can prove the two equal.
enum class DpclsImpl : uint8_t { kSpecialised, kGeneric };

class Dpcls {
 public:
  explicit Dpcls(DpclsImpl impl = DpclsImpl::kSpecialised);
  ~Dpcls();
  Dpcls(const Dpcls&) = delete;
  Dpcls& operator=(const Dpcls&) = delete;

  // Adds `rule` (whose key is masked by `mask`). The rule must not be in the
  // classifier already. The caller keeps ownership of the rule object.
  void Insert(DpclsRule* rule, const FlowMask& mask);
  // Removes `rule`, which must have been inserted.
  void Remove(DpclsRule* rule);

  // For each bit i of keys_map, looks up *keys[i]; sets rules[i] and bit i of
  // the result when a rule matches. rules[i] of a miss is left unspecified.
  uint32_t LookupBatch(const FlowKey* const keys[], uint32_t keys_map, DpclsRule* rules[]);
  // The same, first through the signature cache (see Design): hashes[i] is
  // key i's packet hash (any hash that is equal for equal keys).
  uint32_t LookupBatch(const FlowKey* const keys[], const uint32_t hashes[], uint32_t keys_map,
                       DpclsRule* rules[]);
  // Single-key convenience (tests, slow path).
  DpclsRule* Lookup(const FlowKey& key);

  // Re-ranks subtables by hits since the last Sort (most hit first).
  void Sort();

  size_t n_rules() const { return n_rules_; }
  size_t n_subtables() const { return subtables_.size(); }
  std::vector<DpclsSubtableInfo> Subtables() const;  // in rank order
  // The bitwise OR of every subtable's mask (all zero when empty): which key
  // bits any lookup can look at. O(subtables).
  FlowMask MaskUnion() const;

  // Checks every subtable's internal invariants (tests; O(rules)).
  bool CheckInvariants() const;

  // Whether LookupBatch with hashes uses the signature cache right now.
  bool smc_active() const { return smc_ != nullptr && subtables_.size() >= kSmcMinSubtables; }
  // Empties the signature cache (tests).
  void SmcClear();

 private:
  DpclsSubtable* FindSubtable(const FlowMask& mask) const;
  uint32_t WalkBatch(const FlowKey* const keys[], uint32_t keys_map, DpclsRule* rules[]);
  uint32_t SmcLookupBatch(const FlowKey* const keys[], const uint32_t hashes[], uint32_t keys_map,
                          DpclsRule* rules[]) const;
  void SmcInsert(uint32_t hash, uint32_t index);

  DpclsImpl impl_;
  std::vector<std::unique_ptr<DpclsSubtable>> subtables_;  // rank order
  size_t n_rules_ = 0;
  // Signature cache: allocated by the first Insert that makes
  // kSmcMinSubtables subtables, kept afterwards.
  std::unique_ptr<DpclsSmcBucket[]> smc_;
  uint32_t smc_victim_ = 0;               // round-robin way to replace
  std::vector<DpclsRule*> rule_at_;       // by DpclsRule::index; nullptr: free
  std::vector<uint32_t> free_indexes_;
};

}  // namespace sluice::dp
