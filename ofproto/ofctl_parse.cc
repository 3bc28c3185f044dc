#include "ofproto/ofctl_parse.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "ofproto/ofctl_internal.h"

namespace sluice::ofproto {
namespace {

using ofctl_internal::IEq;
using ofctl_internal::kGroupMaxId;
using ofctl_internal::MatchBuilder;
using ofctl_internal::NextItem;
using ofctl_internal::ParseActionItems;
using ofctl_internal::ParseBounded;
using ofctl_internal::ParsePort;
using ofctl_internal::ParseU64;
using ofctl_internal::Q;
using ofctl_internal::SplitAction;
using ofctl_internal::SplitItems;
using ofctl_internal::SplitKv;
using std::string_view;

constexpr int32_t kDefaultPriority = 0x8000;

// ---------------------------------------------------------------------------
// Flows.

struct FlagName {
  const char* name;
  uint16_t flag;
};
constexpr FlagName kFlagNames[] = {
    {"send_flow_rem", kFlagSendFlowRem},  {"check_overlap", kFlagCheckOverlap},
    {"reset_counts", kFlagResetCounts},   {"no_packet_counts", kFlagNoPktCounts},
    {"no_byte_counts", kFlagNoBytCounts},
};

// "head, head, priority=N,match actions=insts" (dump-flows layout).
std::string ComposeFlow(const std::vector<std::string>& head, int32_t priority,
                        const OfMatch& match, const Instructions* insts) {
  std::string s;
  for (const auto& h : head) {
    if (!s.empty()) s += ", ";
    s += h;
  }
  std::string m;
  if (priority != kDefaultPriority) m = fmt::format("priority={}", priority);
  std::string fields = FormatOfMatch(match);
  if (!fields.empty()) {
    if (!m.empty()) m += ',';
    m += fields;
  }
  if (!m.empty()) {
    if (!s.empty()) s += ", ";
    s += m;
  }
  if (insts) {
    if (!s.empty()) s += ' ';
    s += "actions=" + FormatOfInstructions(*insts);
  }
  return s;
}

void AppendFlags(uint16_t flags, std::vector<std::string>* head) {
  for (const auto& f : kFlagNames) {
    if (flags & f.flag) head->push_back(f.name);
  }
}

// ---------------------------------------------------------------------------
// Groups.

struct GroupTypeName {
  const char* name;
  GroupType type;
};
constexpr GroupTypeName kGroupTypes[] = {
    {"all", GroupType::kAll},
    {"select", GroupType::kSelect},
    {"indirect", GroupType::kIndirect},
    {"ff", GroupType::kFastFailover},
    {"fast_failover", GroupType::kFastFailover},
};

const char* GroupTypeText(GroupType t) {
  for (const auto& g : kGroupTypes) {
    if (g.type == t) return g.name;
  }
  return "?";
}

Status ParseBucket(const std::vector<string_view>& pieces, GroupType type, Bucket* out) {
  Bucket b;
  bool weight_given = false;
  std::vector<string_view> actions;
  bool in_actions = false;
  string_view first = pieces.empty() ? string_view() : pieces[0];
  for (string_view piece : pieces) {
    if (piece.empty()) continue;
    if (in_actions) {
      actions.push_back(piece);
      continue;
    }
    string_view name, arg;
    bool has_arg, parens;
    bool split = SplitAction(piece, &name, &arg, &has_arg, &parens) && has_arg && !parens;
    auto bad = [&](std::string_view why) {
      return Status::Errorf("'bucket={}': '{}': {}", Q(first), Q(piece), why);
    };
    uint64_t n;
    if (split && name == "weight") {
      if (weight_given) return bad("weight given twice");
      if (type != GroupType::kSelect) return bad("weight is only valid in select groups");
      if (!ParseBounded(arg, 0xffff, &n)) return bad("weight must be 0-65535");
      b.weight = static_cast<uint16_t>(n);
      weight_given = true;
    } else if (split && name == "watch_port") {
      uint32_t port;
      if (!ParsePort(arg, &port)) return bad("bad watch_port");
      b.watch_port = port;
    } else if (split && name == "watch_group") {
      if (IEq(arg, "any")) {
        b.watch_group = kGroupAny;
      } else if (ParseBounded(arg, kGroupMaxId, &n)) {
        b.watch_group = static_cast<uint32_t>(n);
      } else {
        return bad("bad watch_group");
      }
    } else if (split && name == "bucket_id") {
      if (!ParseBounded(arg, 0xffffffff, &n)) return bad("bad bucket_id");
    } else if (split && name == "actions") {
      in_actions = true;
      if (!arg.empty()) actions.push_back(arg);
    } else {
      in_actions = true;
      actions.push_back(piece);
    }
  }
  if (type == GroupType::kSelect && !weight_given) b.weight = 1;
  if (type == GroupType::kFastFailover && b.watch_port == kPortAny && b.watch_group == kGroupAny) {
    return Status::Errorf("'bucket={}': a fast-failover bucket needs watch_port or watch_group",
                          Q(first));
  }
  SLUICE_RETURN_IF_ERROR(ParseActionItems(actions, nullptr, false, "a bucket", &b.actions));
  *out = std::move(b);
  return Status::Ok();
}

std::string FormatBuckets(GroupType type, const std::vector<Bucket>& buckets) {
  std::string s;
  for (const Bucket& b : buckets) {
    s += ",bucket=";
    if (type == GroupType::kSelect) s += fmt::format("weight:{},", b.weight);
    if (b.watch_port != kPortAny) s += fmt::format("watch_port:{},", FormatPort(b.watch_port));
    if (b.watch_group != kGroupAny) s += fmt::format("watch_group:{},", b.watch_group);
    s += "actions=" + FormatOfActions(b.actions);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

Status ParseFlowMod(string_view text, FlowMod::Command command, FlowMod* out) {
  using C = FlowMod::Command;
  bool is_add = command == C::kAdd;
  bool is_delete = command == C::kDelete || command == C::kDeleteStrict;
  FlowMod fm;
  fm.command = command;
  fm.table_id = is_delete ? kAllTables : 0;
  MatchBuilder mb;
  std::optional<string_view> actions;
  std::vector<std::string> seen;  // keywords given

  size_t pos = 0;
  for (;;) {
    string_view item, key, value;
    bool has_value;
    SLUICE_RETURN_IF_ERROR(NextItem(text, &pos, &item));
    if (item.empty()) break;
    SplitKv(item, &key, &value, &has_value);
    if (key == "actions" && has_value) {
      size_t start = static_cast<size_t>(value.data() - text.data());
      actions = text.substr(start);
      break;
    }
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    bool is_flag = false;
    for (const auto& f : kFlagNames) {
      if (key == f.name) {
        if (has_value) return bad(fmt::format("{} takes no value", f.name));
        fm.flags |= f.flag;
        is_flag = true;
      }
    }
    if (is_flag) continue;
    static constexpr const char* kKeywords[] = {
        "table", "priority", "cookie", "idle_timeout", "hard_timeout", "out_port", "out_group"};
    bool keyword = false;
    for (const char* k : kKeywords) keyword = keyword || key == k;
    if (keyword) {
      if (!has_value) return bad(fmt::format("{} needs a value ({}=...)", key, key));
      for (const auto& s : seen) {
        if (s == key) return bad(fmt::format("{} given twice", key));
      }
      seen.emplace_back(key);
    }
    uint64_t n;
    if (key == "duration" || key == "n_packets" || key == "n_bytes" || key == "idle_age" ||
        key == "hard_age") {
      // Statistics in dump-flows output: ignored so that dumps parse back.
    } else if (key == "table") {
      if (!ParseBounded(value, 255, &n)) return bad("table must be 0-254 (255: all, for deletes)");
      if (n == kAllTables && !is_delete) return bad("table=255 (all tables) is only for deletes");
      fm.table_id = static_cast<uint8_t>(n);
    } else if (key == "priority") {
      if (!ParseBounded(value, 0xffff, &n)) return bad("priority must be 0-65535");
      fm.priority = static_cast<int32_t>(n);
    } else if (key == "cookie") {
      size_t slash = value.find('/');
      string_view v = value.substr(0, slash);
      if (!ParseU64(v, &fm.cookie)) return bad("bad cookie value");
      if (slash != string_view::npos) {
        string_view m = value.substr(slash + 1);
        if (m == "-1") {
          fm.cookie_mask = ~uint64_t{0};
        } else if (!ParseU64(m, &fm.cookie_mask)) {
          return bad("bad cookie mask (a number, or -1 for all bits)");
        }
      } else if (is_delete) {
        return bad("a delete selects by cookie with cookie=VALUE/MASK (e.g. /-1)");
      }
    } else if (key == "idle_timeout" || key == "hard_timeout") {
      if (!ParseBounded(value, 0xffff, &n)) return bad("timeout must be 0-65535 seconds");
      (key == "idle_timeout" ? fm.idle_timeout : fm.hard_timeout) = static_cast<uint16_t>(n);
    } else if (key == "out_port") {
      if (is_add) return bad("out_port is a filter of mod-flows and del-flows only");
      uint32_t port;
      if (!ParsePort(value, &port)) return bad("bad port (want a number or a reserved name)");
      fm.out_port = port;
    } else if (key == "out_group") {
      if (is_add) return bad("out_group is a filter of mod-flows and del-flows only");
      if (IEq(value, "any")) {
        fm.out_group = kGroupAny;
      } else if (ParseBounded(value, 0xffffffff, &n)) {
        fm.out_group = static_cast<uint32_t>(n);
      } else {
        return bad("bad group id");
      }
    } else if (key == "actions") {
      return bad("actions needs a value (actions=...)");
    } else {
      SLUICE_RETURN_IF_ERROR(mb.ParseItem(item, key, value, has_value));
    }
  }
  SLUICE_RETURN_IF_ERROR(mb.Finish(&fm.match));
  if (is_delete) {
    if (actions) return Status::Error("'actions=' is not allowed in a delete");
  } else {
    if (!actions) return Status::Error("missing 'actions=' (actions=drop for a flow that drops)");
    SLUICE_RETURN_IF_ERROR(ParseOfInstructions(*actions, &fm.match, &fm.insts));
    if (fm.insts.goto_table && *fm.insts.goto_table <= fm.table_id) {
      return Status::Errorf("goto_table:{} from table {}: goto_table must go to a later table",
                            *fm.insts.goto_table, fm.table_id);
    }
  }
  *out = std::move(fm);
  return Status::Ok();
}

std::string FormatFlowMod(const FlowMod& fm) {
  using C = FlowMod::Command;
  bool is_delete = fm.command == C::kDelete || fm.command == C::kDeleteStrict;
  std::vector<std::string> head;
  if (fm.cookie_mask || (is_delete && fm.cookie)) {
    head.push_back(fmt::format("cookie={:#x}/{:#x}", fm.cookie, fm.cookie_mask));
  } else if (fm.cookie && !is_delete) {
    head.push_back(fmt::format("cookie={:#x}", fm.cookie));
  }
  if (fm.table_id != (is_delete ? kAllTables : 0))
    head.push_back(fmt::format("table={}", fm.table_id));
  if (fm.idle_timeout) head.push_back(fmt::format("idle_timeout={}", fm.idle_timeout));
  if (fm.hard_timeout) head.push_back(fmt::format("hard_timeout={}", fm.hard_timeout));
  AppendFlags(fm.flags, &head);
  if (fm.out_port != kPortAny) head.push_back("out_port=" + FormatPort(fm.out_port));
  if (fm.out_group != kGroupAny) head.push_back(fmt::format("out_group={}", fm.out_group));
  return ComposeFlow(head, fm.priority, fm.match, is_delete ? nullptr : &fm.insts);
}

std::string FormatFlow(const OfRule& rule) {
  std::vector<std::string> head;
  if (rule.cookie) head.push_back(fmt::format("cookie={:#x}", rule.cookie));
  if (rule.table_id) head.push_back(fmt::format("table={}", rule.table_id));
  if (rule.idle_timeout) head.push_back(fmt::format("idle_timeout={}", rule.idle_timeout));
  if (rule.hard_timeout) head.push_back(fmt::format("hard_timeout={}", rule.hard_timeout));
  AppendFlags(rule.flags, &head);
  return ComposeFlow(head, rule.priority(), rule.match(), &rule.insts);
}

Status ParseGroupMod(string_view text, GroupMod::Command command, GroupMod* out) {
  bool is_delete = command == GroupMod::Command::kDelete;
  GroupMod gm;
  gm.command = command;
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  bool have_id = false, have_type = false;
  size_t i = 0;
  for (; i < items.size(); ++i) {
    string_view item = items[i], key, value;
    bool has_value;
    SplitKv(item, &key, &value, &has_value);
    if (key == "bucket" && has_value) break;
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    if (key == "group_id" && has_value) {
      if (have_id) return bad("group_id given twice");
      have_id = true;
      uint64_t n;
      if (IEq(value, "all") || IEq(value, "any")) {
        if (!is_delete) return bad("group_id=all/any is only for deletes");
        gm.group_id = kGroupAny;
      } else if (ParseBounded(value, kGroupMaxId, &n)) {
        gm.group_id = static_cast<uint32_t>(n);
      } else {
        return bad("group id must be 0-4294967040 (0xffffff00)");
      }
    } else if (key == "type" && has_value) {
      if (have_type) return bad("type given twice");
      have_type = true;
      bool found = false;
      for (const auto& t : kGroupTypes) {
        if (value == t.name) {
          gm.type = t.type;
          found = true;
        }
      }
      if (!found) return bad("group type must be all, select, indirect or ff");
    } else {
      return bad("unknown group keyword (want group_id=, type= or bucket=)");
    }
  }
  if (!have_id) {
    if (!is_delete) return Status::Error("missing group_id=");
    gm.group_id = kGroupAny;
  }
  if (!is_delete && !have_type) {
    return Status::Error("missing type= (all, select, indirect or ff)");
  }
  while (i < items.size()) {
    if (is_delete) return Status::Errorf("'{}': a delete takes no buckets", Q(items[i]));
    // items[i] is "bucket=..."; the bucket runs to the next "bucket=".
    std::vector<string_view> pieces;
    pieces.push_back(items[i].substr(std::string_view("bucket=").size()));
    for (++i; i < items.size(); ++i) {
      string_view key, value;
      bool has_value;
      SplitKv(items[i], &key, &value, &has_value);
      if (key == "bucket" && has_value) break;
      pieces.push_back(items[i]);
    }
    Bucket b;
    SLUICE_RETURN_IF_ERROR(ParseBucket(pieces, gm.type, &b));
    gm.buckets.push_back(std::move(b));
  }
  if (!is_delete && gm.type == GroupType::kIndirect && gm.buckets.size() != 1) {
    return Status::Errorf("an indirect group has exactly one bucket (got {})", gm.buckets.size());
  }
  *out = std::move(gm);
  return Status::Ok();
}

std::string FormatGroupMod(const GroupMod& gm) {
  if (gm.command == GroupMod::Command::kDelete) {
    return gm.group_id == kGroupAny ? std::string("group_id=all")
                                    : fmt::format("group_id={}", gm.group_id);
  }
  return fmt::format("group_id={},type={}", gm.group_id, GroupTypeText(gm.type)) +
         FormatBuckets(gm.type, gm.buckets);
}

std::string FormatGroup(const Group& g) {
  return fmt::format("group_id={},type={}", g.id, GroupTypeText(g.type)) +
         FormatBuckets(g.type, g.buckets);
}

}  // namespace sluice::ofproto
