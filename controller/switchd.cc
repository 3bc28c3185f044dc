#include "controller/switchd.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <thread>

#include "controller/pcap_writer.h"
#include "controller/stats_view.h"
#include "datapath/actions/actions_format.h"
#include "datapath/dpif/datapath.h"
#include "datapath/flow/flow_format.h"
#include "datapath/port/eal.h"

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
  o->flows = {
      "in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.0/255.255.252.0) actions:2",
      "in_port(1),eth_type(0x0800),ipv4(dst=10.0.4.0/255.255.252.0) actions:3",
      "in_port(1),eth_type(0x0800),ipv4(dst=10.0.8.0/255.255.255.0) actions:2,3",
  };
  spdlog::info("demo: 1000 UDP flows from {} on p0; 10.0.0-3.x -> p1, 10.0.4-7.x -> p2, "
               "10.0.8.x -> both, 10.0.9.x -> no flow (upcalls)", pcap);
  return Status::Ok();
}

// Until ofproto exists the slow path has no tables: it counts the upcalls
// and drops their packets.
void RunHandler(dp::Datapath* dp, std::atomic<bool>* stop, std::atomic<uint64_t>* handled) {
  dp::Upcall u;
  while (!stop->load(std::memory_order_relaxed)) {
    bool any = false;
    while (dp->RecvUpcall(&u)) {
      any = true;
      rte_pktmbuf_free(u.packet);
      handled->fetch_add(1, std::memory_order_relaxed);
    }
    if (!any) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
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
    if (Status st = dp->AddPort(pc, &port_no); !st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
  }
  for (size_t i = 0; i < flows.size(); ++i) {
    auto actions = std::make_shared<const dp::DpActions>(flows[i].actions);
    if (Status st = dp->FlowPut(flows[i].key, flows[i].mask, actions); !st.ok()) {
      spdlog::error("--flow '{}': {}", o.flows[i], st.message());
      return 1;
    }
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::atomic<bool> handler_stop{false};
  std::atomic<uint64_t> handled{0};
  std::thread handler(RunHandler, dp.get(), &handler_stop, &handled);
  dp->StartPmds();
  spdlog::info("sluice-switchd running: {} PMD(s) on core(s) {}, {} port(s), {} flow(s)",
               cores.size(), fmt::join(cores, ","), o.ports.size(), flows.size());

  double start = Now();
  StatsSample prev = TakeSample(*dp, 0);
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
    dp->Reclaim();
    if (o.duration_s > 0 && t >= o.duration_s) break;
  }

  dp->StopPmds();
  handler_stop.store(true);
  handler.join();
  if (o.stats_format != "json") {
    StatsSample last = TakeSample(*dp, Now() - start);
    std::printf("--- final ---\n%s%s--- megaflows ---\n%s", PmdStatsText(last, nullptr).c_str(),
                PortsText(last, nullptr).c_str(),
                DumpFlowsText(dp->FlowDump(), dp::Pmd::NowMs()).c_str());
  }
  spdlog::info("stopping: {} upcall(s) handled (dropped: no OpenFlow tables yet)", handled.load());
  dp.reset();
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
