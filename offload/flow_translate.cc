#include "offload/flow_translate.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>

#include "datapath/flow/proto.h"

namespace sluice::offload {

namespace {

constexpr const char* kReasonNames[] = {
#define SLUICE_X(name, str, text) str,
    SLUICE_OFFLOAD_REASONS(SLUICE_X)
#undef SLUICE_X
};
constexpr const char* kReasonTexts[] = {
#define SLUICE_X(name, str, text) text,
    SLUICE_OFFLOAD_REASONS(SLUICE_X)
#undef SLUICE_X
};

// FlowKey fields by offset, to name what a refusal is about.
struct FieldName {
  size_t ofs, len;
  const char* name;
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#define SLUICE_F(f, name) \
  FieldName { offsetof(dp::FlowKey, f), sizeof(dp::FlowKey::f), name }
constexpr FieldName kFields[] = {
    SLUICE_F(in_port, "in_port"),     SLUICE_F(recirc_id, "recirc_id"),
    SLUICE_F(eth_dst, "eth_dst"),     SLUICE_F(eth_type, "eth_type"),
    SLUICE_F(eth_src, "eth_src"),     SLUICE_F(nw_proto, "nw_proto"),
    SLUICE_F(nw_frag, "nw_frag"),     SLUICE_F(vlan, "vlan"),
    SLUICE_F(nw_src, "nw_src"),       SLUICE_F(nw_dst, "nw_dst"),
    SLUICE_F(tp_src, "tp_src"),       SLUICE_F(tp_dst, "tp_dst"),
    SLUICE_F(tcp_flags, "tcp_flags"), SLUICE_F(nw_tos, "nw_tos"),
    SLUICE_F(nw_ttl, "nw_ttl"),       SLUICE_F(ipv6_src, "ipv6_src"),
    SLUICE_F(ipv6_dst, "ipv6_dst"),   SLUICE_F(ipv6_label, "ipv6_label"),
    SLUICE_F(pkt_mark, "pkt_mark"),   SLUICE_F(nd_target, "nd_target"),
    SLUICE_F(arp_sha, "arp_sha"),     SLUICE_F(arp_tha, "arp_tha"),
    SLUICE_F(dp_hash, "dp_hash"),
};
#undef SLUICE_F
#pragma GCC diagnostic pop

const char* FieldAt(size_t ofs) {
  for (const auto& f : kFields) {
    if (ofs >= f.ofs && ofs < f.ofs + f.len) return f.name;
  }
  return "padding";
}

bool AllOnes(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0xff) return false;
  }
  return true;
}
bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// Builds one rule; `used` collects the mask bits the pattern covers.
class Translator {
 public:
  Translator(const dp::FlowKey& key, const dp::FlowMask& mask, const PortMap& ports, Mode mode,
             RteFlowRule* out)
      : mask_(mask), ports_(ports), mode_(mode), out_(out) {
    MaskKeyBytes(key, mask, &k_);
    used_.Clear();
  }

  TranslateResult Run(const std::vector<dp::DpAction>& actions, uint32_t mark) {
    if (!Pattern()) return result_;
    if (mode_ == Mode::kFull) {
      if (!FullActions(actions)) return result_;
    } else {
      PartialActions(mark);
    }
    out_->AddAction(RTE_FLOW_ACTION_TYPE_END);
    return result_;
  }

 private:
  bool Refuse(Reason r, std::string detail) {
    result_.reason = r;
    result_.detail = std::move(detail);
    return false;
  }
  template <typename F>
  void Use(const F& mask_field) {
    const size_t ofs =
        reinterpret_cast<const uint8_t*>(&mask_field) - reinterpret_cast<const uint8_t*>(&mask_);
    std::memset(reinterpret_cast<uint8_t*>(&used_) + ofs, 0xff, sizeof(F));
  }
  template <typename F>
  static bool Masked(const F& f) {
    return !AllZero(&f, sizeof(F));
  }

  bool Pattern();
  bool L2(bool need_l2);
  bool L3L4();
  bool FullActions(const std::vector<dp::DpAction>& actions);
  void PartialActions(uint32_t mark);
  bool TtlAction(uint8_t value, uint8_t mask);

