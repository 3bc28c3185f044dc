#pragma once
// What: the text form of a megaflow match (a FlowKey under a FlowMask), in the
// style of Open vSwitch's `ovs-dpctl dump-flows`, and its parser. Used by
// `sluicectl dump-flows`, the daemon's `--flow 'MATCH actions:ACTIONS'`
// option, logs and tests. Also the address helpers (MAC, IPv4, IPv6) and the
// field codec that actions_format.h reuses for set() actions.
//
// Design: a match is a comma-separated list of field groups,
//
//   recirc_id(0),in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),
//   eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.1.0.0/255.255.0.0,proto=17,
//   frag=no),udp(dst=53)
//
// printed in this order (every group is optional):
//
//   recirc_id(N)  dp_hash(N)  in_port(N)  pkt_mark(N)
//   eth(src=MAC,dst=MAC)
//   vlan(tpid=,vid=,pcp=,cfi=)     vlan[0], the outer tag
//   vlan(tpid=,vid=,pcp=,cfi=)     vlan[1], the inner tag (QinQ): the second
//                                  vlan group always means vlan[1]
//   eth_type(0x0800)
//   ipv4(src=,dst=,proto=,tos=,ttl=,frag=)
//   ipv6(src=,dst=,label=,proto=,tclass=,hlimit=,frag=)
//   arp(sip=,tip=,op=,sha=,tha=)
//   tcp|udp|sctp|l4(src=,dst=)  or  icmp|icmpv6(type=,code=)
//   tcp_flags(N)
//   nd(target=,sll=,tll=)
//
// A group is printed iff some bit of its fields' mask is set; a field inside
// it iff its own mask is non-zero. A field whose mask is its full natural
// width prints the bare value ("proto=17"); any other mask prints value/mask
// ("dst=80/0xfff0", "dst=10.1.0.0/255.255.0.0", "src=2001:db8::/32",
// "src=00:11:22:00:00:00/ff:ff:ff:00:00:00"). Integers print in decimal
// (ports, proto, ttl, vid, ...) or hex (eth_type, tpid, tos, label, marks,
// hashes, recirc ids, tcp_flags); masks always print in hex. IPv4 masks print
// dotted, IPv6 masks as a prefix length when they are one (else as an
// address); the parser takes both forms for both families ("/24",
// "/255.255.255.0", "/64", "/ffff:ffff::").
//
// Decisions the text format needs (documented here, tested in
// tests/datapath/flow_format_test.cc):
//   - The key is masked before printing; bits outside the mask never show.
//   - "Natural width", the mask a bare value means: the whole field, except
//     ipv6 label (0xfffff, 20 bits), tcp_flags (0x0fff, 12 bits), frag (0x03)
//     and icmp/icmpv6 type and code (0x00ff, although tp_src/tp_dst are 16
//     bits). A mask wider than that (ExactMask() sets every bit) prints
//     explicitly, e.g. "frag=no/0xff", "label=0x1/0xffffffff".
//   - Some key fields are shared between groups (see flow_key.h). Each is
//     printed exactly once, in the group chosen by the exact eth_type:
//     ARP (0x0806, 0x8035): nw_src/nw_dst/nw_proto print as arp(sip,tip,op);
//     IPv6 (0x86dd): nw_proto/nw_tos/nw_ttl/nw_frag print in ipv6(), and
//     arp_sha/arp_tha as nd(sll,tll); otherwise they print in ipv4() and
//     arp(sha,tha). Parsing writes whatever storage a named field has,
//     whatever the eth_type, so any key/mask round-trips.
//   - The L4 group is named from the exact nw_proto: 6 tcp, 17 udp, 132 sctp,
//     1 icmp (only when eth_type is 0x0800), 58 icmpv6 (only when 0x86dd);
//     anything else (proto wildcarded, ARP, ...) prints as l4(src=,dst=).
//     On input a tcp/udp/sctp/icmp/icmpv6/l4 group sets tp_src/tp_dst only:
//     it implies nothing about eth_type or nw_proto, which the user gives
//     (as in "eth_type(0x0800),ipv4(proto=6),tcp(dst=80)").
//   - frag=no|first|later means nw_frag 0, kFragAny, kFragAny|kFragLater
//     under mask 0x03; other values print in hex ("frag=0x2").
//   - vlan: tci's kVlanPresent bit is "cfi". A vlan() group means "tag
//     present" (cfi exact 1) unless it says cfi=0 (matches "no tag": present
//     bit exact 0) or cfi=* (present bit not matched). vlan() alone is "any
//     tag". If only vlan[1] is matched, the first group is printed as the
//     placeholder vlan(cfi=*) so that the second one still means vlan[1].
//   - pad13, pad14 and pad15 are never printed and parse as zero.
//   - An empty mask prints as "" and "" parses as match-everything.
//
// Parsing accepts everything FormatMatch prints, plus groups with fields
// omitted (wildcards), fields in any order, decimal or 0x-hex for any
// integer, and whitespace around tokens. Errors name the offending token:
// "ipv4(dst=10.0.0.300): bad IPv4 address". A field given twice (also
// through two groups sharing its storage) is an error; so is a third vlan().
// Garbage never crashes: every read is bounds-checked and nothing throws
// except std::bad_alloc.
//
// Invariants:
//   1. ParseMatch(FormatMatch(k, m)) gives (k & m, m') where m' is m with the
//      pad fields cleared, for every k and m.
//   2. FormatMatch(ParseMatch(t)) == t for every t that FormatMatch printed.
//   3. ParseMatch's key has no bit outside its mask.
//   4. On error ParseMatch returns a Status whose message names the token,
//      and *key/*mask are left cleared.
//
// Thread-safety: pure functions over their arguments.
//
// Memory: builds std::strings; no global state.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/flow/flow_key.h"
#include "datapath/util/be.h"
#include "datapath/util/status.h"

