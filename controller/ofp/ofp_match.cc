// Match codecs: OpenFlow 1.3's OXM ofp_match (and single OXM TLVs, which
// set-field actions reuse) and OpenFlow 1.0's fixed 40-byte ofp_match, to
// and from ofproto's OfMatch.
//
// OXM decoding is strict, in the spec's words (OpenFlow 1.3.5, 7.2.3): a
// field's prerequisites must appear before it, each field at most once,
// masks only on maskable fields, no value bit where the mask is 0.
//
// OpenFlow 1.0 decoding follows 1.0's own rule instead: a field whose
// protocol the match does not pin down (nw_src without dl_type=ip, tp_src
// without nw_proto) is ignored, not refused. Encoding to 1.0 widens what 1.0
// cannot say (see EncodeMatch10).

#include <fmt/format.h>

#include <bit>
#include <bitset>
#include <cstring>
#include <vector>

#include "controller/ofp/ofp_wire.h"

namespace sluice::ofp {
namespace {

using ofproto::Field;
using ofproto::FieldId;
using ofproto::FieldInfo;
using ofproto::FieldValue;
using ofproto::MakeError;
using ofproto::OfMask;
using ofproto::OfMatch;
using ofproto::OfpError;
using ofproto::OfpResult;
namespace ofperr = ofproto::ofperr;
using F = FieldId;

// OpenFlow 1.3 OFPET_BAD_MATCH codes that of_error.h does not name.
constexpr uint16_t kBadMatchBadType = 0, kBadMatchBadLen = 1, kBadMatchBadWildcards = 5;

constexpr uint16_t kMatchTypeOxm = 1;  // OFPMT_OXM
constexpr size_t kMatchHeaderLen = 4;  // type, length
constexpr uint16_t kOxmClassExperimenter = 0xffff;
constexpr uint16_t kVlanPresent = 0x1000;  // OFPVID_PRESENT
constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthArp = 0x0806;

OfpError BadMatch(uint16_t code, std::string msg) {
  return MakeError(ofperr::kBadMatch, code, std::move(msg));
}

size_t PadTo8(size_t len) { return (8 - len % 8) % 8; }

// ---------------------------------------------------------------------------
// OXM.

uint32_t OxmHeader(const FieldInfo& f, bool has_mask) {
  uint32_t len = has_mask ? 2u * f.bytes : f.bytes;
  return uint32_t{f.oxm_class} << 16 | uint32_t{f.oxm_field} << 9 | (has_mask ? 1u << 8 : 0u) | len;
}

// Checks an OXM's value (and mask, when it has one) against its field;
// truncates the mask to the field's meaningful bits (vlan_vid 0x1fff,
// ipv6_label 0xfffff, ...).
OfpResult CheckValueMask(const FieldInfo& f, const FieldValue& value, bool has_mask,
                         FieldValue* mask) {
  FieldValue all = FieldValue::AllOnes(f.id);
  for (int i = 0; i < f.bytes; ++i) {
    if (value.b[i] & ~all.b[i]) {
      return BadMatch(ofperr::kBadMatchBadValue,
                      fmt::format("OXM {}: value has bits outside the field", f.name));
    }
  }
  for (int i = 0; has_mask && i < f.bytes; ++i) {
    if (value.b[i] & ~mask->b[i]) {
      return BadMatch(kBadMatchBadWildcards,
                      fmt::format("OXM {}: value has bits set outside its mask", f.name));
    }
  }
  for (int i = 0; i < f.bytes; ++i) mask->b[i] &= all.b[i];
  return std::nullopt;
}

// The bits of `match.mask` that field `id` covers.
OfMask FieldBits(FieldId id) {
  OfMask m;
  m.Clear();
  ofproto::SetFieldMask(&m, id, FieldValue::AllOnes(id));
  return m;
}

// True when `a & b & ~c` has a bit set.
bool AnyBits(const OfMask& a, const OfMask& b, const OfMask& c) {
  for (int i = 0; i < ofproto::kOfFlowWords; ++i) {
    if (a.words()[i] & b.words()[i] & ~c.words()[i]) return true;
  }
  return false;
}

// The fields to encode for `match`, in FieldId order, which puts
// prerequisites first. Fields share storage (tcp_src, udp_src and icmp_type
// are all tp_src), so each matched bit goes out once: first under the field
// whose prerequisites the match guarantees; then bits that no such field
// explains (a match that breaks prerequisites) under the first field
// covering them, for the peer to refuse. Bits no field covers (recirc_id,
// ip_frag, ...) cannot be encoded.
std::vector<FieldId> OxmFieldsOf(const OfMatch& match) {
  OfMask covered, none;
  covered.Clear();
  none.Clear();
  std::vector<FieldId> out;
  for (bool explained : {true, false}) {
    for (int i = 0; i < static_cast<int>(F::kCount); ++i) {
      FieldId id = static_cast<FieldId>(i);
      if (Field(id).oxm_class == 0) continue;
      OfMask bits = FieldBits(id);
      bool take = explained ? AnyBits(bits, match.mask, none) &&
                                  ofproto::FieldPrereqGuaranteed(id, match) &&
                                  !AnyBits(bits, covered, none)
                            : AnyBits(bits, match.mask, covered);
      if (!take) continue;
      out.push_back(id);
      ofproto::OrMask(&covered, bits);
    }
  }
  return out;
}

}  // namespace

OfpResult DecodeOxm(Reader& r, FieldId* field, FieldValue* value, FieldValue* mask,
                    bool* has_mask) {
  uint32_t header = r.u32();
  if (!r.ok()) return BadMatch(kBadMatchBadLen, "truncated OXM header");
  uint16_t oxm_class = static_cast<uint16_t>(header >> 16);
  uint8_t oxm_field = static_cast<uint8_t>(header >> 9 & 0x7f);
  bool hm = header & 0x100;
  uint8_t len = static_cast<uint8_t>(header);
  Reader payload = r.sub(len);
  if (!payload.ok()) {
    return BadMatch(kBadMatchBadLen, fmt::format("OXM {:#06x}:{} of length {} runs past its end",
                                                 oxm_class, oxm_field, len));
  }
  const FieldInfo* f =
      oxm_class == kOxmClassExperimenter ? nullptr : ofproto::FieldByOxm(oxm_class, oxm_field);
  if (!f) {
    return BadMatch(ofperr::kBadMatchBadField,
                    fmt::format("unknown OXM field {:#06x}:{}", oxm_class, oxm_field));
  }
  if (hm && !f->maskable) {
    return BadMatch(ofperr::kBadMatchBadMask, fmt::format("OXM {} cannot be masked", f->name));
  }
  if (len != (hm ? 2 : 1) * f->bytes) {
    return BadMatch(kBadMatchBadLen,
                    fmt::format("OXM {}{} has length {}, want {}", f->name, hm ? " (masked)" : "",
                                len, (hm ? 2 : 1) * f->bytes));
  }
  FieldValue v = FieldValue::Of(f->id);
  FieldValue m = FieldValue::AllOnes(f->id);
  payload.bytes(v.b.data(), f->bytes);
  if (hm) payload.bytes(m.b.data(), f->bytes);
  if (auto err = CheckValueMask(*f, v, hm, &m)) return err;
  *field = f->id;
  *value = v;
  *mask = m;
  *has_mask = hm;
  return std::nullopt;
}

void EncodeOxm(Writer& w, FieldId field, const FieldValue& value, const FieldValue* mask) {
  const FieldInfo& f = Field(field);
  if (f.oxm_class == 0) return;  // no OXM identity: not encodable
  w.u32(OxmHeader(f, mask != nullptr));
  w.bytes(value.b.data(), f.bytes);
  if (mask) w.bytes(mask->b.data(), f.bytes);
}

OfpResult DecodeOxmMatch(Reader& r, OfMatch* match) {
  uint16_t type = r.u16();
  uint16_t length = r.u16();
  if (!r.ok()) return BadMatch(kBadMatchBadLen, "truncated ofp_match header");
  if (type != kMatchTypeOxm) {
    return BadMatch(kBadMatchBadType, fmt::format("match type {} is not OFPMT_OXM", type));
  }
  if (length < kMatchHeaderLen) {
    return BadMatch(kBadMatchBadLen, fmt::format("ofp_match length {} is too short", length));
  }
  Reader oxms = r.sub(length - kMatchHeaderLen);
  r.skip(PadTo8(length));
  if (!r.ok()) {
    return BadMatch(kBadMatchBadLen,
                    fmt::format("ofp_match of length {} (with padding) runs past its end", length));
  }
  OfMatch m = OfMatch::CatchAll();
  std::bitset<static_cast<size_t>(F::kCount)> seen;
  while (oxms.remaining() > 0) {
    FieldId id;
    FieldValue value, mask;
    bool has_mask;
    if (auto err = DecodeOxm(oxms, &id, &value, &mask, &has_mask)) return err;
    const char* name = Field(id).name;
    if (seen[static_cast<size_t>(id)]) {
      return BadMatch(ofperr::kBadMatchDupField, fmt::format("OXM {} appears twice", name));
    }
    seen.set(static_cast<size_t>(id));
    if (!ofproto::FieldPrereqGuaranteed(id, m)) {
      return BadMatch(ofperr::kBadMatchBadPrereq,
                      fmt::format("OXM {} without its prerequisites before it", name));
    }
    ofproto::MatchField(&m, id, value, mask);
  }
  *match = m;
  return std::nullopt;
}

void EncodeOxmMatch(Writer& w, const OfMatch& match) {
  size_t start = w.size();
  w.u16(kMatchTypeOxm);
  w.u16(0);  // length, below
  for (FieldId id : OxmFieldsOf(match)) {
    FieldValue mask = ofproto::GetFieldMask(match.mask, id);
    FieldValue value = ofproto::GetField(match.value, id);
    for (int i = 0; i < value.n; ++i) value.b[i] &= mask.b[i];
    EncodeOxm(w, id, value, mask.IsAllOnes(id) ? nullptr : &mask);
  }
  size_t length = w.size() - start;
  w.put_u16(start + 2, static_cast<uint16_t>(length));
  w.zeros(PadTo8(length));
}

// ---------------------------------------------------------------------------
// OpenFlow 1.0.

namespace {

constexpr size_t kMatch10Len = 40;
// OFPFW_* wildcard bits.
constexpr uint32_t kFwInPort = 1u << 0, kFwDlVlan = 1u << 1, kFwDlSrc = 1u << 2, kFwDlDst = 1u << 3,
                   kFwDlType = 1u << 4, kFwNwProto = 1u << 5, kFwTpSrc = 1u << 6,
                   kFwTpDst = 1u << 7, kFwDlVlanPcp = 1u << 20, kFwNwTos = 1u << 21;
constexpr int kFwNwSrcShift = 8, kFwNwDstShift = 14;
constexpr uint32_t kFwNwBits = 0x3f;
constexpr uint16_t kVlanNone10 = 0xffff;  // OFP_VLAN_NONE: untagged

// struct ofp_match (1.0), host order.
struct Match10 {
  uint32_t wildcards = 0;
  uint16_t in_port = 0;
  uint8_t dl_src[6] = {}, dl_dst[6] = {};
  uint16_t dl_vlan = 0;
  uint8_t dl_vlan_pcp = 0;
  uint16_t dl_type = 0;
  uint8_t nw_tos = 0, nw_proto = 0;
  uint32_t nw_src = 0, nw_dst = 0;
  uint16_t tp_src = 0, tp_dst = 0;
};

void ReadMatch10(Reader& r, Match10* m) {
  m->wildcards = r.u32();
  m->in_port = r.u16();
  r.bytes(m->dl_src, 6);
  r.bytes(m->dl_dst, 6);
  m->dl_vlan = r.u16();
  m->dl_vlan_pcp = r.u8();
  r.skip(1);
  m->dl_type = r.u16();
  m->nw_tos = r.u8();
  m->nw_proto = r.u8();
  r.skip(2);
  m->nw_src = r.u32();
  m->nw_dst = r.u32();
  m->tp_src = r.u16();
  m->tp_dst = r.u16();
}

void WriteMatch10(Writer& w, const Match10& m) {
  w.u32(m.wildcards);
  w.u16(m.in_port);
  w.bytes(m.dl_src, 6);
  w.bytes(m.dl_dst, 6);
  w.u16(m.dl_vlan);
  w.u8(m.dl_vlan_pcp);
  w.zeros(1);
  w.u16(m.dl_type);
  w.u8(m.nw_tos);
  w.u8(m.nw_proto);
  w.zeros(2);
  w.u32(m.nw_src);
  w.u32(m.nw_dst);
  w.u16(m.tp_src);
  w.u16(m.tp_dst);
}

void Exact(OfMatch* m, FieldId id, uint64_t v) {
  ofproto::MatchField(m, id, FieldValue::FromUint(id, v), FieldValue::AllOnes(id));
}

void ExactMac(OfMatch* m, FieldId id, const uint8_t* mac) {
  FieldValue v = FieldValue::Of(id);
  std::memcpy(v.b.data(), mac, 6);
  ofproto::MatchField(m, id, v, FieldValue::AllOnes(id));
}

// nw_src/nw_dst: `bits` low bits wildcarded (32 or more: all).
void MatchPrefix(OfMatch* m, FieldId id, uint32_t addr, uint32_t bits) {
  if (bits >= 32) return;
  uint32_t mask = 0xffffffffu << bits;
  ofproto::MatchField(m, id, FieldValue::FromUint(id, addr & mask), FieldValue::FromUint(id, mask));
}

// dl_vlan and dl_vlan_pcp. 1.0 has no "any tag" value, but a priority
// alone means "tagged, with this priority"; a priority with OFP_VLAN_NONE
// means nothing. Out-of-range VID and PCP bits are dropped, as 1.0 switches
// commonly do.
void VlanFrom10(const Match10& w, OfMatch* m) {
  bool vlan_wild = w.wildcards & kFwDlVlan;
  if (!vlan_wild && w.dl_vlan == kVlanNone10) {
    ofproto::MatchField(m, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, 0),
                        FieldValue::AllOnes(F::kVlanVid));
    return;
  }
  if (!vlan_wild) Exact(m, F::kVlanVid, kVlanPresent | (w.dl_vlan & 0x0fff));
  if (w.wildcards & kFwDlVlanPcp) return;
  if (vlan_wild) {
    ofproto::MatchField(m, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, kVlanPresent),
                        FieldValue::FromUint(F::kVlanVid, kVlanPresent));
  }
  Exact(m, F::kVlanPcp, w.dl_vlan_pcp & 0x7);
}

