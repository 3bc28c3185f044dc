#pragma once
// What: Pmd, a poll-mode driver thread: busy-polls its receive queues and
// runs every packet through parse -> EMC -> dpcls -> actions -> transmit.
//
// Design: one thread pinned to one core. Each iteration polls every assigned
// rx queue once (bursts of kMaxBurst), processes the burst in stages over the
// whole batch (STYLE.md, "The hot path"), then applies pending commands from
// other threads and does a slice of EMC sweeping. Per burst:
//   1. parse every packet into keys[] (stack, cache aligned); malformed ones
//      are counted under their ParseStatus and dropped. Elephant followers:
//      a packet of the same length whose first 64 bytes agree with the
//      previous parsed live packet's on every byte that packet's parse read
//      (ParseResult::reads) is not parsed or hashed: it shares that
//      packet's key and layout and follows it through stages 2-4 (same rule,
//      same kind of hit, or upcalled like it). The compare is tried on every
//      burst while bursts have followers, else on one burst in
//      kFollowRetryBursts. Parse depth: with the EMC off, packets are parsed
//      only as deep as the installed subtables' masks look (ParseDepthFor of
//      their union: metadata only, L2, or everything; tcp_flags always, and
//      malformed frames are refused exactly as by a full parse); a miss is
//      parsed fully again before its upcall, and the EMC is filled only from
//      fully parsed bursts. The executor needs only the layout, which is
//      complete at every depth;
//   2. EMC batch lookup, only while the EMC policy has it on (EmcPolicy:
//      by default only where it is cheaper than the classifier, which with
//      today's Dpcls is never -- see pmd.cc EmcCheaperThanDpcls); 3. dpcls
//      batch lookup for the EMC misses (hits are offered to the EMC); 4. the remaining misses become upcalls on the
//      bounded upcall ring (full ring or exhausted upcall budget: counted as
//      lost and dropped, the PMD never waits);
//   5. group packets by megaflow (receive order kept within a flow), update
//      each flow's statistics once, and run its actions once for its batch;
//      single-output flows skip the executor and go straight to a tx buffer;
//   6. flush the per-port tx buffers (one tx burst per port and queue).
// Rx queues whose RxqOffload is active (hardware offload on, or a unified
// representor proxy) first go through ProcessOffloadBurst (pmd_offload.cc):
// packets whose hardware MARK names a megaflow in mark_table_ skip stages
// 1-4 (parsed only when the actions need a layout or the flow is TCP), and
// a proxy's packets are split by the source port in their rte_flow
// metadata; one flag test per burst is all other queues pay.
//
// Commands (the only way other threads change PMD state): install, modify,
// remove a megaflow; execute actions on a packet; swap the port
// configuration; flush the EMC. Producers post them on a lock-free ring with
// a sequence number; the PMD applies them between bursts and publishes
// applied_seq(). Reclamation protocol (how the control side knows it may
// free a removed Megaflow, a replaced DpActions or an old port config):
//   1. the control side posts kRemove(flow) with sequence S, keeps the object;
//   2. the PMD removes it from the dpcls and marks rule.dead, so no new EMC
//      entry can point to it; applied_seq becomes >= S;
//   3. the EMC's slow sweep clears dead entries; when a full sweep cycle has
//      completed after the cycle in which S was applied, the PMD publishes
//      safe_seq() >= S (safe_seq = applied_seq as it was at the end of the
//      previous sweep cycle);
//   4. the control side frees objects retired at sequence <= safe_seq().
// A stopped PMD (no thread) is quiescent: the control side may free at once.
//
// Invariants:
//   1. Every received packet is transmitted, handed to the slow path, or
//      counted in exactly one drop counter.
//   2. No lock, allocation, syscall or virtual call per packet or per burst
//      on the polling path (commands may allocate when they are applied).
//      The one exception: a kMeter action takes its meter's spinlock once
//      per flow batch (meters are shared by all PMDs; see meter.h).
//   3. A megaflow is freed by the control side only when safe_seq() has
//      passed its removal.
//
// Thread-safety: Post*() from any thread; counters() readable from any
// thread (relaxed); everything else is the PMD thread's.
// Memory: the EMC (~1.2 MiB), the dpcls, the upcall ring
// (upcall_ring_size * ~200 B), the command ring, tx buffers per port.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/dpcls/dpcls.h"
#include "datapath/emc/emc.h"
#include "datapath/flow/parse.h"
#include "datapath/pmd/megaflow.h"
#include "datapath/pmd/upcall.h"
#include "datapath/pmd/upcall_wakeup.h"
#include "datapath/util/mpmc_ring.h"

