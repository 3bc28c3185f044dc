#include "datapath/actions/rewrite.h"

#include <nmmintrin.h>

#include <algorithm>
#include <cstring>

namespace sluice::dp {

using rewrite::kArpHrdOfs;
using rewrite::kArpLen;
using rewrite::kArpOpOfs;
using rewrite::kArpShaOfs;
using rewrite::kArpSpaOfs;
using rewrite::kArpThaOfs;
using rewrite::kArpTpaOfs;
using rewrite::kEthAddrsLen;
using rewrite::kEthHdrLen;
using rewrite::kEthTypeArp;
using rewrite::kEthTypeOfs;
using rewrite::kEthTypeRarp;
using rewrite::kIcmpCsumOfs;
using rewrite::kIcmpTypeCodeLen;
using rewrite::kIcmpv6CsumOfs;
using rewrite::kIcmpv6MinLen;
using rewrite::kIpv4CsumOfs;
using rewrite::kIpv4DstOfs;
using rewrite::kIpv4FragOffsetMask;
using rewrite::kIpv4FragOfs;
using rewrite::kIpv4MinLen;
using rewrite::kIpv4MoreFragments;
using rewrite::kIpv4ProtoOfs;
using rewrite::kIpv4SrcOfs;
using rewrite::kIpv4TosOfs;
using rewrite::kIpv4TotLenOfs;
using rewrite::kIpv4TtlOfs;
using rewrite::kIpv6DestOpts;
using rewrite::kIpv6DstOfs;
using rewrite::kIpv6FragHdrLen;
using rewrite::kIpv6Fragment;
using rewrite::kIpv6FragOffsetMask;
using rewrite::kIpv6HdrLen;
using rewrite::kIpv6HlimitOfs;
using rewrite::kIpv6HopByHop;
using rewrite::kIpv6MaxExtHeaders;
using rewrite::kIpv6NextHdrOfs;
using rewrite::kIpv6PayloadLenOfs;
using rewrite::kIpv6Routing;
using rewrite::kIpv6SrcOfs;
using rewrite::kL4PortsOfs;
using rewrite::kNdAdvert;
using rewrite::kNdOptionsOfs;
using rewrite::kNdOptLinkAddrOfs;
using rewrite::kNdOptSll;
using rewrite::kNdOptTll;
using rewrite::kNdOptUnit;
using rewrite::kNdSolicit;
using rewrite::kNdTargetOfs;
using rewrite::kSctpCsumOfs;
using rewrite::kSctpMinLen;
using rewrite::kTcpCsumOfs;
using rewrite::kTcpMinLen;
using rewrite::kTpidCvlan;
using rewrite::kTpidSvlan;
using rewrite::kUdpCsumOfs;
using rewrite::kUdpLen;
using rewrite::kVlanTagLen;

namespace {

template <class T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(v));
}

template <class T>
T Masked(T old_v, T new_v, T mask) {
  return static_cast<T>((old_v & ~mask) | (new_v & mask));
}

// Where a packet's L4 header is and what covers it, as far as the rewrites
// need to know.
struct L4Where {
  uint8_t proto = 0;
  bool present = false;     // the L4 header starts at layout.l4_ofs
  bool fragmented = false;  // any fragment, the first one included
  bool rh_pending = false;  // IPv6 routing header with segments left
  uint32_t l4_len = 0;      // from the IP length fields; 0 when unknown
};

// For an IPv4 header at `ip` already checked to be wholly inside the packet.
L4Where LocateL4Ipv4(const uint8_t* ip, uint32_t ihl, const PacketLayout& l) {
  L4Where w;
  const uint16_t frag = Load<be16>(ip + kIpv4FragOfs).host();
  w.fragmented = (frag & (kIpv4FragOffsetMask | kIpv4MoreFragments)) != 0;
  if ((frag & kIpv4FragOffsetMask) != 0) return w;  // later fragment: payload only
  if (l.l4_ofs == kNoOffset || l.l4_ofs != l.l3_ofs + ihl) return w;
  w.proto = ip[kIpv4ProtoOfs];
  w.present = true;
  const uint16_t tot_len = Load<be16>(ip + kIpv4TotLenOfs).host();
  if (tot_len > ihl) w.l4_len = tot_len - ihl;
  return w;
}