// The L4 fields OpenFlow 1.0's tp_src/tp_dst mean for an IP protocol
// (dl_type 0: IPv4 or IPv6).
struct L4Ports {
  uint16_t dl_type;
  uint8_t proto;
  FieldId src, dst;
};
constexpr L4Ports kL4Ports[] = {
    {0, 6, F::kTcpSrc, F::kTcpDst},
    {0, 17, F::kUdpSrc, F::kUdpDst},
    {0, 132, F::kSctpSrc, F::kSctpDst},
    {kEthIpv4, 1, F::kIcmpv4Type, F::kIcmpv4Code},
    {kEthIpv6, 58, F::kIcmpv6Type, F::kIcmpv6Code},
};

// False when 1.0's tp_src/tp_dst mean nothing for `proto`.
bool L4Fields(uint16_t dl_type, uint8_t proto, FieldId* src, FieldId* dst) {
  for (const L4Ports& l4 : kL4Ports) {
    if (l4.proto == proto && (l4.dl_type == 0 || l4.dl_type == dl_type)) {
      *src = l4.src;
      *dst = l4.dst;
      return true;
    }
  }
  return false;
}

bool IsIcmpField(FieldId id) {
  return id == F::kIcmpv4Type || id == F::kIcmpv4Code || id == F::kIcmpv6Type ||
         id == F::kIcmpv6Code;
}