  dp::FlowKey k_;  // masked key
  const dp::FlowMask& mask_;
  const PortMap& ports_;
  Mode mode_;
  RteFlowRule* out_;
  dp::FlowMask used_;
  const OffloadPort* src_ = nullptr;
  TranslateResult result_;
  // What the pattern guarantees about every matching packet.
  uint16_t l3_type_ = 0;  // 0x0800 / 0x86dd when eth_type is matched
  uint8_t l4_proto_ = 0;  // when nw_proto is matched (and an L4 item emitted)
  int pattern_tags_ = 0;  // VLAN tags the pattern guarantees
};

bool Translator::Pattern() {
  if (mask_.in_port != 0xffffffffu) {
    return Refuse(Reason::kUnsupportedMatchField, "in_port must be matched exactly");
  }
  Use(mask_.in_port);
  src_ = ports_.Find(k_.in_port);
  if (src_ == nullptr) return Refuse(Reason::kUnknownPort, fmt::format("in_port {}", k_.in_port));
  if (mask_.recirc_id != 0 && k_.recirc_id != 0) {
    return Refuse(Reason::kUnsupportedMatchField,
                  "recirc_id (recirculated packets stay in software)");
  }
  Use(mask_.recirc_id);
  if (mode_ == Mode::kPartial && !src_->partial_ok) {
    return Refuse(Reason::kPartialDisabled, fmt::format("in_port {}", k_.in_port));
  }

  out_->mode = mode_;
  if (mode_ == Mode::kFull) {
    out_->attr.transfer = 1;
    out_->port_id = src_->proxy_port_id;
    auto* spec = out_->Alloc<rte_flow_item_ethdev>();
    auto* m = out_->Alloc<rte_flow_item_ethdev>();
    spec->port_id = src_->flow_port_id;
    m->port_id = 0xffff;
    out_->AddItem(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, spec, m);
  } else {
    out_->attr.ingress = 1;
    out_->port_id = src_->rx_port_id;
    if (src_->unified) {
      auto* spec = out_->Alloc<rte_flow_item_meta>();
      auto* m = out_->Alloc<rte_flow_item_meta>();
      spec->data = src_->flow_port_id;
      m->data = 0xffffffffu;
      out_->AddItem(RTE_FLOW_ITEM_TYPE_META, spec, m);
    }
  }

  const bool l3l4_masked = Masked(mask_.nw_src) || Masked(mask_.nw_dst) || Masked(mask_.nw_proto) ||
                           Masked(mask_.nw_frag) || Masked(mask_.nw_tos) || Masked(mask_.nw_ttl) ||
                           Masked(mask_.tp_src) || Masked(mask_.tp_dst) ||
                           Masked(mask_.tcp_flags) || Masked(mask_.ipv6_src) ||
                           Masked(mask_.ipv6_dst) || Masked(mask_.ipv6_label);
  const bool need_l2 = l3l4_masked || Masked(mask_.eth_dst) || Masked(mask_.eth_src) ||
                       Masked(mask_.eth_type) || Masked(mask_.vlan);
  if (!L2(need_l2)) return false;
  if (l3l4_masked && !L3L4()) return false;
  out_->AddItem(RTE_FLOW_ITEM_TYPE_END);

  // No widening: every megaflow mask bit must be in the pattern.
  const auto* m = reinterpret_cast<const uint8_t*>(&mask_);
  const auto* u = reinterpret_cast<const uint8_t*>(&used_);
  for (size_t i = 0; i < sizeof(dp::FlowMask); ++i) {
    if (m[i] & ~u[i]) return Refuse(Reason::kUnsupportedMatchField, FieldAt(i));
  }
  return true;
}

bool Translator::L2(bool need_l2) {
  if (!need_l2) return true;
  auto* eth = out_->Alloc<rte_flow_item_eth>();
  auto* eth_m = out_->Alloc<rte_flow_item_eth>();
  std::memcpy(&eth->hdr.dst_addr, &k_.eth_dst, 6);
  std::memcpy(&eth_m->hdr.dst_addr, &mask_.eth_dst, 6);
  std::memcpy(&eth->hdr.src_addr, &k_.eth_src, 6);
  std::memcpy(&eth_m->hdr.src_addr, &mask_.eth_src, 6);
  Use(mask_.eth_dst);
  Use(mask_.eth_src);

  const uint16_t type_mask = mask_.eth_type.host();
  if (type_mask != 0 && type_mask != 0xffff) {
    return Refuse(Reason::kUnsupportedMatchField, "eth_type (partial mask)");
  }
  const bool type_matched = type_mask == 0xffff;
  if (type_matched && k_.eth_type.host() < dp::kEthTypeMin) {
    return Refuse(Reason::kUnsupportedMatchField, "eth_type (802.3 length frames)");
  }
  if (type_matched) Use(mask_.eth_type);

  rte_flow_item_vlan* vlans[2] = {nullptr, nullptr};
  rte_flow_item_vlan* vlans_m[2] = {nullptr, nullptr};
  // Which item carries eth_type: -1 the ETH item (untagged), else that VLAN.
  int type_holder = -1;

  const uint16_t tci_mask0 = mask_.vlan[0].tci.host();
  const uint16_t tci_mask1 = mask_.vlan[1].tci.host();
  if (tci_mask0 == 0) {
    if (tci_mask1 != 0 || Masked(mask_.vlan)) {
      return Refuse(Reason::kUnsupportedMatchField, "vlan (inner tag without outer)");
    }
    if (type_matched) {
      // Software matches eth_type behind any tags; the rule only untagged
      // frames (tagged ones miss in hardware and are handled in software).
      eth->has_vlan = 0;
      eth_m->has_vlan = 1;
      result_.narrowed = true;
    }
  } else {
    for (int i = 0; i < 2; ++i) {
      const uint16_t tm = mask_.vlan[i].tci.host();
      if (tm != 0 && !(tm & dp::kVlanPresent)) {
        return Refuse(Reason::kUnsupportedMatchField, "vlan tci without the presence bit");
      }
      const uint16_t pm = mask_.vlan[i].tpid.host();
      if (pm != 0 && pm != 0xffff)
        return Refuse(Reason::kUnsupportedMatchField, "vlan tpid (partial mask)");
    }
    Use(mask_.vlan);
    const bool present0 = k_.vlan[0].tci.host() & dp::kVlanPresent;
    if (!present0) {
      if (tci_mask1 != 0 && (k_.vlan[1].tci.host() & dp::kVlanPresent)) {
        return Refuse(Reason::kUnsupportedMatchField, "vlan (inner tag on untagged)");
      }
      eth->has_vlan = 0;
      eth_m->has_vlan = 1;
    } else {
      eth->has_vlan = 1;
      eth_m->has_vlan = 1;
      pattern_tags_ = 1;
      if (mask_.vlan[0].tpid.host() == 0xffff) {
        eth->hdr.ether_type = k_.vlan[0].tpid.raw;
        eth_m->hdr.ether_type = 0xffff;
      }
      const bool present1 = tci_mask1 != 0 && (k_.vlan[1].tci.host() & dp::kVlanPresent);
      for (int i = 0; i < (present1 ? 2 : 1); ++i) {
        vlans[i] = out_->Alloc<rte_flow_item_vlan>();
        vlans_m[i] = out_->Alloc<rte_flow_item_vlan>();
        // The key's 0x1000 is "tag present", not the wire's DEI: DEI is not matched.
        const uint16_t tm = mask_.vlan[i].tci.host() & ~dp::kVlanPresent;
        vlans[i]->hdr.vlan_tci = Be16(k_.vlan[i].tci.host() & tm).raw;
        vlans_m[i]->hdr.vlan_tci = Be16(tm).raw;
      }
      if (present1) {
        pattern_tags_ = 2;
        vlans[0]->has_more_vlan = 1;
        vlans_m[0]->has_more_vlan = 1;
        if (mask_.vlan[1].tpid.host() == 0xffff) {
          vlans[0]->hdr.eth_proto = k_.vlan[1].tpid.raw;
          vlans_m[0]->hdr.eth_proto = 0xffff;
        }
        type_holder = 1;
        vlans[1]->has_more_vlan = 0;
        vlans_m[1]->has_more_vlan = 1;
      } else {
        type_holder = 0;
        if (tci_mask1 != 0 || type_matched) {
          // Megaflow says "no second tag", or looks at eth_type behind one
          // tag only: either way the rule needs exactly one tag.
          vlans[0]->has_more_vlan = 0;
          vlans_m[0]->has_more_vlan = 1;
          if (tci_mask1 == 0) result_.narrowed = true;
        }
      }
    }
  }
  if (type_matched) {
    if (type_holder < 0) {
      eth->hdr.ether_type = k_.eth_type.raw;
      eth_m->hdr.ether_type = 0xffff;
    } else {
      vlans[type_holder]->hdr.eth_proto = k_.eth_type.raw;
      vlans_m[type_holder]->hdr.eth_proto = 0xffff;
    }
    l3_type_ = k_.eth_type.host();
  }
  out_->AddItem(RTE_FLOW_ITEM_TYPE_ETH, eth, eth_m);
  for (int i = 0; i < 2; ++i) {
    if (vlans[i]) out_->AddItem(RTE_FLOW_ITEM_TYPE_VLAN, vlans[i], vlans_m[i]);
  }
  return true;
}

bool Translator::L3L4() {
  if (l3_type_ != dp::kEthTypeIpv4 && l3_type_ != dp::kEthTypeIpv6) {
    return Refuse(Reason::kUnsupportedMatchField,
                  l3_type_ == dp::kEthTypeArp || l3_type_ == dp::kEthTypeRarp
                      ? "arp fields"
                      : "l3 fields without an IPv4/IPv6 eth_type");
  }
  const uint8_t proto_mask = mask_.nw_proto;
  if (proto_mask != 0 && proto_mask != 0xff) {
    return Refuse(Reason::kUnsupportedMatchField, "nw_proto (partial mask)");
  }
  const bool proto_matched = proto_mask == 0xff;
  if (proto_matched) Use(mask_.nw_proto);
  const uint8_t frag_mask = mask_.nw_frag;
  if (frag_mask != 0) {
    // Only "not a fragment" is expressible with a mask (the others need
    // "offset != 0").
    if (k_.nw_frag != 0 || !(frag_mask & dp::kFragAny)) {
      return Refuse(Reason::kUnsupportedMatchField, "nw_frag (fragments)");
    }
    Use(mask_.nw_frag);
  }

  if (l3_type_ == dp::kEthTypeIpv4) {
    auto* s = out_->Alloc<rte_flow_item_ipv4>();
    auto* m = out_->Alloc<rte_flow_item_ipv4>();
    s->hdr.src_addr = k_.nw_src.raw;
    m->hdr.src_addr = mask_.nw_src.raw;
    s->hdr.dst_addr = k_.nw_dst.raw;
    m->hdr.dst_addr = mask_.nw_dst.raw;
    s->hdr.type_of_service = k_.nw_tos;
    m->hdr.type_of_service = mask_.nw_tos;
    s->hdr.time_to_live = k_.nw_ttl;
    m->hdr.time_to_live = mask_.nw_ttl;
    s->hdr.next_proto_id = k_.nw_proto;
    m->hdr.next_proto_id = proto_mask;
    if (frag_mask != 0) {  // MF = 0 and offset = 0
      s->hdr.fragment_offset = 0;
      m->hdr.fragment_offset = Be16(dp::kIpv4FlagMf | dp::kIpv4FragOffMask).raw;
    }
    Use(mask_.nw_src);
    Use(mask_.nw_dst);
    Use(mask_.nw_tos);
    Use(mask_.nw_ttl);
    out_->AddItem(RTE_FLOW_ITEM_TYPE_IPV4, s, m);
  } else {
    auto* s = out_->Alloc<rte_flow_item_ipv6>();
    auto* m = out_->Alloc<rte_flow_item_ipv6>();
    std::memcpy(s->hdr.src_addr, k_.ipv6_src, 16);
    std::memcpy(m->hdr.src_addr, mask_.ipv6_src, 16);
    std::memcpy(s->hdr.dst_addr, k_.ipv6_dst, 16);
    std::memcpy(m->hdr.dst_addr, mask_.ipv6_dst, 16);
    const uint32_t label = k_.ipv6_label.host() & dp::kIpv6FlowLabelMask;
    const uint32_t label_m = mask_.ipv6_label.host();
    if (label_m & ~dp::kIpv6FlowLabelMask) {
      return Refuse(Reason::kUnsupportedMatchField, "ipv6_label (bits above 20)");
    }
    s->hdr.vtc_flow = Be32(static_cast<uint32_t>(k_.nw_tos) << 20 | label).raw;
    m->hdr.vtc_flow = Be32(static_cast<uint32_t>(mask_.nw_tos) << 20 | label_m).raw;
    s->hdr.hop_limits = k_.nw_ttl;
    m->hdr.hop_limits = mask_.nw_ttl;
    if (proto_matched) {
      // The key's nw_proto is the last next-header; the item's proto the
      // first. Equal exactly for packets without extension headers.
      s->hdr.proto = k_.nw_proto;
      m->hdr.proto = 0xff;
      result_.narrowed = true;
    }
    if (frag_mask != 0) {
      s->has_frag_ext = 0;
      m->has_frag_ext = 1;
    }
    Use(mask_.ipv6_src);
    Use(mask_.ipv6_dst);
    Use(mask_.ipv6_label);
    Use(mask_.nw_tos);
    Use(mask_.nw_ttl);
    out_->AddItem(RTE_FLOW_ITEM_TYPE_IPV6, s, m);
  }

  const bool l4_masked = Masked(mask_.tp_src) || Masked(mask_.tp_dst) || Masked(mask_.tcp_flags);
  if (!proto_matched) {
    if (l4_masked) return Refuse(Reason::kUnsupportedMatchField, "l4 fields without nw_proto");
    return true;
  }
  const uint8_t proto = k_.nw_proto;
  const bool v4 = l3_type_ == dp::kEthTypeIpv4;
  if (Masked(mask_.tcp_flags) && proto != dp::kIpProtoTcp) {
    return Refuse(Reason::kUnsupportedMatchField, "tcp_flags");
  }
  switch (proto) {
    case dp::kIpProtoTcp: {
      auto* s = out_->Alloc<rte_flow_item_tcp>();
      auto* m = out_->Alloc<rte_flow_item_tcp>();
      s->hdr.src_port = k_.tp_src.raw;
      m->hdr.src_port = mask_.tp_src.raw;
      s->hdr.dst_port = k_.tp_dst.raw;
      m->hdr.dst_port = mask_.tp_dst.raw;
      // Flags word: data offset(4) | reserved(3) NS(1) | CWR..FIN(8).
      const uint16_t f = k_.tcp_flags.host(), fm = mask_.tcp_flags.host();
      if (fm & ~dp::kTcpFlagsMask) return Refuse(Reason::kUnsupportedMatchField, "tcp_flags");
      s->hdr.tcp_flags = static_cast<uint8_t>(f);
      m->hdr.tcp_flags = static_cast<uint8_t>(fm);
      s->hdr.data_off = static_cast<uint8_t>(f >> 8);
      m->hdr.data_off = static_cast<uint8_t>(fm >> 8);
      Use(mask_.tp_src);
      Use(mask_.tp_dst);
      Use(mask_.tcp_flags);
      out_->AddItem(RTE_FLOW_ITEM_TYPE_TCP, s, m);
      break;
    }
    case dp::kIpProtoUdp: {
      auto* s = out_->Alloc<rte_flow_item_udp>();
      auto* m = out_->Alloc<rte_flow_item_udp>();
      s->hdr.src_port = k_.tp_src.raw;
      m->hdr.src_port = mask_.tp_src.raw;
      s->hdr.dst_port = k_.tp_dst.raw;
      m->hdr.dst_port = mask_.tp_dst.raw;
      Use(mask_.tp_src);
      Use(mask_.tp_dst);
      out_->AddItem(RTE_FLOW_ITEM_TYPE_UDP, s, m);
      break;
    }
    case dp::kIpProtoSctp: {
      auto* s = out_->Alloc<rte_flow_item_sctp>();
      auto* m = out_->Alloc<rte_flow_item_sctp>();
      s->hdr.src_port = k_.tp_src.raw;
      m->hdr.src_port = mask_.tp_src.raw;
      s->hdr.dst_port = k_.tp_dst.raw;
      m->hdr.dst_port = mask_.tp_dst.raw;
      Use(mask_.tp_src);
      Use(mask_.tp_dst);
      out_->AddItem(RTE_FLOW_ITEM_TYPE_SCTP, s, m);
      break;
    }
    case dp::kIpProtoIcmp:
    case dp::kIpProtoIcmpv6: {
      if ((proto == dp::kIpProtoIcmp) != v4) {
        return Refuse(Reason::kUnsupportedMatchField, "icmp over the other IP version");
      }
      // Type and code sit in the low byte of tp_src/tp_dst.
      if ((k_.tp_src.host() | k_.tp_dst.host()) & 0xff00) {
        return Refuse(Reason::kUnsupportedMatchField, "icmp type/code above 255");
      }
      const auto type = static_cast<uint8_t>(k_.tp_src.host());
      const auto type_m = static_cast<uint8_t>(mask_.tp_src.host());
      const auto code = static_cast<uint8_t>(k_.tp_dst.host());
      const auto code_m = static_cast<uint8_t>(mask_.tp_dst.host());
      if (v4) {
        auto* s = out_->Alloc<rte_flow_item_icmp>();
        auto* m = out_->Alloc<rte_flow_item_icmp>();
        s->hdr.icmp_type = type;
        m->hdr.icmp_type = type_m;
        s->hdr.icmp_code = code;
        m->hdr.icmp_code = code_m;
        out_->AddItem(RTE_FLOW_ITEM_TYPE_ICMP, s, m);
      } else {
        auto* s = out_->Alloc<rte_flow_item_icmp6>();
        auto* m = out_->Alloc<rte_flow_item_icmp6>();
        s->type = type;
        m->type = type_m;
        s->code = code;
        m->code = code_m;
        out_->AddItem(RTE_FLOW_ITEM_TYPE_ICMP6, s, m);
      }
      Use(mask_.tp_src);
      Use(mask_.tp_dst);
      break;
    }
    default:
      if (l4_masked) return Refuse(Reason::kUnsupportedMatchField, "l4 fields of this protocol");
      return true;  // the L3 item's protocol field is enough
  }
  l4_proto_ = proto;
  return true;
}

bool Translator::TtlAction(uint8_t value, uint8_t mask) {
  if (mask == 0) return true;
  if (mask != 0xff) return Refuse(Reason::kUnsupportedAction, "set ttl (partial mask)");
  // A TTL set to the matched TTL minus one is what dec_ttl compiles to.
  if (mask_.nw_ttl == 0xff && k_.nw_ttl != 0 && value == static_cast<uint8_t>(k_.nw_ttl - 1)) {
    out_->AddAction(RTE_FLOW_ACTION_TYPE_DEC_TTL);
  } else {
    out_->AddAction<rte_flow_action_set_ttl>(RTE_FLOW_ACTION_TYPE_SET_TTL)->ttl_value = value;
  }
  return true;
}

bool Translator::FullActions(const std::vector<dp::DpAction>& actions) {
  using T = dp::DpActionType;
  out_->AddAction<rte_flow_action_count>(RTE_FLOW_ACTION_TYPE_COUNT);
  // Actions after the last output change nothing anyone sees.
  size_t end = 0;
  for (size_t i = 0; i < actions.size(); ++i) {
    const T t = actions[i].type;
    if (t == T::kOutput) end = i + 1;
    if (t == T::kUserspace || t == T::kRecirc || t == T::kMeter) {
      return Refuse(Reason::kUnsupportedAction, t == T::kUserspace ? "userspace"
                                                : t == T::kRecirc  ? "recirc"
                                                                   : "meter");
    }
  }
  int tags = pattern_tags_;  // tags every matching packet has, as actions run
  for (size_t i = 0; i < end; ++i) {
    const dp::DpAction& a = actions[i];
    switch (a.type) {
      case T::kOutput: {
        const OffloadPort* p = ports_.Find(a.port);
        if (p == nullptr || p->domain_id != src_->domain_id) {
          return Refuse(Reason::kCrossDomainOutput, fmt::format("output:{}", a.port));
        }
        out_->AddAction<rte_flow_action_ethdev>(RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT)->port_id =
            p->flow_port_id;
        break;
      }
      case T::kPushVlan: {
        const uint16_t tci = a.push_vlan.tci.host();
        out_->AddAction<rte_flow_action_of_push_vlan>(RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN)
            ->ethertype = a.push_vlan.tpid.raw;
        out_->AddAction<rte_flow_action_of_set_vlan_vid>(RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID)
            ->vlan_vid = Be16(tci & dp::kVlanVidMask).raw;
        out_->AddAction<rte_flow_action_of_set_vlan_pcp>(RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP)
            ->vlan_pcp = static_cast<uint8_t>(tci >> dp::kVlanPcpShift);
        ++tags;
        break;
      }
      case T::kPopVlan:
        // Software pops only when there is a tag; hardware must be sure of it.
        if (tags <= 0) return Refuse(Reason::kUnsupportedAction, "pop_vlan without a matched tag");
        out_->AddAction(RTE_FLOW_ACTION_TYPE_OF_POP_VLAN);
        --tags;
        break;
      case T::kSetEth: {
        const struct {
          const dp::EthAddr& v;
          const dp::EthAddr& m;
          rte_flow_action_type type;
        } fields[] = {{a.eth.src, a.eth.src_mask, RTE_FLOW_ACTION_TYPE_SET_MAC_SRC},
                      {a.eth.dst, a.eth.dst_mask, RTE_FLOW_ACTION_TYPE_SET_MAC_DST}};
        for (const auto& f : fields) {
          if (AllZero(&f.m, 6)) continue;
          if (!AllOnes(&f.m, 6))
            return Refuse(Reason::kUnsupportedAction, "set eth (partial mask)");
          std::memcpy(out_->AddAction<rte_flow_action_set_mac>(f.type)->mac_addr, &f.v, 6);
        }
        break;
      }
      case T::kSetIpv4: {
        if (l3_type_ != dp::kEthTypeIpv4) {
          return Refuse(Reason::kUnsupportedAction, "set ipv4 without an ipv4 match");
        }
        const auto& s = a.ipv4;
        const struct {
          be32 v, m;
          rte_flow_action_type type;
        } addrs[] = {{s.src, s.src_mask, RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC},
                     {s.dst, s.dst_mask, RTE_FLOW_ACTION_TYPE_SET_IPV4_DST}};
        for (const auto& f : addrs) {
          if (!f.m) continue;
          if (f.m.raw != 0xffffffffu)
            return Refuse(Reason::kUnsupportedAction, "set ipv4 address (partial mask)");
          out_->AddAction<rte_flow_action_set_ipv4>(f.type)->ipv4_addr = f.v.raw;
        }
        if (s.tos_mask != 0) {
          if (s.tos_mask != 0xfc)
            return Refuse(Reason::kUnsupportedAction, "set ipv4 tos (ECN bits)");
          out_->AddAction<rte_flow_action_set_dscp>(RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP)->dscp =
              static_cast<uint8_t>(s.tos >> 2);
        }
        if (!TtlAction(s.ttl, s.ttl_mask)) return false;
        break;
      }
      case T::kSetIpv6: {
        if (l3_type_ != dp::kEthTypeIpv6) {
          return Refuse(Reason::kUnsupportedAction, "set ipv6 without an ipv6 match");
        }
        const auto& s = a.ipv6;
        if (s.label_mask) return Refuse(Reason::kUnsupportedAction, "set ipv6 flow label");
        const struct {
          const uint8_t* v;
          const uint8_t* m;
          rte_flow_action_type type;
        } addrs[] = {{s.src, s.src_mask, RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC},
                     {s.dst, s.dst_mask, RTE_FLOW_ACTION_TYPE_SET_IPV6_DST}};
        for (const auto& f : addrs) {
          if (AllZero(f.m, 16)) continue;
          if (!AllOnes(f.m, 16))
            return Refuse(Reason::kUnsupportedAction, "set ipv6 address (partial mask)");
          std::memcpy(out_->AddAction<rte_flow_action_set_ipv6>(f.type)->ipv6_addr, f.v, 16);
        }
        if (s.tclass_mask != 0) {
          if (s.tclass_mask != 0xfc)
            return Refuse(Reason::kUnsupportedAction, "set ipv6 tclass (ECN bits)");
          out_->AddAction<rte_flow_action_set_dscp>(RTE_FLOW_ACTION_TYPE_SET_IPV6_DSCP)->dscp =
              static_cast<uint8_t>(s.tclass >> 2);
        }
        if (!TtlAction(s.hlimit, s.hlimit_mask)) return false;
        break;
      }
      case T::kSetTcp:
      case T::kSetUdp: {
        const uint8_t want = a.type == T::kSetTcp ? dp::kIpProtoTcp : dp::kIpProtoUdp;
        if (l4_proto_ != want) {
          return Refuse(Reason::kUnsupportedAction, "set l4 ports without a matching l4 protocol");
        }
        const struct {
          be16 v, m;
          rte_flow_action_type type;
        } ports[] = {{a.l4.src, a.l4.src_mask, RTE_FLOW_ACTION_TYPE_SET_TP_SRC},
                     {a.l4.dst, a.l4.dst_mask, RTE_FLOW_ACTION_TYPE_SET_TP_DST}};
        for (const auto& f : ports) {
          if (!f.m) continue;
          if (f.m.raw != 0xffff)
            return Refuse(Reason::kUnsupportedAction, "set l4 port (partial mask)");
          out_->AddAction<rte_flow_action_set_tp>(f.type)->port = f.v.raw;
        }
        break;
      }
      case T::kSetSctp:
        return Refuse(Reason::kUnsupportedAction, "set sctp");
      case T::kSetArp:
        return Refuse(Reason::kUnsupportedAction, "set arp");
      case T::kSetIcmp:
      case T::kSetIcmpv6:
        return Refuse(Reason::kUnsupportedAction, "set icmp");
      case T::kSetNd:
        return Refuse(Reason::kUnsupportedAction, "set nd");
      case T::kUserspace:
      case T::kRecirc:
      case T::kMeter:
        break;  // refused above
    }
  }
  if (end == 0) out_->AddAction(RTE_FLOW_ACTION_TYPE_DROP);
  return true;
}

void Translator::PartialActions(uint32_t mark) {
  out_->AddAction<rte_flow_action_count>(RTE_FLOW_ACTION_TYPE_COUNT);
  out_->AddAction<rte_flow_action_mark>(RTE_FLOW_ACTION_TYPE_MARK)->id = mark;
  if (src_->n_rxq <= 1) {
    out_->AddAction<rte_flow_action_queue>(RTE_FLOW_ACTION_TYPE_QUEUE)->index = 0;
    return;
  }
  auto* rss = out_->AddAction<rte_flow_action_rss>(RTE_FLOW_ACTION_TYPE_RSS);
  auto* queues = static_cast<uint16_t*>(out_->AllocBytes(sizeof(uint16_t) * src_->n_rxq));
  for (uint16_t q = 0; q < src_->n_rxq; ++q) queues[q] = q;
  rss->func = RTE_ETH_HASH_FUNCTION_DEFAULT;
  rss->queue_num = src_->n_rxq;
  rss->queue = queues;
}

}  // namespace

