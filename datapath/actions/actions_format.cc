#include "datapath/actions/actions_format.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstring>

#include "datapath/flow/flow_format.h"

namespace sluice::dp {
namespace {

using text::FieldKind;
using text::FieldSpec;

constexpr FieldSpec SetInt(std::string_view name, FieldKind kind, size_t value_ofs, size_t mask_ofs,
                           uint8_t size, bool net_order, uint64_t natural = 0) {
  return FieldSpec{.name = name,
                   .kind = kind,
                   .value_ofs = static_cast<uint16_t>(value_ofs),
                   .mask_ofs = static_cast<uint16_t>(mask_ofs),
                   .size = size,
                   .net_order = net_order,
                   .natural = natural};
}

constexpr FieldSpec SetAddr(std::string_view name, FieldKind kind, size_t value_ofs,
                            size_t mask_ofs) {
  uint8_t size = kind == FieldKind::kIpv4 ? 4 : kind == FieldKind::kIpv6 ? 16 : 6;
  return FieldSpec{.name = name,
                   .kind = kind,
                   .value_ofs = static_cast<uint16_t>(value_ofs),
                   .mask_ofs = static_cast<uint16_t>(mask_ofs),
                   .size = size,
                   .net_order = false};
}

// Offsets are relative to the union member (SetEth, SetIpv4, ...).
constexpr FieldSpec kSetEthFields[] = {
    SetAddr("src", FieldKind::kEth, offsetof(SetEth, src), offsetof(SetEth, src_mask)),
    SetAddr("dst", FieldKind::kEth, offsetof(SetEth, dst), offsetof(SetEth, dst_mask)),
};
constexpr FieldSpec kSetIpv4Fields[] = {
    SetAddr("src", FieldKind::kIpv4, offsetof(SetIpv4, src), offsetof(SetIpv4, src_mask)),
    SetAddr("dst", FieldKind::kIpv4, offsetof(SetIpv4, dst), offsetof(SetIpv4, dst_mask)),
    SetInt("tos", FieldKind::kHex, offsetof(SetIpv4, tos), offsetof(SetIpv4, tos_mask), 1, false),
    SetInt("ttl", FieldKind::kDec, offsetof(SetIpv4, ttl), offsetof(SetIpv4, ttl_mask), 1, false),
};
constexpr FieldSpec kSetIpv6Fields[] = {
    SetAddr("src", FieldKind::kIpv6, offsetof(SetIpv6, src), offsetof(SetIpv6, src_mask)),
    SetAddr("dst", FieldKind::kIpv6, offsetof(SetIpv6, dst), offsetof(SetIpv6, dst_mask)),
    SetInt("label", FieldKind::kHex, offsetof(SetIpv6, label), offsetof(SetIpv6, label_mask), 4,
           true, 0x000fffff),
    SetInt("tclass", FieldKind::kHex, offsetof(SetIpv6, tclass), offsetof(SetIpv6, tclass_mask), 1,
           false),
    SetInt("hlimit", FieldKind::kDec, offsetof(SetIpv6, hlimit), offsetof(SetIpv6, hlimit_mask), 1,
           false),
};
constexpr FieldSpec kSetL4Fields[] = {
    SetInt("src", FieldKind::kDec, offsetof(SetL4, src), offsetof(SetL4, src_mask), 2, true),
    SetInt("dst", FieldKind::kDec, offsetof(SetL4, dst), offsetof(SetL4, dst_mask), 2, true),
};

constexpr FieldSpec kSetArpFields[] = {
    SetAddr("sip", FieldKind::kIpv4, offsetof(SetArp, spa), offsetof(SetArp, spa_mask)),
    SetAddr("tip", FieldKind::kIpv4, offsetof(SetArp, tpa), offsetof(SetArp, tpa_mask)),
    SetInt("op", FieldKind::kDec, offsetof(SetArp, op), offsetof(SetArp, op_mask), 2, true),
    SetAddr("sha", FieldKind::kEth, offsetof(SetArp, sha), offsetof(SetArp, sha_mask)),
    SetAddr("tha", FieldKind::kEth, offsetof(SetArp, tha), offsetof(SetArp, tha_mask)),
};
constexpr FieldSpec kSetIcmpFields[] = {
    SetInt("type", FieldKind::kDec, offsetof(SetIcmp, type), offsetof(SetIcmp, type_mask), 1,
           false),
    SetInt("code", FieldKind::kDec, offsetof(SetIcmp, code), offsetof(SetIcmp, code_mask), 1,
           false),
};
constexpr FieldSpec kSetNdFields[] = {
    SetAddr("target", FieldKind::kIpv6, offsetof(SetNd, target), offsetof(SetNd, target_mask)),
    SetAddr("sll", FieldKind::kEth, offsetof(SetNd, sll), offsetof(SetNd, sll_mask)),
    SetAddr("tll", FieldKind::kEth, offsetof(SetNd, tll), offsetof(SetNd, tll_mask)),
};

struct SetDef {
  std::string_view name;
  DpActionType type;
  std::span<const FieldSpec> fields;
};
const SetDef kSets[] = {
    {"eth", DpActionType::kSetEth, kSetEthFields},
    {"ipv4", DpActionType::kSetIpv4, kSetIpv4Fields},
    {"ipv6", DpActionType::kSetIpv6, kSetIpv6Fields},
    {"tcp", DpActionType::kSetTcp, kSetL4Fields},
    {"udp", DpActionType::kSetUdp, kSetL4Fields},
    {"sctp", DpActionType::kSetSctp, kSetL4Fields},
    {"arp", DpActionType::kSetArp, kSetArpFields},
    {"icmp", DpActionType::kSetIcmp, kSetIcmpFields},
    {"icmpv6", DpActionType::kSetIcmpv6, kSetIcmpFields},
    {"nd", DpActionType::kSetNd, kSetNdFields},
};

// The union member a set action of `type` uses.
const void* SetPayload(const DpAction& a) {
  switch (a.type) {
    case DpActionType::kSetEth:
      return &a.eth;
    case DpActionType::kSetIpv4:
      return &a.ipv4;
    case DpActionType::kSetIpv6:
      return &a.ipv6;
    case DpActionType::kSetArp:
      return &a.arp;
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6:
      return &a.icmp;
    case DpActionType::kSetNd:
      return &a.nd;
    default:
      return &a.l4;
  }
}

DpAction Blank(DpActionType type) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = type;
  return a;
}

constexpr uint16_t kTpid8021Q = 0x8100;

std::string FormatPushVlan(const PushVlan& p) {
  uint16_t tci = p.tci.host();
  std::string s = "push_vlan(";
  if (p.tpid.host() != kTpid8021Q) s += fmt::format("tpid={:#06x},", p.tpid.host());
  s += fmt::format("vid={},pcp={}", tci & kVlanVidMask, tci >> 13);
  if (!(tci & kVlanPresent)) s += ",cfi=0";
  s += ')';
  return s;
}

Status ParsePushVlan(std::string_view item, std::string_view args, DpAction* out) {
  std::vector<std::string_view> fields;
  SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(args, &fields));
  uint64_t tpid = kTpid8021Q, vid = 0, pcp = 0, cfi = 1;
  struct Field {
    std::string_view name;
    uint64_t* value;
    uint64_t max;
    bool given;
  } table[] = {{"tpid", &tpid, 0xffff, false},
               {"vid", &vid, kVlanVidMask, false},
               {"pcp", &pcp, 7, false},
               {"cfi", &cfi, 1, false}};
  for (std::string_view f : fields) {
    size_t eq = f.find('=');
    if (f.empty() || eq == std::string_view::npos) {
      return Status::Errorf("'{}': expected field=value, not '{}'", item, f);
    }
    std::string_view name = text::Trim(f.substr(0, eq));
    std::string_view value = text::Trim(f.substr(eq + 1));
    Field* field = nullptr;
    for (Field& t : table) {
      if (t.name == name) field = &t;
    }
    if (!field) {
      return Status::Errorf("push_vlan({}): unknown field '{}' (expected tpid, vid, pcp, cfi)", f,
                            name);
    }
    if (field->given) return Status::Errorf("push_vlan({}): {} is given twice", f, name);
    field->given = true;
    if (!text::ParseUint(value, field->value))
      return Status::Errorf("push_vlan({}): bad number", f);
    if (*field->value > field->max) {
      return Status::Errorf("push_vlan({}): value out of range (max {})", f, field->max);
    }
  }
  *out = Blank(DpActionType::kPushVlan);
  out->push_vlan.tpid = Be16(static_cast<uint16_t>(tpid));
  out->push_vlan.tci = Be16(static_cast<uint16_t>(pcp << 13 | (cfi ? kVlanPresent : 0) | vid));
  return Status::Ok();
}

// One number argument: recirc(N), or a port.
Status ParseU32(std::string_view item, std::string_view text, std::string_view what,
                uint32_t* out) {
  uint64_t v;
  if (!text::ParseUint(text::Trim(text), &v)) return Status::Errorf("'{}': bad {}", item, what);
  if (v > UINT32_MAX) return Status::Errorf("'{}': {} out of range", item, what);
  *out = static_cast<uint32_t>(v);
  return Status::Ok();
}

Status ParseOneAction(std::string_view item, DpAction* out) {
  if (item.empty()) return Status::Error("empty action");
  if (item[0] >= '0' && item[0] <= '9') {
    *out = Blank(DpActionType::kOutput);
    return ParseU32(item, item, "output port", &out->port);
  }
  std::string_view name, args;
  bool has_args;
  SLUICE_RETURN_IF_ERROR(text::SplitCall(item, &name, &args, &has_args));
  if (name == "drop") return Status::Error("'drop' must be the only action");
  if (name == "pop_vlan") {
    if (has_args && !text::Trim(args).empty()) {
      return Status::Errorf("'{}': pop_vlan takes no arguments", item);
    }
    *out = Blank(DpActionType::kPopVlan);
    return Status::Ok();
  }
  if (!has_args) {
    if (name == "push_vlan" || name == "userspace" || name == "recirc" || name == "meter" ||
        name == "set") {
      return Status::Errorf("'{}': expected {}(...)", item, name);
    }
    return Status::Errorf("'{}': unknown action", item);
  }
  if (name == "push_vlan") return ParsePushVlan(item, args, out);
  if (name == "recirc") {
    *out = Blank(DpActionType::kRecirc);
    return ParseU32(item, args, "recirculation id", &out->recirc_id);
  }
  if (name == "meter") {
    *out = Blank(DpActionType::kMeter);
    return ParseU32(item, args, "meter id", &out->meter_id);
  }
  if (name == "userspace") {
    *out = Blank(DpActionType::kUserspace);
    std::vector<std::string_view> fields;
    SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(args, &fields));
    bool given = false;
    for (std::string_view f : fields) {
      size_t eq = f.find('=');
      if (eq == std::string_view::npos || text::Trim(f.substr(0, eq)) != "cookie") {
        return Status::Errorf("userspace({}): expected cookie=N", f);
      }
      if (given) return Status::Errorf("userspace({}): cookie is given twice", f);
      given = true;
      if (!text::ParseUint(text::Trim(f.substr(eq + 1)), &out->userspace.cookie)) {
        return Status::Errorf("userspace({}): bad cookie (want a 64-bit number)", f);
      }
    }
    return Status::Ok();
  }
  if (name == "set") {
    std::string_view group, fields;
    bool has_fields;
    SLUICE_RETURN_IF_ERROR(text::SplitCall(args, &group, &fields, &has_fields));
    const SetDef* def = nullptr;
    for (const SetDef& d : kSets) {
      if (d.name == group) def = &d;
    }
    if (!def) {
      return Status::Errorf(
          "'{}': cannot set '{}' (expected eth, ipv4, ipv6, tcp, udp, sctp, arp, icmp, icmpv6, "
          "nd)",
          item, group);
    }
    if (!has_fields) return Status::Errorf("'{}': expected set({}(...))", item, group);
    *out = Blank(def->type);
    void* payload = const_cast<void*>(SetPayload(*out));
    std::string open = fmt::format("set({}(", group);
    uint32_t given;
    return text::ParseFields(fields, def->fields, open, "))", payload, payload, &given);
  }
  return Status::Errorf("'{}': unknown action", item);
}

}  // namespace

