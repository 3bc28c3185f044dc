#pragma once
// What: DatapathOffload, hardware flow offload wired into the datapath: the
// dp::OffloadHook the Datapath keeps in step with its ports and megaflows,
// implemented with the OffloadManager (offload_thread.h) over a backend
// that sends each rule to the device that owns its port: an attached
// software eSwitch (EswitchBackend) or the real rte_flow API
// (RteFlowBackend, which on machines without an rte_flow NIC refuses with
// refused_by_device, so those megaflows stay in software).
//
// Design:
//   - Ports: PortAdded describes each datapath port for translation
//     (OffloadPort): a port whose ethdev is an attached eSwitch's proxy
//     (the uplink, or a unified VF by its source id) or representor takes
//     the eSwitch's PortInfo; any other ethdev is described from
//     rte_eth_dev_info's switch info (a port outside every switch domain
//     gets a domain of its own, so full offload to or from it is refused as
//     cross_domain_output) and rte_flow_pick_transfer_proxy.
//   - Megaflows: FlowPut/FlowDel queue requests for the manager's worker
//     (the calls come with the Datapath's mutex held and never call back).
//     The worker reports partial offload's MARK ids to the Datapath
//     (Datapath::MarkSet) and clears them (Datapath::MarkClear, which waits
//     for every PMD) before destroying a partial rule; a freed id is reused
//     only after that (offload_thread.h).
//   - Counters: full offload's counts come back as deltas for the
//     Datapath's statistics; partial rules' counts are not handed out
//     (their packets reach the PMD and are counted by software), but show
//     in Get()'s hw_packets.
//   - DispatchBackend routes by the ethdev a rule or handle lives on.
//
// Invariants:
//   1. Every rule the worker created is destroyed by Del, a modify, or the
//      destructor (OffloadManager's invariant 2).
//   2. A MARK id is in a PMD's mark table only while its partial rule
//      exists and its megaflow is installed on that PMD.
//   3. No method of this class is called by the Datapath with a lock of this
//      class held by the worker while it calls the Datapath (the worker
//      calls the Datapath with no lock of ours held).
//
// Thread-safety: the hook methods from the Datapath's callers; Stats/Get/
// WaitIdle/AttachEswitch from any thread. Attach eSwitches before their
// ports are added (or re-announce them with Datapath::SetOffload).
//
// Memory: the manager's per-flow state (~250 B + actions), a port map entry
// per datapath port.
//
// Lifetime: the Datapath must outlive this object's worker: detach it
// (Datapath::SetOffload(nullptr)) and Stop() it, or destroy the Datapath
// (which drops its reference) before destroying whatever it points to.

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "datapath/dpif/datapath.h"
#include "datapath/dpif/offload_hook.h"
#include "offload/eswitch.h"
#include "offload/flow_backend.h"
#include "offload/offload_thread.h"

namespace sluice::offload {

// A FlowBackend that hands each operation to the backend owning the ethdev
// the rule is created on (rule.port_id; for transfer rules the proxy) or
// the handle lives on: an attached eSwitch's, else the real rte_flow one.
class DispatchBackend final : public FlowBackend {
 public:
  const char* name() const override { return "dispatch"; }
  BackendStatus Validate(const RteFlowRule& rule) override;
  BackendStatus Create(const RteFlowRule& rule, FlowHandle* handle) override;
  BackendStatus Destroy(const FlowHandle& handle) override;
  BackendStatus QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) override;

  void Attach(Eswitch* esw);
  // The eSwitch owning `ethdev` (its proxy or a representor), or nullptr.
  Eswitch* EswitchOf(uint16_t ethdev) const;

 private:
  FlowBackend* For(uint16_t ethdev);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<EswitchBackend>> eswitch_backends_;
  std::unordered_map<uint16_t, std::pair<Eswitch*, EswitchBackend*>> owner_;  // by ethdev
  RteFlowBackend rte_flow_;
};

class DatapathOffload final : public dp::OffloadHook {
 public:
  DatapathOffload(dp::Datapath* dp, const OffloadOptions& options);
  ~DatapathOffload() override;
  DatapathOffload(const DatapathOffload&) = delete;
  DatapathOffload& operator=(const DatapathOffload&) = delete;

  void AttachEswitch(Eswitch* esw);

  void Start();
  void Stop();
  // Synchronous mode (no thread): applies queued requests on this thread.
  size_t ProcessRequests(size_t max = SIZE_MAX);
  // Reads every rule's counters now (otherwise every counter_interval_ms).
  void QueryCounters();
  // With the thread running: returns once every request queued so far is applied.
  void WaitIdle();

  OffloadStats Stats() const;
  bool Get(const dp::Ufid& ufid, FlowOffloadInfo* info) const;
  // How translation sees a datapath port. False: not announced.
  bool PortOf(uint32_t port_no, OffloadPort* out) const;

  // dp::OffloadHook
  void FlowPut(const dp::Ufid& ufid, const dp::FlowKey& masked_key, const dp::FlowMask& mask,
               const dp::DpActionsPtr& actions) override;
  void FlowDel(const dp::Ufid& ufid) override;
  void PortAdded(uint32_t port_no, const dp::PortConfig& config, uint16_t ethdev_port_id) override;
  void PortDeleted(uint32_t port_no) override;
  void TakeCounterDeltas(std::vector<dp::HwCounterDelta>* out) override;
  uint32_t CounterIntervalMs() const override { return options_.counter_interval_ms; }

 private:
  struct Known {
    dp::PortConfig config;
    uint16_t ethdev = 0;
  };
  // False when the port cannot be described (a unified VF whose source id
  // its eSwitch does not know).
  bool Describe(const Known& k, OffloadPort* out) const;
  void PublishLocked();
  void RetryDels();

  dp::Datapath* dp_;
  OffloadOptions options_;
  mutable std::mutex mu_;  // known_, ports_, retry_dels_
  std::map<uint32_t, Known> known_;
  std::vector<dp::Ufid> retry_dels_;  // deletes the full queue refused
  std::map<uint32_t, OffloadPort> ports_;
  std::unique_ptr<DispatchBackend> backend_;
  std::unique_ptr<OffloadManager> mgr_;  // after backend_: destroyed first
};

}  // namespace sluice::offload
