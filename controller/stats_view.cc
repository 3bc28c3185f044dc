#include "controller/stats_view.h"

#include <fmt/format.h>

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"

namespace sluice::ctl {
namespace {

double Rate(uint64_t now, uint64_t before, double dt) {
  return dt > 0 && now >= before ? static_cast<double>(now - before) / dt : 0.0;
}

const dp::PmdInfo* FindPmd(const StatsSample* s, int index) {
  if (!s) return nullptr;
  for (const auto& p : s->pmds) {
    if (p.index == index) return &p;
  }
  return nullptr;
}

const dp::PortInfo* FindPort(const StatsSample* s, uint32_t port_no) {
  if (!s) return nullptr;
  for (const auto& p : s->ports) {
    if (p.port_no == port_no) return &p;
  }
  return nullptr;
}

// Counter deltas since the previous sample (or since start).
dp::PmdCountersSnapshot Delta(const dp::PmdCountersSnapshot& now,
                              const dp::PmdCountersSnapshot* before) {
  if (!before) return now;
  dp::PmdCountersSnapshot d;
#define SLUICE_X(name, text) d.name = now.name - before->name;
  SLUICE_PMD_COUNTERS(SLUICE_X)
#undef SLUICE_X
  for (int i = 0; i < static_cast<int>(dp::ParseStatus::kCount); ++i) {
    d.parse_drops[i] = now.parse_drops[i] - before->parse_drops[i];
  }
  d.flows = now.flows;
  d.emc_state = now.emc_state;  // a gauge, like flows
  return d;
}

std::string FormatUfid(const dp::Ufid& u) {
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", u.hi >> 32, (u.hi >> 16) & 0xffff,
                     u.hi & 0xffff, u.lo >> 48, u.lo & 0xffffffffffffull);
}

std::string FormatUsed(uint64_t used_ms, uint64_t now_ms) {
  if (used_ms == 0) return "never";
  return fmt::format("{:.3f}s", static_cast<double>(now_ms - std::min(now_ms, used_ms)) / 1000.0);
}

}  // namespace

StatsSample TakeSample(const dp::Datapath& dp, double time_s) {
  StatsSample s;
  s.time_s = time_s;
  s.pmds = dp.PmdStats();
  s.ports = dp.Ports();
  return s;
}

nlohmann::json PmdStatsJson(const StatsSample& now, const StatsSample* prev) {
  nlohmann::json out = nlohmann::json::array();
  double dt = prev ? now.time_s - prev->time_s : 0;
  for (const auto& p : now.pmds) {
    const dp::PmdInfo* before = FindPmd(prev, p.index);
    dp::PmdCountersSnapshot d = Delta(p.counters, before ? &before->counters : nullptr);
    nlohmann::json j;
    j["index"] = p.index;
    j["core"] = p.core;
#define SLUICE_X(name, text) j[#name] = p.counters.name;
    SLUICE_PMD_COUNTERS(SLUICE_X)
#undef SLUICE_X
    nlohmann::json drops = nlohmann::json::object();
    for (int i = 1; i < static_cast<int>(dp::ParseStatus::kCount); ++i) {
      drops[dp::ParseStatusName(static_cast<dp::ParseStatus>(i))] = p.counters.parse_drops[i];
    }
    j["parse_drops"] = drops;
    j["pps"] = Rate(p.counters.rx_packets, before ? before->counters.rx_packets : 0, dt);
    j["cycles_per_packet"] = d.CyclesPerPacket();
    j["busy_pct"] = d.busy_cycles + d.idle_cycles
                        ? 100.0 * static_cast<double>(d.busy_cycles) /
                              static_cast<double>(d.busy_cycles + d.idle_cycles)
                        : 0.0;
    j["subtables"] = p.n_subtables;
    j["emc"] = dp::EmcStateName(p.counters.emc_state);  // why emc_state is off
    j["upcall_backlog"] = p.upcall_backlog;
    nlohmann::json rxqs = nlohmann::json::array();
    for (const auto& q : p.rxqs) {
      rxqs.push_back({{"port", q.port}, {"queue", q.queue}, {"packets", q.packets}, {"cycles", q.cycles}});
    }
    j["rxqs"] = rxqs;
    out.push_back(j);
  }
  return out;
}

