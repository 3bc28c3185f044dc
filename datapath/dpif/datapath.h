#pragma once
// What: Datapath, the userspace datapath as a whole and its control API (the
// "dpif"): ports, PMD threads, megaflow put/modify/delete/dump, upcall
// reception and packet execution. Open vSwitch's dpif-netdev, in one class.
//
// Design: the Datapath owns the mbuf pool, the ports (numbered from 1; 0 is
// kept for the bridge's local port), the PMDs and, for each PMD, the
// control-side table of that PMD's megaflows (ufid -> Megaflow). Every
// change to PMD state is a PmdCommand posted to that PMD's ring under the
// Datapath's mutex, which gives each PMD's commands increasing sequence
// numbers. Objects a PMD may still reference (removed megaflows, replaced
// actions, old port configurations) go on a retire list with the sequence
// of the command that released them, and are freed by Reclaim() once that
// PMD's safe_seq() has passed it (pmd.h, "Reclamation protocol").
//
// The Datapath also owns the MeterTable (pmd/meter.h) that every PMD's
// kMeter actions share; meters are changed directly in it (it has its own
// per-meter locks), not through PMD commands.
//
// Receive queues are assigned to PMDs by measured load (cycles spent per rxq,
// heaviest first, each to the least loaded PMD; round-robin for queues never
// measured), on every port or PMD change and on Rebalance().
//
// Hardware offload (SetOffload; docs/design-notes.md, "Offload"): an
// OffloadHook (implemented one layer up, in offload/) is kept in step with
// the ports and with the megaflows per ufid: Put when a ufid first appears
// on any PMD or the actions of its lowest-numbered PMD's copy change, Del
// when its last copy goes. Counters the hook hands back are folded, at
// every FlowDump/FlowStatsDump/FlowGet, into the copy on the lowest PMD
// holding the ufid (when that copy goes, the next one starts again from 0,
// so per-(ufid, pmd) deltas stay monotonic for the revalidator). Partial
// offload's MARK ids reach the PMDs' mark tables through MarkSet/MarkClear,
// which the hook's own thread calls; a mark's slot is cleared on a PMD
// before that PMD's copy of the flow is removed. Unified representor VFs
// (PortConfig::unified_proxy) are ports without rx queues: their proxy's rx
// queues carry a source-id -> port_no table (RxqOffload::sources).
//
// Invariants:
//   1. A ufid names at most one megaflow per PMD.
//   2. Nothing retired is freed before its PMD's safe_seq passes it.
//   3. A port is closed only after every PMD has applied a configuration
//      without it.
//   4. A PMD's mark table points only at megaflows installed on that PMD.
//   5. With a hook attached, the hook has been Put every ufid some PMD
//      holds (with the lowest PMD's actions) and nothing else.
//   6. A unified proxy is not deleted while VF ports use it.
//
// Thread-safety: every public method may be called from any thread
// (one mutex guards the control state; the PMDs never take it).

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/dpif/offload_hook.h"
#include "datapath/pmd/meter.h"
#include "datapath/pmd/pmd.h"
#include "datapath/port/port.h"