// Layer 3 and 4, which apply only as far as dl_type and nw_proto say.
void L3From10(const Match10& w, OfMatch* m) {
  auto wild = [&](uint32_t bit) { return (w.wildcards & bit) != 0; };
  if (wild(kFwDlType)) return;
  Exact(m, F::kEthType, w.dl_type);
  bool ipv4 = w.dl_type == kEthIpv4, arp = w.dl_type == kEthArp;
  bool ip = ipv4 || w.dl_type == kEthIpv6;
  if (ip && !wild(kFwNwTos)) Exact(m, F::kIpDscp, w.nw_tos >> 2);
  if (ipv4 || arp) {
    MatchPrefix(m, ipv4 ? F::kIpv4Src : F::kArpSpa, w.nw_src,
                w.wildcards >> kFwNwSrcShift & kFwNwBits);
    MatchPrefix(m, ipv4 ? F::kIpv4Dst : F::kArpTpa, w.nw_dst,
                w.wildcards >> kFwNwDstShift & kFwNwBits);
  }
  if (wild(kFwNwProto) || !(ip || arp)) return;
  Exact(m, ip ? F::kIpProto : F::kArpOp, w.nw_proto);
  FieldId src, dst;
  if (!ip || !L4Fields(w.dl_type, w.nw_proto, &src, &dst)) return;
  if (!wild(kFwTpSrc)) Exact(m, src, IsIcmpField(src) ? w.tp_src & 0xff : w.tp_src);
  if (!wild(kFwTpDst)) Exact(m, dst, IsIcmpField(dst) ? w.tp_dst & 0xff : w.tp_dst);
}

// ---- Encoding ----

bool ExactValue(const OfMatch& m, FieldId id, uint64_t* v) {
  if (!ofproto::GetFieldMask(m.mask, id).IsAllOnes(id)) return false;
  *v = ofproto::GetField(m.value, id).ToUint();
  return true;
}

uint64_t MaskOf(const OfMatch& m, FieldId id) { return ofproto::GetFieldMask(m.mask, id).ToUint(); }
uint64_t ValueOf(const OfMatch& m, FieldId id) { return ofproto::GetField(m.value, id).ToUint(); }

void VlanTo10(const OfMatch& m, Match10* w) {
  uint64_t vm = MaskOf(m, F::kVlanVid), vv = ValueOf(m, F::kVlanVid);
  if (!(vm & kVlanPresent)) return;  // tag presence not matched
  if (!(vv & kVlanPresent)) {
    w->dl_vlan = kVlanNone10;
    w->wildcards &= ~kFwDlVlan;
    return;
  }
  if ((vm & 0x0fff) == 0x0fff) {
    w->dl_vlan = static_cast<uint16_t>(vv & 0x0fff);
    w->wildcards &= ~kFwDlVlan;
  }
  uint64_t pcp;
  if (ExactValue(m, F::kVlanPcp, &pcp)) {
    w->dl_vlan_pcp = static_cast<uint8_t>(pcp);
    w->wildcards &= ~kFwDlVlanPcp;
  }
}

