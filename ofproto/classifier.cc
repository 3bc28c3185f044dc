#include "ofproto/classifier.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <map>
#include <utility>

#include "datapath/util/hash.h"

namespace sluice::ofproto {

namespace {

// An open-addressing table keyed by 32-bit hashes (already well mixed), with
// linear probing and backward-shift deletion (no tombstones). A slot is
// empty when its value is V{}. Several slots may share a hash.
template <class V>
class ProbeTable {
 public:
  struct Slot {
    uint32_t hash;
    V value;
  };

  ProbeTable() : slots_(kMinSlots, Slot{0, V{}}), mask_(kMinSlots - 1) {}

  size_t size() const { return n_; }

  // The first slot with `hash` whose value satisfies pred, or nullptr.
  template <class Pred>
  Slot* Find(uint32_t hash, Pred pred) {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.value == V{}) return nullptr;
      if (s.hash == hash && pred(s.value)) return &s;
    }
  }
  template <class Pred>
  const Slot* Find(uint32_t hash, Pred pred) const {
    return const_cast<ProbeTable*>(this)->Find(hash, pred);
  }
  bool Contains(uint32_t hash) const {
    return Find(hash, [](const V&) { return true; }) != nullptr;
  }

  void Add(uint32_t hash, V value) {
    if ((n_ + 1) * 2 > slots_.size()) Resize(slots_.size() * 2);
    Place(hash, value);
    ++n_;
  }

  // Removes slot `s` (found by Find; its value may already be V{}).
  void Erase(Slot* s) {
    uint32_t hole = static_cast<uint32_t>(s - slots_.data());
    slots_[hole].value = V{};
    // Backward shift: pull later entries of the run into the hole unless
    // their home lies cyclically in (hole, j].
    for (uint32_t j = (hole + 1) & mask_; !(slots_[j].value == V{}); j = (j + 1) & mask_) {
      const uint32_t home = slots_[j].hash & mask_;
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole] = slots_[j];
      slots_[j].value = V{};
      hole = j;
    }
    --n_;
    if (slots_.size() > kMinSlots && n_ * 8 < slots_.size()) Resize(slots_.size() / 2);
  }

  template <class F>
  void ForEachSlot(F f) const {
    for (const Slot& s : slots_) {
      if (!(s.value == V{})) f(s.hash, s.value);
    }
  }

 private:
  static constexpr size_t kMinSlots = 8;

  void Place(uint32_t hash, V value) {
    uint32_t i = hash & mask_;
    while (!(slots_[i].value == V{})) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, value};
  }
  void Resize(size_t n_slots) {
    std::vector<Slot> old(n_slots, Slot{0, V{}});
    old.swap(slots_);
    mask_ = static_cast<uint32_t>(n_slots - 1);
    for (const Slot& s : old) {
      if (!(s.value == V{})) Place(s.hash, s.value);
    }
  }

  std::vector<Slot> slots_;
  uint32_t mask_;
  size_t n_ = 0;
};

struct StageMasks {
  OfMask m[Classifier::kNumStages];

  StageMasks() {
    for (auto& x : m) x.Clear();
    dp::FlowKey& l2 = m[Classifier::kStageL2].dp;
    std::memset(&l2.eth_dst, 0xff, sizeof(l2.eth_dst));
    std::memset(&l2.eth_src, 0xff, sizeof(l2.eth_src));
    l2.eth_type = Be16(0xffff);
    std::memset(&l2.vlan, 0xff, sizeof(l2.vlan));

    dp::FlowKey& l3 = m[Classifier::kStageL3].dp;
    l3.nw_proto = 0xff;
    l3.nw_frag = 0xff;
    l3.nw_src = be32::FromRaw(0xffffffffu);
    l3.nw_dst = be32::FromRaw(0xffffffffu);
    l3.nw_tos = 0xff;
    l3.nw_ttl = 0xff;
    std::memset(l3.ipv6_src, 0xff, sizeof(l3.ipv6_src));
    std::memset(l3.ipv6_dst, 0xff, sizeof(l3.ipv6_dst));
    l3.ipv6_label = be32::FromRaw(0xffffffffu);
    std::memset(&l3.arp_sha, 0xff, sizeof(l3.arp_sha));
    std::memset(&l3.arp_tha, 0xff, sizeof(l3.arp_tha));

    dp::FlowKey& l4 = m[Classifier::kStageL4].dp;
    l4.tp_src = Be16(0xffff);
    l4.tp_dst = Be16(0xffff);
    l4.tcp_flags = Be16(0xffff);
    std::memset(l4.nd_target, 0xff, sizeof(l4.nd_target));

    // Metadata: everything else (ports, recirc_id, pkt_mark, dp_hash and
    // the pipeline-only words).
    for (int w = 0; w < kOfFlowWords; ++w) {
      m[Classifier::kStageMetadata].words()[w] =
          ~(m[Classifier::kStageL2].words()[w] | m[Classifier::kStageL3].words()[w] |
            m[Classifier::kStageL4].words()[w]);
    }
  }
};

const StageMasks& Stages() {
  static const StageMasks stages;
  return stages;
}

constexpr Classifier::TrieFieldInfo kTrieFields[Classifier::kNumTries] = {
    {static_cast<int>(offsetof(dp::FlowKey, nw_src)), 32},
    {static_cast<int>(offsetof(dp::FlowKey, nw_dst)), 32},
    {static_cast<int>(offsetof(dp::FlowKey, ipv6_src)), 128},
    {static_cast<int>(offsetof(dp::FlowKey, ipv6_dst)), 128},
};

const uint8_t* FieldBytes(const OfFlow& f, int field) {
  return reinterpret_cast<const uint8_t*>(&f) + kTrieFields[field].offset;
}

PrefixBits FieldBits(const OfFlow& f, int field) {
  return PrefixBits::FromBytes(FieldBytes(f, field), kTrieFields[field].width / 8);
}

// Sets the first `bits` bits of `field` in wc.
void UnwildcardPrefix(OfMask* wc, int field, int bits) {
  uint8_t* p = reinterpret_cast<uint8_t*>(wc) + kTrieFields[field].offset;
  int i = 0;
  for (; bits >= 8; bits -= 8) p[i++] = 0xff;
  if (bits) p[i] |= static_cast<uint8_t>(0xff << (8 - bits));
}

// The prefix answers of one lookup, computed on first use per field.
struct TrieContext {
  TrieContext(const std::unique_ptr<PrefixTrie>* t, const OfFlow* f) : tries(t), flow(f) {}

  const std::unique_ptr<PrefixTrie>* tries;
  const OfFlow* flow;
  uint32_t done = 0;  // bit f set when result[f] is computed
  PrefixTrieResult result[Classifier::kNumTries];

  const PrefixTrieResult& Get(int field) {
    if (!(done & (1u << field))) {
      tries[field]->Lookup(FieldBits(*flow, field), &result[field]);
      done |= 1u << field;
    }
    return result[field];
  }
};

}  // namespace

// One subtable: the rules of one mask (see the header's Design).
class ClsSubtable {
 public:
  static constexpr int kMaxPairs = 2 * kOfFlowWords;

  ClsSubtable(const OfMask& mask, uint64_t create_seq);

  const OfMask& mask() const { return mask_; }
  uint64_t create_seq() const { return create_seq_; }
  int32_t max_priority() const { return max_priority_; }
  size_t n_rules() const { return n_rules_; }
  int plen(int field) const { return plen_[field]; }
  bool HasPriority(int32_t p) const { return priorities_.count(p) != 0; }

  // Both return true when max_priority() changed.
  bool Insert(ClsRule* rule);
  bool Remove(ClsRule* rule);

  // The head of the group matching `flow`, or nullptr.
  const ClsRule* Find(const OfFlow& flow) const {
    const ProbeSlot* s = FindSlot(FullHash(flow), flow);
    return s ? s->value : nullptr;
  }
  // The same with wildcard tracking (the header's (a), (b) and (c)).
  const ClsRule* FindWc(const OfFlow& flow, OfMask* wc, TrieContext* tries) const;
  // The head of the group whose value equals `value` on this mask.
  ClsRule* FindGroup(const OfFlow& value) const { return const_cast<ClsRule*>(Find(value)); }

