#pragma once
// What: translation ("xlate"): runs one packet's flow through the OpenFlow
// pipeline and produces what the datapath needs: the datapath actions and
// the megaflow mask (every flow bit the outcome depended on), plus the rules
// that were hit (for statistics) and, on request, a trace of every step.
//
// Design: the pipeline is executed on a working copy of the flow. Actions
// that change the packet (set-field, push/pop VLAN, dec_ttl) change the
// working copy only; just before the packet leaves (output, controller,
// group bucket) the differences between the working copy and what the
// datapath packet looks like so far are "committed" as datapath set/push/pop
// actions. Every read that influences the result un-wildcards what it read:
// table lookups (the classifier reports its bits), NORMAL (in_port, VLAN,
// Ethernet addresses), select groups (the hashed fields), dec_ttl (the TTL),
// set-field targets (commit compares them), and in_port and recirc_id are
// always exact.
//
// Limits: goto_table only goes forward (at most 255 tables); group chains at
// most kMaxGroupDepth deep; at most kMaxDpActions datapath actions. Hitting a
// limit ends the translation as a drop with `error` set, never a hang.
//
// Invariants (tested by the megaflow soundness property):
//   1. Any flow that agrees with the translated one on every bit of wc
//      translates to the same datapath actions.
//   2. wc.dp's in_port and recirc_id are exact.
//
// Thread-safety: Xlate() reads the environment; the caller holds the
// bridge's lock (shared). MAC learning has its own lock.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"
#include "ofproto/mac_learning.h"
#include "ofproto/of_flow.h"

namespace sluice::ofproto {

inline constexpr int kMaxGroupDepth = 32;
inline constexpr size_t kMaxDpActions = 256;

// How a port takes part in NORMAL switching (Port.tag / trunks / vlan_mode).
struct XlatePort {
  uint32_t ofport = 0;
  bool live = true;               // link up and not administratively down
  uint16_t tag = 0;               // access VLAN (1-4095), 0 = trunk
  std::vector<uint16_t> trunks;   // allowed VLANs on a trunk; empty = all
  bool Carries(uint16_t vlan) const;
};

// Why a packet goes to the controller (OFPR_*).
enum class PacketInReason : uint8_t { kNoMatch = 0, kAction = 1, kInvalidTtl = 2 };

struct ControllerRequest {
  PacketInReason reason = PacketInReason::kAction;
  uint8_t table_id = 0;
  uint16_t max_len = 0;
  uint64_t rule_cookie = 0;
  uint64_t metadata = 0;  // the pipeline's metadata when the packet was sent
  bool operator==(const ControllerRequest&) const = default;
};

struct XlateEnv {
  const FlowTables* tables = nullptr;
  const GroupTable* groups = nullptr;
  MacLearning* mac = nullptr;         // nullptr: NORMAL floods
  bool learn = true;                  // NORMAL may learn (false: revalidation, trace)
  std::vector<XlatePort> ports;       // sorted by ofport
  uint32_t local_port = 0;            // datapath port of OFPP_LOCAL (0 = none)
  uint64_t now_ms = 0;
  bool miss_to_controller = false;    // table-miss sends to the controller (OF1.0 style)
  // Turns a controller request into the userspace cookie the datapath carries.
  std::function<uint64_t(const ControllerRequest&)> controller_cookie;
  const XlatePort* Port(uint32_t ofport) const;
};

struct XlateResult {
  std::vector<dp::DpAction> actions;
  OfMask wc;
  std::vector<OfRulePtr> rules;
  // Groups executed and the bucket each ran (-1: none, -2: all), for statistics.
  std::vector<std::pair<uint32_t, int>> groups;
  enum class Error : uint8_t { kNone, kTooManyActions, kGroupTooDeep, kUnsupportedSet } error =
      Error::kNone;
  bool learned = false;  // NORMAL learned or moved a MAC
  std::vector<std::string>* trace = nullptr;  // when set, each step is appended
};

// Translates `flow` (its dp part as parsed; pipeline words zero).
void Xlate(const XlateEnv& env, const OfFlow& flow, XlateResult* out);

// Translates `flow` through an explicit action list instead of the tables
// (packet-out). OFPP_TABLE in the list runs the tables.
void XlateActions(const XlateEnv& env, const OfFlow& flow, const OfActionList& actions,
                  XlateResult* out);

const char* XlateErrorName(XlateResult::Error e);

}  // namespace sluice::ofproto
