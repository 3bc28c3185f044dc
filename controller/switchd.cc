#include "controller/switchd.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <mutex>
#include <thread>

#include "controller/bridge_views.h"
#include "controller/connmgr.h"
#include "controller/mgmt_client.h"
#include "controller/mgmt_server.h"
#include "controller/offload_control.h"
#include "controller/pcap_writer.h"
#include "controller/port_views.h"
#include "controller/stats_view.h"
#include "controller/store_applier.h"
#include "controller/store_config.h"
#include "controller/switch_bridges.h"
#include "db/client.h"
#include "datapath/actions/actions_format.h"
#include "datapath/dpif/datapath.h"
#include "datapath/flow/flow_format.h"
#include "datapath/port/eal.h"
#include "ofproto/ofctl_parse.h"
#include "ofproto/bridge_set.h"
#include "ofproto/ofproto.h"

namespace sluice::ctl {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The built-in demo: 1000 UDP flows to ten /24s replayed from a pcap on p0,
// forwarded by prefix to two sinks; one subnet has no flow (upcalls, dropped).
Status PrepareDemo(SwitchdOptions* o) {
  std::string pcap = o->demo_dir + "/sluice-demo-" + std::to_string(getpid()) + ".pcap";
  PcapWriter w;
  SLUICE_RETURN_IF_ERROR(w.Open(pcap));
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  for (uint32_t i = 0; i < 1000; ++i) {
    uint32_t dst_ip = 0x0a000000u | (i % 10) << 8 | (i / 10 + 1);
    auto f = MakeUdpFrame(dst, src, 0xc0a80001u + i, dst_ip, static_cast<uint16_t>(1024 + i), 53);
    SLUICE_RETURN_IF_ERROR(w.Write(f.data(), static_cast<uint32_t>(f.size())));
  }
  SLUICE_RETURN_IF_ERROR(w.Close());
  o->ports = {"p0=net_pcap_demo0,rx_pcap=" + pcap + ",infinite_rx=1",
              "p1=net_null_demo1,no-rx=1", "p2=net_null_demo2,no-rx=1"};
  o->of_groups = {"group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3"};
  o->of_flows = {
      "priority=10,ip,in_port=1,nw_dst=10.0.0.0/22,actions=output:2",
      "priority=10,ip,in_port=1,nw_dst=10.0.4.0/22,actions=output:3",
      "priority=10,ip,in_port=1,nw_dst=10.0.8.0/24,actions=group:1",
  };
  spdlog::info("demo: 1000 UDP flows from {} on p0 through bridge br0: 10.0.0-3.x -> p1, "
               "10.0.4-7.x -> p2, 10.0.8.x -> group 1 (both), the rest NORMAL", pcap);
  return Status::Ok();
}

// The latest two statistics samples, taken once a second by the main loop,
// so that views can show rates.
struct Samples {
  std::mutex mu;
  StatsSample prev, latest;
};

void RegisterViews(MgmtServer* server, dp::Datapath* dp, Samples* samples) {
  server->Register("pmd-stats", "per-PMD statistics: rates over the last second, totals, hit breakdown, drops",
                   [dp, samples](const std::vector<std::string>&) {
                     std::lock_guard lock(samples->mu);
                     MgmtReply r;
                     r.text = PmdStatsText(samples->latest, &samples->prev);
                     r.json = PmdStatsJson(samples->latest, &samples->prev);
                     return r;
                   });
  server->Register("pmd-rxq-show", "which PMD polls which rx queue, with its measured load",
                   [dp](const std::vector<std::string>&) {
                     MgmtReply r;
                     r.json = nlohmann::json::array();
                     for (const auto& p : dp->PmdStats()) {
                       r.text += fmt::format("pmd {} core {}:\n", p.index, p.core);
                       for (const auto& q : p.rxqs) {
                         r.text += fmt::format("  port {} queue {}: {} packets, {} cycles\n", q.port, q.queue,
                                               q.packets, q.cycles);
                         r.json.push_back({{"pmd", p.index}, {"core", p.core}, {"port", q.port},
                                           {"queue", q.queue}, {"packets", q.packets}, {"cycles", q.cycles}});
                       }
                     }
                     return r;
                   });
  server->Register("pmd-rebalance", "reassign rx queues to PMDs by measured load",
                   [dp](const std::vector<std::string>&) {
                     dp->Rebalance();
                     return MgmtReply{"rx queues reassigned\n", nlohmann::json::object(), ""};
                   });
  server->Register("show", "ports with their counters and rates", [samples](const std::vector<std::string>&) {
    std::lock_guard lock(samples->mu);
    MgmtReply r;
    r.text = PortsText(samples->latest, &samples->prev);
    r.json = PortsJson(samples->latest, &samples->prev);
    return r;
  });
  server->Register("dpctl/add-flow", "dpctl/add-flow 'MATCH actions:ACTIONS': install a megaflow on every PMD",
                   [dp](const std::vector<std::string>& p) {
                     MgmtReply r;
                     if (p.size() != 1) return MgmtReply{"", {}, "usage: dpctl/add-flow 'MATCH actions:ACTIONS'"};
                     dp::FlowKey key;
                     dp::FlowMask mask;
                     std::vector<dp::DpAction> actions;
                     Status st = dp::ParseFlowSpec(p[0], &key, &mask, &actions);
                     if (st.ok()) st = dp->FlowPut(key, mask, std::make_shared<const dp::DpActions>(actions));
                     if (!st.ok()) r.error = st.message();
                     r.json = nlohmann::json::object();
                     return r;
                   });
  server->Register("dpctl/del-flow", "dpctl/del-flow 'MATCH': remove the megaflow with exactly this match",
                   [dp](const std::vector<std::string>& p) {
                     MgmtReply r;
                     if (p.size() != 1) return MgmtReply{"", {}, "usage: dpctl/del-flow 'MATCH'"};
                     dp::FlowKey key;
                     dp::FlowMask mask;
                     Status st = dp::ParseMatch(p[0], &key, &mask);
                     if (st.ok()) st = dp->FlowDel(dp::UfidFromMatch(key, mask));
                     if (!st.ok()) r.error = st.message();
                     r.json = nlohmann::json::object();
                     return r;
                   });
  server->Register("dpctl/del-flows", "remove every megaflow", [dp](const std::vector<std::string>&) {
    dp->FlowFlush();
    return MgmtReply{"", nlohmann::json::object(), ""};
  });
  RegisterPortViews(server, dp);  // memory/show (controller/port_views.h)
}

}  // namespace

