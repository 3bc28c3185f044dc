// The packet parser: one forward pass over the frame, Ethernet -> tags ->
// ARP | IPv4 | IPv6 (+ extension headers) -> TCP | UDP | SCTP | ICMP |
// ICMPv6 (+ ND). See parse.h for the contract.
//
// How bounds are kept (invariant 1 of parse.h):
//   - `ofs` is the offset of the header about to be read and `end` the offset
//     one past the last byte that header may use. Before a header of n bytes
//     is read, `end - ofs >= n` is checked; ofs <= end <= len always holds, so
//     the subtraction never wraps.
//   - For IP, `end` shrinks from the frame length to the end of the datagram
//     as its length field says (total length / payload length). A datagram
//     claiming more bytes than the frame holds is refused; bytes after it
//     (Ethernet padding, trailers) are allowed and ignored.
//   - layout->l3_ofs / l4_ofs are written only after their fixed header is
//     known to fit, so even on an error status a set offset plus its fixed
//     header length is <= len.
//
// Decisions where Open vSwitch's behaviour was not simply followed:
//   - Open vSwitch leaves fields zero and carries on when a header is
//     truncated; here the frame gets a ParseStatus and the PMD drops it.
//   - ARP/RARP other than Ethernet/IPv4 (hrd 1, pro 0x0800, hln 6, pln 4) is
//     kBadArp: on an Ethernet switch such a frame is malformed.
//   - 802.3 frames (length field) stop at L2 with eth_type 0x05ff, LLC/SNAP
//     or not.
//   - An IPv4/IPv6 version nibble that disagrees with the EtherType is
//     kBadIpv4/kBadIpv6.
//   - layout->l4_ofs is set only for the L4 protocols parsed here (TCP, UDP,
//     SCTP, ICMP over IPv4, ICMPv6 over IPv6) and not for non-first fragments.
//   - In ND messages every option must be whole: a zero length, an option
//     running past the message, or 1-7 trailing bytes are kBadNd, and so is
//     a second source (or target) link-layer address option.

#include "datapath/flow/parse.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#include "datapath/flow/proto.h"

