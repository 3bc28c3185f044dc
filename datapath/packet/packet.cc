#include "datapath/packet/packet.h"

#include <rte_errno.h>

#include <cstring>

namespace sluice::dp {

rte_mempool* CreatePktPool(const PktPoolOptions& o, Status* status) {
  rte_mempool* mp = rte_pktmbuf_pool_create(o.name.c_str(), o.n_mbufs, o.cache_size, 0,
                                            o.data_room, o.socket_id);
  if (mp == nullptr) {
    *status = Status::Errorf("cannot create mbuf pool {} ({} mbufs of {} bytes): {}", o.name,
                             o.n_mbufs, o.data_room, rte_strerror(rte_errno));
  }
  return mp;
}

rte_mbuf* PacketFromBytes(rte_mempool* pool, const uint8_t* data, uint32_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(len));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  if (len) std::memcpy(p, data, len);
  return m;
}

}  // namespace sluice::dp
