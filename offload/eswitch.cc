#include "offload/eswitch.h"

#include <fmt/format.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "offload/eswitch_packet.h"

namespace sluice::offload {

using namespace esw_detail;

namespace {

constexpr unsigned kBurst = 32;

bool Contains(const std::vector<rte_flow_item_type>& v, rte_flow_item_type t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}
bool Contains(const std::vector<rte_flow_action_type>& v, rte_flow_action_type t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

int Err(rte_flow_error* error, int code, rte_flow_error_type type, const void* cause,
        const char* msg) {
  return rte_flow_error_set(error, code, type, cause, msg);
}

}  // namespace

// --- Construction -------------------------------------------------------------

rte_ring* Eswitch::NewRing(const std::string& name, unsigned slots) {
  const ssize_t size = rte_ring_get_memsize(slots);
  if (size < 0) return nullptr;
  auto* r = static_cast<rte_ring*>(rte_zmalloc("eswitch_ring", size, RTE_CACHE_LINE_SIZE));
  if (r == nullptr) return nullptr;
  // Rings are private (rte_ring_init, no memzone), so a thousand VFs do not
  // use up the EAL's memzone table.
  if (rte_ring_init(r, name.c_str(), slots, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
    rte_free(r);
    return nullptr;
  }
  rings_.push_back(r);
  ring_bytes_ += static_cast<size_t>(size);
  return r;
}

Status Eswitch::NewEthdev(const std::string& name, rte_ring* rx, rte_ring* tx, bool start,
                          uint16_t* id) {
  int rc = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0);
  if (rc < 0)
    return Status::Errorf("eswitch: cannot create ethdev {}: {}", name, rte_strerror(rte_errno));
  *id = static_cast<uint16_t>(rc);
  ethdevs_.push_back(*id);
  if (!start) return Status::Ok();
  if (config_.pool == nullptr) return Status::Errorf("eswitch: starting ethdevs needs a pool");
  rte_eth_conf conf{};
  rc = rte_eth_dev_configure(*id, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(*id, 0, 512, 0, nullptr, config_.pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(*id, 0, 512, 0, nullptr);
  if (rc == 0) rc = rte_eth_dev_start(*id);
  if (rc != 0)
    return Status::Errorf("eswitch: cannot start ethdev {}: {}", name, rte_strerror(-rc));
  return Status::Ok();
}

std::unique_ptr<Eswitch> Eswitch::Create(const EswitchConfig& config, Status* status) {
  std::unique_ptr<Eswitch> esw(new Eswitch(config));
  *status = esw->Init();
  if (!status->ok()) return nullptr;
  return esw;
}

Status Eswitch::Init() {
  static std::atomic<int> serial{0};
  serial_ = serial.fetch_add(1);
  const std::string base = fmt::format("esw{}", serial_);
  if (config_.unified) {
    if (rte_flow_dynf_metadata_register() != 0) {
      return Status::Errorf("eswitch: cannot register the metadata dynfield: {}",
                            rte_strerror(rte_errno));
    }
    meta_offset_ = rte_flow_dynf_metadata_offs;
    meta_flag_ = rte_flow_dynf_metadata_mask;
  }
  // The proxy: the PF, the uplink's representor, the unified rx port.
  Facing proxy;
  proxy.name = base + "p";
  proxy.rx = NewRing(base + "prx", config_.sluice_ring_size);
  proxy.tx = NewRing(base + "ptx", config_.sluice_ring_size);
  if (!proxy.rx || !proxy.tx) return Status::Error("eswitch: out of memory for rings");
  SLUICE_RETURN_IF_ERROR(
      NewEthdev(proxy.name, proxy.rx, proxy.tx, config_.start_ethdevs, &proxy.ethdev));
  facing_.push_back(proxy);

  vports_.resize(1 + config_.n_vfs);
  for (uint16_t v = 0; v < vports_.size(); ++v) {
    Vport& vp = vports_[v];
    vp.in = NewRing(fmt::format("{}i{}", base, v), config_.ring_size);
    vp.out = NewRing(fmt::format("{}o{}", base, v), config_.ring_size);
    if (!vp.in || !vp.out) return Status::Error("eswitch: out of memory for rings");
    if (config_.outside_ethdevs) {
      // The outside's rx is what the switch delivers, its tx what it sends.
      SLUICE_RETURN_IF_ERROR(NewEthdev(fmt::format("{}x{}", base, v), vp.out, vp.in,
                                       config_.pool != nullptr, &vp.outside_ethdev));
    }
    if (v == kUplink) {
      vp.flow_port_id = facing_[0].ethdev;
      vp.facing = 0;
    } else if (config_.unified) {
      vp.flow_port_id = static_cast<uint16_t>(kVirtualPortBase + v);
      vp.facing = 0;
    } else {
      Facing rep;
      rep.name = fmt::format("{}r{}", base, v);
      rep.vport = v;
      rep.rx = NewRing(rep.name + "rx", config_.sluice_ring_size);
      rep.tx = NewRing(rep.name + "tx", config_.sluice_ring_size);
      if (!rep.rx || !rep.tx) return Status::Error("eswitch: out of memory for rings");
      SLUICE_RETURN_IF_ERROR(
          NewEthdev(rep.name, rep.rx, rep.tx, config_.start_ethdevs, &rep.ethdev));
      vp.flow_port_id = rep.ethdev;
      vp.facing = static_cast<uint16_t>(facing_.size());
      facing_.push_back(rep);
    }
  }
  for (uint16_t v = 0; v < config_.wire_devargs.size() && v < vports_.size(); ++v) {
    if (!config_.wire_devargs[v].empty()) SLUICE_RETURN_IF_ERROR(OpenWire(v, config_.wire_devargs[v]));
  }
  return Status::Ok();
}

Status Eswitch::OpenWire(uint16_t vport, const std::string& devargs) {
  if (config_.pool == nullptr) return Status::Errorf("eswitch: wire {} needs a pool", devargs);
  int rc = rte_dev_probe(devargs.c_str());
  if (rc < 0) {
    return Status::Errorf("eswitch: cannot probe wire '{}': {}", devargs, rte_strerror(-rc));
  }
  const std::string name = devargs.substr(0, devargs.find(','));
  uint16_t id;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
    rte_eal_hotplug_remove("vdev", name.c_str());
    return Status::Errorf("eswitch: wire '{}' probed but no ethdev named {}", devargs, name);
  }
  vports_[vport].wire_ethdev = id;
  wired_.push_back(vport);
  rte_eth_conf conf{};
  rc = rte_eth_dev_configure(id, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(id, 0, 512, 0, nullptr, config_.pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(id, 0, 512, 0, nullptr);
  if (rc == 0) rc = rte_eth_dev_start(id);
  if (rc != 0) return Status::Errorf("eswitch: cannot start wire {}: {}", name, rte_strerror(-rc));
  rte_eth_promiscuous_enable(id);
  return Status::Ok();
}

unsigned Eswitch::PollWires() {
  unsigned moved = 0;
  rte_mbuf* burst[kBurst];
  for (uint16_t v : wired_) {
    const uint16_t id = vports_[v].wire_ethdev;
    const uint16_t n = rte_eth_rx_burst(id, 0, burst, kBurst);
    for (uint16_t i = 0; i < n; ++i) FromOutside(v, burst[i]);
    moved += n;
  }
  for (uint16_t v : wired_) {
    const uint16_t id = vports_[v].wire_ethdev;
    const unsigned n =
        rte_ring_dequeue_burst(vports_[v].out, reinterpret_cast<void**>(burst), kBurst, nullptr);
    if (n == 0) continue;
    const uint16_t sent = rte_eth_tx_burst(id, 0, burst, static_cast<uint16_t>(n));
    for (unsigned i = sent; i < n; ++i) rte_pktmbuf_free(burst[i]);
    stats_.dropped_full += n - sent;
    moved += n;
  }
  return moved;
}

Eswitch::Eswitch(const EswitchConfig& config) : config_(config) {}

Eswitch::~Eswitch() {
  StopThread();
  {
    std::lock_guard<std::mutex> l(mu_);
    rules_.clear();
  }
  for (uint16_t v : wired_) {
    const uint16_t id = vports_[v].wire_ethdev;
    rte_eth_dev_info info;
    rte_device* dev = rte_eth_dev_info_get(id, &info) == 0 ? info.device : nullptr;
    rte_eth_dev_stop(id);
    rte_eth_dev_close(id);
    if (dev != nullptr) rte_dev_remove(dev);
  }
  for (uint16_t id : ethdevs_) {
    if (!rte_eth_dev_is_valid_port(id)) continue;  // Sluice's DpdkPort closed it
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(id, name) != 0) continue;
    rte_eth_dev_stop(id);
    rte_vdev_uninit(name);
  }
  for (rte_ring* r : rings_) {
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_free(r);
  }
}

uint16_t Eswitch::representor_port_id(uint16_t vport) const {
  return facing_[vports_[vport].facing].ethdev;
}

std::string Eswitch::devargs(uint16_t ethdev) const {
  char name[RTE_ETH_NAME_MAX_LEN];
  if (rte_eth_dev_get_name_by_port(ethdev, name) != 0) return "";
  return name;
}

bool Eswitch::VportOf(uint16_t flow_port_id, uint16_t* vport) const {
  if (config_.unified && flow_port_id >= kVirtualPortBase) {
    const uint32_t v = flow_port_id - kVirtualPortBase;
    if (v == 0 || v >= vports_.size()) return false;
    *vport = static_cast<uint16_t>(v);
    return true;
  }
  for (uint16_t v = 0; v < vports_.size(); ++v) {
    if (vports_[v].flow_port_id == flow_port_id) {
      *vport = v;
      return true;
    }
  }
  return false;
}

OffloadPort Eswitch::PortInfo(uint16_t vport) const {
  OffloadPort p;
  p.domain_id = config_.domain_id;
  p.flow_port_id = vports_[vport].flow_port_id;
  p.rx_port_id = representor_port_id(vport);
  p.proxy_port_id = proxy_port_id();
  p.n_rxq = 1;
  // In unified mode the uplink's misses share the proxy too: its partial
  // rules need the source match as much as a VF's.
  p.unified = config_.unified;
  return p;
}

const Eswitch::Facing* Eswitch::FacingByEthdev(uint16_t ethdev) const {
  for (const Facing& f : facing_) {
    if (f.ethdev == ethdev) return &f;
  }
  return nullptr;
}

unsigned Eswitch::InjectFromOutside(uint16_t vport, rte_mbuf** pkts, unsigned n) {
  return rte_ring_enqueue_burst(vports_[vport].in, reinterpret_cast<void**>(pkts), n, nullptr);
}

unsigned Eswitch::ReceiveOutside(uint16_t vport, rte_mbuf** pkts, unsigned n) {
  return rte_ring_dequeue_burst(vports_[vport].out, reinterpret_cast<void**>(pkts), n, nullptr);
}

// --- Validation -----------------------------------------------------------------

int Eswitch::PickTransferProxy(uint16_t port_id, uint16_t* proxy, rte_flow_error* error) const {
  if (FacingByEthdev(port_id) == nullptr) {
    return Err(error, ENODEV, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr,
               "not a port of this switch");
  }
  *proxy = proxy_port_id();
  return 0;
}

int Eswitch::CheckRule(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item pattern[],
                       const rte_flow_action actions[], rte_flow_error* error) const {
  if (attr == nullptr)
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ATTR, nullptr, "no attributes");
  const Facing* facing = FacingByEthdev(port_id);
  if (facing == nullptr)
    return Err(error, ENODEV, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "unknown port");
  if (attr->egress)
    return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_EGRESS, attr, "egress rules not supported");
  if (attr->group != 0)
    return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_GROUP, attr, "only group 0");
  if (attr->transfer == attr->ingress) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ATTR, attr, "exactly one of ingress/transfer");
  }
  const bool transfer = attr->transfer;
  if (transfer && port_id != proxy_port_id()) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ATTR_TRANSFER, attr,
               "transfer rules go to the transfer proxy");
  }
  if (pattern == nullptr || actions == nullptr) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "null pattern or actions");
  }

  bool source = false;
  int rank = 0, vlans = 0, l3 = 0;  // l3: 4 or 6
  for (const rte_flow_item* it = pattern; it->type != RTE_FLOW_ITEM_TYPE_END; ++it) {
    if (it->type == RTE_FLOW_ITEM_TYPE_VOID) continue;
    if (it->type == RTE_FLOW_ITEM_TYPE_PORT_ID) {
      return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                 "PORT_ID is deprecated: use REPRESENTED_PORT");
    }
    const int r = Rank(it->type);
    if (r < 0 || Contains(config_.unsupported_items, it->type)) {
      return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it, "item type not supported");
    }
    if ((it->mask || it->last) && !it->spec) {
      return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_SPEC, it, "mask or last without spec");
    }
    const int size = ItemSpecSize(it->type);
    if (it->last && std::memcmp(it->last, it->spec, size) != 0) {
      return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_LAST, it, "ranges not supported");
    }
    if (it->mask) {
      const auto* m = static_cast<const uint8_t*>(it->mask);
      const auto* ok = static_cast<const uint8_t*>(MaskTable(kSupported, it->type));
      for (int i = 0; i < size; ++i) {
        if (m[i] & ~ok[i]) {
          return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                     "mask not supported for this item");
        }
      }
    }
    const bool is_source = it->type == RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT ||
                           it->type == RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR;
    if (is_source) {
      if (!transfer) {
        return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it,
                   "traffic source items are for transfer rules");
      }
      if (!it->spec)
        return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_SPEC, it, "source item without spec");
      source = true;
    }
    if (it->type == RTE_FLOW_ITEM_TYPE_META && (transfer || !config_.unified)) {
      return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                 "META only on the unified proxy's ingress");
    }
    if (r < rank)
      return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "items out of layer order");
    if (r == 2) {
      if (rank < 1)
        return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "VLAN needs ETH before it");
      if (++vlans > 2)
        return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it, "more than two VLAN items");
    }
    if (r == 3) {
      if (l3) return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "two L3 items");
      l3 = it->type == RTE_FLOW_ITEM_TYPE_IPV4 ? 4 : 6;
    }
    if (r == 4) {
      if (rank == 4) return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "two L4 items");
      if (!l3) return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "L4 item needs an L3 item");
      if ((it->type == RTE_FLOW_ITEM_TYPE_ICMP && l3 != 4) ||
          (it->type == RTE_FLOW_ITEM_TYPE_ICMP6 && l3 != 6)) {
        return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it,
                   "ICMP item does not fit the IP version");
      }
    }
    if (r == 1 && rank >= 1)
      return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it, "two ETH items");
    rank = r;
  }
  if (transfer && !source) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_NUM, pattern,
               "transfer rules need a traffic source item (REPRESENTED_PORT/PORT_REPRESENTOR)");
  }

  int fates = 0;
  bool drop = false;
  for (const rte_flow_action* a = actions; a->type != RTE_FLOW_ACTION_TYPE_END; ++a) {
    if (a->type == RTE_FLOW_ACTION_TYPE_VOID) continue;
    if (Contains(config_.unsupported_actions, a->type) || ActionConfSize(a->type) < 0 ||
        a->type == RTE_FLOW_ACTION_TYPE_PORT_ID || a->type == RTE_FLOW_ACTION_TYPE_JUMP) {
      return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a, "action type not supported");
    }
    if (ActionConfSize(a->type) > 0 && a->conf == nullptr &&
        a->type != RTE_FLOW_ACTION_TYPE_COUNT) {
      return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "action needs a configuration");
    }
    switch (a->type) {
      case RTE_FLOW_ACTION_TYPE_COUNT:
        break;
      case RTE_FLOW_ACTION_TYPE_DROP:
        drop = true;
        ++fates;
        break;
      case RTE_FLOW_ACTION_TYPE_MARK:
      case RTE_FLOW_ACTION_TYPE_FLAG:
      case RTE_FLOW_ACTION_TYPE_QUEUE:
      case RTE_FLOW_ACTION_TYPE_RSS:
        if (transfer) {
          return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION, a,
                     "ingress-only action on a transfer rule");
        }
        if (a->type == RTE_FLOW_ACTION_TYPE_MARK &&
            static_cast<const rte_flow_action_mark*>(a->conf)->id > config_.max_mark) {
          return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "mark id too large");
        }
        if (a->type == RTE_FLOW_ACTION_TYPE_QUEUE) {
          if (static_cast<const rte_flow_action_queue*>(a->conf)->index >= 1) {
            return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "no such rx queue");
          }
          ++fates;
        }
        if (a->type == RTE_FLOW_ACTION_TYPE_RSS) {
          auto* rss = static_cast<const rte_flow_action_rss*>(a->conf);
          if (rss->queue_num == 0 || rss->queue == nullptr) {
            return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "RSS without queues");
          }
          for (uint32_t i = 0; i < rss->queue_num; ++i) {
            if (rss->queue[i] >= 1)
              return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "no such rx queue");
          }
          ++fates;
        }
        break;
      case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT: {
        if (!transfer)
          return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a,
                     "port actions need a transfer rule");
        uint16_t vp;
        if (!VportOf(static_cast<const rte_flow_action_ethdev*>(a->conf)->port_id, &vp)) {
          return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "no such represented port");
        }
        ++fates;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR:
        if (!transfer)
          return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a,
                     "port actions need a transfer rule");
        if (!FacingByEthdev(static_cast<const rte_flow_action_ethdev*>(a->conf)->port_id)) {
          return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a, "no such representor");
        }
        ++fates;
        break;
      default:  // VLAN and header rewrites
        if (!transfer) {
          return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a,
                     "header rewrites only on transfer rules");
        }
        break;
    }
  }
  if (drop && fates > 1)
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION, actions, "DROP with another fate");
  if (transfer && fates == 0) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_NUM, actions,
               "transfer rule without a fate action");
  }
  return 0;
}