namespace sluice::dp {
namespace {

// Offsets are stored as uint16_t; a header starting beyond this is refused.
constexpr uint32_t kMaxHeaderOfs = kNoOffset - 1;

inline bool IsVlanTpid(uint16_t type) { return type == kEthTypeVlan || type == kEthTypeQinQ; }

inline uint16_t LoadBe16Host(const uint8_t* p) { return LoadHdr<be16>(p).host(); }

// Zeroes a key with four aligned 32-byte stores. Same effect as
// FlowKey::Clear(), but GCC 12 turns that 128-byte memset into `rep stosq`,
// which was ~40% of a UDP/IPv4 parse in bench_flow_parse (9.0 -> 5.4 ns).
using ZeroVec = uint64_t __attribute__((vector_size(32), aligned(32), may_alias));
static_assert(sizeof(FlowKey) == 4 * sizeof(ZeroVec) && alignof(FlowKey) % alignof(ZeroVec) == 0);

inline void ZeroKey(FlowKey* key) {
  ZeroVec* v = reinterpret_cast<ZeroVec*>(key);
  const ZeroVec zero = {};
  v[0] = zero;
  v[1] = zero;
  v[2] = zero;
  v[3] = zero;
}

// Reads the L4 header for `proto` at data[ofs, end). kIpv6 selects whether
// ICMP (IPv4) or ICMPv6 (IPv6) is the control protocol that gets parsed.
template <bool kIpv6>
inline ParseStatus ParseL4(const uint8_t* data, uint32_t ofs, uint32_t end, uint8_t proto,
                           FlowKey* key, PacketLayout* layout) {
  const uint8_t* p = data + ofs;
  const uint32_t avail = end - ofs;
  switch (proto) {
    case kIpProtoUdp: {
      if (avail < sizeof(UdpHdr)) [[unlikely]]
        return ParseStatus::kBadL4;
      const UdpHdr udp = LoadHdr<UdpHdr>(p);
      key->tp_src = udp.src;
      key->tp_dst = udp.dst;
      break;
    }
    case kIpProtoTcp: {
      if (avail < sizeof(TcpHdr)) [[unlikely]]
        return ParseStatus::kBadL4;
      const TcpHdr tcp = LoadHdr<TcpHdr>(p);
      const uint16_t off_flags = tcp.off_flags.host();
      const uint32_t hlen = TcpHdrLen(off_flags);
      if (hlen < kTcpMinHdrLen || hlen > avail) [[unlikely]]
        return ParseStatus::kBadL4;
      key->tp_src = tcp.src;
      key->tp_dst = tcp.dst;
      key->tcp_flags = Be16(off_flags & kTcpFlagsMask);
      break;
    }
    case kIpProtoSctp: {
      if (avail < sizeof(SctpHdr)) [[unlikely]]
        return ParseStatus::kBadL4;
      const SctpHdr sctp = LoadHdr<SctpHdr>(p);
      key->tp_src = sctp.src;
      key->tp_dst = sctp.dst;
      break;
    }
    case kIpProtoIcmp: {
      if constexpr (kIpv6) return ParseStatus::kOk;  // ICMP(v4) in IPv6: no L4 fields
      if (avail < sizeof(IcmpHdr)) [[unlikely]]
        return ParseStatus::kBadL4;
      key->tp_src = Be16(p[0]);
      key->tp_dst = Be16(p[1]);
      break;
    }
    case kIpProtoIcmpv6: {
      if constexpr (!kIpv6) return ParseStatus::kOk;  // ICMPv6 in IPv4: no L4 fields
      if (avail < sizeof(Icmp6Hdr)) [[unlikely]]
        return ParseStatus::kBadL4;
      const uint8_t type = p[0];
      const uint8_t code = p[1];
      key->tp_src = Be16(type);
      key->tp_dst = Be16(code);
      layout->l4_ofs = static_cast<uint16_t>(ofs);
      if (code != 0 || (type != kIcmp6NeighborSolicit && type != kIcmp6NeighborAdvert)) {
        return ParseStatus::kOk;
      }
      // Neighbour solicitation / advertisement: target, then options.
      if (avail < kNdOptionsOfs) return ParseStatus::kBadNd;
      std::memcpy(key->nd_target, p + offsetof(NdMsg, target) + sizeof(Icmp6Hdr), 16);
      bool have_sll = false;
      bool have_tll = false;
      uint32_t opt = ofs + kNdOptionsOfs;
      while (opt < end) {
        const uint32_t left = end - opt;
        if (left < kNdOptUnit) return ParseStatus::kBadNd;
        const NdOptHdr oh = LoadHdr<NdOptHdr>(data + opt);
        const uint32_t olen = oh.length * kNdOptUnit;
        if (olen == 0 || olen > left) return ParseStatus::kBadNd;
        if (olen == sizeof(NdOptLinkAddr)) {
          if (oh.type == kNdOptSourceLinkAddr) {
            if (have_sll) return ParseStatus::kBadNd;
            have_sll = true;
            std::memcpy(&key->arp_sha, data + opt + offsetof(NdOptLinkAddr, addr), kEthAddrLen);
          } else if (oh.type == kNdOptTargetLinkAddr) {
            if (have_tll) return ParseStatus::kBadNd;
            have_tll = true;
            std::memcpy(&key->arp_tha, data + opt + offsetof(NdOptLinkAddr, addr), kEthAddrLen);
          }
        }
        opt += olen;
      }
      return ParseStatus::kOk;
    }
    default:
      return ParseStatus::kOk;  // an IP protocol without parsed L4 fields
  }
  layout->l4_ofs = static_cast<uint16_t>(ofs);
  return ParseStatus::kOk;
}

inline ParseStatus ParseIpv4(const uint8_t* data, uint32_t ofs, uint32_t len, FlowKey* key,
                             PacketLayout* layout) {
  if (len - ofs < kIpv4MinHdrLen) [[unlikely]]
    return ParseStatus::kBadIpv4;
  const Ipv4Hdr ip = LoadHdr<Ipv4Hdr>(data + ofs);
  const uint32_t hlen = Ipv4HdrLen(ip.ver_ihl);
  const uint32_t total = ip.total_length.host();
  if (Ipv4Version(ip.ver_ihl) != 4 || hlen < kIpv4MinHdrLen || total < hlen || total > len - ofs)
      [[unlikely]]
    return ParseStatus::kBadIpv4;
  layout->l3_ofs = static_cast<uint16_t>(ofs);
  key->nw_src = ip.src;
  key->nw_dst = ip.dst;
  key->nw_proto = ip.proto;
  key->nw_tos = ip.tos;
  key->nw_ttl = ip.ttl;
  const uint16_t frag = ip.frag_off.host();
  if (frag & (kIpv4FlagMf | kIpv4FragOffMask)) [[unlikely]] {
    key->nw_frag = kFragAny;
    if (frag & kIpv4FragOffMask) {
      key->nw_frag = kFragAny | kFragLater;
      return ParseStatus::kOk;  // no L4 header in a later fragment
    }
  }
  return ParseL4<false>(data, ofs + hlen, ofs + total, ip.proto, key, layout);
}

inline ParseStatus ParseIpv6(const uint8_t* data, uint32_t ofs, uint32_t len, FlowKey* key,
                             PacketLayout* layout) {
  if (len - ofs < sizeof(Ipv6Hdr)) [[unlikely]]
    return ParseStatus::kBadIpv6;
  const uint8_t* p = data + ofs;
  const uint32_t vtc_flow = LoadHdr<be32>(p).host();
  const uint32_t end = ofs + static_cast<uint32_t>(sizeof(Ipv6Hdr)) +
                       LoadBe16Host(p + offsetof(Ipv6Hdr, payload_length));
  if (Ipv6Version(vtc_flow) != 6 || end > len) [[unlikely]]
    return ParseStatus::kBadIpv6;
  layout->l3_ofs = static_cast<uint16_t>(ofs);
  std::memcpy(key->ipv6_src, p + offsetof(Ipv6Hdr, src), 32);  // src and dst are adjacent in both
  static_assert(offsetof(FlowKey, ipv6_dst) == offsetof(FlowKey, ipv6_src) + 16);
  static_assert(offsetof(Ipv6Hdr, dst) == offsetof(Ipv6Hdr, src) + 16);
  key->ipv6_label = Be32(vtc_flow & kIpv6FlowLabelMask);
  key->nw_tos = Ipv6TrafficClass(vtc_flow);
  key->nw_ttl = p[offsetof(Ipv6Hdr, hop_limit)];

  uint8_t next = p[offsetof(Ipv6Hdr, next_header)];
  ofs += sizeof(Ipv6Hdr);
  for (;;) {
    if (next != kIpProtoHopOpts && next != kIpProtoRouting && next != kIpProtoDstOpts &&
        next != kIpProtoFragment && next != kIpProtoAh) [[likely]]
      break;
    if (end - ofs < kIpv6ExtMinLen) return ParseStatus::kBadIpv6;
    const uint8_t* ext = data + ofs;
    if (next == kIpProtoFragment) {
      const Ipv6FragHdr fh = LoadHdr<Ipv6FragHdr>(ext);
      next = fh.next_header;
      key->nw_frag |= kFragAny;
      if (fh.frag_off.host() & kIpv6FragOffMask) {
        key->nw_frag |= kFragLater;
        key->nw_proto = next;
        return ParseStatus::kOk;  // no L4 header in a later fragment
      }
      ofs += sizeof(Ipv6FragHdr);
      continue;
    }
    const uint32_t hlen = next == kIpProtoAh ? AhHdrLen(ext[1]) : Ipv6OptHdrLen(ext[1]);
    if (hlen > end - ofs) return ParseStatus::kBadIpv6;
    next = ext[0];
    ofs += hlen;
  }
  if (ofs > kMaxHeaderOfs) [[unlikely]]
    return ParseStatus::kBadIpv6;
  key->nw_proto = next;
  return ParseL4<true>(data, ofs, end, next, key, layout);
}

inline ParseStatus ParseArp(const uint8_t* data, uint32_t ofs, uint32_t len, FlowKey* key,
                            PacketLayout* layout) {
  if (len - ofs < sizeof(ArpEthIpv4)) return ParseStatus::kBadArp;
  const ArpEthIpv4 arp = LoadHdr<ArpEthIpv4>(data + ofs);
  if (arp.hrd != Be16(kArpHrdEthernet) || arp.pro != Be16(kEthTypeIpv4) || arp.hln != kEthAddrLen ||
      arp.pln != 4) {
    return ParseStatus::kBadArp;
  }
  layout->l3_ofs = static_cast<uint16_t>(ofs);
  const uint16_t op = arp.op.host();
  if (op <= 0xff) key->nw_proto = static_cast<uint8_t>(op);
  std::memcpy(&key->nw_src, arp.spa, 4);
  std::memcpy(&key->nw_dst, arp.tpa, 4);
  key->arp_sha = arp.sha;
  key->arp_tha = arp.tha;
  return ParseStatus::kOk;
}

// ParseStatusName(): "kBadIpv4" -> "bad_ipv4", computed at compile time from
// the X-macro's enumerator names.
struct SnakeName {
  char s[24] = {};
};

constexpr SnakeName ToSnakeCase(const char* k_name) {
  SnakeName out;
  int j = 0;
  for (int i = 1; k_name[i] != '\0'; ++i) {  // skip the leading 'k'
    char c = k_name[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 1) out.s[j++] = '_';
      c = static_cast<char>(c - 'A' + 'a');
    }
    out.s[j++] = c;
  }
  return out;
}

constexpr bool StrEq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr std::array<SnakeName, static_cast<size_t>(ParseStatus::kCount)> kStatusNames = {
#define SLUICE_X(name, text) ToSnakeCase(#name),
    SLUICE_PARSE_STATUSES(SLUICE_X)
#undef SLUICE_X
};
static_assert(StrEq(kStatusNames[static_cast<size_t>(ParseStatus::kOk)].s, "ok"));
static_assert(StrEq(kStatusNames[static_cast<size_t>(ParseStatus::kTooShort)].s, "too_short"));
static_assert(StrEq(kStatusNames[static_cast<size_t>(ParseStatus::kBadIpv4)].s, "bad_ipv4"));
static_assert(StrEq(kStatusNames[static_cast<size_t>(ParseStatus::kBadL4)].s, "bad_l4"));

constexpr const char* kStatusTexts[] = {
#define SLUICE_X(name, text) text,
    SLUICE_PARSE_STATUSES(SLUICE_X)
#undef SLUICE_X
};
static_assert(std::size(kStatusTexts) == static_cast<size_t>(ParseStatus::kCount));

}  // namespace

