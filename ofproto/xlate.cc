#include "ofproto/xlate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "datapath/flow/flow_format.h"
#include "datapath/util/hash.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofproto {

bool XlatePort::Carries(uint16_t vlan) const {
  if (tag != 0) return vlan == tag;
  return trunks.empty() || std::find(trunks.begin(), trunks.end(), vlan) != trunks.end();
}

const XlatePort* XlateEnv::Port(uint32_t ofport) const {
  auto it = std::lower_bound(ports.begin(), ports.end(), ofport,
                             [](const XlatePort& p, uint32_t n) { return p.ofport < n; });
  return it != ports.end() && it->ofport == ofport ? &*it : nullptr;
}

const char* XlateErrorName(XlateResult::Error e) {
  switch (e) {
    case XlateResult::Error::kNone:
      return "none";
    case XlateResult::Error::kTooManyActions:
      return "too many datapath actions";
    case XlateResult::Error::kGroupTooDeep:
      return "group chain too deep";
    case XlateResult::Error::kUnsupportedSet:
      return "set-field the datapath cannot execute";
  }
  return "?";
}

namespace {

using dp::DpAction;
using dp::DpActionType;

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthArp = 0x0806;
constexpr uint8_t kIpProtoIcmp = 1, kIpProtoIcmpv6 = 58;
constexpr uint8_t kNdSolicit = 135, kNdAdvert = 136;

DpAction Blank(DpActionType t) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = t;
  return a;
}

bool Tagged(const OfFlow& f) { return f.dp.vlan[0].tci.host() & dp::kVlanPresent; }
uint16_t Vid(const OfFlow& f) { return f.dp.vlan[0].tci.host() & dp::kVlanVidMask; }

class Translator {
 public:
  Translator(const XlateEnv& env, const OfFlow& flow, XlateResult* out)
      : env_(env), flow_(flow), base_(flow), out_(out) {
    out_->actions.clear();
    out_->rules.clear();
    out_->groups.clear();
    out_->error = XlateResult::Error::kNone;
    out_->wc.Clear();
    out_->wc.dp.in_port = 0xffffffff;
    out_->wc.dp.recirc_id = 0xffffffff;
  }

  void RunList(const OfActionList& actions) {
    DoActions(actions, 0);
    if (Failed()) out_->actions.clear();
  }

  void Run() {
    RunPipeline(0);
    if (!Failed() && !action_set_.empty()) {
      if (out_->trace) Trace("action set: {}", FormatOfActions(action_set_.ActionSetOrder()));
      DoActions(action_set_.ActionSetOrder(), 0);
    }
    if (Failed()) {
      Trace("translation failed ({}): dropping", XlateErrorName(out_->error));
      out_->actions.clear();
    }
  }

 private:
  template <typename... Args>
  void Trace(fmt::format_string<Args...> f, Args&&... args) {
    if (out_->trace) {
      std::string line(static_cast<size_t>(indent_) * 2, ' ');
      line += fmt::format(f, std::forward<Args>(args)...);
      out_->trace->push_back(std::move(line));
    }
  }
  bool Failed() const { return out_->error != XlateResult::Error::kNone; }
  void Fail(XlateResult::Error e) {
    if (!Failed()) out_->error = e;
  }

  // Exact-matches a field in the megaflow mask.
  void Unwildcard(FieldId id) { SetFieldMask(&out_->wc, id, FieldValue::AllOnes(id)); }

