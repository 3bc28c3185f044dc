#pragma once
// What: FlowKey, the datapath's description of one packet's headers, and
// FlowMask, which says which of its bits a megaflow matches on.
//
// Design: a fixed 128-byte, 16-word layout (two cache lines), fields kept in
// network byte order exactly as they appear on the wire. Fields that are
// usually matched together share a 64-bit word (in_port and recirc_id; the
// Ethernet destination and type; IPv4 source and destination; the L4 ports),
// so a typical megaflow mask touches 3-5 words. Hashing, masking and
// comparison work on whole words: a subtable knows which words its mask
// uses (FlowWordMap) and touches only those. This is Open vSwitch's
// miniflow idea with a fixed layout instead of a sparse one: parse writes
// fields at fixed offsets, and a mask's word map plays the part of the
// miniflow map.
//
// Field conventions (the same as Open vSwitch's, so users recognise them):
//   - vlan[0] is the outermost tag. tci has kVlanPresent (0x1000, the CFI bit)
//     set when the tag exists; the real DEI bit is not kept.
//   - ARP: nw_proto holds the low byte of the opcode, nw_src/nw_dst the sender
//     and target IP, arp_sha/arp_tha the sender and target MAC.
//   - ICMP/ICMPv6: tp_src holds the type, tp_dst the code (as be16).
//   - IPv6 neighbour discovery: nd_target; arp_sha is the source link-layer
//     option (sll), arp_tha the target link-layer option (tll).
//   - nw_frag: kFragAny for any fragment, plus kFragLater for a non-first
//     fragment (whose L4 fields are then left zero).
//   - nw_tos is the whole DS field (DSCP << 2 | ECN).
//
// Invariants:
//   1. sizeof(FlowKey) == 128 and it is 64-byte aligned.
//   2. Bytes not set by the parser are zero (parse starts from a zeroed key),
//      so two packets with identical headers have bitwise identical keys.
//   3. A masked key (key & mask) has no bit set outside the mask.
//
// Memory: 128 bytes per key; per-burst keys live on the PMD's stack.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "datapath/util/be.h"
#include "datapath/util/hash.h"

namespace sluice::dp {

inline constexpr int kMaxBurst = 32;
inline constexpr int kFlowWords = 16;

struct EthAddr {
  uint8_t b[6];
  constexpr bool operator==(const EthAddr&) const = default;
};
static_assert(sizeof(EthAddr) == 6);

struct VlanHdr {
  be16 tpid;  // 0x8100 or 0x88a8 when present, zero otherwise
  be16 tci;   // PCP(3) | kVlanPresent | VID(12)
};

inline constexpr uint16_t kVlanPresent = 0x1000;
inline constexpr uint16_t kVlanVidMask = 0x0fff;
inline constexpr uint16_t kVlanPcpMask = 0xe000;

inline constexpr uint8_t kFragAny = 0x01;
inline constexpr uint8_t kFragLater = 0x02;

struct alignas(64) FlowKey {
  // word 0: metadata
  uint32_t in_port;    // datapath port number (host order)
  uint32_t recirc_id;  // host order; 0 for packets fresh from a port
  // word 1
  EthAddr eth_dst;
  be16 eth_type;  // after VLAN tags; below 0x600 (802.3 length) it is 0x05ff
  // word 2
  EthAddr eth_src;
  uint8_t nw_proto;  // IP protocol, or ARP opcode's low byte
  uint8_t nw_frag;   // kFragAny | kFragLater
  // word 3
  VlanHdr vlan[2];  // [0] outer, [1] inner (QinQ)
  // word 4
  be32 nw_src;  // IPv4 source, ARP sender IP
  be32 nw_dst;  // IPv4 destination, ARP target IP
  // word 5
  be16 tp_src;     // TCP/UDP/SCTP source port, ICMP type
  be16 tp_dst;     // TCP/UDP/SCTP destination port, ICMP code
  be16 tcp_flags;  // low 12 bits of the TCP header's flags word
  uint8_t nw_tos;  // DS field (IPv4 TOS, IPv6 traffic class)
  uint8_t nw_ttl;  // IPv4 TTL, IPv6 hop limit
  // words 6-9
  uint8_t ipv6_src[16];
  uint8_t ipv6_dst[16];
  // word 10
  be32 ipv6_label;  // low 20 bits: the flow label
  uint32_t pkt_mark;
  // words 11-12
  uint8_t nd_target[16];
  // word 13
  EthAddr arp_sha;  // also the ND source link-layer address
  uint16_t pad13;
  // word 14
  EthAddr arp_tha;  // also the ND target link-layer address
  uint16_t pad14;
  // word 15
  uint32_t dp_hash;
  uint32_t pad15;