nlohmann::json PortsJson(const StatsSample& now, const StatsSample* prev) {
  nlohmann::json out = nlohmann::json::array();
  double dt = prev ? now.time_s - prev->time_s : 0;
  for (const auto& p : now.ports) {
    const dp::PortInfo* b = FindPort(prev, p.port_no);
    out.push_back({{"name", p.name},
                   {"port_no", p.port_no},
                   {"devargs", p.devargs},
                   {"driver", p.driver},
                   {"link_up", p.link_up},
                   {"mtu", p.mtu},
                   {"n_rxq", p.n_rxq},
                   {"n_txq", p.n_txq},
                   {"rx_packets", p.stats.rx_packets},
                   {"rx_bytes", p.stats.rx_bytes},
                   {"rx_dropped", p.stats.rx_dropped},
                   {"rx_errors", p.stats.rx_errors},
                   {"tx_packets", p.stats.tx_packets},
                   {"tx_bytes", p.stats.tx_bytes},
                   {"tx_dropped", p.stats.tx_dropped},
                   {"tx_errors", p.stats.tx_errors},
                   {"tx_retries", p.stats.tx_retries},
                   {"txq_dropped", p.stats.txq_dropped},
                   {"rxq_packets", p.stats.rxq_packets},
                   {"txq_packets", p.stats.txq_packets},
                   {"rx_pps", Rate(p.stats.rx_packets, b ? b->stats.rx_packets : 0, dt)},
                   {"tx_pps", Rate(p.stats.tx_packets, b ? b->stats.tx_packets : 0, dt)}});
  }
  return out;
}

nlohmann::json StatsJson(const StatsSample& now, const StatsSample* prev) {
  return {{"time", now.time_s}, {"pmds", PmdStatsJson(now, prev)}, {"ports", PortsJson(now, prev)}};
}

std::string PmdStatsText(const StatsSample& now, const StatsSample* prev) {
  std::string out;
  double dt = prev ? now.time_s - prev->time_s : 0;
  for (const auto& p : now.pmds) {
    const dp::PmdInfo* before = FindPmd(prev, p.index);
    dp::PmdCountersSnapshot d = Delta(p.counters, before ? &before->counters : nullptr);
    const auto& c = p.counters;
    uint64_t looked = c.emc_hits + c.dpcls_hits + c.misses;
    auto pct = [&](uint64_t v) { return looked ? 100.0 * static_cast<double>(v) / static_cast<double>(looked) : 0.0; };
    uint64_t cyc = d.busy_cycles + d.idle_cycles;
    out += fmt::format("pmd {} core {}:{}\n", p.index, p.core, p.running ? "" : " (stopped)");
    if (dt > 0) {
      out += fmt::format("  rate: {:.3f} Mpps rx, {:.1f} cycles/packet, busy {:.1f}%\n",
                         Rate(c.rx_packets, before ? before->counters.rx_packets : 0, dt) / 1e6,
                         d.CyclesPerPacket(),
                         cyc ? 100.0 * static_cast<double>(d.busy_cycles) / static_cast<double>(cyc) : 0.0);
    }
    out += fmt::format("  packets received: {}  transmitted: {}  ({:.1f} cycles/packet overall)\n",
                       c.rx_packets, c.tx_packets, c.CyclesPerPacket());
    out += fmt::format("  emc hits: {} ({:.1f}%)  megaflow hits: {} ({:.1f}%)  misses: {} ({:.1f}%)\n",
                       c.emc_hits, pct(c.emc_hits), c.dpcls_hits, pct(c.dpcls_hits), c.misses,
                       pct(c.misses));
    out += fmt::format("  emc: {}\n", dp::EmcStateName(c.emc_state));
    out += fmt::format("  upcalls: {}  lost upcalls: {}  userspace: {}  executed: {}\n", c.upcalls,
                       c.lost_upcalls, c.userspace, c.executed);
    out += fmt::format("  megaflows: {}  subtables: {}  upcall backlog: {}\n", c.flows,
                       p.n_subtables, p.upcall_backlog);
    out += fmt::format("  drops: tx {}  no-port {}  actions {}  recirc {}  malformed {}\n",
                       c.tx_dropped, c.no_port_drops, c.action_drops, c.recirc_drops,
                       c.parse_drops_total());
    for (int i = 1; i < static_cast<int>(dp::ParseStatus::kCount); ++i) {
      if (c.parse_drops[i]) {
        out += fmt::format("    malformed {}: {} ({})\n", dp::ParseStatusName(static_cast<dp::ParseStatus>(i)),
                           c.parse_drops[i], dp::ParseStatusText(static_cast<dp::ParseStatus>(i)));
      }
    }
    for (const auto& q : p.rxqs) {
      out += fmt::format("  rxq {}:{}  packets {}  cycles/packet {:.1f}\n", q.port, q.queue,
                         q.packets, q.packets ? static_cast<double>(q.cycles) / static_cast<double>(q.packets) : 0.0);
    }
  }
  return out;
}

