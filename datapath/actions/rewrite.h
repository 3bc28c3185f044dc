#pragma once
// What: the header rewrites behind the datapath's set, push_vlan and
// pop_vlan actions: masked writes of Ethernet, IPv4, IPv6, TCP, UDP, SCTP,
// ARP, ICMP, ICMPv6 and IPv6 neighbour discovery fields that keep every
// checksum right, and VLAN tag push/pop on an mbuf.
//
// Design: the set primitives work on plain bytes (a frame's first segment,
// pointer and length) and the PacketLayout the parser produced, so they are
// testable without DPDK; push/pop need the mbuf because they move its start.
// A set writes new = (old & ~mask) | (value & mask), then corrects checksums
// incrementally (RFC 1624, csum.h) rather than recomputing them:
//   - IPv4 src/dst/tos/ttl: the header checksum; src/dst also the TCP/UDP
//     checksum, whose pseudo-header holds the addresses. A UDP checksum of 0
//     means "none" and stays 0; an updated one that comes out 0 is written
//     0xffff. ICMP has no pseudo-header and is left alone.
//   - IPv6 src/dst: the TCP, UDP or ICMPv6 checksum (pseudo-header). The
//     label, traffic class and hop limit are in no checksum. If a routing
//     header still has segments left, the pseudo-header holds the final
//     destination, not the address field, so a dst change leaves L4 alone.
//     UDP checksum 0 stays 0 here too (RFC 6935 zero-checksum tunnels).
//   - TCP/UDP ports: the L4 checksum (same UDP zero rule).
//   - SCTP ports: the CRC32c is brought to the value a full recomputation over
//     the SCTP packet gives. CRC is linear, so that value is the old one xor
//     the CRC (zero initial value) of the port change followed by as many zero
//     bytes as the rest of the packet: no packet byte after the ports is read,
//     a multi-segment packet needs no walk, and a packet whose CRC was wrong
//     stays wrong (the switch does not launder corrupt packets).
//   - ICMP/ICMPv6 type and code: the checksum sees the one 16-bit word that
//     holds both. ICMPv6's checksum also covers the pseudo-header, which a
//     type/code change leaves alone, so both get the same word delta.
//     kSetIcmp applies to ICMP over IPv4 only, kSetIcmpv6 to ICMPv6 over IPv6
//     only (the pairs the parser reads type and code from).
//   - ND target and link-layer address options: all in the ICMPv6 checksum
//     (one delta for every changed byte, all at even offsets from the start
//     of the message). Only a neighbour solicitation or advertisement (type
//     135/136 with code 0, the messages the parser reads ND fields from) is
//     touched. The options are walked as the parser walks them: the first
//     one-unit (8-byte) option of type 1 is the source link-layer address,
//     of type 2 the target one; the walk stops at the end of the IPv6
//     payload, or of `len` if that comes first, or at a malformed option. A
//     packet without the option keeps its bytes: the action never inserts
//     one (it would change the packet's length).
//   - ARP fields: no checksum. The packet must be ARP or RARP over Ethernet
//     with IPv4 addresses (EtherType before l3_ofs 0x0806/0x8035, hrd 1,
//     pro 0x0800, hln 6, pln 4), as the parser requires. The opcode is
//     written whole (16 bits).
// The L4 protocol comes from the IPv4 protocol field, or for IPv6 from the
// next-header chain walked from the fixed header up to layout.l4_ofs
// (hop-by-hop, routing, destination options, fragment). L4 bytes are touched
// only when that walk lands exactly on l4_ofs and the packet is not a later
// fragment (whose "L4 offset" would be payload).
//
// Invariants:
//   1. A rewrite of a layer the packet lacks (offset kNoOffset, wrong IP
//      version or L4 protocol, header not wholly inside `len`, a later
//      fragment, not ARP, an ICMPv6 message other than NS/NA for kSetNd)
//      changes no byte and returns false.
//   2. After a rewrite of a packet whose checksums were correct they are
//      still correct, and equal to the ones computed from scratch.
//   3. Only bytes under a one bit of the mask (and checksum fields) change.
//   4. PushVlanTag/PopVlanTag move layout->l3_ofs and l4_ofs by +4/-4 (a
//      kNoOffset stays kNoOffset) exactly when they change the packet.
//   5. SCTP over a fragmented IP packet is left unchanged: its CRC covers
//      bytes this packet does not carry.
//
// Thread-safety: no shared state; a packet belongs to the calling thread.
// Memory: nothing is allocated; push uses the mbuf's headroom (or, when there
// is none, the tailroom of a single-segment mbuf).

#include <cstdint>

#include "datapath/actions/csum.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {

// Wire offsets and lengths used by the rewrites (kept here rather than shared
// with the parser, so that the two are checked against each other by tests).
namespace rewrite {
inline constexpr uint32_t kEthAddrsLen = 12;  // destination + source MAC
inline constexpr uint32_t kEthHdrLen = 14;
inline constexpr uint32_t kEthTypeOfs = 12;
inline constexpr uint32_t kVlanTagLen = 4;
inline constexpr uint16_t kTpidCvlan = 0x8100;
inline constexpr uint16_t kTpidSvlan = 0x88a8;

inline constexpr uint32_t kIpv4MinLen = 20;
inline constexpr uint32_t kIpv4TosOfs = 1;  // shares a 16-bit word with version/IHL
inline constexpr uint32_t kIpv4TotLenOfs = 2;
inline constexpr uint32_t kIpv4FragOfs = 6;
inline constexpr uint32_t kIpv4TtlOfs = 8;  // shares a 16-bit word with the protocol
inline constexpr uint32_t kIpv4ProtoOfs = 9;
inline constexpr uint32_t kIpv4CsumOfs = 10;
inline constexpr uint32_t kIpv4SrcOfs = 12;
inline constexpr uint32_t kIpv4DstOfs = 16;
inline constexpr uint16_t kIpv4FragOffsetMask = 0x1fff;
inline constexpr uint16_t kIpv4MoreFragments = 0x2000;

inline constexpr uint32_t kIpv6HdrLen = 40;
inline constexpr uint32_t kIpv6PayloadLenOfs = 4;
inline constexpr uint32_t kIpv6NextHdrOfs = 6;
inline constexpr uint32_t kIpv6HlimitOfs = 7;
inline constexpr uint32_t kIpv6SrcOfs = 8;
inline constexpr uint32_t kIpv6DstOfs = 24;
inline constexpr uint8_t kIpv6HopByHop = 0;
inline constexpr uint8_t kIpv6Routing = 43;
inline constexpr uint8_t kIpv6Fragment = 44;
inline constexpr uint8_t kIpv6DestOpts = 60;
inline constexpr uint32_t kIpv6FragHdrLen = 8;
inline constexpr uint16_t kIpv6FragOffsetMask = 0xfff8;
inline constexpr int kIpv6MaxExtHeaders = 8;

inline constexpr uint32_t kL4PortsOfs = 0;  // source then destination port
inline constexpr uint32_t kTcpMinLen = 20;
inline constexpr uint32_t kTcpCsumOfs = 16;
inline constexpr uint32_t kUdpLen = 8;
inline constexpr uint32_t kUdpCsumOfs = 6;
inline constexpr uint32_t kIcmpv6MinLen = 4;
inline constexpr uint32_t kIcmpv6CsumOfs = 2;
inline constexpr uint32_t kSctpMinLen = csum::kSctpHeaderLen;
inline constexpr uint32_t kSctpCsumOfs = csum::kSctpChecksumOfs;

// ICMP (RFC 792) and ICMPv6 (RFC 4443) share the type, code, checksum start.
inline constexpr uint32_t kIcmpTypeCodeLen = 4;  // type, code, checksum
inline constexpr uint32_t kIcmpCsumOfs = 2;
// Neighbour discovery (RFC 4861), from the start of the ICMPv6 header.
inline constexpr uint8_t kNdSolicit = 135;
inline constexpr uint8_t kNdAdvert = 136;
inline constexpr uint32_t kNdTargetOfs = 8;
inline constexpr uint32_t kNdOptionsOfs = 24;
inline constexpr uint32_t kNdOptUnit = 8;         // option lengths count these
inline constexpr uint32_t kNdOptLinkAddrOfs = 2;  // after type and length
inline constexpr uint8_t kNdOptSll = 1;
inline constexpr uint8_t kNdOptTll = 2;

// ARP for IPv4 over Ethernet (RFC 826).
inline constexpr uint16_t kEthTypeArp = 0x0806;
inline constexpr uint16_t kEthTypeRarp = 0x8035;
inline constexpr uint32_t kArpLen = 28;
inline constexpr uint32_t kArpHrdOfs = 0;  // hrd, pro, hln, pln: 1, 0x0800, 6, 4
inline constexpr uint32_t kArpOpOfs = 6;
inline constexpr uint32_t kArpShaOfs = 8;
inline constexpr uint32_t kArpSpaOfs = 14;
inline constexpr uint32_t kArpThaOfs = 18;
inline constexpr uint32_t kArpTpaOfs = 24;
}  // namespace rewrite

// --- Set primitives over bytes --------------------------------------------
// `pkt` is the frame from its Ethernet header, `len` how many of its bytes
// are contiguous there. Each returns true when the packet had the layer.

bool SetEthMasked(uint8_t* pkt, uint32_t len, const SetEth& a);
bool SetIpv4Masked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetIpv4& a);
bool SetIpv6Masked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetIpv6& a);
bool SetTcpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetL4& a);
bool SetUdpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetL4& a);
bool SetSctpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetL4& a);
bool SetArpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetArp& a);
// ICMP over IPv4 (kSetIcmp) or ICMPv6 over IPv6 (kSetIcmpv6).
bool SetIcmpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetIcmp& a,
                   bool v6);
// True when the packet is an NS/NA, even if it lacks an option `a` names.
bool SetNdMasked(uint8_t* pkt, uint32_t len, const PacketLayout& layout, const SetNd& a);

// Applies one set action (kSetEth ... kSetNd) to every packet of a batch.
// Packets must be writable (not shared: see execute_inl.h).
void SetFieldsBatch(const DpAction& a, rte_mbuf* const* pkts, const PacketLayout* layouts,
                    uint32_t n);

// --- VLAN tags on mbufs --------------------------------------------------------

enum class PushVlanResult : uint8_t {
  kPushed,
  kTooShort,  // less than an Ethernet header: left unchanged
  kNoRoom,    // no headroom, and no tailroom to shift into: left unchanged
};

// Inserts a tag (tpid, tci without kVlanPresent) after the MAC addresses, so
// that it becomes the outermost one.
PushVlanResult PushVlanTag(rte_mbuf* m, PacketLayout* layout, be16 tpid, be16 tci);

// Removes the outermost tag if the frame has one (TPID 0x8100 or 0x88a8);
// returns false, leaving the frame alone, otherwise.
bool PopVlanTag(rte_mbuf* m, PacketLayout* layout);

}  // namespace sluice::dp
