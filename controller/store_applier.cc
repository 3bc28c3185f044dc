#include "controller/store_applier.h"

#include <spdlog/spdlog.h>

#include <set>

#include "controller/mgmt_server.h"

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
  ApplyOffload(c.other_config);
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

void StoreApplier::ApplyOffload(const std::map<std::string, std::string>& other_config) {
  OffloadSettings s;
  if (Status st = ParseOffloadSettings(other_config, &s); !st.ok()) {
    if (st.message() != offload_error_)
      spdlog::error("{}; hardware offload left as it was", st.message());
    offload_error_ = st.message();
    return;
  }
  offload_error_.clear();
  offload_->Apply(s);
}

void StoreApplier::RemovePort(const dp::PortInfo& p) {
  ofproto::BridgeSet* set = bridges_->set();
  std::string owner = set->BridgeOf(p.port_no);
  if (auto br = bridges_->bridge(owner)) br->RemovePort(p.port_no);
  set->DetachPort(p.port_no);
  if (Status st = dp_->DelPort(p.port_no); !st.ok()) spdlog::error("{}", st.message());
  if (offload_->devices()) offload_->devices()->Removed(p.name);
  vlan_.erase(p.name);
  opened_.erase(p.name);
  spdlog::info("port {} removed from {} (config store)", p.name,
               owner.empty() ? "the datapath" : owner);
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
  std::map<std::string, std::string> want;   // interface -> its bridge
  std::map<std::string, Resolved> resolved;  // by interface name
  for (const auto& b : c.bridges) {
    for (const auto& i : b.interfaces) {
      Resolved& r = resolved[i.name] = Resolve(c, i);
      if (r.error.empty() && bridges_->bridge(b.name)) want.emplace(i.name, b.name);
    }
  }
  RemoveStalePorts(want, resolved);
  std::map<std::string, dp::PortInfo> present;
  for (auto& p : dp_->Ports()) present[p.name] = p;
  // Representors of a software eSwitch need their PF port: add them last.
  auto second_pass = [](const PortSpec& spec) {
    offload::EswitchDevargs a;
    return offload::IsEswitchDevargs(spec.devargs) &&
           offload::ParseEswitchDevargs(spec.devargs, &a).ok() && a.representor;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& b : c.bridges) {
      for (const auto& i : b.interfaces) {
        const Resolved& r = resolved[i.name];
        if (second_pass(r.spec) == (pass == 1))
          ApplyInterface(b, i, r, &present, &(*states)[i.uuid]);
      }
    }
  }
}

void StoreApplier::RemoveStalePorts(const std::map<std::string, std::string>& want,
                                    std::map<std::string, Resolved>& resolved) {
  // Ports that are gone, changed devargs or changed bridge; with an eSwitch
  // PF, its representors too (before it).
  offload::EswitchDevices* devices = offload_->devices();
  std::map<std::string, dp::PortInfo> ports;
  for (auto& p : dp_->Ports()) ports[p.name] = p;
  std::set<std::string> going;
  for (const auto& [name, p] : ports) {
    auto it = want.find(name);
    auto asked = opened_.find(name);
    const std::string& devargs = asked != opened_.end() ? asked->second : p.devargs;
    if (it != want.end() && resolved[name].spec.devargs == devargs &&
        it->second == bridges_->set()->BridgeOf(p.port_no)) {
      continue;
    }
    going.insert(name);
    if (devices && devices->IsPf(name)) {
      for (const auto& q : devices->DevicePorts(name)) going.insert(q);
    }
  }
  for (int pf = 0; pf < 2; ++pf) {
    for (const auto& name : going) {
      auto p = ports.find(name);
      if (p != ports.end() && (devices && devices->IsPf(name)) == (pf == 1)) RemovePort(p->second);
    }
  }
}