const char* ReasonName(Reason r) {
  return r < Reason::kCount ? kReasonNames[static_cast<int>(r)] : "?";
}
const char* ReasonText(Reason r) {
  return r < Reason::kCount ? kReasonTexts[static_cast<int>(r)] : "?";
}
const char* ModeName(Mode m) { return m == Mode::kFull ? "full" : "partial"; }

void RteFlowRule::Clear() {
  storage_.clear();
  items_.clear();
  actions_.clear();
  attr = rte_flow_attr{};
  port_id = 0;
}

int ItemSpecSize(rte_flow_item_type t) {
  switch (t) {
    case RTE_FLOW_ITEM_TYPE_END:
    case RTE_FLOW_ITEM_TYPE_VOID:
      return 0;
    case RTE_FLOW_ITEM_TYPE_ETH:
      return sizeof(rte_flow_item_eth);
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return sizeof(rte_flow_item_vlan);
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return sizeof(rte_flow_item_ipv4);
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return sizeof(rte_flow_item_ipv6);
    case RTE_FLOW_ITEM_TYPE_TCP:
      return sizeof(rte_flow_item_tcp);
    case RTE_FLOW_ITEM_TYPE_UDP:
      return sizeof(rte_flow_item_udp);
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return sizeof(rte_flow_item_sctp);
    case RTE_FLOW_ITEM_TYPE_ICMP:
      return sizeof(rte_flow_item_icmp);
    case RTE_FLOW_ITEM_TYPE_ICMP6:
      return sizeof(rte_flow_item_icmp6);
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR:
      return sizeof(rte_flow_item_ethdev);
    case RTE_FLOW_ITEM_TYPE_PORT_ID:
      return sizeof(rte_flow_item_port_id);
    case RTE_FLOW_ITEM_TYPE_META:
      return sizeof(rte_flow_item_meta);
    case RTE_FLOW_ITEM_TYPE_ARP_ETH_IPV4:
      return sizeof(rte_flow_item_arp_eth_ipv4);
    default:
      return -1;
  }
}

