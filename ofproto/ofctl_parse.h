#pragma once
// What: the ovs-ofctl text syntax for OpenFlow flows, matches, instructions,
// actions and groups: parsers that turn what a user types for add-flow,
// mod-flows, del-flows and add-group into FlowMod / GroupMod values, and
// formatters that print rules, flow-mods and groups back in the style of
// `ovs-ofctl dump-flows --no-stats` / `dump-groups`, e.g.
//
//   table=0,priority=100,in_port=1,ip,nw_dst=10.0.0.0/24,actions=output:2
//   group_id=1,type=select,bucket=weight:1,actions=output:2,bucket=...
//
// Design: a flow is a list of items separated by commas or white space
// (commas inside parentheses do not split). Everything after the first
// top-level "actions=" is the instruction list. Each other item is
//   - a flow-mod keyword: table, priority, cookie, idle_timeout,
//     hard_timeout, out_port, out_group, or the flags send_flow_rem,
//     check_overlap, reset_counts, no_packet_counts, no_byte_counts (the
//     dump-flows statistics duration, n_packets, n_bytes, idle_age and
//     hard_age are accepted and ignored, so dump output parses back);
//   - a protocol shorthand: ip ipv6 icmp icmp6 tcp tcp6 udp udp6 sctp sctp6
//     arp rarp (sets eth_type and, for the L4 ones, ip_proto);
//   - FIELD=VALUE[/MASK] for every field name and alias of the field
//     registry (meta_flow.h) plus the ovs-ofctl extras dl_vlan (OF1.0 VID:
//     vlan_vid = 0x1000|VID; 0xffff = no tag), vlan_tci (the raw TCI with
//     the 0x1000 present bit), nw_tos (the DS byte; its ECN bits are
//     ignored, as in ovs-ofctl), tp_src/tp_dst (the L4 port of whatever
//     tcp/udp/sctp the match says), ip_src/ip_dst.
// Values: decimal or 0x-hex integers, MAC, dotted IPv4, RFC 4291 IPv6,
// port names (LOCAL, CONTROLLER, ...) for in_port; tcp_flags also takes
// "+syn-ack" flag syntax. Masks: "/value" for integers and MACs, "/N" or
// "/dotted" for IPv4, "/N" or "/address" for IPv6. A mask on a field the
// registry marks as not maskable is an error.
//
// Decisions (tested in tests/ofproto/ofctl_parse_test.cc):
//   - A field given twice is an error; so is a field that overlaps another's
//     storage (tcp_dst and udp_dst). A shorthand may repeat what a field
//     says ("tcp,nw_proto=6") but not contradict it ("tcp,udp").
//   - Prerequisites are checked after the whole match is read (so order
//     does not matter): each field must have its OpenFlow prerequisites
//     matched exactly, with the ovs-ofctl leniencies nw_src/nw_dst/nw_proto
//     under arp (= arp_spa/arp_tpa/arp_op) and icmp_type/icmp_code under
//     icmp6. Errors read "'tp_dst=80': tp_dst requires tcp, udp or sctp
//     (nw_proto)". Set-field actions (also mod_*) are checked against the
//     flow's match the same way, except vlan_vid/vlan_pcp (push_vlan may
//     supply the tag).
//   - dl_vlan_pcp / vlan_pcp also match the VLAN present bit (a priority
//     only exists on a tagged packet), as ovs-ofctl does.
//   - Instructions: the plain actions are apply-actions; write_actions(...),
//     apply_actions(...), clear_actions, write_metadata:V[/M], goto_table:N
//     and meter:N are instructions, at most one of each, in OpenFlow's order
//     (meter, apply_actions, clear_actions, write_actions, write_metadata,
//     goto_table). "drop" (or an empty list) means no instructions at all
//     (has_apply stays false) and may not be combined with anything. A
//     write_actions list holds at most one action of each kind (one
//     set_field per field), because the action set can keep no more.
//   - mod_tp_src/mod_tp_dst and set_field:V->tp_src/tp_dst pick tcp, udp or
//     sctp from the match's ip_proto (tcp when unknown: a group bucket).
//     mod_vlan_vid:N is set_field:(0x1000|N)->vlan_vid; set_field of a
//     vlan_vid below 0x1000 gets the present bit added (as in Open vSwitch,
//     setting a VID always yields a tagged VID). mod_vlan_vid and
//     mod_vlan_pcp also push a tag first (push_vlan:0x8100) when the packet
//     is untagged at that point: the match does not guarantee a tag, or a
//     pop_vlan came earlier in the list, and no push_vlan since (as
//     ovs-ofctl does; with no match, in a group bucket, nothing is pushed).
//     mod_nw_tos:DS sets ip_dscp to DS>>2. set_field with a mask is not
//     supported.
//   - cookie=V sets the cookie (add) or the cookie field with no filter
//     (modify); cookie=V/M sets a filter (mask -1 = all bits). A delete
//     needs the mask form. An add keeps a given mask, which has no effect.
//   - Table defaults: 0 for add and modify, kAllTables for delete; table=255
//     is accepted only for delete. Priority defaults to 0x8000. Add and
//     modify need "actions="; delete refuses it. out_port/out_group are
//     filters of modify and delete only. goto_table must go to a later
//     table than the flow's.
//   - Groups: group_id (0..0xffffff00; for delete also "all"/"any", which
//     give kGroupAny, the table's delete-all), type=all|select|indirect|ff
//     (also fast_failover), then buckets. A bucket is "bucket=" followed by
//     weight:N, watch_port:P, watch_group:N (':' or '='; bucket_id is
//     accepted and ignored), then "actions=LIST" or just the actions. Select
//     buckets default to weight 1; weight elsewhere is an error; an indirect
//     group has exactly one bucket; a fast-failover bucket needs a watch.
//     Add and modify need type=; delete refuses buckets.
//   - Formatting prints ovs-ofctl's preferred names (dl_src, nw_dst, tp_dst,
//     arp_spa, icmp_type, ...), a protocol shorthand where eth_type (and
//     ip_proto) are exact, the VLAN as dl_vlan/dl_vlan_pcp when it can and
//     vlan_tci=V/M otherwise, and omits defaults (cookie 0, table 0,
//     priority 0x8000). Bits of an OfMatch outside the field registry
//     (recirc_id, nw_frag, the inner VLAN, ...) are not printed.
//
// Invariants:
//   1. For every text T that ParseFlowMod(T, c) accepts, giving fm,
//      ParseFlowMod(FormatFlowMod(fm), c) accepts and gives fm again; the
//      same holds for ParseOfMatch/FormatOfMatch and
//      ParseGroupMod/FormatGroupMod.
//   2. A parsed match has no value bit outside its mask and satisfies
//      CheckPrerequisites().
//   3. On error the parsers return a Status whose message quotes the
//      offending item, and leave *out unchanged.
//   4. No input crashes a parser or makes it throw (other than bad_alloc).
//
// Thread-safety: pure functions.
//
// Memory: builds std::strings and vectors; no global state.