Status StoreApplier::OpenPort(const StoreInterface& i, const PortSpec& spec, uint32_t* no) {
  dp::PortConfig pc;
  pc.name = i.name;
  pc.devargs = spec.devargs;
  pc.n_rxq = spec.n_rxq ? spec.n_rxq : o_.n_rxq;
  pc.tx_retries = spec.tx_retries;
  pc.mtu = i.mtu_request;
  *no = i.ofport_request;
  if (!offload::IsEswitchDevargs(spec.devargs)) {
    SLUICE_RETURN_IF_ERROR(PrepareVhostSocket(spec));
    SLUICE_RETURN_IF_ERROR(dp_->AddPort(pc, no));
    if (Status m = FinishVhostSocket(spec); !m.ok())
      spdlog::warn("port {}: {}", i.name, m.message());
    return Status::Ok();
  }
  offload::EswitchDevices* devices = offload_->devices();
  if (!devices) return Status::Error("the switch is stopping");
  Status st = devices->Prepare(spec.devargs, &pc);
  if (st.ok()) st = dp_->AddPort(pc, no);
  if (!st.ok()) {
    devices->Removed(i.name);
    return st;
  }
  devices->Added(i.name, *no);
  // A PF arrived: its representors that failed for want of it may try again.
  std::string device = spec.devargs.substr(0, spec.devargs.find(',')) + ",";
  for (auto f = failed_.begin(); f != failed_.end();) {
    f = f->second.first.rfind(device, 0) == 0 ? failed_.erase(f) : std::next(f);
  }
  return Status::Ok();
}

void StoreApplier::ApplyInterface(const StoreBridge& b, const StoreInterface& i, const Resolved& r,
                                  std::map<std::string, dp::PortInfo>* present,
                                  InterfaceState* st) {
  auto br = bridges_->bridge(b.name);
  st->error = br ? r.error : "bridge " + b.name + " could not be created";
  if (!st->error.empty()) return;
  auto it = present->find(i.name);
  if (it == present->end()) {
    auto f = failed_.find(i.name);
    if (f != failed_.end() && f->second.first == r.spec.devargs) {
      st->error = f->second.second;  // remembered, not retried until the config changes
      return;
    }
    uint32_t no = 0;
    if (Status s = OpenPort(i, r.spec, &no); !s.ok()) {
      failed_[i.name] = {r.spec.devargs, s.message()};
      st->error = s.message();
      spdlog::error("port {}: {}", i.name, s.message());
      return;
    }
    failed_.erase(i.name);
    opened_[i.name] = r.spec.devargs;
    bridges_->set()->AttachPort(no, b.name);
    spdlog::info("port {} added to {} as OpenFlow port {} (config store)", i.name, b.name, no);
    for (auto& p : dp_->Ports()) {
      if (p.port_no == no) it = present->emplace(p.name, p).first;
    }
    if (it == present->end()) return;
  }
  const dp::PortInfo& p = it->second;
  auto vlan = std::make_pair(i.tag, i.trunks);
  auto v = vlan_.find(i.name);
  if (v == vlan_.end() || v->second != vlan) {
    br->SetPort(ofproto::XlatePort{p.port_no, p.link_up, i.tag, i.trunks});
    vlan_[i.name] = vlan;
  }
  st->ofport = p.port_no;
  st->mtu = p.mtu;
  st->link_up = p.link_up;
  st->statistics = {{"rx_packets", static_cast<int64_t>(p.stats.rx_packets)},
                    {"rx_bytes", static_cast<int64_t>(p.stats.rx_bytes)},
                    {"rx_dropped", static_cast<int64_t>(p.stats.rx_dropped)},
                    {"rx_errors", static_cast<int64_t>(p.stats.rx_errors)},
                    {"tx_packets", static_cast<int64_t>(p.stats.tx_packets)},
                    {"tx_bytes", static_cast<int64_t>(p.stats.tx_bytes)},
                    {"tx_dropped", static_cast<int64_t>(p.stats.tx_dropped)},
                    {"tx_errors", static_cast<int64_t>(p.stats.tx_errors)}};
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
