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
// Upcalls reach the slow path in batches (RecvUpcalls: one lock per batch,
// round-robin over the PMDs' rings); replies go back in batches too
// (FlowPutBatch, ExecuteBatch: one lock per batch, one command per megaflow
// or packet on the PMD's ring). An idle handler parks in WaitForUpcalls and
// the first upcall a PMD queues wakes it (pmd/upcall_wakeup.h).
//
// Retired objects are kept per PMD in sequence order, so Reclaim() pops
// from the front of each list (no scan of what is not yet reclaimable); an
// executed packet's actions extend the retirement of the same actions
// retired last on that PMD instead of adding an entry.
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

#include <cstdint>
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
#include "datapath/pmd/upcall_wakeup.h"
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

// One megaflow of a FlowPutBatch.
struct FlowPutOp {
  enum class Result : uint8_t {
    kInstalled,  // a new megaflow
    kExists,     // the ufid was there with these actions: nothing changed
    kModified,   // the ufid was there: its actions were replaced
    kOverLimit,  // not installed: the datapath holds flow_limit megaflows
    kNoPmd,      // no such PMD
  };
  // In (key need not be masked; pmd: an index, or -1 = Datapath::kAllPmds).
  const FlowKey* key = nullptr;
  const FlowMask* mask = nullptr;
  DpActionsPtr actions;
  int pmd = -1;
  // Out.
  Ufid ufid;
  Result result = Result::kNoPmd;
  bool ok() const { return result != Result::kOverLimit && result != Result::kNoPmd; }
};

// One packet of an ExecuteBatch.
struct ExecuteOp {
  int pmd = 0;
  rte_mbuf* packet = nullptr;  // taken
  uint32_t in_port = 0;
  PacketLayout layout;
  DpActionsPtr actions;
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

// Megaflows come from slabs of 64-byte-aligned slots and go back to a free
// list (glibc's memalign for each one cost ~600 instructions per megaflow
// set up). The Datapath uses it under its mutex only; slots are kept until
// the Datapath goes.
class MegaflowPool {
 public:
  MegaflowPool() = default;
  MegaflowPool(const MegaflowPool&) = delete;
  MegaflowPool& operator=(const MegaflowPool&) = delete;
  ~MegaflowPool();
  Megaflow* New();
  void Delete(Megaflow* f);

 private:
  static constexpr size_t kSlab = 64;  // megaflows per slab
  std::vector<void*> free_;
  std::vector<void*> slabs_;
};

struct MegaflowDeleter {
  MegaflowDeleter() noexcept : pool(nullptr) {}
  explicit MegaflowDeleter(MegaflowPool* p) noexcept : pool(p) {}
  void operator()(Megaflow* f) const { pool->Delete(f); }
  MegaflowPool* pool;
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
  // FlowPut for ops[0..n) under one lock. A megaflow that is not there yet
  // is installed only while the datapath holds fewer than flow_limit
  // megaflows in all (kOverLimit otherwise). Each op's ufid and result are
  // set; ops naming the same ufid and PMD install it once.
  void FlowPutBatch(FlowPutOp* ops, size_t n, size_t flow_limit = SIZE_MAX);
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
  // Pops up to `max` upcalls under one lock (each PMD's ring gets its share
  // first, then the rest fills from whichever has more). The caller owns the
  // packets. Returns how many.
  size_t RecvUpcalls(Upcall* out, size_t max);
  // Parks the calling handler until a PMD queues an upcall, WakeUpcallHandlers
  // is called, or timeout_ms passes (< 0: no timeout). Returns at once, true,
  // when an upcall is already waiting; otherwise true when woken. Callers
  // re-check with RecvUpcalls either way (wakeups may be spurious).
  bool WaitForUpcalls(int timeout_ms);
  // Wakes every parked handler (shutdown).
  void WakeUpcallHandlers();
  // Handlers parked in WaitForUpcalls now; times a PMD woke one.
  uint32_t upcall_handlers_parked() const { return upcall_wakeup_.parked(); }
  uint64_t upcall_wakeups() const { return upcall_wakeup_.wakeups(); }
  // Runs `actions` on `packet` (received on in_port) in PMD `pmd`'s context;
  // takes ownership of the packet.
  Status Execute(int pmd, rte_mbuf* packet, uint32_t in_port, const PacketLayout& layout,
                 DpActionsPtr actions);
  // Execute for ops[0..n) under one lock, in order. An op naming no PMD has
  // its packet freed; returns how many such ops there were.
  size_t ExecuteBatch(ExecuteOp* ops, size_t n);

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
  using MegaflowPtr = std::unique_ptr<Megaflow, MegaflowDeleter>;
  struct Retired {
    uint64_t seq;
    MegaflowPtr flow;
    DpActionsPtr actions;
    std::unique_ptr<PmdPortConfig> config;
  };
  struct PmdSlot {
    std::unique_ptr<Pmd> pmd;
    uint64_t next_seq = 1;
    std::unordered_map<Ufid, MegaflowPtr, UfidHash> flows;
    std::unique_ptr<PmdPortConfig> config;  // the one the PMD has (or will have)
    // What this PMD may still reference, in increasing seq order.
    std::deque<Retired> retired;
  };

  uint64_t PostLocked(int pmd, PmdCommand cmd);
  void ReconfigureLocked();
  void SyncLocked(std::unique_lock<std::mutex>& lock);
  void ReclaimLocked();
  // Installs or updates one PMD's copy. With check_limit, a new megaflow is
  // refused (kOverLimit) when *n_flows >= flow_limit; *n_flows counts it.
  FlowPutOp::Result PutOneLocked(int pmd, const FlowKey& masked, const FlowMask& mask,
                                 const Ufid& ufid, const DpActionsPtr& actions,
                                 size_t flow_limit = SIZE_MAX, size_t* n_flows = nullptr);
  void RetireLocked(int pmd, Retired r);
  // Keeps `actions` alive until PMD `pmd` has passed `seq`.
  void RetireActionsLocked(int pmd, uint64_t seq, const DpActionsPtr& actions);
  size_t FlowCountLocked() const;
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
  // Declared before pmds_: the PMDs hold a pointer to the wakeup, their
  // flow tables and retire lists hold megaflows from the pool.
  UpcallWakeup upcall_wakeup_;
  MegaflowPool megaflow_pool_;
  std::vector<PmdSlot> pmds_;
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
