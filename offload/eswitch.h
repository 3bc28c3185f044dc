#pragma once
// What: Eswitch, a software model of a SmartNIC's embedded switch, for
// machines without an rte_flow-capable NIC: an uplink and N VFs ("vports"),
// the representors Sluice polls, and a rule table that EXECUTES the very
// rte_flow_attr / rte_flow_item / rte_flow_action arrays the real backend
// would hand to hardware. EswitchBackend plugs it into FlowBackend.
//
// Design:
//   Outside ends. Every vport (0 = uplink, 1..N = VFs) has two rte_rings: what
//   the wire/VM sends into the switch and what the switch delivers to it.
//   With `outside_ethdevs` each pair is also a net_ring ethdev (the VM's or
//   the wire's side, driven with rte_eth_tx/rx_burst); without (needed past
//   RTE_MAX_ETHPORTS = 32 in Debian's DPDK) tests use InjectFromOutside /
//   ReceiveOutside on the rings directly.
//   Sluice side. The proxy (the PF: transfer rules go there, it represents
//   the uplink) is a net_ring ethdev. Non-unified mode: each VF has its own
//   representor ethdev. Unified mode: only the proxy exists; missed traffic
//   of every vport arrives there with its source in the rte_flow metadata
//   dynamic field (rte_flow_dynf_metadata_register(), ol_flags
//   RTE_MBUF_DYNFLAG_RX_METADATA, value = the source's flow port id), and
//   Sluice sends to a VF by transmitting on the proxy with
//   RTE_MBUF_DYNFLAG_TX_METADATA and the destination's flow port id (no
//   metadata: to the uplink). mbuf->port is the receiving ethdev, as a
//   real PMD sets it.
//   Flow port ids (the REPRESENTED_PORT ids): the representor's ethdev id;
//   the uplink's is the proxy's. In unified mode VFs have no ethdev and get
//   kVirtualPortBase + vport (0x1000 + vport), outside the ethdev id space.
//   Wires (EswitchConfig::wire_devargs): a vport's outside end may also be a
//   real DPDK port the eSwitch probes, configures (1 rx / 1 tx queue) and
//   polls, so that another process (a test driving sluice-switchd) can reach
//   it; Poll() moves its rx into the switch and the vport's deliveries out.
//   Poll() is the hardware's step: a burst from every vport's outside ring
//   through the transfer table (first match by priority, then creation
//   order; miss -> the source's representor, or the proxy in unified
//   mode), then the ingress table of the ethdev a packet is delivered to
//   (MARK sets RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID and hash.fdir.hi,
//   FLAG RTE_MBUF_F_RX_FDIR), then what Sluice transmitted on representors
//   or the proxy goes straight to the represented vport (no rule lookup).
//   Validation follows DPDK 22.11's documentation: exactly one of
//   ingress/transfer (egress unsupported), group 0; transfer rules only on
//   the proxy, with a traffic source item (REPRESENTED_PORT or
//   PORT_REPRESENTOR; PORT_ID is refused as deprecated) and a fate action,
//   and never MARK/FLAG/QUEUE/RSS (ingress-only); ingress rules on a
//   Sluice-side ethdev, no source items, no header rewrites; a mask or last
//   without spec is EINVAL; `last` ranges are ENOTSUP; mask bits on fields
//   the model cannot match (e.g. IPv4 checksum) are ENOTSUP; items must be
//   stacked L2 -> VLAN(<= 2) -> L3 -> L4. Limits: table size (ENOSPC),
//   item/action types switched off per instance (ENOTSUP), max MARK id.
//   Faults: InjectFailure(op, errno, count) makes the next `count` calls of
//   op fail with errno.
//   Header rewrites are the model's own code (incremental checksum updates
//   by RFC 1624 over the changed words), not the datapath's, so comparing
//   their output with dp::ExecuteActions is a real cross-check.
//
// Invariants:
//   1. Every packet taken from a ring is delivered to exactly one ring or
//      freed (copies only for non-final outputs), and counted.
//   2. A rule's arrays are deep copies (RteFlowRule::CopyFrom): the caller
//      may free its arrays after FlowCreate, as with rte_flow_create.
//   3. Sluice-side cost does not grow with N in unified mode: one ethdev,
//      one rx ring, whatever the number of VFs.
//
// Thread-safety: one mutex guards rules, counters and stats; Poll() takes it
// per burst, the rte_flow calls per call. Poll() from one thread at a time
// (a test, or the thread StartThread() runs).
//
// Memory: per vport a small struct and two outside rings (ring_size slots,
// the VF's own queues); per VF in non-unified mode also a representor
// ethdev and its two rings. MemoryBytes() sums what this object allocated.

