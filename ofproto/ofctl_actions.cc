#include <fmt/format.h>

#include <vector>

#include "datapath/flow/flow_format.h"
#include "ofproto/ofctl_internal.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofproto {
namespace {

using F = FieldId;
using ofctl_internal::ExactUint;
using ofctl_internal::FormatScalar;
using ofctl_internal::IEq;
using ofctl_internal::IsSpace;
using ofctl_internal::kEthIpv4;
using ofctl_internal::kEthIpv6;
using ofctl_internal::kGroupMaxId;
using ofctl_internal::kPortNames;
using ofctl_internal::Lower;
using ofctl_internal::ParseActionItems;
using ofctl_internal::ParseBounded;
using ofctl_internal::ParsePort;
using ofctl_internal::ParseU64;
using ofctl_internal::ParseValueMask;
using ofctl_internal::PrereqText;
using ofctl_internal::Q;
using ofctl_internal::SplitAction;
using ofctl_internal::SplitItems;
using ofctl_internal::SplitKv;
using std::string_view;

// ---------------------------------------------------------------------------
// Lexical helpers.

string_view Trim(string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string ToLower(string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// ---------------------------------------------------------------------------
// Ports.

// A port an output action may use: a physical port or a named reserved one.
bool IsOutputPort(uint32_t port) {
  return port <= kPortMax || (port >= kPortInPort && port <= kPortLocal);
}

// ---------------------------------------------------------------------------
// Prerequisites.

// The L4 port field a tp_src/tp_dst means under `match` (tcp when unknown).
FieldId TpField(const OfMatch* match, bool src) {
  uint64_t et, proto;
  if (match && ExactUint(*match, F::kEthType, &et) && (et == kEthIpv4 || et == kEthIpv6) &&
      ExactUint(*match, F::kIpProto, &proto)) {
    if (proto == 17) return src ? F::kUdpSrc : F::kUdpDst;
    if (proto == 132) return src ? F::kSctpSrc : F::kSctpDst;
  }
  return src ? F::kTcpSrc : F::kTcpDst;
}

// ---------------------------------------------------------------------------
// Actions and instructions.

enum Inst : int { kInstMeter, kInstApply, kInstClear, kInstWrite, kInstWriteMeta, kInstGoto };
constexpr const char* kInstNames[] = {"meter",         "apply_actions",  "clear_actions",
                                      "write_actions", "write_metadata", "goto_table"};

int InstructionOf(string_view lname) {
  for (int i = 0; i < 6; ++i) {
    if (lname == kInstNames[i]) return i;
  }
  return -1;
}

// A set-field action for `id` = v (no mask), checked for writability and,
// when the flow's match is known, for prerequisites.
Status MakeSetField(string_view item, FieldId id, FieldValue v, const OfMatch* match,
                    OfAction* out) {
  const FieldInfo& f = Field(id);
  if (!f.writable) return Status::Errorf("'{}': field {} cannot be set", Q(item), f.name);
  if (id == F::kVlanVid && v.ToUint() < dp::kVlanPresent) {
    v = FieldValue::FromUint(id, v.ToUint() | dp::kVlanPresent);
  }
  // A VLAN field's tag may come from an earlier push_vlan: not checked.
  if (match && id != F::kVlanVid && id != F::kVlanPcp && !FieldPrereqGuaranteed(id, *match)) {
    return Status::Errorf("'{}': setting {} requires {} in the match", Q(item), f.name,
                          PrereqText(f.prereq));
  }
  *out = OfAction::SetField(id, v);
  return Status::Ok();
}

// One action (not an instruction). *wants_tag is set for mod_vlan_vid and
// mod_vlan_pcp, which push a tag first on an untagged packet.
Status ParseAction(string_view item, const OfMatch* match, OfAction* out, bool* wants_tag) {
  *wants_tag = false;
  string_view name, arg;
  bool has_arg, parens;
  if (!SplitAction(item, &name, &arg, &has_arg, &parens)) {
    return Status::Errorf("'{}': bad action syntax (want NAME, NAME:ARG or NAME(ARGS))", Q(item));
  }
  auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
  std::string lname = ToLower(name);
  auto no_arg = [&]() -> Status {
    if (has_arg) return bad(fmt::format("{} takes no argument", lname));
    return Status::Ok();
  };
  auto need_arg = [&]() -> Status {
    if (!has_arg || Trim(arg).empty()) return bad(fmt::format("{} needs an argument", lname));
    return Status::Ok();
  };
  auto output = [&](uint32_t port) -> Status {
    if (!IsOutputPort(port))
      return bad(fmt::format("{} is not a port to output to", FormatPort(port)));
    *out = OfAction::Output(port, port == kPortController ? kControllerMaxLenNoBuffer : 0);
    return Status::Ok();
  };
  uint64_t n;

  // A bare port number or reserved port name is an output.
  if (!has_arg && ParseU64(name, &n)) {
    if (n > 0xffffffff) return bad("port number out of range");
    return output(static_cast<uint32_t>(n));
  }
  if (lname == "output") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    uint32_t port;
    if (!ParsePort(Trim(arg), &port)) return bad("bad port (want a number or a reserved name)");
    return output(port);
  }
  if (lname == "controller") {
    *out = OfAction::Output(kPortController, kControllerMaxLenNoBuffer);
    if (!has_arg) return Status::Ok();
    if (!parens) {
      if (!ParseBounded(Trim(arg), 0xffff, &n)) return bad("controller max_len must be 0-65535");
      out->max_len = static_cast<uint16_t>(n);
      return Status::Ok();
    }
    std::vector<string_view> kvs;
    SLUICE_RETURN_IF_ERROR(SplitItems(arg, &kvs));
    for (string_view kv : kvs) {
      string_view k, v;
      bool hv;
      SplitKv(kv, &k, &v, &hv);
      if (k != "max_len" || !hv) {
        return bad(fmt::format("unsupported controller option '{}' (only max_len=N)", Q(kv)));
      }
      if (!ParseBounded(v, 0xffff, &n)) return bad("controller max_len must be 0-65535");
      out->max_len = static_cast<uint16_t>(n);
    }
    return Status::Ok();
  }
  if (!has_arg) {
    for (const auto& p : kPortNames) {
      if (IEq(name, p.name) && p.port != kPortAny) return output(p.port);
    }
  }
  if (lname == "group") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), kGroupMaxId, &n)) return bad("group id must be 0-0xffffff00");
    *out = OfAction::Group(static_cast<uint32_t>(n));
    return Status::Ok();
  }
  if (lname == "set_queue") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xffffffff, &n)) return bad("queue id must be a 32-bit number");
    *out = OfAction::SetQueue(static_cast<uint32_t>(n));
    return Status::Ok();
  }
  if (lname == "push_vlan") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseU64(Trim(arg), &n) || (n != 0x8100 && n != 0x88a8)) {
      return bad("push_vlan ethertype must be 0x8100 or 0x88a8");
    }
    *out = OfAction::PushVlan(static_cast<uint16_t>(n));
    return Status::Ok();
  }
  if (lname == "pop_vlan" || lname == "strip_vlan") {
    SLUICE_RETURN_IF_ERROR(no_arg());
    *out = OfAction::PopVlan();
    return Status::Ok();
  }
  if (lname == "dec_ttl") {
    SLUICE_RETURN_IF_ERROR(no_arg());
    *out = OfAction::DecTtl();
    return Status::Ok();
  }
  if (lname == "set_field") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    size_t arrow = arg.find("->");
    if (arrow == string_view::npos) return bad("set_field wants VALUE->FIELD");
    string_view value = Trim(arg.substr(0, arrow));
    string_view fname = Trim(arg.substr(arrow + 2));
    if (fname == "nw_tos") {
      if (!ParseBounded(value, 0xff, &n) || (n & 3)) {
        return bad("nw_tos must be a DS byte with the ECN bits clear (a multiple of 4, 0-252)");
      }
      return MakeSetField(item, F::kIpDscp, FieldValue::FromUint(F::kIpDscp, n >> 2), match, out);
    }
    FieldId id;
    if (fname == "tp_src" || fname == "tp_dst") {
      id = TpField(match, fname == "tp_src");
    } else {
      if (fname == "ip_src") fname = "ipv4_src";
      if (fname == "ip_dst") fname = "ipv4_dst";
      const FieldInfo* f = FieldByName(fname);
      if (!f) return bad(fmt::format("unknown field '{}'", Q(fname)));
      id = f->id;
    }
    FieldValue v, m;
    bool has_mask;
    std::string err = ParseValueMask(id, value, &v, &m, &has_mask);
    if (!err.empty()) return bad(err);
    if (has_mask) return bad("set_field with a mask is not supported");
    return MakeSetField(item, id, v, match, out);
  }
  // The OpenFlow 1.0 modify actions, as set-field.
  struct ModAction {
    const char* name;
    FieldId field;
  };
  static constexpr ModAction kMods[] = {
      {"mod_dl_src", F::kEthSrc},    {"mod_dl_dst", F::kEthDst}, {"mod_nw_src", F::kIpv4Src},
      {"mod_nw_dst", F::kIpv4Dst},   {"mod_nw_ecn", F::kIpEcn},  {"mod_nw_ttl", F::kIpTtl},
      {"mod_vlan_pcp", F::kVlanPcp},
  };
  for (const auto& mod : kMods) {
    if (lname != mod.name) continue;
    SLUICE_RETURN_IF_ERROR(need_arg());
    FieldValue v, m;
    bool has_mask;
    std::string err = ParseValueMask(mod.field, Trim(arg), &v, &m, &has_mask);
    if (!err.empty()) return bad(err);
    if (has_mask) return bad(fmt::format("{} takes no mask", lname));
    *wants_tag = mod.field == F::kVlanPcp;
    return MakeSetField(item, mod.field, v, match, out);
  }
  if (lname == "mod_nw_tos") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xff, &n) || (n & 3)) {
      return bad("mod_nw_tos wants a DS byte with the ECN bits clear (a multiple of 4, 0-252)");
    }
    return MakeSetField(item, F::kIpDscp, FieldValue::FromUint(F::kIpDscp, n >> 2), match, out);
  }
  if (lname == "mod_vlan_vid") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xfff, &n)) return bad("VLAN id must be 0-4095");
    *wants_tag = true;
    return MakeSetField(item, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, dp::kVlanPresent | n),
                        match, out);
  }
  if (lname == "mod_tp_src" || lname == "mod_tp_dst") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xffff, &n)) return bad("L4 port must be 0-65535");
    FieldId id = TpField(match, lname == "mod_tp_src");
    if (match && !FieldPrereqGuaranteed(id, *match)) {
      return bad(fmt::format("{} requires tcp, udp or sctp (nw_proto) in the match", lname));
    }
    return MakeSetField(item, id, FieldValue::FromUint(id, n), match, out);
  }
  if (lname == "drop")
    return bad("'drop' must not be accompanied by any other action or instruction");
  if (InstructionOf(lname) >= 0)
    return bad(fmt::format("instruction {} is not allowed here", lname));
  return bad(fmt::format("unknown action '{}'", Q(name)));
}