  void RunPipeline(uint8_t table) {
    for (;;) {
      if (Failed()) return;
      const OfRule* rule = env_.tables->Lookup(table, flow_, &out_->wc);
      if (!rule) {
        Trace("table {}: no match (table miss){}", table,
              env_.miss_to_controller ? ": to the controller" : ": drop");
        if (env_.miss_to_controller) Controller(PacketInReason::kNoMatch, table, 0, 128);
        return;
      }
      out_->rules.push_back(std::const_pointer_cast<OfRule>(rule->shared_from_this()));
      if (out_->trace) {  // the formatting is costly: only when tracing
        Trace("table {}: priority {} {} cookie {:#x} -> {}", table, rule->priority(),
              dp::FormatMatch(rule->match().value.dp, rule->match().mask.dp), rule->cookie,
              FormatOfInstructions(rule->insts));
      }
      current_cookie_ = rule->cookie;
      current_table_ = table;
      ++indent_;
      const Instructions& in = rule->insts;
      // The meter instruction meters (and may drop or remark) the packets
      // before anything of this rule's actions happens to them; the datapath
      // enforces it (pmd/meter.h). Packets already output by earlier tables
      // are not metered.
      if (in.meter) {
        Emit(DpAction::Meter(*in.meter));
        if (out_->trace) Trace("meter:{}", *in.meter);
      }
      if (in.has_apply) DoActions(in.apply, 0);
      if (in.clear_actions) action_set_.Clear();
      if (in.write) action_set_.Write(*in.write);
      if (in.has_write_metadata) {
        flow_.metadata = (flow_.metadata & ~in.metadata_mask) | (in.metadata & in.metadata_mask);
      }
      --indent_;
      if (!in.goto_table) return;
      table = *in.goto_table;
    }
  }

  void DoActions(const OfActionList& actions, int group_depth) {
    for (const OfAction& a : actions) {
      if (Failed()) return;
      switch (a.type) {
        case OfActionType::kOutput:
          Output(a.port, a.max_len);
          break;
        case OfActionType::kGroup:
          Group(a.group_id, group_depth + 1);
          break;
        case OfActionType::kSetField:
          SetField(&flow_, a.field, a.value);
          Unwildcard(a.field);
          if (out_->trace) Trace("{}", FormatOfActions({a}));
          break;
        case OfActionType::kPushVlan: {
          out_->wc.dp.vlan[0].tci = Be16(0xffff);
          out_->wc.dp.vlan[0].tpid = Be16(0xffff);
          uint16_t tci = Tagged(flow_) ? flow_.dp.vlan[0].tci.host() : 0;
          flow_.dp.vlan[1] = flow_.dp.vlan[0];
          flow_.dp.vlan[0].tpid = Be16(a.ethertype);
          flow_.dp.vlan[0].tci = Be16(static_cast<uint16_t>(tci | dp::kVlanPresent));
          break;
        }
        case OfActionType::kPopVlan:
          out_->wc.dp.vlan[0].tci = Be16(0xffff);
          out_->wc.dp.vlan[0].tpid = Be16(0xffff);
          if (Tagged(flow_)) {
            flow_.dp.vlan[0] = flow_.dp.vlan[1];
            flow_.dp.vlan[1] = dp::VlanHdr{};
          }
          break;
        case OfActionType::kDecTtl: {
          Unwildcard(FieldId::kEthType);
          uint16_t t = flow_.dp.eth_type.host();
          if (t != kEthIpv4 && t != kEthIpv6) break;
          Unwildcard(FieldId::kIpTtl);
          if (flow_.dp.nw_ttl <= 1) {
            Trace("dec_ttl: TTL {} expires: to the controller", flow_.dp.nw_ttl);
            Controller(PacketInReason::kInvalidTtl, current_table_, current_cookie_, 128);
            stop_list_ = true;
            break;
          }
          flow_.dp.nw_ttl--;
          break;
        }
        case OfActionType::kSetQueue:
          break;  // one queue per port: nothing to select
      }
      if (stop_list_) {
        stop_list_ = false;
        return;
      }
    }
  }

