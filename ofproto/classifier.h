#pragma once
// What: the OpenFlow classifier: the rules of one OpenFlow table, looked up
// by priority, with wildcard tracking. Lookup() returns the best rule for a
// flow and ORs into a mask every bit of the flow its answer depended on, so
// that xlate can install a megaflow as wide as is sound.
//
// Design: tuple space search, in the manner of Open vSwitch's classifier.
//   - Rules with the same mask share a subtable: a hash table over the
//     masked value of the words the mask uses. Rules with an identical match
//     (same mask and value, different priorities) form one group, a list
//     sorted by priority (descending), then by insertion (oldest first); the
//     table holds group heads only. All rules of a subtable that match a
//     flow are in one group, so one probe finds the subtable's best rule.
//   - Subtables are ordered by their highest rule priority (descending), then
//     by creation (oldest first). Lookup visits them in that order and stops
//     as soon as no later subtable can beat the best rule found: when the
//     best priority exceeds the next subtable's maximum, or equals it and the
//     next subtable is younger than the best rule's (priority pruning).
//   - Ties. OpenFlow leaves the choice between overlapping rules of equal
//     priority undefined. Here the winner is the smallest under
//       (priority descending, subtable creation sequence, rule sequence):
//     among equal priorities, the rule whose mask has been in the table
//     (without interruption) the longest, then the oldest rule. Every Insert
//     takes the next sequence number; a subtable's creation sequence is that
//     of the Insert that created it. This is what keeps pruning effective
//     for tables whose rules all share one priority (the common case): the
//     walk stops after the subtable that matched.
//   - Staged lookup. A subtable's mask is split into stages: metadata
//     (in_port, recirc_id, pkt_mark, dp_hash, OpenFlow metadata, tun_id,
//     registers), L2 (Ethernet addresses and type, VLANs), L3 (IP/ARP
//     fields), L4 (ports, TCP flags, ND target). The hash of a flow is built
//     stage by stage; after each non-final stage it is looked up in that
//     stage's index, a counted set of the rules' hashes up to that stage. An
//     absent hash proves the subtable has no match using only the mask bits
//     of the stages so far (an ARP-only table costs an IPv4 packet just
//     eth_type).
//   - Prefix tries. One PrefixTrie (ofproto/prefix_trie.h) per address
//     field (nw_src, nw_dst, ipv6_src, ipv6_dst) holds the prefix of every
//     rule whose mask on that field is a CIDR prefix /L (L >= 1). When the
//     L3 stage of a subtable whose mask is such a /L prefix misses, the trie
//     is asked (once per lookup and field) whether any stored /L prefix
//     matches the address; if none does, only the leading address bits that
//     prove it (PrefixTrieResult::needed, at most L) enter the wildcards
//     instead of the mask bits of every stage so far. With one rule
//     nw_dst=10.0.0.0/24, a packet to 192.168.1.1 un-wildcards one bit of
//     nw_dst, a packet to 10.0.0.5 the /24. The trie is not asked on an L3
//     hit: a rule agreeing with the flow through L3 has its /L prefix in the
//     trie, matching, so no trie proof exists; this keeps trie walks off the
//     path of packets that match. Once a lookup has walked a field's trie,
//     later subtables consult the answer before probing L3 (same proof,
//     cheaper than a probe).
//   - Lookup(flow, nullptr) skips stages and tries: one probe per subtable.
//
// Why the wildcards are sound. A lookup is a sequence of subtable visits;
// which subtable comes next and whether the walk stops depend only on the
// classifier's state and on the outcomes of earlier visits (the best rule so
// far). The outcome of a visit is the head of the group matching the flow,
// or none. For every visit Lookup adds to *wc bits B such that any flow that
// agrees with `flow` on B has the same outcome in that subtable:
//   (a) match, or miss in the final table: B = the subtable's whole mask;
//       an agreeing flow has the same masked value, hence the same group or
//       the same absence.
//   (b) miss at stage i: B = the mask bits of stages 0..i. No rule's value
//       on those bits hashes like the flow's; an agreeing flow hashes the
//       same. (A present hash proves nothing; the walk just goes on.)
//   (c) miss by trie on field F with the subtable's mask /L on F: B = the
//       first needed[L] bits of F. No rule anywhere has a /L prefix on F
//       that agrees with the address on those bits, and every rule of the
//       subtable has one; so none matches any agreeing flow.
// By induction over the visits, a flow that agrees with `flow` on *wc makes
// the same visits with the same outcomes and gets the same rule. Only the
// outcome of a visit must be reproduced, not the route to it, so once one
// proof of a miss is found the bits examined before it (stages whose hash
// was present) are not needed.
//
// Invariants (numbered; tests check each):
//   1. Lookup(flow) is the matching rule that is smallest under (priority
//      descending, subtable creation sequence, rule sequence), or nullptr;
//      a linear scan with that order gives the same answer.
//   2. Soundness: if Lookup(f, &wc) = r, then Lookup(g) = r for every g with
//      g & wc == f & wc (wc as it was after the call, starting from zeros).
//   3. Lookup(flow, &wc) and Lookup(flow, nullptr) return the same rule; wc
//      only gains bits.
//   4. Insert clears the bits of match.value outside match.mask. Rules are
//      never moved or copied; pointers stay valid until the caller frees.
//   5. n_subtables() is the number of distinct masks among the rules: a
//      subtable is created by the Insert of the first rule of its mask and
//      destroyed by the Remove of its last rule.
//   6. Subtables are kept sorted by (max priority desc, creation seq asc);
//      a subtable's max priority is that of its highest rule.
//   7. Each prefix trie holds exactly one prefix per rule whose mask on its
//      field is a CIDR prefix of length >= 1.
//   8. FindExactly, ForEachMatching and HasOverlap agree with the linear
//      definitions given at their declarations.
//   CheckInvariants() verifies 4-7 and the internal tables.
//
// Thread-safety: none. Every const method is read-only (no counters, no
// caches, nothing mutable), so any number of threads may call Lookup(),
// FindExactly(), ForEach*() and HasOverlap() concurrently while no thread
// calls Insert() or Remove(). Writers need the caller's exclusion (e.g. the
// table's lock or a versioned copy).
//
// Memory: per subtable about 1 KB plus its tables: 16 bytes per slot in
// the group table (one entry per distinct match) and 8 per slot in each of
// up to 3 stage indices (one entry per distinct hash), 2 to 8 slots per
// entry (load between 1/8 and 1/2), and a 48-byte map node per distinct
// priority. Per trie 64 bytes per node, at most two nodes per distinct
// prefix. The rules are the caller's (ClsRule is 448 bytes). Lookup
// allocates nothing; it uses about 700 bytes of stack for trie answers.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ofproto/of_flow.h"
#include "ofproto/prefix_trie.h"