bool Eswitch::TakeFailure(EswitchOp op, int* err) {
  Failure& f = failures_[static_cast<int>(op)];
  if (f.count == 0) return false;
  --f.count;
  *err = f.err;
  return true;
}

int Eswitch::FlowValidate(uint16_t port_id, const rte_flow_attr* attr,
                          const rte_flow_item pattern[], const rte_flow_action actions[],
                          rte_flow_error* error) {
  std::lock_guard<std::mutex> l(mu_);
  int err;
  if (TakeFailure(EswitchOp::kValidate, &err)) {
    return Err(error, err, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "injected failure");
  }
  return CheckRule(port_id, attr, pattern, actions, error);
}

EswitchFlow* Eswitch::FlowCreate(uint16_t port_id, const rte_flow_attr* attr,
                                 const rte_flow_item pattern[], const rte_flow_action actions[],
                                 rte_flow_error* error) {
  std::lock_guard<std::mutex> l(mu_);
  int err;
  if (TakeFailure(EswitchOp::kCreate, &err)) {
    Err(error, err, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "injected failure");
    return nullptr;
  }
  if (CheckRule(port_id, attr, pattern, actions, error) != 0) return nullptr;
  if (rules_.size() >= config_.max_rules) {
    Err(error, ENOSPC, RTE_FLOW_ERROR_TYPE_HANDLE, nullptr, "flow table full");
    return nullptr;
  }
  auto flow = std::make_unique<EswitchFlow>();
  if (!flow->rule.CopyFrom(port_id, *attr, pattern, actions)) {
    Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "cannot copy rule");
    return nullptr;
  }
  flow->seq = next_seq_++;
  for (const auto& a : flow->rule.actions())
    flow->has_count |= a.type == RTE_FLOW_ACTION_TYPE_COUNT;
  EswitchFlow* raw = flow.get();
  auto pos = std::upper_bound(rules_.begin(), rules_.end(), raw,
                              [](const EswitchFlow* a, const std::unique_ptr<EswitchFlow>& b) {
                                return a->rule.attr.priority < b->rule.attr.priority;
                              });
  rules_.insert(pos, std::move(flow));
  return raw;
}

