#pragma once
// What: translation of a megaflow (match, mask, datapath actions) into an
// rte_flow rule for DPDK 22.11: attributes, an END-terminated item array and
// an END-terminated action array, each pointing into storage the rule owns.
//
// Design: two modes.
//   - kFull: a `transfer` rule for the switch domain's proxy port. The
//     pattern always starts with the traffic's source (REPRESENTED_PORT with
//     the ethdev id that represents the input port; never the deprecated
//     PORT_ID), then ETH [VLAN [VLAN]] [IPV4|IPV6 [TCP|UDP|SCTP|ICMP|ICMP6]].
//     Actions: COUNT first, then the datapath actions in order (VLAN
//     push/pop as OF_* actions, header rewrites as SET_*), each output as
//     REPRESENTED_PORT; a list without output ends in DROP.
//   - kPartial: an `ingress` rule on the ethdev Sluice receives the input
//     port's traffic on: the same L2-L4 pattern (in unified representor mode
//     preceded by META matching the source id the eSwitch stamps into the
//     packet), actions COUNT, MARK{mark}, then QUEUE{0} (one rx queue) or RSS
//     over all rx queues. The datapath actions stay in software.
// A rule must match a SUBSET of the packets the megaflow matches and do
// exactly what the megaflow does to them: packets the rule does not match
// simply miss in hardware and are handled by software. So the translator
// may narrow (a megaflow that does not look at VLAN tags gets `has_vlan 0`,
// an IPv6 next-header match excludes packets with extension headers), and
// reports it, but never widens: every mask bit of the megaflow must be
// consumed by some item field, else the flow is refused with
// kUnsupportedMatchField naming the field.
//
// Invariants:
//   1. On kOk, out->items() ends with RTE_FLOW_ITEM_TYPE_END and
//      out->actions() with RTE_FLOW_ACTION_TYPE_END; every spec/mask/conf
//      pointer points into *out's own storage (valid until *out dies; moving
//      *out keeps them valid).
//   2. Every bit set in the FlowMask is represented in the pattern (no
//      widening); otherwise the result is a refusal, never a partial rule.
//   3. kFull rules have attr.transfer=1 and a source item first; kPartial
//      rules have attr.ingress=1 and no transfer-only item or action.
//   4. Deterministic: the same input gives byte-identical arrays.
//
// Thread-safety: Translate is a pure function of its arguments; a PortMap
// is read-only while translations run (the offload thread owns it).
//
// Memory: a rule owns ~1-2 KiB (items, actions and their structs).

#include <rte_flow.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/flow/flow_key.h"

namespace sluice::offload {

// Why a megaflow (or one of its modes) is not offloaded. Names are
// user-visible (`sluicectl offload-stats`).
#define SLUICE_OFFLOAD_REASONS(X)                                                            \
  X(kOk, "ok", "offloaded")                                                                  \
  X(kUnsupportedMatchField, "unsupported_match_field",                                       \
    "match on a field rte_flow translation does not cover")                                  \
  X(kUnsupportedAction, "unsupported_action", "datapath action with no rte_flow equivalent") \
  X(kUnknownPort, "unknown_port", "input port is not a port of any switch domain")           \
  X(kCrossDomainOutput, "cross_domain_output",                                               \
    "output to a port outside the input port's switch domain")                               \
  X(kRefusedByDevice, "refused_by_device", "the device's validation refused the rule")       \
  X(kTableFull, "table_full", "the device's flow table is full")                             \
  X(kDeviceError, "device_error", "the device failed to create, query or destroy the rule")  \
  X(kPartialDisabled, "partial_disabled", "partial offload not enabled for this port")

enum class Reason : uint8_t {
#define SLUICE_X(name, str, text) name,
  SLUICE_OFFLOAD_REASONS(SLUICE_X)
#undef SLUICE_X
      kCount
};

const char* ReasonName(Reason r);  // kTableFull -> "table_full"
const char* ReasonText(Reason r);

enum class Mode : uint8_t { kFull, kPartial };
const char* ModeName(Mode m);  // "full", "partial"

// What the offload layer knows about one datapath port.
struct OffloadPort {
  uint32_t domain_id = 0;      // rte_eth_dev_info.switch_info.domain_id
  uint16_t flow_port_id = 0;   // id in REPRESENTED_PORT items/actions (the
                               // representor's or the uplink's ethdev id)
  uint16_t rx_port_id = 0;     // ethdev Sluice receives this port's traffic on
                               // (the representor, or the proxy in unified mode)
  uint16_t proxy_port_id = 0;  // rte_flow_pick_transfer_proxy() of the domain
  uint16_t n_rxq = 1;          // rx queues of rx_port_id (QUEUE vs RSS)
  bool unified = false;        // traffic arrives on the proxy with metadata
  bool partial_ok = true;      // partial offload allowed on rx_port_id
};

// Which switch domain / representor / ethdev each datapath port is. Ports
// not in the map (vhost, tap, ports of NICs without rte_flow) are not
// offloadable.
class PortMap {
 public:
  void Set(uint32_t dp_port, const OffloadPort& p) { ports_[dp_port] = p; }
  void Erase(uint32_t dp_port) { ports_.erase(dp_port); }
  const OffloadPort* Find(uint32_t dp_port) const {
    auto it = ports_.find(dp_port);
    return it == ports_.end() ? nullptr : &it->second;
  }
  size_t size() const { return ports_.size(); }