std::string FormatAction(const DpAction& a) {
  switch (a.type) {
    case DpActionType::kOutput:
      return fmt::format("{}", a.port);
    case DpActionType::kUserspace:
      return fmt::format("userspace(cookie={:#x})", a.userspace.cookie);
    case DpActionType::kPushVlan:
      return FormatPushVlan(a.push_vlan);
    case DpActionType::kPopVlan:
      return "pop_vlan";
    case DpActionType::kRecirc:
      return a.recirc_id ? fmt::format("recirc({:#x})", a.recirc_id) : "recirc(0)";
    case DpActionType::kMeter:
      return fmt::format("meter({})", a.meter_id);
    case DpActionType::kSetEth:
    case DpActionType::kSetIpv4:
    case DpActionType::kSetIpv6:
    case DpActionType::kSetTcp:
    case DpActionType::kSetUdp:
    case DpActionType::kSetSctp:
    case DpActionType::kSetArp:
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6:
    case DpActionType::kSetNd:
      for (const SetDef& d : kSets) {
        if (d.type != a.type) continue;
        std::string s = fmt::format("set({}(", d.name);
        const void* payload = SetPayload(a);
        text::AppendFields(&s, d.fields, ~0u, payload, payload);
        return s + "))";
      }
      break;
  }
  return fmt::format("unknown_action({})", static_cast<int>(a.type));
}

