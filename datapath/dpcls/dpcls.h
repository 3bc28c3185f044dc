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
//
// Thread-safety: not thread-safe. One PMD owns each Dpcls; other threads
// change it only through the PMD's command ring.
//
// Memory: per subtable 384 bytes plus its hash table (see subtable.h: 64
// bytes per 5 rules of buckets plus one 16..128 byte entry per rule, twice
// that right after a growth). Rules themselves are owned by the caller. No
// allocation on lookup; Insert and Remove allocate when a table resizes.

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
  bool dead = false;                  // set by the owner when removed; checked by the EMC
};

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
  // Single-key convenience (tests, slow path).
  DpclsRule* Lookup(const FlowKey& key);

  // Re-ranks subtables by hits since the last Sort (most hit first).
  void Sort();

  size_t n_rules() const { return n_rules_; }
  size_t n_subtables() const { return subtables_.size(); }
  std::vector<DpclsSubtableInfo> Subtables() const;  // in rank order

  // Checks every subtable's internal invariants (tests; O(rules)).
  bool CheckInvariants() const;

 private:
  DpclsSubtable* FindSubtable(const FlowMask& mask) const;

  DpclsImpl impl_;
  std::vector<std::unique_ptr<DpclsSubtable>> subtables_;  // rank order
  size_t n_rules_ = 0;
};

}  // namespace sluice::dp
