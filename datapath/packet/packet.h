#pragma once
// What: the packet buffer: thin inline helpers over DPDK's rte_mbuf, and the
// mbuf pools the ports receive into.
//
// Design: packets are rte_mbufs from receive to transmit; the datapath never
// wraps them in an object of its own. This header (with the port and offload
// code) is where DPDK types enter the datapath; everything that only needs
// bytes (parse, checksums) takes a pointer and a length instead.
//
// Thread-safety: an mbuf belongs to one thread at a time. Pools are DPDK
// mempools (lock-free with per-lcore caches for EAL threads).

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "datapath/util/status.h"

namespace sluice::dp {

inline uint8_t* PacketData(rte_mbuf* m) { return rte_pktmbuf_mtod(m, uint8_t*); }
inline const uint8_t* PacketData(const rte_mbuf* m) { return rte_pktmbuf_mtod(m, const uint8_t*); }
inline uint32_t PacketLen(const rte_mbuf* m) { return rte_pktmbuf_pkt_len(m); }
// Bytes of the first segment: what parse and header rewrites may touch.
inline uint32_t PacketHeadLen(const rte_mbuf* m) { return rte_pktmbuf_data_len(m); }

// True when the NIC (or driver) supplied an RSS hash for this packet.
inline bool PacketHasRssHash(const rte_mbuf* m) { return m->ol_flags & RTE_MBUF_F_RX_RSS_HASH; }
inline uint32_t PacketRssHash(const rte_mbuf* m) { return m->hash.rss; }

// Frees `n` packets.
inline void FreePackets(rte_mbuf* const* pkts, uint32_t n) {
  rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(pkts), n);
}

// A pool of packet buffers for receiving (and copying) packets.
struct PktPoolOptions {
  std::string name;
  uint32_t n_mbufs = 16384;
  uint32_t cache_size = 256;
  uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
  int socket_id = 0;
};
rte_mempool* CreatePktPool(const PktPoolOptions& options, Status* status);

// Builds an mbuf holding a copy of `len` bytes (tests, packet-out).
rte_mbuf* PacketFromBytes(rte_mempool* pool, const uint8_t* data, uint32_t len);

}  // namespace sluice::dp