// The wildcard count for an IPv4 mask: its leading ones are kept, so a
// non-CIDR mask widens to the longest prefix inside it.
uint32_t PrefixTo10(const OfMatch& m, FieldId id, uint32_t* addr) {
  uint32_t mask = static_cast<uint32_t>(MaskOf(m, id));
  int len = std::countl_one(mask);
  uint32_t prefix = len == 0 ? 0 : 0xffffffffu << (32 - len);
  *addr = static_cast<uint32_t>(ValueOf(m, id)) & prefix;
  return static_cast<uint32_t>(32 - len);
}

void L4To10(const OfMatch& m, Match10* w) {
  FieldId src, dst;
  if (!L4Fields(w->dl_type, w->nw_proto, &src, &dst)) return;
  uint64_t v;
  if (ExactValue(m, src, &v)) {
    w->tp_src = static_cast<uint16_t>(v);
    w->wildcards &= ~kFwTpSrc;
  }
  if (ExactValue(m, dst, &v)) {
    w->tp_dst = static_cast<uint16_t>(v);
    w->wildcards &= ~kFwTpDst;
  }
}

void L3To10(const OfMatch& m, Match10* w) {
  uint64_t v;
  if (!ExactValue(m, F::kEthType, &v)) return;
  w->dl_type = static_cast<uint16_t>(v);
  w->wildcards &= ~kFwDlType;
  bool ipv4 = v == kEthIpv4, arp = v == kEthArp, ip = ipv4 || v == kEthIpv6;
  if (ip && ExactValue(m, F::kIpDscp, &v)) {
    w->nw_tos = static_cast<uint8_t>(v << 2);
    w->wildcards &= ~kFwNwTos;
  }
  if (ipv4 || arp) {
    uint32_t bits = PrefixTo10(m, F::kIpv4Src, &w->nw_src);
    w->wildcards = (w->wildcards & ~(kFwNwBits << kFwNwSrcShift)) | bits << kFwNwSrcShift;
    bits = PrefixTo10(m, F::kIpv4Dst, &w->nw_dst);
    w->wildcards = (w->wildcards & ~(kFwNwBits << kFwNwDstShift)) | bits << kFwNwDstShift;
  }
  if (!(ip || arp) || !ExactValue(m, F::kIpProto, &v)) return;
  w->nw_proto = static_cast<uint8_t>(v);
  w->wildcards &= ~kFwNwProto;
  if (ip) L4To10(m, w);
}

}  // namespace

