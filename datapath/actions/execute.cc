// The non-template parts of the action executor (execute_inl.h).
#include "datapath/actions/execute.h"

#include <cstdint>

namespace sluice::dp {

const char* ExecDropName(ExecDrop why) {
  switch (why) {
    case ExecDrop::kNoOutput:
      return "action_drop";
    case ExecDrop::kNoMbuf:
      return "action_no_mbuf";
    case ExecDrop::kNoRoom:
      return "push_vlan_no_room";
    case ExecDrop::kCount:
      break;
  }
  return "unknown";
}

namespace exec_detail {

namespace {

rte_mbuf* DeepCopy(rte_mbuf* m) { return rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX); }

}  // namespace

uint32_t MakeWritable(rte_mbuf** pkts, PacketLayout* layouts, uint32_t n, uint32_t* n_failed) {
  uint32_t out = 0;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (!PacketWritable(m)) [[unlikely]] {
      rte_mbuf* copy = DeepCopy(m);
      rte_pktmbuf_free(m);  // the executor's reference only
      if (copy == nullptr) {
        ++*n_failed;
        continue;
      }
      m = copy;
    }
    pkts[out] = m;
    if (out != i) layouts[out] = layouts[i];
    ++out;
  }
  return out;
}

uint32_t CopyPackets(rte_mbuf* const* src, uint32_t n, rte_mbuf** dst) {
  uint32_t got = 0;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* copy = DeepCopy(src[i]);
    if (copy != nullptr) dst[got++] = copy;
  }
  return got;
}

uint32_t PushVlanBatch(rte_mbuf** pkts, PacketLayout* layouts, uint32_t n, const PushVlan& a,
                       uint32_t* n_failed) {
  uint32_t out = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (PushVlanTag(pkts[i], &layouts[i], a.tpid, a.tci) == PushVlanResult::kNoRoom) [[unlikely]] {
      // Sending it untagged could leak it into the wrong VLAN: drop it.
      rte_pktmbuf_free(pkts[i]);
      ++*n_failed;
      continue;
    }
    // Moving entries only after a drop (PushVlanTag has just written
    // layouts[i] field by field; reading it back whole would stall).
    if (out != i) {
      pkts[out] = pkts[i];
      layouts[out] = layouts[i];
    }
    ++out;
  }
  return out;
}

void PopVlanBatch(rte_mbuf* const* pkts, PacketLayout* layouts, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) PopVlanTag(pkts[i], &layouts[i]);
}

}  // namespace exec_detail

}  // namespace sluice::dp
