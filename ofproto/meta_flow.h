#pragma once
// What: the field registry ("meta-flow"): every field an OpenFlow rule can
// match or set, where it lives in an OfFlow, how wide it is on the wire, its
// OXM identity, its prerequisites and whether it can be masked or written.
//
// Design: one static table (kFields) drives everything that deals with
// fields by name or number: the OpenFlow match codec (OXM class/field), the
// ovs-ofctl-style text syntax (name and aliases), prerequisite checks, and
// set-field in translation. A field's value travels as a FieldValue: its
// wire bytes (network byte order, exactly `bytes` long). A field is stored in
// an OfFlow either byte-for-byte (addresses, ports: kBytes) or as a bit range
// of a small integer (vlan_vid, vlan_pcp, ip_dscp, ip_ecn, icmp type/code,
// arp_op: kBits), or in host byte order (in_port, metadata, registers:
// kHost). Get/Set/SetMask convert between the two worlds.
//
// Invariants:
//   1. Set(flow, f, v) then Get(flow, f) == v (after truncation to the field's
//      meaningful bits).
//   2. SetMask(mask, f, all-ones) followed by masking any flow keeps exactly
//      the bits Get(f) depends on.
//   3. Every field's bits lie inside the OfFlow words listed by its location.
//
// Thread-safety: immutable tables; functions are pure.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ofproto/of_flow.h"

namespace sluice::ofproto {

enum class FieldId : uint8_t {
  kInPort,
  kMetadata,
  kEthDst,
  kEthSrc,
  kEthType,
  kVlanVid,  // OXM form: 0x1000 | vid when tagged (OFPVID_PRESENT), 0 untagged
  kVlanPcp,
  kIpDscp,
  kIpEcn,
  kIpProto,
  kIpv4Src,
  kIpv4Dst,
  kTcpSrc,
  kTcpDst,
  kUdpSrc,
  kUdpDst,
  kSctpSrc,
  kSctpDst,
  kIcmpv4Type,
  kIcmpv4Code,
  kArpOp,
  kArpSpa,
  kArpTpa,
  kArpSha,
  kArpTha,
  kIpv6Src,
  kIpv6Dst,
  kIpv6Flabel,
  kIcmpv6Type,
  kIcmpv6Code,
  kIpv6NdTarget,
  kIpv6NdSll,
  kIpv6NdTll,
  kTcpFlags,
  kIpTtl,  // not an OXM field in OF1.3 (Nicira's NXM_NX_IP_TTL); used by dec_ttl and text syntax
  kTunId,
  kReg0, kReg1, kReg2, kReg3, kReg4, kReg5, kReg6, kReg7,
  kCount
};

// What must hold of a flow for a field to be meaningful (OpenFlow 1.3
// prerequisites, table 12 of the spec).
enum class Prereq : uint8_t {
  kNone,
  kVlan,      // vlan_vid != NONE
  kIp,        // eth_type 0x0800 or 0x86dd
  kIpv4,      // eth_type 0x0800
  kIpv6,      // eth_type 0x86dd
  kArp,       // eth_type 0x0806
  kTcp,       // ip && ip_proto 6
  kUdp,       // ip && ip_proto 17
  kSctp,      // ip && ip_proto 132
  kIcmpv4,    // ipv4 && ip_proto 1
  kIcmpv6,    // ipv6 && ip_proto 58
  kNdSll,     // icmpv6 type 135 (neighbour solicitation)
  kNdTll,     // icmpv6 type 136 (neighbour advertisement)
  kNd,        // icmpv6 type 135 or 136
};

enum class Storage : uint8_t {
  kBytes,  // `bytes` wire bytes at `offset` in the OfFlow, copied as they are
  kBits,   // an integer at `offset` (`width` bytes, network order) holding the
           // field's value in `bit_mask` (shifted by `shift`)
  kHost,   // a host-order integer of `width` bytes at `offset`
};

struct FieldInfo {
  FieldId id;
  const char* name;   // ovs-ofctl name ("eth_dst", "nw_src", ...)
  const char* alias;  // older ovs-ofctl name ("dl_dst"), or nullptr
  uint8_t bytes;      // wire width (OXM payload length without mask)
  Storage storage;
  uint16_t offset;    // byte offset in OfFlow
  uint8_t width;      // for kBits/kHost: integer width in bytes
  uint32_t bit_mask;  // for kBits: the field's bits within that integer
  uint8_t shift;      // for kBits
  bool maskable;      // may be matched with an arbitrary mask
  bool writable;      // may be the target of set-field
  Prereq prereq;
  uint16_t oxm_class;  // 0x8000 OpenFlow basic, 0x0001 NXM_1; 0 = none
  uint8_t oxm_field;
};

const FieldInfo& Field(FieldId id);
// By ovs-ofctl name or alias; nullptr when unknown.
const FieldInfo* FieldByName(std::string_view name);
// By OXM class and field number; nullptr when unknown.
const FieldInfo* FieldByOxm(uint16_t oxm_class, uint8_t oxm_field);

// A field's value or mask in wire form (network byte order).
struct FieldValue {
  std::array<uint8_t, 16> b{};
  uint8_t n = 0;  // == Field(id).bytes

  static FieldValue Of(FieldId id);  // zero, sized for the field
  static FieldValue AllOnes(FieldId id);
  static FieldValue FromUint(FieldId id, uint64_t v);  // for fields of up to 8 bytes
  uint64_t ToUint() const;                             // for fields of up to 8 bytes
  bool IsZero() const;
  bool IsAllOnes(FieldId id) const;
  bool operator==(const FieldValue& o) const { return n == o.n && b == o.b; }
};

FieldValue GetField(const OfFlow& flow, FieldId id);
void SetField(OfFlow* flow, FieldId id, const FieldValue& value);
// Sets the field's bits in `flow` to value where mask is 1, leaving others.
void SetFieldMasked(OfFlow* flow, FieldId id, const FieldValue& value, const FieldValue& mask);
// The mask (as a FieldValue) that `mask` puts on the field.
FieldValue GetFieldMask(const OfMask& mask, FieldId id);
// Sets the field's bits of `mask` to `m` (wire form).
void SetFieldMask(OfMask* mask, FieldId id, const FieldValue& m);

// Adds field `id` = value/mask to a match (value is masked as it goes in).
void MatchField(OfMatch* match, FieldId id, const FieldValue& value, const FieldValue& mask);

// True when the prerequisite holds for `flow`.
bool PrereqHolds(Prereq p, const OfFlow& flow);
// True when `match` guarantees field `id`'s prerequisites (the OXM decoder
// checks each field it decodes with this).
bool FieldPrereqGuaranteed(FieldId id, const OfMatch& match);
// Checks that `match` matches the prerequisites of every field it uses
// (OpenFlow: a match on tcp_dst needs eth_type=ip and ip_proto=6 matched
// exactly). On failure returns the offending field.
std::optional<FieldId> CheckPrerequisites(const OfMatch& match);
// Un-wildcards in *wc the fields `p` depends on (for xlate).
void UnwildcardPrereq(Prereq p, const OfFlow& flow, OfMask* wc);

}  // namespace sluice::ofproto