  void Output(uint32_t port, uint16_t max_len) {
    uint32_t in_port = flow_.dp.in_port;
    switch (port) {
      case kPortInPort:
        OutputDp(in_port);
        return;
      case kPortNormal:
        Normal();
        return;
      case kPortFlood:
      case kPortAll:
        Trace("{}", port == kPortFlood ? "flood" : "all");
        for (const auto& p : env_.ports) {
          if (p.ofport != in_port && p.live) OutputDp(p.ofport);
        }
        return;
      case kPortController:
        Controller(PacketInReason::kAction, current_table_, current_cookie_, max_len);
        return;
      case kPortLocal:
        if (env_.local_port) OutputDp(env_.local_port);
        return;
      case kPortTable:
        Trace("output:TABLE: back to table 0");
        RunPipeline(0);
        return;
      default:
        break;
    }
    if (port == in_port) {
      Trace("output:{} skipped: it is the input port (use IN_PORT)", port);
      return;
    }
    if (!env_.Port(port)) {
      Trace("output:{} skipped: no such port", port);
      return;
    }
    OutputDp(port);
  }

  void OutputDp(uint32_t dp_port) {
    Commit();
    Trace("output to port {}", dp_port);
    Emit(DpAction::Output(dp_port));
  }

  void Controller(PacketInReason reason, uint8_t table, uint64_t cookie, uint16_t max_len) {
    Commit();
    ControllerRequest req{reason, table, max_len, cookie, flow_.metadata};
    uint64_t c = env_.controller_cookie ? env_.controller_cookie(req) : 0;
    Trace("to the controller (reason {}, table {}, max_len {})", static_cast<int>(reason), table,
          max_len);
    Emit(DpAction::ToUserspace(c));
  }

  // NORMAL: L2 learning switch with access/trunk VLANs.
  void Normal() {
    uint32_t in = flow_.dp.in_port;
    const XlatePort* inp = env_.Port(in);
    out_->wc.dp.vlan[0].tci = out_->wc.dp.vlan[0].tci | Be16(dp::kVlanPresent | dp::kVlanVidMask);
    if (!inp) {
      Trace("NORMAL: input port {} unknown: drop", in);
      return;
    }
    uint16_t vlan;
    if (inp->tag) {
      if (Tagged(flow_)) {
        Trace("NORMAL: tagged packet on access port {}: drop", in);
        return;
      }
      vlan = inp->tag;
    } else {
      vlan = Tagged(flow_) ? Vid(flow_) : 0;
      if (!inp->Carries(vlan)) {
        Trace("NORMAL: port {} does not carry VLAN {}: drop", in, vlan);
        return;
      }
    }
    Unwildcard(FieldId::kEthSrc);
    Unwildcard(FieldId::kEthDst);
    const dp::EthAddr& src = flow_.dp.eth_src;
    const dp::EthAddr& dst = flow_.dp.eth_dst;
    if (env_.mac && env_.learn && !(src.b[0] & 1)) {
      LearnResult r = env_.mac->Learn(src, vlan, in, env_.now_ms);
      if (r == LearnResult::kNew || r == LearnResult::kMoved) out_->learned = true;
    }
    std::optional<uint32_t> port;
    if (env_.mac && !(dst.b[0] & 1)) port = env_.mac->Lookup(dst, vlan, env_.now_ms);
    if (port) {
      const XlatePort* outp = env_.Port(*port);
      if (*port == in || !outp || !outp->live) {
        Trace("NORMAL: learned port {} for destination is {}: drop", *port,
              *port == in ? "the input port" : "unavailable");
        return;
      }
      Trace("NORMAL: VLAN {} destination learned on port {}", vlan, *port);
      OutputVlan(*outp, vlan);
      return;
    }
    Trace("NORMAL: VLAN {} flood", vlan);
    for (const auto& p : env_.ports) {
      if (p.ofport != in && p.live && p.Carries(vlan)) OutputVlan(p, vlan);
    }
  }

