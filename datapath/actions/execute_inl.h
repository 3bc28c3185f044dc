#pragma once
// What: the body of ExecuteActions (declared, with its contract, in
// execute.h), and the batch helpers it is built from.
//
// Design: one pass over the action list per flow batch; each action is one
// loop over the batch's packets (or one Sink call).
//   - single_output() hands the whole batch to Sink::Output and returns: the
//     common case costs one branch.
//   - The packets the executor owns sit in pkts[0..n). An output, userspace
//     or recirculation that is the last action hands that array to the Sink
//     (ownership moves). One that is not last hands the Sink its own
//     references: shared ones (rte_pktmbuf_refcnt_update, no copy) when no
//     later action changes packet bytes, else private deep copies
//     (rte_pktmbuf_copy from the packet's own pool), so that the later
//     rewrite cannot show through in what was already sent. A copy that
//     cannot be allocated is skipped and counted; the packet carries on.
//   - If any action of the list changes bytes, every packet is first checked
//     to be writable: a packet that arrived shared (refcnt > 1, an indirect
//     mbuf, or an external buffer with other users — e.g. recirculated after
//     an output shared it) is replaced by a private copy. A packet that then
//     cannot be copied cannot be changed safely and is dropped and counted.
//     This check is once per batch per list, not per rewrite.
//   - Set actions go to SetFieldsBatch (rewrite.h); push/pop VLAN here, as
//     they move layouts[] and may drop (push with no room for the tag).
//   - Whatever the executor still owns at the end is freed: that is drop.
//     Dropped packets leave pkts[]/layouts[] compacted in order, so later
//     actions see only live packets; both arrays are the caller's scratch.
//   - Meters: kMeter hands the live packets (with their layouts) to the
//     Sink's optional hook
//       uint32_t Meter(uint32_t meter_id, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n);
//     which meters them (pmd/meter.h), frees the ones it drops, compacts the
//     survivors to the front in order and returns how many survive; later
//     actions see only those, and if none survive execution stops. Sinks
//     without the hook pass packets unmetered. A meter may remark DSCP, so
//     kMeter counts as an action that changes bytes (copies handed out
//     before it are private, packets are made writable first).
//   - Drop accounting: if the Sink has a member
//       void Dropped(ExecDrop why, uint32_t n);
//     it is told how many packets (or copies) were lost and why, once per
//     action per batch. Sinks without it compile and simply do not count.
//
// Invariants:
//   1. Every input packet is handed to the Sink or freed exactly once; every
//      extra reference or copy made is handed to the Sink.
//   2. No packet a Sink has received is modified afterwards by the executor.
//   3. Sink calls happen in action order, never with n == 0, with at most
//      kMaxBurst packets for a non-final action (batches are chunked).
//   4. Each Sink call's array is only valid during the call; the Sink copies
//      the pointers it keeps.
//
// Thread-safety: the calling (PMD) thread owns the packets; nothing shared.
// Memory: per-call scratch on the stack (kMaxBurst pointers); mbufs are
// allocated only for copies.

#include <algorithm>
#include <cstdint>

#include "datapath/actions/dp_actions.h"
#include "datapath/actions/execute.h"
#include "datapath/actions/rewrite.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {

// Why the executor lost packets (or copies of them).
enum class ExecDrop : uint8_t {
  kNoOutput,  // the action list ended without handing the packet on (drop)
  kNoMbuf,    // no mbuf for a copy: that destination misses the packet, or a
              // shared packet that had to be changed was dropped
  kNoRoom,    // push_vlan found neither headroom nor tailroom for the tag
  kCount
};
const char* ExecDropName(ExecDrop why);