// For an IPv6 fixed header at pkt + l.l3_ofs already checked to be inside.
L4Where LocateL4Ipv6(const uint8_t* pkt, uint32_t len, const PacketLayout& l) {
  L4Where w;
  if (l.l4_ofs == kNoOffset) return w;
  const uint8_t* ip6 = pkt + l.l3_ofs;
  uint8_t nh = ip6[kIpv6NextHdrOfs];
  uint32_t ofs = l.l3_ofs + kIpv6HdrLen;
  for (int i = 0; i < kIpv6MaxExtHeaders && ofs < l.l4_ofs; ++i) {
    if (ofs + 8 > len) return w;
    const uint8_t* h = pkt + ofs;
    if (nh == kIpv6HopByHop || nh == kIpv6Routing || nh == kIpv6DestOpts) {
      if (nh == kIpv6Routing && h[3] != 0) w.rh_pending = true;
      ofs += (static_cast<uint32_t>(h[1]) + 1) * 8;
    } else if (nh == kIpv6Fragment) {
      w.fragmented = true;
      if ((Load<be16>(h + 2).host() & kIpv6FragOffsetMask) != 0) return w;
      ofs += kIpv6FragHdrLen;
    } else {
      return w;
    }
    nh = h[0];
  }
  if (ofs != l.l4_ofs) return w;
  w.proto = nh;
  w.present = true;
  const uint32_t payload = Load<be16>(ip6 + kIpv6PayloadLenOfs).host();
  const uint32_t ext_len = l.l4_ofs - l.l3_ofs - kIpv6HdrLen;
  if (payload > ext_len) w.l4_len = payload - ext_len;
  return w;
}

// Locates the L4 header behind whichever IP header the packet has.
L4Where LocateL4(const uint8_t* pkt, uint32_t len, const PacketLayout& l) {
  if (l.l3_ofs == kNoOffset || l.l4_ofs == kNoOffset || l.l3_ofs >= len) return {};
  const uint8_t* ip = pkt + l.l3_ofs;
  switch (ip[0] >> 4) {
    case 4: {
      const uint32_t ihl = (ip[0] & 0x0fu) * 4;
      if (ihl < kIpv4MinLen || l.l3_ofs + ihl > len) return {};
      return LocateL4Ipv4(ip, ihl, l);
    }
    case 6:
      if (l.l3_ofs + kIpv6HdrLen > len) return {};
      return LocateL4Ipv6(pkt, len, l);
    default:
      return {};
  }
}

// Applies `d` to the 16-bit checksum at `p`.
void ApplyCsum(uint8_t* p, const CsumDelta& d) { Store(p, CsumApply(Load<be16>(p), d)); }

// Applies a pseudo-header (address) change to the L4 checksum, if the L4
// protocol has one that covers the pseudo-header.
void UpdateL4PseudoCsum(uint8_t* pkt, uint32_t len, const PacketLayout& l, const L4Where& w,
                        const CsumDelta& d) {
  if (!w.present) return;
  uint8_t* l4 = pkt + l.l4_ofs;
  switch (w.proto) {
    case csum::kIpProtoTcp:
      if (l.l4_ofs + kTcpMinLen <= len) ApplyCsum(l4 + kTcpCsumOfs, d);
      break;
    case csum::kIpProtoUdp:
      if (l.l4_ofs + kUdpLen <= len) {
        const be16 old_csum = Load<be16>(l4 + kUdpCsumOfs);
        if (old_csum.raw == 0) break;  // no checksum
        be16 c = CsumApply(old_csum, d);
        if (c.raw == 0) c = be16::FromRaw(0xffff);
        Store(l4 + kUdpCsumOfs, c);
      }
      break;
    case csum::kIpProtoIcmpv6:
      if (l.l4_ofs + kIcmpv6MinLen <= len) ApplyCsum(l4 + kIcmpv6CsumOfs, d);
      break;
    default:
      break;
  }
}