  // Outputs with the tagging `out` wants for `vlan`, then restores the flow.
  void OutputVlan(const XlatePort& out, uint16_t vlan) {
    dp::VlanHdr saved0 = flow_.dp.vlan[0], saved1 = flow_.dp.vlan[1];
    bool want_tag = out.tag == 0 && vlan != 0;
    if (!want_tag && Tagged(flow_)) {
      flow_.dp.vlan[0] = flow_.dp.vlan[1];
      flow_.dp.vlan[1] = dp::VlanHdr{};
    } else if (want_tag && !Tagged(flow_)) {
      flow_.dp.vlan[1] = flow_.dp.vlan[0];
      flow_.dp.vlan[0].tpid = Be16(0x8100);
      flow_.dp.vlan[0].tci = Be16(static_cast<uint16_t>(dp::kVlanPresent | vlan));
    }
    OutputDp(out.ofport);
    flow_.dp.vlan[0] = saved0;
    flow_.dp.vlan[1] = saved1;
  }

  void Group(uint32_t id, int depth) {
    if (depth > kMaxGroupDepth) {
      Fail(XlateResult::Error::kGroupTooDeep);
      return;
    }
    const ofproto::Group* g = env_.groups ? env_.groups->Find(id) : nullptr;
    if (!g) {
      Trace("group {}: no such group: drop", id);
      return;
    }
    size_t slot = out_->groups.size();
    out_->groups.emplace_back(id, -1);
    Trace("group {} ({} buckets)", id, g->buckets.size());
    ++indent_;
    switch (g->type) {
      case GroupType::kAll:
        out_->groups[slot].second = -2;  // every bucket
        for (const auto& b : g->buckets) Bucket(b, depth);
        break;
      case GroupType::kIndirect:
        if (!g->buckets.empty()) {
          out_->groups[slot].second = 0;
          Bucket(g->buckets[0], depth);
        }
        break;
      case GroupType::kSelect: {
        uint64_t total = 0;
        for (const auto& b : g->buckets) total += b.weight;
        if (total == 0) break;
        uint64_t pick = SelectHash() % total;
        for (size_t bi = 0; bi < g->buckets.size(); ++bi) {
          const auto& b = g->buckets[bi];
          if (pick < b.weight) {
            out_->groups[slot].second = static_cast<int>(bi);
            Bucket(b, depth);
            break;
          }
          pick -= b.weight;
        }
        break;
      }
      case GroupType::kFastFailover:
        for (size_t bi = 0; bi < g->buckets.size(); ++bi) {
          const auto& b = g->buckets[bi];
          const XlatePort* p = b.watch_port == kPortAny ? nullptr : env_.Port(b.watch_port);
          bool live = b.watch_port == kPortAny ? true : (p && p->live);
          if (live) {
            out_->groups[slot].second = static_cast<int>(bi);
            Bucket(b, depth);
            break;
          }
        }
        break;
    }
    --indent_;
  }

  // Each bucket acts on its own copy of the packet's (working) flow.
  void Bucket(const ofproto::Bucket& b, int depth) {
    OfFlow saved = flow_;
    DoActions(b.actions, depth);
    flow_ = saved;
  }

  // The hash behind select groups: Ethernet addresses and type, VLAN, IP
  // addresses and protocol, L4 ports. Those fields become exact.
  uint32_t SelectHash() {
    static const FieldId kFields[] = {FieldId::kEthSrc,  FieldId::kEthDst,  FieldId::kEthType,
                                      FieldId::kVlanVid, FieldId::kIpProto, FieldId::kIpv4Src,
                                      FieldId::kIpv4Dst, FieldId::kIpv6Src, FieldId::kIpv6Dst,
                                      FieldId::kTcpSrc,  FieldId::kTcpDst};
    OfMask m;
    m.Clear();
    for (FieldId f : kFields) {
      SetFieldMask(&m, f, FieldValue::AllOnes(f));
      Unwildcard(f);
    }
    OfFlow h;
    MaskFlow(flow_, m, &h);
    return HashWords(h.words(), kOfFlowWords, 0x5e1ec7);
  }

