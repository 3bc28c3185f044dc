#include "offload/eswitch.h"

#include <rte_mbuf.h>

#include <cstring>

#include "offload/eswitch_packet.h"

namespace sluice::offload {

using namespace esw_detail;

namespace {

// RFC 1624 eqn. 3 over the 16-bit words that changed from old to nu.
void CsumDelta(uint8_t* csum, const uint8_t* old, const uint8_t* nu, size_t n) {
  uint32_t acc = static_cast<uint16_t>(~Ld16(csum));
  for (size_t i = 0; i + 1 < n; i += 2) {
    acc += static_cast<uint16_t>(~Ld16(old + i));
    acc += Ld16(nu + i);
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  St16(csum, static_cast<uint16_t>(~acc));
}

// Where a frame's layers start, found the way a NIC's parser does.
struct Hdrs {
  uint32_t l3 = kNone;
  uint16_t l3_type = 0;  // EtherType after the tags
  uint32_t l4 = kNone;   // kNone for a later fragment
  uint8_t l4_proto = 0;
  int tags = 0;
};

Hdrs Locate(const uint8_t* d, uint32_t len) {
  Hdrs h;
  if (len < 14) return h;
  uint32_t ofs = 12;
  uint16_t type = Ld16(d + ofs);
  while (IsTpid(type) && h.tags < 2 && len >= ofs + 6) {
    ofs += 4;
    type = Ld16(d + ofs);
    ++h.tags;
  }
  h.l3 = ofs + 2;
  h.l3_type = type;
  if (type == 0x0800 && len >= h.l3 + 20) {
    const uint32_t ihl = (d[h.l3] & 0x0f) * 4u;
    const bool later = Ld16(d + h.l3 + 6) & 0x1fff;
    h.l4_proto = d[h.l3 + 9];
    if (!later && ihl >= 20) h.l4 = h.l3 + ihl;
  } else if (type == 0x86dd && len >= h.l3 + 40) {
    uint8_t nh = d[h.l3 + 6];
    uint32_t p = h.l3 + 40;
    for (int i = 0; i < 8; ++i) {
      if (nh == 0 || nh == 43 || nh == 60) {
        if (len < p + 8) return h;
        const uint8_t next = d[p];
        p += (d[p + 1] + 1u) * 8u;
        nh = next;
      } else if (nh == 44) {
        if (len < p + 8) return h;
        const bool later = Ld16(d + p + 2) & 0xfff8;
        nh = d[p];
        p += 8;
        if (later) {
          h.l4_proto = nh;
          return h;
        }
      } else {
        break;
      }
    }
    h.l4_proto = nh;
    h.l4 = p;
  }
  return h;
}

// Updates the L4 checksum for a change of bytes it covers. `pseudo`: the
// change is in the IP pseudo-header (addresses), which ICMPv4 does not cover.
void L4CsumDelta(uint8_t* d, uint32_t len, const Hdrs& h, const uint8_t* old, const uint8_t* nu,
                 size_t n, bool pseudo) {
  if (h.l4 == kNone) return;
  uint32_t ofs;
  switch (h.l4_proto) {
    case 6:
      ofs = 16;
      break;
    case 17:
      ofs = 6;
      break;
    case 58:
      ofs = 2;
      break;
    case 1:
      if (pseudo) return;
      ofs = 2;
      break;
    default:
      return;
  }
  if (len < h.l4 + ofs + 2) return;
  uint8_t* c = d + h.l4 + ofs;
  if (h.l4_proto == 17 && Ld16(c) == 0) return;  // UDP without checksum stays so
  CsumDelta(c, old, nu, n);
  if (h.l4_proto == 17 && Ld16(c) == 0) St16(c, 0xffff);
}

// The transfer rule's header actions on one packet. Return false to drop.
bool PopTag(rte_mbuf* m) {
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  if (rte_pktmbuf_data_len(m) < 18 || !IsTpid(Ld16(d + 12))) return true;
  std::memmove(d + 4, d, 12);
  rte_pktmbuf_adj(m, 4);
  return true;
}

bool PushTag(rte_mbuf* m, uint16_t tpid) {
  uint8_t* old = rte_pktmbuf_mtod(m, uint8_t*);
  uint16_t tci = 0;
  if (rte_pktmbuf_data_len(m) >= 18 && IsTpid(Ld16(old + 12))) tci = Ld16(old + 14) & 0xefff;
  auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 4));
  if (d == nullptr) return false;
  std::memmove(d, d + 4, 12);
  St16(d + 12, tpid);
  St16(d + 14, tci);  // a new tag has DEI 0
  return true;
}

void SetTci(rte_mbuf* m, uint16_t keep, uint16_t set) {
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  if (rte_pktmbuf_data_len(m) < 18 || !IsTpid(Ld16(d + 12))) return;
  St16(d + 14, static_cast<uint16_t>((Ld16(d + 14) & keep) | set));
}

// Rewrites `n` bytes at header offset `field` of the IPv4 header (with its
// checksum) and, for addresses, the L4 checksum.
void RewriteIpv4(uint8_t* d, uint32_t len, const Hdrs& h, uint32_t field, const uint8_t* v,
                 uint32_t n, bool addr) {
  if (h.l3 == kNone || h.l3_type != 0x0800 || len < h.l3 + 20) return;
  uint8_t* ip = d + h.l3;
  const uint32_t w = field & ~1u, wn = ((field + n + 1) & ~1u) - w;  // whole words
  uint8_t old[20];
  std::memcpy(old, ip + w, wn);
  std::memcpy(ip + field, v, n);
  CsumDelta(ip + 10, old, ip + w, wn);
  if (addr) L4CsumDelta(d, len, h, old, ip + w, wn, true);
}

void RewriteIpv6(uint8_t* d, uint32_t len, const Hdrs& h, uint32_t field, const uint8_t* v,
                 uint32_t n, bool addr) {
  if (h.l3 == kNone || h.l3_type != 0x86dd || len < h.l3 + 40) return;
  uint8_t* ip = d + h.l3;
  uint8_t old[16];
  std::memcpy(old, ip + field, n);
  std::memcpy(ip + field, v, n);
  if (addr) L4CsumDelta(d, len, h, old, ip + field, n, true);
}

void RewritePort(uint8_t* d, uint32_t len, const Hdrs& h, uint32_t field, uint16_t port_raw) {
  if (h.l4 == kNone || (h.l4_proto != 6 && h.l4_proto != 17) || len < h.l4 + 8) return;
  uint8_t* p = d + h.l4 + field;
  uint8_t old[2] = {p[0], p[1]};
  std::memcpy(p, &port_raw, 2);
  L4CsumDelta(d, len, h, old, p, 2, false);
}

}  // namespace

