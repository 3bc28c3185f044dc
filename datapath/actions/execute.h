#pragma once
// What: the datapath action executor: applies a DpActions list to the packets
// of one flow batch.
//
// Design: one call per flow batch (all packets of a burst that hit the same
// megaflow), never per packet; the loop over actions is outside, the loop over
// packets inside. The executor is a template over a Sink, so the PMD's
// outputs are direct calls (no virtual call per packet or per batch). The
// Sink receives packets it then owns:
//
//   struct Sink {
//     void Output(uint32_t port, rte_mbuf** pkts, uint32_t n);
//     void Userspace(uint64_t cookie, rte_mbuf** pkts, uint32_t n);
//     void Recirculate(uint32_t recirc_id, rte_mbuf** pkts, uint32_t n);
//   };
//
// A packet that must go to more than one place is copied (or shares its
// buffer by reference count when nothing rewrites it afterwards). Packets
// still owned when the list ends (no final output) are freed: that is drop.
// Header rewrites update IPv4, TCP, UDP, ICMP and ICMPv6 checksums
// incrementally and recompute SCTP's CRC32c. layouts[] is updated when a VLAN push/pop moves
// the L3 header.
//
// Invariants:
//   1. Every input packet is either handed to the Sink or freed, exactly once.
//   2. A rewrite of a layer the packet does not have (layout offset kNoOffset,
//      or too short) leaves the packet unchanged.
//
// Thread-safety: runs on the calling thread; packets belong to it.

#include <cstdint>

#include "datapath/actions/dp_actions.h"
#include "datapath/actions/rewrite.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {

template <class Sink>
void ExecuteActions(const DpActions& actions, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                    Sink& sink);

}  // namespace sluice::dp

#include "datapath/actions/execute_inl.h"
