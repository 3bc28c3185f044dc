#pragma once
// What: the MAC learning table (forwarding database, "fdb") behind the
// OpenFlow NORMAL action. xlate learns "source MAC m on VLAN v arrived on
// port p" from every packet NORMAL handles and asks where a destination MAC
// lives; a miss means flood. `sluicectl fdb/show` dumps it, `fdb/add` and
// `fdb/del` edit static entries.
//
// Design:
//   - An entry is keyed by (vlan, mac) packed into one 64-bit word:
//     vlan << 48 | mac (the 6 address bytes, big-endian). Sorting by the key
//     therefore sorts by (vlan, mac), which is the order Dump() prints.
//     The same MAC on two VLANs is two independent entries.
//   - Entries live in a slab (a vector of nodes addressed by 32-bit index,
//     with a free list); an open-addressing hash index (linear probing,
//     backward-shift deletion, at most half full) maps a key to its node.
//     The key's hash is computed before the lock is taken.
//   - Dynamic (learned) entries are on an index-linked LRU list, least
//     recently learned or refreshed at the head. Learn() moves its entry to
//     the tail; a Learn() of a new key into a full table evicts the head.
//     Expire() pops from the head while the head has aged out. Every
//     operation except the whole-table scans (FlushPort, FlushVlan, Flush,
//     Dump) is O(1) amortised (O(k) for Expire removing k entries).
//   - Static entries (AddStatic, like `ovs-appctl fdb/add`) are on a second
//     list. They never age, are never evicted, and learning never moves them.
//   - Aging: a dynamic entry last learned at t is alive at time `now` while
//     now - t < aging_ms (saturating at 0 when now < t), i.e. it dies at
//     t + aging_ms. Lookup() and Dump() hide a dead entry even before Expire()
//     removes it, so answers do not depend on how often Expire() runs; a
//     Learn() of a dead entry behaves as if it were absent (kNew).
//   - Timestamps. Several handler threads read the clock and then race for
//     the lock, so now_ms may arrive slightly out of order. A Learn() whose
//     now_ms is older than the newest stamp on the LRU list is stamped with
//     that newest stamp instead: the list then stays sorted by stamp
//     (invariant 4), which is what lets Expire() stop at the first live entry.
//     The error is bounded by the threads' skew (microseconds).
//   - Generation. generation() changes whenever a Lookup() answer may change
//     other than by silent aging: an entry added, moved to another port or
//     removed (evicted, expired, flushed, deleted), a static entry set, or the
//     aging time changed. A refresh (same port) does not change it. The
//     revalidator reads it before translating and compares afterwards: a
//     change means megaflows that used NORMAL may be stale. An entry that
//     ages out is seen by the generation when Expire() removes it, so call
//     Expire() periodically (as Open vSwitch's mac_learning_run does).
//   - Source MACs with the group bit set (bit 0 of the first byte: multicast
//     and broadcast) are never learned, and VLAN ids above 4095 are refused.
//
// Invariants (CheckInvariants() verifies 1-6):
//   1. Every node on the LRU list is dynamic and every node on the static
//      list is static; the two lists are well linked (prev/next agree) and
//      together hold exactly size() nodes, each findable through the index
//      under its own key, and no key appears twice.
//   2. The index holds exactly size() occupied slots, is at most half full,
//      and every occupied slot is reachable from its key's home slot by
//      linear probing without crossing an empty slot.
//   3. size() <= max_entries, or there are no dynamic entries (static entries
//      alone may exceed a lowered max_entries; they are never evicted).
//   4. Stamps along the LRU list, head to tail, never decrease.
//   5. No stored entry has a multicast MAC or a VLAN id above 4095.
//   6. The free list plus the live nodes account for every slab node.
//   7. generation() never decreases.
//
// Thread-safety: all methods may be called concurrently from any threads
// (the upcall handlers learn and look up at once; the revalidator and
// management threads expire, flush and dump). One std::mutex, held only for
// the few loads and stores of each operation: key packing and hashing happen
// before it is taken, and Dump() sorts after releasing it. generation() is
// an atomic load without the lock (written with release order under the
// lock, read with acquire order).
//
// Memory: a node is 32 bytes and an index slot 4; the slab grows to the
// high-water mark of entries (at most max_entries plus static entries) and
// the index to a power of two at least twice that, neither shrinks. Steady
// state Learn/Lookup/Expire allocate nothing; Dump() returns a vector.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "datapath/flow/flow_key.h"

namespace sluice::ofproto {

struct MacLearningOptions {
  uint32_t max_entries = 8192;  // dynamic + static entries before eviction
  uint32_t aging_s = 300;       // idle time before a dynamic entry dies
};

enum class LearnResult {
  kNew,        // the entry did not exist (or had aged out): now it does
  kMoved,      // the MAC was on another port: the entry now points at `port`
  kRefreshed,  // same port: only the timestamp (and LRU position) changed
  kIgnored,    // nothing changed: multicast source, VLAN > 4095, static entry,
               // or a full table with nothing evictable
};

// Which entries the Flush* family removes.
enum class FlushStatic {
  kKeep,    // dynamic entries only (a port going down, a VLAN reconfigured)
  kRemove,  // static ones too (a port deleted, `fdb/flush` of everything)
};

class MacLearning {
 public:
  static constexpr uint16_t kMaxVlan = 4095;

