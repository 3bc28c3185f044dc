#include "controller/bridge_views.h"

#include <fmt/format.h>

#include <cstdlib>

#include "controller/offload_control.h"
#include "controller/stats_view.h"
#include "datapath/flow/flow_format.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ctl {
namespace {

using ofproto::Ofproto;

MgmtReply Error(std::string message) { return MgmtReply{"", {}, std::move(message)}; }

MgmtReply Done() { return MgmtReply{"", nlohmann::json::object(), ""}; }

std::string BridgeNames(const ofproto::BridgeSet* bridges) {
  std::string names;
  for (const auto& b : bridges->All()) names += (names.empty() ? "" : ", ") + b->name();
  return names.empty() ? "none" : names;
}

// Looks up the bridge params[0] names into *br; returns the error to send if
// there is none or the argument count is wrong.
std::optional<MgmtReply> CheckBridge(const ofproto::BridgeSet* bridges,
                                     std::shared_ptr<Ofproto>* br,
                                     const std::vector<std::string>& p, size_t min_args,
                                     size_t max_args, const char* usage) {
  if (p.size() < min_args || p.size() > max_args) return Error(std::string("usage: ") + usage);
  *br = bridges->Find(p[0]);
  if (!*br)
    return Error(
        fmt::format("no bridge named {} (this switch has {})", p[0], BridgeNames(bridges)));
  return std::nullopt;
}

// The bridge an optional params[0] names, or the only bridge.
std::optional<MgmtReply> OptionalBridge(const ofproto::BridgeSet* bridges,
                                        std::shared_ptr<Ofproto>* br,
                                        const std::vector<std::string>& p, const char* usage) {
  if (!p.empty()) return CheckBridge(bridges, br, p, 1, 1, usage);
  auto all = bridges->All();
  if (all.size() != 1) {
    return Error(
        fmt::format("usage: {} (this switch has bridges {})", usage, BridgeNames(bridges)));
  }
  *br = all[0];
  return std::nullopt;
}

nlohmann::json UpcallStatsJson(const Ofproto& br) {
  ofproto::OfprotoStats s = br.stats();
  return {{"bridge", br.name()},
          {"upcalls", s.upcalls},
          {"deduped", s.deduped},
          {"installed", s.installed},
          {"over_limit", s.over_limit},
          {"xlate_errors", s.xlate_errors},
          {"packet_ins", s.packet_ins},
          {"packet_outs", s.packet_outs},
          {"revalidations", s.revalidations},
          {"revalidated", s.revalidated},
          {"modified", s.modified},
          {"deleted_idle", s.deleted_idle},
          {"deleted_stale", s.deleted_stale},
          {"flow_limit", s.flow_limit},
          {"ukeys", s.ukeys},
          {"last_revalidate_ms", s.last_revalidate_ms}};
}

std::string UpcallStatsText(const Ofproto& br) {
  ofproto::OfprotoStats s = br.stats();
  return fmt::format(
      "{}: upcalls {} ({} executed with an earlier translation of their batch; "
      "installed {}, over flow limit {}, translation errors {})\n"
      "  packet-ins {}  packet-outs {}\n"
      "  megaflows tracked {}  flow limit {}\n"
      "  revalidation passes {} (last {} ms): re-translated {}, modified {}, "
      "deleted idle {}, deleted stale {}\n",
      br.name(), s.upcalls, s.deduped, s.installed, s.over_limit, s.xlate_errors, s.packet_ins,
      s.packet_outs,
      s.ukeys, s.flow_limit, s.revalidations, s.last_revalidate_ms, s.revalidated, s.modified,
      s.deleted_idle, s.deleted_stale);
}

MgmtReply FromResult(const ofproto::OfpResult& e) {
  if (e)
    return Error(fmt::format("OpenFlow error type {} code {}: {}", e->type, e->code, e->message));
  return Done();
}

MgmtReply DumpRules(Ofproto* br, const std::vector<std::string>& p) {
  ofproto::OfMatch filter = ofproto::OfMatch::CatchAll();
  uint8_t table = ofproto::kAllTables;
  if (p.size() > 1) {
    ofproto::FlowMod fm;
    Status st = ofproto::ParseFlowMod(p[1], ofproto::FlowMod::Command::kDelete, &fm);
    if (!st.ok()) return Error(st.message());
    filter = fm.match;
    table = fm.table_id;
  }
  auto rules = br->Flows(table, filter, 0, 0, ofproto::kPortAny, ofproto::kGroupAny);
  std::sort(rules.begin(), rules.end(), [](const auto& a, const auto& b) {
    if (a->table_id != b->table_id) return a->table_id < b->table_id;
    return a->priority() > b->priority();
  });
  MgmtReply r;
  r.json = nlohmann::json::array();
  uint64_t now = br->Now();
  for (const auto& rule : rules) {
    double duration = static_cast<double>(now - std::min(now, rule->created_ms)) / 1000.0;
    uint64_t packets = rule->packets.load(), bytes = rule->bytes.load();
    r.text += fmt::format(" duration={:.3f}s, n_packets={}, n_bytes={}, {}\n", duration, packets,
                          bytes, ofproto::FormatFlow(*rule));
    r.json.push_back({{"table", rule->table_id},
                      {"priority", rule->priority()},
                      {"cookie", rule->cookie},
                      {"match", ofproto::FormatOfMatch(rule->match())},
                      {"actions", ofproto::FormatOfInstructions(rule->insts)},
                      {"n_packets", packets},
                      {"n_bytes", bytes},
                      {"duration_s", duration}});
  }
  return r;
}

}  // namespace

