#pragma once
// What: OffloadHook, the datapath's side of hardware flow offload: the
// interface through which the Datapath tells an offload provider (the
// `offload` library's DatapathOffload, one layer up) which megaflows and
// ports exist, and takes the hardware's packet counters back.
//
// Design: the datapath must not include offload headers (offload depends on
// the datapath), so the Datapath calls this interface and offload/
// implements it. The Datapath keeps the hook in step with its megaflow
// tables (one Put per ufid when it first appears or its actions change, one
// Del when its last PMD copy goes, whatever PMD set holds it) and with its
// ports; it folds TakeCounterDeltas() into the statistics it reports. What
// travels the other way (a partial offload's MARK id for a megaflow) goes
// through Datapath::MarkSet / MarkClear, called from the provider's own
// thread.
//
// Invariants:
//   1. Calls arrive with the Datapath's mutex held: an implementation only
//      queues work (or reads its own state) and never calls back into the
//      Datapath synchronously from these methods.
//   2. For each ufid, Put and Del alternate as the Datapath sees the flow
//      appear and go; a Put for a ufid already Put means new actions.
//   3. A port is announced (PortAdded) before any megaflow naming it is Put,
//      and PortDeleted comes after the port left every PMD's configuration.
//
// Thread-safety: called by whatever thread calls the Datapath (handlers,
// revalidators, the controller), one call at a time per Datapath.
//
// Memory: nothing here; the implementation owns its state.

#include <cstdint>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/flow/flow_key.h"
#include "datapath/port/port.h"

namespace sluice::dp {

// Packets and bytes the hardware counted for one megaflow since the last
// TakeCounterDeltas(), not counted by software (a partial offload's packets
// reach the PMD and are counted there, so they are not in here).
struct HwCounterDelta {
  Ufid ufid;
  uint64_t packets = 0, bytes = 0;
};

class OffloadHook {
 public:
  virtual ~OffloadHook() = default;
  // `masked_key` is masked by `mask`; `actions` are the megaflow's.
  virtual void FlowPut(const Ufid& ufid, const FlowKey& masked_key, const FlowMask& mask,
                       const DpActionsPtr& actions) = 0;
  virtual void FlowDel(const Ufid& ufid) = 0;
  // `ethdev_port_id`: the ethdev the port's traffic uses (for a unified
  // representor VF, which has none of its own, the proxy's).
  virtual void PortAdded(uint32_t port_no, const PortConfig& config, uint16_t ethdev_port_id) = 0;
  virtual void PortDeleted(uint32_t port_no) = 0;
  // Appends (and forgets) the deltas gathered since the last call.
  virtual void TakeCounterDeltas(std::vector<HwCounterDelta>* out) = 0;
  // How often the provider reads the hardware counters. A megaflow just Put
  // is reported as used for two intervals, so that the revalidator does not
  // expire it for lack of software hits before its counters were read.
  virtual uint32_t CounterIntervalMs() const { return 1000; }
};

}  // namespace sluice::dp