  const AliasWord* words() const { return reinterpret_cast<const AliasWord*>(this); }
  AliasWord* words() { return reinterpret_cast<AliasWord*>(this); }

  // Four 32-byte stores (GCC 12 turns a 128-byte memset into `rep stosq`).
  void Clear() {
    typedef uint64_t V __attribute__((vector_size(32), may_alias));
    V* v = reinterpret_cast<V*>(this);
    v[0] = v[1] = v[2] = v[3] = V{};
  }
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};
static_assert(sizeof(FlowKey) == kFlowWords * 8);
static_assert(alignof(FlowKey) == 64);
static_assert(offsetof(FlowKey, eth_dst) == 8 && offsetof(FlowKey, eth_src) == 16);
static_assert(offsetof(FlowKey, vlan) == 24 && offsetof(FlowKey, nw_src) == 32);
static_assert(offsetof(FlowKey, tp_src) == 40 && offsetof(FlowKey, ipv6_src) == 48);
static_assert(offsetof(FlowKey, ipv6_label) == 80 && offsetof(FlowKey, nd_target) == 88);
static_assert(offsetof(FlowKey, arp_sha) == 104 && offsetof(FlowKey, dp_hash) == 120);

// A mask has the key's layout: a 1 bit means "match this bit".
using FlowMask = FlowKey;

// Bit i set when word i of a mask is non-zero.
using FlowWordMap = uint16_t;

inline FlowWordMap WordMapOf(const FlowMask& mask) {
  FlowWordMap map = 0;
  for (int i = 0; i < kFlowWords; ++i) {
    if (mask.words()[i]) map |= static_cast<FlowWordMap>(1u << i);
  }
  return map;
}

// out = key & mask, word by word.
inline void MaskKey(const FlowKey& key, const FlowMask& mask, FlowKey* out) {
  for (int i = 0; i < kFlowWords; ++i) out->words()[i] = key.words()[i] & mask.words()[i];
}

// The mask that matches every bit of every field (for exact-match flows).
inline FlowMask ExactMask() {
  FlowMask m;
  std::memset(&m, 0xff, sizeof(m));
  m.pad13 = m.pad14 = 0;
  m.pad15 = 0;
  return m;
}

// Hash of a whole key (the EMC's hash when the NIC gave none): four
// independent CRC32C chains of four words each, so the 3-cycle latency of
// the instruction overlaps (about a quarter of the time of one 16-word chain).
inline uint32_t FlowKeyHash(const FlowKey& key, uint32_t basis = 0) {
  const AliasWord* w = key.words();
  uint32_t h0 = basis, h1 = basis ^ 0x9e3779b9u, h2 = basis ^ 0x7f4a7c15u, h3 = basis ^ 0x85ebca6bu;
  for (int i = 0; i < kFlowWords; i += 4) {
    h0 = HashAddWord(h0, w[i]);
    h1 = HashAddWord(h1, w[i + 1]);
    h2 = HashAddWord(h2, w[i + 2]);
    h3 = HashAddWord(h3, w[i + 3]);
  }
  uint64_t a = static_cast<uint64_t>(h0) << 32 | h1, b = static_cast<uint64_t>(h2) << 32 | h3;
  return HashFinish(HashAddWord(HashAddWord(basis, a), b), sizeof(FlowKey));
}

// A 128-bit unique flow identifier, as Open vSwitch's ufid.
struct Ufid {
  uint64_t hi = 0;
  uint64_t lo = 0;
  constexpr bool operator==(const Ufid&) const = default;
  bool IsZero() const { return hi == 0 && lo == 0; }
};

struct UfidHash {
  size_t operator()(const Ufid& u) const { return u.lo ^ (u.hi * 0x9E3779B97F4A7C15ull); }
};

// Derives a ufid from a masked key and its mask (stable across runs).
Ufid UfidFromMatch(const FlowKey& masked_key, const FlowMask& mask);

}  // namespace sluice::dp
