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
// Invariants:
//   1. A ufid names at most one megaflow per PMD.
//   2. Nothing retired is freed before its PMD's safe_seq passes it.
//   3. A port is closed only after every PMD has applied a configuration
//      without it.
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
};

// A megaflow's identity and counters only (what the revalidator needs every
// pass: a sixth of FlowInfo's size).
struct FlowStatsInfo {
  Ufid ufid;
  int pmd = 0;
  uint64_t packets = 0, bytes = 0, used_ms = 0, created_ms = 0;
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

 private:
  struct Port {
    uint32_t port_no;
    std::unique_ptr<DpdkPort> dev;
    std::vector<std::unique_ptr<RxqState>> rxqs;
    uint64_t created_ms = 0;
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

  DatapathOptions options_;
  mutable std::mutex mu_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<MeterTable> meters_;  // created by Init(); read by the PMDs
  std::map<uint32_t, Port> ports_;  // by port_no
  std::vector<PmdSlot> pmds_;
  std::deque<Retired> retired_;
  bool pmds_started_ = false;
  size_t upcall_rr_ = 0;
};

}  // namespace sluice::dp
