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
//   4. The parser reads nothing but `data[0, len)`, `len` and `in_port` (no
//      mbuf metadata such as a stripped VLAN tag): ParseResult::reads
//      contract depends on it.
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

// How much of the key a PMD needs (pmd.cc): only the metadata (in_port,
// recirc_id), also L2 (Ethernet addresses and type, VLAN tags), or all.
enum class ParseDepth : uint8_t { kMeta, kL2, kFull };

// The key bits ParseFlowTo<d> fills: metadata (word 0, pkt_mark, dp_hash --
// the last two are zero in every parsed key) and tcp_flags at every depth,
// plus the L2 fields from kL2 on; all bits at kFull.
FlowMask ParseDepthMask(ParseDepth d);
// The shallowest depth whose ParseDepthMask covers every bit of `mask`.
ParseDepth ParseDepthFor(const FlowMask& mask);

// ParseFlowTo's result: the status and, on kOk, the bytes the result can
// depend on (see ParseFlowTo). Returned in two registers.
struct ParseResult {
  ParseStatus status;
  uint64_t reads;
};

// ParseFlow to a depth, for the PMD. Guarantees, for every frame:
//   1. the status and *layout are ParseFlow's (malformed frames are refused
//      exactly as by a full parse, whatever the depth);
//   2. *key is ParseFlow's key & ParseDepthMask(D), with recirc_id set (on
//      kOk);
//   3. reads (on kOk): bit b set for every byte b < 64 of the frame that the
//      result (status, key, layout) can depend on, besides `len`, `in_port`
//      and `recirc_id`; 0 when it can depend on a byte at 64 or beyond. So a
//      frame of the same length whose bytes agree on the bits of reads
//      parses to the same result (the PMD's elephant followers rely on it).
//      The fast path names exactly the header bytes it reads (not the IPv4
//      id or checksum, nor UDP length/checksum, nor TCP sequence numbers);
//      the general parser names every byte before the end of the last header
//      it read, and 0 (or, for a frame of at most 64 bytes, every byte) when
//      that end is not known from the result (IPv6 extension headers without
//      a parsed L4 header, ND options).
template <ParseDepth D>
ParseResult ParseFlowTo(const uint8_t* data, uint32_t len, uint32_t in_port, uint32_t recirc_id,
                        FlowKey* key, PacketLayout* layout);
extern template ParseResult ParseFlowTo<ParseDepth::kMeta>(const uint8_t*, uint32_t, uint32_t,
                                                           uint32_t, FlowKey*, PacketLayout*);
extern template ParseResult ParseFlowTo<ParseDepth::kL2>(const uint8_t*, uint32_t, uint32_t,
                                                         uint32_t, FlowKey*, PacketLayout*);
extern template ParseResult ParseFlowTo<ParseDepth::kFull>(const uint8_t*, uint32_t, uint32_t,
                                                           uint32_t, FlowKey*, PacketLayout*);

}  // namespace sluice::dp
