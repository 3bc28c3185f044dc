// New-flow setup rate through the whole slow path, on one thread: a burst of
// packets of new flows is received by the PMD (synchronous mode), each miss is
// upcalled, translated by the OpenFlow pipeline, its megaflow installed and
// the packet executed. Items = upcalls handled (packets); "megaflows" = flows
// set up per second. The baseline in the same binary is the same bursts
// hitting installed megaflows (the fast path's cost for the same packets), so
// the ratio shows what a miss costs.
//
// Variants: /32 = 32 new flows per 32-packet burst (one upcall per flow, as
// at 100k sources); /8 = 8 new flows, 4 packets each, interleaved (several
// upcalls per flow before its megaflow exists, as when a pcap cycles faster
// than the slow path installs). Input frames are made before timing; the
// sink is a net_null port (freeing only), so the loop measures the switch.
//
// Per-stage cost under callgrind (docs/design-notes.md, "Upcall handling"):
//   valgrind --tool=callgrind --toggle-collect='*SetupRig::Burst*'
//     build/bench/bench_setup_dpdk --benchmark_filter='BM_NewFlowSetup/32/0/iterations'
// counts exactly 512 bursts of 32 upcalls (the Iterations(512) variants).
#include <benchmark/benchmark.h>

#include <atomic>

#include "datapath/dpif/datapath.h"
#include "ofproto/ofctl_parse.h"
#include "ofproto/ofproto.h"
#include "tests/common/ring_port.h"

namespace sluice {
namespace {

constexpr uint32_t kBurst = 32;

struct SetupRig {
  std::unique_ptr<dp::Datapath> dp;
  std::unique_ptr<ofproto::Ofproto> br;
  testing::RingPort in;
  std::vector<std::vector<std::vector<uint8_t>>> bursts;

  // n_bursts bursts; burst b carries flows b*flows_per_burst .. +flows_per_burst-1,
  // packet i of the burst belongs to flow i % flows_per_burst.
  SetupRig(const char* rule, uint32_t n_bursts, uint32_t flows_per_burst) {
    static std::atomic<int> serial{0};
    dp::DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 8192;
    o.upcall_ring_size = 1024;
    dp = std::make_unique<dp::Datapath>(o);
    if (!dp->Init().ok()) std::abort();
    in = testing::RingPort::Make();
    const std::string devargs[2] = {in.devargs(),
                                    "net_null_setup" + std::to_string(serial++) + ",no-rx=1"};
    for (int i = 0; i < 2; ++i) {
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i + 1);
      pc.devargs = devargs[i];
      uint32_t no = 0;
      if (!dp->AddPort(pc, &no).ok()) std::abort();
    }
    br = std::make_unique<ofproto::Ofproto>(dp.get(), ofproto::OfprotoOptions{});
    for (uint32_t i = 1; i <= 2; ++i) br->SetPort(ofproto::XlatePort{i, true, 0, {}});
    ofproto::FlowMod fm;
    if (!ofproto::ParseFlowMod(rule, ofproto::FlowMod::Command::kAdd, &fm).ok() || br->FlowMod(fm)) std::abort();
    bursts.resize(n_bursts);
    for (uint32_t b = 0; b < n_bursts; ++b) {
      for (uint32_t i = 0; i < kBurst; ++i) {
        const uint32_t flow = b * flows_per_burst + i % flows_per_burst;
        bursts[b].push_back(testing::UdpFrame(0x0a000000 + flow, 0x0b000001, 1000, 53));
      }
    }
  }
  ~SetupRig() { br.reset(); }

  // One burst through the datapath and, for misses, the slow path, until
  // every packet has left. The second poll applies the handler's commands
  // (installs, executes) as a running PMD does between bursts. With
  // sync_each, Sync() does that instead: it also sweeps the whole EMC (~4,900
  // Ir per upcall here, which no running PMD pays) and so lets the datapath
  // reclaim everything retired at once (a running PMD: once per EMC sweep
  // cycle, 512 polls) -- the variant that isolates the handler's own work.
  __attribute__((noinline)) void Burst(size_t b) {
    in.Inject(dp->pool(), bursts[b]);
    dp->PollAllOnce();
    br->HandleUpcalls();
    if (sync_each) {
      dp->Sync();
    } else {
      dp->PollAllOnce();
    }
  }
  bool sync_each = false;

  uint64_t TxPackets() const { return dp->PmdStats()[0].counters.tx_packets; }
};

// One megaflow per source address (set_field on ip_src makes it exact).
constexpr const char* kPerSourceRule = "priority=10,ip,actions=set_field:10.1.1.1->ip_src,output:2";
constexpr uint32_t kBursts = 1024;

void BM_NewFlowSetup(benchmark::State& state) {
  const auto flows_per_burst = static_cast<uint32_t>(state.range(0));
  SetupRig rig(kPerSourceRule, kBursts, flows_per_burst);
  rig.sync_each = state.range(1) != 0;
  size_t b = 0;
  for (auto _ : state) {
    rig.Burst(b);
    if (++b == kBursts) {  // every source seen: start again with no megaflows
      state.PauseTiming();
      b = 0;
      rig.dp->FlowFlush();
      rig.dp->Sync();
      rig.br->Revalidate();
      state.ResumeTiming();
    }
  }
  const auto iters = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.counters["megaflows"] = benchmark::Counter(iters * flows_per_burst, benchmark::Counter::kIsRate);
  // Every packet must have been forwarded once (a check, not a timing).
  state.counters["forwarded_per_packet"] = static_cast<double>(rig.TxPackets()) / (iters * kBurst);
}
// Args: flows per 32-packet burst, sync_each.
BENCHMARK(BM_NewFlowSetup)->Args({32, 0})->Args({8, 0})->Args({32, 1})->Args({8, 1})->Unit(benchmark::kMicrosecond);
// Fixed work for callgrind (see the file comment).
BENCHMARK(BM_NewFlowSetup)->Args({32, 0})->Iterations(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NewFlowSetup)->Args({32, 1})->Iterations(512)->Unit(benchmark::kMicrosecond);

// Baseline: the same bursts once their megaflows exist.
void BM_Baseline_InstalledFlows(benchmark::State& state) {
  constexpr uint32_t kWarm = 128;
  SetupRig rig(kPerSourceRule, kWarm, kBurst);
  for (uint32_t b = 0; b < kWarm; ++b) rig.Burst(b);
  size_t b = 0;
  for (auto _ : state) {
    rig.Burst(b);
    b = (b + 1) % kWarm;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}
BENCHMARK(BM_Baseline_InstalledFlows)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice
