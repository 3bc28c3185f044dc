#include "datapath/port/port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace sluice::dp {
namespace {

// Finds the first ethdev port that matches `devargs`.
bool FindPort(const std::string& devargs, uint16_t* port_id) {
  rte_dev_iterator it;
  if (rte_eth_iterator_init(&it, devargs.c_str()) != 0) return false;
  uint16_t id = rte_eth_iterator_next(&it);
  rte_eth_iterator_cleanup(&it);
  if (id == RTE_MAX_ETHPORTS) return false;
  *port_id = id;
  return true;
}

}  // namespace

std::unique_ptr<DpdkPort> DpdkPort::Open(const PortConfig& config, rte_mempool* pool,
                                         Status* status) {
  std::unique_ptr<DpdkPort> port(new DpdkPort());
  port->config_ = config;
  uint16_t id;
  if (!FindPort(config.devargs, &id)) {
    int rc = rte_dev_probe(config.devargs.c_str());
    if (rc < 0) {
      *status = Status::Errorf("port {}: cannot probe device '{}': {}", config.name, config.devargs,
                               rte_strerror(-rc));
      return nullptr;
    }
    port->probed_by_us_ = true;
    if (!FindPort(config.devargs, &id)) {
      // Some drivers register under the name before the first comma only.
      std::string name = config.devargs.substr(0, config.devargs.find(','));
      if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
        *status = Status::Errorf("port {}: device '{}' probed but no ethdev port found",
                                 config.name, config.devargs);
        rte_devargs da;
        if (rte_devargs_parse(&da, config.devargs.c_str()) == 0) {
          rte_eal_hotplug_remove(rte_bus_name(da.bus), da.name);
          rte_devargs_reset(&da);
        }
        return nullptr;
      }
    }
  }
  port->port_id_ = id;

  rte_eth_dev_info info;
  int rc = rte_eth_dev_info_get(id, &info);
  if (rc != 0) {
    *status = Status::Errorf("port {}: cannot read device info: {}", config.name, rte_strerror(-rc));
    return nullptr;
  }
  port->driver_ = info.driver_name ? info.driver_name : "";
  port->is_vhost_ = port->driver_ == "net_vhost";
  // A vhost-user guest decides which of the device's queue pairs it uses:
  // poll them all.
  uint16_t want_rxq = port->is_vhost_ ? info.max_rx_queues : config.n_rxq;
  port->n_rxq_ = std::max<uint16_t>(1, std::min<uint16_t>(want_rxq, info.max_rx_queues));
  port->n_txq_ = std::max<uint16_t>(1, std::min<uint16_t>(config.n_txq, info.max_tx_queues));
  port->txq_shared_ = port->n_txq_ < config.n_txq;
  port->txqs_ = std::make_unique<TxQueue[]>(port->n_txq_);
  port->tx_retries_ = config.tx_retries >= 0 ? config.tx_retries
                      : port->is_vhost_      ? kVhostTxRetries
                                             : 0;

  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof(conf));
  // No checksum or TSO offloads are requested: for vhost-user the driver
  // then completes a guest's partial checksums in software, and TSO is only
  // negotiated with the guest when the devargs say tso=1.
  if (port->n_rxq_ > 1 && !port->is_vhost_) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  }
  rc = rte_eth_dev_configure(id, port->n_rxq_, port->n_txq_, &conf);
  if (rc != 0) {
    *status = Status::Errorf("port {}: cannot configure {} rx / {} tx queues: {}", config.name,
                             port->n_rxq_, port->n_txq_, rte_strerror(-rc));
    return nullptr;
  }
  if (config.mtu != 0) {
    rc = rte_eth_dev_set_mtu(id, static_cast<uint16_t>(config.mtu));
    if (rc != 0) {
      *status = Status::Errorf("port {}: cannot set MTU {}: {}", config.name, config.mtu,
                               rte_strerror(-rc));
      return nullptr;
    }
  }
  uint16_t nb_rxd = config.rxq_desc, nb_txd = config.txq_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd);
  int socket = rte_eth_dev_socket_id(id);
  if (socket < 0) socket = 0;
  for (uint16_t q = 0; q < port->n_rxq_; ++q) {
    rc = rte_eth_rx_queue_setup(id, q, nb_rxd, static_cast<unsigned>(socket), nullptr, pool);
    if (rc != 0) {
      *status = Status::Errorf("port {}: rx queue {} setup failed: {}", config.name, q,
                               rte_strerror(-rc));
      return nullptr;
    }
  }
  for (uint16_t q = 0; q < port->n_txq_; ++q) {
    rc = rte_eth_tx_queue_setup(id, q, nb_txd, static_cast<unsigned>(socket), nullptr);
    if (rc != 0) {
      *status = Status::Errorf("port {}: tx queue {} setup failed: {}", config.name, q,
                               rte_strerror(-rc));
      return nullptr;
    }
  }
  rc = rte_eth_dev_start(id);
  if (rc != 0) {
    *status = Status::Errorf("port {}: cannot start device: {}", config.name, rte_strerror(-rc));
    return nullptr;
  }
  rte_eth_promiscuous_enable(id);  // a switch port sees every frame (ignored where unsupported)
  port->FindQueueXstats();
  spdlog::info("port {}: {} (driver {}, ethdev {}), {} rxq, {} txq{}, {} tx retries", config.name,
               config.devargs, port->driver_, id, port->n_rxq_, port->n_txq_,
               port->txq_shared_ ? " (shared txqs)" : "", port->tx_retries_);
  return port;
}

