// Translation cost per packet for typical pipelines, and, as a baseline in
// the same binary, a bare classifier lookup with wildcard tracking (the floor
// a one-table translation cannot go under).
#include <benchmark/benchmark.h>

#include <random>

#include "ofproto/xlate.h"

namespace sluice::ofproto {
namespace {

using FV = FieldValue;

OfFlow Udp(uint32_t in_port, uint32_t src, uint32_t dst) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = in_port;
  f.dp.eth_src = dp::EthAddr{{0x02, 0, 0, 0, static_cast<uint8_t>(src >> 8), static_cast<uint8_t>(src)}};
  f.dp.eth_dst = dp::EthAddr{{0x02, 0, 0, 0, 0, 0x99}};
  f.dp.eth_type = Be16(0x0800);
  f.dp.nw_proto = 17;
  f.dp.nw_ttl = 64;
  f.dp.nw_src = Be32(src);
  f.dp.nw_dst = Be32(dst);
  f.dp.tp_src = Be16(1000);
  f.dp.tp_dst = Be16(53);
  return f;
}

struct Pipeline {
  FlowTables tables;
  GroupTable groups;
  MacLearning mac;
  XlateEnv env;
  std::vector<OfFlow> flows;

  Pipeline() {
    for (uint32_t p = 1; p <= 4; ++p) env.ports.push_back(XlatePort{p, true, 0, {}});
    env.tables = &tables;
    env.groups = &groups;
    env.mac = &mac;
    env.controller_cookie = [](const ControllerRequest&) { return uint64_t{1}; };
    std::mt19937 rng(1);
    for (int i = 0; i < 1024; ++i) flows.push_back(Udp(1 + rng() % 4, 0x0a000000 + rng() % 5000, 0x0a010000 + rng() % 1000));
  }
  void Add(uint8_t table, OfMatch m, int32_t prio, Instructions in) {
    FlowMod fm;
    fm.table_id = table;
    fm.match = m;
    fm.priority = prio;
    fm.insts = std::move(in);
    std::vector<FlowRemoved> removed;
    tables.Apply(fm, 0, &removed);
  }
};

OfMatch M(std::initializer_list<std::pair<FieldId, uint64_t>> fields) {
  OfMatch m = OfMatch::CatchAll();
  for (auto [id, v] : fields) MatchField(&m, id, FV::FromUint(id, v), FV::AllOnes(id));
  return m;
}

void Run(benchmark::State& state, Pipeline& p) {
  XlateResult r;
  size_t i = 0;
  for (auto _ : state) {
    Xlate(p.env, p.flows[i++ & 1023], &r);
    benchmark::DoNotOptimize(r.actions.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_OneRuleOutput(benchmark::State& state) {
  Pipeline p;
  p.Add(0, M({{FieldId::kInPort, 1}}), 10, Instructions::Apply({OfAction::Output(2)}));
  p.Add(0, OfMatch::CatchAll(), 0, Instructions::Apply({OfAction::Output(3)}));
  Run(state, p);
}
BENCHMARK(BM_OneRuleOutput);

void BM_Normal(benchmark::State& state) {
  Pipeline p;
  p.Add(0, OfMatch::CatchAll(), 0, Instructions::Apply({OfAction::Output(kPortNormal)}));
  Run(state, p);
}
BENCHMARK(BM_Normal);

void BM_ExactRules(benchmark::State& state) {
  Pipeline p;
  for (int i = 0; i < state.range(0); ++i) {
    OfMatch m = M({{FieldId::kEthType, 0x0800}, {FieldId::kIpv4Dst, 0x0a010000u + static_cast<uint32_t>(i)}});
    p.Add(0, m, 10, Instructions::Apply({OfAction::Output(2)}));
  }
  Run(state, p);
}
BENCHMARK(BM_ExactRules)->Arg(10)->Arg(1000);

void BM_TwoTablesSetFieldGoto(benchmark::State& state) {
  Pipeline p;
  Instructions i0 = Instructions::Apply({OfAction::SetField(FieldId::kIpv4Dst, FV::FromUint(FieldId::kIpv4Dst, 0x0a0000fe)),
                                         OfAction::DecTtl()});
  i0.goto_table = 1;
  p.Add(0, M({{FieldId::kEthType, 0x0800}}), 10, i0);
  p.Add(1, OfMatch::CatchAll(), 0, Instructions::Apply({OfAction::Output(2)}));
  Run(state, p);
}
BENCHMARK(BM_TwoTablesSetFieldGoto);

// Baseline: the classifier lookup alone (with wildcard tracking).
void BM_Baseline_ClassifierLookup(benchmark::State& state) {
  Pipeline p;
  p.Add(0, M({{FieldId::kInPort, 1}}), 10, Instructions::Apply({OfAction::Output(2)}));
  p.Add(0, OfMatch::CatchAll(), 0, Instructions::Apply({OfAction::Output(3)}));
  size_t i = 0;
  OfMask wc;
  for (auto _ : state) {
    wc.Clear();
    benchmark::DoNotOptimize(p.tables.Lookup(0, p.flows[i++ & 1023], &wc));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Baseline_ClassifierLookup);

}  // namespace
}  // namespace sluice::ofproto