void RegisterBridgeViews(MgmtServer* server, dp::Datapath* dp, ofproto::BridgeSet* bridges,
                         OffloadControl* offload) {
  auto megaflows = [dp, offload](const std::vector<std::string>&) {
    auto flows = dp->FlowDump();
    uint64_t now = dp::Pmd::NowMs();
    OffloadStateFn state;
    if (offload && offload->enabled()) {
      state = [offload](const dp::Ufid& ufid, std::string* why) { return offload->FlowState(ufid, why); };
    }
    return MgmtReply{DumpFlowsText(flows, now, state), DumpFlowsJson(flows, now, state), ""};
  };
  server->Register("dpctl/dump-flows", "the datapath's megaflows with their counters", megaflows);
  server->Register("dump-flows",
                   "dump-flows: megaflows; dump-flows BRIDGE [MATCH]: OpenFlow rules with counters",
                   [bridges, megaflows](const std::vector<std::string>& p) {
                     if (p.empty()) return megaflows(p);
                     std::shared_ptr<Ofproto> br;
                     if (auto e = CheckBridge(bridges, &br, p, 1, 2, "dump-flows BRIDGE [MATCH]"))
                       return *e;
                     return DumpRules(br.get(), p);
                   });
  server->Register("add-flow", "add-flow BRIDGE FLOW: add an OpenFlow rule (ovs-ofctl syntax)",
                   [bridges](const std::vector<std::string>& p) {
                     std::shared_ptr<Ofproto> br;
                     if (auto e = CheckBridge(bridges, &br, p, 2, 2, "add-flow BRIDGE FLOW"))
                       return *e;
                     ofproto::FlowMod fm;
                     Status st = ofproto::ParseFlowMod(p[1], ofproto::FlowMod::Command::kAdd, &fm);
                     if (!st.ok()) return Error(st.message());
                     return FromResult(br->FlowMod(fm));
                   });
  for (auto [name, cmd, help] : {std::tuple{"mod-flows", ofproto::FlowMod::Command::kModify,
                                            "mod-flows BRIDGE FLOW [--strict]"},
                                 std::tuple{"del-flows", ofproto::FlowMod::Command::kDelete,
                                            "del-flows BRIDGE [MATCH] [--strict]"}}) {
    server->Register(name, help,
                     [bridges, cmd = cmd, help = help](const std::vector<std::string>& p) {
                       bool strict = !p.empty() && p.back() == "--strict";
                       std::vector<std::string> args(p.begin(), p.end() - (strict ? 1 : 0));
                       bool is_del = cmd == ofproto::FlowMod::Command::kDelete;
                       std::shared_ptr<Ofproto> br;
                       if (auto e = CheckBridge(bridges, &br, args, is_del ? 1 : 2, 2, help))
                         return *e;
                       ofproto::FlowMod fm;
                       auto c = strict ? (is_del ? ofproto::FlowMod::Command::kDeleteStrict
                                                 : ofproto::FlowMod::Command::kModifyStrict)
                                       : cmd;
                       Status st = ofproto::ParseFlowMod(args.size() > 1 ? args[1] : "", c, &fm);
                       if (!st.ok()) return Error(st.message());
                       return FromResult(br->FlowMod(fm));
                     });
  }
  server->Register("add-group", "add-group BRIDGE GROUP: add a group (ovs-ofctl syntax)",
                   [bridges](const std::vector<std::string>& p) {
                     std::shared_ptr<Ofproto> br;
                     if (auto e = CheckBridge(bridges, &br, p, 2, 2, "add-group BRIDGE GROUP"))
                       return *e;
                     ofproto::GroupMod gm;
                     Status st =
                         ofproto::ParseGroupMod(p[1], ofproto::GroupMod::Command::kAdd, &gm);
                     if (!st.ok()) return Error(st.message());
                     return FromResult(br->GroupMod(gm));
                   });
  server->Register(
      "del-groups", "del-groups BRIDGE [group_id=N]", [bridges](const std::vector<std::string>& p) {
        std::shared_ptr<Ofproto> br;
        if (auto e = CheckBridge(bridges, &br, p, 1, 2, "del-groups BRIDGE [group_id=N]"))
          return *e;
        ofproto::GroupMod gm;
        Status st = ofproto::ParseGroupMod(p.size() > 1 ? p[1] : "group_id=all",
                                           ofproto::GroupMod::Command::kDelete, &gm);
        if (!st.ok()) return Error(st.message());
        return FromResult(br->GroupMod(gm));
      });
  server->Register("dump-groups", "dump-groups BRIDGE",
                   [bridges](const std::vector<std::string>& p) {
                     std::shared_ptr<Ofproto> br;
                     if (auto e = CheckBridge(bridges, &br, p, 1, 1, "dump-groups BRIDGE"))
                       return *e;
                     MgmtReply r;
                     r.json = nlohmann::json::array();
                     for (const auto& g : br->Groups()) {
                       std::string text = ofproto::FormatGroup(g);
                       r.text += " " + text + "\n";
                       r.json.push_back({{"group_id", g.id}, {"text", text}});
                     }
                     return r;
                   });
  server->Register(
      "dump-tables", "dump-tables BRIDGE: per-table rule counts, lookups and matches",
      [bridges](const std::vector<std::string>& p) {
        std::shared_ptr<Ofproto> br;
        if (auto e = CheckBridge(bridges, &br, p, 1, 1, "dump-tables BRIDGE")) return *e;
        MgmtReply r;
        r.json = nlohmann::json::array();
        for (int t = 0; t < ofproto::kNumTables; ++t) {
          ofproto::TableStats s = br->TableStatsOf(static_cast<uint8_t>(t));
          if (s.active == 0 && s.lookups == 0) continue;
          r.text += fmt::format("  table {}: active={}, lookup={}, matched={}\n", t, s.active,
                                s.lookups, s.matched);
          r.json.push_back(
              {{"table", t}, {"active", s.active}, {"lookups", s.lookups}, {"matched", s.matched}});
        }
        return r;
      });
  server->Register(
      "trace", "trace BRIDGE FLOW: how a packet would be processed, and its megaflow",
      [bridges](const std::vector<std::string>& p) {
        std::shared_ptr<Ofproto> br;
        if (auto e = CheckBridge(bridges, &br, p, 2, 2,
                                 "trace BRIDGE FLOW (e.g. in_port=1,udp,nw_dst=10.0.0.1)"))
          return *e;
        ofproto::OfMatch m;
        Status st = ofproto::ParseOfMatch(p[1], &m);
        if (!st.ok()) return Error(st.message());
        MgmtReply r;
        r.json = nlohmann::json::array();
        for (const auto& line : br->Trace(m.value, &m.mask)) {
          r.text += line + "\n";
          r.json.push_back(line);
        }
        return r;
      });
  server->Register(
      "upcall-stats",
      "upcall-stats [BRIDGE]: slow path: upcalls, megaflows installed, revalidation, flow limit",
      [bridges](const std::vector<std::string>& p) {
        MgmtReply r;
        if (!p.empty()) {
          std::shared_ptr<Ofproto> br;
          if (auto e = CheckBridge(bridges, &br, p, 1, 1, "upcall-stats [BRIDGE]")) return *e;
          r.json = UpcallStatsJson(*br);
          r.text = UpcallStatsText(*br);
          return r;
        }
        // Every bridge, with the counters summed at the top level.
        r.json = {{"bridges", nlohmann::json::array()}};
        for (const auto& br : bridges->All()) {
          nlohmann::json j = UpcallStatsJson(*br);
          for (const auto& [k, v] : j.items()) {
            if (v.is_number() && k != "flow_limit" && k != "last_revalidate_ms") {
              r.json[k] = r.json.value(k, uint64_t{0}) + v.get<uint64_t>();
            }
          }
          r.json["bridges"].push_back(std::move(j));
          r.text += UpcallStatsText(*br);
        }
        return r;
      });
  // Static MAC entries, as `ovs-appctl fdb/add BRIDGE PORT VLAN MAC`.
  server->Register(
      "fdb/add", "fdb/add BRIDGE PORT VLAN MAC: a static MAC entry (PORT by name or number)",
      [bridges, dp](const std::vector<std::string>& p) {
        std::shared_ptr<Ofproto> br;
        if (auto e = CheckBridge(bridges, &br, p, 4, 4, "fdb/add BRIDGE PORT VLAN MAC")) return *e;
        uint32_t port = 0;
        for (const auto& x : dp->Ports()) {
          if (x.name == p[1] || std::to_string(x.port_no) == p[1]) port = x.port_no;
        }
        if (port == 0 || bridges->BridgeOf(port) != br->name()) {
          return Error(fmt::format("{} has no port {}", br->name(), p[1]));
        }
        char* end = nullptr;
        unsigned long vlan = std::strtoul(p[2].c_str(), &end, 10);
        if (p[2].empty() || *end != '\0' || vlan > 4095) return Error("bad VLAN " + p[2] + " (0-4095)");
        dp::EthAddr mac;
        if (!dp::ParseEthAddr(p[3], &mac)) return Error("bad MAC " + p[3]);
        if (!br->mac().AddStatic(mac, static_cast<uint16_t>(vlan), port)) {
          return Error("cannot add " + p[3] + ": multicast MAC, or the table is full of static entries");
        }
        return Done();
      });
  server->Register("fdb/del", "fdb/del BRIDGE VLAN MAC: remove a MAC entry, static or learned",
                   [bridges](const std::vector<std::string>& p) {
                     std::shared_ptr<Ofproto> br;
                     if (auto e = CheckBridge(bridges, &br, p, 3, 3, "fdb/del BRIDGE VLAN MAC")) return *e;
                     char* end = nullptr;
                     unsigned long vlan = std::strtoul(p[1].c_str(), &end, 10);
                     dp::EthAddr mac;
                     if (p[1].empty() || *end != '\0' || vlan > 4095 || !dp::ParseEthAddr(p[2], &mac)) {
                       return Error("usage: fdb/del BRIDGE VLAN MAC");
                     }
                     if (!br->mac().Delete(mac, static_cast<uint16_t>(vlan))) {
                       return Error(fmt::format("no entry for {} on VLAN {}", p[2], vlan));
                     }
                     return Done();
                   });
  server->Register("fdb/flush", "fdb/flush [BRIDGE]: forget learned MAC entries (static ones stay)",
                   [bridges](const std::vector<std::string>& p) {
                     std::vector<std::shared_ptr<Ofproto>> which;
                     if (p.empty()) {
                       which = bridges->All();
                     } else {
                       std::shared_ptr<Ofproto> br;
                       if (auto e = CheckBridge(bridges, &br, p, 1, 1, "fdb/flush [BRIDGE]")) return *e;
                       which.push_back(br);
                     }
                     for (const auto& br : which) br->mac().Flush();
                     return Done();
                   });
  server->Register("fdb/show", "fdb/show [BRIDGE]: the MAC learning table of a bridge",
                   [bridges](const std::vector<std::string>& p) {
                     std::shared_ptr<Ofproto> br;
                     if (auto e = OptionalBridge(bridges, &br, p, "fdb/show [BRIDGE]")) return *e;
                     MgmtReply r;
                     r.json = nlohmann::json::array();
                     r.text = " port  VLAN  MAC                Age\n";
                     for (const auto& e : br->mac().Dump(br->Now())) {
                       std::string mac =
                           fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", e.mac.b[0],
                                       e.mac.b[1], e.mac.b[2], e.mac.b[3], e.mac.b[4], e.mac.b[5]);
                       r.text += fmt::format(
                           "{:5}  {:4}  {}  {}\n", e.port, e.vlan, mac,
                           e.is_static ? std::string("static") : std::to_string(e.age_ms / 1000));
                       r.json.push_back({{"port", e.port},
                                         {"vlan", e.vlan},
                                         {"mac", mac},
                                         {"static", e.is_static},
                                         {"age_s", e.age_ms / 1000}});
                     }
                     return r;
                   });
}

}  // namespace sluice::ctl