namespace sluice::dp {

struct DatapathOptions {
  std::vector<int> pmd_cores = {-1};  // one PMD per entry; -1 = unpinned
  uint32_t n_mbufs = 131072;
  uint32_t emc_insert_inv_prob = 100;
  uint32_t upcall_ring_size = 4096;
  uint64_t upcall_rate_limit = 0;
};

struct PortInfo {
  uint32_t port_no = 0;
  std::string name, devargs, driver;
  uint16_t n_rxq = 0, n_txq = 0;
  bool link_up = false;
  uint32_t mtu = 0;
  uint32_t link_speed_mbps = 0;
  EthAddr mac{};
  uint64_t created_ms = 0;  // when the port was added (datapath clock)
  PortStats stats;
};

// The packet-buffer pool at one moment. Mbufs in the per-thread caches
// count as available, so in_use is what ports, queues and packets in
// flight hold: with no traffic it returns to the same value (the leak check).
struct MempoolInfo {
  std::string name;
  uint32_t size = 0, in_use = 0, available = 0;
};

struct FlowInfo {
  Ufid ufid;
  FlowKey key;  // masked
  FlowMask mask;
  DpActionsPtr actions;
  int pmd = 0;
  uint64_t packets = 0, bytes = 0, used_ms = 0, created_ms = 0;
  uint16_t tcp_flags = 0;
  // What the hardware counted (full offload), already included in
  // packets/bytes; shown separately for views.
  uint64_t hw_packets = 0, hw_bytes = 0;
};

// A megaflow's identity and counters only (what the revalidator needs every
// pass: a sixth of FlowInfo's size).
struct FlowStatsInfo {
  Ufid ufid;
  int pmd = 0;
  uint64_t packets = 0, bytes = 0, used_ms = 0, created_ms = 0;
  uint64_t hw_packets = 0, hw_bytes = 0;  // included in packets/bytes
};

struct RxqInfo {
  std::string port;
  uint16_t queue = 0;
  uint64_t packets = 0, cycles = 0;
};

struct PmdInfo {
  int index = 0, core = -1;
  bool running = false;
  PmdCountersSnapshot counters;
  size_t n_subtables = 0;
  size_t upcall_backlog = 0;
  std::vector<RxqInfo> rxqs;
};

class Datapath {
 public:
  static constexpr int kAllPmds = -1;

  explicit Datapath(const DatapathOptions& options);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // Creates the mbuf pool and the PMDs (not yet polling). The EAL must run.
  Status Init();

  // --- Ports ---
  // Opens the port; *port_no in: the number wanted (0 = next free), out: the
  // number given.
  Status AddPort(const PortConfig& config, uint32_t* port_no);
  Status DelPort(uint32_t port_no);
  std::vector<PortInfo> Ports() const;
  bool PortByName(const std::string& name, uint32_t* port_no) const;

  // --- PMDs ---
  void StartPmds();
  void StopPmds();
  // Replaces the PMD set (flows are flushed; the slow path reinstalls them).
  Status SetPmdCores(const std::vector<int>& cores);
  void Rebalance();
  std::vector<PmdInfo> PmdStats() const;
  size_t n_pmds() const;
  // Synchronous mode (PMDs not started): one poll of every PMD.
  uint32_t PollAllOnce();

  // --- Megaflows ---
  // Installs (or, when the ufid exists on that PMD, replaces the actions of)
  // the megaflow key/mask on PMD `pmd` or on all of them. `key` need not be
  // masked. *ufid gets the flow's ufid (derived from key and mask).
  Status FlowPut(const FlowKey& key, const FlowMask& mask, DpActionsPtr actions,
                 int pmd = kAllPmds, Ufid* ufid = nullptr);
  Status FlowDel(const Ufid& ufid, int pmd = kAllPmds);
  void FlowFlush();
  std::vector<FlowInfo> FlowDump() const;
  std::vector<FlowStatsInfo> FlowStatsDump() const;
  // Statistics of one ufid summed over PMDs. False when no PMD has it.
  bool FlowGet(const Ufid& ufid, FlowInfo* info) const;
  size_t FlowCount() const;

  // --- Meters ---
  // Adds or replaces a meter (Init() must have run).
  Status MeterSet(const MeterConfig& config);
  Status MeterDel(uint32_t id);
  // False when there is no such meter.
  bool MeterStats(uint32_t id, dp::MeterStats* out) const;

  // --- Slow path ---
  // Pops the next upcall, round-robin over PMDs. The caller owns the packet.
  bool RecvUpcall(Upcall* out);
  // Runs `actions` on `packet` (received on in_port) in PMD `pmd`'s context;
  // takes ownership of the packet.
  Status Execute(int pmd, rte_mbuf* packet, uint32_t in_port, const PacketLayout& layout,
                 DpActionsPtr actions);

  // Waits until every PMD has applied every command posted so far (applies
  // them inline for PMDs that are not running), then reclaims.
  void Sync();
  // Frees retired objects that no PMD can reference any more.
  void Reclaim();

  rte_mempool* pool() const { return pool_; }
  MempoolInfo Mempool() const;