// Masked write of the two ports at `l4`; returns the checksum delta and the
// old and new 32-bit words (memory order).
struct PortsChange {
  uint32_t old_raw;
  uint32_t new_raw;
};
PortsChange SetPorts(uint8_t* l4, const SetL4& a) {
  // In memory order the source port comes first, i.e. in the low half of a
  // little-endian load.
  const uint32_t mask = a.src_mask.raw | static_cast<uint32_t>(a.dst_mask.raw) << 16;
  const uint32_t val = a.src.raw | static_cast<uint32_t>(a.dst.raw) << 16;
  const uint32_t old_raw = Load<uint32_t>(l4 + kL4PortsOfs);
  const uint32_t new_raw = Masked(old_raw, val, mask);
  Store(l4 + kL4PortsOfs, new_raw);
  return {old_raw, new_raw};
}

bool IsZero(const EthAddr& m) { return Load<uint32_t>(m.b) == 0 && Load<uint16_t>(m.b + 4) == 0; }

// Masked write of the 6-byte address at `p`, as three 16-bit words. With a
// non-null `d`, each word that changes is added to it (for a checksum that
// covers the address at an even offset from its start).
void SetMacMasked(uint8_t* p, const EthAddr& v, const EthAddr& m, CsumDelta* d) {
  for (uint32_t i = 0; i < 6; i += 2) {
    const uint16_t mask = Load<uint16_t>(m.b + i);
    if (mask == 0) continue;
    const uint16_t old_w = Load<uint16_t>(p + i);
    const uint16_t new_w = Masked(old_w, Load<uint16_t>(v.b + i), mask);
    if (new_w == old_w) continue;
    Store(p + i, new_w);
    if (d != nullptr) d->Add16(old_w, new_w);
  }
}

// The IP version of a packet for which LocateL4 found the L4 header (and so
// checked that the IP header lies inside the packet).
uint8_t IpVersion(const uint8_t* pkt, const PacketLayout& l) { return pkt[l.l3_ofs] >> 4; }

}  // namespace

bool SetEthMasked(uint8_t* pkt, uint32_t len, const SetEth& a) {
  if (len < kEthAddrsLen) return false;
  for (int i = 0; i < 6; ++i) {
    pkt[i] = Masked(pkt[i], a.dst.b[i], a.dst_mask.b[i]);
    pkt[6 + i] = Masked(pkt[6 + i], a.src.b[i], a.src_mask.b[i]);
  }
  return true;
}