int ActionConfSize(rte_flow_action_type t) {
  switch (t) {
    case RTE_FLOW_ACTION_TYPE_END:
    case RTE_FLOW_ACTION_TYPE_VOID:
    case RTE_FLOW_ACTION_TYPE_DROP:
    case RTE_FLOW_ACTION_TYPE_FLAG:
    case RTE_FLOW_ACTION_TYPE_OF_POP_VLAN:
    case RTE_FLOW_ACTION_TYPE_DEC_TTL:
      return 0;
    case RTE_FLOW_ACTION_TYPE_COUNT:
      return sizeof(rte_flow_action_count);
    case RTE_FLOW_ACTION_TYPE_MARK:
      return sizeof(rte_flow_action_mark);
    case RTE_FLOW_ACTION_TYPE_QUEUE:
      return sizeof(rte_flow_action_queue);
    case RTE_FLOW_ACTION_TYPE_RSS:
      return sizeof(rte_flow_action_rss);
    case RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN:
      return sizeof(rte_flow_action_of_push_vlan);
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID:
      return sizeof(rte_flow_action_of_set_vlan_vid);
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP:
      return sizeof(rte_flow_action_of_set_vlan_pcp);
    case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_MAC_DST:
      return sizeof(rte_flow_action_set_mac);
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DST:
      return sizeof(rte_flow_action_set_ipv4);
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DST:
      return sizeof(rte_flow_action_set_ipv6);
    case RTE_FLOW_ACTION_TYPE_SET_TP_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_TP_DST:
      return sizeof(rte_flow_action_set_tp);
    case RTE_FLOW_ACTION_TYPE_SET_TTL:
      return sizeof(rte_flow_action_set_ttl);
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP:
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DSCP:
      return sizeof(rte_flow_action_set_dscp);
    case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR:
      return sizeof(rte_flow_action_ethdev);
    case RTE_FLOW_ACTION_TYPE_PORT_ID:
      return sizeof(rte_flow_action_port_id);
    case RTE_FLOW_ACTION_TYPE_JUMP:
      return sizeof(rte_flow_action_jump);
    default:
      return -1;
  }
}