namespace exec_detail {

// True for the actions that change packet bytes.
constexpr bool ModifiesPacket(DpActionType t) {
  switch (t) {
    case DpActionType::kPushVlan:
    case DpActionType::kPopVlan:
    case DpActionType::kSetEth:
    case DpActionType::kSetIpv4:
    case DpActionType::kSetIpv6:
    case DpActionType::kSetTcp:
    case DpActionType::kSetUdp:
    case DpActionType::kSetSctp:
    case DpActionType::kSetArp:
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6:
    case DpActionType::kSetNd:
    case DpActionType::kMeter:  // a dscp_remark band rewrites the IP header
      return true;
    default:
      return false;
  }
}

// True when nobody else can see changes to m's first segment.
inline bool PacketWritable(const rte_mbuf* m) {
  if (rte_mbuf_refcnt_read(m) != 1) return false;
  if (RTE_MBUF_CLONED(m)) return false;
  if (RTE_MBUF_HAS_EXTBUF(m) && rte_mbuf_ext_refcnt_read(m->shinfo) != 1) return false;
  return true;
}

// Replaces every packet that is not writable by a private copy (dropping the
// executor's reference to the shared one). Packets that cannot be copied
// are freed and removed, keeping order. Returns the new count; *n_failed
// gets how many were dropped.
uint32_t MakeWritable(rte_mbuf** pkts, PacketLayout* layouts, uint32_t n, uint32_t* n_failed);

// dst[i] = src[i] with one more reference (every segment). Returns n.
inline uint32_t SharePackets(rte_mbuf* const* src, uint32_t n, rte_mbuf** dst) {
  for (uint32_t i = 0; i < n; ++i) {
    rte_pktmbuf_refcnt_update(src[i], 1);
    dst[i] = src[i];
  }
  return n;
}

// Deep copies of src[0..n) into dst, in order, skipping those that cannot
// be allocated. Returns how many were copied.
uint32_t CopyPackets(rte_mbuf* const* src, uint32_t n, rte_mbuf** dst);

// push_vlan on every packet; packets with no room for the tag are freed and
// removed (*n_failed of them). Returns the new count.
uint32_t PushVlanBatch(rte_mbuf** pkts, PacketLayout* layouts, uint32_t n, const PushVlan& a,
                       uint32_t* n_failed);

// pop_vlan on every packet (those without a tag are left alone).
void PopVlanBatch(rte_mbuf* const* pkts, PacketLayout* layouts, uint32_t n);

template <class Sink>
inline void NoteDrops(Sink& sink, ExecDrop why, uint32_t n) {
  if constexpr (requires { sink.Dropped(why, n); }) {
    if (n != 0) sink.Dropped(why, n);
  }
}

// Hands pkts[0..n) (ownership included) to the Sink for a delivering action.
template <class Sink>
inline void Deliver(Sink& sink, const DpAction& a, rte_mbuf** pkts, uint32_t n) {
  switch (a.type) {
    case DpActionType::kOutput:
      sink.Output(a.port, pkts, n);
      break;
    case DpActionType::kUserspace:
      sink.Userspace(a.userspace.cookie, pkts, n);
      break;
    case DpActionType::kRecirc:
      sink.Recirculate(a.recirc_id, pkts, n);
      break;
    default:
      break;
  }
}

// Hands the Sink extra references (shared, or deep copies when `deep`) to
// pkts[0..n), kMaxBurst at a time; the executor keeps its own.
template <class Sink>
void DeliverCopies(Sink& sink, const DpAction& a, rte_mbuf* const* pkts, uint32_t n, bool deep) {
  alignas(64) rte_mbuf* refs[kMaxBurst];
  for (uint32_t off = 0; off < n; off += kMaxBurst) {
    const uint32_t chunk = std::min<uint32_t>(n - off, kMaxBurst);
    const uint32_t got =
        deep ? CopyPackets(pkts + off, chunk, refs) : SharePackets(pkts + off, chunk, refs);
    NoteDrops(sink, ExecDrop::kNoMbuf, chunk - got);
    if (got != 0) Deliver(sink, a, refs, got);
  }
}

}  // namespace exec_detail

template <class Sink>
void ExecuteActions(const DpActions& actions, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                    Sink& sink) {
  if (n == 0) return;
  if (actions.single_output()) [[likely]] {
    sink.Output(actions.single_output_port(), pkts, n);
    return;
  }

  const DpAction* acts = actions.actions().data();
  const size_t n_acts = actions.size();
  // One past the last action that changes bytes: a copy handed out before it
  // must be private.
  size_t modify_end = 0;
  for (size_t i = 0; i < n_acts; ++i) {
    if (exec_detail::ModifiesPacket(acts[i].type)) modify_end = i + 1;
  }
  if (modify_end != 0) {
    uint32_t failed = 0;
    n = exec_detail::MakeWritable(pkts, layouts, n, &failed);
    exec_detail::NoteDrops(sink, ExecDrop::kNoMbuf, failed);
  }

  for (size_t i = 0; i < n_acts && n != 0; ++i) {
    const DpAction& a = acts[i];
    switch (a.type) {
      case DpActionType::kOutput:
      case DpActionType::kUserspace:
      case DpActionType::kRecirc:
        if (i + 1 == n_acts) {
          exec_detail::Deliver(sink, a, pkts, n);
          return;
        }
        exec_detail::DeliverCopies(sink, a, pkts, n, /*deep=*/i < modify_end);
        break;
      case DpActionType::kPushVlan: {
        uint32_t failed = 0;
        n = exec_detail::PushVlanBatch(pkts, layouts, n, a.push_vlan, &failed);
        exec_detail::NoteDrops(sink, ExecDrop::kNoRoom, failed);
        break;
      }
      case DpActionType::kPopVlan:
        exec_detail::PopVlanBatch(pkts, layouts, n);
        break;
      case DpActionType::kSetEth:
      case DpActionType::kSetIpv4:
      case DpActionType::kSetIpv6:
      case DpActionType::kSetTcp:
      case DpActionType::kSetUdp:
      case DpActionType::kSetSctp:
      case DpActionType::kSetArp:
      case DpActionType::kSetIcmp:
      case DpActionType::kSetIcmpv6:
      case DpActionType::kSetNd:
        SetFieldsBatch(a, pkts, layouts, n);
        break;
      case DpActionType::kMeter:
        if constexpr (requires { sink.Meter(a.meter_id, pkts, layouts, n); }) {
          n = sink.Meter(a.meter_id, pkts, layouts, n);
        }
        break;
    }
  }
  if (n != 0) {
    FreePackets(pkts, n);
    exec_detail::NoteDrops(sink, ExecDrop::kNoOutput, n);
  }
}

}  // namespace sluice::dp
