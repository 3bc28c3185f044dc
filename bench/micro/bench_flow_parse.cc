// Packets per second of ParseFlow over bursts of 32 frames, per frame shape,
// with a floor in the same binary: copying the frame's first 64 bytes into a
// zeroed key, which is about the least any parser must do per packet.
//
//   bench_flow_parse [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "datapath/flow/parse.h"

namespace sluice::dp {
namespace {

// A frame under construction (the benches' frames are at most 128 bytes).
struct Frame {
  std::array<uint8_t, 128> b{};
  uint32_t n = 0;

  void Byte(uint8_t v) { b.at(n++) = v; }
  void Resize(uint32_t len, uint8_t fill) {
    while (n < len) Byte(fill);
  }
};

void Put(Frame& f, std::initializer_list<uint8_t> bytes) {
  for (uint8_t v : bytes) f.Byte(v);
}
void Put16(Frame& f, uint16_t v) {
  Put(f, {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
}
void Put32(Frame& f, uint32_t v) {
  Put16(f, static_cast<uint16_t>(v >> 16));
  Put16(f, static_cast<uint16_t>(v));
}

void Eth(Frame& f, uint16_t type) {
  Put(f, {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef});
  Put16(f, type);
}

// IPv4 header (no options) for `l4_len` bytes of payload; i varies the source.
void Ip4(Frame& f, uint8_t proto, uint32_t l4_len, uint32_t i) {
  Put(f, {0x45, 0x00});
  Put16(f, static_cast<uint16_t>(20 + l4_len));
  Put(f, {0x00, 0x01, 0x40, 0x00, 0x40, proto, 0x00, 0x00});
  Put32(f, 0x0a000000 + i);
  Put32(f, 0x0a010001);
}

void Udp(Frame& f, uint32_t i, uint32_t payload) {
  Put16(f, static_cast<uint16_t>(1024 + i));
  Put16(f, 4789);
  Put16(f, static_cast<uint16_t>(8 + payload));
  Put16(f, 0);
  f.Resize(f.n + payload, 0x5a);
}

Frame Udp4(uint32_t i) {  // 60 bytes + FCS = 64 on the wire
  Frame f;
  Eth(f, 0x0800);
  Ip4(f, 17, 8 + 18, i);
  Udp(f, i, 18);
  return f;
}

Frame Tcp4(uint32_t i) {  // ACK with timestamps, 66 bytes
  Frame f;
  Eth(f, 0x0800);
  Ip4(f, 6, 32, i);
  Put16(f, static_cast<uint16_t>(40000 + i));
  Put16(f, 443);
  Put32(f, 0x11111111);
  Put32(f, 0x22222222);
  Put16(f, 0x8010);
  Put(f, {0x01, 0xf6, 0, 0, 0, 0, 0x01, 0x01, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8});
  return f;
}

Frame VlanUdp4(uint32_t i) {  // 64 bytes
  Frame f;
  Eth(f, 0x8100);
  Put16(f, static_cast<uint16_t>(100 + i % 8));
  Put16(f, 0x0800);
  Ip4(f, 17, 8 + 18, i);
  Udp(f, i, 18);
  return f;
}

Frame Udp6(uint32_t i) {  // 80 bytes
  Frame f;
  Eth(f, 0x86dd);
  Put32(f, 0x60012345);
  Put16(f, 8 + 18);
  Put(f, {17, 64});
  Put(f, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  Put16(f, static_cast<uint16_t>(i));
  Put(f, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  Udp(f, i, 18);
  return f;
}

Frame Arp(uint32_t i) {  // request, padded to 60
  Frame f;
  Put(f, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x06});
  Put(f, {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef});
  Put32(f, 0x0a000000 + i);
  Put(f, {0, 0, 0, 0, 0, 0});
  Put32(f, 0x0a000001);
  f.Resize(60, 0);
  return f;
}

// A burst of 32 distinct frames of one shape, each in its own 2 KiB slot as
// in an mbuf pool.
struct Burst {
  alignas(64) std::array<std::array<uint8_t, 2048>, kMaxBurst> buf;
  std::array<uint32_t, kMaxBurst> len;

  explicit Burst(Frame (*make)(uint32_t)) {
    for (int i = 0; i < kMaxBurst; ++i) {
      Frame f = make(static_cast<uint32_t>(i));
      std::memcpy(buf[i].data() + 128, f.b.data(), f.n);  // 128: mbuf headroom
      len[i] = f.n;
    }
  }
  const uint8_t* data(int i) const { return buf[i].data() + 128; }
};

void BM_Parse(benchmark::State& state, Frame (*make)(uint32_t)) {
  auto burst = std::make_unique<Burst>(make);
  alignas(64) FlowKey keys[kMaxBurst];
  PacketLayout layouts[kMaxBurst];
  for (int i = 0; i < kMaxBurst; ++i) {
    if (ParseFlow(burst->data(i), burst->len[i], 1, &keys[i], &layouts[i]) != ParseStatus::kOk) {
      state.SkipWithError("frame does not parse");
      return;
    }
  }
  for (auto _ : state) {
    for (int i = 0; i < kMaxBurst; ++i) {
      ParseStatus s = ParseFlow(burst->data(i), burst->len[i], 1, &keys[i], &layouts[i]);
      benchmark::DoNotOptimize(s);
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kMaxBurst);
}

// Baseline: zero the key, then copy 64 bytes of the frame into it.
void BM_Baseline_ZeroAndCopy64(benchmark::State& state) {
  auto burst = std::make_unique<Burst>(&Udp4);
  alignas(64) FlowKey keys[kMaxBurst];
  for (auto _ : state) {
    for (int i = 0; i < kMaxBurst; ++i) {
      keys[i].Clear();
      std::memcpy(&keys[i], burst->data(i), 64);
      benchmark::DoNotOptimize(&keys[i]);
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kMaxBurst);
}

BENCHMARK(BM_Baseline_ZeroAndCopy64);
BENCHMARK_CAPTURE(BM_Parse, udp4_64B, &Udp4);
BENCHMARK_CAPTURE(BM_Parse, tcp4_66B, &Tcp4);
BENCHMARK_CAPTURE(BM_Parse, vlan_udp4_64B, &VlanUdp4);
BENCHMARK_CAPTURE(BM_Parse, udp6_80B, &Udp6);
BENCHMARK_CAPTURE(BM_Parse, arp_60B, &Arp);

}  // namespace
}  // namespace sluice::dp