const char* ItemTypeName(rte_flow_item_type t) {
  switch (t) {
    case RTE_FLOW_ITEM_TYPE_END:
      return "end";
    case RTE_FLOW_ITEM_TYPE_VOID:
      return "void";
    case RTE_FLOW_ITEM_TYPE_ETH:
      return "eth";
    case RTE_FLOW_ITEM_TYPE_VLAN:
      return "vlan";
    case RTE_FLOW_ITEM_TYPE_IPV4:
      return "ipv4";
    case RTE_FLOW_ITEM_TYPE_IPV6:
      return "ipv6";
    case RTE_FLOW_ITEM_TYPE_TCP:
      return "tcp";
    case RTE_FLOW_ITEM_TYPE_UDP:
      return "udp";
    case RTE_FLOW_ITEM_TYPE_SCTP:
      return "sctp";
    case RTE_FLOW_ITEM_TYPE_ICMP:
      return "icmp";
    case RTE_FLOW_ITEM_TYPE_ICMP6:
      return "icmp6";
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
      return "represented_port";
    case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR:
      return "port_representor";
    case RTE_FLOW_ITEM_TYPE_PORT_ID:
      return "port_id";
    case RTE_FLOW_ITEM_TYPE_META:
      return "meta";
    case RTE_FLOW_ITEM_TYPE_ARP_ETH_IPV4:
      return "arp_eth_ipv4";
    default:
      return "unknown";
  }
}