struct rte_mbuf;

namespace sluice::dp {

class DpdkPort;
class MeterTable;

// One receive queue and its measured load. Owned by the Datapath; a PMD
// polls the queues its current PmdPortConfig lists.
struct RxqState {
  DpdkPort* port = nullptr;
  uint16_t queue = 0;
  uint32_t port_no = 0;
  // Written by the polling PMD, read by anyone (relaxed).
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> cycles{0};  // TSC cycles spent receiving + processing
};

struct TxTarget {
  DpdkPort* port = nullptr;  // nullptr: no such port_no
  uint16_t queue = 0;
};

// How a PMD treats one rx queue's bursts beyond the plain path (see
// pmd_offload.cc). All zero/null: the plain path, at no extra cost.
struct RxqOffload {
  bool marks = false;  // look up RTE_MBUF_F_RX_FDIR_ID marks (offload is on)
  // Unified representor proxy: source flow port id (the rte_flow metadata
  // value) -> datapath port_no (0 = unknown source); null when the port has
  // no unified VFs. Immutable; shared by the configs that name it.
  std::shared_ptr<const std::vector<uint32_t>> sources;
  bool active() const { return marks || sources != nullptr; }
};

// What a PMD polls and where it can transmit. Immutable once posted.
struct PmdPortConfig {
  std::vector<RxqState*> rxqs;
  std::vector<TxTarget> tx;  // indexed by port_no
  std::vector<RxqOffload> rxq_offload;  // parallel to rxqs (or empty: all plain)
};

// The PMD's counters: name and what it counts (shown by `sluicectl pmd-stats`).
#define SLUICE_PMD_COUNTERS(X)                                                    \
  X(iterations, "polling iterations")                                             \
  X(busy_cycles, "TSC cycles of iterations that received packets")              \
  X(idle_cycles, "TSC cycles of iterations that received nothing")              \
  X(rx_packets, "packets received")                                               \
  X(rx_batches, "non-empty receive bursts")                                       \
  X(emc_hits, "exact-match cache hits")                                           \
  X(dpcls_hits, "megaflow classifier hits")                                       \
  X(misses, "packets that matched no megaflow")                                   \
  X(upcalls, "misses queued to the slow path")                                    \
  X(lost_upcalls, "misses dropped: upcall queue full or over the upcall budget") \
  X(userspace, "packets queued to the slow path by a userspace action")         \
  X(tx_packets, "packets transmitted")                                            \
  X(tx_dropped, "packets the device did not take")                                \
  X(no_port_drops, "packets output to a port that does not exist")               \
  X(action_drops, "packets dropped by their flow's actions")                     \
  X(recirc_drops, "packets dropped: recirculation too deep")                     \
  X(meter_drops, "packets dropped by a meter band")                              \
  X(executed, "packets executed for the slow path")                               \
  X(emc_off_periods, "times the EMC was bypassed for hitting too rarely")  \
  X(emc_state, "EMC state now (a gauge, EmcState): 0 on, 1 off: hits too rarely, " \
               "2 off: the classifier is cheaper, 3 off: configured off")         \
  X(flows, "megaflows installed")                                                 \
  X(mark_hits, "packets that skipped lookup by their hardware MARK")              \
  X(unknown_source_drops, "unified-proxy packets from an unknown source port")

// Written by the PMD (relaxed), read by anyone.
struct PmdCounters {
#define SLUICE_X(name, text) std::atomic<uint64_t> name{0};
  SLUICE_PMD_COUNTERS(SLUICE_X)
#undef SLUICE_X
  std::atomic<uint64_t> parse_drops[static_cast<int>(ParseStatus::kCount)]{};
};

// A plain copy of PmdCounters at one moment.
struct PmdCountersSnapshot {
#define SLUICE_X(name, text) uint64_t name = 0;
  SLUICE_PMD_COUNTERS(SLUICE_X)
#undef SLUICE_X
  uint64_t parse_drops[static_cast<int>(ParseStatus::kCount)] = {};

