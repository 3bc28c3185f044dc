#include "datapath/port/port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_eth_vhost.h>
#include <rte_flow.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

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

// "0,1" for the marked queues of `enabled`, "none" when there are none.
std::string QueueList(const std::vector<bool>& enabled) {
  std::string out;
  for (size_t q = 0; q < enabled.size(); ++q) {
    if (enabled[q]) out += (out.empty() ? "" : ",") + std::to_string(q);
  }
  return out.empty() ? "none" : out;
}

constexpr rte_eth_event_type kVhostEvents[] = {RTE_ETH_EVENT_QUEUE_STATE, RTE_ETH_EVENT_INTR_LSC};

}  // namespace

std::vector<uint16_t> SpreadTxqs(const std::vector<bool>& enabled) {
  std::vector<uint16_t> on;
  for (size_t q = 0; q < enabled.size(); ++q) {
    if (enabled[q]) on.push_back(static_cast<uint16_t>(q));
  }
  std::vector<uint16_t> map(enabled.size(), kNoTxq);
  size_t next = 0;
  for (size_t q = 0; q < enabled.size() && !on.empty(); ++q) {
    map[q] = enabled[q] ? static_cast<uint16_t>(q) : on[next++ % on.size()];
  }
  return map;
}

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
  if (port->is_vhost_) {
    // Tx queue remapping (port.h): nothing is enabled until the guest says
    // so. Registered before configure, which starts the vhost socket.
    port->txq_enabled_.assign(port->n_txq_, false);
    for (auto type : kVhostEvents) {
      rc = rte_eth_dev_callback_register(id, type, &DpdkPort::OnVhostEvent, port.get());
      if (rc != 0) {
        *status = Status::Errorf("port {}: cannot follow the guest's queue states: {}", config.name,
                                 rte_strerror(-rc));
        return nullptr;
      }
      port->vhost_events_ = true;
    }
  }

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
  if (config.rx_metadata) {
    // Before configure, as DPDK requires. ENOTSUP (the driver has no
    // negotiation) is no error: the port just cannot do partial offload.
    uint64_t features = RTE_ETH_RX_METADATA_USER_MARK | RTE_ETH_RX_METADATA_USER_FLAG;
    int mrc = rte_eth_rx_metadata_negotiate(id, &features);
    port->rx_metadata_features_ = mrc == 0 ? features : 0;
    if (mrc != 0 && mrc != -ENOTSUP) {
      spdlog::warn("port {}: rx metadata negotiation failed: {}", config.name, rte_strerror(-mrc));
    }
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
  // Events of a guest that came before the callbacks were registered are
  // still pending in the driver.
  if (port->is_vhost_) port->FollowVhostQueues(false);
  spdlog::info("port {}: {} (driver {}, ethdev {}), {} rxq, {} txq{}, {} tx retries", config.name,
               config.devargs, port->driver_, id, port->n_rxq_, port->n_txq_,
               port->txq_shared_ ? " (shared txqs)" : "", port->tx_retries_);
  return port;
}

std::unique_ptr<DpdkPort> DpdkPort::OpenUnifiedVf(const PortConfig& config, DpdkPort* proxy,
                                                  Status* status) {
  if (proxy == nullptr || proxy->tx_via_ != nullptr) {
    *status = Status::Errorf("port {}: the unified proxy must be an ordinary port", config.name);
    return nullptr;
  }
  if (config.unified_source_id > 0xffff) {
    *status = Status::Errorf("port {}: unified source id {} is not a flow port id (0-65535)",
                             config.name, config.unified_source_id);
    return nullptr;
  }
  // The metadata field carries the source on rx and the destination on tx.
  if (rte_flow_dynf_metadata_register() != 0) {
    *status = Status::Errorf("port {}: cannot register the rte_flow metadata field: {}",
                             config.name, rte_strerror(rte_errno));
    return nullptr;
  }
  std::unique_ptr<DpdkPort> port(new DpdkPort());
  port->config_ = config;
  port->port_id_ = proxy->port_id_;
  port->n_rxq_ = 0;
  port->n_txq_ = proxy->n_txq_;
  port->txq_shared_ = proxy->txq_shared_;
  port->driver_ = proxy->driver_;
  port->tx_retries_ = proxy->tx_retries_;
  port->txqs_ = std::make_unique<TxQueue[]>(port->n_txq_);
  port->tx_via_ = proxy;
  spdlog::info("port {}: unified VF on {} (source id {})", config.name, proxy->name(),
               config.unified_source_id);
  return port;
}