// True when `match` guarantees a VLAN tag.
bool MatchTagged(const OfMatch* match) {
  return match && FieldPrereqGuaranteed(F::kVlanPcp, *match);
}

// Parses one action onto the end of *list. *tagged says whether the packet
// has a VLAN tag at this point (when the match is known): mod_vlan_vid and
// mod_vlan_pcp on an untagged packet push a tag first, as ovs-ofctl does.
Status AppendAction(string_view item, const OfMatch* match, bool* tagged, OfActionList* list) {
  OfAction a;
  bool wants_tag;
  SLUICE_RETURN_IF_ERROR(ParseAction(item, match, &a, &wants_tag));
  if (match && wants_tag && !*tagged) {
    list->push_back(OfAction::PushVlan(0x8100));
    *tagged = true;
  }
  if (a.type == OfActionType::kPushVlan) *tagged = true;
  if (a.type == OfActionType::kPopVlan) *tagged = false;
  list->push_back(a);
  return Status::Ok();
}

// The kind of an action for action-set duplicate checks.
std::string ActionKind(const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      return "output";
    case OfActionType::kGroup:
      return "group";
    case OfActionType::kSetField:
      return fmt::format("set_field for {}", Field(a.field).name);
    case OfActionType::kPushVlan:
      return "push_vlan";
    case OfActionType::kPopVlan:
      return "pop_vlan";
    case OfActionType::kDecTtl:
      return "dec_ttl";
    case OfActionType::kSetQueue:
      return "set_queue";
  }
  return "?";
}

