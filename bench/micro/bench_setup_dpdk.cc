// New-flow setup rate through the whole slow path, on one thread: a burst of
// packets of new flows is received by the PMD (synchronous mode), each miss is
// upcalled, translated by the OpenFlow pipeline, its megaflow installed and
// the packet executed. Items = flows set up. The baseline in the same binary
// is the same burst hitting installed megaflows (the fast path's cost for
// the same packets), so the ratio shows what a miss costs.
#include <benchmark/benchmark.h>

#include "datapath/dpif/datapath.h"
#include "ofproto/ofctl_parse.h"
#include "ofproto/ofproto.h"
#include "tests/common/ring_port.h"

namespace sluice {
namespace {

struct Rig {
  std::unique_ptr<dp::Datapath> dp;
  std::unique_ptr<ofproto::Ofproto> br;
  std::vector<testing::RingPort> ports;

  explicit Rig(const char* rule) {
    dp::DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 8192;
    o.upcall_ring_size = 1024;
    dp = std::make_unique<dp::Datapath>(o);
    if (!dp->Init().ok()) std::abort();
    for (int i = 0; i < 2; ++i) {
      ports.push_back(testing::RingPort::Make());
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i + 1);
      pc.devargs = ports.back().devargs();
      uint32_t no = 0;
      if (!dp->AddPort(pc, &no).ok()) std::abort();
    }
    br = std::make_unique<ofproto::Ofproto>(dp.get(), ofproto::OfprotoOptions{});
    for (uint32_t i = 1; i <= 2; ++i) br->SetPort(ofproto::XlatePort{i, true, 0, {}});
    ofproto::FlowMod fm;
    if (!ofproto::ParseFlowMod(rule, ofproto::FlowMod::Command::kAdd, &fm).ok() || br->FlowMod(fm)) std::abort();
  }
  ~Rig() {
    br.reset();
    for (auto& p : ports) p.Drain();
  }
  // One burst of 32 packets from sources base..base+31 through the datapath
  // and, for misses, the slow path.
  void Burst(uint32_t base) {
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t i = 0; i < 32; ++i) frames.push_back(testing::UdpFrame(0x0a000000 + base + i, 0x0b000001, 1000, 53));
    ports[0].Inject(dp->pool(), frames);
    dp->PollAllOnce();
    br->HandleUpcalls();
    dp->Sync();
    ports[1].Drain();
  }
};

// One megaflow per source address (set_field on ip_src makes it exact).
constexpr const char* kPerSourceRule = "priority=10,ip,actions=set_field:10.1.1.1->ip_src,output:2";

void BM_NewFlowSetup(benchmark::State& state) {
  Rig rig(kPerSourceRule);
  uint32_t base = 0;
  for (auto _ : state) {
    rig.Burst(base);
    base += 32;
    if (base % 32768 == 0) {  // keep the table size bounded
      state.PauseTiming();
      rig.dp->FlowFlush();
      rig.dp->Sync();
      rig.br->Revalidate();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
  state.counters["megaflows"] = static_cast<double>(rig.dp->FlowCount());
}
BENCHMARK(BM_NewFlowSetup)->Unit(benchmark::kMicrosecond);

// Baseline: the same bursts once their megaflows exist.
void BM_Baseline_InstalledFlows(benchmark::State& state) {
  Rig rig(kPerSourceRule);
  for (uint32_t b = 0; b < 4096; b += 32) rig.Burst(b);
  uint32_t base = 0;
  for (auto _ : state) {
    rig.Burst(base);
    base = (base + 32) % 4096;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
}
BENCHMARK(BM_Baseline_InstalledFlows)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice
