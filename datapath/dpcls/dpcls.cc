#include "datapath/dpcls/dpcls.h"

#include <algorithm>
#include <bit>

#include <immintrin.h>

#include <cstring>

#include "datapath/dpcls/subtable.h"

namespace sluice::dp {

Dpcls::Dpcls(DpclsImpl impl) : impl_(impl) {}

Dpcls::~Dpcls() = default;

DpclsSubtable* Dpcls::FindSubtable(const FlowMask& mask) const {
  const FlowWordMap map = WordMapOf(mask);
  for (const auto& st : subtables_) {
    if (st->word_map() == map && st->mask() == mask) return st.get();
  }
  return nullptr;
}

void Dpcls::Insert(DpclsRule* rule, const FlowMask& mask) {
  DpclsSubtable* st = FindSubtable(mask);
  if (!st) {
    subtables_.push_back(std::make_unique<DpclsSubtable>(mask, impl_));
    st = subtables_.back().get();
    if (smc_ == nullptr && subtables_.size() >= kSmcMinSubtables) {
      smc_.reset(new DpclsSmcBucket[kSmcBuckets]);
      SmcClear();
    }
  }
  st->Insert(rule);
  if (free_indexes_.empty()) {
    rule->index = static_cast<uint32_t>(rule_at_.size());
    rule_at_.push_back(rule);
  } else {
    rule->index = free_indexes_.back();
    free_indexes_.pop_back();
    rule_at_[rule->index] = rule;
  }
  ++n_rules_;
}

void Dpcls::Remove(DpclsRule* rule) {
  DpclsSubtable* st = rule->subtable;
  st->Remove(rule);
  rule_at_[rule->index] = nullptr;
  free_indexes_.push_back(rule->index);
  --n_rules_;
  if (st->n_rules() == 0) {
    auto it = std::find_if(subtables_.begin(), subtables_.end(),
                           [st](const auto& p) { return p.get() == st; });
    subtables_.erase(it);
  }
}

uint32_t Dpcls::LookupBatch(const FlowKey* const keys[], uint32_t keys_map, DpclsRule* rules[]) {
  return WalkBatch(keys, keys_map, rules);
}

uint32_t Dpcls::LookupBatch(const FlowKey* const keys[], const uint32_t hashes[],
                            uint32_t keys_map, DpclsRule* rules[]) {
  if (!smc_active()) return WalkBatch(keys, keys_map, rules);
  const uint32_t cached = SmcLookupBatch(keys, hashes, keys_map, rules);
  const uint32_t left = keys_map & ~cached;
  if (!left) return cached;
  const uint32_t walked = WalkBatch(keys, left, rules);
  for (uint32_t m = walked; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    SmcInsert(hashes[i], rules[i]->index);
  }
  return cached | walked;
}

namespace {

// Bit w set when way w of `b` is in use and stores `hash`.
inline uint32_t SmcMatchWays(const DpclsSmcBucket& b, uint32_t hash) {
  const __m256i h = _mm256_set1_epi32(static_cast<int>(hash));
  const __m256i eq = _mm256_cmpeq_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.hash)), h);
  return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(eq)));
}

}  // namespace

uint32_t Dpcls::SmcLookupBatch(const FlowKey* const keys[], const uint32_t hashes[],
                               uint32_t keys_map, DpclsRule* rules[]) const {
  constexpr uint32_t kMask = kSmcBuckets - 1;
  for (uint32_t m = keys_map; m; m &= m - 1) {
    __builtin_prefetch(&smc_[hashes[std::countr_zero(m)] & kMask]);
  }
  uint32_t found = 0;
  const uint32_t n_indexes = static_cast<uint32_t>(rule_at_.size());
  for (uint32_t m = keys_map; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const DpclsSmcBucket& b = smc_[hashes[i] & kMask];
    for (uint32_t ways = SmcMatchWays(b, hashes[i]); ways; ways &= ways - 1) {
      const uint32_t index = b.index[std::countr_zero(ways)];
      // kEmpty is >= n_indexes; a freed index names nullptr.
      DpclsRule* r = index < n_indexes ? rule_at_[index] : nullptr;
      if (r != nullptr && r->subtable->Matches(*keys[i], *r)) {
        rules[i] = r;
        r->subtable->add_hits(1);
        found |= 1u << i;
        break;
      }
    }
  }
  return found;
}

void Dpcls::SmcInsert(uint32_t hash, uint32_t index) {
  DpclsSmcBucket& b = smc_[hash & (kSmcBuckets - 1)];
  uint32_t ways = SmcMatchWays(b, hash);
  if (!ways) {
    for (int w = 0; w < 8; ++w) ways |= static_cast<uint32_t>(b.index[w] == DpclsSmcBucket::kEmpty) << w;
  }
  const int w = ways ? std::countr_zero(ways) : static_cast<int>(smc_victim_++ & 7);
  b.hash[w] = hash;
  b.index[w] = index;
}

void Dpcls::SmcClear() {
  if (smc_ == nullptr) return;
  for (uint32_t i = 0; i < kSmcBuckets; ++i) {
    std::memset(smc_[i].hash, 0, sizeof(smc_[i].hash));
    std::memset(smc_[i].index, 0xff, sizeof(smc_[i].index));
  }
}

uint32_t Dpcls::WalkBatch(const FlowKey* const keys[], uint32_t keys_map, DpclsRule* rules[]) {
  uint32_t left = keys_map;
  for (const auto& st : subtables_) {
    if (!left) break;
    const uint32_t found = st->LookupBatch(keys, left, rules);
    st->add_hits(static_cast<uint64_t>(std::popcount(found)));
    left &= ~found;
  }
  return keys_map & ~left;
}

DpclsRule* Dpcls::Lookup(const FlowKey& key) {
  const FlowKey* keys[1] = {&key};
  DpclsRule* rules[1] = {nullptr};
  return LookupBatch(keys, 1u, rules) ? rules[0] : nullptr;
}

void Dpcls::Sort() {
  std::stable_sort(subtables_.begin(), subtables_.end(),
                   [](const auto& a, const auto& b) { return a->hits() > b->hits(); });
  for (auto& st : subtables_) st->reset_hits();
}

std::vector<DpclsSubtableInfo> Dpcls::Subtables() const {
  std::vector<DpclsSubtableInfo> out;
  out.reserve(subtables_.size());
  for (const auto& st : subtables_) out.push_back({st->mask(), st->n_rules(), st->hits()});
  return out;
}

FlowMask Dpcls::MaskUnion() const {
  FlowMask u;
  u.Clear();
  for (const auto& st : subtables_) {
    for (int i = 0; i < kFlowWords; ++i) u.words()[i] |= st->mask().words()[i];
  }
  return u;
}

bool Dpcls::CheckInvariants() const {
  size_t n = 0;
  for (size_t i = 0; i < subtables_.size(); ++i) {
    const DpclsSubtable& st = *subtables_[i];
    if (st.n_rules() == 0 || !st.CheckInvariants()) return false;
    for (size_t j = 0; j < i; ++j) {
      if (subtables_[j]->mask() == st.mask()) return false;
    }
    n += st.n_rules();
  }
  return n == n_rules_;
}

}  // namespace sluice::dp