  // Cycles per received packet over busy iterations (0 when none).
  double CyclesPerPacket() const {
    return rx_packets ? static_cast<double>(busy_cycles) / static_cast<double>(rx_packets) : 0.0;
  }
  uint64_t parse_drops_total() const {
    uint64_t t = 0;
    for (uint64_t d : parse_drops) t += d;
    return t;
  }
};

PmdCountersSnapshot Snapshot(const PmdCounters& c);

// When the PMD looks packets up in the EMC.
//   kAuto: only while it is cheaper than the classifier alone
//     (pmd.cc EmcCheaperThanDpcls: more than two subtables and no signature
//     cache; recomputed when a subtable comes or goes) and, while that
//     holds, by the adaptive hit-ratio rule (kAdaptive). With today's Dpcls
//     (signature cache from the third subtable on) that means off: the
//     classifier is cheaper at every subtable count measured;
//   kAdaptive: on, except for periods when it hits too rarely (EmcAdapt);
//   kOn: always on; kOff: never (measurement and tests).
// The environment variable SLUICE_PMD_EMC=auto|adaptive|on|off overrides
// the option (bench/callgrind's driver uses it).
enum class EmcPolicy : uint8_t { kAuto, kAdaptive, kOn, kOff };
// What PmdCounters::emc_state holds.
enum class EmcState : uint8_t { kOn = 0, kOffHitRatio = 1, kOffCheaper = 2, kOffConfigured = 3 };
const char* EmcStateName(uint64_t state);  // "on", "off: hits too rarely", ...
// Parses "auto", "adaptive", "on", "off"; false for anything else.
bool ParseEmcPolicy(const char* s, EmcPolicy* out);

struct PmdOptions {
  int core = -1;                 // CPU to pin to; -1 = do not pin
  int index = 0;                 // position among the datapath's PMDs
  uint32_t emc_insert_inv_prob = 100;
  EmcPolicy emc_policy = EmcPolicy::kAuto;
  uint32_t upcall_ring_size = 4096;
  uint32_t command_ring_size = 65536;
  uint64_t upcall_rate_limit = 0;  // upcalls per second; 0 = only bounded by the ring
  // Meters the kMeter action applies; shared by all PMDs, owned by the
  // Datapath (outlives the PMD). nullptr: packets pass unmetered.
  MeterTable* meters = nullptr;
};

struct PmdCommand {
  // kMarkSet: mark `value` -> `flow`; kMarkClear: forget mark `value`;
  // kMarkClearAll: forget every mark (pmd_offload.cc).
  enum class Kind : uint8_t {
    kInstall, kModify, kRemove, kExecute, kPortConfig, kEmcFlush, kEmcProb,
    kMarkSet, kMarkClear, kMarkClearAll
  };
  Kind kind;
  uint64_t seq;
  Megaflow* flow;
  const DpActions* actions;
  const PmdPortConfig* port_config;
  rte_mbuf* packet;
  PacketLayout layout;
  uint32_t in_port;
  uint32_t value;
};

class Pmd {
 public:
  explicit Pmd(const PmdOptions& options);
  ~Pmd();
  Pmd(const Pmd&) = delete;
  Pmd& operator=(const Pmd&) = delete;

  void Start();
  void Stop();  // joins the thread; pending commands are applied first
  bool running() const { return thread_.joinable(); }

  // For a PMD whose thread is not running: applies every pending command and
  // sweeps the EMC so that everything removed is reclaimable (safe_seq ==
  // applied_seq). Tests and start-up use it.
  void SyncApply();

  // Posts a command (from any thread). Returns false when the ring is full.
  bool Post(const PmdCommand& cmd);

  // Runs one polling iteration on the calling thread (tests drive a PMD
  // synchronously with this instead of Start()). Returns packets received.
  uint32_t PollOnce();

  // Pops one upcall (any thread).
  bool PopUpcall(Upcall* out) { return upcalls_.TryPop(out); }
  size_t upcall_backlog() const { return upcalls_.SizeApprox(); }
  // Whom to notify after queuing an upcall (upcall_wakeup.h); set before
  // Start(), outlives the PMD. nullptr: nobody.
  void set_upcall_wakeup(UpcallWakeup* w) { upcall_wakeup_ = w; }

  uint64_t applied_seq() const { return applied_seq_.load(std::memory_order_acquire); }
  uint64_t safe_seq() const { return safe_seq_.load(std::memory_order_acquire); }

