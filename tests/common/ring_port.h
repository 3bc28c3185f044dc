#pragma once
// Test helpers: a net_ring ethdev whose rx ring the test fills and whose tx
// ring it drains, and a builder of small UDP frames.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include <cstring>
#include <string>
#include <vector>

#include "datapath/packet/packet.h"

namespace sluice::testing {

class RingPort {
 public:
  static RingPort Make() {
    static int serial = 0;
    RingPort p;
    p.name_ = "ringport" + std::to_string(serial++);
    p.rx_ = rte_ring_create(("rx_" + p.name_).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx_ = rte_ring_create(("tx_" + p.name_).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    EXPECT_GE(rte_eth_from_rings(p.name_.c_str(), &p.rx_, 1, &p.tx_, 1, 0), 0);
    return p;
  }
  std::string devargs() const { return "net_ring_" + name_; }

  // Puts copies of `frames` on the rx ring.
  void Inject(rte_mempool* pool, const std::vector<std::vector<uint8_t>>& frames) {
    for (const auto& f : frames) {
      rte_mbuf* m = dp::PacketFromBytes(pool, f.data(), static_cast<uint32_t>(f.size()));
      ASSERT_NE(m, nullptr);
      ASSERT_EQ(rte_ring_enqueue(rx_, m), 0);
    }
  }

  // Takes every transmitted frame off the tx ring.
  std::vector<std::vector<uint8_t>> Drain() {
    std::vector<std::vector<uint8_t>> out;
    void* objs[64];
    unsigned n;
    while ((n = rte_ring_dequeue_burst(tx_, objs, 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        out.emplace_back(dp::PacketData(m), dp::PacketData(m) + dp::PacketLen(m));
        rte_pktmbuf_free(m);
      }
    }
    return out;
  }

 private:
  std::string name_;
  rte_ring* rx_ = nullptr;
  rte_ring* tx_ = nullptr;
};

// A 60-byte Ethernet/IPv4/UDP frame (UDP checksum 0).
inline std::vector<uint8_t> UdpFrame(uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
                                     uint8_t src_mac_last = 0x01, uint8_t dst_mac_last = 0x02) {
  std::vector<uint8_t> f(60, 0);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, dst_mac_last}, src[6] = {0x02, 0, 0, 0, 0, src_mac_last};
  std::memcpy(&f[0], dst, 6);
  std::memcpy(&f[6], src, 6);
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 46;
  f[22] = 64;
  f[23] = 17;
  for (int i = 0; i < 4; ++i) {
    f[26 + i] = static_cast<uint8_t>(src_ip >> (24 - 8 * i));
    f[30 + i] = static_cast<uint8_t>(dst_ip >> (24 - 8 * i));
  }
  f[34] = static_cast<uint8_t>(sport >> 8);
  f[35] = static_cast<uint8_t>(sport);
  f[36] = static_cast<uint8_t>(dport >> 8);
  f[37] = static_cast<uint8_t>(dport);
  f[39] = 26;
  return f;
}

}  // namespace sluice::testing