  // --- Hardware offload ---
  // nullptr: offload off (the previous hook is told to delete every
  // megaflow, every PMD forgets its marks). A hook: announced every port and
  // Put every installed megaflow (one per ufid), then kept in step.
  void SetOffload(std::shared_ptr<OffloadHook> hook);
  // From the hook's own thread (never from inside a hook call): packets
  // carrying `mark` belong to megaflow `ufid`; every PMD holding it learns
  // the mark (and so will PMDs that install it later). False when `from` is
  // not the attached hook, mark is 0, or no PMD holds the ufid.
  bool MarkSet(const OffloadHook* from, const Ufid& ufid, uint32_t mark);
  // Every PMD forgets `mark`; returns once each has applied that, so the
  // rule stamping it may be destroyed and the id reused. (`from` no longer
  // attached: its marks are already gone; this only waits.)
  void MarkClear(const OffloadHook* from, uint32_t mark);

 private:
  struct Port {
    uint32_t port_no;
    std::unique_ptr<DpdkPort> dev;
    std::vector<std::unique_ptr<RxqState>> rxqs;
    uint64_t created_ms = 0;
    uint32_t unified_proxy = 0;  // a unified VF: its proxy's port_no
    // A unified proxy with VFs: source id -> port_no (see RxqOffload).
    std::shared_ptr<const std::vector<uint32_t>> sources;
  };
  // What the offload hook has for a ufid, and the hardware's counters.
  struct HwFlow {
    DpActionsPtr actions;  // as last Put
    uint64_t put_ms = 0;   // when last Put (the expiry guard)
    int pmd = -1;          // the copy the counters are folded into
    uint64_t packets = 0, bytes = 0, used_ms = 0;
  };
  struct PmdSlot {
    std::unique_ptr<Pmd> pmd;
    uint64_t next_seq = 1;
    std::unordered_map<Ufid, std::unique_ptr<Megaflow>, UfidHash> flows;
    std::unique_ptr<PmdPortConfig> config;  // the one the PMD has (or will have)
  };
  struct Retired {
    int pmd;
    uint64_t seq;
    std::unique_ptr<Megaflow> flow;
    DpActionsPtr actions;
    std::unique_ptr<PmdPortConfig> config;
  };

  uint64_t PostLocked(int pmd, PmdCommand cmd);
  void ReconfigureLocked();
  void SyncLocked(std::unique_lock<std::mutex>& lock);
  void ReclaimLocked();
  Status PutOneLocked(int pmd, const FlowKey& masked, const FlowMask& mask, const Ufid& ufid,
                      const DpActionsPtr& actions);
  void DelOneLocked(int pmd, const Ufid& ufid);
  std::vector<int> PmdRange(int pmd) const;
  // Offload bookkeeping (mu_ held).
  void OffloadSyncLocked(const Ufid& ufid);
  void FoldHwCountersLocked() const;
  void AddHwLocked(const Ufid& ufid, int pmd, uint64_t now_ms, uint64_t* packets,
                   uint64_t* bytes, uint64_t* used_ms, uint64_t* hw_packets,
                   uint64_t* hw_bytes) const;
  void RebuildSourcesLocked(uint32_t proxy_no);
  bool HeldByAnyPmdLocked(const Ufid& ufid) const;

  DatapathOptions options_;
  mutable std::mutex mu_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<MeterTable> meters_;  // created by Init(); read by the PMDs
  std::map<uint32_t, Port> ports_;  // by port_no
  std::vector<PmdSlot> pmds_;
  std::deque<Retired> retired_;
  bool pmds_started_ = false;
  size_t upcall_rr_ = 0;

  // Offload (all under mu_).
  std::shared_ptr<OffloadHook> offload_;
  mutable std::unordered_map<Ufid, HwFlow, UfidHash> hw_flows_;  // ufids Put to offload_
  std::unordered_map<uint32_t, Ufid> mark_ufid_;                 // MARK id -> its megaflow
  std::unordered_map<Ufid, std::vector<uint32_t>, UfidHash> ufid_marks_;
  mutable std::vector<HwCounterDelta> delta_scratch_;
};

}  // namespace sluice::dp