Status ParseCpuMask(const std::string& mask, std::vector<int>* cores) {
  std::string m = mask;
  if (m.rfind("0x", 0) == 0 || m.rfind("0X", 0) == 0) m = m.substr(2);
  if (m.empty()) return Status::Errorf("bad CPU mask '{}'", mask);
  cores->clear();
  int bit = 0;
  for (auto it = m.rbegin(); it != m.rend(); ++it) {
    int v;
    char c = static_cast<char>(std::tolower(*it));
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else return Status::Errorf("bad CPU mask '{}': '{}' is not a hex digit", mask, *it);
    for (int b = 0; b < 4; ++b, ++bit) {
      if (v & (1 << b)) cores->push_back(bit);
    }
  }
  if (cores->empty()) return Status::Errorf("CPU mask '{}' selects no CPU", mask);
  return Status::Ok();
}

int RunSwitchd(const SwitchdOptions& in) {
  SwitchdOptions o = in;
  // Logs go to stderr; stdout carries the statistics (JSON lines for scripts).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  if (o.demo) {
    Status st = PrepareDemo(&o);
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
  }

  if (!o.db.empty() && (!o.ports.empty() || !o.controllers.empty() || !o.of_flows.empty() ||
                        !o.of_groups.empty() || !o.flows.empty() || o.demo || o.hw_offload)) {
    spdlog::error("--db: bridges, ports and controllers come from the config store; "
                  "--port, --controller, --of-flow, --of-group, --flow, --demo and --hw-offload "
                  "cannot be combined with it");
    return 2;
  }
  // With a config store, wait for its contents first: the EAL and the PMD
  // cores are set up from them.
  std::unique_ptr<db::Replica> replica;
  std::atomic<bool> store_changed{false};
  if (!o.db.empty()) {
    db::ReplicaOptions ro;
    ro.target = o.db;
    ro.tables = {"Open_vSwitch", "Bridge", "Port", "Interface", "Controller"};
    replica = std::make_unique<db::Replica>(ro, [&store_changed](const db::Replica::Tables&) {
      store_changed.store(true);
    });
    replica->Start();
    spdlog::info("waiting for the config store at {}", o.db);
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    double waited = Now();
    while (replica->snapshots() == 0 && !g_stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (Now() - waited > 10) {
        spdlog::warn("still waiting for the config store at {}: {}", o.db, replica->last_error());
        waited = Now();
      }
    }
    if (g_stop.load()) return 0;
    StoreConfig sc = ParseStoreConfig(replica->Snapshot());
    if (o.pmd_cpu_mask.empty()) o.pmd_cpu_mask = sc.pmd_cpu_mask;
    if (!sc.dpdk_extra.empty()) o.dpdk_extra += " " + sc.dpdk_extra;
  }

  std::vector<int> cores;
  if (o.pmd_cpu_mask.empty()) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cores = {static_cast<int>(n > 1 ? n - 1 : 0)};
  } else if (Status st = ParseCpuMask(o.pmd_cpu_mask, &cores); !st.ok()) {
    spdlog::error("--pmd-cpu-mask: {}", st.message());
    return 2;
  }

  // Check the flows before touching DPDK, so that typos fail fast.
  struct ParsedFlow {
    dp::FlowKey key;
    dp::FlowMask mask;
    std::vector<dp::DpAction> actions;
  };
  std::vector<ParsedFlow> flows;
  for (const auto& text : o.flows) {
    ParsedFlow f;
    Status st = dp::ParseFlowSpec(text, &f.key, &f.mask, &f.actions);
    if (!st.ok()) {
      spdlog::error("--flow '{}': {}", text, st.message());
      return 2;
    }
    flows.push_back(f);
  }

  dp::EalOptions eal;
  eal.mem_mb = o.dpdk_mem_mb;
  eal.huge = o.huge == "yes" ? dp::EalOptions::Huge::kYes
             : o.huge == "no" ? dp::EalOptions::Huge::kNo
                              : dp::EalOptions::Huge::kAuto;
  std::istringstream extra(o.dpdk_extra);
  for (std::string a; extra >> a;) eal.extra.push_back(a);
  eal.log_level = "warning";
  if (Status st = dp::EalInit(eal); !st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }

  dp::DatapathOptions dpo;
  dpo.pmd_cores = cores;
  dpo.n_mbufs = o.mbufs;
  dpo.emc_insert_inv_prob = o.emc_insert_inv_prob;
  auto dp = std::make_unique<dp::Datapath>(dpo);
  if (Status st = dp->Init(); !st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  // Hardware offload and the software eSwitches that ports may live on.
  auto offload = std::make_unique<OffloadControl>(dp.get());
  for (const auto& spec : o.ports) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      spdlog::error("--port '{}': expected NAME=DEVARGS", spec);
      return 2;
    }
    dp::PortConfig pc;
    pc.name = spec.substr(0, eq);
    pc.devargs = spec.substr(eq + 1);
    pc.n_rxq = o.n_rxq;
    uint32_t port_no = 0;
    Status st = offload::IsEswitchDevargs(pc.devargs) ? offload->devices()->Prepare(pc.devargs, &pc)
                                                      : Status::Ok();
    if (st.ok()) st = dp->AddPort(pc, &port_no);
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
    offload->devices()->Added(pc.name, port_no);
  }
  if (o.hw_offload) offload->Apply(OffloadSettings{.enabled = true});
  for (size_t i = 0; i < flows.size(); ++i) {
    auto actions = std::make_shared<const dp::DpActions>(flows[i].actions);
    if (Status st = dp->FlowPut(flows[i].key, flows[i].mask, actions); !st.ok()) {
      spdlog::error("--flow '{}': {}", o.flows[i], st.message());
      return 1;
    }
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  // Two modes. With --flow megaflows the datapath runs on exactly those
  // (benchmarks, debugging): the slow path only counts and drops misses,
  // since OpenFlow-made megaflows would overlap the hand-made ones.
  // Otherwise the bridge's OpenFlow pipeline handles every miss.
  std::atomic<bool> drop_stop{false};
  std::atomic<uint64_t> dropped_upcalls{0};
  std::thread drop_handler;
  if (!o.flows.empty()) {
    drop_handler = std::thread([&] {
      dp::Upcall u;
      while (!drop_stop.load(std::memory_order_relaxed)) {
        bool any = false;
        while (dp->RecvUpcall(&u)) {
          any = true;
          rte_pktmbuf_free(u.packet);
          dropped_upcalls.fetch_add(1, std::memory_order_relaxed);
        }
        if (!any) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  // The bridges. With a store they are the store's (StoreApplier creates
  // them); otherwise one, named --bridge, with every --port: its OpenFlow
  // port numbers are the datapath's. Fail mode standalone (the default)
  // acts as a MAC-learning switch (a priority-0 NORMAL rule, like Open
  // vSwitch with no controller); secure starts with empty tables.
  ofproto::BridgeSet bridge_set(dp.get());
  SwitchBridges bridges(dp.get(), &bridge_set);
  if (!replica) {
    bool have_active = false;
    for (const auto& c : o.controllers) {
      std::string error;
      auto t = ParseTarget(c, 6653, &error);
      if (!t) {
        spdlog::error("--controller '{}': {}", c, error);
        return 2;
      }
      have_active |= !t->passive;
    }
    ofproto::OfprotoOptions bo;
    bo.name = o.bridge;
    ConnMgrOptions cmo;
    for (const auto& c : o.controllers) {
      cmo.controllers.push_back(ControllerConfig{c, o.inactivity_probe_ms, o.max_backoff_ms});
    }
    cmo.tls = TlsOptions{o.private_key, o.certificate, o.ca_cert};
    cmo.fail_mode = o.fail_mode;
    cmo.fail_open_delay_ms = o.fail_open_delay_ms;
    if (Status st = bridges.Create(bo, cmo); !st.ok()) {
      spdlog::error("{}", st.message());
      return 2;
    }
    auto br = bridges.bridge(o.bridge);
    for (const auto& p : dp->Ports()) {
      br->SetPort(ofproto::XlatePort{p.port_no, p.link_up, 0, {}});
      bridge_set.AttachPort(p.port_no, o.bridge);
    }
    // Like Open vSwitch: with no controller to ask, a standalone bridge
    // starts with a visible priority-0 NORMAL rule.
    if (o.fail_mode == "standalone" && o.flows.empty() && !have_active) {
      ofproto::FlowMod fm;
      fm.priority = 0;
      fm.insts = ofproto::Instructions::Apply({ofproto::OfAction::Output(ofproto::kPortNormal)});
      if (auto e = br->FlowMod(fm)) spdlog::error("default NORMAL rule: {}", e->message);
    }
    for (const auto& text : o.of_groups) {
      ofproto::GroupMod gm;
      Status st = ofproto::ParseGroupMod(text, ofproto::GroupMod::Command::kAdd, &gm);
      ofproto::OfpResult e;
      if (st.ok()) e = br->GroupMod(gm);
      if (!st.ok() || e) {
        spdlog::error("--of-group '{}': {}", text, st.ok() ? e->message : st.message());
        return 2;
      }
    }
    for (const auto& text : o.of_flows) {
      ofproto::FlowMod fm;
      Status st = ofproto::ParseFlowMod(text, ofproto::FlowMod::Command::kAdd, &fm);
      ofproto::OfpResult e;
      if (st.ok()) e = br->FlowMod(fm);
      if (!st.ok() || e) {
        spdlog::error("--of-flow '{}': {}", text, st.ok() ? e->message : st.message());
        return 2;
      }
    }
  }
  if (o.flows.empty()) bridge_set.Start();
  dp->StartPmds();
  spdlog::info("sluice-switchd running: {} PMD(s) on core(s) {}, {} port(s), {} flow(s)",
               cores.size(), fmt::join(cores, ","), o.ports.size(), flows.size());

  double start = Now();
  StatsSample prev = TakeSample(*dp, 0);
  Samples samples;
  samples.prev = samples.latest = prev;
  MgmtServer mgmt;
  RegisterViews(&mgmt, dp.get(), &samples);
  RegisterBridgeViews(&mgmt, dp.get(), &bridge_set, offload.get());
  RegisterOffloadViews(&mgmt, offload.get());
  RegisterControllerViews(&mgmt, &bridges);
  std::string ctl_path = o.ctl_path.empty() ? DefaultCtlPath() : o.ctl_path;
  if (Status st = mgmt.Start(ctl_path); !st.ok()) {
    spdlog::warn("{} (runtime views unavailable)", st.message());
  }
  std::unique_ptr<StoreApplier> applier;
  if (replica) {
    applier = std::make_unique<StoreApplier>(dp.get(), &bridges, replica.get(), offload.get(), o);
    applier->Apply(ParseStoreConfig(replica->Snapshot()), true);
  }
  uint64_t seen_snapshots = replica ? replica->snapshots() : 0;
  double next_apply = 1.0, next_store_stats = o.stats_write_interval_ms / 1000.0;
  double next_sample = 1.0;
  double next_stats = o.stats_interval_s;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    double t = Now() - start;
    if (o.stats_interval_s > 0 && t >= next_stats) {
      StatsSample now = TakeSample(*dp, t);
      if (o.stats_format == "json") {
        std::printf("%s\n", StatsJson(now, &prev).dump().c_str());
      } else {
        std::printf("--- %.1f s ---\n%s%s", t, PmdStatsText(now, &prev).c_str(),
                    PortsText(now, &prev).c_str());
      }
      std::fflush(stdout);
      prev = std::move(now);
      next_stats += o.stats_interval_s;
    }
    if (t >= next_sample) {
      StatsSample s = TakeSample(*dp, t);
      std::lock_guard lock(samples.mu);
      samples.prev = std::move(samples.latest);
      samples.latest = std::move(s);
      next_sample += 1.0;
    }
    // Follow the store: at once on a change, else every second (link
    // states, controller connections), statistics every few seconds.
    if (applier && (store_changed.exchange(false) || t >= next_apply)) {
      if (replica->snapshots() != seen_snapshots) {  // reconnected: rewrite everything
        seen_snapshots = replica->snapshots();
        applier->Reset();
      }
      bool write_stats = t >= next_store_stats;
      if (write_stats) next_store_stats = t + o.stats_write_interval_ms / 1000.0;
      applier->Apply(ParseStoreConfig(replica->Snapshot()), write_stats);
      next_apply = t + 1.0;
    }
    dp->Reclaim();
    if (o.duration_s > 0 && t >= o.duration_s) break;
  }

  mgmt.Stop();
  applier.reset();
  if (replica) replica->Stop();
  uint64_t upcalls = 0, installed = 0;
  for (const auto& br : bridge_set.All()) {
    upcalls += br->stats().upcalls;
    installed += br->stats().installed;
  }
  bridges.DestroyAll();
  dp->StopPmds();
  bridge_set.Stop();
  drop_stop.store(true);
  if (drop_handler.joinable()) drop_handler.join();
  if (o.stats_format != "json") {
    StatsSample last = TakeSample(*dp, Now() - start);
    std::printf("--- final ---\n%s%s--- megaflows ---\n%s", PmdStatsText(last, nullptr).c_str(),
                PortsText(last, nullptr).c_str(),
                DumpFlowsText(dp->FlowDump(), dp::Pmd::NowMs()).c_str());
  }
  if (o.flows.empty()) {
    spdlog::info("stopping: {} upcall(s) handled, {} megaflow(s) installed", upcalls, installed);
  } else {
    spdlog::info("stopping: {} upcall(s) dropped (datapath-only mode: --flow given)", dropped_upcalls.load());
  }
  offload->Apply(OffloadSettings{});  // every rule out of the hardware
  dp.reset();
  offload.reset();  // the eSwitches, now that no port uses their ethdevs
  if (o.demo) {
    for (const auto& p : o.ports) {
      size_t at = p.find("rx_pcap=");
      if (at != std::string::npos) {
        std::string path = p.substr(at + 8, p.find(',', at) - at - 8);
        unlink(path.c_str());
      }
    }
  }
  return 0;
}

}  // namespace sluice::ctl
