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

// Bits of ParseResult::reads for the fast path: the bytes it decides on
// or copies into the key. UDP: Ethernet 0-13; IPv4 version/IHL, TOS, total
// length (14-17), flags/fragment offset, TTL, protocol (20-23), addresses
// (26-33); the ports (34-37). TCP also: data offset and flags (46-47). Not
// the IPv4 id and checksum, nor the UDP length/checksum or TCP sequence
// numbers: packets of one flow that differ only there parse alike.
constexpr uint64_t ByteBits(int from, int to) {  // bits [from, to)
  return ((to == 64 ? 0 : uint64_t{1} << to) - 1) & ~((uint64_t{1} << from) - 1);
}
constexpr uint64_t kFastReadsUdp = ByteBits(0, 18) | ByteBits(20, 24) | ByteBits(26, 38);
constexpr uint64_t kFastReadsTcp = kFastReadsUdp | ByteBits(46, 48);

// The fast path for the common frame: untagged Ethernet II, IPv4 without
// options, not a fragment, UDP or TCP, every length consistent. It builds
// key words 0-5 from a few wide loads (the key's fields sit in wire order,
// so a field pair is one load and a mask) and writes them with whole-word
// stores; everything else stays zero. It returns false, having written
// nothing, for any other frame: ParseFlow then runs the general parser,
// which gives exactly the same key and layout for the frames accepted here
// (tests/datapath/flow_parse_fast_test.cc checks them against each other).
// Below kFull only the fields of the depth (and tcp_flags) are built; the
// checks, and so the frames accepted, are the same at every depth.
template <ParseDepth D>
inline bool ParseFlowFast(const uint8_t* data, uint32_t len, uint32_t in_port, uint32_t recirc_id,
                          FlowKey* key, PacketLayout* layout, uint64_t* reads) {
  // (*reads: a local of the inlining caller, kept in a register.)
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
    *reads = kFastReadsUdp;
  } else if (proto == kIpProtoTcp) {
    if (total < kIpv4MinHdrLen || l4_len < kTcpMinHdrLen) return false;
    const uint32_t hlen = static_cast<uint32_t>(l4[12] >> 4) * 4;
    if (hlen < kTcpMinHdrLen || hlen > l4_len) return false;
    tcp_flags = LoadRaw<uint16_t>(l4 + 12) & 0xff0f;  // wire order: low 12 bits of the word
    *reads = kFastReadsTcp;
  } else {
    return false;
  }
  constexpr uint64_t kLow48 = (uint64_t{1} << 48) - 1;
  AliasWord* w = key->words();
  w[0] = in_port | static_cast<uint64_t>(recirc_id) << 32;
  if constexpr (D == ParseDepth::kFull) {
    w[1] = (LoadRaw<uint64_t>(data) & kLow48) | static_cast<uint64_t>(type_raw) << 48;
    w[2] = (LoadRaw<uint64_t>(data + 6) & kLow48) | static_cast<uint64_t>(proto) << 48;
    w[3] = 0;
    w[4] = LoadRaw<uint64_t>(ip + 12);
    w[5] = LoadRaw<uint32_t>(l4) | tcp_flags << 32 | static_cast<uint64_t>(ip[1]) << 48 |
           static_cast<uint64_t>(ip[8]) << 56;
  } else if constexpr (D == ParseDepth::kL2) {
    w[1] = (LoadRaw<uint64_t>(data) & kLow48) | static_cast<uint64_t>(type_raw) << 48;
    w[2] = LoadRaw<uint64_t>(data + 6) & kLow48;
    w[3] = 0;
    w[4] = 0;
    w[5] = tcp_flags << 32;
  } else {
    w[1] = w[2] = w[3] = w[4] = 0;
    w[5] = tcp_flags << 32;
  }
  for (int i = 6; i < kFlowWords; ++i) w[i] = 0;
  layout->l3_ofs = kL3;
  layout->l4_ofs = kL4;
  return true;
}
static_assert(offsetof(FlowKey, eth_type) == 14 && offsetof(FlowKey, nw_proto) == 22);
static_assert(offsetof(FlowKey, in_port) == 0 && offsetof(FlowKey, recirc_id) == 4);
static_assert(offsetof(FlowKey, tcp_flags) == 44 && offsetof(FlowKey, nw_tos) == 46 &&
              offsetof(FlowKey, nw_ttl) == 47);
static_assert(std::endian::native == std::endian::little, "the fast path builds words in LE");

// ParseResult::reads for a kOk result of the general parser: every byte
// before the end of the last header it read, worked out from the key and
// layout (see parse.h). The end of the headers that were read:
//   no L3 (802.3, other EtherTypes): Ethernet plus its tags;
//   ARP: l3 + 28;  IPv4: l3 + 20 (options are skipped, never read), or the
//   L4 header's fixed part when there is one;  IPv6: the L4 header's fixed
//   part (extension headers all lie before it), unknown without one (the
//   extension headers read are not recorded), unknown for ND (options run
//   to the end of the datagram).
// Unknown means "the whole frame": all bytes when it is at most 64 long,
// else 0 (no follower).
uint64_t GenericReads(const FlowKey& key, const PacketLayout& layout, uint32_t len) {
  uint32_t end = len;
  const uint16_t type = key.eth_type.host();
  const uint32_t l4 = layout.l4_ofs;
  auto l4_fixed = [&](uint8_t proto) -> uint32_t {
    switch (proto) {
      case kIpProtoUdp: return l4 + sizeof(UdpHdr);
      case kIpProtoTcp: return l4 + sizeof(TcpHdr);
      case kIpProtoSctp: return l4 + sizeof(SctpHdr);
      case kIpProtoIcmp: return l4 + sizeof(IcmpHdr);
      default: return len;
    }
  };
  if (layout.l3_ofs == kNoOffset) {
    end = sizeof(EthHdr) + sizeof(VlanTag) * ((key.vlan[0].tpid.raw != 0) + (key.vlan[1].tpid.raw != 0));
  } else if (type == kEthTypeArp || type == kEthTypeRarp) {
    end = layout.l3_ofs + static_cast<uint32_t>(sizeof(ArpEthIpv4));
  } else if (type == kEthTypeIpv4) {
    end = l4 == kNoOffset ? layout.l3_ofs + kIpv4MinHdrLen : l4_fixed(key.nw_proto);
  } else if (type == kEthTypeIpv6 && l4 != kNoOffset) {
    if (key.nw_proto == kIpProtoIcmpv6) {
      const bool nd = key.tp_dst.raw == 0 && (key.tp_src == Be16(kIcmp6NeighborSolicit) ||
                                              key.tp_src == Be16(kIcmp6NeighborAdvert));
      end = nd ? len : l4 + static_cast<uint32_t>(sizeof(Icmp6Hdr));
    } else {
      end = l4_fixed(key.nw_proto);
    }
  }
  if (end > len) end = len;  // (never: a header read was within the frame)
  return end > 64 ? 0 : ByteBits(0, static_cast<int>(end));
}

// Clears the key bits beyond depth D.
template <ParseDepth D>
inline void MaskToDepth(FlowKey* key) {
  if constexpr (D != ParseDepth::kFull) {
    static const FlowMask mask = ParseDepthMask(D);
    AliasWord* w = key->words();
    for (int i = 0; i < kFlowWords; ++i) w[i] &= mask.words()[i];
  }
}

}  // namespace

ParseStatus ParseFlow(const uint8_t* data, uint32_t len, uint32_t in_port, FlowKey* key,
                      PacketLayout* layout) {
  uint64_t reads;
  if (ParseFlowFast<ParseDepth::kFull>(data, len, in_port, 0, key, layout, &reads)) [[likely]]
    return ParseStatus::kOk;
  return ParseFlowGeneric(data, len, in_port, key, layout);
}

namespace {

// ParseFlowTo for what the fast path refuses. Out of line, so that
// ParseFlowTo's fast path ends in a tail call and needs no stack frame.
template <ParseDepth D>
[[gnu::noinline]] ParseResult ParseFlowToGeneric(const uint8_t* data, uint32_t len,
                                                 uint32_t in_port, uint32_t recirc_id,
                                                 FlowKey* key, PacketLayout* layout) {
  const ParseStatus st = ParseFlowGeneric(data, len, in_port, key, layout);
  if (st != ParseStatus::kOk) return {st, 0};
  const uint64_t reads = GenericReads(*key, *layout, len);
  MaskToDepth<D>(key);
  key->recirc_id = recirc_id;
  return {st, reads};
}

}  // namespace

template <ParseDepth D>
ParseResult ParseFlowTo(const uint8_t* data, uint32_t len, uint32_t in_port, uint32_t recirc_id,
                        FlowKey* key, PacketLayout* layout) {
  uint64_t reads;
  if (ParseFlowFast<D>(data, len, in_port, recirc_id, key, layout, &reads)) [[likely]]
    return {ParseStatus::kOk, reads};
  return ParseFlowToGeneric<D>(data, len, in_port, recirc_id, key, layout);
}

template ParseResult ParseFlowTo<ParseDepth::kMeta>(const uint8_t*, uint32_t, uint32_t, uint32_t,
                                                    FlowKey*, PacketLayout*);
template ParseResult ParseFlowTo<ParseDepth::kL2>(const uint8_t*, uint32_t, uint32_t, uint32_t,
                                                  FlowKey*, PacketLayout*);
template ParseResult ParseFlowTo<ParseDepth::kFull>(const uint8_t*, uint32_t, uint32_t, uint32_t,
                                                    FlowKey*, PacketLayout*);

FlowMask ParseDepthMask(ParseDepth d) {
  FlowMask m;
  m.Clear();
  if (d == ParseDepth::kFull) {
    std::memset(static_cast<void*>(&m), 0xff, sizeof(m));
    return m;
  }
  m.in_port = ~0u;
  m.recirc_id = ~0u;
  m.pkt_mark = ~0u;
  m.dp_hash = ~0u;
  m.tcp_flags = Be16(0xffff);
  if (d == ParseDepth::kL2) {
    std::memset(&m.eth_dst, 0xff, sizeof(m.eth_dst));
    std::memset(&m.eth_src, 0xff, sizeof(m.eth_src));
    m.eth_type = Be16(0xffff);
    std::memset(static_cast<void*>(m.vlan), 0xff, sizeof(m.vlan));
  }
  return m;
}

ParseDepth ParseDepthFor(const FlowMask& mask) {
  for (ParseDepth d : {ParseDepth::kMeta, ParseDepth::kL2}) {
    const FlowMask dm = ParseDepthMask(d);
    AliasWord outside = 0;
    for (int i = 0; i < kFlowWords; ++i) outside |= mask.words()[i] & ~dm.words()[i];
    if (outside == 0) return d;
  }
  return ParseDepth::kFull;
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