  struct Entry {
    dp::EthAddr mac;
    uint16_t vlan;
    uint32_t port;
    bool is_static;
    uint64_t age_ms;  // now_ms - last learned; 0 for static entries
  };

  explicit MacLearning(MacLearningOptions options = {});
  MacLearning(const MacLearning&) = delete;
  MacLearning& operator=(const MacLearning&) = delete;

  // Learns that `mac` on `vlan` (0 = untagged/native, 1..4095) is reachable
  // through `port` at time now_ms. See LearnResult.
  LearnResult Learn(const dp::EthAddr& mac, uint16_t vlan, uint32_t port, uint64_t now_ms);

  // The port for (mac, vlan) if known and, for a dynamic entry, alive at
  // now_ms. Does not refresh the entry.
  std::optional<uint32_t> Lookup(const dp::EthAddr& mac, uint16_t vlan, uint64_t now_ms) const;

  // Sets a static entry (creating it, converting a dynamic one, or changing
  // its port). Evicts the LRU dynamic entry if the table is full. Returns
  // false, changing nothing, for a multicast MAC, a VLAN above 4095, or a
  // full table with no dynamic entry to evict.
  bool AddStatic(const dp::EthAddr& mac, uint16_t vlan, uint32_t port);

  // Removes the entry for (mac, vlan), static or dynamic (`fdb/del`).
  // Returns whether there was one.
  bool Delete(const dp::EthAddr& mac, uint16_t vlan);

  // Removes dynamic entries that have aged out at now_ms. Returns how many.
  size_t Expire(uint64_t now_ms);

  void FlushPort(uint32_t port, FlushStatic mode = FlushStatic::kKeep);
  void FlushVlan(uint16_t vlan, FlushStatic mode = FlushStatic::kKeep);
  void Flush(FlushStatic mode = FlushStatic::kKeep);

  void set_aging(uint32_t aging_s);
  // Lowering the limit below size() evicts dynamic entries, LRU first.
  void set_max_entries(uint32_t max_entries);
  uint32_t aging() const;
  uint32_t max_entries() const;

  // Entries stored, static and dynamic, including dynamic entries that have
  // aged out but not yet been removed by Expire().
  size_t size() const;

  // Live entries at now_ms (aged-out ones are left out), sorted by
  // (vlan, mac). For `sluicectl fdb/show`.
  std::vector<Entry> Dump(uint64_t now_ms) const;

  // See "Generation" above.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Checks invariants 1-6; returns "" when they hold, else what is wrong.
  // O(size()). For tests.
  std::string CheckInvariants() const;

 private:
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Node {
    uint64_t key;
    uint64_t stamp_ms;  // last learned/refreshed (dynamic only)
    uint32_t port;
    uint32_t prev;  // on the LRU or static list; kNil at the ends
    uint32_t next;  // also links the free list
    bool is_static;
  };
  static_assert(sizeof(Node) == 32);

  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
    size_t size = 0;
  };

  // All private helpers below require mu_ held.
  uint32_t FindLocked(uint64_t key, uint32_t hash) const;
  uint32_t AllocNode();
  void IndexInsert(uint32_t node, uint32_t hash);
  void IndexErase(uint32_t node);
  void IndexGrow();
  void ListPushBack(List& list, uint32_t node);
  void ListUnlink(List& list, uint32_t node);
  // Unlinks, unindexes and frees `node`.
  void RemoveNode(uint32_t node);
  // Inserts a new node; the caller has made room.
  uint32_t InsertNode(uint64_t key, uint32_t hash, uint32_t port, bool is_static,
                      uint64_t stamp_ms);
  bool IsDead(const Node& n, uint64_t now_ms) const;
  // Evicts LRU entries until size() < limit or no dynamic entry is left.
  // Returns whether size() < limit.
  bool MakeRoom(size_t limit);
  template <typename Pred>
  size_t RemoveIf(FlushStatic mode, Pred pred);
  void Bump() {
    generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  mutable std::mutex mu_;
  uint32_t max_entries_;         // guarded by mu_
  uint64_t aging_ms_;            // guarded by mu_
  std::vector<Node> nodes_;      // slab; guarded by mu_
  uint32_t free_head_ = kNil;    // free list through Node::next; guarded by mu_
  std::vector<uint32_t> index_;  // node index or kNil; size a power of 2; guarded by mu_
  List lru_;                     // dynamic entries, oldest first; guarded by mu_
  List statics_;                 // static entries; guarded by mu_
  // Written (incremented) only under mu_; read by anyone without it.
  std::atomic<uint64_t> generation_{0};
};

}  // namespace sluice::ofproto
