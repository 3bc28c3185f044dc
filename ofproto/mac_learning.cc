#include "ofproto/mac_learning.h"

#include <algorithm>
#include <cstring>

#include "datapath/util/hash.h"

namespace sluice::ofproto {

namespace {

constexpr size_t kInitialIndexSlots = 16;

bool IsGroupAddr(const dp::EthAddr& mac) { return (mac.b[0] & 0x01) != 0; }

// vlan << 48 | mac (big-endian): ordering keys orders by (vlan, mac).
uint64_t PackKey(const dp::EthAddr& mac, uint16_t vlan) {
  uint64_t key = vlan;
  for (uint8_t byte : mac.b) key = key << 8 | byte;
  return key;
}

uint16_t KeyVlan(uint64_t key) { return static_cast<uint16_t>(key >> 48); }

dp::EthAddr KeyMac(uint64_t key) {
  dp::EthAddr mac;
  for (int i = 0; i < 6; ++i) mac.b[i] = static_cast<uint8_t>(key >> (40 - 8 * i));
  return mac;
}

uint32_t HashKey(uint64_t key) { return HashFinish(HashAddWord(0, key), 8); }

}  // namespace

MacLearning::MacLearning(MacLearningOptions options)
    : max_entries_(options.max_entries),
      aging_ms_(uint64_t{options.aging_s} * 1000),
      index_(kInitialIndexSlots, kNil) {}

// ---- Locked helpers -------------------------------------------------------

uint32_t MacLearning::FindLocked(uint64_t key, uint32_t hash) const {
  const size_t mask = index_.size() - 1;
  for (size_t s = hash & mask;; s = (s + 1) & mask) {
    const uint32_t node = index_[s];
    if (node == kNil) return kNil;  // terminates: the index is at most half full
    if (nodes_[node].key == key) return node;
  }
}

uint32_t MacLearning::AllocNode() {
  if (free_head_ != kNil) {
    const uint32_t node = free_head_;
    free_head_ = nodes_[node].next;
    return node;
  }
  nodes_.push_back(Node{});
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void MacLearning::IndexInsert(uint32_t node, uint32_t hash) {
  const size_t mask = index_.size() - 1;
  size_t s = hash & mask;
  while (index_[s] != kNil) s = (s + 1) & mask;
  index_[s] = node;
}

void MacLearning::IndexErase(uint32_t node) {
  const size_t mask = index_.size() - 1;
  size_t hole = HashKey(nodes_[node].key) & mask;
  while (index_[hole] != node) hole = (hole + 1) & mask;
  index_[hole] = kNil;
  // Backward-shift deletion: pull later members of the probe run into the
  // hole unless that would put them before their home slot.
  for (size_t j = (hole + 1) & mask; index_[j] != kNil; j = (j + 1) & mask) {
    const size_t home = HashKey(nodes_[index_[j]].key) & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      index_[hole] = index_[j];
      index_[j] = kNil;
      hole = j;
    }
  }
}

void MacLearning::IndexGrow() {
  index_.assign(index_.size() * 2, kNil);
  for (const List* list : {&lru_, &statics_}) {
    for (uint32_t i = list->head; i != kNil; i = nodes_[i].next) {
      IndexInsert(i, HashKey(nodes_[i].key));
    }
  }
}

void MacLearning::ListPushBack(List& list, uint32_t node) {
  Node& n = nodes_[node];
  n.prev = list.tail;
  n.next = kNil;
  if (list.tail != kNil) {
    nodes_[list.tail].next = node;
  } else {
    list.head = node;
  }
  list.tail = node;
  ++list.size;
}

void MacLearning::ListUnlink(List& list, uint32_t node) {
  Node& n = nodes_[node];
  if (n.prev != kNil) {
    nodes_[n.prev].next = n.next;
  } else {
    list.head = n.next;
  }
  if (n.next != kNil) {
    nodes_[n.next].prev = n.prev;
  } else {
    list.tail = n.prev;
  }
  n.prev = n.next = kNil;
  --list.size;
}

void MacLearning::RemoveNode(uint32_t node) {
  IndexErase(node);
  ListUnlink(nodes_[node].is_static ? statics_ : lru_, node);
  nodes_[node].next = free_head_;
  free_head_ = node;
}

uint32_t MacLearning::InsertNode(uint64_t key, uint32_t hash, uint32_t port, bool is_static,
                                 uint64_t stamp_ms) {
  if ((lru_.size + statics_.size + 1) * 2 > index_.size()) IndexGrow();
  const uint32_t node = AllocNode();
  Node& n = nodes_[node];
  n.key = key;
  n.stamp_ms = stamp_ms;
  n.port = port;
  n.is_static = is_static;
  ListPushBack(is_static ? statics_ : lru_, node);
  IndexInsert(node, hash);
  return node;
}

bool MacLearning::IsDead(const Node& n, uint64_t now_ms) const {
  if (n.is_static) return false;
  const uint64_t age = now_ms > n.stamp_ms ? now_ms - n.stamp_ms : 0;
  return age >= aging_ms_;
}

bool MacLearning::MakeRoom(size_t limit) {
  if (statics_.size >= limit) return false;  // evicting dynamics would not help
  bool evicted = false;
  while (lru_.size + statics_.size >= limit) {
    RemoveNode(lru_.head);
    evicted = true;
  }
  if (evicted) Bump();
  return true;
}

template <typename Pred>
size_t MacLearning::RemoveIf(FlushStatic mode, Pred pred) {
  size_t removed = 0;
  auto sweep = [&](const List& list) {
    for (uint32_t i = list.head; i != kNil;) {
      const uint32_t next = nodes_[i].next;
      if (pred(nodes_[i])) {
        RemoveNode(i);
        ++removed;
      }
      i = next;
    }
  };
  sweep(lru_);
  if (mode == FlushStatic::kRemove) sweep(statics_);
  if (removed > 0) Bump();
  return removed;
}

// ---- Public operations ----------------------------------------------------

LearnResult MacLearning::Learn(const dp::EthAddr& mac, uint16_t vlan, uint32_t port,
                               uint64_t now_ms) {
  if (IsGroupAddr(mac) || vlan > kMaxVlan) return LearnResult::kIgnored;
  const uint64_t key = PackKey(mac, vlan);
  const uint32_t hash = HashKey(key);

  std::lock_guard lock(mu_);
  const uint32_t node = FindLocked(key, hash);
  if (node != kNil) {
    Node& n = nodes_[node];
    if (n.is_static) return LearnResult::kIgnored;
    const bool dead = IsDead(n, now_ms);
    const bool moved = n.port != port;
    ListUnlink(lru_, node);
    // Keep the LRU list sorted by stamp (invariant 4); see "Timestamps".
    n.stamp_ms = lru_.tail == kNil ? now_ms : std::max(now_ms, nodes_[lru_.tail].stamp_ms);
    n.port = port;
    ListPushBack(lru_, node);
    if (dead || moved) Bump();
    if (dead) return LearnResult::kNew;
    return moved ? LearnResult::kMoved : LearnResult::kRefreshed;
  }
  if (!MakeRoom(max_entries_)) return LearnResult::kIgnored;
  const uint64_t stamp = lru_.tail == kNil ? now_ms : std::max(now_ms, nodes_[lru_.tail].stamp_ms);
  InsertNode(key, hash, port, /*is_static=*/false, stamp);
  Bump();
  return LearnResult::kNew;
}

std::optional<uint32_t> MacLearning::Lookup(const dp::EthAddr& mac, uint16_t vlan,
                                            uint64_t now_ms) const {
  if (vlan > kMaxVlan) return std::nullopt;
  const uint64_t key = PackKey(mac, vlan);
  const uint32_t hash = HashKey(key);

  std::lock_guard lock(mu_);
  const uint32_t node = FindLocked(key, hash);
  if (node == kNil || IsDead(nodes_[node], now_ms)) return std::nullopt;
  return nodes_[node].port;
}

bool MacLearning::AddStatic(const dp::EthAddr& mac, uint16_t vlan, uint32_t port) {
  if (IsGroupAddr(mac) || vlan > kMaxVlan) return false;
  const uint64_t key = PackKey(mac, vlan);
  const uint32_t hash = HashKey(key);

  std::lock_guard lock(mu_);
  const uint32_t node = FindLocked(key, hash);
  if (node != kNil) {
    Node& n = nodes_[node];
    if (!n.is_static) {
      ListUnlink(lru_, node);
      n.is_static = true;
      ListPushBack(statics_, node);
    }
    n.port = port;
    n.stamp_ms = 0;
  } else {
    if (!MakeRoom(max_entries_)) return false;
    InsertNode(key, hash, port, /*is_static=*/true, 0);
  }
  Bump();
  return true;
}

bool MacLearning::Delete(const dp::EthAddr& mac, uint16_t vlan) {
  if (vlan > kMaxVlan) return false;
  const uint64_t key = PackKey(mac, vlan);
  const uint32_t hash = HashKey(key);

  std::lock_guard lock(mu_);
  const uint32_t node = FindLocked(key, hash);
  if (node == kNil) return false;
  RemoveNode(node);
  Bump();
  return true;
}

size_t MacLearning::Expire(uint64_t now_ms) {
  std::lock_guard lock(mu_);
  size_t removed = 0;
  // The LRU list is sorted by stamp, so the dead entries are a prefix of it.
  while (lru_.head != kNil && IsDead(nodes_[lru_.head], now_ms)) {
    RemoveNode(lru_.head);
    ++removed;
  }
  if (removed > 0) Bump();
  return removed;
}

void MacLearning::FlushPort(uint32_t port, FlushStatic mode) {
  std::lock_guard lock(mu_);
  RemoveIf(mode, [port](const Node& n) { return n.port == port; });
}

void MacLearning::FlushVlan(uint16_t vlan, FlushStatic mode) {
  std::lock_guard lock(mu_);
  RemoveIf(mode, [vlan](const Node& n) { return KeyVlan(n.key) == vlan; });
}

void MacLearning::Flush(FlushStatic mode) {
  std::lock_guard lock(mu_);
  RemoveIf(mode, [](const Node&) { return true; });
}

void MacLearning::set_aging(uint32_t aging_s) {
  std::lock_guard lock(mu_);
  aging_ms_ = uint64_t{aging_s} * 1000;
  Bump();
}

void MacLearning::set_max_entries(uint32_t max_entries) {
  std::lock_guard lock(mu_);
  max_entries_ = max_entries;
  bool evicted = false;
  while (lru_.size + statics_.size > max_entries && lru_.head != kNil) {
    RemoveNode(lru_.head);
    evicted = true;
  }
  if (evicted) Bump();
}

uint32_t MacLearning::aging() const {
  std::lock_guard lock(mu_);
  return static_cast<uint32_t>(aging_ms_ / 1000);
}

uint32_t MacLearning::max_entries() const {
  std::lock_guard lock(mu_);
  return max_entries_;
}

size_t MacLearning::size() const {
  std::lock_guard lock(mu_);
  return lru_.size + statics_.size;
}

std::vector<MacLearning::Entry> MacLearning::Dump(uint64_t now_ms) const {
  struct Raw {
    uint64_t key;
    uint32_t port;
    bool is_static;
    uint64_t age_ms;
  };
  std::vector<Raw> raw;
  {
    std::lock_guard lock(mu_);
    raw.reserve(lru_.size + statics_.size);
    for (uint32_t i = statics_.head; i != kNil; i = nodes_[i].next) {
      raw.push_back({nodes_[i].key, nodes_[i].port, true, 0});
    }
    for (uint32_t i = lru_.head; i != kNil; i = nodes_[i].next) {
      const Node& n = nodes_[i];
      if (IsDead(n, now_ms)) continue;
      raw.push_back({n.key, n.port, false, now_ms > n.stamp_ms ? now_ms - n.stamp_ms : 0});
    }
  }
  std::sort(raw.begin(), raw.end(), [](const Raw& a, const Raw& b) { return a.key < b.key; });
  std::vector<Entry> out;
  out.reserve(raw.size());
  for (const Raw& r : raw) {
    out.push_back({KeyMac(r.key), KeyVlan(r.key), r.port, r.is_static, r.age_ms});
  }
  return out;
}

std::string MacLearning::CheckInvariants() const {
  std::lock_guard lock(mu_);
  const size_t n_live = lru_.size + statics_.size;
  std::vector<char> live(nodes_.size(), 0);

  // Invariants 1, 4, 5.
  for (const List* list : {&lru_, &statics_}) {
    const bool want_static = list == &statics_;
    const char* name = want_static ? "static list" : "LRU list";
    size_t count = 0;
    uint32_t prev = kNil;
    for (uint32_t i = list->head; i != kNil; i = nodes_[i].next) {
      if (i >= nodes_.size()) return std::string(name) + ": node index out of range";
      if (live[i]) return std::string(name) + ": node linked twice (or a cycle)";
      live[i] = 1;
      const Node& n = nodes_[i];
      if (n.prev != prev) return std::string(name) + ": prev link mismatch";
      if (n.is_static != want_static) return std::string(name) + ": wrong kind of entry";
      if (FindLocked(n.key, HashKey(n.key)) != i) {
        return std::string(name) + ": entry not found through the index under its key";
      }
      if (KeyVlan(n.key) > kMaxVlan) return "entry with VLAN above 4095";
      if (IsGroupAddr(KeyMac(n.key))) return "entry with a multicast MAC";
      if (!want_static && prev != kNil && nodes_[prev].stamp_ms > n.stamp_ms) {
        return "LRU list stamps decrease at node " + std::to_string(i);
      }
      prev = i;
      ++count;
    }
    if (prev != list->tail) return std::string(name) + ": tail mismatch";
    if (count != list->size) {
      return std::string(name) + ": size " + std::to_string(list->size) + " but " +
             std::to_string(count) + " linked";
    }
  }

  // Invariant 2.
  const size_t mask = index_.size() - 1;
  if (index_.empty() || (index_.size() & mask) != 0) return "index size not a power of two";
  size_t occupied = 0;
  for (size_t s = 0; s < index_.size(); ++s) {
    const uint32_t node = index_[s];
    if (node == kNil) continue;
    ++occupied;
    if (node >= nodes_.size() || !live[node]) return "index slot points at a free node";
    for (size_t h = HashKey(nodes_[node].key) & mask; h != s; h = (h + 1) & mask) {
      if (index_[h] == kNil) return "index slot unreachable from its home slot";
    }
  }
  if (occupied != n_live) {
    return "index holds " + std::to_string(occupied) + " entries, lists " + std::to_string(n_live);
  }
  if (occupied * 2 > index_.size()) return "index more than half full";

  // Invariant 3.
  if (n_live > max_entries_ && lru_.size != 0) {
    return "size " + std::to_string(n_live) + " exceeds max_entries " +
           std::to_string(max_entries_) + " with dynamic entries present";
  }

  // Invariant 6.
  size_t n_free = 0;
  for (uint32_t i = free_head_; i != kNil; i = nodes_[i].next) {
    if (i >= nodes_.size() || live[i]) return "free list holds a live node (or is corrupt)";
    if (++n_free > nodes_.size()) return "free list has a cycle";
  }
  if (n_free + n_live != nodes_.size()) return "slab nodes leaked";
  return "";
}

}  // namespace sluice::ofproto