const char* ActionTypeName(rte_flow_action_type t) {
  switch (t) {
    case RTE_FLOW_ACTION_TYPE_END:
      return "end";
    case RTE_FLOW_ACTION_TYPE_VOID:
      return "void";
    case RTE_FLOW_ACTION_TYPE_DROP:
      return "drop";
    case RTE_FLOW_ACTION_TYPE_FLAG:
      return "flag";
    case RTE_FLOW_ACTION_TYPE_COUNT:
      return "count";
    case RTE_FLOW_ACTION_TYPE_MARK:
      return "mark";
    case RTE_FLOW_ACTION_TYPE_QUEUE:
      return "queue";
    case RTE_FLOW_ACTION_TYPE_RSS:
      return "rss";
    case RTE_FLOW_ACTION_TYPE_OF_POP_VLAN:
      return "of_pop_vlan";
    case RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN:
      return "of_push_vlan";
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID:
      return "of_set_vlan_vid";
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP:
      return "of_set_vlan_pcp";
    case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
      return "set_mac_src";
    case RTE_FLOW_ACTION_TYPE_SET_MAC_DST:
      return "set_mac_dst";
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC:
      return "set_ipv4_src";
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DST:
      return "set_ipv4_dst";
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC:
      return "set_ipv6_src";
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DST:
      return "set_ipv6_dst";
    case RTE_FLOW_ACTION_TYPE_SET_TP_SRC:
      return "set_tp_src";
    case RTE_FLOW_ACTION_TYPE_SET_TP_DST:
      return "set_tp_dst";
    case RTE_FLOW_ACTION_TYPE_SET_TTL:
      return "set_ttl";
    case RTE_FLOW_ACTION_TYPE_DEC_TTL:
      return "dec_ttl";
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP:
      return "set_ipv4_dscp";
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DSCP:
      return "set_ipv6_dscp";
    case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
      return "represented_port";
    case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR:
      return "port_representor";
    case RTE_FLOW_ACTION_TYPE_PORT_ID:
      return "port_id";
    case RTE_FLOW_ACTION_TYPE_JUMP:
      return "jump";
    default:
      return "unknown";
  }
}

