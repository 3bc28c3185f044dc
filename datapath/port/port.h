#pragma once
// What: DpdkPort, the `dpdk` port type: any DPDK ethdev named by devargs
// (a PCI address, net_ring, net_null, net_pcap, net_tap, net_af_packet, ...),
// with several rx/tx queues, MTU, link state and statistics. vhost-user
// ports (`dpdkvhostuser`, `dpdkvhostuserclient`) are DpdkPorts too: DPDK's
// net_vhost ethdev over the vhost library (docs/design-notes.md, "vhost-user
// ports"), so the PMD has one transmit/receive code path for every port.
//
// Design: Open() probes the device with rte_dev_probe() (vdevs and PCI alike,
// at run time), finds its ethdev port(s) with the devargs iterator, configures
// n_rxq/n_txq queues (RSS across rx queues when there are several, the RSS
// hash delivered to the mbuf when the device supports it) and starts it.
// RxBurst/TxBurst are inline wrappers over rte_eth_rx/tx_burst for the PMD.
// Close() stops, closes and (for devices it probed) removes the device.
//
// A tx queue may be shared by several PMDs when the device has fewer tx
// queues than PMDs: then TxBurst callers serialise through a per-queue
// spinlock (taken once per batch, never per packet). Queues that are not
// shared are used without any lock.
//
// Transmit retries: a device that takes only part of a burst (a vhost-user
// guest whose receive ring is full) is offered the rest again, up to
// tx_retries more times, but only while each attempt makes progress: a
// guest that has stopped reading costs one attempt per burst, never a
// stall. What is still left is the caller's to free; it reports the number
// with CountTxDropped() and it shows as PortStats::tx_dropped.
//
// vhost-user specifics (driver net_vhost): the guest decides how many queue
// pairs it uses, so every queue pair of the device (devargs queues=N) is an
// rx queue; the link is up while a guest is attached (the driver updates it
// on attach/detach and raises LSC); per-queue packet counts come from the
// driver's per-virtqueue xstats (rx_q<N>_good_packets, tx_q<N>_...), which,
// unlike rte_eth_stats, are not limited to RTE_ETHDEV_QUEUE_STAT_CNTRS
// queues. The driver's oerrors counts a burst's leftovers once per attempt,
// so with retries it is not a drop count: tx_dropped is ours.
//
// vhost-user tx queue remapping (as Open vSwitch does): a guest may enable
// fewer queue pairs than the device has (queues=2, the guest uses 1), and a
// burst sent to a queue it has not enabled would be lost. The port follows
// the driver's RTE_ETH_EVENT_QUEUE_STATE events (rte_eth_vhost_get_queue_event)
// and maps every logical tx queue (the index a PMD passes to TxBurst) to a
// device tx queue the guest has enabled (SpreadTxqs). Step by step:
//   1. the event thread (the vhost library's, or the control thread in
//      Open) drains the driver's queue events under remap_mu_ and updates
//      txq_enabled_; on LSC with the link down every queue is disabled (the
//      driver forgets its queue states silently when the guest goes);
//   2. it computes the new map and stores each entry (TxQueue::map, on the
//      logical queue's own cache line, release);
//   3. a PMD loads its entry once per burst (acquire: a plain load on x86)
//      and transmits on that device queue under the device queue's
//      spinlock. A vhost port always takes it (one uncontended atomic per
//      burst, as Open vSwitch does for vhost): a map change can put a second
//      PMD on a queue at any moment while another is mid-burst there, and a
//      lock taken only "when shared" would need a grace period to be safe;
//   4. with no queue enabled the entry is kNoTxq: TxBurst sends nothing and
//      the caller drops and counts the burst, as for a detached guest.
// A burst that read the old entry just before a change may still go to a
// queue the guest has just disabled: the vhost library refuses it and the
// caller counts it as dropped (only while a guest reconfigures).
//
// Offload (docs/design-notes.md, "Offload"): with PortConfig::rx_metadata,
// Open() asks the device for MARK/FLAG delivery (rte_eth_rx_metadata_negotiate,
// before configure). A unified representor VF (OpenUnifiedVf) is a DpdkPort
// without an ethdev: TxBurst stamps the VF's id as tx metadata and sends on
// the proxy's queue (the proxy's lock when shared); its receive side is the
// PMD's (the proxy's rx queue, demultiplexed by metadata).
//
// Invariants:
//   1. A port is started between Open() and Close(); RxBurst/TxBurst are only
//      called then.
//   2. Rx queue q is polled by exactly one thread at a time.
//   3. TxBurst makes at most 1 + tx_retries() device calls, and a call after
//      the first only when the one before it took at least one packet.
//   4. Every packet a caller fails to transmit is counted once in
//      tx_dropped (by CountTxDropped).
//   5. vhost-user: TxBurst on logical queue q transmits only on TxqMap(q),
//      a device queue the guest has enabled, under that queue's spinlock;
//      when the guest has enabled none it transmits nothing.
//
// Thread-safety: RxBurst on a queue from its one polling PMD; TxBurst as
// described above; CountTxDropped from any transmitting thread (a relaxed
// atomic add per burst with drops, on the queue's own cache line); stats and
// link reads from any thread (DPDK's are thread-safe for reads); Open/Close
// from the control thread; the vhost tx queue map is written by the
// driver's event callbacks (serialised by remap_mu_) and read by PMDs.