int Eswitch::FlowDestroy(uint16_t port_id, EswitchFlow* flow, rte_flow_error* error) {
  std::lock_guard<std::mutex> l(mu_);
  int err;
  if (TakeFailure(EswitchOp::kDestroy, &err)) {
    return Err(error, err, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "injected failure");
  }
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (it->get() == flow && flow->rule.port_id == port_id) {
      rules_.erase(it);
      return 0;
    }
  }
  return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_HANDLE, flow, "no such flow");
}

int Eswitch::FlowQuery(uint16_t port_id, EswitchFlow* flow, const rte_flow_action* action,
                       void* data, rte_flow_error* error) {
  std::lock_guard<std::mutex> l(mu_);
  int err;
  if (TakeFailure(EswitchOp::kQuery, &err)) {
    return Err(error, err, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "injected failure");
  }
  auto it =
      std::find_if(rules_.begin(), rules_.end(), [&](const auto& r) { return r.get() == flow; });
  if (it == rules_.end() || flow->rule.port_id != port_id) {
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_HANDLE, flow, "no such flow");
  }
  if (action == nullptr || action->type != RTE_FLOW_ACTION_TYPE_COUNT) {
    return Err(error, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, action, "only COUNT can be queried");
  }
  if (!flow->has_count)
    return Err(error, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION, action, "rule has no COUNT");
  auto* q = static_cast<rte_flow_query_count*>(data);
  q->hits = flow->hits;
  q->bytes = flow->bytes;
  q->hits_set = q->bytes_set = 1;
  if (q->reset) flow->hits = flow->bytes = 0;
  return 0;
}