  const PmdCounters& counters() const { return counters_; }
  const PmdOptions& options() const { return options_; }
  int index() const { return options_.index; }
  int core() const { return options_.core; }
  // Subtable count and per-subtable rules (copied by the PMD thread is not
  // possible while it runs; these read sizes only, racy but harmless).
  size_t n_subtables_approx() const { return n_subtables_.load(std::memory_order_relaxed); }

  // Ms of a monotonic clock derived from the TSC (what MegaflowStats use).
  static uint64_t NowMs();

 private:
  struct TxBuffer;
  class Sink;
  friend class Sink;

  void Run();
  void ApplyCommands();
  void Apply(const PmdCommand& cmd);
  void ProcessPackets(rte_mbuf** pkts, uint32_t n, uint32_t in_port, uint32_t recirc_id,
                      int depth);
  void EmcAdapt(uint32_t lookups, uint32_t hits);
  void UpdateParseDepth();
  bool EmcCheaperOff() const;  // kAuto and the classifier alone is cheaper now
  void SetEmcActive();  // emc_active_ and emc_state from the policy's inputs
  void RunFlowBatch(Megaflow* f, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                    uint64_t bytes, uint16_t tcp_flags, uint32_t in_port, int depth);
  void QueueUpcall(rte_mbuf* pkt, const FlowKey& key, const PacketLayout& layout, UpcallType type,
                   uint64_t cookie);
  void TxEnqueue(uint32_t port_no, rte_mbuf** pkts, uint32_t n);
  void FlushTx();
  void FlushBuffer(TxBuffer& b);
  void SetPortConfig(const PmdPortConfig* config);
  void Housekeeping(uint64_t now_tsc);
  // Offload (pmd_offload.cc): a burst from an rx queue whose RxqOffload is
  // active: marked packets go straight to their megaflow, unified-proxy
  // packets are split by source port, the rest take ProcessPackets.
  void ProcessOffloadBurst(const RxqOffload& o, rte_mbuf** pkts, uint32_t n, uint32_t port_no);
  void RunMarkedBatch(Megaflow* f, rte_mbuf** pkts, uint32_t n);
  void ApplyMarkCommand(const PmdCommand& cmd);

  PmdOptions options_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  MpmcRing<PmdCommand> commands_;
  MpmcRing<Upcall> upcalls_;
  UpcallWakeup* upcall_wakeup_ = nullptr;  // set before Start(); read by the PMD
  std::atomic<uint64_t> applied_seq_{0};
  std::atomic<uint64_t> safe_seq_{0};
  uint64_t seq_at_last_sweep_cycle_ = 0;
  uint64_t last_sweep_cycles_ = 0;

  // PMD-owned state.
  Emc emc_;
  Dpcls dpcls_;
  const PmdPortConfig* port_config_ = nullptr;
  std::vector<TxBuffer> tx_buffers_;  // indexed by port_no
  std::vector<uint32_t> tx_dirty_;    // port_nos with pending packets
  uint64_t now_ms_ = 0;
  uint64_t next_sort_tsc_ = 0;
  uint64_t upcall_tokens_ = 0;
  uint64_t last_refill_tsc_ = 0;
  uint64_t tsc_hz_ = 0;
  std::atomic<size_t> n_subtables_{0};
  // emc_active_: look up (and fill) the EMC for this burst. It is
  // emc_hit_on_ (the adaptive hit-ratio rule's verdict) and not
  // emc_cheaper_off_ (kAuto: the classifier alone is cheaper for the
  // current subtables), or fixed by kOn / kOff.
  bool emc_active_ = true;
  bool emc_hit_on_ = true;
  bool emc_cheaper_off_ = false;
  bool emc_adapt_ = true;  // run EmcAdapt (kAuto / kAdaptive, not cheaper-off)
  // How deep the subtables' masks look (recomputed when a subtable is
  // created or destroyed); used while the EMC is off.
  ParseDepth parse_depth_ = ParseDepth::kMeta;
  size_t depth_subtables_ = 0;  // n_subtables when parse_depth_ was computed
  uint32_t follow_idle_ = 0;    // bursts since one had an elephant follower
  uint64_t emc_window_lookups_ = 0;
  uint64_t emc_window_hits_ = 0;
  // MARK id -> megaflow (partial offload), grown by kMarkSet. A slot is
  // cleared (kMarkClear, or kRemove of its flow, which the Datapath always
  // precedes by kMarkClear) before the flow can be freed.
  std::vector<Megaflow*> mark_table_;

  PmdCounters counters_;
};

}  // namespace sluice::dp