#include <rte_ethdev.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "datapath/flow/flow_key.h"
#include "datapath/packet/packet.h"
#include "datapath/util/status.h"

namespace sluice::dp {

struct PortConfig {
  std::string name;     // the user's name for the port (e.g. "p0")
  std::string devargs;  // e.g. "net_pcap0,rx_pcap=in.pcap,infinite_rx=1"
  uint16_t n_rxq = 1;
  uint16_t n_txq = 1;  // wanted (one per PMD); capped by the device
  uint16_t rxq_desc = 2048;
  uint16_t txq_desc = 2048;
  uint32_t mtu = 0;  // 0: leave the device's default
  // Extra transmit attempts for a partly taken burst (see above). -1: the
  // driver's default, kVhostTxRetries for net_vhost and 0 for the rest.
  int tx_retries = -1;
  // Hardware offload (docs/design-notes.md, "Offload"). rx_metadata: ask the
  // device (before configuring it) to deliver MARK/FLAG to the mbuf;
  // a device that cannot (ENOTSUP) just cannot do partial offload.
  bool rx_metadata = false;
  // Unified representor mode: nonzero = this port is a VF with no ethdev of
  // its own; its traffic arrives on the proxy's rx queues with its flow
  // port id in the rte_flow metadata field, and it transmits on the proxy's
  // tx queues with that id as tx metadata.
  uint32_t unified_proxy = 0;      // datapath port_no of the proxy (PF) port
  uint32_t unified_source_id = 0;  // its flow port id (the rte_flow metadata value)
};

// Open vSwitch's default for vhost-user ports (its tx-retries-max).
inline constexpr int kVhostTxRetries = 8;

// A vhost-user tx queue map entry for "no queue enabled: drop".
inline constexpr uint16_t kNoTxq = 0xffff;

// The vhost-user tx queue map for a guest that has enabled the device tx
// queues marked in `enabled` (one entry per logical queue, as many as
// `enabled` has): an enabled queue maps to itself, every other one to the
// enabled queues in turn, so that no device queue carries more than one
// logical queue above the fewest; all kNoTxq when none is enabled. Pure.
std::vector<uint16_t> SpreadTxqs(const std::vector<bool>& enabled);

struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0, rx_errors = 0;
  uint64_t tx_packets = 0, tx_bytes = 0, tx_dropped = 0, tx_errors = 0;
  uint64_t tx_retries = 0;  // extra transmit attempts made (see DpdkPort)
  std::vector<uint64_t> rxq_packets, txq_packets;  // per queue, where the device counts them
  std::vector<uint64_t> txq_dropped;               // per tx queue (ours, every device)
};

class DpdkPort {
 public:
  static std::unique_ptr<DpdkPort> Open(const PortConfig& config, rte_mempool* pool,
                                        Status* status);
  // A unified representor VF (config.unified_proxy != 0): no ethdev of its
  // own, no rx queues; transmits through `proxy` (which must outlive it)
  // with tx metadata = config.unified_source_id.
  static std::unique_ptr<DpdkPort> OpenUnifiedVf(const PortConfig& config, DpdkPort* proxy,
                                                 Status* status);
  ~DpdkPort();
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  uint16_t RxBurst(uint16_t q, rte_mbuf** pkts, uint16_t n) {
    return rte_eth_rx_burst(port_id_, q, pkts, n);
  }
  // Transmits up to n packets on tx queue q, retrying a partly taken burst
  // (see above); returns how many were taken. The caller owns the rest.
  uint16_t TxBurst(uint16_t q, rte_mbuf** pkts, uint16_t n) {
    if (__builtin_expect(tx_via_ != nullptr, 0)) return TxViaProxy(q, pkts, n);
    if (is_vhost_) {
      // The device queue the guest has enabled for q (see above).
      q = txqs_[q].map.load(std::memory_order_acquire);
      if (__builtin_expect(q == kNoTxq, 0)) return 0;
    } else if (!txq_shared_) {
      return TxBurstLocked(q, pkts, n);
    }
    TxQueue& t = txqs_[q];
    while (t.lock.test_and_set(std::memory_order_acquire)) __builtin_ia32_pause();
    uint16_t sent = TxBurstLocked(q, pkts, n);
    t.lock.clear(std::memory_order_release);
    return sent;
  }
  // Counts n packets the caller could not transmit on queue q and freed.
  void CountTxDropped(uint16_t q, uint32_t n) {
    txqs_[q].dropped.fetch_add(n, std::memory_order_relaxed);
  }

