#pragma once
// What: PrefixTrie, a path-compressed binary trie of address prefixes (IPv4
// or IPv6, up to 128 bits), and the question the OpenFlow classifier asks of
// it: "for which prefix lengths does some stored prefix match this address,
// and for those that do not, how many of the address's leading bits prove
// it?" The classifier uses the answer to skip a subtable whose /L prefix
// cannot match and to un-wildcard only those leading bits instead of the
// whole /L (see ofproto/classifier.h).
//
// Design: a node stands for one bit string (its `prefix`, `len` bits long,
// most significant bit first); it counts the stored prefixes equal to it
// (`n_prefixes`, duplicates allowed: one per rule) and keeps `plens`, the set
// of lengths of all prefixes stored in its subtree. Edges are compressed: a
// node's child for bit b is the nearest node below whose string continues
// with b. The root is the empty string (length 0 prefixes are not stored).
//
// Lookup walks the address down the trie. At each position (depth d, i.e.
// the address's first d bits consumed) the stored prefixes that agree with
// the address on those d bits and are at least d long are exactly those in
// the subtree at that position, so their lengths are the `plens` of the node
// the position leads to (or nothing once the address has left the trie).
// The set only shrinks as d grows. For a length L with no matching prefix,
// the first depth d at which L leaves the set is the number of leading
// address bits that prove "no stored /L prefix matches": any address sharing
// those d bits walks to the same position and finds no /L below it either.
// The walk records that depth for every length (`needed`) and the lengths of
// the prefixes it met on the way (`matched`).
//
// Invariants (CheckInvariants() verifies 1-4):
//   1. A node's prefix has no bit set beyond its len; a child's prefix
//      extends its parent's, and child[b]'s bit at the parent's len is b.
//   2. Every node but the root has n_prefixes > 0 or two children (no
//      useless internal node), so nodes <= 2 * distinct prefixes + 1.
//   3. plens(node) = {len if n_prefixes > 0} | plens(child[0]) | plens(child[1]).
//   4. The sum of n_prefixes equals Insert()s minus Remove()s.
//   5. Lookup: L in matched iff some stored prefix of length L equals the
//      address's first L bits; for L stored but not matched, needed[L] <= L
//      and no stored prefix of length L agrees with the address on its first
//      needed[L] bits.
//
// Thread-safety: none; Lookup() is const and touches nothing mutable, so
// concurrent Lookup()s are safe while no one modifies the trie.
//
// Memory: one 64-byte node per distinct prefix, plus at most one branching
// node per distinct prefix. Lookup allocates nothing.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace sluice::ofproto {

// Up to 128 bits, most significant first: bit 0 is the top bit of hi.
struct PrefixBits {
  uint64_t hi = 0;
  uint64_t lo = 0;

  // From `n_bytes` (<= 16) bytes in network order; the rest is zero.
  static PrefixBits FromBytes(const uint8_t* bytes, int n_bytes);
  // 0 <= i < 128. (Written with one shift of an in-range count: GCC 12.2 at
  // -O3 miscompiled a caller of the two-shift form `i < 64 ? hi >> (63 - i)
  // : lo >> (127 - i)`; clang, -O2 and UBSan builds were fine.)
  bool Bit(int i) const {
    const uint64_t w = i < 64 ? hi : lo;
    return (w >> (63 - (i & 63))) & 1;
  }
  // The first `len` bits, the rest cleared.
  PrefixBits Truncate(int len) const;
  bool operator==(const PrefixBits&) const = default;
};

// Number of leading bits a and b have in common (128 when equal).
int CommonPrefixLength(const PrefixBits& a, const PrefixBits& b);

// A set of prefix lengths 0..128.
struct PlenSet {
  static constexpr int kMax = 128;
  uint64_t w[3] = {0, 0, 0};

  void Set(int len) { w[len >> 6] |= uint64_t{1} << (len & 63); }
  bool Has(int len) const { return (w[len >> 6] >> (len & 63)) & 1; }
  bool Empty() const { return (w[0] | w[1] | w[2]) == 0; }
  PlenSet operator|(const PlenSet& o) const {
    return {{w[0] | o.w[0], w[1] | o.w[1], w[2] | o.w[2]}};
  }
  PlenSet operator&(const PlenSet& o) const {
    return {{w[0] & o.w[0], w[1] & o.w[1], w[2] & o.w[2]}};
  }
  PlenSet Without(const PlenSet& o) const {
    return {{w[0] & ~o.w[0], w[1] & ~o.w[1], w[2] & ~o.w[2]}};
  }
  bool operator==(const PlenSet&) const = default;
};

struct PrefixTrieResult {
  PlenSet matched;  // lengths L with a stored prefix equal to the address's first L bits
  // For each stored length L not in `matched`: leading address bits that
  // prove no stored /L prefix matches (see invariant 5). Other entries are
  // unspecified.
  uint8_t needed[PlenSet::kMax + 1];
};

class PrefixTrie {
 public:
  // `width` is the address size in bits: 32 (IPv4) or 128 (IPv6).
  explicit PrefixTrie(int width);
  ~PrefixTrie();
  PrefixTrie(const PrefixTrie&) = delete;
  PrefixTrie& operator=(const PrefixTrie&) = delete;

  int width() const { return width_; }

  // Adds one occurrence of the /len prefix of `prefix` (1 <= len <= width;
  // bits beyond len are ignored).
  void Insert(const PrefixBits& prefix, int len);
  // Removes one occurrence; it must have been inserted.
  void Remove(const PrefixBits& prefix, int len);

  void Lookup(const PrefixBits& addr, PrefixTrieResult* out) const;

  // Lengths of all stored prefixes.
  const PlenSet& plens() const;
  size_t n_prefixes() const { return n_prefixes_; }
  size_t n_nodes() const;

  bool CheckInvariants() const;

 private:
  struct Node;
  void InsertAt(std::unique_ptr<Node>& slot, const PrefixBits& p, int len);
  void RemoveAt(std::unique_ptr<Node>& slot, const PrefixBits& p, int len, bool is_root);
  bool CheckNode(const Node* n, size_t* total) const;
  template <int kWords>
  void LookupImpl(const PrefixBits& addr, PrefixTrieResult* out) const;

  int width_;
  size_t n_prefixes_ = 0;
  std::unique_ptr<Node> root_;
};

}  // namespace sluice::ofproto