bool RteFlowRule::CopyFrom(uint16_t port, const rte_flow_attr& a, const rte_flow_item* items,
                           const rte_flow_action* actions) {
  Clear();
  port_id = port;
  attr = a;
  mode = a.transfer ? Mode::kFull : Mode::kPartial;
  auto dup = [this](const void* p, size_t n) -> const void* {
    if (p == nullptr) return nullptr;
    void* d = AllocBytes(n);
    std::memcpy(d, p, n);
    return d;
  };
  for (const rte_flow_item* it = items;; ++it) {
    const int n = ItemSpecSize(it->type);
    if (n < 0) return false;
    items_.push_back(rte_flow_item{it->type, dup(it->spec, n), dup(it->last, n), dup(it->mask, n)});
    if (it->type == RTE_FLOW_ITEM_TYPE_END) break;
  }
  for (const rte_flow_action* ac = actions;; ++ac) {
    const int n = ActionConfSize(ac->type);
    if (n < 0) return false;
    const void* conf = dup(ac->conf, n);
    if (ac->type == RTE_FLOW_ACTION_TYPE_RSS && conf != nullptr) {
      auto* rss = static_cast<rte_flow_action_rss*>(const_cast<void*>(conf));
      rss->queue = static_cast<const uint16_t*>(dup(rss->queue, sizeof(uint16_t) * rss->queue_num));
      rss->key = static_cast<const uint8_t*>(dup(rss->key, rss->key_len));
    }
    actions_.push_back(rte_flow_action{ac->type, conf});
    if (ac->type == RTE_FLOW_ACTION_TYPE_END) break;
  }
  return true;
}

void MaskKeyBytes(const dp::FlowKey& key, const dp::FlowMask& mask, dp::FlowKey* out) {
  auto* o = reinterpret_cast<unsigned char*>(out);
  const auto* k = reinterpret_cast<const unsigned char*>(&key);
  const auto* m = reinterpret_cast<const unsigned char*>(&mask);
  for (size_t i = 0; i < sizeof(dp::FlowKey); ++i) o[i] = k[i] & m[i];
}

TranslateResult Translate(const dp::FlowKey& key, const dp::FlowMask& mask,
                          const std::vector<dp::DpAction>& actions, const PortMap& ports, Mode mode,
                          RteFlowRule* out, uint32_t mark) {
  out->Clear();
  Translator t(key, mask, ports, mode, out);
  TranslateResult r = t.Run(actions, mark);
  if (!r.ok()) out->Clear();
  return r;
}

// --- FormatRule -------------------------------------------------------------

namespace {

std::string Hex(const void* p, size_t n, const char* sep) {
  std::string s;
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}{:02x}", i ? sep : "", b[i]);
  return s;
}
std::string Ip4(uint32_t raw) {
  const auto* b = reinterpret_cast<const uint8_t*>(&raw);
  return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
}
uint16_t H16(uint16_t raw) { return __builtin_bswap16(raw); }
uint32_t H32(uint32_t raw) { return __builtin_bswap32(raw); }

// Appends " name value/mask" when the mask is non-zero.
void FieldU(std::string* s, const char* name, uint64_t v, uint64_t m, bool hex = true) {
  if (m == 0) return;
  *s += hex ? fmt::format(" {} 0x{:x}/0x{:x}", name, v, m) : fmt::format(" {} {}/{}", name, v, m);
}
void FieldBytes(std::string* s, const char* name, const void* v, const void* m, size_t n,
                bool mac) {
  if (AllZero(m, n)) return;
  *s += fmt::format(" {} {}/{}", name, Hex(v, n, mac ? ":" : ""), Hex(m, n, mac ? ":" : ""));
}

