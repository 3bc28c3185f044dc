#include "ofproto/of_actions.h"

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

}  // namespace sluice::ofproto