size_t Eswitch::rule_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return rules_.size();
}

void Eswitch::SetMaxRules(uint32_t n) {
  std::lock_guard<std::mutex> l(mu_);
  config_.max_rules = n;
}

void Eswitch::InjectFailure(EswitchOp op, int err, unsigned count) {
  std::lock_guard<std::mutex> l(mu_);
  failures_[static_cast<int>(op)] = Failure{err < 0 ? -err : err, count};
}

EswitchStats Eswitch::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

size_t Eswitch::MemoryBytes() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = sizeof(*this) + ring_bytes_ + vports_.capacity() * sizeof(Vport) +
             facing_.capacity() * sizeof(Facing);
  for (const auto& f : facing_) n += f.name.capacity();
  n += rules_.size() * (sizeof(EswitchFlow) + 1024);  // ~1 KiB of arrays per rule
  return n;
}

size_t Eswitch::SluiceSideBytes() const {
  // What Sluice polls and holds per representor: its ethdev's rings.
  size_t n = facing_.size() * (2 * rte_ring_get_memsize(config_.sluice_ring_size) + sizeof(Facing));
  for (const auto& f : facing_) n += f.name.capacity();
  return n;
}

// --- Packet processing ------------------------------------------------------------

unsigned Eswitch::Poll() {
  unsigned moved = 0;
  rte_mbuf* burst[kBurst];
  std::lock_guard<std::mutex> l(mu_);
  for (uint16_t v = 0; v < vports_.size(); ++v) {
    if (rte_ring_empty(vports_[v].in)) continue;
    const unsigned n =
        rte_ring_dequeue_burst(vports_[v].in, reinterpret_cast<void**>(burst), kBurst, nullptr);
    for (unsigned i = 0; i < n; ++i) FromOutside(v, burst[i]);
    moved += n;
  }
  for (const Facing& f : facing_) {
    const unsigned n =
        rte_ring_dequeue_burst(f.tx, reinterpret_cast<void**>(burst), kBurst, nullptr);
    for (unsigned i = 0; i < n; ++i) FromSluice(f, burst[i]);
    moved += n;
  }
  if (!wired_.empty()) moved += PollWires();
  return moved;
}