bool SetIpv4Masked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetIpv4& a) {
  if (l.l3_ofs == kNoOffset || l.l3_ofs + kIpv4MinLen > len) return false;
  uint8_t* ip = pkt + l.l3_ofs;
  if ((ip[0] >> 4) != 4) return false;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  if (ihl < kIpv4MinLen || l.l3_ofs + ihl > len) return false;

  CsumDelta ip_delta;    // header checksum
  CsumDelta addr_delta;  // pseudo-header part of the L4 checksum
  if (a.src_mask.raw | a.dst_mask.raw) {
    const uint32_t old_src = Load<uint32_t>(ip + kIpv4SrcOfs);
    const uint32_t old_dst = Load<uint32_t>(ip + kIpv4DstOfs);
    const uint32_t new_src = Masked(old_src, a.src.raw, a.src_mask.raw);
    const uint32_t new_dst = Masked(old_dst, a.dst.raw, a.dst_mask.raw);
    Store(ip + kIpv4SrcOfs, new_src);
    Store(ip + kIpv4DstOfs, new_dst);
    addr_delta.Add32(old_src, new_src);
    addr_delta.Add32(old_dst, new_dst);
    ip_delta.Add(addr_delta);
  }
  // TOS and TTL are bytes; the checksum sees the 16-bit words holding them.
  // The new word is built in a register (a byte store read back as a word
  // would defeat store forwarding). In a little-endian load the byte at the
  // lower address is the low half.
  static_assert(kIpv4TosOfs == 1 && kIpv4TtlOfs == 8);
  if (a.tos_mask) {
    const uint16_t old_w = Load<uint16_t>(ip);  // version/IHL, TOS
    const uint8_t tos = Masked(static_cast<uint8_t>(old_w >> 8), a.tos, a.tos_mask);
    const uint16_t new_w = static_cast<uint16_t>((old_w & 0x00ffu) | tos << 8);
    Store(ip, new_w);
    ip_delta.Add16(old_w, new_w);
  }
  if (a.ttl_mask) {
    const uint16_t old_w = Load<uint16_t>(ip + kIpv4TtlOfs);  // TTL, protocol
    const uint8_t ttl = Masked(static_cast<uint8_t>(old_w), a.ttl, a.ttl_mask);
    const uint16_t new_w = static_cast<uint16_t>((old_w & 0xff00u) | ttl);
    Store(ip + kIpv4TtlOfs, new_w);
    ip_delta.Add16(old_w, new_w);
  }
  if (ip_delta.sum != 0) ApplyCsum(ip + kIpv4CsumOfs, ip_delta);
  if (addr_delta.sum != 0) {
    UpdateL4PseudoCsum(pkt, len, l, LocateL4Ipv4(ip, ihl, l), addr_delta);
  }
  return true;
}

bool SetIpv6Masked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetIpv6& a) {
  if (l.l3_ofs == kNoOffset || l.l3_ofs + kIpv6HdrLen > len) return false;
  uint8_t* ip6 = pkt + l.l3_ofs;
  if ((ip6[0] >> 4) != 6) return false;

  CsumDelta src_delta, dst_delta;
  for (uint32_t i = 0; i < 16; i += 8) {
    const uint64_t src_m = Load<uint64_t>(a.src_mask + i);
    if (src_m) {
      uint8_t* f = ip6 + kIpv6SrcOfs + i;
      const uint64_t old_v = Load<uint64_t>(f);
      const uint64_t new_v = Masked(old_v, Load<uint64_t>(a.src + i), src_m);
      Store(f, new_v);
      src_delta.Add64(old_v, new_v);
    }
    const uint64_t dst_m = Load<uint64_t>(a.dst_mask + i);
    if (dst_m) {
      uint8_t* f = ip6 + kIpv6DstOfs + i;
      const uint64_t old_v = Load<uint64_t>(f);
      const uint64_t new_v = Masked(old_v, Load<uint64_t>(a.dst + i), dst_m);
      Store(f, new_v);
      dst_delta.Add64(old_v, new_v);
    }
  }
  // Version (4 bits), traffic class (8), flow label (20).
  const uint32_t vtl_mask =
      static_cast<uint32_t>(a.tclass_mask) << 20 | (a.label_mask.host() & 0xfffffu);
  if (vtl_mask) {
    const uint32_t vtl_val = static_cast<uint32_t>(a.tclass) << 20 | (a.label.host() & 0xfffffu);
    const uint32_t old_v = Load<be32>(ip6).host();
    Store(ip6, Be32(Masked(old_v, vtl_val, vtl_mask)));
  }
  if (a.hlimit_mask) {
    ip6[kIpv6HlimitOfs] = Masked(ip6[kIpv6HlimitOfs], a.hlimit, a.hlimit_mask);
  }
  if (src_delta.sum != 0 || dst_delta.sum != 0) {
    const L4Where w = LocateL4(pkt, len, l);
    CsumDelta d = src_delta;
    // With segments left, the pseudo-header's destination is the routing
    // header's final one, which this action does not change.
    if (!w.rh_pending) d.Add(dst_delta);
    if (d.sum != 0) UpdateL4PseudoCsum(pkt, len, l, w, d);
  }
  return true;
}

