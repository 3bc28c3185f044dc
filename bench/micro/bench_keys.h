#pragma once
// Shared by the classifier and cache benchmarks: random UDP/IPv4 flow keys
// and the hasher that lets std::unordered_map (their baseline) use FlowKey.
#include <cstddef>
#include <random>

#include "datapath/flow/flow_key.h"
#include "datapath/util/hash.h"

namespace sluice::dp::bench {

struct KeyHasher {
  size_t operator()(const FlowKey& k) const { return HashWords(k.words(), kFlowWords, 0); }
};

// A UDP/IPv4 key with random addresses and ports, from one of n_ports ports.
inline FlowKey RandomUdpKey(std::mt19937_64& rng, uint32_t n_ports) {
  FlowKey k;
  k.Clear();
  k.in_port = 1 + static_cast<uint32_t>(rng() % n_ports);
  k.eth_type = Be16(0x0800);
  k.nw_proto = 17;
  k.nw_src = Be32(static_cast<uint32_t>(rng()));
  k.nw_dst = Be32(static_cast<uint32_t>(rng()));
  k.tp_src = Be16(static_cast<uint16_t>(rng()));
  k.tp_dst = Be16(static_cast<uint16_t>(rng()));
  k.nw_ttl = 64;
  return k;
}

}  // namespace sluice::dp::bench