void Eswitch::StartThread() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_relaxed)) {
      if (Poll() == 0) std::this_thread::yield();
    }
  });
}

void Eswitch::StopThread() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
}

void Eswitch::FromOutside(uint16_t vport, rte_mbuf* m) {
  ++stats_.from_outside;
  MatchCtx ctx;
  ctx.src = vports_[vport].flow_port_id;
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  for (const auto& r : rules_) {
    if (!r->rule.attr.transfer) continue;
    if (MatchPattern(r->rule, d, len, ctx)) {
      ++stats_.rule_hits;
      ExecuteTransfer(r.get(), m);
      return;
    }
  }
  ++stats_.misses;
  Deliver(facing_[vports_[vport].facing], m, config_.unified, ctx.src);
}

void Eswitch::Deliver(const Facing& f, rte_mbuf* m, bool has_meta, uint32_t meta) {
  m->ol_flags &= ~(RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID | meta_flag_);
  m->port = f.ethdev;
  if (has_meta && meta_offset_ >= 0) {
    *RTE_MBUF_DYNFIELD(m, meta_offset_, uint32_t*) = meta;
    m->ol_flags |= meta_flag_;
  }
  MatchCtx ctx;
  ctx.has_meta = has_meta;
  ctx.meta = meta;
  const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = rte_pktmbuf_data_len(m);
  for (const auto& r : rules_) {
    if (!r->rule.attr.ingress || r->rule.port_id != f.ethdev) continue;
    if (!MatchPattern(r->rule, d, len, ctx)) continue;
    for (const auto& a : r->rule.actions()) {
      switch (a.type) {
        case RTE_FLOW_ACTION_TYPE_COUNT:
          ++r->hits;
          r->bytes += rte_pktmbuf_pkt_len(m);
          break;
        case RTE_FLOW_ACTION_TYPE_MARK:
          m->ol_flags |= RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID;
          m->hash.fdir.hi = static_cast<const rte_flow_action_mark*>(a.conf)->id;
          ++stats_.marked;
          break;
        case RTE_FLOW_ACTION_TYPE_FLAG:
          m->ol_flags |= RTE_MBUF_F_RX_FDIR;
          ++stats_.marked;
          break;
        case RTE_FLOW_ACTION_TYPE_DROP:
          rte_pktmbuf_free(m);
          ++stats_.dropped_rule;
          return;
        default:  // QUEUE / RSS: one rx queue
          break;
      }
    }
    break;
  }
  if (rte_ring_enqueue(f.rx, m) != 0) {
    rte_pktmbuf_free(m);
    ++stats_.dropped_full;
    return;
  }
  ++stats_.to_sluice;
}

