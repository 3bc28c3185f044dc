#pragma once
// What: the parts of the software eSwitch (eswitch.h) shared by its
// implementation files, and not for use outside them:
//   - eswitch.cc: construction, validation, flow create/destroy/query,
//     packet processing (Poll) and EswitchBackend;
//   - eswitch_match.cc: the item tables (the masks the model can match,
//     DPDK's default masks) and matching a rule's pattern against a frame;
//   - eswitch_exec.cc: a transfer rule's actions on one packet (tags,
//     header rewrites with incremental checksum updates, outputs).
//
// Design: EswitchFlow (a rule as the table holds it) and the small wire
// readers every file needs (Ld16/St16/IsTpid, inline) live here; everything
// only one file uses (the frame parser, checksums, byte comparison) stays
// in that file's anonymous namespace.
//
// Thread-safety: the functions are pure (or write only the packet they are
// given); kSupported is constant after static initialization. The rule
// table itself is guarded by Eswitch's mutex.

#include <rte_flow.h>

#include <cstdint>

#include "offload/flow_translate.h"

namespace sluice::offload {

// A rule as the table holds it (eswitch.h declares it opaque).
struct EswitchFlow {
  RteFlowRule rule;
  uint64_t seq = 0;
  uint64_t hits = 0;  // written by Poll under the mutex
  uint64_t bytes = 0;
  bool has_count = false;
};

namespace esw_detail {

inline constexpr uint32_t kNone = 0xffffffffu;
inline constexpr uint16_t kTpidC = 0x8100, kTpidS = 0x88a8;

inline uint16_t Ld16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void St16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline bool IsTpid(uint16_t t) { return t == kTpidC || t == kTpidS; }

// Bits of an item's struct the model can match (like a NIC's capability).
struct ItemMasks {
  rte_flow_item_eth eth{};
  rte_flow_item_vlan vlan{};
  rte_flow_item_ipv4 ipv4{};
  rte_flow_item_ipv6 ipv6{};
  rte_flow_item_tcp tcp{};
  rte_flow_item_udp udp{};
  rte_flow_item_sctp sctp{};
  rte_flow_item_icmp icmp{};
  rte_flow_item_icmp6 icmp6{};
  rte_flow_item_ethdev ethdev{};
  rte_flow_item_meta meta{};
};

// What the model can match, by item type (CheckRule refuses other mask bits).
extern const ItemMasks kSupported;

// The table's entry for an item type (nullptr for types the model lacks).
const void* MaskTable(const ItemMasks& t, rte_flow_item_type type);

// Layer rank for the stacking rule.
int Rank(rte_flow_item_type t);

// Where a packet stands while a pattern is matched against it.
struct MatchCtx {
  uint32_t src = kNone;  // flow port id of the source vport
  bool has_meta = false;
  uint32_t meta = 0;
};

// Whether `rule`'s pattern matches the frame d[0..len) arriving as `ctx`.
bool MatchPattern(const RteFlowRule& rule, const uint8_t* d, uint32_t len, const MatchCtx& ctx);

}  // namespace esw_detail
}  // namespace sluice::offload
