#pragma once
// What: Megaflow, one installed datapath flow (match + mask -> actions) as a
// PMD sees it, with its statistics.
//
// Design: every PMD has its own Megaflow objects (a flow installed "on all
// PMDs" is one object per PMD), so the PMD writes statistics without atomics
// contention and owns the classifier links. The object is allocated and
// freed by the control side (the Datapath), which hands it to the PMD by a
// kInstall command and takes it back only after the PMD has removed it and
// its EMC can no longer reference it (see pmd.h, "Reclamation").
//
// Who writes what:
//   rule         - the PMD (dpcls and EMC links); nobody else touches it.
//   actions      - the PMD (kInstall, kModify); read by the PMD only.
//   stats        - the PMD, relaxed stores; read by anyone, relaxed loads.
//   mask, ufid, pmd_index - immutable after construction.
//   actions_ref, created_ms - the control side only (under Datapath's lock).
//   batch_slot   - the PMD, scratch during one burst.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "datapath/actions/dp_actions.h"
#include "datapath/dpcls/dpcls.h"
#include "datapath/flow/flow_key.h"

namespace sluice::dp {

struct MegaflowStats {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> used_ms{0};  // monotonic ms of the last hit, 0 = never
  std::atomic<uint16_t> tcp_flags{0};
};

struct Megaflow {
  DpclsRule rule;  // first: rule.key is the masked match
  FlowMask mask;
  Ufid ufid;
  const DpActions* actions = nullptr;
  MegaflowStats stats;
  int pmd_index = 0;
  uint32_t batch_slot = 0;  // 1 + index of this flow's batch in the current burst

  // Control side only.
  DpActionsPtr actions_ref;
  uint64_t created_ms = 0;

  const FlowKey& key() const { return rule.key; }
  static Megaflow* FromRule(DpclsRule* r) { return reinterpret_cast<Megaflow*>(r); }
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(Megaflow, rule) == 0, "FromRule relies on rule being first");
#pragma GCC diagnostic pop

// Relaxed increment of a counter that only one thread writes.
inline void CounterAdd(std::atomic<uint64_t>& c, uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace sluice::dp