uint16_t DpdkPort::TxViaProxy(uint16_t q, rte_mbuf** pkts, uint16_t n) {
  const uint32_t id = config_.unified_source_id;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    *RTE_FLOW_DYNF_METADATA(pkts[i]) = id;
    pkts[i]->ol_flags |= RTE_MBUF_DYNFLAG_TX_METADATA;
    bytes += rte_pktmbuf_pkt_len(pkts[i]);
  }
  const uint16_t sent = tx_via_->TxBurst(q, pkts, n);
  for (uint16_t i = sent; i < n; ++i) bytes -= rte_pktmbuf_pkt_len(pkts[i]);  // the caller's
  vf_tx_packets_.fetch_add(sent, std::memory_order_relaxed);
  vf_tx_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  return sent;
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

int DpdkPort::OnVhostEvent(uint16_t, rte_eth_event_type type, void* arg, void*) {
  static_cast<DpdkPort*>(arg)->FollowVhostQueues(type == RTE_ETH_EVENT_INTR_LSC);
  return 0;
}

// Steps 1 and 2 of the remapping protocol (port.h). Runs on the vhost
// library's event thread (the driver raises both events from it, in order:
// a guest's queue enables, then LSC up; at its end LSC down) and once from
// Open.
void DpdkPort::FollowVhostQueues(bool link_event) {
  std::lock_guard lock(remap_mu_);
  std::vector<bool> enabled = txq_enabled_;
  if (link_event && !LinkUp()) {
    // The guest has gone: the driver has reset its queue states without
    // raising an event for each.
    enabled.assign(enabled.size(), false);
  }
  rte_eth_vhost_queue_event ev;
  while (rte_eth_vhost_get_queue_event(port_id_, &ev) == 0) {
    // rx: a guest transmit ring (our rx queue), always polled. Tx queues
    // beyond the configured ones (more queue pairs than PMDs) are unused.
    if (ev.rx || ev.queue_id >= n_txq_) continue;
    enabled[ev.queue_id] = ev.enable;
  }
  if (enabled == txq_enabled_) return;
  txq_enabled_ = enabled;
  std::vector<uint16_t> map = SpreadTxqs(enabled);
  std::string shown;
  for (uint16_t q = 0; q < n_txq_; ++q) {
    txqs_[q].map.store(map[q], std::memory_order_release);
    shown += (q ? " " : "") + std::to_string(q) + "->" +
             (map[q] == kNoTxq ? std::string("drop") : std::to_string(map[q]));
  }
  spdlog::info("port {}: guest has enabled tx queues {}; tx queue map {}", config_.name,
               QueueList(enabled), shown);
}

DpdkPort::~DpdkPort() {
  if (port_id_ == RTE_MAX_ETHPORTS || tx_via_ != nullptr) return;  // a VF owns no ethdev
  for (auto type : kVhostEvents) {
    if (!vhost_events_) break;
    // -EAGAIN: the callback is running on the event thread right now.
    while (rte_eth_dev_callback_unregister(port_id_, type, &DpdkPort::OnVhostEvent, this) ==
           -EAGAIN) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
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
  if (tx_via_ != nullptr) {
    // A unified VF shares the proxy's ethdev: only what it sent is its own.
    s.tx_packets = vf_tx_packets_.load(std::memory_order_relaxed);
    s.tx_bytes = vf_tx_bytes_.load(std::memory_order_relaxed);
    for (uint16_t q = 0; q < n_txq_; ++q) {
      uint64_t d = txqs_[q].dropped.load(std::memory_order_relaxed);
      s.txq_dropped.push_back(d);
      s.tx_dropped += d;
    }
    return s;
  }
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