  template <class F>
  void ForEachRule(F f) const {
    groups_.ForEachSlot([&f](uint32_t, ClsRule* head) {
      for (ClsRule* r = head; r; r = r->cls.next) f(r);
    });
  }
  // True when pred(rule) holds for some rule (stops at the first).
  template <class P>
  bool AnyRule(P pred) const {
    bool found = false;
    groups_.ForEachSlot([&](uint32_t, ClsRule* head) {
      for (ClsRule* r = head; r && !found; r = r->cls.next) found = pred(r);
    });
    return found;
  }

  bool CheckInvariants() const;

 private:
  using ProbeSlot = ProbeTable<ClsRule*>::Slot;

  uint32_t FullHash(const OfFlow& f) const {
    uint32_t h = 0;
    for (int j = 0; j < n_pairs_; ++j) h = HashAddWord(h, f.words()[pair_word_[j]] & pair_mask_[j]);
    return HashFinish(h, 8u * static_cast<uint32_t>(n_pairs_));
  }
  // keys[s] = the cumulative hash through used stage s.
  void StageHashes(const OfFlow& f, uint32_t keys[]) const {
    uint32_t h = 0;
    int j = 0;
    for (int s = 0; s < n_stages_; ++s) {
      for (; j < stage_end_[s]; ++j) h = HashAddWord(h, f.words()[pair_word_[j]] & pair_mask_[j]);
      keys[s] = HashFinish(h, 8u * static_cast<uint32_t>(j));
    }
  }
  bool SameValue(const ClsRule* head, const OfFlow& f) const {
    for (int i = 0; i < n_words_; ++i) {
      const int w = word_[i];
      if ((f.words()[w] & mask_.words()[w]) != head->match.value.words()[w]) return false;
    }
    return true;
  }
  const ProbeSlot* FindSlot(uint32_t hash, const OfFlow& f) const {
    return groups_.Find(hash, [this, &f](ClsRule* head) { return SameValue(head, f); });
  }
  void OrPairs(OfMask* wc, int n) const {
    for (int j = 0; j < n; ++j) wc->words()[pair_word_[j]] |= pair_mask_[j];
  }
  // (c): true when a trie proves that no rule here matches; then sets the
  // proving address bits in wc.
  bool TrieSkip(OfMask* wc, TrieContext* tries) const;

  // Hot: read by lookups.
  int n_pairs_ = 0;                             // (word, mask) pairs in stage order
  int n_stages_ = 0;                            // used stages (at least 1)
  int l3_stage_ = -1;                           // index of the L3 stage among the used ones, if any
  uint8_t trie_fields_ = 0;                     // bit f set when plen_[f] > 0
  int n_words_ = 0;                             // words the mask uses
  int stage_end_[Classifier::kNumStages] = {};  // pairs [prev end, end) per used stage
  uint8_t plen_[Classifier::kNumTries] = {};    // CIDR length on trie fields, 0 = none
  uint8_t pair_word_[kMaxPairs] = {};
  uint8_t word_[kOfFlowWords] = {};
  uint64_t pair_mask_[kMaxPairs] = {};
  ProbeTable<ClsRule*> groups_;                             // full hash -> group head
  ProbeTable<uint32_t> index_[Classifier::kNumStages - 1];  // stage hash -> rule count
  int32_t max_priority_ = 0;

  // Cold.
  uint64_t create_seq_;
  size_t n_rules_ = 0;
  std::map<int32_t, uint32_t> priorities_;  // rules per priority
  OfMask mask_;
};