void Eswitch::ToOutside(uint16_t vport, rte_mbuf* m) {
  m->ol_flags &= ~(RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID | meta_flag_);
  if (rte_ring_enqueue(vports_[vport].out, m) != 0) {
    rte_pktmbuf_free(m);
    ++stats_.dropped_full;
    return;
  }
  ++stats_.to_outside;
}

void Eswitch::FromSluice(const Facing& f, rte_mbuf* m) {
  ++stats_.from_sluice;
  uint16_t vport = f.vport;
  if (config_.unified && meta_offset_ >= 0 && (m->ol_flags & meta_flag_)) {
    const uint32_t dst = *RTE_MBUF_DYNFIELD(m, meta_offset_, uint32_t*);
    if (dst > 0xffff || !VportOf(static_cast<uint16_t>(dst), &vport)) {
      rte_pktmbuf_free(m);
      ++stats_.dropped_other;
      return;
    }
  }
  ToOutside(vport, m);
}

// --- EswitchBackend -----------------------------------------------------------------

BackendStatus EswitchBackend::Validate(const RteFlowRule& rule) {
  rte_flow_error error{};
  uint16_t port = rule.port_id;
  int rc = rule.attr.transfer ? esw_->PickTransferProxy(rule.port_id, &port, &error) : 0;
  if (rc == 0)
    rc = esw_->FlowValidate(port, &rule.attr, rule.pattern(), rule.action_array(), &error);
  return rc == 0 ? BackendStatus{} : BackendError(rc, "validate", error);
}