std::string FormatItem(const rte_flow_item& it) {
  std::string s = ItemTypeName(it.type);
  if (it.spec == nullptr) return s;
  // A null mask means the item's default mask: printed as "(default mask)".
  if (it.mask == nullptr) return s + " (default mask)";
  switch (it.type) {
    case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR: {
      auto* v = static_cast<const rte_flow_item_ethdev*>(it.spec);
      auto* m = static_cast<const rte_flow_item_ethdev*>(it.mask);
      FieldU(&s, "port_id", v->port_id, m->port_id, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_META: {
      auto* v = static_cast<const rte_flow_item_meta*>(it.spec);
      auto* m = static_cast<const rte_flow_item_meta*>(it.mask);
      FieldU(&s, "data", v->data, m->data);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_ETH: {
      auto* v = static_cast<const rte_flow_item_eth*>(it.spec);
      auto* m = static_cast<const rte_flow_item_eth*>(it.mask);
      FieldBytes(&s, "dst", &v->hdr.dst_addr, &m->hdr.dst_addr, 6, true);
      FieldBytes(&s, "src", &v->hdr.src_addr, &m->hdr.src_addr, 6, true);
      FieldU(&s, "type", H16(v->hdr.ether_type), H16(m->hdr.ether_type));
      FieldU(&s, "has_vlan", v->has_vlan, m->has_vlan, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_VLAN: {
      auto* v = static_cast<const rte_flow_item_vlan*>(it.spec);
      auto* m = static_cast<const rte_flow_item_vlan*>(it.mask);
      FieldU(&s, "tci", H16(v->hdr.vlan_tci), H16(m->hdr.vlan_tci));
      FieldU(&s, "inner_type", H16(v->hdr.eth_proto), H16(m->hdr.eth_proto));
      FieldU(&s, "has_more_vlan", v->has_more_vlan, m->has_more_vlan, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_IPV4: {
      auto* v = &static_cast<const rte_flow_item_ipv4*>(it.spec)->hdr;
      auto* m = &static_cast<const rte_flow_item_ipv4*>(it.mask)->hdr;
      if (m->src_addr) s += fmt::format(" src {}/{}", Ip4(v->src_addr), Ip4(m->src_addr));
      if (m->dst_addr) s += fmt::format(" dst {}/{}", Ip4(v->dst_addr), Ip4(m->dst_addr));
      FieldU(&s, "tos", v->type_of_service, m->type_of_service);
      FieldU(&s, "fragment_offset", H16(v->fragment_offset), H16(m->fragment_offset));
      FieldU(&s, "ttl", v->time_to_live, m->time_to_live, false);
      FieldU(&s, "proto", v->next_proto_id, m->next_proto_id, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_IPV6: {
      auto* i6 = static_cast<const rte_flow_item_ipv6*>(it.spec);
      auto* i6m = static_cast<const rte_flow_item_ipv6*>(it.mask);
      FieldBytes(&s, "src", i6->hdr.src_addr, i6m->hdr.src_addr, 16, false);
      FieldBytes(&s, "dst", i6->hdr.dst_addr, i6m->hdr.dst_addr, 16, false);
      FieldU(&s, "vtc_flow", H32(i6->hdr.vtc_flow), H32(i6m->hdr.vtc_flow));
      FieldU(&s, "hop_limits", i6->hdr.hop_limits, i6m->hdr.hop_limits, false);
      FieldU(&s, "proto", i6->hdr.proto, i6m->hdr.proto, false);
      FieldU(&s, "has_frag_ext", i6->has_frag_ext, i6m->has_frag_ext, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_TCP: {
      auto* v = &static_cast<const rte_flow_item_tcp*>(it.spec)->hdr;
      auto* m = &static_cast<const rte_flow_item_tcp*>(it.mask)->hdr;
      FieldU(&s, "src", H16(v->src_port), H16(m->src_port), false);
      FieldU(&s, "dst", H16(v->dst_port), H16(m->dst_port), false);
      FieldU(&s, "data_off", v->data_off, m->data_off);
      FieldU(&s, "flags", v->tcp_flags, m->tcp_flags);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_UDP:
    case RTE_FLOW_ITEM_TYPE_SCTP: {
      // Both start with be16 source and destination ports.
      const auto* v = static_cast<const uint16_t*>(it.spec);
      const auto* m = static_cast<const uint16_t*>(it.mask);
      FieldU(&s, "src", H16(v[0]), H16(m[0]), false);
      FieldU(&s, "dst", H16(v[1]), H16(m[1]), false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_ICMP: {
      auto* v = &static_cast<const rte_flow_item_icmp*>(it.spec)->hdr;
      auto* m = &static_cast<const rte_flow_item_icmp*>(it.mask)->hdr;
      FieldU(&s, "type", v->icmp_type, m->icmp_type, false);
      FieldU(&s, "code", v->icmp_code, m->icmp_code, false);
      break;
    }
    case RTE_FLOW_ITEM_TYPE_ICMP6: {
      auto* v = static_cast<const rte_flow_item_icmp6*>(it.spec);
      auto* m = static_cast<const rte_flow_item_icmp6*>(it.mask);
      FieldU(&s, "type", v->type, m->type, false);
      FieldU(&s, "code", v->code, m->code, false);
      break;
    }
    default:
      break;
  }
  return s;
}

std::string FormatAction(const rte_flow_action& a) {
  std::string s = ActionTypeName(a.type);
  if (a.conf == nullptr) return s;
  switch (a.type) {
    case RTE_FLOW_ACTION_TYPE_MARK:
      s += fmt::format(" id {}", static_cast<const rte_flow_action_mark*>(a.conf)->id);
      break;
    case RTE_FLOW_ACTION_TYPE_QUEUE:
      s += fmt::format(" index {}", static_cast<const rte_flow_action_queue*>(a.conf)->index);
      break;
    case RTE_FLOW_ACTION_TYPE_RSS: {
      auto* r = static_cast<const rte_flow_action_rss*>(a.conf);
      s += " queues";
      for (uint32_t i = 0; i < r->queue_num; ++i) s += fmt::format(" {}", r->queue[i]);
      break;
    }
    case RTE_FLOW_ACTION_TYPE_OF_PUSH_VLAN:
      s += fmt::format(" ethertype 0x{:04x}",
                       H16(static_cast<const rte_flow_action_of_push_vlan*>(a.conf)->ethertype));
      break;
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_VID:
      s += fmt::format(" vlan_vid {}",
                       H16(static_cast<const rte_flow_action_of_set_vlan_vid*>(a.conf)->vlan_vid));
      break;
    case RTE_FLOW_ACTION_TYPE_OF_SET_VLAN_PCP:
      s += fmt::format(" vlan_pcp {}",
                       static_cast<const rte_flow_action_of_set_vlan_pcp*>(a.conf)->vlan_pcp);
      break;
    case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_MAC_DST:
      s +=
          " mac_addr " + Hex(static_cast<const rte_flow_action_set_mac*>(a.conf)->mac_addr, 6, ":");
      break;
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DST:
      s += " ipv4_addr " + Ip4(static_cast<const rte_flow_action_set_ipv4*>(a.conf)->ipv4_addr);
      break;
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DST:
      s += " ipv6_addr " +
           Hex(static_cast<const rte_flow_action_set_ipv6*>(a.conf)->ipv6_addr, 16, "");
      break;
    case RTE_FLOW_ACTION_TYPE_SET_TP_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_TP_DST:
      s += fmt::format(" port {}", H16(static_cast<const rte_flow_action_set_tp*>(a.conf)->port));
      break;
    case RTE_FLOW_ACTION_TYPE_SET_TTL:
      s += fmt::format(" ttl_value {}",
                       static_cast<const rte_flow_action_set_ttl*>(a.conf)->ttl_value);
      break;
    case RTE_FLOW_ACTION_TYPE_SET_IPV4_DSCP:
    case RTE_FLOW_ACTION_TYPE_SET_IPV6_DSCP:
      s += fmt::format(" dscp {}", static_cast<const rte_flow_action_set_dscp*>(a.conf)->dscp);
      break;
    case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
    case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR:
      s += fmt::format(" port_id {}", static_cast<const rte_flow_action_ethdev*>(a.conf)->port_id);
      break;
    default:
      break;
  }
  return s;
}

}  // namespace

std::string FormatRule(const RteFlowRule& rule) {
  std::string s = rule.attr.transfer ? "transfer" : rule.attr.ingress ? "ingress" : "egress";
  s += " pattern";
  for (const auto& it : rule.items()) {
    s += " " + FormatItem(it);
    if (it.type != RTE_FLOW_ITEM_TYPE_END) s += " /";
  }
  s += " actions";
  for (const auto& a : rule.actions()) {
    s += " " + FormatAction(a);
    if (a.type != RTE_FLOW_ACTION_TYPE_END) s += " /";
  }
  return s;
}

}  // namespace sluice::offload
