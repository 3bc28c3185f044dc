#include "controller/switch_bridges.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "controller/mgmt_server.h"

namespace sluice::ctl {

Status SwitchBridges::Create(const ofproto::OfprotoOptions& options,
                             const ConnMgrOptions& cm_options) {
  auto br = set_->Add(options);
  if (!br) return Status::Errorf("bridge {} exists already", options.name);
  auto cm = std::make_shared<ConnMgr>(br.get(), dp_, cm_options);
  if (Status st = cm->Start(); !st.ok()) {
    cm->Stop();
    set_->Remove(options.name);
    return st;
  }
  std::lock_guard lock(mu_);
  bridges_[options.name] = Entry{std::move(br), std::move(cm)};
  return Status::Ok();
}

void SwitchBridges::Destroy(const std::string& name) {
  Entry e;
  {
    std::lock_guard lock(mu_);
    auto it = bridges_.find(name);
    if (it == bridges_.end()) return;
    e = std::move(it->second);
    bridges_.erase(it);
  }
  e.cm->Stop();
  set_->Remove(name);
}

void SwitchBridges::DestroyAll() {
  for (const auto& name : Names()) Destroy(name);
}

std::shared_ptr<ofproto::Ofproto> SwitchBridges::bridge(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = bridges_.find(name);
  return it == bridges_.end() ? nullptr : it->second.br;
}

std::shared_ptr<ConnMgr> SwitchBridges::connmgr(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = bridges_.find(name);
  return it == bridges_.end() ? nullptr : it->second.cm;
}

std::vector<std::string> SwitchBridges::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, e] : bridges_) out.push_back(name);
  return out;
}

void RegisterControllerViews(MgmtServer* server, const SwitchBridges* bridges) {
  server->Register("controller/show",
                   "OpenFlow connections and listeners of every bridge: role, version, counters",
                   [bridges](const std::vector<std::string>&) {
                     MgmtReply r;
                     r.json = nlohmann::json::array();
                     for (const auto& name : bridges->Names()) {
                       auto cm = bridges->connmgr(name);
                       if (!cm) continue;
                       for (const auto& c : cm->Connections()) {
                         std::string version = c.version == 1 ? "1.0" : c.version == 4 ? "1.3" : "";
                         r.text +=
                             fmt::format("{}: {} {}: {}", name,
                                         c.target.empty() ? "accepted" : c.target, c.peer, c.state);
                         if (c.connected) {
                           r.text += fmt::format(
                               ", OpenFlow {}, role {}, rx {} tx {} msgs, {} errors sent, "
                               "{} packet-ins ({} dropped)",
                               version, c.role, c.rx_msgs, c.tx_msgs, c.errors_sent, c.packet_ins,
                               c.packet_ins_dropped);
                         }
                         r.text += "\n";
                         r.json.push_back({{"bridge", name},
                                           {"target", c.target},
                                           {"peer", c.peer},
                                           {"connected", c.connected},
                                           {"state", c.state},
                                           {"role", c.role},
                                           {"version", version},
                                           {"rx_msgs", c.rx_msgs},
                                           {"tx_msgs", c.tx_msgs},
                                           {"errors_sent", c.errors_sent},
                                           {"packet_ins", c.packet_ins},
                                           {"packet_ins_dropped", c.packet_ins_dropped}});
                       }
                       if (cm->fail_open_active())
                         r.text += name + ": fail-open active (no controller connected)\n";
                     }
                     return r;
                   });
}

}  // namespace sluice::ctl