ClsSubtable::ClsSubtable(const OfMask& mask, uint64_t create_seq)
    : create_seq_(create_seq), mask_(mask) {
  const StageMasks& stages = Stages();
  for (int s = 0; s < Classifier::kNumStages; ++s) {
    const int start = n_pairs_;
    for (int w = 0; w < kOfFlowWords; ++w) {
      const uint64_t m = mask.words()[w] & stages.m[s].words()[w];
      if (!m) continue;
      assert(n_pairs_ < kMaxPairs);
      pair_word_[n_pairs_] = static_cast<uint8_t>(w);
      pair_mask_[n_pairs_] = m;
      ++n_pairs_;
    }
    if (n_pairs_ == start) continue;
    if (s == Classifier::kStageL3) l3_stage_ = n_stages_;
    stage_end_[n_stages_++] = n_pairs_;
  }
  if (n_stages_ == 0) stage_end_[n_stages_++] = 0;  // the catch-all mask
  for (int w = 0; w < kOfFlowWords; ++w) {
    if (mask.words()[w]) word_[n_words_++] = static_cast<uint8_t>(w);
  }
  for (int f = 0; f < Classifier::kNumTries; ++f) {
    const int len = Classifier::PrefixLength(mask, f);
    plen_[f] = static_cast<uint8_t>(len > 0 ? len : 0);
    if (len > 0) trie_fields_ |= static_cast<uint8_t>(1u << f);
  }
}

bool ClsSubtable::Insert(ClsRule* rule) {
  uint32_t keys[Classifier::kNumStages];
  StageHashes(rule->match.value, keys);
  for (int s = 0; s + 1 < n_stages_; ++s) {
    auto* slot = index_[s].Find(keys[s], [](uint32_t) { return true; });
    if (slot) {
      ++slot->value;
    } else {
      index_[s].Add(keys[s], 1);
    }
  }
  const uint32_t key = keys[n_stages_ - 1];
  ProbeSlot* slot = const_cast<ProbeSlot*>(FindSlot(key, rule->match.value));
  if (!slot) {
    rule->cls.next = nullptr;
    groups_.Add(key, rule);
  } else {
    // Priority descending; after every rule of equal priority (older first).
    ClsRule** pp = &slot->value;
    while (*pp && (*pp)->priority >= rule->priority) pp = &(*pp)->cls.next;
    rule->cls.next = *pp;
    *pp = rule;
  }
  rule->cls.subtable = this;
  ++priorities_[rule->priority];
  ++n_rules_;
  const int32_t old_max = max_priority_;
  max_priority_ = priorities_.rbegin()->first;
  return n_rules_ == 1 || max_priority_ != old_max;
}

bool ClsSubtable::Remove(ClsRule* rule) {
  assert(rule->cls.subtable == this);
  uint32_t keys[Classifier::kNumStages];
  StageHashes(rule->match.value, keys);
  for (int s = 0; s + 1 < n_stages_; ++s) {
    auto* slot = index_[s].Find(keys[s], [](uint32_t) { return true; });
    assert(slot);
    if (--slot->value == 0) index_[s].Erase(slot);
  }
  ProbeSlot* slot = const_cast<ProbeSlot*>(FindSlot(keys[n_stages_ - 1], rule->match.value));
  assert(slot);
  ClsRule** pp = &slot->value;
  while (*pp != rule) pp = &(*pp)->cls.next;
  *pp = rule->cls.next;
  if (!slot->value) groups_.Erase(slot);
  rule->cls.next = nullptr;
  auto it = priorities_.find(rule->priority);
  if (--it->second == 0) priorities_.erase(it);
  --n_rules_;
  const int32_t old_max = max_priority_;
  if (!priorities_.empty()) max_priority_ = priorities_.rbegin()->first;
  return max_priority_ != old_max;
}

bool ClsSubtable::TrieSkip(OfMask* wc, TrieContext* tries) const {
  int best_field = -1;
  int best_bits = 0;
  for (uint32_t fields = trie_fields_; fields; fields &= fields - 1) {
    const int f = std::countr_zero(fields);
    const int len = plen_[f];
    const PrefixTrieResult& r = tries->Get(f);
    if (r.matched.Has(len)) continue;
    // Every rule here has a /len prefix on f, all of them in the trie, so
    // needed[len] is set (PrefixTrie invariant 5).
    const int bits = r.needed[len];
    if (best_field < 0 || bits < best_bits) {
      best_field = f;
      best_bits = bits;
    }
  }
  if (best_field < 0) return false;
  UnwildcardPrefix(wc, best_field, best_bits);
  return true;
}

