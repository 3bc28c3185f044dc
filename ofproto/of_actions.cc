#include "ofproto/of_actions.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::ofproto {

bool OfAction::operator==(const OfAction& o) const {
  if (type != o.type) return false;
  switch (type) {
    case OfActionType::kOutput: return port == o.port && max_len == o.max_len;
    case OfActionType::kGroup: return group_id == o.group_id;
    case OfActionType::kSetField: return field == o.field && value == o.value;
    case OfActionType::kPushVlan: return ethertype == o.ethertype;
    case OfActionType::kPopVlan:
    case OfActionType::kDecTtl: return true;
    case OfActionType::kSetQueue: return queue_id == o.queue_id;
  }
  return false;
}

void ActionSet::Write(const OfActionList& actions) {
  for (const OfAction& a : actions) {
    auto same = [&](const OfAction& b) {
      return b.type == a.type && (a.type != OfActionType::kSetField || b.field == a.field);
    };
    auto it = std::find_if(actions_.begin(), actions_.end(), same);
    if (it != actions_.end()) {
      *it = a;
    } else {
      actions_.push_back(a);
    }
  }
}

OfActionList ActionSet::ActionSetOrder() const {
  static constexpr OfActionType kOrder[] = {OfActionType::kPopVlan, OfActionType::kPushVlan,
                                            OfActionType::kDecTtl, OfActionType::kSetField,
                                            OfActionType::kSetQueue};
  OfActionList out;
  for (OfActionType t : kOrder) {
    std::vector<const OfAction*> of_type;
    for (const auto& a : actions_) {
      if (a.type == t) of_type.push_back(&a);
    }
    std::sort(of_type.begin(), of_type.end(), [](const OfAction* x, const OfAction* y) {
      return static_cast<int>(x->field) < static_cast<int>(y->field);
    });
    for (const OfAction* a : of_type) out.push_back(*a);
  }
  auto group = std::find_if(actions_.begin(), actions_.end(),
                            [](const OfAction& a) { return a.type == OfActionType::kGroup; });
  if (group != actions_.end()) {
    out.push_back(*group);  // a group in the action set overrides output
  } else {
    auto output = std::find_if(actions_.begin(), actions_.end(),
                               [](const OfAction& a) { return a.type == OfActionType::kOutput; });
    if (output != actions_.end()) out.push_back(*output);
  }
  return out;
}

bool Instructions::operator==(const Instructions& o) const {
  return meter == o.meter && apply == o.apply && has_apply == o.has_apply &&
         clear_actions == o.clear_actions && write == o.write &&
         has_write_metadata == o.has_write_metadata && metadata == o.metadata &&
         metadata_mask == o.metadata_mask && goto_table == o.goto_table;
}

bool Instructions::OutputsTo(uint32_t port) const {
  auto in = [port](const OfActionList& l) {
    return std::any_of(l.begin(), l.end(), [port](const OfAction& a) {
      return a.type == OfActionType::kOutput && a.port == port;
    });
  };
  return in(apply) || (write && in(*write));
}

bool Instructions::UsesGroup(uint32_t group_id) const {
  auto in = [group_id](const OfActionList& l) {
    return std::any_of(l.begin(), l.end(), [group_id](const OfAction& a) {
      return a.type == OfActionType::kGroup && a.group_id == group_id;
    });
  };
  return in(apply) || (write && in(*write));
}

std::string FormatPort(uint32_t port) {
  switch (port) {
    case kPortInPort: return "IN_PORT";
    case kPortTable: return "TABLE";
    case kPortNormal: return "NORMAL";
    case kPortFlood: return "FLOOD";
    case kPortAll: return "ALL";
    case kPortController: return "CONTROLLER";
    case kPortLocal: return "LOCAL";
    case kPortAny: return "ANY";
    default: return std::to_string(port);
  }
}

namespace {

std::string FormatValue(FieldId id, const FieldValue& v) {
  const FieldInfo& f = Field(id);
  if (f.bytes == 6) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", v.b[0], v.b[1], v.b[2], v.b[3],
                       v.b[4], v.b[5]);
  }
  if (f.bytes == 4 && (id == FieldId::kIpv4Src || id == FieldId::kIpv4Dst ||
                       id == FieldId::kArpSpa || id == FieldId::kArpTpa)) {
    return fmt::format("{}.{}.{}.{}", v.b[0], v.b[1], v.b[2], v.b[3]);
  }
  if (f.bytes == 16) {
    std::string s;
    for (int i = 0; i < 16; i += 2) {
      if (i) s += ':';
      s += fmt::format("{:x}", v.b[i] << 8 | v.b[i + 1]);
    }
    return s;
  }
  return fmt::format("{}", v.ToUint());
}

std::string FormatList(const OfActionList& l) {
  std::string s;
  for (const auto& a : l) {
    if (!s.empty()) s += ',';
    s += FormatAction(a);
  }
  return s;
}

}  // namespace

std::string FormatAction(const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      if (a.port == kPortController) return fmt::format("CONTROLLER:{}", a.max_len);
      if (a.port > kPortMax) return FormatPort(a.port);
      return fmt::format("output:{}", a.port);
    case OfActionType::kGroup: return fmt::format("group:{}", a.group_id);
    case OfActionType::kSetField:
      return fmt::format("set_field:{}->{}", FormatValue(a.field, a.value), Field(a.field).name);
    case OfActionType::kPushVlan: return fmt::format("push_vlan:0x{:04x}", a.ethertype);
    case OfActionType::kPopVlan: return "pop_vlan";
    case OfActionType::kDecTtl: return "dec_ttl";
    case OfActionType::kSetQueue: return fmt::format("set_queue:{}", a.queue_id);
  }
  return "?";
}

std::string FormatInstructions(const Instructions& i) {
  std::vector<std::string> parts;
  if (i.meter) parts.push_back(fmt::format("meter:{}", *i.meter));
  if (i.has_apply) parts.push_back(i.apply.empty() ? std::string("drop") : FormatList(i.apply));
  if (i.clear_actions) parts.push_back("clear_actions");
  if (i.write) parts.push_back("write_actions(" + FormatList(*i.write) + ")");
  if (i.has_write_metadata) {
    parts.push_back(fmt::format("write_metadata:0x{:x}/0x{:x}", i.metadata, i.metadata_mask));
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

}  // namespace sluice::ofproto