std::string FormatActions(const std::vector<DpAction>& actions) {
  if (actions.empty()) return "drop";
  std::string s;
  for (const DpAction& a : actions) {
    if (!s.empty()) s += ',';
    s += FormatAction(a);
  }
  return s;
}

Status ParseActions(std::string_view text_in, std::vector<DpAction>* out) {
  out->clear();
  std::string_view t = text::Trim(text_in);
  if (t.empty()) return Status::Error("no actions (write 'drop' to drop)");
  if (t == "drop") return Status::Ok();
  std::vector<std::string_view> items;
  SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(t, &items));
  std::vector<DpAction> actions;
  actions.reserve(items.size());
  for (std::string_view item : items) {
    DpAction a;
    Status st = ParseOneAction(item, &a);
    if (!st.ok()) {
      if (item.empty()) return Status::Errorf("'{}': empty action", t);
      return st;
    }
    actions.push_back(a);
  }
  *out = std::move(actions);
  return Status::Ok();
}

std::string FormatFlowSpec(const FlowKey& key, const FlowMask& mask,
                           const std::vector<DpAction>& actions) {
  std::string match = FormatMatch(key, mask);
  std::string acts = FormatActions(actions);
  return match.empty() ? "actions:" + acts : match + " actions:" + acts;
}

Status ParseFlowSpec(std::string_view text_in, FlowKey* key, FlowMask* mask,
                     std::vector<DpAction>* actions) {
  key->Clear();
  mask->Clear();
  actions->clear();
  // Unbalanced parentheses first, so that they are reported as such.
  std::vector<std::string_view> items;
  SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(text_in, &items));
  // "actions:" outside parentheses, at the start or after a blank or comma.
  size_t at = std::string_view::npos;
  int depth = 0;
  constexpr std::string_view kActions = "actions:";
  for (size_t i = 0; i < text_in.size(); ++i) {
    char c = text_in[i];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && text_in.substr(i, kActions.size()) == kActions &&
        (i == 0 || text_in[i - 1] == ' ' || text_in[i - 1] == ',' || text_in[i - 1] == '\t')) {
      at = i;
      break;
    }
  }
  if (at == std::string_view::npos) {
    return Status::Errorf("'{}': missing 'actions:' (want 'MATCH actions:ACTIONS')",
                          text::Trim(text_in));
  }
  // Keep the match groups, skip dump-flows statistics ("name:value" items;
  // a match group never has a ':' before its '('). In a dump-flows line
  // (one with statistics) blank items are skipped too: an empty match
  // prints as "ufid:..., , packets:...". Without statistics, only the blank
  // item of "MATCH, actions:" is, so that a typo like ",," still fails.
  SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(text_in.substr(0, at), &items));
  auto is_stat = [](std::string_view item) {
    size_t i = 0;
    while (i < item.size() && ((item[i] >= 'a' && item[i] <= 'z') || item[i] == '_')) ++i;
    return i > 0 && i < item.size() && item[i] == ':';
  };
  bool dump_line = false;
  for (std::string_view item : items) dump_line |= is_stat(item);
  std::string match;
  bool first = true;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string_view item = items[i];
    if (is_stat(item)) continue;
    if (item.empty() && (dump_line || (i > 0 && i + 1 == items.size()))) continue;
    if (!first) match += ',';
    first = false;
    match += item;
  }
  Status st = ParseMatch(match, key, mask);
  if (st.ok()) st = ParseActions(text_in.substr(at + kActions.size()), actions);
  if (!st.ok()) {
    key->Clear();
    mask->Clear();
    actions->clear();
  }
  return st;
}

}  // namespace sluice::dp
