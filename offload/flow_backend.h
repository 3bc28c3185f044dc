#pragma once
// What: FlowBackend, where translated rules go: validate, create, destroy and
// query the COUNT of rte_flow rules. Two implementations:
//   - RteFlowBackend: the real rte_flow_* calls on an ethdev; transfer rules
//     go to rte_flow_pick_transfer_proxy() of the rule's port.
//   - EswitchBackend (eswitch.h): the same calls into the software eSwitch.
//
// Design: one virtual call per rule operation, on the offload thread only
// (never on a PMD), so the interface costs nothing on the fast path. Every
// failure comes back as a negative errno plus the Reason the offload layer
// records: ENOSPC -> table_full; ENOTSUP/EINVAL/ENOSYS/EPERM from validate or
// create -> refused_by_device; anything else -> device_error.
//
// Invariants:
//   1. A handle returned by Create is valid until Destroy(handle) succeeds or
//      the backend dies; Destroy of an unknown handle is an error, not a crash.
//   2. QueryCount returns counters since creation (or since the last query
//      with reset), never negative deltas.
//
// Thread-safety: a backend instance is used by one thread (the offload
// thread); RteFlowBackend is as thread-safe as the PMD's rte_flow ops.

#include <rte_flow.h>

#include <cstdint>
#include <string>

#include "offload/flow_translate.h"

namespace sluice::offload {

struct FlowHandle {
  uint16_t port_id = 0;  // the ethdev the rule lives on (the proxy for transfer)
  void* flow = nullptr;  // rte_flow* or the eSwitch's rule
  bool valid() const { return flow != nullptr; }
};

struct BackendStatus {
  int err = 0;  // 0 or a negative errno
  Reason reason = Reason::kOk;
  std::string message;
  bool ok() const { return err == 0; }
};

struct FlowCounters {
  uint64_t hits = 0;
  uint64_t bytes = 0;
};

// Maps a negative errno (and the device's message) to a BackendStatus.
BackendStatus BackendError(int err, const char* what, const rte_flow_error& error);

class FlowBackend {
 public:
  virtual ~FlowBackend() = default;
  virtual const char* name() const = 0;
  virtual BackendStatus Validate(const RteFlowRule& rule) = 0;
  virtual BackendStatus Create(const RteFlowRule& rule, FlowHandle* handle) = 0;
  virtual BackendStatus Destroy(const FlowHandle& handle) = 0;
  virtual BackendStatus QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) = 0;
};

class RteFlowBackend final : public FlowBackend {
 public:
  const char* name() const override { return "rte_flow"; }
  BackendStatus Validate(const RteFlowRule& rule) override;
  BackendStatus Create(const RteFlowRule& rule, FlowHandle* handle) override;
  BackendStatus Destroy(const FlowHandle& handle) override;
  BackendStatus QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) override;

  // Asks the port to deliver MARK/FLAG to the mbuf (must run before
  // rte_eth_dev_configure). Returns the features granted (0 when the driver
  // does not implement negotiation, which then means "delivered anyway").
  static uint64_t NegotiateRxMetadata(uint16_t port_id);

 private:
  // The port a rule must be created on: the transfer proxy for transfer rules.
  int RulePort(const RteFlowRule& rule, uint16_t* port, rte_flow_error* error);
};

}  // namespace sluice::offload
