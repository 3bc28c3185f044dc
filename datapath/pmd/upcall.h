#pragma once
// What: Upcall, a packet the PMD hands to the slow path: a miss (no megaflow
// matched) or a userspace action (e.g. OpenFlow CONTROLLER).
//
// Design: a plain value copied into the PMD's bounded upcall ring (no
// allocation). The packet travels with it; whoever pops the upcall owns the
// mbuf and must free it or give it back to a PMD for execution.

#include <cstdint>

#include "datapath/flow/flow_key.h"
#include "datapath/flow/parse.h"

struct rte_mbuf;

namespace sluice::dp {

enum class UpcallType : uint8_t { kMiss, kUserspace };

struct Upcall {
  FlowKey key;
  rte_mbuf* packet = nullptr;
  PacketLayout layout;
  UpcallType type = UpcallType::kMiss;
  uint16_t pmd_index = 0;
  uint64_t cookie = 0;  // kUserspace: the action's cookie
};

}  // namespace sluice::dp
