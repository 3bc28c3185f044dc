#include "controller/store_applier.h"

#include <spdlog/spdlog.h>

#include "controller/mgmt_server.h"

#include <set>

namespace sluice::ctl {

void StoreApplier::Apply(const StoreConfig& c, bool write_stats) {
  ApplyPmdMask(c.pmd_cpu_mask);
  std::set<std::string> wanted;
  for (const auto& b : c.bridges) {
    wanted.insert(b.name);
    if (!bridges_->bridge(b.name)) CreateBridge(b);
  }
  std::map<std::string, InterfaceState> states;
  ApplyPorts(c, &states);
  for (const auto& name : bridges_->Names()) {
    if (wanted.count(name)) continue;
    bridges_->Destroy(name);
    state_.erase(name);
    spdlog::info("bridge {} deleted (config store)", name);
  }
  std::map<std::string, ControllerState> ctrl_states;
  for (const auto& b : c.bridges) ApplyControllers(b, &ctrl_states);
  if (!write_stats) {
    for (auto& [u, st] : states) st.statistics = last_stats_[u];
  } else {
    for (auto& [u, st] : states) last_stats_[u] = st.statistics;
  }
  db::Json ops = writer_.Update(states, ctrl_states, c.root_uuid, c.next_cfg);
  if (!ops.empty()) {
    replica_->Transact(ops, [](const db::Json&, const std::string& error) {
      if (!error.empty()) spdlog::warn("writing runtime state to the store: {}", error);
    });
  }
}

void StoreApplier::ApplyPmdMask(const std::string& mask) {
  if (mask.empty() || mask == pmd_mask_) return;
  pmd_mask_ = mask;
  std::vector<int> cores;
  if (Status st = ParseCpuMask(mask, &cores); !st.ok()) {
    spdlog::error("other_config:pmd-cpu-mask: {}", st.message());
    return;
  }
  if (Status st = dp_->SetPmdCores(cores); !st.ok()) {
    spdlog::error("other_config:pmd-cpu-mask={}: {}", mask, st.message());
    return;
  }
  spdlog::info("PMD threads now on core(s) {}", fmt::join(cores, ","));
}

void StoreApplier::CreateBridge(const StoreBridge& b) {
  ofproto::OfprotoOptions bo;
  bo.name = b.name;
  ConnMgrOptions cmo;
  cmo.controllers = b.controllers;
  cmo.fail_mode = b.fail_mode;
  cmo.tls = TlsOptions{o_.private_key, o_.certificate, o_.ca_cert};
  cmo.fail_open_delay_ms = o_.fail_open_delay_ms;
  if (Status st = bridges_->Create(bo, cmo); !st.ok()) {
    // A bad controller target or TLS file: run the bridge without them.
    spdlog::error("bridge {}: {}; starting it without controllers", b.name, st.message());
    cmo.controllers.clear();
    if (Status again = bridges_->Create(bo, cmo); !again.ok()) {
      spdlog::error("bridge {}: {}", b.name, again.message());
      return;
    }
  }
  state_[b.name] = BridgeState{b.fail_mode, b.controllers};  // a failure is not retried in a loop
  bool active = false;
  for (const auto& c : b.controllers) {
    std::string error;
    auto t = ParseTarget(c.target, 6653, &error);
    active |= t && !t->passive;
  }
  if (b.fail_mode == "standalone" && !active) {
    ofproto::FlowMod fm;
    fm.priority = 0;
    fm.insts = ofproto::Instructions::Apply({ofproto::OfAction::Output(ofproto::kPortNormal)});
    if (auto e = bridges_->bridge(b.name)->FlowMod(fm))
      spdlog::error("default NORMAL rule: {}", e->message);
  }
  spdlog::info("bridge {} created (config store, fail mode {})", b.name, b.fail_mode);
}

StoreApplier::Resolved StoreApplier::Resolve(const StoreConfig& c, const StoreInterface& i) {
  PortTypeRequest req;
  req.type = i.type;
  req.name = i.name;
  req.options = i.options;
  req.vhost_sock_dir = c.vhost_sock_dir;
  req.vhost_sock_mode = c.vhost_sock_mode;
  req.run_dir = RunDir();
  if (i.type == "dpdkvhostuser" || i.type == "dpdkvhostuserclient") {
    auto it = vhost_index_.find(i.name);
    if (it == vhost_index_.end()) {
      it = vhost_index_.emplace(i.name, static_cast<uint32_t>(vhost_index_.size())).first;
    }
    req.index = it->second;
  }
  Resolved r;
  if (Status st = InterfacePortSpec(req, &r.spec); !st.ok()) r.error = st.message();
  return r;
}

void StoreApplier::ApplyPorts(const StoreConfig& c, std::map<std::string, InterfaceState>* states) {
  // What should run: every supported interface of a bridge that runs.
  std::map<std::string, std::string> want;  // interface -> its bridge
  std::map<std::string, Resolved> resolved;  // by interface name
  for (const auto& b : c.bridges) {
    for (const auto& i : b.interfaces) {
      Resolved& r = resolved[i.name] = Resolve(c, i);
      if (r.error.empty() && bridges_->bridge(b.name)) want.emplace(i.name, b.name);
    }
  }
  ofproto::BridgeSet* set = bridges_->set();
  // Remove ports that are gone, changed devargs or changed bridge.
  for (const auto& p : dp_->Ports()) {
    std::string owner = set->BridgeOf(p.port_no);
    auto it = want.find(p.name);
    if (it != want.end() && resolved[p.name].spec.devargs == p.devargs && it->second == owner) {
      continue;
    }
    if (auto br = bridges_->bridge(owner)) br->RemovePort(p.port_no);
    set->DetachPort(p.port_no);
    if (Status st = dp_->DelPort(p.port_no); !st.ok()) spdlog::error("{}", st.message());
    vlan_.erase(p.name);
    spdlog::info("port {} removed from {} (config store)", p.name,
                 owner.empty() ? "the datapath" : owner);
  }
  std::map<std::string, dp::PortInfo> present;
  for (auto& p : dp_->Ports()) present[p.name] = p;
  for (const auto& b : c.bridges) {
    auto br = bridges_->bridge(b.name);
    for (const auto& i : b.interfaces) {
      InterfaceState& st = (*states)[i.uuid];
      const PortSpec& spec = resolved[i.name].spec;
      st.error = br ? resolved[i.name].error : "bridge " + b.name + " could not be created";
      if (!st.error.empty()) continue;
      auto it = present.find(i.name);
      if (it == present.end()) {
        auto f = failed_.find(i.name);
        if (f != failed_.end() && f->second.first == spec.devargs) {
          st.error = f->second.second;  // remembered, not retried until the config changes
          continue;
        }
        dp::PortConfig pc;
        pc.name = i.name;
        pc.devargs = spec.devargs;
        pc.n_rxq = spec.n_rxq ? spec.n_rxq : o_.n_rxq;
        pc.tx_retries = spec.tx_retries;
        pc.mtu = i.mtu_request;
        uint32_t no = i.ofport_request;
        Status s = PrepareVhostSocket(spec);
        if (s.ok()) s = dp_->AddPort(pc, &no);
        if (!s.ok()) {
          failed_[i.name] = {spec.devargs, s.message()};
          st.error = s.message();
          spdlog::error("port {}: {}", i.name, s.message());
          continue;
        }
        if (Status m = FinishVhostSocket(spec); !m.ok()) spdlog::warn("port {}: {}", i.name, m.message());
        failed_.erase(i.name);
        set->AttachPort(no, b.name);
        spdlog::info("port {} added to {} as OpenFlow port {} (config store)", i.name, b.name, no);
        for (auto& p : dp_->Ports()) {
          if (p.port_no == no) it = present.emplace(p.name, p).first;
        }
        if (it == present.end()) continue;
      }
      const dp::PortInfo& p = it->second;
      auto vlan = std::make_pair(i.tag, i.trunks);
      auto v = vlan_.find(i.name);
      if (v == vlan_.end() || v->second != vlan) {
        br->SetPort(ofproto::XlatePort{p.port_no, p.link_up, i.tag, i.trunks});
        vlan_[i.name] = vlan;
      }
      st.ofport = p.port_no;
      st.mtu = p.mtu;
      st.link_up = p.link_up;
      st.statistics = {{"rx_packets", static_cast<int64_t>(p.stats.rx_packets)},
                       {"rx_bytes", static_cast<int64_t>(p.stats.rx_bytes)},
                       {"rx_dropped", static_cast<int64_t>(p.stats.rx_dropped)},
                       {"rx_errors", static_cast<int64_t>(p.stats.rx_errors)},
                       {"tx_packets", static_cast<int64_t>(p.stats.tx_packets)},
                       {"tx_bytes", static_cast<int64_t>(p.stats.tx_bytes)},
                       {"tx_dropped", static_cast<int64_t>(p.stats.tx_dropped)},
                       {"tx_errors", static_cast<int64_t>(p.stats.tx_errors)}};
    }
  }
}

void StoreApplier::ApplyControllers(const StoreBridge& b,
                                    std::map<std::string, ControllerState>* states) {
  auto cm = bridges_->connmgr(b.name);
  if (!cm) return;
  BridgeState& bs = state_[b.name];
  if (b.controllers != bs.controllers) {
    if (Status st = cm->SetControllers(b.controllers); !st.ok()) {
      spdlog::error("bridge {} controllers: {}", b.name, st.message());
    }
    bs.controllers = b.controllers;
  }
  if (b.fail_mode != bs.fail_mode) {
    if (Status st = cm->SetFailMode(b.fail_mode); !st.ok()) spdlog::error("{}", st.message());
    bs.fail_mode = b.fail_mode;
  }
  auto conns = cm->Connections();
  for (const auto& [target, uuid] : b.controller_uuids) {
    ControllerState& s = (*states)[uuid];
    for (const auto& c : conns) {
      if (c.target != target || !c.connected) continue;
      s.connected = true;
      s.role = c.role == "equal" ? "other" : c.role;
    }
  }
}

}  // namespace sluice::ctl
