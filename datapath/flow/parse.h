#pragma once
// What: the packet parser. Reads a frame's headers into a FlowKey and records
// where its L3 and L4 headers start.
//
// Design: plain C++ over a byte span (no DPDK here), one forward pass, every
// read bounds-checked against the frame length before it happens. The key is
// zeroed first and filled as far as the headers are valid. A frame whose
// headers are malformed or truncated gets a ParseStatus naming why; the PMD
// counts it under that name and drops the frame.
//
// Protocols: Ethernet II and 802.3 (eth_type 0x05ff for lengths), 802.1Q and
// 802.1ad (two tags kept; deeper tags are an error), ARP/RARP over Ethernet
// and IPv4, IPv4 with options and fragments, IPv6 with hop-by-hop, routing,
// destination-options and fragment extension headers, TCP (flags), UDP,
// SCTP, ICMP, ICMPv6 with neighbour solicitation/advertisement options.
//
// Invariants:
//   1. Never reads data[i] for i >= len.
//   2. On kOk, key holds every field of the headers present and zero
//      elsewhere; l3_ofs/l4_ofs are kNoOffset where that layer is absent.
//   3. Deterministic: the same bytes and in_port give the same key.
//
// Thread-safety: pure function.

#include <cstdint>

#include "datapath/flow/flow_key.h"

namespace sluice::dp {

inline constexpr uint16_t kNoOffset = 0xffff;

struct PacketLayout {
  uint16_t l3_ofs = kNoOffset;  // start of the IP/ARP header
  uint16_t l4_ofs = kNoOffset;  // start of the TCP/UDP/SCTP/ICMP header
};

// Why a frame was refused. Names are the user-visible drop reasons.
#define SLUICE_PARSE_STATUSES(X)                                 \
  X(kOk, "ok")                                                   \
  X(kTooShort, "frame shorter than an Ethernet header")          \
  X(kBadVlan, "truncated VLAN tag or more than two tags")        \
  X(kBadArp, "truncated or malformed ARP")                       \
  X(kBadIpv4, "truncated or malformed IPv4 header")              \
  X(kBadIpv6, "truncated or malformed IPv6 header or extension") \
  X(kBadL4, "truncated TCP/UDP/SCTP/ICMP header")                \
  X(kBadNd, "malformed IPv6 neighbour discovery message")

enum class ParseStatus : uint8_t {
#define SLUICE_X(name, text) name,
  SLUICE_PARSE_STATUSES(SLUICE_X)
#undef SLUICE_X
      kCount
};

const char* ParseStatusName(ParseStatus s);  // "kBadIpv4" -> "bad_ipv4"
const char* ParseStatusText(ParseStatus s);

// Parses `len` bytes at `data`, received on `in_port`, into *key and *layout.
// Untagged Ethernet/IPv4 (no options, not fragmented)/UDP|TCP frames take a
// fast path of a few wide loads and whole-word stores; every other frame
// goes to ParseFlowGeneric. Both give identical results for every frame.
ParseStatus ParseFlow(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                      PacketLayout* layout);
// The general parser alone (what the fast path is tested against).
ParseStatus ParseFlowGeneric(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                             PacketLayout* layout);

}  // namespace sluice::dp
