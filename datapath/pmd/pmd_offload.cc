// The PMD's hardware-offload stage (pmd.h, "hw mark" in STYLE.md's stage
// list): bursts from rx queues whose RxqOffload is active come here instead
// of going straight to ProcessPackets.
//
//   1. Partial offload: a packet the NIC marked (RTE_MBUF_F_RX_FDIR_ID,
//      hash.fdir.hi = the MARK id of the rule it hit) whose mark names a
//      megaflow in mark_table_ skips parse, EMC and dpcls and joins its
//      megaflow's batch. A mark the table does not know (a rule that is
//      gone, a flow this PMD does not hold) takes the normal path, so a
//      stale mark can never run a deleted flow's actions.
//   2. Unified representor proxy: every packet's source is the flow port id
//      in its rte_flow metadata (none: the uplink, i.e. the proxy itself),
//      mapped to the VF's datapath port_no through RxqOffload::sources; the
//      metadata flag is cleared (tx metadata is the same mbuf flag, and a
//      packet forwarded to the uplink must not carry its source as a
//      destination). Unmarked packets are processed per source port, in
//      receive order within each.
//   3. Marked batches run after the unmarked packets of the burst: when a
//      rule appears mid-flow, the flow's older (unmarked) packets leave
//      first, so receive order holds within a flow.
//
// A marked packet is parsed only when its flow's actions need a layout
// (anything but a single output or a drop) or the flow is TCP (for the
// megaflow's tcp_flags); otherwise nothing of the packet beyond its length
// is read.
#include <rte_flow.h>
#include <rte_mbuf.h>

#include <algorithm>

#include "datapath/packet/packet.h"
#include "datapath/pmd/pmd.h"

namespace sluice::dp {

void Pmd::ProcessOffloadBurst(const RxqOffload& o, rte_mbuf** pkts, uint32_t n,
                              uint32_t port_no) {
  rte_mbuf* rest[kMaxBurst];
  uint32_t rest_port[kMaxBurst];
  uint32_t n_rest = 0;
  rte_mbuf* marked[kMaxBurst];
  Megaflow* marked_flow[kMaxBurst];
  uint32_t n_marked = 0;

  const std::vector<uint32_t>* sources = o.sources.get();
  const uint64_t meta_flag = sources ? RTE_MBUF_DYNFLAG_RX_METADATA : 0;
  const size_t n_marks = o.marks ? mark_table_.size() : 0;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    uint32_t in_port = port_no;
    if (m->ol_flags & meta_flag) {
      const uint32_t id = *RTE_FLOW_DYNF_METADATA(m);
      m->ol_flags &= ~meta_flag;
      in_port = id < sources->size() ? (*sources)[id] : 0;
      if (__builtin_expect(in_port == 0, 0)) {
        rte_pktmbuf_free(m);
        CounterAdd(counters_.unknown_source_drops, 1);
        continue;
      }
    }
    if (m->ol_flags & RTE_MBUF_F_RX_FDIR_ID) {
      const uint32_t mark = m->hash.fdir.hi;
      Megaflow* f = mark < n_marks ? mark_table_[mark] : nullptr;
      if (f != nullptr) {
        marked[n_marked] = m;
        marked_flow[n_marked++] = f;
        continue;
      }
    }
    rest[n_rest] = m;
    rest_port[n_rest++] = in_port;
  }

  // Unmarked packets: per source port (one call when there is one source).
  uint32_t done = 0;
  while (done < n_rest) {
    rte_mbuf* batch[kMaxBurst];
    uint32_t nb = 0;
    uint32_t in_port = 0;
    for (uint32_t i = 0; i < n_rest; ++i) {
      if (rest[i] == nullptr) continue;
      if (nb == 0) in_port = rest_port[i];
      if (rest_port[i] != in_port) continue;
      batch[nb++] = rest[i];
      rest[i] = nullptr;
    }
    done += nb;
    ProcessPackets(batch, nb, in_port, 0, 0);
  }

  // Marked packets: per megaflow, receive order kept within each.
  if (n_marked == 0) return;
  CounterAdd(counters_.mark_hits, n_marked);
  done = 0;
  while (done < n_marked) {
    rte_mbuf* batch[kMaxBurst];
    uint32_t nb = 0;
    Megaflow* f = nullptr;
    for (uint32_t i = 0; i < n_marked; ++i) {
      if (marked[i] == nullptr) continue;
      if (nb == 0) f = marked_flow[i];
      if (marked_flow[i] != f) continue;
      batch[nb++] = marked[i];
      marked[i] = nullptr;
    }
    done += nb;
    RunMarkedBatch(f, batch, nb);
  }
}

void Pmd::RunMarkedBatch(Megaflow* f, rte_mbuf** pkts, uint32_t n) {
  const DpActions& actions = *f->actions;
  // in_port is always exact in an offloaded megaflow (translation refuses
  // anything else), so the flow's key has the packet's input port.
  const uint32_t in_port = f->key().in_port;
  const bool tcp = f->mask.nw_proto == 0xff && f->key().nw_proto == 6;
  const bool parse = tcp || !(actions.single_output() || actions.empty());
  PacketLayout layouts[kMaxBurst];
  uint64_t bytes = 0;
  uint16_t tcp_flags = 0;
  uint32_t live = n;
  if (parse) {
    live = 0;
    for (uint32_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      alignas(64) FlowKey key;
      ParseStatus st = ParseFlow(PacketData(m), PacketHeadLen(m), in_port, &key, &layouts[live]);
      if (__builtin_expect(st != ParseStatus::kOk, 0)) {
        CounterAdd(counters_.parse_drops[static_cast<int>(st)], 1);
        rte_pktmbuf_free(m);
        continue;
      }
      tcp_flags |= key.tcp_flags.raw;
      bytes += PacketLen(m);
      pkts[live++] = m;
    }
    if (live == 0) return;
  } else {
    for (uint32_t i = 0; i < n; ++i) bytes += PacketLen(pkts[i]);
  }
  RunFlowBatch(f, pkts, layouts, live, bytes, tcp_flags, in_port, 0);
}

void Pmd::ApplyMarkCommand(const PmdCommand& cmd) {
  switch (cmd.kind) {
    case PmdCommand::Kind::kMarkSet:
      // Allocation is fine here: commands are applied between bursts.
      if (cmd.value >= mark_table_.size()) mark_table_.resize(cmd.value + 1, nullptr);
      mark_table_[cmd.value] = cmd.flow;
      break;
    case PmdCommand::Kind::kMarkClear:
      if (cmd.value < mark_table_.size()) mark_table_[cmd.value] = nullptr;
      break;
    case PmdCommand::Kind::kMarkClearAll:
      std::fill(mark_table_.begin(), mark_table_.end(), nullptr);
      break;
    default:
      break;
  }
}

}  // namespace sluice::dp