OfpResult DecodeMatch10(Reader& r, OfMatch* match) {
  Match10 w;
  ReadMatch10(r, &w);
  if (!r.ok()) {
    return BadMatch(kBadMatchBadLen,
                    fmt::format("OpenFlow 1.0 ofp_match needs {} bytes", kMatch10Len));
  }
  OfMatch m = OfMatch::CatchAll();
  auto wild = [&](uint32_t bit) { return (w.wildcards & bit) != 0; };
  if (!wild(kFwInPort)) Exact(&m, F::kInPort, PortFrom10(w.in_port));
  if (!wild(kFwDlSrc)) ExactMac(&m, F::kEthSrc, w.dl_src);
  if (!wild(kFwDlDst)) ExactMac(&m, F::kEthDst, w.dl_dst);
  VlanFrom10(w, &m);
  L3From10(w, &m);
  *match = m;
  return std::nullopt;
}

// What 1.0 cannot say is widened, never narrowed: partial Ethernet masks,
// partial VLAN/port masks and "any VLAN tag" without a priority become
// wildcards, a non-CIDR IPv4 mask becomes its longest prefix, and fields 1.0
// lacks (IPv6 addresses, ECN, TTL, ARP hardware addresses, metadata,
// registers, ...) are dropped.
void EncodeMatch10(Writer& w, const OfMatch& match) {
  Match10 m;
  m.wildcards = kFwInPort | kFwDlVlan | kFwDlSrc | kFwDlDst | kFwDlType | kFwNwProto | kFwTpSrc |
                kFwTpDst | kFwDlVlanPcp | kFwNwTos | 32u << kFwNwSrcShift | 32u << kFwNwDstShift;
  uint64_t v;
  if (ExactValue(match, F::kInPort, &v)) {
    m.in_port = PortTo10(static_cast<uint32_t>(v));
    m.wildcards &= ~kFwInPort;
  }
  if (ExactValue(match, F::kEthSrc, &v)) {
    std::memcpy(m.dl_src, ofproto::GetField(match.value, F::kEthSrc).b.data(), 6);
    m.wildcards &= ~kFwDlSrc;
  }
  if (ExactValue(match, F::kEthDst, &v)) {
    std::memcpy(m.dl_dst, ofproto::GetField(match.value, F::kEthDst).b.data(), 6);
    m.wildcards &= ~kFwDlDst;
  }
  VlanTo10(match, &m);
  L3To10(match, &m);
  WriteMatch10(w, m);
}

}  // namespace sluice::ofp
