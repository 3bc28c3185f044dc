#include "ofproto/prefix_trie.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace sluice::ofproto {

PrefixBits PrefixBits::FromBytes(const uint8_t* bytes, int n_bytes) {
  PrefixBits p;
  for (int i = 0; i < n_bytes; ++i) {
    const uint64_t b = bytes[i];
    if (i < 8) {
      p.hi |= b << (56 - 8 * i);
    } else {
      p.lo |= b << (56 - 8 * (i - 8));
    }
  }
  return p;
}

PrefixBits PrefixBits::Truncate(int len) const {
  if (len <= 0) return PrefixBits{};
  if (len >= 128) return *this;
  if (len < 64) return PrefixBits{hi & ~(~uint64_t{0} >> len), 0};
  if (len == 64) return PrefixBits{hi, 0};
  return PrefixBits{hi, lo & ~(~uint64_t{0} >> (len - 64))};
}

int CommonPrefixLength(const PrefixBits& a, const PrefixBits& b) {
  if (a.hi != b.hi) return std::countl_zero(a.hi ^ b.hi);
  if (a.lo != b.lo) return 64 + std::countl_zero(a.lo ^ b.lo);
  return 128;
}

struct PrefixTrie::Node {
  PrefixBits prefix;  // `len` bits, the rest zero
  int len = 0;
  uint32_t n_prefixes = 0;  // stored prefixes equal to this node's string
  PlenSet plens;            // lengths stored in this subtree
  std::unique_ptr<Node> child[2];

  void Recompute() {
    PlenSet s;
    if (n_prefixes) s.Set(len);
    for (const auto& c : child) {
      if (c) s = s | c->plens;
    }
    plens = s;
  }
};

PrefixTrie::PrefixTrie(int width) : width_(width), root_(std::make_unique<Node>()) {
  assert(width == 32 || width == 128);
}

PrefixTrie::~PrefixTrie() = default;

const PlenSet& PrefixTrie::plens() const { return root_->plens; }

void PrefixTrie::Insert(const PrefixBits& prefix, int len) {
  assert(len >= 1 && len <= width_);
  InsertAt(root_, prefix.Truncate(len), len);
  ++n_prefixes_;
}

// `slot`'s string is a prefix of p's first len bits, and slot->len <= len.
void PrefixTrie::InsertAt(std::unique_ptr<Node>& slot, const PrefixBits& p, int len) {
  Node* n = slot.get();
  if (n->len == len) {
    ++n->n_prefixes;
    n->Recompute();
    return;
  }
  auto leaf = [&p, len]() {
    auto l = std::make_unique<Node>();
    l->prefix = p;
    l->len = len;
    l->n_prefixes = 1;
    l->Recompute();
    return l;
  };
  std::unique_ptr<Node>& c = n->child[p.Bit(n->len)];
  if (!c) {
    c = leaf();
  } else {
    const int cpl = std::min({CommonPrefixLength(p, c->prefix), len, c->len});
    if (cpl == c->len) {
      InsertAt(c, p, len);
    } else if (cpl == len) {
      // p is a proper prefix of c's string: p goes between n and c.
      auto mid = leaf();
      const bool b = c->prefix.Bit(len);
      mid->child[b] = std::move(c);
      mid->Recompute();
      c = std::move(mid);
    } else {
      // p and c's string part at bit cpl: a branching node takes c's place.
      auto fork = std::make_unique<Node>();
      fork->prefix = p.Truncate(cpl);
      fork->len = cpl;
      const bool cb = c->prefix.Bit(cpl);
      fork->child[cb] = std::move(c);
      fork->child[!cb] = leaf();
      fork->Recompute();
      c = std::move(fork);
    }
  }
  n->Recompute();
}

void PrefixTrie::Remove(const PrefixBits& prefix, int len) {
  assert(len >= 1 && len <= width_ && n_prefixes_ > 0);
  RemoveAt(root_, prefix.Truncate(len), len, /*is_root=*/true);
  --n_prefixes_;
}