namespace sluice::dp {

// The match text of key & mask (the key need not be masked already).
std::string FormatMatch(const FlowKey& key, const FlowMask& mask);

// Parses a match. On success *key is masked by *mask.
Status ParseMatch(std::string_view text, FlowKey* key, FlowMask* mask);

// Addresses. Formats are lower-case "00:1b:21:3a:4f:5e", "10.0.0.1" and
// RFC 5952 IPv6 ("2001:db8::1", "::ffff:10.0.0.1" for IPv4-mapped).
std::string FormatEthAddr(const EthAddr& addr);
std::string FormatIpv4(be32 addr);
std::string FormatIpv6(const uint8_t addr[16]);
// Parsers for the same forms (MAC bytes may have one or two hex digits; IPv6
// takes any RFC 4291 text form). They return false on anything else.
bool ParseEthAddr(std::string_view text, EthAddr* addr);
bool ParseIpv4(std::string_view text, be32* addr);
bool ParseIpv6(std::string_view text, uint8_t addr[16]);

// The field codec shared by flow_format.cc and actions_format.cc (and its
// number parser by ofproto's ovs-ofctl syntax).
namespace text {

enum class FieldKind : uint8_t {
  kDec,    // integer printed in decimal
  kHex,    // integer printed as 0x%x (zero prints as "0")
  kHex16,  // integer printed as 0x%04x (eth_type, tpid)
  kIpv4,   // 4 bytes, network order
  kIpv6,   // 16 bytes
  kEth,    // 6 bytes
  kFrag,   // nw_frag: no|first|later
  kCfi,    // the VLAN present bit: omitted (1), 0 or *
};

// One named field of a value/mask pair. The value lives at value_base +
// value_ofs and its mask at mask_base + mask_ofs (a FlowKey/FlowMask pair
// uses the same offset twice; a set() action one struct with two offsets).
// Integers are `size` bytes, big-endian when net_order, and the field may be
// the sub-field [shift, shift + bits) of that integer.
struct FieldSpec {
  std::string_view name;
  FieldKind kind;
  uint16_t value_ofs;
  uint16_t mask_ofs;
  uint8_t size;
  bool net_order;
  uint8_t shift = 0;
  uint8_t bits = 0;      // 0: the whole integer
  uint64_t natural = 0;  // the mask a bare value means; 0: all `bits`
};

// True if some bit of the field's mask is set.
bool FieldMasked(const FieldSpec& f, const void* mask_base);

// Appends "name=value[/mask]" for every field in `fields` whose index bit is
// set in `include` and whose mask is non-zero (kCfi: see above), separated
// by commas. Returns whether some included field's mask was non-zero.
bool AppendFields(std::string* out, std::span<const FieldSpec> fields, uint32_t include,
                  const void* value_base, const void* mask_base);

// Parses "f=v,f=v" (args of a group) into value/mask. `open`/`close` frame
// a failing item in error messages: "<open>f=v<close>: problem". Bit i of
// *given is set for each fields[i] present. A field whose mask is already
// non-zero is an error ("given twice").
Status ParseFields(std::string_view args, std::span<const FieldSpec> fields, std::string_view open,
                   std::string_view close, void* value_base, void* mask_base, uint32_t* given);

// Parses one value ("10", "0x1f/0xff", "10.0.0.0/24", ...) of field f into
// value/mask. Returns an error message (without context) or "" on success.
std::string ParseFieldValue(const FieldSpec& f, std::string_view text, void* value_base,
                            void* mask_base);

// Lexical helpers.
std::string_view Trim(std::string_view s);
// Splits at commas outside parentheses; items are trimmed. Fails on
// unbalanced parentheses. An empty (all-blank) text gives no items.
Status SplitTopLevel(std::string_view s, std::vector<std::string_view>* items);
// Splits "name(args)" or "name". Fails on text after the closing ')'.
Status SplitCall(std::string_view item, std::string_view* name, std::string_view* args,
                 bool* has_args);
// Parses a decimal or 0x-hex unsigned integer (the whole text).
bool ParseUint(std::string_view s, uint64_t* out);

}  // namespace text
}  // namespace sluice::dp