  const std::string& name() const { return config_.name; }
  const std::string& devargs() const { return config_.devargs; }
  uint16_t port_id() const { return port_id_; }
  uint16_t n_rxq() const { return n_rxq_; }
  uint16_t n_txq() const { return n_txq_; }
  bool txq_shared() const { return txq_shared_; }
  const std::string& driver() const { return driver_; }
  bool is_vhost() const { return is_vhost_; }
  int tx_retries() const { return tx_retries_; }
  // The device tx queue that logical queue q transmits on now (kNoTxq:
  // none; q itself for ports that are not vhost-user).
  uint16_t TxqMap(uint16_t q) const {
    return is_vhost_ ? txqs_[q].map.load(std::memory_order_acquire) : q;
  }
  // RTE_ETH_RX_METADATA_* features the device granted (0: not asked, or
  // the device cannot deliver MARK/FLAG).
  uint64_t rx_metadata_features() const { return rx_metadata_features_; }
  // Unified VF: the proxy it transmits through (nullptr for other ports).
  DpdkPort* unified_proxy() const { return tx_via_; }
  uint32_t unified_source_id() const { return config_.unified_source_id; }

  bool LinkUp() const;
  uint32_t LinkSpeedMbps() const;
  uint32_t Mtu() const;
  Status SetMtu(uint32_t mtu);
  EthAddr MacAddr() const;
  PortStats Stats() const;

 private:
  DpdkPort() = default;
  // One per tx queue, on its own cache line. `lock` is used only when the
  // queue is shared (always for vhost-user); `dropped` and `retries` are
  // written by the transmitting PMD(s), read by Stats(); `map` (vhost-user
  // only: the device queue this logical queue transmits on) is written by
  // the event callbacks under remap_mu_, read by PMDs once per burst.
  struct alignas(64) TxQueue {
    std::atomic_flag lock = ATOMIC_FLAG_INIT;
    std::atomic<uint16_t> map{kNoTxq};
    std::atomic<uint64_t> dropped{0};
    std::atomic<uint64_t> retries{0};
  };
  static_assert(sizeof(TxQueue) == 64);
  static_assert(std::atomic<uint16_t>::is_always_lock_free);

  uint16_t TxBurstLocked(uint16_t q, rte_mbuf** pkts, uint16_t n) {
    uint16_t sent = rte_eth_tx_burst(port_id_, q, pkts, n);
    if (__builtin_expect(sent < n && sent > 0 && tx_retries_ > 0, 0)) {
      sent = TxRetry(q, pkts, n, sent);
    }
    return sent;
  }
  uint16_t TxRetry(uint16_t q, rte_mbuf** pkts, uint16_t n, uint16_t sent);
  void FindQueueXstats();
  // vhost-user tx queue remapping (see above): the driver's event callback,
  // and what it does (also called once from Open).
  static int OnVhostEvent(uint16_t port_id, rte_eth_event_type type, void* arg, void* ret);
  void FollowVhostQueues(bool link_event);

  PortConfig config_;
  uint16_t port_id_ = RTE_MAX_ETHPORTS;
  uint16_t n_rxq_ = 0, n_txq_ = 0;
  bool txq_shared_ = false;
  bool probed_by_us_ = false;
  bool is_vhost_ = false;
  int tx_retries_ = 0;
  std::string driver_;
  std::unique_ptr<TxQueue[]> txqs_;
  // xstat ids of the per-queue packet counters (rx queues, then tx queues);
  // empty when the driver has none (then rte_eth_stats' q_*packets serve).
  std::vector<uint64_t> queue_xstat_ids_;
  // vhost-user: whether the event callbacks are registered (Open/~DpdkPort
  // only), and which device tx queues the guest has enabled (the event
  // callbacks and Open, under remap_mu_).
  bool vhost_events_ = false;
  std::mutex remap_mu_;
  std::vector<bool> txq_enabled_;
  // Offload. tx_via_: set only for unified VFs (immutable after Open); the
  // counters are written by transmitting PMDs, read by Stats().
  uint16_t TxViaProxy(uint16_t q, rte_mbuf** pkts, uint16_t n);
  uint64_t rx_metadata_features_ = 0;
  DpdkPort* tx_via_ = nullptr;
  std::atomic<uint64_t> vf_tx_packets_{0}, vf_tx_bytes_{0};
};

}  // namespace sluice::dp