void Eswitch::ExecuteTransfer(EswitchFlow* flow, rte_mbuf* m) {
  const auto& acts = flow->rule.actions();
  size_t last_fate = acts.size();
  for (size_t i = 0; i < acts.size(); ++i) {
    if (acts[i].type == RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT ||
        acts[i].type == RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR) {
      last_fate = i;
    }
  }
  uint16_t src_vport = 0;
  for (const auto& it : flow->rule.items()) {
    if (it.type == RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT && it.spec) {
      VportOf(static_cast<const rte_flow_item_ethdev*>(it.spec)->port_id, &src_vport);
    }
  }
  for (size_t i = 0; i < acts.size(); ++i) {
    const rte_flow_action& a = acts[i];
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    const uint32_t len = rte_pktmbuf_data_len(m);
    switch (a.type) {
      case RTE_FLOW_ACTION_TYPE_COUNT:
        ++flow->hits;
        flow->bytes += rte_pktmbuf_pkt_len(m);
        break;
      case RTE_FLOW_ACTION_TYPE_DROP:
        rte_pktmbuf_free(m);
        ++stats_.dropped_rule;
        return;
      case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
      case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR: {
        rte_mbuf* out = i == last_fate ? m : rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
        if (out == nullptr) {
          ++stats_.dropped_other;
          break;
        }
        const uint16_t id = static_cast<const rte_flow_action_ethdev*>(a.conf)->port_id;
        if (a.type == RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT) {
          uint16_t vp = 0;
          VportOf(id, &vp);
          ToOutside(vp, out);
        } else {
          Deliver(*FacingByEthdev(id), out, config_.unified, vports_[src_vport].flow_port_id);
        }
        if (i == last_fate) return;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_OF_POP_VLAN:
        PopTag(m);
        break;
      case RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN:
        if (!PushTag(m, rte_be_to_cpu_16(
                            static_cast<const rte_flow_action_of_push_vlan*>(a.conf)->ethertype))) {
          rte_pktmbuf_free(m);
          ++stats_.dropped_other;
          return;
        }
        break;
      case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID:
        SetTci(m, 0xf000,
               rte_be_to_cpu_16(
                   static_cast<const rte_flow_action_of_set_vlan_vid*>(a.conf)->vlan_vid) &
                   0x0fff);
        break;
      case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP:
        SetTci(
            m, 0x1fff,
            static_cast<uint16_t>(
                (static_cast<const rte_flow_action_of_set_vlan_pcp*>(a.conf)->vlan_pcp & 7) << 13));
        break;
      case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
      case RTE_FLOW_ACTION_TYPE_SET_MAC_DST:
        if (len >= 14) {
          std::memcpy(d + (a.type == RTE_FLOW_ACTION_TYPE_SET_MAC_SRC ? 6 : 0),
                      static_cast<const rte_flow_action_set_mac*>(a.conf)->mac_addr, 6);
        }
        break;
      case RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC:
      case RTE_FLOW_ACTION_TYPE_SET_IPV4_DST:
        RewriteIpv4(d, len, Locate(d, len), a.type == RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC ? 12 : 16,
                    reinterpret_cast<const uint8_t*>(
                        &static_cast<const rte_flow_action_set_ipv4*>(a.conf)->ipv4_addr),
                    4, true);
        break;
      case RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC:
      case RTE_FLOW_ACTION_TYPE_SET_IPV6_DST:
        RewriteIpv6(d, len, Locate(d, len), a.type == RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC ? 8 : 24,
                    static_cast<const rte_flow_action_set_ipv6*>(a.conf)->ipv6_addr, 16, true);
        break;
      case RTE_FLOW_ACTION_TYPE_SET_TP_SRC:
      case RTE_FLOW_ACTION_TYPE_SET_TP_DST:
        RewritePort(d, len, Locate(d, len), a.type == RTE_FLOW_ACTION_TYPE_SET_TP_SRC ? 0 : 2,
                    static_cast<const rte_flow_action_set_tp*>(a.conf)->port);
        break;
      case RTE_FLOW_ACTION_TYPE_SET_TTL:
      case RTE_FLOW_ACTION_TYPE_DEC_TTL: {
        const Hdrs h = Locate(d, len);
        if (h.l3 == kNone) break;
        const bool v4 = h.l3_type == 0x0800;
        if (!v4 && h.l3_type != 0x86dd) break;
        const uint32_t field = v4 ? 8 : 7;
        if (len < h.l3 + (v4 ? 20 : 40)) break;
        uint8_t ttl = d[h.l3 + field];
        if (a.type == RTE_FLOW_ACTION_TYPE_DEC_TTL) {
          if (ttl != 0) --ttl;
        } else {
          ttl = static_cast<const rte_flow_action_set_ttl*>(a.conf)->ttl_value;
        }
        if (v4) {
          RewriteIpv4(d, len, h, field, &ttl, 1, false);
        } else {
          RewriteIpv6(d, len, h, field, &ttl, 1, false);
        }
        break;
      }
      case RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP:
      case RTE_FLOW_ACTION_TYPE_SET_IPV6_DSCP: {
        const Hdrs h = Locate(d, len);
        const uint8_t dscp = static_cast<const rte_flow_action_set_dscp*>(a.conf)->dscp & 0x3f;
        if (a.type == RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP) {
          if (h.l3_type != 0x0800 || len < h.l3 + 20) break;
          const uint8_t tos = static_cast<uint8_t>(dscp << 2 | (d[h.l3 + 1] & 3));
          RewriteIpv4(d, len, h, 1, &tos, 1, false);
        } else {
          if (h.l3_type != 0x86dd || len < h.l3 + 40) break;
          // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
          uint8_t b[2] = {d[h.l3], d[h.l3 + 1]};
          const uint8_t tc = static_cast<uint8_t>(dscp << 2 | (((b[0] << 4) | (b[1] >> 4)) & 3));
          b[0] = static_cast<uint8_t>((b[0] & 0xf0) | (tc >> 4));
          b[1] = static_cast<uint8_t>((b[1] & 0x0f) | (tc << 4));
          RewriteIpv6(d, len, h, 0, b, 2, false);
        }
        break;
      }
      default:
        break;
    }
  }
  // No fate reached: the packet is dropped.
  rte_pktmbuf_free(m);
  ++stats_.dropped_rule;
}

}  // namespace sluice::offload
