#pragma once
// What: the text form of datapath actions in the style of Open vSwitch's
// `ovs-dpctl dump-flows` ("push_vlan(vid=10,pcp=0),set(ipv4(dst=10.0.0.2)),2"),
// its parser, and the parser of a whole flow, "MATCH actions:ACTIONS" (the
// daemon's --flow argument and a dump-flows line without its statistics).
//
// Design: actions are printed in order, separated by commas:
//
//   N                          kOutput to port N (decimal)
//   drop                       the empty list (and only it)
//   userspace(cookie=0x1234)   kUserspace
//   recirc(0x5)                kRecirc (recirc(0) for id 0)
//   meter(7)                   kMeter (decimal meter id)
//   push_vlan(vid=10,pcp=0)    kPushVlan; tpid=0x.... first when it is not
//                              0x8100, cfi=0 last when tci lacks kVlanPresent
//   pop_vlan                   kPopVlan
//   set(eth(src=,dst=))        kSetEth
//   set(ipv4(src=,dst=,tos=,ttl=))
//   set(ipv6(src=,dst=,label=,tclass=,hlimit=))
//   set(tcp(src=,dst=)), set(udp(...)), set(sctp(...))
//   set(arp(sip=,tip=,op=,sha=,tha=))      kSetArp (op: the 16-bit opcode)
//   set(icmp(type=,code=)), set(icmpv6(type=,code=))
//   set(nd(target=,sll=,tll=))             kSetNd
//
// Set actions are masked: a field whose mask is zero is left out, a full
// mask prints the bare value, any other mask value/mask exactly as in a
// match ("set(ipv4(src=10.0.0.0/255.255.255.0))"; see flow_format.h for the
// value forms and natural widths). The value is printed under its mask, so
// value bits outside the mask never show and parse back as zero. A set with
// every mask zero prints as "set(eth())" and parses back.
//
// Parsing accepts what FormatActions prints, fields in any order, omitted
// push_vlan fields (tpid 0x8100, vid 0, pcp 0, cfi 1), omitted set fields
// (not written), and whitespace between tokens. "" is an error (write "drop");
// "drop" must stand alone. Errors name the token: "set(ipv4(dst=1.2.3.400)):
// bad IPv4 address", "'foo': unknown action".
//
// Actions are built field by field (zeroed with memset, then type and the
// union member set), so two equal parses are bitwise equal.
//
// Invariants:
//   1. ParseActions(FormatActions(a)) == a (bitwise, for memset-built
//      actions whose set values lie inside their masks).
//   2. FormatActions(ParseActions(t)) == t for every t FormatActions printed.
//   3. On error *out is left empty.
//
// Thread-safety: pure functions.
//
// Memory: builds std::strings and vectors; no global state.

#include <string>
#include <string_view>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/flow/flow_key.h"
#include "datapath/util/status.h"

namespace sluice::dp {

std::string FormatAction(const DpAction& action);
std::string FormatActions(const std::vector<DpAction>& actions);
Status ParseActions(std::string_view text, std::vector<DpAction>* out);

// "MATCH actions:ACTIONS"; an empty match prints as "actions:ACTIONS".
std::string FormatFlowSpec(const FlowKey& key, const FlowMask& mask,
                           const std::vector<DpAction>& actions);

// Parses "MATCH actions:ACTIONS" ("actions:" at the start or after a blank
// or comma). The match may be followed by a comma, and dump-flows statistics
// items before "actions:" ("name:value", e.g. ufid:, packets:, bytes:,
// used:, pmd:) are skipped, so a whole `sluicectl dump-flows` line parses
// too, including one with an empty match ("ufid:..., , packets:..."). On
// success *key is masked by *mask; on error all three outputs are cleared.
Status ParseFlowSpec(std::string_view text, FlowKey* key, FlowMask* mask,
                     std::vector<DpAction>* actions);

}  // namespace sluice::dp