uint16_t DpdkPort::TxRetry(uint16_t q, rte_mbuf** pkts, uint16_t n, uint16_t sent) {
  int tries = 0;
  uint16_t last = sent;
  while (sent < n && last > 0 && tries < tx_retries_) {
    last = rte_eth_tx_burst(port_id_, q, pkts + sent, static_cast<uint16_t>(n - sent));
    sent = static_cast<uint16_t>(sent + last);
    ++tries;
  }
  txqs_[q].retries.fetch_add(static_cast<uint64_t>(tries), std::memory_order_relaxed);
  return sent;
}

// Drivers with per-queue counters of their own (net_vhost's per-virtqueue
// statistics) name them rx_q<N>_good_packets / tx_q<N>_good_packets; their
// ids are looked up once here so that Stats() reads them by id.
void DpdkPort::FindQueueXstats() {
  std::vector<uint64_t> ids;
  for (const char* dir : {"rx", "tx"}) {
    uint16_t n = dir[0] == 'r' ? n_rxq_ : n_txq_;
    for (uint16_t q = 0; q < n; ++q) {
      std::string name = std::string(dir) + "_q" + std::to_string(q) + "_good_packets";
      uint64_t id;
      if (rte_eth_xstats_get_id_by_name(port_id_, name.c_str(), &id) != 0) return;
      ids.push_back(id);
    }
  }
  queue_xstat_ids_ = std::move(ids);
}

DpdkPort::~DpdkPort() {
  if (port_id_ == RTE_MAX_ETHPORTS) return;
  rte_eth_dev_stop(port_id_);
  rte_eth_dev_info info;
  rte_device* dev = nullptr;
  if (rte_eth_dev_info_get(port_id_, &info) == 0) dev = info.device;
  rte_eth_dev_close(port_id_);
  if (probed_by_us_ && dev != nullptr) {
    int rc = rte_dev_remove(dev);
    if (rc != 0) spdlog::warn("port {}: device removal failed: {}", config_.name, rte_strerror(-rc));
  }
}

bool DpdkPort::LinkUp() const {
  rte_eth_link link;
  if (rte_eth_link_get_nowait(port_id_, &link) != 0) return false;
  return link.link_status == RTE_ETH_LINK_UP;
}

uint32_t DpdkPort::LinkSpeedMbps() const {
  rte_eth_link link;
  if (rte_eth_link_get_nowait(port_id_, &link) != 0) return 0;
  return link.link_speed;
}

uint32_t DpdkPort::Mtu() const {
  uint16_t mtu = 0;
  rte_eth_dev_get_mtu(port_id_, &mtu);
  return mtu;
}

Status DpdkPort::SetMtu(uint32_t mtu) {
  int rc = rte_eth_dev_set_mtu(port_id_, static_cast<uint16_t>(mtu));
  if (rc != 0) return Status::Errorf("port {}: cannot set MTU {}: {}", name(), mtu, rte_strerror(-rc));
  return Status::Ok();
}

EthAddr DpdkPort::MacAddr() const {
  rte_ether_addr a;
  EthAddr out{};
  if (rte_eth_macaddr_get(port_id_, &a) == 0) std::memcpy(out.b, a.addr_bytes, 6);
  return out;
}

PortStats DpdkPort::Stats() const {
  PortStats s;
  rte_eth_stats st;
  if (rte_eth_stats_get(port_id_, &st) != 0) return s;
  s.rx_packets = st.ipackets;
  s.rx_bytes = st.ibytes;
  s.rx_dropped = st.imissed + st.rx_nombuf;
  s.rx_errors = st.ierrors;
  s.tx_packets = st.opackets;
  s.tx_bytes = st.obytes;
  // net_vhost counts a burst's leftovers as oerrors on every attempt: with
  // retries that is neither an error nor a drop count (tx_dropped is).
  s.tx_errors = is_vhost_ ? 0 : st.oerrors;
  for (uint16_t q = 0; q < n_txq_; ++q) {
    uint64_t d = txqs_[q].dropped.load(std::memory_order_relaxed);
    s.txq_dropped.push_back(d);
    s.tx_dropped += d;
    s.tx_retries += txqs_[q].retries.load(std::memory_order_relaxed);
  }
  std::vector<uint64_t> values(queue_xstat_ids_.size());
  if (!queue_xstat_ids_.empty() &&
      rte_eth_xstats_get_by_id(port_id_, queue_xstat_ids_.data(), values.data(),
                               static_cast<unsigned>(values.size())) ==
          static_cast<int>(values.size())) {
    s.rxq_packets.assign(values.begin(), values.begin() + n_rxq_);
    s.txq_packets.assign(values.begin() + n_rxq_, values.end());
    return s;
  }
  for (uint16_t q = 0; q < n_rxq_ && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) s.rxq_packets.push_back(st.q_ipackets[q]);
  for (uint16_t q = 0; q < n_txq_ && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) s.txq_packets.push_back(st.q_opackets[q]);
  return s;
}

}  // namespace sluice::dp
