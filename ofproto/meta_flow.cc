#include "ofproto/meta_flow.h"

#include <cstddef>
#include <cstring>

namespace sluice::ofproto {
namespace {

using dp::FlowKey;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
constexpr uint16_t Dp(size_t off) { return static_cast<uint16_t>(offsetof(OfFlow, dp) + off); }
constexpr uint16_t kOffInPort = Dp(offsetof(FlowKey, in_port));
constexpr uint16_t kOffEthDst = Dp(offsetof(FlowKey, eth_dst));
constexpr uint16_t kOffEthSrc = Dp(offsetof(FlowKey, eth_src));
constexpr uint16_t kOffEthType = Dp(offsetof(FlowKey, eth_type));
constexpr uint16_t kOffNwProto = Dp(offsetof(FlowKey, nw_proto));
constexpr uint16_t kOffTci = Dp(offsetof(FlowKey, vlan) + 2);
constexpr uint16_t kOffNwSrc = Dp(offsetof(FlowKey, nw_src));
constexpr uint16_t kOffNwDst = Dp(offsetof(FlowKey, nw_dst));
constexpr uint16_t kOffTpSrc = Dp(offsetof(FlowKey, tp_src));
constexpr uint16_t kOffTpDst = Dp(offsetof(FlowKey, tp_dst));
constexpr uint16_t kOffTcpFlags = Dp(offsetof(FlowKey, tcp_flags));
constexpr uint16_t kOffNwTos = Dp(offsetof(FlowKey, nw_tos));
constexpr uint16_t kOffNwTtl = Dp(offsetof(FlowKey, nw_ttl));
constexpr uint16_t kOffIpv6Src = Dp(offsetof(FlowKey, ipv6_src));
constexpr uint16_t kOffIpv6Dst = Dp(offsetof(FlowKey, ipv6_dst));
constexpr uint16_t kOffLabel = Dp(offsetof(FlowKey, ipv6_label));
constexpr uint16_t kOffNdTarget = Dp(offsetof(FlowKey, nd_target));
constexpr uint16_t kOffArpSha = Dp(offsetof(FlowKey, arp_sha));
constexpr uint16_t kOffArpTha = Dp(offsetof(FlowKey, arp_tha));
constexpr uint16_t kOffMetadata = offsetof(OfFlow, metadata);
constexpr uint16_t kOffTunId = offsetof(OfFlow, tun_id);
constexpr uint16_t kOffRegs = offsetof(OfFlow, regs);
#pragma GCC diagnostic pop

constexpr uint16_t kOfb = 0x8000;  // OFPXMC_OPENFLOW_BASIC
constexpr uint16_t kNxm1 = 0x0001;  // NXM_1 (Nicira extensible match)

using S = Storage;
using P = Prereq;
using F = FieldId;

//  id, name, alias, bytes, storage, offset, width, bit_mask, shift, maskable, writable, prereq, class, field
constexpr FieldInfo kFields[] = {
    {F::kInPort, "in_port", nullptr, 4, S::kHost, kOffInPort, 4, 0, 0, false, false, P::kNone, kOfb, 0},
    {F::kMetadata, "metadata", nullptr, 8, S::kHost, kOffMetadata, 8, 0, 0, true, true, P::kNone, kOfb, 2},
    {F::kEthDst, "eth_dst", "dl_dst", 6, S::kBytes, kOffEthDst, 0, 0, 0, true, true, P::kNone, kOfb, 3},
    {F::kEthSrc, "eth_src", "dl_src", 6, S::kBytes, kOffEthSrc, 0, 0, 0, true, true, P::kNone, kOfb, 4},
    {F::kEthType, "eth_type", "dl_type", 2, S::kBytes, kOffEthType, 0, 0, 0, false, false, P::kNone, kOfb, 5},
    {F::kVlanVid, "vlan_vid", nullptr, 2, S::kBits, kOffTci, 2, 0x1fff, 0, true, true, P::kNone, kOfb, 6},
    {F::kVlanPcp, "vlan_pcp", "dl_vlan_pcp", 1, S::kBits, kOffTci, 2, 0xe000, 13, false, true, P::kVlan, kOfb, 7},
    {F::kIpDscp, "ip_dscp", nullptr, 1, S::kBits, kOffNwTos, 1, 0xfc, 2, false, true, P::kIp, kOfb, 8},
    {F::kIpEcn, "ip_ecn", "nw_ecn", 1, S::kBits, kOffNwTos, 1, 0x03, 0, false, true, P::kIp, kOfb, 9},
    {F::kIpProto, "ip_proto", "nw_proto", 1, S::kBytes, kOffNwProto, 0, 0, 0, false, false, P::kIp, kOfb, 10},
    {F::kIpv4Src, "ipv4_src", "nw_src", 4, S::kBytes, kOffNwSrc, 0, 0, 0, true, true, P::kIpv4, kOfb, 11},
    {F::kIpv4Dst, "ipv4_dst", "nw_dst", 4, S::kBytes, kOffNwDst, 0, 0, 0, true, true, P::kIpv4, kOfb, 12},
    {F::kTcpSrc, "tcp_src", "tp_src", 2, S::kBytes, kOffTpSrc, 0, 0, 0, true, true, P::kTcp, kOfb, 13},
    {F::kTcpDst, "tcp_dst", "tp_dst", 2, S::kBytes, kOffTpDst, 0, 0, 0, true, true, P::kTcp, kOfb, 14},
    {F::kUdpSrc, "udp_src", nullptr, 2, S::kBytes, kOffTpSrc, 0, 0, 0, true, true, P::kUdp, kOfb, 15},
    {F::kUdpDst, "udp_dst", nullptr, 2, S::kBytes, kOffTpDst, 0, 0, 0, true, true, P::kUdp, kOfb, 16},
    {F::kSctpSrc, "sctp_src", nullptr, 2, S::kBytes, kOffTpSrc, 0, 0, 0, true, true, P::kSctp, kOfb, 17},
    {F::kSctpDst, "sctp_dst", nullptr, 2, S::kBytes, kOffTpDst, 0, 0, 0, true, true, P::kSctp, kOfb, 18},
    {F::kIcmpv4Type, "icmp_type", "icmpv4_type", 1, S::kBits, kOffTpSrc, 2, 0x00ff, 0, false, true, P::kIcmpv4, kOfb, 19},
    {F::kIcmpv4Code, "icmp_code", "icmpv4_code", 1, S::kBits, kOffTpDst, 2, 0x00ff, 0, false, true, P::kIcmpv4, kOfb, 20},
    {F::kArpOp, "arp_op", nullptr, 2, S::kBits, kOffNwProto, 1, 0xff, 0, false, true, P::kArp, kOfb, 21},
    {F::kArpSpa, "arp_spa", nullptr, 4, S::kBytes, kOffNwSrc, 0, 0, 0, true, true, P::kArp, kOfb, 22},
    {F::kArpTpa, "arp_tpa", nullptr, 4, S::kBytes, kOffNwDst, 0, 0, 0, true, true, P::kArp, kOfb, 23},
    {F::kArpSha, "arp_sha", nullptr, 6, S::kBytes, kOffArpSha, 0, 0, 0, true, true, P::kArp, kOfb, 24},
    {F::kArpTha, "arp_tha", nullptr, 6, S::kBytes, kOffArpTha, 0, 0, 0, true, true, P::kArp, kOfb, 25},
    {F::kIpv6Src, "ipv6_src", nullptr, 16, S::kBytes, kOffIpv6Src, 0, 0, 0, true, true, P::kIpv6, kOfb, 26},
    {F::kIpv6Dst, "ipv6_dst", nullptr, 16, S::kBytes, kOffIpv6Dst, 0, 0, 0, true, true, P::kIpv6, kOfb, 27},
    {F::kIpv6Flabel, "ipv6_label", "ipv6_flabel", 4, S::kBits, kOffLabel, 4, 0x000fffff, 0, true, true, P::kIpv6, kOfb, 28},
    {F::kIcmpv6Type, "icmpv6_type", nullptr, 1, S::kBits, kOffTpSrc, 2, 0x00ff, 0, false, true, P::kIcmpv6, kOfb, 29},
    {F::kIcmpv6Code, "icmpv6_code", nullptr, 1, S::kBits, kOffTpDst, 2, 0x00ff, 0, false, true, P::kIcmpv6, kOfb, 30},
    {F::kIpv6NdTarget, "nd_target", "ipv6_nd_target", 16, S::kBytes, kOffNdTarget, 0, 0, 0, true, true, P::kNd, kOfb, 31},
    {F::kIpv6NdSll, "nd_sll", "ipv6_nd_sll", 6, S::kBytes, kOffArpSha, 0, 0, 0, true, true, P::kNdSll, kOfb, 32},
    {F::kIpv6NdTll, "nd_tll", "ipv6_nd_tll", 6, S::kBytes, kOffArpTha, 0, 0, 0, true, true, P::kNdTll, kOfb, 33},
    {F::kTcpFlags, "tcp_flags", nullptr, 2, S::kBits, kOffTcpFlags, 2, 0x0fff, 0, true, false, P::kTcp, kOfb, 42},
    {F::kIpTtl, "nw_ttl", "ip_ttl", 1, S::kBytes, kOffNwTtl, 0, 0, 0, false, true, P::kIp, kNxm1, 29},
    {F::kTunId, "tun_id", "tunnel_id", 8, S::kHost, kOffTunId, 8, 0, 0, true, true, P::kNone, kOfb, 38},
    {F::kReg0, "reg0", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 0), 4, 0, 0, true, true, P::kNone, kNxm1, 0},
    {F::kReg1, "reg1", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 4), 4, 0, 0, true, true, P::kNone, kNxm1, 1},
    {F::kReg2, "reg2", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 8), 4, 0, 0, true, true, P::kNone, kNxm1, 2},
    {F::kReg3, "reg3", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 12), 4, 0, 0, true, true, P::kNone, kNxm1, 3},
    {F::kReg4, "reg4", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 16), 4, 0, 0, true, true, P::kNone, kNxm1, 4},
    {F::kReg5, "reg5", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 20), 4, 0, 0, true, true, P::kNone, kNxm1, 5},
    {F::kReg6, "reg6", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 24), 4, 0, 0, true, true, P::kNone, kNxm1, 6},
    {F::kReg7, "reg7", nullptr, 4, S::kHost, static_cast<uint16_t>(kOffRegs + 28), 4, 0, 0, true, true, P::kNone, kNxm1, 7},
};
static_assert(std::size(kFields) == static_cast<size_t>(FieldId::kCount));

