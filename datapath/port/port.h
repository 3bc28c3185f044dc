#pragma once
// What: DpdkPort, the `dpdk` port type: any DPDK ethdev named by devargs
// (a PCI address, net_ring, net_null, net_pcap, net_tap, net_af_packet, ...),
// with several rx/tx queues, MTU, link state and statistics.
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
// Invariants:
//   1. A port is started between Open() and Close(); RxBurst/TxBurst are only
//      called then.
//   2. Rx queue q is polled by exactly one thread at a time.
//
// Thread-safety: RxBurst on a queue from its one polling PMD; TxBurst as
// described above; stats and link reads from any thread (DPDK's are
// thread-safe for reads); Open/Close from the control thread.

#include <rte_ethdev.h>

#include <atomic>
#include <memory>
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
};

struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0, rx_errors = 0;
  uint64_t tx_packets = 0, tx_bytes = 0, tx_dropped = 0, tx_errors = 0;
  std::vector<uint64_t> rxq_packets, txq_packets;  // per queue, where the device counts them
};

class DpdkPort {
 public:
  static std::unique_ptr<DpdkPort> Open(const PortConfig& config, rte_mempool* pool,
                                        Status* status);
  ~DpdkPort();
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  uint16_t RxBurst(uint16_t q, rte_mbuf** pkts, uint16_t n) {
    return rte_eth_rx_burst(port_id_, q, pkts, n);
  }
  // Transmits up to n packets on tx queue q; returns how many were taken.
  uint16_t TxBurst(uint16_t q, rte_mbuf** pkts, uint16_t n) {
    if (!txq_shared_) return rte_eth_tx_burst(port_id_, q, pkts, n);
    TxLock& l = tx_locks_[q];
    while (l.flag.test_and_set(std::memory_order_acquire)) __builtin_ia32_pause();
    uint16_t sent = rte_eth_tx_burst(port_id_, q, pkts, n);
    l.flag.clear(std::memory_order_release);
    return sent;
  }

  const std::string& name() const { return config_.name; }
  const std::string& devargs() const { return config_.devargs; }
  uint16_t port_id() const { return port_id_; }
  uint16_t n_rxq() const { return n_rxq_; }
  uint16_t n_txq() const { return n_txq_; }
  bool txq_shared() const { return txq_shared_; }
  const std::string& driver() const { return driver_; }

  bool LinkUp() const;
  uint32_t LinkSpeedMbps() const;
  uint32_t Mtu() const;
  Status SetMtu(uint32_t mtu);
  EthAddr MacAddr() const;
  PortStats Stats() const;

 private:
  DpdkPort() = default;
  struct TxLock {
    std::atomic_flag flag = ATOMIC_FLAG_INIT;
  };
  PortConfig config_;
  uint16_t port_id_ = RTE_MAX_ETHPORTS;
  uint16_t n_rxq_ = 0, n_txq_ = 0;
  bool txq_shared_ = false;
  bool probed_by_us_ = false;
  std::string driver_;
  std::unique_ptr<TxLock[]> tx_locks_;
};

}  // namespace sluice::dp