 private:
  std::unordered_map<uint32_t, OffloadPort> ports_;
};

// One rte_flow rule with everything it points to.
class RteFlowRule {
 public:
  RteFlowRule() = default;
  RteFlowRule(RteFlowRule&&) = default;
  RteFlowRule& operator=(RteFlowRule&&) = default;
  RteFlowRule(const RteFlowRule&) = delete;
  RteFlowRule& operator=(const RteFlowRule&) = delete;

  // Deep copy of caller-owned arrays (what a device does when it compiles a
  // rule: the application may free its arrays after rte_flow_create).
  // Returns false for an item or action type whose struct size is unknown.
  bool CopyFrom(uint16_t port_id, const rte_flow_attr& attr, const rte_flow_item* items,
                const rte_flow_action* actions);

  uint16_t port_id = 0;  // the ethdev the rule is created on
  Mode mode = Mode::kFull;
  rte_flow_attr attr{};

  const std::vector<rte_flow_item>& items() const { return items_; }
  const std::vector<rte_flow_action>& actions() const { return actions_; }
  const rte_flow_item* pattern() const { return items_.data(); }
  const rte_flow_action* action_array() const { return actions_.data(); }

  // Building (used by Translate and CopyFrom).
  template <typename T>
  T* Alloc() {
    storage_.emplace_back(new uint8_t[sizeof(T)]());
    return reinterpret_cast<T*>(storage_.back().get());
  }
  void* AllocBytes(size_t n) {
    storage_.emplace_back(new uint8_t[n == 0 ? 1 : n]());
    return storage_.back().get();
  }
  template <typename T>
  void AddItem(rte_flow_item_type type, const T* spec, const T* mask) {
    items_.push_back(rte_flow_item{type, spec, nullptr, mask});
  }
  void AddItem(rte_flow_item_type type) {
    items_.push_back(rte_flow_item{type, nullptr, nullptr, nullptr});
  }
  template <typename T>
  T* AddAction(rte_flow_action_type type) {
    T* conf = Alloc<T>();
    actions_.push_back(rte_flow_action{type, conf});
    return conf;
  }
  void AddAction(rte_flow_action_type type) { actions_.push_back(rte_flow_action{type, nullptr}); }
  void Clear();

 private:
  std::vector<std::unique_ptr<uint8_t[]>> storage_;
  std::vector<rte_flow_item> items_;
  std::vector<rte_flow_action> actions_;
};

// Byte size of an item's spec/mask struct, or of an action's conf struct;
// 0 when the type carries none, -1 when unknown to this code.
int ItemSpecSize(rte_flow_item_type t);
int ActionConfSize(rte_flow_action_type t);
const char* ItemTypeName(rte_flow_item_type t);      // "eth", "ipv4", ...
const char* ActionTypeName(rte_flow_action_type t);  // "count", "set_ipv4_dst", ...

struct TranslateResult {
  Reason reason = Reason::kOk;
  std::string detail;     // which field/action/port, for logs
  bool narrowed = false;  // the rule matches a strict subset of the megaflow
  bool ok() const { return reason == Reason::kOk; }
};

// Translates one megaflow. `key` need not be masked. `mark` is the MARK id
// for kPartial (the offload thread allocates one per flow).
TranslateResult Translate(const dp::FlowKey& key, const dp::FlowMask& mask,
                          const std::vector<dp::DpAction>& actions, const PortMap& ports, Mode mode,
                          RteFlowRule* out, uint32_t mark = 0);

// out = key & mask, byte by byte. (dp::MaskKey reads the key as uint64_t
// words; where it is inlined right after stores to a key's fields, GCC's
// type-based alias analysis may move the stores past the loads.)
void MaskKeyBytes(const dp::FlowKey& key, const dp::FlowMask& mask, dp::FlowKey* out);

// testpmd-like text of a rule, for logs and golden tests:
//   "transfer pattern represented_port port_id 3 / eth type 0x0800/0xffff has_vlan 0/1 /
//    end actions count / represented_port port_id 4 / end"
// Only masked fields of items are printed, as value/mask.
std::string FormatRule(const RteFlowRule& rule);

}  // namespace sluice::offload
