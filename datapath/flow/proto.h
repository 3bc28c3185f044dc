#pragma once
// What: wire formats of the headers the datapath parses and rewrites:
// Ethernet, 802.1Q/802.1ad tags, LLC/SNAP, ARP, IPv4, IPv6 and its
// extension headers, TCP, UDP, SCTP, ICMP, ICMPv6 and neighbour discovery.
// Plain structs and constants, no behaviour beyond byte-order-neutral loads
// and stores.
//
// Design: each struct mirrors one header byte for byte. Multi-byte fields are
// be16/be32 (network order, no implicit conversion); addresses and fields
// that are not naturally aligned inside their header are byte arrays. Every
// struct has natural alignment and no padding, so its layout is exactly the
// wire layout (static_asserted below) without any packing attribute.
//
// Packet headers are usually misaligned in memory (an IPv4 header after a
// 14-byte Ethernet header sits at an offset of 2 mod 4), so never
// reinterpret_cast packet bytes to these types. Copy them in and out with
// LoadHdr<T>() / StoreHdr(): they compile to plain unaligned loads/stores.
//
// Invariants:
//   1. sizeof(T) equals the header's fixed wire length for every struct here,
//      and every field's offsetof() equals its wire offset.
//   2. All types are trivially copyable standard-layout types.
//
// Thread-safety: constants and pure functions only.
//
// Memory: none.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "datapath/flow/flow_key.h"
#include "datapath/util/be.h"