bool SetTcpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetL4& a) {
  const L4Where w = LocateL4(pkt, len, l);
  if (!w.present || w.proto != csum::kIpProtoTcp || l.l4_ofs + kTcpMinLen > len) return false;
  uint8_t* tcp = pkt + l.l4_ofs;
  const PortsChange c = SetPorts(tcp, a);
  CsumDelta d;
  d.Add32(c.old_raw, c.new_raw);
  ApplyCsum(tcp + kTcpCsumOfs, d);
  return true;
}

bool SetUdpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetL4& a) {
  const L4Where w = LocateL4(pkt, len, l);
  if (!w.present || w.proto != csum::kIpProtoUdp || l.l4_ofs + kUdpLen > len) return false;
  uint8_t* udp = pkt + l.l4_ofs;
  const PortsChange c = SetPorts(udp, a);
  const be16 old_csum = Load<be16>(udp + kUdpCsumOfs);
  if (old_csum.raw != 0) {
    CsumDelta d;
    d.Add32(c.old_raw, c.new_raw);
    be16 csum = CsumApply(old_csum, d);
    if (csum.raw == 0) csum = be16::FromRaw(0xffff);
    Store(udp + kUdpCsumOfs, csum);
  }
  return true;
}

bool SetSctpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetL4& a) {
  const L4Where w = LocateL4(pkt, len, l);
  if (!w.present || w.proto != csum::kIpProtoSctp || w.fragmented || w.l4_len < kSctpMinLen ||
      l.l4_ofs + kSctpMinLen > len) {
    return false;
  }
  uint8_t* sctp = pkt + l.l4_ofs;
  const PortsChange c = SetPorts(sctp, a);
  // CRC(new) = CRC(old) ^ CRC0(old ^ new), where CRC0 runs the register from
  // zero with no final inversion over a message of the same length: the four
  // changed bytes, then zeros to the end of the SCTP packet.
  uint32_t crc = _mm_crc32_u32(0, c.old_raw ^ c.new_raw);
  crc = Crc32cZeros(crc, w.l4_len - 4);
  Store(sctp + kSctpCsumOfs, Load<uint32_t>(sctp + kSctpCsumOfs) ^ crc);
  return true;
}

bool SetArpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetArp& a) {
  if (l.l3_ofs == kNoOffset || l.l3_ofs < kEthHdrLen || l.l3_ofs + kArpLen > len) return false;
  // The EtherType right before the ARP header (after any VLAN tags).
  const uint16_t ethertype = Load<be16>(pkt + l.l3_ofs - 2).host();
  if (ethertype != kEthTypeArp && ethertype != kEthTypeRarp) return false;
  uint8_t* arp = pkt + l.l3_ofs;
  // hrd 1 (Ethernet), pro 0x0800 (IPv4), hln 6, pln 4: the parser's one form.
  static constexpr uint8_t kEthIpv4[6] = {0x00, 0x01, 0x08, 0x00, 6, 4};
  if (std::memcmp(arp + kArpHrdOfs, kEthIpv4, sizeof(kEthIpv4)) != 0) return false;
  if (a.op_mask.raw) {
    Store(arp + kArpOpOfs, Masked(Load<uint16_t>(arp + kArpOpOfs), a.op.raw, a.op_mask.raw));
  }
  SetMacMasked(arp + kArpShaOfs, a.sha, a.sha_mask, nullptr);
  if (a.spa_mask.raw) {
    Store(arp + kArpSpaOfs, Masked(Load<uint32_t>(arp + kArpSpaOfs), a.spa.raw, a.spa_mask.raw));
  }
  SetMacMasked(arp + kArpThaOfs, a.tha, a.tha_mask, nullptr);
  if (a.tpa_mask.raw) {
    Store(arp + kArpTpaOfs, Masked(Load<uint32_t>(arp + kArpTpaOfs), a.tpa.raw, a.tpa_mask.raw));
  }
  return true;
}