const ClsRule* ClsSubtable::FindWc(const OfFlow& flow, OfMask* wc, TrieContext* tries) const {
  uint32_t h = 0;
  int j = 0;
  bool trie_tried = false;
  for (int s = 0;; ++s) {
    if (s == l3_stage_ && trie_fields_ && (tries->done & trie_fields_) == trie_fields_) {
      // This lookup already walked the tries this subtable needs: asking
      // them is cheaper than probing L3, and gives the same answer.
      if (TrieSkip(wc, tries)) return nullptr;  // (c)
      trie_tried = true;
    }
    for (; j < stage_end_[s]; ++j) h = HashAddWord(h, flow.words()[pair_word_[j]] & pair_mask_[j]);
    const uint32_t key = HashFinish(h, 8u * static_cast<uint32_t>(j));
    if (s + 1 == n_stages_) {
      if (const ProbeSlot* slot = FindSlot(key, flow)) {
        OrPairs(wc, j);  // (a): a match needs the whole mask
        return slot->value;
      }
    } else if (index_[s].Contains(key)) {
      continue;  // maybe present: look further
    }
    // A miss, proven by the mask bits of stages 0..s ((a) or (b)). When the
    // L3 stage missed, a prefix trie may prove it with fewer bits (c): a
    // subset of these, since the trie needs at most the /L prefix's bits.
    // (Only an L3 miss can have such a proof: a rule agreeing with the flow
    // through L3 would put a matching /L prefix in the trie.)
    if (s == l3_stage_ && trie_fields_ && !trie_tried && TrieSkip(wc, tries)) return nullptr;
    OrPairs(wc, j);
    return nullptr;
  }
}

bool ClsSubtable::CheckInvariants() const {
  size_t n = 0;
  bool ok = true;
  std::map<int32_t, uint32_t> prios;
  std::map<uint32_t, uint32_t> index_counts[Classifier::kNumStages - 1];
  groups_.ForEachSlot([&](uint32_t hash, ClsRule* head) {
    if (hash != FullHash(head->match.value)) ok = false;
    for (const ClsRule* r = head; r; r = r->cls.next) {
      ++n;
      ++prios[r->priority];
      if (r->cls.subtable != this || !SameValue(head, r->match.value)) ok = false;
      for (int w = 0; w < kOfFlowWords; ++w) {
        if (r->match.mask.words()[w] != mask_.words()[w]) ok = false;
        if (r->match.value.words()[w] & ~mask_.words()[w]) ok = false;
      }
      if (const ClsRule* nx = r->cls.next) {
        if (nx->priority > r->priority ||
            (nx->priority == r->priority && nx->cls.seq < r->cls.seq)) {
          ok = false;
        }
      }
      uint32_t keys[Classifier::kNumStages];
      StageHashes(r->match.value, keys);
      for (int s = 0; s + 1 < n_stages_; ++s) ++index_counts[s][keys[s]];
    }
  });
  for (int s = 0; s + 1 < Classifier::kNumStages; ++s) {
    std::map<uint32_t, uint32_t> have;
    index_[s].ForEachSlot([&](uint32_t hash, uint32_t count) {
      if (have.count(hash)) ok = false;  // one slot per hash
      have[hash] = count;
    });
    if (have != index_counts[s]) ok = false;
  }
  if (n != n_rules_ || prios != priorities_) ok = false;
  if (n_rules_ && max_priority_ != prios.rbegin()->first) ok = false;
  return ok;
}

const OfMask& Classifier::StageMask(int stage) { return Stages().m[stage]; }

const Classifier::TrieFieldInfo& Classifier::TrieFieldAt(int field) { return kTrieFields[field]; }

int Classifier::PrefixLength(const OfMask& mask, int field) {
  const uint8_t* p = FieldBytes(mask, field);
  const int n_bytes = kTrieFields[field].width / 8;
  int len = 0;
  int i = 0;
  while (i < n_bytes && p[i] == 0xff) {
    len += 8;
    ++i;
  }
  if (i < n_bytes) {
    const uint8_t b = p[i];
    const int ones = std::countl_one(b);
    if (static_cast<uint8_t>(b << ones) != 0) return -1;
    len += ones;
    for (++i; i < n_bytes; ++i) {
      if (p[i]) return -1;
    }
  }
  return len;
}