std::string PortsText(const StatsSample& now, const StatsSample* prev) {
  std::string out;
  double dt = prev ? now.time_s - prev->time_s : 0;
  for (const auto& p : now.ports) {
    const dp::PortInfo* b = FindPort(prev, p.port_no);
    out += fmt::format("port {} {} ({}, {}): link {}, rx {} pkts", p.port_no, p.name, p.driver,
                       p.devargs.substr(0, p.devargs.find(',')), p.link_up ? "up" : "down",
                       p.stats.rx_packets);
    if (dt > 0) out += fmt::format(" ({:.3f} Mpps)", Rate(p.stats.rx_packets, b ? b->stats.rx_packets : 0, dt) / 1e6);
    out += fmt::format(", tx {} pkts", p.stats.tx_packets);
    if (dt > 0) out += fmt::format(" ({:.3f} Mpps)", Rate(p.stats.tx_packets, b ? b->stats.tx_packets : 0, dt) / 1e6);
    out += fmt::format(", rx dropped {}, tx dropped {}, errors {}/{}\n", p.stats.rx_dropped,
                       p.stats.tx_dropped, p.stats.rx_errors, p.stats.tx_errors);
  }
  return out;
}

std::string DumpFlowsText(const std::vector<dp::FlowInfo>& flows, uint64_t now_ms,
                          const OffloadStateFn& offload) {
  std::string out;
  for (const auto& f : flows) {
    std::string hw;
    if (offload) {
      std::string why, state = offload(f.ufid, &why);
      if (!state.empty()) {
        hw = fmt::format("offloaded:{}{}, ", state, why.empty() ? "" : " (" + why + ")");
      }
    }
    out += fmt::format("ufid:{}, {}, packets:{}, bytes:{}, used:{}, pmd:{}, {}actions:{}\n",
                       FormatUfid(f.ufid), dp::FormatMatch(f.key, f.mask), f.packets, f.bytes,
                       FormatUsed(f.used_ms, now_ms), f.pmd, hw,
                       dp::FormatActions(f.actions->actions()));
  }
  return out;
}

nlohmann::json DumpFlowsJson(const std::vector<dp::FlowInfo>& flows, uint64_t now_ms,
                             const OffloadStateFn& offload) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : flows) {
    std::string why, state = offload ? offload(f.ufid, &why) : "";
    out.push_back({{"ufid", FormatUfid(f.ufid)},
                   {"match", dp::FormatMatch(f.key, f.mask)},
                   {"actions", dp::FormatActions(f.actions->actions())},
                   {"packets", f.packets},
                   {"bytes", f.bytes},
                   // null: never used
                   {"used_ms_ago", f.used_ms ? nlohmann::json(now_ms - std::min(now_ms, f.used_ms))
                                             : nlohmann::json(nullptr)},
                   {"pmd", f.pmd}});
    if (!state.empty()) {
      out.back()["offloaded"] = state;
      if (!why.empty()) out.back()["offload_why"] = why;
      out.back()["hw_packets"] = f.hw_packets;
      out.back()["hw_bytes"] = f.hw_bytes;
    }
  }
  return out;
}

}  // namespace sluice::ctl