BackendStatus EswitchBackend::Create(const RteFlowRule& rule, FlowHandle* handle) {
  rte_flow_error error{};
  uint16_t port = rule.port_id;
  int rc = rule.attr.transfer ? esw_->PickTransferProxy(rule.port_id, &port, &error) : 0;
  if (rc != 0) return BackendError(rc, "pick transfer proxy", error);
  EswitchFlow* f = esw_->FlowCreate(port, &rule.attr, rule.pattern(), rule.action_array(), &error);
  if (f == nullptr) return BackendError(-rte_errno, "create", error);
  handle->port_id = port;
  handle->flow = f;
  return {};
}

BackendStatus EswitchBackend::Destroy(const FlowHandle& handle) {
  rte_flow_error error{};
  int rc = esw_->FlowDestroy(handle.port_id, static_cast<EswitchFlow*>(handle.flow), &error);
  return rc == 0 ? BackendStatus{} : BackendError(rc, "destroy", error);
}

BackendStatus EswitchBackend::QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) {
  rte_flow_error error{};
  rte_flow_query_count q{};
  q.reset = reset ? 1 : 0;
  rte_flow_action_count conf{};
  const rte_flow_action action{RTE_FLOW_ACTION_TYPE_COUNT, &conf};
  int rc =
      esw_->FlowQuery(handle.port_id, static_cast<EswitchFlow*>(handle.flow), &action, &q, &error);
  if (rc != 0) return BackendError(rc, "query", error);
  out->hits = q.hits;
  out->bytes = q.bytes;
  return {};
}

}  // namespace sluice::offload