Classifier::Classifier() {
  for (int f = 0; f < kNumTries; ++f) {
    tries_[f] = std::make_unique<PrefixTrie>(kTrieFields[f].width);
  }
}

// Rules still inserted are not touched: they may already be gone.
Classifier::~Classifier() = default;

namespace {

uint32_t MaskHash(const OfMask& mask) { return HashWords(mask.words(), kOfFlowWords, 0); }

bool OrderedBefore(const ClsSubtable* a, const ClsSubtable* b) {
  if (a->max_priority() != b->max_priority()) return a->max_priority() > b->max_priority();
  return a->create_seq() < b->create_seq();
}

}  // namespace

ClsSubtable* Classifier::FindSubtable(const OfMask& mask) const {
  auto [it, end] = by_mask_.equal_range(MaskHash(mask));
  for (; it != end; ++it) {
    if (it->second->mask() == mask) return it->second.get();
  }
  return nullptr;
}

void Classifier::Unorder(ClsSubtable* st) {
  auto it = std::find(ordered_.begin(), ordered_.end(), st);
  if (it != ordered_.end()) ordered_.erase(it);
}

void Classifier::Reposition(ClsSubtable* st) {
  Unorder(st);
  ordered_.insert(std::upper_bound(ordered_.begin(), ordered_.end(), st, OrderedBefore), st);
}

void Classifier::Insert(ClsRule* rule) {
  assert(!rule->inserted());
  MaskFlow(rule->match.value, rule->match.mask, &rule->match.value);
  rule->cls.seq = ++seq_;
  ClsSubtable* st = FindSubtable(rule->match.mask);
  if (!st) {
    auto owned = std::make_unique<ClsSubtable>(rule->match.mask, rule->cls.seq);
    st = owned.get();
    by_mask_.emplace(MaskHash(rule->match.mask), std::move(owned));
  }
  const bool reorder = st->Insert(rule);
  for (int f = 0; f < kNumTries; ++f) {
    if (st->plen(f)) tries_[f]->Insert(FieldBits(rule->match.value, f), st->plen(f));
  }
  ++n_rules_;
  if (reorder) Reposition(st);
}

void Classifier::Remove(ClsRule* rule) {
  ClsSubtable* st = rule->cls.subtable;
  assert(st && FindSubtable(rule->match.mask) == st);
  for (int f = 0; f < kNumTries; ++f) {
    if (st->plen(f)) tries_[f]->Remove(FieldBits(rule->match.value, f), st->plen(f));
  }
  const bool reorder = st->Remove(rule);
  rule->cls = ClsRule::Internal{};
  --n_rules_;
  if (st->n_rules() == 0) {
    Unorder(st);
    auto [it, end] = by_mask_.equal_range(MaskHash(st->mask()));
    for (; it != end; ++it) {
      if (it->second.get() == st) {
        by_mask_.erase(it);
        break;
      }
    }
  } else if (reorder) {
    Reposition(st);
  }
}

const ClsRule* Classifier::Lookup(const OfFlow& flow, OfMask* wc) const {
  const ClsRule* best = nullptr;
  int32_t best_priority = 0;
  uint64_t best_create = 0;  // creation sequence of best's subtable
  TrieContext tries(tries_, &flow);
  for (const ClsSubtable* st : ordered_) {
    if (best) {
      // Priority pruning: nothing from here on can win (see the header).
      if (best_priority > st->max_priority()) break;
      if (best_priority == st->max_priority() && st->create_seq() > best_create) break;
    }
    const ClsRule* r = wc ? st->FindWc(flow, wc, &tries) : st->Find(flow);
    if (!r) continue;
    if (!best || r->priority > best_priority ||
        (r->priority == best_priority && st->create_seq() < best_create)) {
      best = r;
      best_priority = r->priority;
      best_create = st->create_seq();
    }
  }
  return best;
}