Status ParseActionText(string_view text, const OfMatch* match, bool action_set, string_view where,
                       OfActionList* out) {
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  return ParseActionItems(items, match, action_set, where, out);
}

std::string FormatOneAction(const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      if (a.port == kPortController) return fmt::format("CONTROLLER:{}", a.max_len);
      if (a.port > kPortMax && IsOutputPort(a.port)) return FormatPort(a.port);
      return fmt::format("output:{}", a.port);
    case OfActionType::kGroup:
      return fmt::format("group:{}", a.group_id);
    case OfActionType::kSetField:
      if (a.field >= F::kCount) return "set_field:?";
      return fmt::format("set_field:{}->{}", FormatScalar(a.field, a.value), Field(a.field).name);
    case OfActionType::kPushVlan:
      return fmt::format("push_vlan:{:#06x}", a.ethertype);
    case OfActionType::kPopVlan:
      return "pop_vlan";
    case OfActionType::kDecTtl:
      return "dec_ttl";
    case OfActionType::kSetQueue:
      return fmt::format("set_queue:{}", a.queue_id);
  }
  return "?";
}

std::string JoinActions(const OfActionList& actions) {
  std::string s;
  for (const auto& a : actions) {
    if (!s.empty()) s += ',';
    s += FormatOneAction(a);
  }
  return s;
}

}  // namespace

