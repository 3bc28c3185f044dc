#include "ofproto/group_table.h"

#include <fmt/format.h>

namespace sluice::ofproto {

namespace {
constexpr uint32_t kGroupMax = 0xffffff00;
constexpr int kMaxChain = 32;
}  // namespace

Group Group::Snapshot() const {
  Group g = *this;
  if (counters) {
    g.packets = counters->packets.load(std::memory_order_relaxed);
    g.bytes = counters->bytes.load(std::memory_order_relaxed);
    for (size_t i = 0; i < g.buckets.size() && i < counters->bucket_packets.size(); ++i) {
      g.buckets[i].packets = counters->bucket_packets[i].load(std::memory_order_relaxed);
      g.buckets[i].bytes = counters->bucket_bytes[i].load(std::memory_order_relaxed);
    }
  }
  return g;
}

const Group* GroupTable::Find(uint32_t id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second;
}

Group* GroupTable::FindMutable(uint32_t id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second;
}

bool GroupTable::Reaches(uint32_t from, uint32_t target, int depth) const {
  if (depth > kMaxChain) return true;  // treat absurd chains as loops
  const Group* g = Find(from);
  if (!g) return false;
  for (const auto& b : g->buckets) {
    for (const auto& a : b.actions) {
      if (a.type != OfActionType::kGroup) continue;
      if (a.group_id == target || Reaches(a.group_id, target, depth + 1)) return true;
    }
  }
  return false;
}

OfpResult GroupTable::Apply(const GroupMod& gm, uint64_t now_ms, std::vector<uint32_t>* deleted) {
  if (gm.command == GroupMod::Command::kDelete) {
    if (gm.group_id == kGroupAny) {
      for (const auto& [id, g] : groups_) deleted->push_back(id);
      groups_.clear();
    } else if (groups_.erase(gm.group_id)) {
      deleted->push_back(gm.group_id);
    }
    ++version_;
    return std::nullopt;  // deleting a missing group is not an error
  }
  if (gm.group_id > kGroupMax) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupInvalid,
                     fmt::format("group id {:#x} is reserved", gm.group_id));
  }
  if (static_cast<uint8_t>(gm.type) > 3) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupBadType, "unknown group type");
  }
  if (gm.type == GroupType::kIndirect && gm.buckets.size() != 1) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupBadBucket,
                     "an indirect group has exactly one bucket");
  }
  for (const auto& b : gm.buckets) {
    if (gm.type == GroupType::kFastFailover && b.watch_port == kPortAny &&
        b.watch_group == kGroupAny) {
      return MakeError(ofperr::kGroupModFailed, ofperr::kGroupBadWatch,
                       "a fast-failover bucket needs a watch port or group");
    }
    for (const auto& a : b.actions) {
      if (a.type == OfActionType::kGroup) {
        if (!Find(a.group_id) && a.group_id != gm.group_id) {
          return MakeError(ofperr::kGroupModFailed, ofperr::kGroupInvalid,
                           fmt::format("bucket chains to unknown group {}", a.group_id));
        }
        if (a.group_id == gm.group_id || Reaches(a.group_id, gm.group_id, 0)) {
          return MakeError(ofperr::kGroupModFailed, ofperr::kGroupLoop,
                           fmt::format("group {} would reach itself", gm.group_id));
        }
      }
    }
  }
  bool exists = groups_.count(gm.group_id) > 0;
  if (gm.command == GroupMod::Command::kAdd && exists) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupExists,
                     fmt::format("group {} exists", gm.group_id));
  }
  if (gm.command == GroupMod::Command::kModify && !exists) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupUnknown,
                     fmt::format("no group {}", gm.group_id));
  }
  Group g;
  g.id = gm.group_id;
  g.type = gm.type;
  g.buckets = gm.buckets;
  g.created_ms = exists ? groups_[gm.group_id].created_ms : now_ms;
  // OpenFlow: a modified group's counters carry on for the group; its
  // buckets are new, so theirs start from zero.
  g.counters = std::make_shared<GroupCounters>(g.buckets.size());
  if (exists && groups_[gm.group_id].counters) {
    g.counters->packets = groups_[gm.group_id].counters->packets.load();
    g.counters->bytes = groups_[gm.group_id].counters->bytes.load();
  }
  groups_[gm.group_id] = std::move(g);
  ++version_;
  return std::nullopt;
}

}  // namespace sluice::ofproto