const ClsRule* Classifier::FindExactly(const OfMatch& match, int32_t priority) const {
  const ClsSubtable* st = FindSubtable(match.mask);
  if (!st) return nullptr;
  for (const ClsRule* r = st->FindGroup(match.value); r; r = r->cls.next) {
    if (r->priority == priority) return r;
    if (r->priority < priority) break;
  }
  return nullptr;
}

void Classifier::ForEachImpl(const OfMatch* filter, RuleFn fn, void* ctx) const {
  if (!filter) {
    for (const ClsSubtable* st : ordered_) st->ForEachRule([fn, ctx](ClsRule* r) { fn(ctx, r); });
    return;
  }
  OfFlow fvalue;
  MaskFlow(filter->value, filter->mask, &fvalue);
  const OfMask& fmask = filter->mask;
  for (const ClsSubtable* st : ordered_) {
    bool superset = true;
    bool equal = true;
    for (int w = 0; w < kOfFlowWords; ++w) {
      const uint64_t sm = st->mask().words()[w], fm = fmask.words()[w];
      superset &= (sm & fm) == fm;
      equal &= sm == fm;
    }
    if (!superset) continue;
    if (equal) {
      // Only one group can agree with the filter on the whole mask.
      for (ClsRule* r = st->FindGroup(fvalue); r; r = r->cls.next) fn(ctx, r);
      continue;
    }
    st->ForEachRule([&](ClsRule* r) {
      for (int w = 0; w < kOfFlowWords; ++w) {
        if ((r->match.value.words()[w] & fmask.words()[w]) != fvalue.words()[w]) return;
      }
      fn(ctx, r);
    });
  }
}

bool Classifier::HasOverlap(const OfMatch& m, int32_t priority) const {
  OfFlow mvalue;
  MaskFlow(m.value, m.mask, &mvalue);
  for (const ClsSubtable* st : ordered_) {
    if (st->max_priority() < priority) break;
    if (!st->HasPriority(priority)) continue;
    bool within = true;  // the subtable's mask is a subset of m's
    for (int w = 0; w < kOfFlowWords; ++w) {
      within &= (st->mask().words()[w] & ~m.mask.words()[w]) == 0;
    }
    if (within) {
      // Both masks cover the subtable's bits: only the group with m's value
      // on them overlaps.
      for (const ClsRule* r = st->FindGroup(mvalue); r; r = r->cls.next) {
        if (r->priority == priority) return true;
        if (r->priority < priority) break;
      }
      continue;
    }
    const bool found = st->AnyRule([&](const ClsRule* r) {
      if (r->priority != priority) return false;
      for (int w = 0; w < kOfFlowWords; ++w) {
        const uint64_t both = r->match.mask.words()[w] & m.mask.words()[w];
        if ((r->match.value.words()[w] ^ mvalue.words()[w]) & both) return false;
      }
      return true;
    });
    if (found) return true;
  }
  return false;
}

bool Classifier::CheckInvariants() const {
  if (ordered_.size() != by_mask_.size()) return false;
  size_t n = 0;
  size_t n_prefixes[kNumTries] = {};
  for (size_t i = 0; i < ordered_.size(); ++i) {
    const ClsSubtable* st = ordered_[i];
    if (st->n_rules() == 0 || !st->CheckInvariants()) return false;
    if (FindSubtable(st->mask()) != st) return false;
    if (i > 0 && !OrderedBefore(ordered_[i - 1], st)) return false;
    n += st->n_rules();
    for (int f = 0; f < kNumTries; ++f) {
      const int len = PrefixLength(st->mask(), f);
      if (st->plen(f) != (len > 0 ? len : 0)) return false;
      if (len > 0) n_prefixes[f] += st->n_rules();
    }
  }
  for (size_t i = 0; i < ordered_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ordered_[i]->mask() == ordered_[j]->mask()) return false;
    }
  }
  for (int f = 0; f < kNumTries; ++f) {
    if (tries_[f]->n_prefixes() != n_prefixes[f] || !tries_[f]->CheckInvariants()) return false;
  }
  return n == n_rules_;
}

}  // namespace sluice::ofproto
