#include "offload/eswitch_packet.h"

#include <cstring>

namespace sluice::offload::esw_detail {

namespace {

bool HasIpv6FragExt(const uint8_t* d, uint32_t len, uint32_t l3) {
  uint8_t nh = d[l3 + 6];
  uint32_t p = l3 + 40;
  for (int i = 0; i < 8; ++i) {
    if (nh == 44) return true;
    if (nh != 0 && nh != 43 && nh != 60) return false;
    if (len < p + 8) return false;
    nh = d[p];
    p += (d[p + 1] + 1u) * 8u;
  }
  return false;
}

// --- Item tables -------------------------------------------------------------

// Wire bytes an item's header covers (compared byte by byte under the mask).
uint32_t WireLen(rte_flow_item_type t) {
  switch (t) {
    case RTE_FLOW_ITEM_TYPE_ETH:
      return 14;
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return 4;
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return 20;
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return 40;
    case RTE_FLOW_ITEM_TYPE_TCP:
      return 20;
    case RTE_FLOW_ITEM_TYPE_UDP:
      return 8;
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return 12;
    case RTE_FLOW_ITEM_TYPE_ICMP:
      return 4;  // type, code, checksum (echo id/seq not needed)
    case RTE_FLOW_ITEM_TYPE_ICMP6:
      return 4;
    default:
      return 0;
  }
}

ItemMasks MakeSupported() {
  ItemMasks s;
  std::memset(&s.eth.hdr, 0xff, sizeof(s.eth.hdr));
  s.eth.has_vlan = 1;
  std::memset(&s.vlan.hdr, 0xff, sizeof(s.vlan.hdr));
  s.vlan.has_more_vlan = 1;
  s.ipv4.hdr.version_ihl = 0xff;
  s.ipv4.hdr.type_of_service = 0xff;
  s.ipv4.hdr.fragment_offset = 0xffff;
  s.ipv4.hdr.time_to_live = 0xff;
  s.ipv4.hdr.next_proto_id = 0xff;
  s.ipv4.hdr.src_addr = s.ipv4.hdr.dst_addr = 0xffffffffu;
  s.ipv6.hdr.vtc_flow = 0xffffffffu;
  s.ipv6.hdr.proto = s.ipv6.hdr.hop_limits = 0xff;
  std::memset(s.ipv6.hdr.src_addr, 0xff, 16);
  std::memset(s.ipv6.hdr.dst_addr, 0xff, 16);
  s.ipv6.has_frag_ext = 1;
  s.tcp.hdr.src_port = s.tcp.hdr.dst_port = 0xffff;
  s.tcp.hdr.data_off = 0x0f;  // the flags' high bits, not the offset
  s.tcp.hdr.tcp_flags = 0xff;
  s.udp.hdr.src_port = s.udp.hdr.dst_port = 0xffff;
  s.sctp.hdr.src_port = s.sctp.hdr.dst_port = 0xffff;
  s.icmp.hdr.icmp_type = s.icmp.hdr.icmp_code = 0xff;
  s.icmp6.type = s.icmp6.code = 0xff;
  s.ethdev.port_id = 0xffff;
  s.meta.data = 0xffffffffu;
  return s;
}

// DPDK's default masks (not visible from C++: its headers hide them).
ItemMasks MakeDefaults() {
  ItemMasks d;
  std::memset(&d.eth.hdr.dst_addr, 0xff, 6);
  std::memset(&d.eth.hdr.src_addr, 0xff, 6);
  d.vlan.hdr.vlan_tci = rte_cpu_to_be_16(0x0fff);
  d.ipv4.hdr.src_addr = d.ipv4.hdr.dst_addr = 0xffffffffu;
  std::memset(d.ipv6.hdr.src_addr, 0xff, 16);
  std::memset(d.ipv6.hdr.dst_addr, 0xff, 16);
  d.tcp.hdr.src_port = d.tcp.hdr.dst_port = 0xffff;
  d.udp.hdr.src_port = d.udp.hdr.dst_port = 0xffff;
  d.sctp.hdr.src_port = d.sctp.hdr.dst_port = 0xffff;
  d.icmp.hdr.icmp_type = d.icmp.hdr.icmp_code = 0xff;
  d.icmp6.type = d.icmp6.code = 0xff;
  d.ethdev.port_id = 0xffff;
  d.meta.data = 0xffffffffu;
  return d;
}

}  // namespace

const ItemMasks kSupported = MakeSupported();
const ItemMasks kDefaults = MakeDefaults();

const void* MaskTable(const ItemMasks& t, rte_flow_item_type type) {
  switch (type) {
    case RTE_FLOW_ITEM_TYPE_ETH:
      return &t.eth;
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return &t.vlan;
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return &t.ipv4;
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return &t.ipv6;
    case RTE_FLOW_ITEM_TYPE_TCP:
      return &t.tcp;
    case RTE_FLOW_ITEM_TYPE_UDP:
      return &t.udp;
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return &t.sctp;
    case RTE_FLOW_ITEM_TYPE_ICMP:
      return &t.icmp;
    case RTE_FLOW_ITEM_TYPE_ICMP6:
      return &t.icmp6;
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR:
      return &t.ethdev;
    case RTE_FLOW_ITEM_TYPE_META:
      return &t.meta;
    default:
      return nullptr;
  }
}

// Layer rank for the stacking rule.
int Rank(rte_flow_item_type t) {
  switch (t) {
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR:
    case RTE_FLOW_ITEM_TYPE_META:
      return 0;
    case RTE_FLOW_ITEM_TYPE_ETH:
      return 1;
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return 2;
    case RTE_FLOW_ITEM_TYPE_IPV4:
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return 3;
    case RTE_FLOW_ITEM_TYPE_TCP:
    case RTE_FLOW_ITEM_TYPE_UDP:
    case RTE_FLOW_ITEM_TYPE_SCTP:
    case RTE_FLOW_ITEM_TYPE_ICMP:
    case RTE_FLOW_ITEM_TYPE_ICMP6:
      return 4;
    default:
      return -1;
  }
}

namespace {

bool BytesMatch(const uint8_t* pkt, const void* spec, const void* mask, uint32_t n) {
  const auto* s = static_cast<const uint8_t*>(spec);
  const auto* m = static_cast<const uint8_t*>(mask);
  for (uint32_t i = 0; i < n; ++i) {
    if ((pkt[i] ^ s[i]) & m[i]) return false;
  }
  return true;
}

}  // namespace

bool MatchPattern(const RteFlowRule& rule, const uint8_t* d, uint32_t len, const MatchCtx& ctx) {
  uint32_t ofs = 0;
  bool l2 = false;
  uint16_t type = 0;  // EtherType (or TPID) of what follows ofs
  bool l3 = false, l4_ok = false;
  uint8_t proto = 0;
  auto implicit_l2 = [&]() {
    if (l2) return true;
    if (len < 14) return false;
    ofs = 14;
    type = Ld16(d + 12);
    for (int i = 0; i < 2 && IsTpid(type) && len >= ofs + 4; ++i) {
      type = Ld16(d + ofs + 2);
      ofs += 4;
    }
    l2 = true;
    return true;
  };
  for (const rte_flow_item& it : rule.items()) {
    if (it.type == RTE_FLOW_ITEM_TYPE_END) return true;
    if (it.type == RTE_FLOW_ITEM_TYPE_VOID) continue;
    const void* spec = it.spec;
    const void* mask = it.mask ? it.mask : MaskTable(kDefaults, it.type);
    switch (it.type) {
      case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT: {
        if (ctx.src == kNone) return false;
        if (!spec) break;
        auto* s = static_cast<const rte_flow_item_ethdev*>(spec);
        auto* m = static_cast<const rte_flow_item_ethdev*>(mask);
        if ((s->port_id ^ ctx.src) & m->port_id) return false;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR:
        return false;  // traffic from outside never comes from an ethdev
      case RTE_FLOW_ITEM_TYPE_META: {
        if (!spec) break;
        auto* s = static_cast<const rte_flow_item_meta*>(spec);
        auto* m = static_cast<const rte_flow_item_meta*>(mask);
        if (!ctx.has_meta || ((s->data ^ ctx.meta) & m->data)) return false;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_ETH: {
        if (len < 14) return false;
        if (spec) {
          auto* s = static_cast<const rte_flow_item_eth*>(spec);
          auto* m = static_cast<const rte_flow_item_eth*>(mask);
          if (!BytesMatch(d, &s->hdr, &m->hdr, 14)) return false;
          if (m->has_vlan && (IsTpid(Ld16(d + 12)) != static_cast<bool>(s->has_vlan))) return false;
        }
        ofs = 14;
        type = Ld16(d + 12);
        l2 = true;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_VLAN: {
        if (!l2 || !IsTpid(type) || len < ofs + 4) return false;
        if (spec) {
          auto* s = static_cast<const rte_flow_item_vlan*>(spec);
          auto* m = static_cast<const rte_flow_item_vlan*>(mask);
          if (!BytesMatch(d + ofs, &s->hdr, &m->hdr, 4)) return false;
          if (m->has_more_vlan &&
              IsTpid(Ld16(d + ofs + 2)) != static_cast<bool>(s->has_more_vlan)) {
            return false;
          }
        }
        type = Ld16(d + ofs + 2);
        ofs += 4;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_IPV4: {
        if (!implicit_l2() || type != 0x0800 || len < ofs + 20) return false;
        if (spec) {
          auto* s = static_cast<const rte_flow_item_ipv4*>(spec);
          auto* m = static_cast<const rte_flow_item_ipv4*>(mask);
          if (!BytesMatch(d + ofs, &s->hdr, &m->hdr, 20)) return false;
        }
        const uint32_t ihl = (d[ofs] & 0x0f) * 4u;
        proto = d[ofs + 9];
        l4_ok = ihl >= 20 && !(Ld16(d + ofs + 6) & 0x1fff);
        ofs += ihl;
        l3 = true;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_IPV6: {
        if (!implicit_l2() || type != 0x86dd || len < ofs + 40) return false;
        if (spec) {
          auto* s = static_cast<const rte_flow_item_ipv6*>(spec);
          auto* m = static_cast<const rte_flow_item_ipv6*>(mask);
          if (!BytesMatch(d + ofs, &s->hdr, &m->hdr, 40)) return false;
          if (m->has_frag_ext &&
              HasIpv6FragExt(d, len, ofs) != static_cast<bool>(s->has_frag_ext)) {
            return false;
          }
        }
        // The next item matches the header right after the fixed one.
        proto = d[ofs + 6];
        l4_ok = true;
        ofs += 40;
        l3 = true;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_TCP:
      case RTE_FLOW_ITEM_TYPE_UDP:
      case RTE_FLOW_ITEM_TYPE_SCTP:
      case RTE_FLOW_ITEM_TYPE_ICMP:
      case RTE_FLOW_ITEM_TYPE_ICMP6: {
        const uint8_t want = it.type == RTE_FLOW_ITEM_TYPE_TCP    ? 6
                             : it.type == RTE_FLOW_ITEM_TYPE_UDP  ? 17
                             : it.type == RTE_FLOW_ITEM_TYPE_SCTP ? 132
                             : it.type == RTE_FLOW_ITEM_TYPE_ICMP ? 1
                                                                  : 58;
        const uint32_t n = WireLen(it.type);
        if (!l3 || !l4_ok || proto != want || len < ofs + n) return false;
        if (spec) {
          // The item structs start with the wire header (ICMP6: type, code, csum).
          if (!BytesMatch(d + ofs, spec, mask, n)) return false;
        }
        ofs += n;
        l4_ok = false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace sluice::offload::esw_detail