namespace sluice::ofproto {

class ClsSubtable;

// One classifier entry. The owner embeds it in (or points it from) its rule
// object and keeps it alive while inserted. `match` and `priority` must not
// change while inserted.
struct ClsRule {
  OfMatch match;
  int32_t priority = 0;

  // Owned by the classifier while inserted; do not touch.
  struct Internal {
    ClsSubtable* subtable = nullptr;  // non-null while inserted
    ClsRule* next = nullptr;          // next rule of the same match (lower in order)
    uint64_t seq = 0;                 // insertion sequence number (from 1)
  } cls;

  bool inserted() const { return cls.subtable != nullptr; }
};

class Classifier {
 public:
  // Stages of a subtable lookup, in the order they are probed.
  enum Stage : int { kStageMetadata = 0, kStageL2, kStageL3, kStageL4, kNumStages };
  // The OfFlow bits belonging to `stage`; the four masks partition all bits.
  static const OfMask& StageMask(int stage);

  // Address fields with a prefix trie.
  enum TrieField : int { kTrieNwSrc = 0, kTrieNwDst, kTrieIpv6Src, kTrieIpv6Dst, kNumTries };
  struct TrieFieldInfo {
    int offset;  // byte offset in OfFlow
    int width;   // bits
  };
  static const TrieFieldInfo& TrieFieldAt(int field);
  // The CIDR prefix length of `mask` on `field`: 0 when the field is not
  // matched, -1 when the mask is not a prefix.
  static int PrefixLength(const OfMask& mask, int field);

  Classifier();
  // Does not touch rules still inserted (they may be freed already); their
  // `cls` state is stale afterwards.
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Adds `rule` (not inserted yet; the caller keeps ownership). Clears the
  // value bits outside the mask. Equal matches and priorities are allowed
  // (the older rule ranks first).
  void Insert(ClsRule* rule);
  // Removes `rule`, which must be inserted here.
  void Remove(ClsRule* rule);

  // The best rule matching `flow` (invariant 1), or nullptr. When wc is not
  // null, ORs into it the bits of `flow` the answer depends on (invariant 2).
  const ClsRule* Lookup(const OfFlow& flow, OfMask* wc) const;

  // The oldest rule with exactly this match (mask, and value on the mask)
  // and priority, or nullptr: for modify-strict, delete-strict and add.
  const ClsRule* FindExactly(const OfMatch& match, int32_t priority) const;

  // Calls f(ClsRule*) for every rule, in an unspecified but deterministic
  // order. f must not insert or remove rules (collect first, then change).
  template <class F>
  void ForEach(F f) const {
    ForEachImpl(
        nullptr, [](void* ctx, ClsRule* r) { (*static_cast<F*>(ctx))(r); }, &f);
  }
  // Calls f(ClsRule*) for every rule r at least as specific as `filter`:
  // r.mask has every bit of filter.mask and r.value & filter.mask ==
  // filter.value & filter.mask (non-strict modify and delete). Same order
  // and restrictions as ForEach.
  template <class F>
  void ForEachMatching(const OfMatch& filter, F f) const {
    ForEachImpl(
        &filter, [](void* ctx, ClsRule* r) { (*static_cast<F*>(ctx))(r); }, &f);
  }

  // OpenFlow's check-overlap: true when some rule with exactly `priority`
  // could match a packet that `m` matches too, i.e. agrees with m on every
  // bit both masks set. A rule with the identical match counts.
  bool HasOverlap(const OfMatch& m, int32_t priority) const;

  size_t size() const { return n_rules_; }
  bool empty() const { return n_rules_ == 0; }
  size_t n_subtables() const { return ordered_.size(); }
  const PrefixTrie& trie(int field) const { return *tries_[field]; }

  // Verifies the invariants and every internal table (tests; O(rules)).
  bool CheckInvariants() const;

 private:
  using RuleFn = void (*)(void* ctx, ClsRule* rule);
  void ForEachImpl(const OfMatch* filter, RuleFn fn, void* ctx) const;
  ClsSubtable* FindSubtable(const OfMask& mask) const;
  // Moves `st` to its place in ordered_ after its max priority changed (or
  // inserts it when absent).
  void Reposition(ClsSubtable* st);
  void Unorder(ClsSubtable* st);

  std::vector<ClsSubtable*> ordered_;  // lookup order (invariant 6)
  // Owns the subtables, keyed by the hash of their mask.
  std::unordered_multimap<uint32_t, std::unique_ptr<ClsSubtable>> by_mask_;
  std::unique_ptr<PrefixTrie> tries_[kNumTries];
  size_t n_rules_ = 0;
  uint64_t seq_ = 0;  // last sequence number handed out
};

}  // namespace sluice::ofproto