#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "datapath/util/status.h"
#include "offload/flow_backend.h"
#include "offload/flow_translate.h"

namespace sluice::offload {

inline constexpr uint16_t kNoEthdev = 0xffff;
inline constexpr uint16_t kVirtualPortBase = 0x1000;

struct EswitchConfig {
  uint16_t n_vfs = 2;
  bool unified = false;
  uint32_t max_rules = 4096;
  uint32_t max_mark = 0xffffff;
  std::vector<rte_flow_item_type> unsupported_items;
  std::vector<rte_flow_action_type> unsupported_actions;
  unsigned ring_size = 1024;         // slots of each outside ring (power of two)
  unsigned sluice_ring_size = 4096;  // slots of each Sluice-side ring (the proxy
                                     // must absorb a burst from every VF)
  bool outside_ethdevs = true;       // net_ring ethdevs for the outside ends
  bool start_ethdevs = true;         // configure+start the Sluice-side ethdevs (false
                                     // when Sluice's DpdkPort will open them)
  uint32_t domain_id = 1;
  rte_mempool* pool = nullptr;  // for rx queue setup when starting ethdevs
  // Per vport (index = vport; shorter or "" = none): devargs of an ordinary
  // DPDK port (net_tap, net_pcap, net_af_packet, ...) that is that vport's
  // wire, reachable from outside the process: Poll() moves what it receives
  // into the switch as if sent by the vport, and transmits on it what the
  // switch delivers to the vport (that vport's outside ring is then drained
  // by Poll(), not by ReceiveOutside). Needs `pool`.
  std::vector<std::string> wire_devargs;
};

enum class EswitchOp : uint8_t { kValidate, kCreate, kDestroy, kQuery, kCount };

struct EswitchStats {
  uint64_t from_outside = 0;   // packets taken from outside rings
  uint64_t rule_hits = 0;      // of those, matched a transfer rule
  uint64_t misses = 0;         // went to a representor / the proxy
  uint64_t to_sluice = 0;      // enqueued on a Sluice-side rx ring
  uint64_t to_outside = 0;     // enqueued on an outside ring
  uint64_t from_sluice = 0;    // taken from Sluice-side tx rings
  uint64_t dropped_rule = 0;   // DROP action or no fate
  uint64_t dropped_full = 0;   // destination ring full
  uint64_t dropped_other = 0;  // no mbuf for a copy, no headroom, bad metadata
  uint64_t marked = 0;         // MARK/FLAG applied
};

class Eswitch;
struct EswitchFlow;

class Eswitch {
 public:
  static std::unique_ptr<Eswitch> Create(const EswitchConfig& config, Status* status);
  ~Eswitch();
  Eswitch(const Eswitch&) = delete;
  Eswitch& operator=(const Eswitch&) = delete;

  const EswitchConfig& config() const { return config_; }
  uint16_t n_vports() const { return static_cast<uint16_t>(vports_.size()); }
  static constexpr uint16_t kUplink = 0;
  static uint16_t VfVport(uint16_t vf) { return static_cast<uint16_t>(vf + 1); }

  // Sluice side.
  uint16_t proxy_port_id() const { return facing_[0].ethdev; }
  // The ethdev Sluice receives `vport`'s missed traffic on (the proxy in
  // unified mode, and for the uplink).
  uint16_t representor_port_id(uint16_t vport) const;
  std::string devargs(uint16_t ethdev) const;  // "net_ring_..." for DpdkPort
  uint16_t flow_port_id(uint16_t vport) const { return vports_[vport].flow_port_id; }
  bool VportOf(uint16_t flow_port_id, uint16_t* vport) const;
  // What Translate's PortMap needs for this vport.
  OffloadPort PortInfo(uint16_t vport) const;
  // The dynamic field offset of the unified-mode metadata (-1 otherwise).
  int metadata_offset() const { return meta_offset_; }
  // The wire ethdev of `vport` (kNoEthdev: none).
  uint16_t wire_port_id(uint16_t vport) const { return vports_[vport].wire_ethdev; }

  // Outside ends.
  uint16_t outside_port_id(uint16_t vport) const { return vports_[vport].outside_ethdev; }
  // As if the wire/VM sent them (ownership moves; returns how many were taken).
  unsigned InjectFromOutside(uint16_t vport, rte_mbuf** pkts, unsigned n);
  // What the switch delivered to the wire/VM.
  unsigned ReceiveOutside(uint16_t vport, rte_mbuf** pkts, unsigned n);