constexpr bool TableInOrder() {
  for (size_t i = 0; i < std::size(kFields); ++i) {
    if (static_cast<size_t>(kFields[i].id) != i) return false;
  }
  return true;
}
static_assert(TableInOrder(), "kFields must be indexed by FieldId");

uint64_t LoadBe(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}
void StoreBe(uint8_t* p, int n, uint64_t v) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t LoadHost(const uint8_t* p, int n) {
  if (n == 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
void StoreHost(uint8_t* p, int n, uint64_t v) {
  if (n == 4) {
    uint32_t w = static_cast<uint32_t>(v);
    std::memcpy(p, &w, 4);
  } else {
    std::memcpy(p, &v, 8);
  }
}

const uint8_t* Bytes(const OfFlow& f) { return reinterpret_cast<const uint8_t*>(&f); }
uint8_t* Bytes(OfFlow* f) { return reinterpret_cast<uint8_t*>(f); }

uint16_t EthType(const OfFlow& f) { return f.dp.eth_type.host(); }
bool IsIp(uint16_t t) { return t == 0x0800 || t == 0x86dd; }

}  // namespace

const FieldInfo& Field(FieldId id) { return kFields[static_cast<size_t>(id)]; }

const FieldInfo* FieldByName(std::string_view name) {
  for (const auto& f : kFields) {
    if (name == f.name || (f.alias && name == f.alias)) return &f;
  }
  return nullptr;
}

const FieldInfo* FieldByOxm(uint16_t oxm_class, uint8_t oxm_field) {
  for (const auto& f : kFields) {
    if (f.oxm_class == oxm_class && f.oxm_field == oxm_field) return &f;
  }
  return nullptr;
}

FieldValue FieldValue::Of(FieldId id) {
  FieldValue v;
  v.n = Field(id).bytes;
  return v;
}

FieldValue FieldValue::AllOnes(FieldId id) {
  const FieldInfo& f = Field(id);
  FieldValue v = Of(id);
  if (f.storage == Storage::kBits) {
    StoreBe(v.b.data(), v.n, f.bit_mask >> f.shift);
  } else {
    std::memset(v.b.data(), 0xff, v.n);
  }
  return v;
}

FieldValue FieldValue::FromUint(FieldId id, uint64_t x) {
  FieldValue v = Of(id);
  StoreBe(v.b.data(), v.n, x);
  return v;
}

uint64_t FieldValue::ToUint() const { return LoadBe(b.data(), n > 8 ? 8 : n); }

bool FieldValue::IsZero() const {
  for (int i = 0; i < n; ++i) {
    if (b[i]) return false;
  }
  return true;
}

bool FieldValue::IsAllOnes(FieldId id) const { return *this == AllOnes(id); }

FieldValue GetField(const OfFlow& flow, FieldId id) {
  const FieldInfo& f = Field(id);
  FieldValue v = FieldValue::Of(id);
  const uint8_t* p = Bytes(flow) + f.offset;
  switch (f.storage) {
    case Storage::kBytes:
      std::memcpy(v.b.data(), p, f.bytes);
      break;
    case Storage::kBits:
      StoreBe(v.b.data(), f.bytes, (LoadBe(p, f.width) & f.bit_mask) >> f.shift);
      break;
    case Storage::kHost:
      StoreBe(v.b.data(), f.bytes, LoadHost(p, f.width));
      break;
  }
  return v;
}

void SetFieldMasked(OfFlow* flow, FieldId id, const FieldValue& value, const FieldValue& mask) {
  const FieldInfo& f = Field(id);
  uint8_t* p = Bytes(flow) + f.offset;
  switch (f.storage) {
    case Storage::kBytes:
      for (int i = 0; i < f.bytes; ++i) {
        p[i] = static_cast<uint8_t>((p[i] & ~mask.b[i]) | (value.b[i] & mask.b[i]));
      }
      break;
    case Storage::kBits: {
      uint64_t cur = LoadBe(p, f.width);
      uint64_t m = (LoadBe(mask.b.data(), f.bytes) << f.shift) & f.bit_mask;
      uint64_t v = (LoadBe(value.b.data(), f.bytes) << f.shift) & m;
      StoreBe(p, f.width, (cur & ~m) | v);
      break;
    }
    case Storage::kHost: {
      uint64_t cur = LoadHost(p, f.width);
      uint64_t m = LoadBe(mask.b.data(), f.bytes);
      uint64_t v = LoadBe(value.b.data(), f.bytes) & m;
      StoreHost(p, f.width, (cur & ~m) | v);
      break;
    }
  }
}

void SetField(OfFlow* flow, FieldId id, const FieldValue& value) {
  SetFieldMasked(flow, id, value, FieldValue::AllOnes(id));
}

FieldValue GetFieldMask(const OfMask& mask, FieldId id) { return GetField(mask, id); }

void SetFieldMask(OfMask* mask, FieldId id, const FieldValue& m) { SetField(mask, id, m); }

void MatchField(OfMatch* match, FieldId id, const FieldValue& value, const FieldValue& mask) {
  FieldValue v = value;
  for (int i = 0; i < v.n; ++i) v.b[i] &= mask.b[i];
  SetField(&match->value, id, v);
  SetFieldMask(&match->mask, id, mask);
}

bool PrereqHolds(Prereq p, const OfFlow& flow) {
  uint16_t t = EthType(flow);
  uint8_t proto = flow.dp.nw_proto;
  uint8_t icmp_type = static_cast<uint8_t>(flow.dp.tp_src.host());
  switch (p) {
    case Prereq::kNone: return true;
    case Prereq::kVlan: return flow.dp.vlan[0].tci.host() & dp::kVlanPresent;
    case Prereq::kIp: return IsIp(t);
    case Prereq::kIpv4: return t == 0x0800;
    case Prereq::kIpv6: return t == 0x86dd;
    case Prereq::kArp: return t == 0x0806;
    case Prereq::kTcp: return IsIp(t) && proto == 6;
    case Prereq::kUdp: return IsIp(t) && proto == 17;
    case Prereq::kSctp: return IsIp(t) && proto == 132;
    case Prereq::kIcmpv4: return t == 0x0800 && proto == 1;
    case Prereq::kIcmpv6: return t == 0x86dd && proto == 58;
    case Prereq::kNdSll: return t == 0x86dd && proto == 58 && icmp_type == 135;
    case Prereq::kNdTll: return t == 0x86dd && proto == 58 && icmp_type == 136;
    case Prereq::kNd: return t == 0x86dd && proto == 58 && (icmp_type == 135 || icmp_type == 136);
  }
  return false;
}

void UnwildcardPrereq(Prereq p, const OfFlow& flow, OfMask* wc) {
  switch (p) {
    case Prereq::kNone: return;
    case Prereq::kVlan:
      wc->dp.vlan[0].tci = wc->dp.vlan[0].tci | Be16(dp::kVlanPresent);
      return;
    case Prereq::kNdSll:
    case Prereq::kNdTll:
    case Prereq::kNd:
      wc->dp.tp_src = wc->dp.tp_src | Be16(0x00ff);
      [[fallthrough]];
    case Prereq::kTcp:
    case Prereq::kUdp:
    case Prereq::kSctp:
    case Prereq::kIcmpv4:
    case Prereq::kIcmpv6:
      wc->dp.nw_proto = 0xff;
      [[fallthrough]];
    case Prereq::kIp:
    case Prereq::kIpv4:
    case Prereq::kIpv6:
    case Prereq::kArp:
      wc->dp.eth_type = Be16(0xffff);
      return;
  }
}

namespace {

// A prerequisite is guaranteed by a match when the fields it reads are matched
// exactly (unwildcarding them changes nothing) and the values satisfy it.
bool PrereqGuaranteed(Prereq p, const OfMatch& match) {
  OfMask need;
  need.Clear();
  UnwildcardPrereq(p, match.value, &need);
  for (int i = 0; i < kOfFlowWords; ++i) {
    if ((need.words()[i] & match.mask.words()[i]) != need.words()[i]) return false;
  }
  return PrereqHolds(p, match.value);
}

}  // namespace

bool FieldPrereqGuaranteed(FieldId id, const OfMatch& match) {
  return PrereqGuaranteed(Field(id).prereq, match);
}

std::optional<FieldId> CheckPrerequisites(const OfMatch& match) {
  // Fields can share storage (tcp_dst, udp_dst, sctp_dst and icmp_code are all
  // tp_dst), so a match's bits cannot be told apart by field: a matched bit
  // is fine when some field covering it has its prerequisites.
  OfMask allowed;
  allowed.Clear();
  for (const auto& f : kFields) {
    if (!PrereqGuaranteed(f.prereq, match)) continue;
    OfMask one;
    one.Clear();
    SetFieldMask(&one, f.id, FieldValue::AllOnes(f.id));
    OrMask(&allowed, one);
  }
  for (const auto& f : kFields) {
    OfMask one;
    one.Clear();
    SetFieldMask(&one, f.id, FieldValue::AllOnes(f.id));
    for (int i = 0; i < kOfFlowWords; ++i) {
      if (one.words()[i] & match.mask.words()[i] & ~allowed.words()[i]) return f.id;
    }
  }
  return std::nullopt;
}

}  // namespace sluice::ofproto