#include <string>
#include <string_view>

#include "datapath/util/status.h"
#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"

namespace sluice::ofproto {

// The match part of a flow only ("ip,nw_dst=10.0.0.0/24"); an empty text is
// the catch-all match. Flow-mod keywords (priority=, actions=) are errors.
Status ParseOfMatch(std::string_view text, OfMatch* match);
// The match in ovs-ofctl style, "" for the catch-all match.
std::string FormatOfMatch(const OfMatch& match);

// A flow for add-flow (kAdd), mod-flows (kModify, kModifyStrict) or
// del-flows (kDelete, kDeleteStrict).
Status ParseFlowMod(std::string_view text, FlowMod::Command command, FlowMod* out);
// The flow-mod as text that ParseFlowMod(text, fm.command) reads back.
std::string FormatFlowMod(const FlowMod& fm);
// A rule in `ovs-ofctl dump-flows --no-stats` style:
// "cookie=0x5, table=1, priority=100,ip,in_port=1 actions=output:2".
std::string FormatFlow(const OfRule& rule);

// What follows "actions=". `match` (may be null) is the flow's match, the
// context for mod_tp_* and for set-field prerequisites (unchecked when null).
Status ParseOfInstructions(std::string_view text, const OfMatch* match, Instructions* out);
std::string FormatOfInstructions(const Instructions& insts);  // "drop" when empty
// A plain action list (a group bucket): no instructions; "drop" or "" is
// the empty list.
Status ParseOfActions(std::string_view text, OfActionList* out);
std::string FormatOfActions(const OfActionList& actions);  // "drop" when empty

// A group for add-group (kAdd), mod-group (kModify), del-groups (kDelete).
Status ParseGroupMod(std::string_view text, GroupMod::Command command, GroupMod* out);
// The group-mod as text that ParseGroupMod(text, gm.command) reads back.
std::string FormatGroupMod(const GroupMod& gm);
// "group_id=1,type=select,bucket=weight:1,actions=output:2,..."
std::string FormatGroup(const Group& group);

}  // namespace sluice::ofproto