void PrefixTrie::RemoveAt(std::unique_ptr<Node>& slot, const PrefixBits& p, int len, bool is_root) {
  Node* n = slot.get();
  if (n->len == len) {
    assert(n->n_prefixes > 0 && n->prefix == p);
    --n->n_prefixes;
  } else {
    std::unique_ptr<Node>& c = n->child[p.Bit(n->len)];
    assert(c);
    RemoveAt(c, p, len, /*is_root=*/false);
  }
  if (!is_root && n->n_prefixes == 0) {
    // Invariant 2: an internal node without prefixes needs two children.
    if (!n->child[0] || !n->child[1]) {
      std::unique_ptr<Node> keep = std::move(n->child[n->child[0] ? 0 : 1]);
      slot = std::move(keep);  // frees n; may leave slot empty
      return;
    }
  }
  n->Recompute();
}

void PrefixTrie::Lookup(const PrefixBits& addr, PrefixTrieResult* out) const {
  if (width_ == 32) {
    LookupImpl<1>(addr, out);  // lengths 0..32 fit the first word
  } else {
    LookupImpl<3>(addr, out);
  }
}

// The walk of the header's Design, over the first kWords words of the
// length sets.
template <int kWords>
void PrefixTrie::LookupImpl(const PrefixBits& addr, PrefixTrieResult* out) const {
  out->matched = PlenSet{};
  uint64_t alive[kWords];  // lengths that may still match
  for (int i = 0; i < kWords; ++i) alive[i] = root_->plens.w[i];
  // Lengths in gone[] leave the candidate set at depth d.
  auto drop = [out](const uint64_t* gone, int d) {
    for (int i = 0; i < kWords; ++i) {
      for (uint64_t x = gone[i]; x; x &= x - 1) {
        out->needed[i * 64 + std::countr_zero(x)] = static_cast<uint8_t>(d);
      }
    }
  };
  const Node* n = root_.get();
  for (;;) {
    // The address agrees with n's string on n->len bits.
    if (n->n_prefixes) out->matched.Set(n->len);
    if (n->len == width_) {
      drop(alive, width_);
      return;
    }
    const Node* c = n->child[addr.Bit(n->len)].get();
    const int next = n->len + 1;  // bit n->len was examined
    if (!c) {
      drop(alive, next);
      return;
    }
    uint64_t gone[kWords];
    for (int i = 0; i < kWords; ++i) {
      gone[i] = alive[i] & ~c->plens.w[i];
      alive[i] &= c->plens.w[i];
    }
    drop(gone, next);
    const int cpl = std::min(CommonPrefixLength(addr, c->prefix), c->len);
    if (cpl < c->len) {
      // The address leaves the edge at bit cpl: nothing below matches.
      drop(alive, cpl + 1);
      return;
    }
    n = c;
  }
}

size_t PrefixTrie::n_nodes() const {
  size_t count = 0;
  // Iterative walk with an explicit stack (depth <= 129).
  const Node* stack[2 * PlenSet::kMax + 4];
  int top = 0;
  stack[top++] = root_.get();
  while (top) {
    const Node* n = stack[--top];
    ++count;
    for (const auto& c : n->child) {
      if (c) stack[top++] = c.get();
    }
  }
  return count;
}

bool PrefixTrie::CheckInvariants() const {
  size_t total = 0;
  return root_->len == 0 && root_->n_prefixes == 0 && CheckNode(root_.get(), &total) &&
         total == n_prefixes_;
}

// Invariants 1-3 for the subtree at n; adds its prefixes to *total.
bool PrefixTrie::CheckNode(const Node* n, size_t* total) const {
  if (n->len > width_ || !(n->prefix.Truncate(n->len) == n->prefix)) return false;
  *total += n->n_prefixes;
  PlenSet s;
  if (n->n_prefixes) s.Set(n->len);
  int n_children = 0;
  for (int b = 0; b < 2; ++b) {
    const Node* c = n->child[b].get();
    if (!c) continue;
    ++n_children;
    if (c->len <= n->len) return false;
    if (c->prefix.Bit(n->len) != (b == 1)) return false;
    if (!(c->prefix.Truncate(n->len) == n->prefix)) return false;
    if (!CheckNode(c, total)) return false;
    s = s | c->plens;
  }
  if (n != root_.get() && n->n_prefixes == 0 && n_children < 2) return false;
  return s == n->plens;
}

}  // namespace sluice::ofproto
