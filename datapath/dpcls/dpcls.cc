#include "datapath/dpcls/dpcls.h"

#include <algorithm>
#include <bit>

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
  }
  st->Insert(rule);
  ++n_rules_;
}

void Dpcls::Remove(DpclsRule* rule) {
  DpclsSubtable* st = rule->subtable;
  st->Remove(rule);
  --n_rules_;
  if (st->n_rules() == 0) {
    auto it = std::find_if(subtables_.begin(), subtables_.end(),
                           [st](const auto& p) { return p.get() == st; });
    subtables_.erase(it);
  }
}

uint32_t Dpcls::LookupBatch(const FlowKey* const keys[], uint32_t keys_map, DpclsRule* rules[]) {
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