  void Emit(const DpAction& a) {
    if (out_->actions.size() >= kMaxDpActions) {
      Fail(XlateResult::Error::kTooManyActions);
      return;
    }
    out_->actions.push_back(a);
  }

  // Emits datapath actions that turn the packet as the datapath has it
  // (base_) into the working flow (flow_).
  void Commit() {
    dp::FlowKey& f = flow_.dp;
    dp::FlowKey& b = base_.dp;
    if (f == b) return;
    // Which set actions are emitted depends on the packet's type and
    // protocol, and a pushed tag carries the working tag whole.
    Unwildcard(FieldId::kEthType);
    Unwildcard(FieldId::kIpProto);
    if (!(f.vlan[0].tci == b.vlan[0].tci) || !(f.vlan[0].tpid == b.vlan[0].tpid)) {
      out_->wc.dp.vlan[0].tci = Be16(0xffff);
      out_->wc.dp.vlan[0].tpid = Be16(0xffff);
    }
    // VLAN (outer tag).
    bool bt = b.vlan[0].tci.host() & dp::kVlanPresent, ft = f.vlan[0].tci.host() & dp::kVlanPresent;
    if (bt && (!ft || b.vlan[0].tci != f.vlan[0].tci || b.vlan[0].tpid != f.vlan[0].tpid)) {
      Emit(DpAction::Pop());
      b.vlan[0] = b.vlan[1];
      b.vlan[1] = dp::VlanHdr{};
      bt = false;
    }
    if (!bt && ft) {
      Emit(DpAction::Push(f.vlan[0].tpid, f.vlan[0].tci));
      b.vlan[1] = b.vlan[0];
      b.vlan[0] = f.vlan[0];
    }
    // Ethernet addresses.
    if (!(f.eth_src == b.eth_src) || !(f.eth_dst == b.eth_dst)) {
      DpAction a = Blank(DpActionType::kSetEth);
      a.eth.src = f.eth_src;
      a.eth.dst = f.eth_dst;
      if (!(f.eth_src == b.eth_src)) std::memset(a.eth.src_mask.b, 0xff, 6);
      if (!(f.eth_dst == b.eth_dst)) std::memset(a.eth.dst_mask.b, 0xff, 6);
      Emit(a);
    }
    uint16_t type = f.eth_type.host();
    if (type == kEthArp) {
      // The key keeps the opcode's low byte (nw_proto); the action writes
      // the whole 16-bit field, as a packet parsed to that key has it.
      const bool op = f.nw_proto != b.nw_proto;
      const bool sha = !(f.arp_sha == b.arp_sha), tha = !(f.arp_tha == b.arp_tha);
      if (op || f.nw_src != b.nw_src || f.nw_dst != b.nw_dst || sha || tha) {
        DpAction a = Blank(DpActionType::kSetArp);
        a.arp.op = Be16(f.nw_proto);
        a.arp.spa = f.nw_src;
        a.arp.tpa = f.nw_dst;
        a.arp.sha = f.arp_sha;
        a.arp.tha = f.arp_tha;
        if (op) a.arp.op_mask = Be16(0xffff);
        if (f.nw_src != b.nw_src) a.arp.spa_mask = Be32(0xffffffff);
        if (f.nw_dst != b.nw_dst) a.arp.tpa_mask = Be32(0xffffffff);
        if (sha) std::memset(a.arp.sha_mask.b, 0xff, 6);
        if (tha) std::memset(a.arp.tha_mask.b, 0xff, 6);
        Emit(a);
      }
    } else if (type == kEthIpv4) {
      if (f.nw_src != b.nw_src || f.nw_dst != b.nw_dst || f.nw_tos != b.nw_tos ||
          f.nw_ttl != b.nw_ttl) {
        DpAction a = Blank(DpActionType::kSetIpv4);
        a.ipv4.src = f.nw_src;
        a.ipv4.dst = f.nw_dst;
        a.ipv4.tos = f.nw_tos;
        a.ipv4.ttl = f.nw_ttl;
        if (f.nw_src != b.nw_src) a.ipv4.src_mask = Be32(0xffffffff);
        if (f.nw_dst != b.nw_dst) a.ipv4.dst_mask = Be32(0xffffffff);
        if (f.nw_tos != b.nw_tos) a.ipv4.tos_mask = 0xff;
        if (f.nw_ttl != b.nw_ttl) a.ipv4.ttl_mask = 0xff;
        Emit(a);
      }
    } else if (type == kEthIpv6) {
      bool src = std::memcmp(f.ipv6_src, b.ipv6_src, 16) != 0;
      bool dst = std::memcmp(f.ipv6_dst, b.ipv6_dst, 16) != 0;
      if (src || dst || f.ipv6_label != b.ipv6_label || f.nw_tos != b.nw_tos ||
          f.nw_ttl != b.nw_ttl) {
        DpAction a = Blank(DpActionType::kSetIpv6);
        std::memcpy(a.ipv6.src, f.ipv6_src, 16);
        std::memcpy(a.ipv6.dst, f.ipv6_dst, 16);
        if (src) std::memset(a.ipv6.src_mask, 0xff, 16);
        if (dst) std::memset(a.ipv6.dst_mask, 0xff, 16);
        a.ipv6.label = f.ipv6_label;
        if (f.ipv6_label != b.ipv6_label) a.ipv6.label_mask = Be32(0x000fffff);
        a.ipv6.tclass = f.nw_tos;
        if (f.nw_tos != b.nw_tos) a.ipv6.tclass_mask = 0xff;
        a.ipv6.hlimit = f.nw_ttl;
        if (f.nw_ttl != b.nw_ttl) a.ipv6.hlimit_mask = 0xff;
        Emit(a);
      }
    }
    if ((type == kEthIpv4 || type == kEthIpv6) && (f.tp_src != b.tp_src || f.tp_dst != b.tp_dst)) {
      DpActionType t;
      switch (f.nw_proto) {
        case 6:
          t = DpActionType::kSetTcp;
          break;
        case 17:
          t = DpActionType::kSetUdp;
          break;
        case 132:
          t = DpActionType::kSetSctp;
          break;
        // ICMP type and code live in tp_src/tp_dst, for the pairings the
        // parser reads them from (ICMP over IPv4, ICMPv6 over IPv6).
        case kIpProtoIcmp:
          t = type == kEthIpv4 ? DpActionType::kSetIcmp : DpActionType::kOutput;
          break;
        case kIpProtoIcmpv6:
          t = type == kEthIpv6 ? DpActionType::kSetIcmpv6 : DpActionType::kOutput;
          break;
        default:
          t = DpActionType::kOutput;
          break;
      }
      if (t == DpActionType::kOutput) {
        Fail(XlateResult::Error::kUnsupportedSet);
        return;
      }
      DpAction a = Blank(t);
      if (t == DpActionType::kSetIcmp || t == DpActionType::kSetIcmpv6) {
        // Type and code are one byte each, the low byte of tp_src/tp_dst.
        a.icmp.type = static_cast<uint8_t>(f.tp_src.host());
        a.icmp.code = static_cast<uint8_t>(f.tp_dst.host());
        if (f.tp_src != b.tp_src) a.icmp.type_mask = 0xff;
        if (f.tp_dst != b.tp_dst) a.icmp.code_mask = 0xff;
      } else {
        a.l4.src = f.tp_src;
        a.l4.dst = f.tp_dst;
        if (f.tp_src != b.tp_src) a.l4.src_mask = Be16(0xffff);
        if (f.tp_dst != b.tp_dst) a.l4.dst_mask = Be16(0xffff);
      }
      Emit(a);
    }
    // IPv6 neighbour discovery: after the ICMPv6 type/code set above, so the
    // packet the datapath rewrites already has the working flow's type. The
    // datapath (like the parser) treats only NS/NA with code 0 as ND, so that
    // is what decides here, and the megaflow must pin type and code.
    bool nd = false;
    const bool nd_target = std::memcmp(f.nd_target, b.nd_target, 16) != 0;
    const bool nd_sll = !(f.arp_sha == b.arp_sha), nd_tll = !(f.arp_tha == b.arp_tha);
    if (type == kEthIpv6 && f.nw_proto == kIpProtoIcmpv6 && (nd_target || nd_sll || nd_tll)) {
      Unwildcard(FieldId::kIcmpv6Type);
      Unwildcard(FieldId::kIcmpv6Code);
      // Only the low bytes are type and code (and only they are unwildcarded).
      const uint8_t icmp_type = static_cast<uint8_t>(f.tp_src.host());
      const uint8_t icmp_code = static_cast<uint8_t>(f.tp_dst.host());
      nd = (icmp_type == kNdSolicit || icmp_type == kNdAdvert) && icmp_code == 0;
      if (nd) {
        DpAction a = Blank(DpActionType::kSetNd);
        std::memcpy(a.nd.target, f.nd_target, 16);
        if (nd_target) std::memset(a.nd.target_mask, 0xff, 16);
        a.nd.sll = f.arp_sha;
        a.nd.tll = f.arp_tha;
        if (nd_sll) std::memset(a.nd.sll_mask.b, 0xff, 6);
        if (nd_tll) std::memset(a.nd.tll_mask.b, 0xff, 6);
        Emit(a);
      }
    }
    // Anything else that differs has no datapath set action.
    dp::FlowKey done = b;
    done.vlan[0] = f.vlan[0];
    done.vlan[1] = f.vlan[1];
    done.eth_src = f.eth_src;
    done.eth_dst = f.eth_dst;
    if (type == kEthIpv4) {
      done.nw_src = f.nw_src;
      done.nw_dst = f.nw_dst;
    }
    if (type == kEthIpv4 || type == kEthIpv6) {
      done.nw_tos = f.nw_tos;
      done.nw_ttl = f.nw_ttl;
      done.tp_src = f.tp_src;
      done.tp_dst = f.tp_dst;
    }
    if (type == kEthIpv6) {
      std::memcpy(done.ipv6_src, f.ipv6_src, 16);
      std::memcpy(done.ipv6_dst, f.ipv6_dst, 16);
      done.ipv6_label = f.ipv6_label;
    }
    if (type == kEthArp) {
      done.nw_proto = f.nw_proto;
      done.nw_src = f.nw_src;
      done.nw_dst = f.nw_dst;
      done.arp_sha = f.arp_sha;
      done.arp_tha = f.arp_tha;
    }
    if (nd) {
      std::memcpy(done.nd_target, f.nd_target, 16);
      done.arp_sha = f.arp_sha;
      done.arp_tha = f.arp_tha;
    }
    if (!(done == f)) Fail(XlateResult::Error::kUnsupportedSet);
    b = f;
  }

  const XlateEnv& env_;
  OfFlow flow_;  // the packet as the pipeline sees it now
  OfFlow base_;  // the packet as the datapath will have it (committed)
  XlateResult* out_;
  ActionSet action_set_;
  uint64_t current_cookie_ = 0;
  uint8_t current_table_ = 0;
  int indent_ = 0;
  bool stop_list_ = false;
};

}  // namespace

void Xlate(const XlateEnv& env, const OfFlow& flow, XlateResult* out) {
  Translator t(env, flow, out);
  t.Run();
}

void XlateActions(const XlateEnv& env, const OfFlow& flow, const OfActionList& actions,
                  XlateResult* out) {
  Translator t(env, flow, out);
  t.RunList(actions);
}

}  // namespace sluice::ofproto
