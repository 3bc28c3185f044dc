// Packets per second of the action executor on one 32-packet flow batch of
// 64-byte IPv4/UDP frames.
//
//   BM_SingleOutput     baseline: output:2, i.e. handing the batch to the sink
//   BM_SetIpv4DstOutput set(ipv4_dst) with IPv4 + UDP checksum updates, output
//   BM_PushVlanOutput   push_vlan (prepend + 12-byte memmove), output
//   BM_TwoOutputs       output:1, output:2: a reference-count share per packet
//   BM_OutputSetOutput  output:1, set(ipv4_dst), output:2: a deep copy per
//                       packet (allocation + copy + free of the copy)
//
// The same 32 mbufs are reused every iteration: the sink's port 2 keeps
// nothing (the loop owns the packets again), port 1 frees what it gets (a
// reference drop for shared packets, a real free for copies). Per-iteration
// fix-ups (undoing the push by moving data_off back) are a few stores per
// packet and are included in the figures.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "datapath/actions/csum.h"
#include "datapath/actions/execute.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {
namespace {

constexpr uint32_t kBatch = kMaxBurst;
constexpr uint32_t kFreePort = 1;

struct BenchSink {
  uint64_t delivered = 0;
  void Output(uint32_t port, rte_mbuf** pkts, uint32_t n) {
    delivered += n;
    if (port == kFreePort) FreePackets(pkts, n);
  }
  void Userspace(uint64_t, rte_mbuf** pkts, uint32_t n) { FreePackets(pkts, n); }
  void Recirculate(uint32_t, rte_mbuf** pkts, uint32_t n) { FreePackets(pkts, n); }
};

rte_mempool* BenchPool() {
  static rte_mempool* pool = [] {
    Status st;
    PktPoolOptions o;
    o.name = "bench_actions";
    o.n_mbufs = 8192;
    rte_mempool* p = CreatePktPool(o, &st);
    if (p == nullptr) std::fprintf(stderr, "%s\n", st.message().c_str());
    return p;
  }();
  return pool;
}

// A 64-byte Ethernet/IPv4/UDP frame (60 bytes without FCS) with valid
// checksums.
std::vector<uint8_t> Frame() {
  std::vector<uint8_t> f(60, 0);
  const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
  std::memcpy(f.data(), eth, 14);
  uint8_t* ip = f.data() + 14;
  const uint8_t iph[20] = {0x45, 0, 0,  46, 0x12, 0x34, 0,  0, 64, csum::kIpProtoUdp,
                           0,    0, 10, 0,  0,    1,    10, 0, 0,  2};
  std::memcpy(ip, iph, 20);
  uint8_t* udp = ip + 20;
  const uint8_t udph[8] = {0x04, 0xd2, 0x16, 0x2e, 0, 26, 0, 0};
  std::memcpy(udp, udph, 8);
  for (int i = 8; i < 26; ++i) udp[i] = static_cast<uint8_t>(i);
  const be16 uc = Ipv4L4Checksum(ip, udp, 26, csum::kIpProtoUdp);
  std::memcpy(udp + 6, &uc, 2);
  const be16 ic = Ipv4HeaderChecksum(ip, 20);
  std::memcpy(ip + 10, &ic, 2);
  return f;
}

struct Batch {
  rte_mbuf* master[kBatch];
  rte_mbuf* scratch[kBatch];
  PacketLayout layouts[kBatch];

  bool Init() {
    const std::vector<uint8_t> f = Frame();
    for (uint32_t i = 0; i < kBatch; ++i) {
      master[i] = PacketFromBytes(BenchPool(), f.data(), static_cast<uint32_t>(f.size()));
      if (master[i] == nullptr) return false;
    }
    return true;
  }
  // The per-flow-batch arrays the PMD would hand the executor.
  void Prepare() {
    std::memcpy(scratch, master, sizeof(master));
    for (auto& l : layouts) l = PacketLayout{14, 34};
  }
  ~Batch() { FreePackets(master, kBatch); }
};

DpAction SetIpv4Dst(uint32_t dst) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = DpActionType::kSetIpv4;
  a.ipv4.dst = Be32(dst);
  a.ipv4.dst_mask = Be32(0xffffffff);
  return a;
}

enum class Fixup { kNone, kUnpush };

// Runs the lists in `actions` in turn (two lists that set different values
// make every iteration really change bytes).
void Run(benchmark::State& state, const std::vector<DpActions>& actions, Fixup fixup) {
  Batch batch;
  if (BenchPool() == nullptr || !batch.Init()) {
    state.SkipWithError("no mbufs");
    return;
  }
  BenchSink sink;
  size_t turn = 0;
  for (auto _ : state) {
    batch.Prepare();
    ExecuteActions(actions[turn], batch.scratch, batch.layouts, kBatch, sink);
    if (++turn == actions.size()) turn = 0;
    if (fixup == Fixup::kUnpush) {
      for (rte_mbuf* m : batch.master) {
        m->data_off += 4;
        m->data_len -= 4;
        m->pkt_len -= 4;
      }
    }
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(sink.delivered);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  state.counters["time_per_pkt"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBatch,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SingleOutput(benchmark::State& state) {
  Run(state, {DpActions({DpAction::Output(2)})}, Fixup::kNone);
}
void BM_SetIpv4DstOutput(benchmark::State& state) {
  Run(state,
      {DpActions({SetIpv4Dst(0xc0a80101), DpAction::Output(2)}),
       DpActions({SetIpv4Dst(0xc0a80202), DpAction::Output(2)})},
      Fixup::kNone);
}
void BM_PushVlanOutput(benchmark::State& state) {
  Run(state, {DpActions({DpAction::Push(Be16(0x8100), Be16(0x1064)), DpAction::Output(2)})},
      Fixup::kUnpush);
}
void BM_TwoOutputs(benchmark::State& state) {
  Run(state, {DpActions({DpAction::Output(kFreePort), DpAction::Output(2)})}, Fixup::kNone);
}
void BM_OutputSetOutput(benchmark::State& state) {
  Run(state,
      {DpActions({DpAction::Output(kFreePort), SetIpv4Dst(0xc0a80101), DpAction::Output(2)}),
       DpActions({DpAction::Output(kFreePort), SetIpv4Dst(0xc0a80202), DpAction::Output(2)})},
      Fixup::kNone);
}

BENCHMARK(BM_SingleOutput);
BENCHMARK(BM_SetIpv4DstOutput);
BENCHMARK(BM_PushVlanOutput);
BENCHMARK(BM_TwoOutputs);
BENCHMARK(BM_OutputSetOutput);

}  // namespace
}  // namespace sluice::dp