bool SetIcmpMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetIcmp& a, bool v6) {
  const L4Where w = LocateL4(pkt, len, l);
  if (!w.present || w.proto != (v6 ? csum::kIpProtoIcmpv6 : csum::kIpProtoIcmp) ||
      IpVersion(pkt, l) != (v6 ? 6 : 4) || l.l4_ofs + kIcmpTypeCodeLen > len) {
    return false;
  }
  uint8_t* icmp = pkt + l.l4_ofs;
  // Type then code: in a little-endian load the type is the low half.
  const uint16_t mask = static_cast<uint16_t>(a.type_mask | a.code_mask << 8);
  const uint16_t val = static_cast<uint16_t>(a.type | a.code << 8);
  const uint16_t old_w = Load<uint16_t>(icmp);
  const uint16_t new_w = Masked(old_w, val, mask);
  if (new_w != old_w) {
    Store(icmp, new_w);
    CsumDelta d;
    d.Add16(old_w, new_w);
    ApplyCsum(icmp + kIcmpCsumOfs, d);
  }
  return true;
}

bool SetNdMasked(uint8_t* pkt, uint32_t len, const PacketLayout& l, const SetNd& a) {
  const L4Where w = LocateL4(pkt, len, l);
  if (!w.present || w.proto != csum::kIpProtoIcmpv6 || IpVersion(pkt, l) != 6 ||
      w.l4_len < kNdOptionsOfs || l.l4_ofs + kNdOptionsOfs > len) {
    return false;
  }
  uint8_t* icmp = pkt + l.l4_ofs;
  if ((icmp[0] != kNdSolicit && icmp[0] != kNdAdvert) || icmp[1] != 0) return false;

  CsumDelta d;
  for (uint32_t i = 0; i < 16; i += 8) {
    const uint64_t m = Load<uint64_t>(a.target_mask + i);
    if (m == 0) continue;
    uint8_t* f = icmp + kNdTargetOfs + i;
    const uint64_t old_v = Load<uint64_t>(f);
    const uint64_t new_v = Masked(old_v, Load<uint64_t>(a.target + i), m);
    if (new_v == old_v) continue;
    Store(f, new_v);
    d.Add64(old_v, new_v);
  }
  const bool want_sll = !IsZero(a.sll_mask);
  const bool want_tll = !IsZero(a.tll_mask);
  if (want_sll || want_tll) {
    // The options end with the ICMPv6 message (the IPv6 payload); only the
    // bytes inside `len` can be written.
    const uint32_t end = std::min(len, l.l4_ofs + w.l4_len);
    bool sll_seen = false, tll_seen = false;
    uint32_t opt = l.l4_ofs + kNdOptionsOfs;
    while (end - opt >= kNdOptUnit) {  // opt <= end holds throughout
      const uint32_t olen = pkt[opt + 1] * kNdOptUnit;
      if (olen == 0 || olen > end - opt) break;
      if (olen == kNdOptUnit) {
        uint8_t* addr = pkt + opt + kNdOptLinkAddrOfs;
        if (pkt[opt] == kNdOptSll && !sll_seen) {
          sll_seen = true;
          if (want_sll) SetMacMasked(addr, a.sll, a.sll_mask, &d);
        } else if (pkt[opt] == kNdOptTll && !tll_seen) {
          tll_seen = true;
          if (want_tll) SetMacMasked(addr, a.tll, a.tll_mask, &d);
        }
      }
      opt += olen;
    }
  }
  if (d.sum != 0) ApplyCsum(icmp + kIcmpv6CsumOfs, d);
  return true;
}