  // The hardware's step; returns packets moved (0 = idle).
  unsigned Poll();
  void StartThread();
  void StopThread();

  // rte_flow, as the DPDK API: negative errno / nullptr with rte_errno and
  // *error set.
  int FlowValidate(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item pattern[],
                   const rte_flow_action actions[], rte_flow_error* error);
  EswitchFlow* FlowCreate(uint16_t port_id, const rte_flow_attr* attr,
                          const rte_flow_item pattern[], const rte_flow_action actions[],
                          rte_flow_error* error);
  int FlowDestroy(uint16_t port_id, EswitchFlow* flow, rte_flow_error* error);
  int FlowQuery(uint16_t port_id, EswitchFlow* flow, const rte_flow_action* action, void* data,
                rte_flow_error* error);
  int PickTransferProxy(uint16_t port_id, uint16_t* proxy, rte_flow_error* error) const;
  size_t rule_count() const;

  // Capabilities and faults.
  void SetMaxRules(uint32_t n);
  void InjectFailure(EswitchOp op, int err = EIO, unsigned count = 1);

  EswitchStats stats() const;
  // Bytes this object allocated (rings, structs, rules), and the part that
  // grows per VF on the Sluice side (representor ethdevs and their rings).
  size_t MemoryBytes() const;
  size_t SluiceSideBytes() const;

 private:
  struct Vport {
    uint16_t flow_port_id = 0;
    uint16_t outside_ethdev = kNoEthdev;
    uint16_t facing = 0;      // index into facing_ (non-unified: its representor)
    rte_ring* in = nullptr;   // outside -> switch
    rte_ring* out = nullptr;  // switch -> outside
    uint16_t wire_ethdev = kNoEthdev;
  };
  // An ethdev Sluice polls: the proxy, or a VF representor.
  struct Facing {
    uint16_t ethdev = kNoEthdev;
    uint16_t vport = 0;  // the vport it represents (proxy: uplink)
    std::string name;
    rte_ring* rx = nullptr;  // switch -> Sluice
    rte_ring* tx = nullptr;  // Sluice -> switch
  };
  struct Failure {
    int err = 0;
    unsigned count = 0;
  };

  explicit Eswitch(const EswitchConfig& config);
  Status Init();
  rte_ring* NewRing(const std::string& name, unsigned slots);
  Status NewEthdev(const std::string& name, rte_ring* rx, rte_ring* tx, bool start, uint16_t* id);
  Status OpenWire(uint16_t vport, const std::string& devargs);
  unsigned PollWires();  // mu_ held
  int CheckRule(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item pattern[],
                const rte_flow_action actions[], rte_flow_error* error) const;
  bool TakeFailure(EswitchOp op, int* err);
  const Facing* FacingByEthdev(uint16_t ethdev) const;

  // Packet processing (mu_ held).
  void FromOutside(uint16_t vport, rte_mbuf* m);
  void Deliver(const Facing& f, rte_mbuf* m, bool has_meta, uint32_t meta);
  void ToOutside(uint16_t vport, rte_mbuf* m);
  void ExecuteTransfer(EswitchFlow* flow, rte_mbuf* m);
  void FromSluice(const Facing& f, rte_mbuf* m);

  EswitchConfig config_;
  int serial_ = 0;
  std::vector<Vport> vports_;
  std::vector<Facing> facing_;  // [0] = proxy
  std::vector<rte_ring*> rings_;
  size_t ring_bytes_ = 0;
  std::vector<uint16_t> ethdevs_;
  std::vector<uint16_t> wired_;  // vports with a wire
  int meta_offset_ = -1;
  uint64_t meta_flag_ = 0;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<EswitchFlow>> rules_;  // sorted: priority, then seq
  uint64_t next_seq_ = 0;
  Failure failures_[static_cast<int>(EswitchOp::kCount)];
  EswitchStats stats_;

  std::thread thread_;
  std::atomic<bool> stop_{false};
};

// FlowBackend over an Eswitch.
class EswitchBackend final : public FlowBackend {
 public:
  explicit EswitchBackend(Eswitch* esw) : esw_(esw) {}
  const char* name() const override { return "eswitch"; }
  BackendStatus Validate(const RteFlowRule& rule) override;
  BackendStatus Create(const RteFlowRule& rule, FlowHandle* handle) override;
  BackendStatus Destroy(const FlowHandle& handle) override;
  BackendStatus QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) override;

 private:
  Eswitch* esw_;
};

}  // namespace sluice::offload