const char* ParseStatusName(ParseStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < kStatusNames.size() ? kStatusNames[i].s : "unknown";
}

const char* ParseStatusText(ParseStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < std::size(kStatusTexts) ? kStatusTexts[i] : "unknown parse status";
}

namespace {

template <typename T>
inline T LoadRaw(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The fast path for the common frame: untagged Ethernet II, IPv4 without
// options, not a fragment, UDP or TCP, every length consistent. It builds
// key words 0-5 from a few wide loads (the key's fields sit in wire order,
// so a field pair is one load and a mask) and writes them with whole-word
// stores; everything else stays zero. It returns false, having written
// nothing, for any other frame: ParseFlow then runs the general parser,
// which gives exactly the same key and layout for the frames accepted here
// (tests/datapath/flow_parse_fast_test.cc checks them against each other).
inline bool ParseFlowFast(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                          PacketLayout* layout) {
  constexpr uint32_t kL3 = sizeof(EthHdr);
  constexpr uint32_t kL4 = kL3 + kIpv4MinHdrLen;
  if (len < kL4 + sizeof(UdpHdr)) return false;
  const uint16_t type_raw = LoadRaw<uint16_t>(data + 12);  // wire order
  const uint8_t* ip = data + kL3;
  const uint32_t total = static_cast<uint32_t>(ip[2]) << 8 | ip[3];
  const uint16_t frag_raw = LoadRaw<uint16_t>(ip + 6);
  const uint8_t proto = ip[9];
  // 0x0008: EtherType 0x0800 in wire order; 0x45: IPv4, IHL 5; 0xff3f: the
  // MF flag and the fragment offset in wire order.
  if (type_raw != 0x0008 || ip[0] != 0x45 || (frag_raw & 0xff3f) != 0) return false;
  if (total > len - kL3) return false;
  const uint32_t l4_len = total - kIpv4MinHdrLen;  // wraps when total < 20: refused below
  const uint8_t* l4 = ip + kIpv4MinHdrLen;
  uint64_t tcp_flags = 0;
  if (proto == kIpProtoUdp) {
    if (total < kIpv4MinHdrLen || l4_len < sizeof(UdpHdr)) return false;
  } else if (proto == kIpProtoTcp) {
    if (total < kIpv4MinHdrLen || l4_len < kTcpMinHdrLen) return false;
    const uint32_t hlen = static_cast<uint32_t>(l4[12] >> 4) * 4;
    if (hlen < kTcpMinHdrLen || hlen > l4_len) return false;
    tcp_flags = LoadRaw<uint16_t>(l4 + 12) & 0xff0f;  // wire order: low 12 bits of the word
  } else {
    return false;
  }
  constexpr uint64_t kLow48 = (uint64_t{1} << 48) - 1;
  AliasWord* w = key->words();
  w[0] = in_port;  // recirc_id 0
  w[1] = (LoadRaw<uint64_t>(data) & kLow48) | static_cast<uint64_t>(type_raw) << 48;
  w[2] = (LoadRaw<uint64_t>(data + 6) & kLow48) | static_cast<uint64_t>(proto) << 48;
  w[3] = 0;
  w[4] = LoadRaw<uint64_t>(ip + 12);
  w[5] = LoadRaw<uint32_t>(l4) | tcp_flags << 32 | static_cast<uint64_t>(ip[1]) << 48 |
         static_cast<uint64_t>(ip[8]) << 56;
  for (int i = 6; i < kFlowWords; ++i) w[i] = 0;
  layout->l3_ofs = kL3;
  layout->l4_ofs = kL4;
  return true;
}
static_assert(offsetof(FlowKey, eth_type) == 14 && offsetof(FlowKey, nw_proto) == 22);
static_assert(offsetof(FlowKey, tcp_flags) == 44 && offsetof(FlowKey, nw_tos) == 46 &&
              offsetof(FlowKey, nw_ttl) == 47);
static_assert(std::endian::native == std::endian::little, "the fast path builds words in LE");

}  // namespace

ParseStatus ParseFlow(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                      PacketLayout* layout) {
  if (ParseFlowFast(data, len, in_port, key, layout)) [[likely]]
    return ParseStatus::kOk;
  return ParseFlowGeneric(data, len, in_port, key, layout);
}

ParseStatus ParseFlowGeneric(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                             PacketLayout* layout) {
  ZeroKey(key);
  key->in_port = in_port;
  layout->l3_ofs = kNoOffset;
  layout->l4_ofs = kNoOffset;
  if (len < sizeof(EthHdr)) [[unlikely]]
    return ParseStatus::kTooShort;

  std::memcpy(&key->eth_dst, data + offsetof(EthHdr, dst), kEthAddrLen);
  std::memcpy(&key->eth_src, data + offsetof(EthHdr, src), kEthAddrLen);
  uint16_t type = LoadBe16Host(data + offsetof(EthHdr, type));
  uint32_t ofs = sizeof(EthHdr);

  if (IsVlanTpid(type)) {
    for (int i = 0;; ++i) {
      if (i == 2 || len - ofs < sizeof(VlanTag)) return ParseStatus::kBadVlan;
      const VlanTag tag = LoadHdr<VlanTag>(data + ofs);
      key->vlan[i].tpid = Be16(type);
      key->vlan[i].tci = tag.tci | Be16(kVlanPresent);  // kVlanPresent replaces DEI
      type = tag.type.host();
      ofs += sizeof(VlanTag);
      if (!IsVlanTpid(type)) break;
    }
  }

  if (type < kEthTypeMin) [[unlikely]] {
    key->eth_type = Be16(kEthTypeNone);
    return ParseStatus::kOk;
  }
  key->eth_type = Be16(type);
  switch (type) {
    case kEthTypeIpv4:
      return ParseIpv4(data, ofs, len, key, layout);
    case kEthTypeIpv6:
      return ParseIpv6(data, ofs, len, key, layout);
    case kEthTypeArp:
    case kEthTypeRarp:
      return ParseArp(data, ofs, len, key, layout);
    default:
      return ParseStatus::kOk;
  }
}

}  // namespace sluice::dp