namespace ofctl_internal {

// ---------------------------------------------------------------------------
// Actions and instructions.

// A list of actions (no instructions). `where` names the list in messages;
// `action_set` refuses two actions of a kind (write_actions).
Status ParseActionItems(const std::vector<string_view>& items, const OfMatch* match,
                        bool action_set, string_view where, OfActionList* out) {
  OfActionList list;
  if (items.size() == 1 && IEq(items[0], "drop")) {
    *out = list;
    return Status::Ok();
  }
  bool tagged = MatchTagged(match);
  for (string_view item : items) {
    string_view name, arg;
    bool has_arg, parens;
    if (SplitAction(item, &name, &arg, &has_arg, &parens) && InstructionOf(ToLower(name)) >= 0) {
      return Status::Errorf("'{}': instruction {} is not allowed inside {}", Q(item), ToLower(name),
                            where);
    }
    size_t before = list.size();
    SLUICE_RETURN_IF_ERROR(AppendAction(item, match, &tagged, &list));
    if (!action_set) continue;
    for (size_t i = before; i < list.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (ActionKind(list[i]) == ActionKind(list[j])) {
          return Status::Errorf(
              "'{}': {} already has a {} action (an action set holds one of "
              "each kind)",
              Q(item), where, ActionKind(list[i]));
        }
      }
    }
  }
  *out = std::move(list);
  return Status::Ok();
}

}  // namespace ofctl_internal

// ---------------------------------------------------------------------------
// Public API.