namespace sluice::dp {

// Copies a header out of (possibly misaligned) packet bytes. The caller has
// checked that sizeof(T) bytes are readable at p.
template <typename T>
inline T LoadHdr(const uint8_t* p) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Writes a header into (possibly misaligned) packet bytes.
template <typename T>
inline void StoreHdr(uint8_t* p, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::memcpy(p, &v, sizeof(T));
}

// ---------------------------------------------------------------------------
// Ethernet and tags.

inline constexpr uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr uint16_t kEthTypeArp = 0x0806;
inline constexpr uint16_t kEthTypeRarp = 0x8035;
inline constexpr uint16_t kEthTypeVlan = 0x8100;  // 802.1Q C-tag
inline constexpr uint16_t kEthTypeQinQ = 0x88a8;  // 802.1ad S-tag
inline constexpr uint16_t kEthTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEthTypeMpls = 0x8847;
inline constexpr uint16_t kEthTypeMplsMcast = 0x8848;
inline constexpr uint16_t kEthTypeLldp = 0x88cc;
// An EtherType field below this is an 802.3 length, not a type.
inline constexpr uint16_t kEthTypeMin = 0x0600;
// What a flow key's eth_type holds for 802.3 (length-field) frames.
inline constexpr uint16_t kEthTypeNone = 0x05ff;

inline constexpr uint32_t kEthAddrLen = 6;

struct EthHdr {
  EthAddr dst;
  EthAddr src;
  be16 type;  // EtherType, a VLAN TPID, or an 802.3 length (< kEthTypeMin)
};
static_assert(sizeof(EthHdr) == 14);
static_assert(offsetof(EthHdr, src) == 6 && offsetof(EthHdr, type) == 12);

// What follows a TPID: the tag control information and the next EtherType.
struct VlanTag {
  be16 tci;   // PCP(3) | DEI(1) | VID(12)
  be16 type;  // the encapsulated EtherType (or another TPID)
};
static_assert(sizeof(VlanTag) == 4);

inline constexpr uint16_t kVlanDei = 0x1000;  // the wire's DEI bit
inline constexpr int kVlanPcpShift = 13;

// 802.2 LLC with a SNAP extension (DSAP = SSAP = 0xaa, control 0x03).
struct LlcSnapHdr {
  uint8_t dsap;
  uint8_t ssap;
  uint8_t control;
  uint8_t oui[3];
  be16 type;
};
static_assert(sizeof(LlcSnapHdr) == 8 && offsetof(LlcSnapHdr, type) == 6);

inline constexpr uint8_t kLlcSapSnap = 0xaa;
inline constexpr uint8_t kLlcControlUi = 0x03;

// ---------------------------------------------------------------------------
// ARP (RFC 826), Ethernet hardware and IPv4 protocol addresses only.

inline constexpr uint16_t kArpHrdEthernet = 1;
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;
inline constexpr uint16_t kArpOpRarpRequest = 3;
inline constexpr uint16_t kArpOpRarpReply = 4;

struct ArpEthIpv4 {
  be16 hrd;     // hardware type, kArpHrdEthernet
  be16 pro;     // protocol type, kEthTypeIpv4
  uint8_t hln;  // 6
  uint8_t pln;  // 4
  be16 op;
  EthAddr sha;
  uint8_t spa[4];  // at wire offset 14: not 4-aligned, so bytes
  EthAddr tha;
  uint8_t tpa[4];
};
static_assert(sizeof(ArpEthIpv4) == 28);
static_assert(offsetof(ArpEthIpv4, op) == 6 && offsetof(ArpEthIpv4, sha) == 8);
static_assert(offsetof(ArpEthIpv4, spa) == 14 && offsetof(ArpEthIpv4, tha) == 18);
static_assert(offsetof(ArpEthIpv4, tpa) == 24);

// ---------------------------------------------------------------------------
// IP protocol numbers (IPv4 protocol / IPv6 next header).

inline constexpr uint8_t kIpProtoHopOpts = 0;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoIgmp = 2;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoRouting = 43;
inline constexpr uint8_t kIpProtoFragment = 44;
inline constexpr uint8_t kIpProtoGre = 47;
inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kIpProtoAh = 51;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIpProtoNoNext = 59;
inline constexpr uint8_t kIpProtoDstOpts = 60;
inline constexpr uint8_t kIpProtoSctp = 132;

// ---------------------------------------------------------------------------
// IPv4 (RFC 791).

struct Ipv4Hdr {
  uint8_t ver_ihl;  // version(4) | IHL(4), IHL in 32-bit words
  uint8_t tos;      // DSCP(6) | ECN(2)
  be16 total_length;
  be16 id;
  be16 frag_off;  // flags(3) | offset(13), offset in 8-byte units
  uint8_t ttl;
  uint8_t proto;
  be16 csum;
  be32 src;
  be32 dst;
};
static_assert(sizeof(Ipv4Hdr) == 20);
static_assert(offsetof(Ipv4Hdr, frag_off) == 6 && offsetof(Ipv4Hdr, ttl) == 8);
static_assert(offsetof(Ipv4Hdr, src) == 12 && offsetof(Ipv4Hdr, dst) == 16);

inline constexpr uint32_t kIpv4MinHdrLen = 20;
inline constexpr uint32_t kIpv4MaxHdrLen = 60;
inline constexpr uint16_t kIpv4FlagReserved = 0x8000;
inline constexpr uint16_t kIpv4FlagDf = 0x4000;
inline constexpr uint16_t kIpv4FlagMf = 0x2000;
inline constexpr uint16_t kIpv4FragOffMask = 0x1fff;

constexpr uint8_t Ipv4Version(uint8_t ver_ihl) { return ver_ihl >> 4; }
constexpr uint32_t Ipv4HdrLen(uint8_t ver_ihl) { return (ver_ihl & 0x0fu) * 4u; }

// ---------------------------------------------------------------------------
// IPv6 (RFC 8200) and its extension headers.

struct Ipv6Hdr {
  be32 vtc_flow;  // version(4) | traffic class(8) | flow label(20)
  be16 payload_length;
  uint8_t next_header;
  uint8_t hop_limit;
  uint8_t src[16];
  uint8_t dst[16];
};
static_assert(sizeof(Ipv6Hdr) == 40);
static_assert(offsetof(Ipv6Hdr, next_header) == 6 && offsetof(Ipv6Hdr, src) == 8);
static_assert(offsetof(Ipv6Hdr, dst) == 24);

inline constexpr uint32_t kIpv6FlowLabelMask = 0x000fffff;
constexpr uint8_t Ipv6Version(uint32_t vtc_flow_host) {
  return static_cast<uint8_t>(vtc_flow_host >> 28);
}
constexpr uint8_t Ipv6TrafficClass(uint32_t vtc_flow_host) {
  return static_cast<uint8_t>(vtc_flow_host >> 20);
}

// The first two bytes shared by hop-by-hop, routing and destination options
// headers (length in 8-octet units, not counting the first 8) and by AH
// (length in 4-octet units, minus 2).
struct Ipv6ExtHdr {
  uint8_t next_header;
  uint8_t length;
};
static_assert(sizeof(Ipv6ExtHdr) == 2);

inline constexpr uint32_t kIpv6ExtMinLen = 8;
// Total length in bytes of a hop-by-hop, routing or destination options header.
constexpr uint32_t Ipv6OptHdrLen(uint8_t length) { return (length + 1u) * 8u; }
// Total length in bytes of an authentication header (RFC 4302).
constexpr uint32_t AhHdrLen(uint8_t length) { return (length + 2u) * 4u; }

struct Ipv6FragHdr {
  uint8_t next_header;
  uint8_t reserved;
  be16 frag_off;  // offset(13) in 8-byte units | res(2) | M(1)
  be32 ident;
};
static_assert(sizeof(Ipv6FragHdr) == 8 && offsetof(Ipv6FragHdr, ident) == 4);

inline constexpr uint16_t kIpv6FragOffMask = 0xfff8;
inline constexpr uint16_t kIpv6FragMore = 0x0001;

// ---------------------------------------------------------------------------
// Transport headers.

struct TcpHdr {
  be16 src;
  be16 dst;
  be32 seq;
  be32 ack;
  be16 off_flags;  // data offset(4) | reserved(3) | flags(9: NS CWR ECE URG ACK PSH RST SYN FIN)
  be16 window;
  be16 csum;
  be16 urgent;
};
static_assert(sizeof(TcpHdr) == 20 && offsetof(TcpHdr, off_flags) == 12);

inline constexpr uint32_t kTcpMinHdrLen = 20;
inline constexpr uint16_t kTcpFlagsMask = 0x0fff;  // what FlowKey::tcp_flags keeps
inline constexpr uint16_t kTcpFin = 0x001;
inline constexpr uint16_t kTcpSyn = 0x002;
inline constexpr uint16_t kTcpRst = 0x004;
inline constexpr uint16_t kTcpPsh = 0x008;
inline constexpr uint16_t kTcpAck = 0x010;
inline constexpr uint16_t kTcpUrg = 0x020;
inline constexpr uint16_t kTcpEce = 0x040;
inline constexpr uint16_t kTcpCwr = 0x080;
inline constexpr uint16_t kTcpNs = 0x100;
constexpr uint32_t TcpHdrLen(uint16_t off_flags_host) { return (off_flags_host >> 12) * 4u; }

struct UdpHdr {
  be16 src;
  be16 dst;
  be16 length;
  be16 csum;
};
static_assert(sizeof(UdpHdr) == 8);

// SCTP common header (RFC 9260).
struct SctpHdr {
  be16 src;
  be16 dst;
  be32 vtag;
  be32 csum;
};
static_assert(sizeof(SctpHdr) == 12);

// ICMP (RFC 792): type, code, checksum and the 4-byte "rest of header".
struct IcmpHdr {
  uint8_t type;
  uint8_t code;
  be16 csum;
  be32 rest;  // echo: id(16) | seq(16); other types: type-specific
};
static_assert(sizeof(IcmpHdr) == 8);

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreach = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;

// ICMPv6 (RFC 4443): the fixed 4-byte part; the message body follows.
struct Icmp6Hdr {
  uint8_t type;
  uint8_t code;
  be16 csum;
};
static_assert(sizeof(Icmp6Hdr) == 4);

inline constexpr uint8_t kIcmp6EchoRequest = 128;
inline constexpr uint8_t kIcmp6EchoReply = 129;
inline constexpr uint8_t kIcmp6RouterSolicit = 133;
inline constexpr uint8_t kIcmp6RouterAdvert = 134;
inline constexpr uint8_t kIcmp6NeighborSolicit = 135;
inline constexpr uint8_t kIcmp6NeighborAdvert = 136;

// Neighbour solicitation / advertisement body (RFC 4861), after Icmp6Hdr.
struct NdMsg {
  be32 flags;  // NA: R | S | O | reserved; NS: reserved
  uint8_t target[16];
};
static_assert(sizeof(NdMsg) == 20);

// Offset of the first ND option from the start of the ICMPv6 header.
inline constexpr uint32_t kNdOptionsOfs = sizeof(Icmp6Hdr) + sizeof(NdMsg);
static_assert(kNdOptionsOfs == 24);

// An ND option's type-length prefix; length is in 8-octet units, 0 is invalid.
struct NdOptHdr {
  uint8_t type;
  uint8_t length;
};
static_assert(sizeof(NdOptHdr) == 2);

// A source or target link-layer address option on Ethernet (length 1).
struct NdOptLinkAddr {
  uint8_t type;
  uint8_t length;
  EthAddr addr;
};
static_assert(sizeof(NdOptLinkAddr) == 8 && offsetof(NdOptLinkAddr, addr) == 2);

inline constexpr uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr uint8_t kNdOptTargetLinkAddr = 2;
inline constexpr uint32_t kNdOptUnit = 8;

}  // namespace sluice::dp