void SetFieldsBatch(const DpAction& a, rte_mbuf* const* pkts, const PacketLayout* layouts,
                    uint32_t n) {
  switch (a.type) {
    case DpActionType::kSetEth:
      for (uint32_t i = 0; i < n; ++i) {
        SetEthMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), a.eth);
      }
      break;
    case DpActionType::kSetIpv4:
      for (uint32_t i = 0; i < n; ++i) {
        SetIpv4Masked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.ipv4);
      }
      break;
    case DpActionType::kSetIpv6:
      for (uint32_t i = 0; i < n; ++i) {
        SetIpv6Masked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.ipv6);
      }
      break;
    case DpActionType::kSetTcp:
      for (uint32_t i = 0; i < n; ++i) {
        SetTcpMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.l4);
      }
      break;
    case DpActionType::kSetUdp:
      for (uint32_t i = 0; i < n; ++i) {
        SetUdpMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.l4);
      }
      break;
    case DpActionType::kSetSctp:
      for (uint32_t i = 0; i < n; ++i) {
        SetSctpMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.l4);
      }
      break;
    case DpActionType::kSetArp:
      for (uint32_t i = 0; i < n; ++i) {
        SetArpMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.arp);
      }
      break;
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6: {
      const bool v6 = a.type == DpActionType::kSetIcmpv6;
      for (uint32_t i = 0; i < n; ++i) {
        SetIcmpMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.icmp, v6);
      }
      break;
    }
    case DpActionType::kSetNd:
      for (uint32_t i = 0; i < n; ++i) {
        SetNdMasked(PacketData(pkts[i]), PacketHeadLen(pkts[i]), layouts[i], a.nd);
      }
      break;
    default:
      break;
  }
}

PushVlanResult PushVlanTag(rte_mbuf* m, PacketLayout* layout, be16 tpid, be16 tci) {
  const uint32_t len = PacketHeadLen(m);
  if (len < kEthHdrLen) return PushVlanResult::kTooShort;
  uint8_t* p;
  if (rte_pktmbuf_headroom(m) >= kVlanTagLen) {
    p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kVlanTagLen));
    std::memmove(p, p + kVlanTagLen, kEthAddrsLen);
  } else if (m->nb_segs == 1 && rte_pktmbuf_tailroom(m) >= kVlanTagLen) {
    // No headroom (rare: a buffer filled from its start): shift the frame
    // after the MAC addresses towards the tail instead.
    rte_pktmbuf_append(m, kVlanTagLen);
    p = PacketData(m);
    std::memmove(p + kEthAddrsLen + kVlanTagLen, p + kEthAddrsLen, len - kEthAddrsLen);
  } else {
    return PushVlanResult::kNoRoom;
  }
  Store(p + kEthAddrsLen, tpid);
  Store(p + kEthAddrsLen + 2, tci & ~Be16(kVlanPresent));
  if (layout->l3_ofs != kNoOffset) layout->l3_ofs += kVlanTagLen;
  if (layout->l4_ofs != kNoOffset) layout->l4_ofs += kVlanTagLen;
  return PushVlanResult::kPushed;
}

bool PopVlanTag(rte_mbuf* m, PacketLayout* layout) {
  if (PacketHeadLen(m) < kEthHdrLen + kVlanTagLen) return false;
  uint8_t* p = PacketData(m);
  const be16 tpid = Load<be16>(p + kEthTypeOfs);
  if (tpid != Be16(kTpidCvlan) && tpid != Be16(kTpidSvlan)) return false;
  std::memmove(p + kVlanTagLen, p, kEthAddrsLen);
  rte_pktmbuf_adj(m, kVlanTagLen);
  if (layout->l3_ofs != kNoOffset) layout->l3_ofs -= kVlanTagLen;
  if (layout->l4_ofs != kNoOffset) layout->l4_ofs -= kVlanTagLen;
  return true;
}

}  // namespace sluice::dp