Status ParseOfInstructions(string_view text, const OfMatch* match, Instructions* out) {
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  Instructions insts;
  bool seen[6] = {};
  int last = -1;
  bool plain_apply = false;  // apply-actions came from plain actions
  bool tagged = MatchTagged(match);
  for (string_view item : items) {
    string_view name, arg;
    bool has_arg, parens;
    if (!SplitAction(item, &name, &arg, &has_arg, &parens)) {
      return Status::Errorf("'{}': bad action syntax (want NAME, NAME:ARG or NAME(ARGS))", Q(item));
    }
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    std::string lname = ToLower(name);
    if (lname == "drop" && !has_arg) {
      if (items.size() != 1) {
        return bad("'drop' must not be accompanied by any other action or instruction");
      }
      continue;
    }
    int inst = InstructionOf(lname);
    bool plain = inst < 0;
    if (plain) inst = kInstApply;
    if (inst < last) {
      return bad(
          fmt::format("{} must come before {} (instructions go in the order meter, "
                      "apply_actions, clear_actions, write_actions, write_metadata, "
                      "goto_table)",
                      plain ? "actions to apply" : kInstNames[inst], kInstNames[last]));
    }
    if (seen[inst] && !(plain && plain_apply)) {
      return bad(fmt::format("duplicate {} instruction", kInstNames[inst]));
    }
    seen[inst] = true;
    last = inst;
    uint64_t n;
    switch (inst) {
      case kInstMeter:
        if (!has_arg || !ParseBounded(Trim(arg), 0xffff0000, &n) || n == 0) {
          return bad("meter wants a meter id 1-0xffff0000 (meter:N)");
        }
        insts.meter = static_cast<uint32_t>(n);
        break;
      case kInstApply:
        if (plain) {
          SLUICE_RETURN_IF_ERROR(AppendAction(item, match, &tagged, &insts.apply));
          insts.has_apply = true;
          plain_apply = true;
        } else {
          if (!parens) return bad("apply_actions wants a list in parentheses");
          SLUICE_RETURN_IF_ERROR(ParseActionText(arg, match, false, "apply_actions", &insts.apply));
          insts.has_apply = !insts.apply.empty();
        }
        break;
      case kInstClear:
        if (has_arg) return bad("clear_actions takes no argument");
        insts.clear_actions = true;
        break;
      case kInstWrite: {
        if (!parens) return bad("write_actions wants a list in parentheses");
        OfActionList list;
        SLUICE_RETURN_IF_ERROR(ParseActionText(arg, match, true, "write_actions", &list));
        insts.write = std::move(list);
        break;
      }
      case kInstWriteMeta: {
        if (!has_arg) return bad("write_metadata wants VALUE[/MASK]");
        string_view v = Trim(arg), m;
        size_t slash = v.find('/');
        uint64_t value, mask = ~uint64_t{0};
        if (slash != string_view::npos) {
          m = v.substr(slash + 1);
          v = v.substr(0, slash);
          if (!ParseU64(m, &mask)) return bad("bad write_metadata mask");
        }
        if (!ParseU64(v, &value)) return bad("bad write_metadata value");
        insts.has_write_metadata = true;
        insts.metadata = value & mask;
        insts.metadata_mask = mask;
        break;
      }
      case kInstGoto:
        if (!has_arg || !ParseBounded(Trim(arg), kNumTables - 1, &n)) {
          return bad(fmt::format("goto_table wants a table 0-{}", kNumTables - 1));
        }
        insts.goto_table = static_cast<uint8_t>(n);
        break;
    }
  }
  *out = std::move(insts);
  return Status::Ok();
}

std::string FormatOfInstructions(const Instructions& i) {
  std::vector<std::string> parts;
  if (i.meter) parts.push_back(fmt::format("meter:{}", *i.meter));
  if (i.has_apply && !i.apply.empty()) parts.push_back(JoinActions(i.apply));
  if (i.clear_actions) parts.push_back("clear_actions");
  if (i.write) parts.push_back("write_actions(" + JoinActions(*i.write) + ")");
  if (i.has_write_metadata) {
    if (i.metadata_mask == ~uint64_t{0}) {
      parts.push_back(fmt::format("write_metadata:{:#x}", i.metadata));
    } else {
      parts.push_back(fmt::format("write_metadata:{:#x}/{:#x}", i.metadata, i.metadata_mask));
    }
  }
  if (i.goto_table) parts.push_back(fmt::format("goto_table:{}", *i.goto_table));
  if (parts.empty()) return "drop";
  std::string s;
  for (const auto& p : parts) {
    if (!s.empty()) s += ',';
    s += p;
  }
  return s;
}

Status ParseOfActions(string_view text, OfActionList* out) {
  return ParseActionText(text, nullptr, false, "an action list", out);
}

std::string FormatOfActions(const OfActionList& actions) {
  return actions.empty() ? std::string("drop") : JoinActions(actions);
}

}  // namespace sluice::ofproto
