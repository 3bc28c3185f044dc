#pragma once
// What: OpenFlow groups (all, select, indirect, fast-failover) of a bridge.
//
// Design: a map from group id to an immutable Group value; group-mods
// replace whole values, so translation can copy what it reads. Chaining
// (a bucket that outputs to another group) is allowed, loops are refused at
// group-mod time (a group may not reach itself).
//
// Thread-safety: not thread-safe; the Ofproto serialises access.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "ofproto/of_actions.h"
#include "ofproto/of_error.h"

namespace sluice::ofproto {

enum class GroupType : uint8_t { kAll = 0, kSelect = 1, kIndirect = 2, kFastFailover = 3 };

struct Bucket {
  uint16_t weight = 0;              // select
  uint32_t watch_port = kPortAny;   // fast-failover
  uint32_t watch_group = kGroupAny; // fast-failover
  OfActionList actions;
  // Counters (bucket statistics).
  uint64_t packets = 0, bytes = 0;
  bool operator==(const Bucket& o) const {
    return weight == o.weight && watch_port == o.watch_port && watch_group == o.watch_group &&
           actions == o.actions;
  }
};

// A group's counters, shared by every copy of its Group value and credited
// by the revalidator (relaxed atomics; readers may see a pass half done).
struct GroupCounters {
  explicit GroupCounters(size_t n_buckets) : bucket_packets(n_buckets), bucket_bytes(n_buckets) {}
  std::atomic<uint64_t> packets{0}, bytes{0};
  std::vector<std::atomic<uint64_t>> bucket_packets, bucket_bytes;
  void Add(int bucket, uint64_t p, uint64_t b) {
    packets.fetch_add(p, std::memory_order_relaxed);
    bytes.fetch_add(b, std::memory_order_relaxed);
    if (bucket >= 0 && static_cast<size_t>(bucket) < bucket_packets.size()) {
      bucket_packets[bucket].fetch_add(p, std::memory_order_relaxed);
      bucket_bytes[bucket].fetch_add(b, std::memory_order_relaxed);
    }
  }
};

struct Group {
  uint32_t id = 0;
  GroupType type = GroupType::kAll;
  std::vector<Bucket> buckets;
  uint64_t packets = 0, bytes = 0, created_ms = 0;  // a snapshot, see Snapshot()
  std::shared_ptr<GroupCounters> counters;

  // A copy with packets/bytes (group and buckets) filled from the counters.
  Group Snapshot() const;
};

struct GroupMod {
  enum class Command : uint8_t { kAdd = 0, kModify = 1, kDelete = 2 };
  Command command = Command::kAdd;
  GroupType type = GroupType::kAll;
  uint32_t group_id = 0;
  std::vector<Bucket> buckets;
};

class GroupTable {
 public:
  // Applies a group-mod; on delete, *deleted gets the ids removed (kGroupAny
  // deletes all).
  OfpResult Apply(const GroupMod& gm, uint64_t now_ms, std::vector<uint32_t>* deleted);
  const Group* Find(uint32_t id) const;
  const std::map<uint32_t, Group>& groups() const { return groups_; }
  Group* FindMutable(uint32_t id);
  uint64_t version() const { return version_; }

 private:
  bool Reaches(uint32_t from, uint32_t target, int depth) const;
  std::map<uint32_t, Group> groups_;
  uint64_t version_ = 0;
};

}  // namespace sluice::ofproto
