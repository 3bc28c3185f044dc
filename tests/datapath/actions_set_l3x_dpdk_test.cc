// Tests of the ARP, ICMP, ICMPv6 and neighbour discovery set actions
// (kSetArp, kSetIcmp, kSetIcmpv6, kSetNd; rewrite.h) on real mbufs.
//
// Frames come from a small model (L3xSpec) whose builder computes every
// checksum from scratch with a reference sum of its own (RefSum, not csum.h):
// a rewrite is checked byte for byte against the frame built with the new
// field values, so the incremental checksum updates are checked against a
// full recomputation. Every output is also parsed again: its key must be the
// input's key with the action's fields written under their masks, the
// "working flow" xlate assumed when it emitted the action. Covered: every
// field masked and unmasked, VLAN tags, IPv4 options and fragments, an IPv6
// extension header, ND with and without the link-layer address options and
// with other options around them, packets of other types, truncation, and a
// random property test. Shared fixture and helpers: actions_test_util.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"
#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- Reference checksum --------------------------------------------------------
// RFC 1071 the plain way: big-endian 16-bit words, end-around carry.

uint32_t RefSum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// The checksum of `seg` (whose checksum field must be zero), stored at ofs.
void RefFill(Bytes* seg, size_t ofs, uint32_t pseudo) {
  const uint16_t c = static_cast<uint16_t>(~RefSum(seg->data(), seg->size(), pseudo));
  (*seg)[ofs] = static_cast<uint8_t>(c >> 8);
  (*seg)[ofs + 1] = static_cast<uint8_t>(c);
}

uint32_t RefPseudo6(const Addr6& src, const Addr6& dst, uint32_t len, uint8_t nh) {
  uint32_t s = RefSum(src.data(), 16);
  s = RefSum(dst.data(), 16, s);
  const uint8_t tail[8] = {static_cast<uint8_t>(len >> 24),
                           static_cast<uint8_t>(len >> 16),
                           static_cast<uint8_t>(len >> 8),
                           static_cast<uint8_t>(len),
                           0,
                           0,
                           0,
                           nh};
  return RefSum(tail, 8, s);
}

// --- Frame model -------------------------------------------------------------

constexpr uint8_t kNs = 135, kNa = 136;
constexpr uint8_t kOptSll = 1, kOptTll = 2, kOptNonce = 14;

struct NdOpt {
  uint8_t type;
  Bytes data;  // after type and length; 2 + size is a multiple of 8
};

Bytes MacBytes(const EthAddr& m) { return Bytes(m.b, m.b + 6); }

enum class Kind { kArp, kIcmp4, kIcmp6 };

struct L3xSpec {
  Kind kind = Kind::kIcmp4;
  EthAddr eth_dst = Mac(0x02, 0, 0, 0, 0, 0x01);
  EthAddr eth_src = Mac(0x02, 0, 0, 0, 0, 0x02);
  std::vector<uint16_t> vlan_tcis;  // 802.1Q tags, outermost first
  // ARP / RARP.
  uint16_t arp_ethertype = 0x0806;
  uint16_t op = 1;
  EthAddr sha = Mac(0x02, 0, 0, 0, 0, 0x02), tha = Mac(0, 0, 0, 0, 0, 0);
  uint32_t spa = 0x0a000002, tpa = 0x0a000001;
  // IPv4.
  uint32_t v4_src = 0xc0a80001, v4_dst = 0xc0a80002;
  uint8_t v4_opt_words = 0;
  uint16_t frag = 0;
  // IPv6.
  Addr6 v6_src = V6(0xfe80, 1), v6_dst = V6(0xfe80, 2);
  bool hop_by_hop = false;
  // ICMP / ICMPv6 message. An ND body (type 135/136, code 0) is flags,
  // target and options; any other is the 4-byte rest of header and payload.
  uint8_t type = 8, code = 0;
  bool nd_body = false;
  uint32_t flags_or_rest = 0x00010001;
  Addr6 target = V6(0xfe80, 0x99);
  std::vector<NdOpt> opts;
  Bytes payload = {'p', 'i', 'n', 'g'};
  size_t trailer = 0;  // Ethernet padding after the datagram
};

bool IsNdType(uint8_t type, uint8_t code) { return (type == kNs || type == kNa) && code == 0; }

L3xSpec Arp(uint16_t op = 1) {
  L3xSpec s;
  s.kind = Kind::kArp;
  s.op = op;
  s.trailer = 18;  // to the 60-byte Ethernet minimum
  return s;
}
L3xSpec Icmp4(uint8_t type = 8, uint8_t code = 0) {
  L3xSpec s;
  s.type = type;
  s.code = code;
  return s;
}
L3xSpec Icmp6(uint8_t type = 128, uint8_t code = 0) {
  L3xSpec s;
  s.kind = Kind::kIcmp6;
  s.type = type;
  s.code = code;
  return s;
}
// An NS with a source link-layer address option, or an NA with a target one.
L3xSpec Nd(uint8_t type, bool with_lla = true) {
  L3xSpec s = Icmp6(type);
  s.nd_body = true;
  s.flags_or_rest = type == kNa ? 0x60000000 : 0;
  s.payload.clear();
  if (with_lla) {
    s.opts.push_back({type == kNs ? kOptSll : kOptTll, MacBytes(Mac(0x02, 0, 0, 0, 0, 0x02))});
  }
  return s;
}

bool IsLaterFragment(const L3xSpec& s) { return (s.frag & 0x1fff) != 0; }

struct L3xFrame {
  Bytes bytes;
  PacketLayout layout;
};

L3xFrame BuildL3x(const L3xSpec& s) {
  L3xFrame out;
  Bytes& b = out.bytes;
  b.insert(b.end(), s.eth_dst.b, s.eth_dst.b + 6);
  b.insert(b.end(), s.eth_src.b, s.eth_src.b + 6);
  for (uint16_t tci : s.vlan_tcis) {
    Put16(&b, 0x8100);
    Put16(&b, tci);
  }
  const uint16_t ethertype = s.kind == Kind::kArp     ? s.arp_ethertype
                             : s.kind == Kind::kIcmp4 ? 0x0800
                                                      : 0x86dd;
  Put16(&b, ethertype);
  out.layout.l3_ofs = static_cast<uint16_t>(b.size());
  if (s.kind == Kind::kArp) {
    Put16(&b, 1);
    Put16(&b, 0x0800);
    b.push_back(6);
    b.push_back(4);
    Put16(&b, s.op);
    b.insert(b.end(), s.sha.b, s.sha.b + 6);
    Put32(&b, s.spa);
    b.insert(b.end(), s.tha.b, s.tha.b + 6);
    Put32(&b, s.tpa);
    b.insert(b.end(), s.trailer, 0);
    return out;
  }
  Bytes msg;
  msg.push_back(s.type);
  msg.push_back(s.code);
  Put16(&msg, 0);
  Put32(&msg, s.flags_or_rest);
  if (s.nd_body) {
    msg.insert(msg.end(), s.target.begin(), s.target.end());
    for (const NdOpt& o : s.opts) {
      msg.push_back(o.type);
      msg.push_back(static_cast<uint8_t>((2 + o.data.size()) / 8));
      msg.insert(msg.end(), o.data.begin(), o.data.end());
    }
  }
  msg.insert(msg.end(), s.payload.begin(), s.payload.end());
  if (s.kind == Kind::kIcmp4) {
    const size_t ihl = 20 + 4u * s.v4_opt_words;
    Bytes ip;
    ip.push_back(static_cast<uint8_t>(0x40 | ihl / 4));
    ip.push_back(0);
    Put16(&ip, static_cast<uint16_t>(ihl + msg.size()));
    Put16(&ip, 0x1234);
    Put16(&ip, s.frag);
    ip.push_back(64);
    ip.push_back(1);
    Put16(&ip, 0);
    Put32(&ip, s.v4_src);
    Put32(&ip, s.v4_dst);
    ip.insert(ip.end(), 4u * s.v4_opt_words, 1);  // NOP options
    RefFill(&ip, 10, 0);
    if (!IsLaterFragment(s)) RefFill(&msg, 2, 0);  // ICMP: no pseudo-header
    b.insert(b.end(), ip.begin(), ip.end());
  } else {
    const size_t ext = s.hop_by_hop ? 8 : 0;
    Put32(&b, 0x60000000);
    Put16(&b, static_cast<uint16_t>(ext + msg.size()));
    b.push_back(s.hop_by_hop ? 0 : 58);
    b.push_back(255);
    b.insert(b.end(), s.v6_src.begin(), s.v6_src.end());
    b.insert(b.end(), s.v6_dst.begin(), s.v6_dst.end());
    if (s.hop_by_hop) {
      const uint8_t hbh[8] = {58, 0, 1, 4, 0, 0, 0, 0};  // one PadN option
      b.insert(b.end(), hbh, hbh + 8);
    }
    RefFill(&msg, 2, RefPseudo6(s.v6_src, s.v6_dst, static_cast<uint32_t>(msg.size()), 58));
  }
  if (!IsLaterFragment(s)) out.layout.l4_ofs = static_cast<uint16_t>(b.size());
  b.insert(b.end(), msg.begin(), msg.end());
  b.insert(b.end(), s.trailer, 0);
  return out;
}

// Checks the frame's checksums from scratch (the verification form).
void ExpectL3xChecksumsValid(const Bytes& f, const L3xSpec& s) {
  const L3xFrame ref = BuildL3x(s);  // for the offsets
  ASSERT_EQ(f.size(), ref.bytes.size());
  if (s.kind == Kind::kArp) return;
  const uint8_t* l3 = f.data() + ref.layout.l3_ofs;
  const size_t msg_end = f.size() - s.trailer;
  if (s.kind == Kind::kIcmp4) {
    EXPECT_EQ(RefSum(l3, 20 + 4u * s.v4_opt_words), 0xffffu) << Hex(f);
    if (IsLaterFragment(s)) return;
    const uint8_t* msg = f.data() + ref.layout.l4_ofs;
    EXPECT_EQ(RefSum(msg, msg_end - ref.layout.l4_ofs), 0xffffu) << Hex(f);
    return;
  }
  Addr6 src, dst;
  std::memcpy(src.data(), l3 + 8, 16);
  std::memcpy(dst.data(), l3 + 24, 16);
  const uint32_t len = static_cast<uint32_t>(msg_end - ref.layout.l4_ofs);
  EXPECT_EQ(RefSum(f.data() + ref.layout.l4_ofs, len, RefPseudo6(src, dst, len, 58)), 0xffffu)
      << Hex(f);
}

// What an action does to a frame, on the model.
void ApplyToL3x(const DpAction& a, L3xSpec* s) {
  switch (a.type) {
    case DpActionType::kSetArp:
      if (s->kind != Kind::kArp) break;
      s->op = MaskedSet(s->op, a.arp.op.host(), a.arp.op_mask.host());
      s->spa = MaskedSet(s->spa, a.arp.spa.host(), a.arp.spa_mask.host());
      s->tpa = MaskedSet(s->tpa, a.arp.tpa.host(), a.arp.tpa_mask.host());
      for (int i = 0; i < 6; ++i) {
        s->sha.b[i] = MaskedSet(s->sha.b[i], a.arp.sha.b[i], a.arp.sha_mask.b[i]);
        s->tha.b[i] = MaskedSet(s->tha.b[i], a.arp.tha.b[i], a.arp.tha_mask.b[i]);
      }
      break;
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6: {
      const Kind want = a.type == DpActionType::kSetIcmp ? Kind::kIcmp4 : Kind::kIcmp6;
      if (s->kind != want || IsLaterFragment(*s)) break;
      s->type = MaskedSet(s->type, a.icmp.type, a.icmp.type_mask);
      s->code = MaskedSet(s->code, a.icmp.code, a.icmp.code_mask);
      break;
    }
    case DpActionType::kSetNd: {
      if (s->kind != Kind::kIcmp6 || !s->nd_body || !IsNdType(s->type, s->code)) break;
      for (int i = 0; i < 16; ++i) {
        s->target[i] = MaskedSet(s->target[i], a.nd.target[i], a.nd.target_mask[i]);
      }
      bool sll = false, tll = false;
      for (NdOpt& o : s->opts) {
        if (o.data.size() != 6) continue;  // only one-unit options are addresses
        const EthAddr* v = nullptr;
        const EthAddr* m = nullptr;
        if (o.type == kOptSll && !sll) {
          sll = true;
          v = &a.nd.sll;
          m = &a.nd.sll_mask;
        } else if (o.type == kOptTll && !tll) {
          tll = true;
          v = &a.nd.tll;
          m = &a.nd.tll_mask;
        }
        if (v == nullptr) continue;
        for (int i = 0; i < 6; ++i) o.data[i] = MaskedSet(o.data[i], v->b[i], m->b[i]);
      }
      break;
    }
    case DpActionType::kSetEth:
      for (int i = 0; i < 6; ++i) {
        s->eth_src.b[i] = MaskedSet(s->eth_src.b[i], a.eth.src.b[i], a.eth.src_mask.b[i]);
        s->eth_dst.b[i] = MaskedSet(s->eth_dst.b[i], a.eth.dst.b[i], a.eth.dst_mask.b[i]);
      }
      break;
    default:
      break;
  }
}

// What an action does to the flow key of a packet (xlate's working flow),
// for actions that keep the packet's message kind (ND or not).
void ApplyToKey(const DpAction& a, const L3xSpec& before, FlowKey* k) {
  switch (a.type) {
    case DpActionType::kSetArp: {
      if (before.kind != Kind::kArp) break;
      // The key holds the opcode's low byte, or zero for one above 0xff.
      const uint16_t op = MaskedSet(before.op, a.arp.op.host(), a.arp.op_mask.host());
      k->nw_proto = op <= 0xff ? static_cast<uint8_t>(op) : 0;
      k->nw_src = (k->nw_src & ~a.arp.spa_mask) | (a.arp.spa & a.arp.spa_mask);
      k->nw_dst = (k->nw_dst & ~a.arp.tpa_mask) | (a.arp.tpa & a.arp.tpa_mask);
      for (int i = 0; i < 6; ++i) {
        k->arp_sha.b[i] = MaskedSet(k->arp_sha.b[i], a.arp.sha.b[i], a.arp.sha_mask.b[i]);
        k->arp_tha.b[i] = MaskedSet(k->arp_tha.b[i], a.arp.tha.b[i], a.arp.tha_mask.b[i]);
      }
      break;
    }
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6: {
      const Kind want = a.type == DpActionType::kSetIcmp ? Kind::kIcmp4 : Kind::kIcmp6;
      if (before.kind != want || IsLaterFragment(before)) break;
      k->tp_src =
          Be16(MaskedSet(static_cast<uint8_t>(k->tp_src.host()), a.icmp.type, a.icmp.type_mask));
      k->tp_dst =
          Be16(MaskedSet(static_cast<uint8_t>(k->tp_dst.host()), a.icmp.code, a.icmp.code_mask));
      break;
    }
    case DpActionType::kSetNd: {
      if (before.kind != Kind::kIcmp6 || !IsNdType(before.type, before.code)) break;
      for (int i = 0; i < 16; ++i) {
        k->nd_target[i] = MaskedSet(k->nd_target[i], a.nd.target[i], a.nd.target_mask[i]);
      }
      // An option the packet lacks stays absent (zero in the key).
      bool has_sll = false, has_tll = false;
      for (const NdOpt& o : before.opts) {
        has_sll |= o.type == kOptSll && o.data.size() == 6;
        has_tll |= o.type == kOptTll && o.data.size() == 6;
      }
      for (int i = 0; i < 6; ++i) {
        if (has_sll)
          k->arp_sha.b[i] = MaskedSet(k->arp_sha.b[i], a.nd.sll.b[i], a.nd.sll_mask.b[i]);
        if (has_tll)
          k->arp_tha.b[i] = MaskedSet(k->arp_tha.b[i], a.nd.tll.b[i], a.nd.tll_mask.b[i]);
      }
      break;
    }
    case DpActionType::kSetEth:
      for (int i = 0; i < 6; ++i) {
        k->eth_src.b[i] = MaskedSet(k->eth_src.b[i], a.eth.src.b[i], a.eth.src_mask.b[i]);
        k->eth_dst.b[i] = MaskedSet(k->eth_dst.b[i], a.eth.dst.b[i], a.eth.dst_mask.b[i]);
      }
      break;
    default:
      break;
  }
}

FlowKey ParseOk(const Bytes& f, PacketLayout* layout = nullptr) {
  FlowKey k;
  PacketLayout l;
  const ParseStatus st = ParseFlow(f.data(), static_cast<uint32_t>(f.size()), 1, &k, &l);
  EXPECT_EQ(st, ParseStatus::kOk) << Hex(f);
  if (layout) *layout = l;
  return k;
}

// --- Actions -------------------------------------------------------------------

struct ArpSet {
  uint16_t op = 0, op_mask = 0;
  uint32_t spa = 0, spa_mask = 0, tpa = 0, tpa_mask = 0;
  EthAddr sha{}, sha_mask{}, tha{}, tha_mask{};
};
DpAction SetArpAction(const ArpSet& s) {
  DpAction a = Blank(DpActionType::kSetArp);
  a.arp.op = Be16(s.op);
  a.arp.op_mask = Be16(s.op_mask);
  a.arp.spa = Be32(s.spa);
  a.arp.spa_mask = Be32(s.spa_mask);
  a.arp.tpa = Be32(s.tpa);
  a.arp.tpa_mask = Be32(s.tpa_mask);
  a.arp.sha = s.sha;
  a.arp.sha_mask = s.sha_mask;
  a.arp.tha = s.tha;
  a.arp.tha_mask = s.tha_mask;
  return a;
}

DpAction SetIcmpAction(bool v6, uint8_t type, uint8_t type_mask, uint8_t code, uint8_t code_mask) {
  DpAction a = Blank(v6 ? DpActionType::kSetIcmpv6 : DpActionType::kSetIcmp);
  a.icmp.type = type;
  a.icmp.type_mask = type_mask;
  a.icmp.code = code;
  a.icmp.code_mask = code_mask;
  return a;
}

struct NdSet {
  Addr6 target{}, target_mask{};
  EthAddr sll{}, sll_mask{}, tll{}, tll_mask{};
};
DpAction SetNdAction(const NdSet& s) {
  DpAction a = Blank(DpActionType::kSetNd);
  std::memcpy(a.nd.target, s.target.data(), 16);
  std::memcpy(a.nd.target_mask, s.target_mask.data(), 16);
  a.nd.sll = s.sll;
  a.nd.sll_mask = s.sll_mask;
  a.nd.tll = s.tll;
  a.nd.tll_mask = s.tll_mask;
  return a;
}

const EthAddr kZeroMac = Mac(0, 0, 0, 0, 0, 0);

class SetL3xTest : public ExecuteTest {
 protected:
  // Applies `acts` to the frame of `s`; checks the output against the frame
  // built from the model, its checksums from scratch, and its parse against
  // the input's key with the actions applied.
  void Check(const std::vector<DpAction>& acts, const L3xSpec& s) {
    const L3xFrame in = BuildL3x(s);
    PacketLayout parsed_layout;
    FlowKey key = ParseOk(in.bytes, &parsed_layout);
    ASSERT_EQ(parsed_layout.l3_ofs, in.layout.l3_ofs) << "the model disagrees with the parser";
    ASSERT_EQ(parsed_layout.l4_ofs, in.layout.l4_ofs) << "the model disagrees with the parser";
    L3xSpec want = s;
    for (const DpAction& a : acts) {
      ApplyToKey(a, want, &key);
      ApplyToL3x(a, &want);
    }
    const Bytes got = RunOne(acts, in.bytes, in.layout);
    EXPECT_EQ(Hex(got), Hex(BuildL3x(want).bytes)) << FormatActions(acts);
    ExpectL3xChecksumsValid(got, want);
    const FlowKey after = ParseOk(got);
    EXPECT_TRUE(after == key) << "got  " << FormatMatch(after, ExactMask()) << "\nwant "
                              << FormatMatch(key, ExactMask());
  }
  void Check(const DpAction& a, const L3xSpec& s) { Check(std::vector<DpAction>{a}, s); }
  // The action leaves the frame exactly as it was.
  void ExpectUnchanged(const DpAction& a, const Bytes& frame, PacketLayout layout) {
    EXPECT_EQ(Hex(RunOne({a}, frame, layout)), Hex(frame));
  }
};

// --- ARP -------------------------------------------------------------------------

TEST_F(SetL3xTest, ArpEachFieldMaskedAndUnmasked) {
  for (const std::vector<uint16_t>& tags : {std::vector<uint16_t>{}, {0x2005}, {0x0001, 0x0002}}) {
    for (uint16_t ethertype : {0x0806, 0x8035}) {
      SCOPED_TRACE(testing::Message() << "tags " << tags.size() << " ethertype " << ethertype);
      L3xSpec s = Arp();
      s.vlan_tcis = tags;
      s.arp_ethertype = ethertype;
      ArpSet f;
      f.op = 2;
      f.op_mask = 0xffff;
      Check(SetArpAction(f), s);
      f = {};
      f.spa = 0x0a0a0a0a;
      f.spa_mask = 0xffffffff;
      f.tpa = 0x0b0b0b0b;
      f.tpa_mask = 0xffffffff;
      Check(SetArpAction(f), s);
      f = {};
      f.sha = Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f);
      f.sha_mask = kAllOnesMac;
      f.tha = Mac(0x10, 0x20, 0x30, 0x40, 0x50, 0x60);
      f.tha_mask = kAllOnesMac;
      Check(SetArpAction(f), s);
      // Everything at once, and partial masks.
      f = {2,
           0xffff,
           0x01020304,
           0xffffffff,
           0x05060708,
           0xffffffff,
           Mac(1, 2, 3, 4, 5, 6),
           kAllOnesMac,
           Mac(7, 8, 9, 10, 11, 12),
           kAllOnesMac};
      Check(SetArpAction(f), s);
      f = {0x0003,
           0x00f0,
           0xac100000,
           0xffff0000,
           0x000000ff,
           0x000000ff,
           Mac(0xaa, 0, 0, 0, 0, 0xbb),
           Mac(0xf0, 0, 0, 0, 0, 0x0f),
           Mac(0, 0, 0, 0, 0, 0x99),
           Mac(0, 0, 0, 0, 0, 0xff)};
      Check(SetArpAction(f), s);
      // All masks zero: nothing changes.
      Check(SetArpAction(ArpSet{}), s);
    }
  }
}

// The opcode is written whole: a packet whose opcode is above 0xff (key
// nw_proto 0) gets exactly the value written.
TEST_F(SetL3xTest, ArpOpcodeIsSixteenBits) {
  ArpSet f;
  f.op = 1;
  f.op_mask = 0xffff;
  Check(SetArpAction(f), Arp(0x0102));
  f.op = 0x0300;
  Check(SetArpAction(f), Arp(2));
  const L3xFrame b = BuildL3x(Arp(1));
  const Bytes got = RunOne({SetArpAction(f)}, b.bytes, b.layout);
  EXPECT_EQ(got[b.layout.l3_ofs + 6], 0x03);
  EXPECT_EQ(got[b.layout.l3_ofs + 7], 0x00);
}

// --- ICMP and ICMPv6 type and code --------------------------------------------------

TEST_F(SetL3xTest, IcmpTypeAndCode) {
  for (uint8_t opts : {0, 3}) {
    for (size_t payload : {0, 1, 5, 56}) {
      SCOPED_TRACE(testing::Message() << "opts " << int(opts) << " payload " << payload);
      L3xSpec s = Icmp4(8, 0);
      s.v4_opt_words = opts;
      s.payload.assign(payload, 0);
      for (size_t i = 0; i < payload; ++i) s.payload[i] = static_cast<uint8_t>(i * 37 + 1);
      Check(SetIcmpAction(false, 0, 0xff, 0, 0), s);      // echo request -> reply
      Check(SetIcmpAction(false, 3, 0xff, 13, 0xff), s);  // both
      Check(SetIcmpAction(false, 0, 0, 0x05, 0x0f), s);   // a few code bits
      Check(SetIcmpAction(false, 0xf0, 0xf0, 0, 0), s);   // a few type bits
      Check(SetIcmpAction(false, 8, 0xff, 0, 0xff), s);   // same values
    }
  }
  L3xSpec tagged = Icmp4(0, 0);
  tagged.vlan_tcis = {0x0064};
  Check(SetIcmpAction(false, 11, 0xff, 1, 0xff), tagged);
}

TEST_F(SetL3xTest, Icmpv6TypeAndCode) {
  for (bool hbh : {false, true}) {
    for (size_t payload : {0, 3, 40}) {
      SCOPED_TRACE(testing::Message() << "hbh " << hbh << " payload " << payload);
      L3xSpec s = Icmp6(128, 0);
      s.hop_by_hop = hbh;
      s.payload.assign(payload, 0xa5);
      Check(SetIcmpAction(true, 129, 0xff, 0, 0), s);
      Check(SetIcmpAction(true, 1, 0xff, 4, 0xff), s);
      Check(SetIcmpAction(true, 0, 0, 0x03, 0x03), s);
    }
  }
  // On an ND message too (its ND fields then stay as they are).
  Check(SetIcmpAction(true, kNa, 0xff, 0, 0xff), Nd(kNs));
}

// The IPv4 first fragment carries the ICMP header (and the checksum's
// incremental update needs none of the other fragments); a later one
// carries none.
TEST_F(SetL3xTest, IcmpFragments) {
  L3xSpec first = Icmp4(8, 0);
  first.frag = 0x2000;
  Check(SetIcmpAction(false, 0, 0xff, 0, 0), first);
  L3xSpec later = Icmp4(8, 0);
  later.frag = 0x0010;
  const L3xFrame b = BuildL3x(later);
  ExpectUnchanged(SetIcmpAction(false, 0, 0xff, 0, 0), b.bytes, b.layout);
  // Even with a layout that points at the payload.
  PacketLayout wrong = b.layout;
  wrong.l4_ofs = static_cast<uint16_t>(wrong.l3_ofs + 20);
  ExpectUnchanged(SetIcmpAction(false, 0, 0xff, 0, 0), b.bytes, wrong);
}

// --- Neighbour discovery -------------------------------------------------------------

TEST_F(SetL3xTest, NdTargetAndLinkLayerAddresses) {
  for (uint8_t type : {kNs, kNa}) {
    for (bool hbh : {false, true}) {
      SCOPED_TRACE(testing::Message() << "type " << int(type) << " hbh " << hbh);
      L3xSpec s = Nd(type);
      s.hop_by_hop = hbh;
      NdSet f;
      f.target = V6(0x2001, 0x77);
      f.target_mask = AllOnes6();
      Check(SetNdAction(f), s);
      f = {};
      f.target = V6(0xfe80, 0xabcd);
      f.target_mask = V6(0, 0x0fff);  // a few bits of the last word
      Check(SetNdAction(f), s);
      // The option the message carries (SLL for an NS, TLL for an NA).
      f = {};
      (type == kNs ? f.sll : f.tll) = Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f);
      (type == kNs ? f.sll_mask : f.tll_mask) = kAllOnesMac;
      Check(SetNdAction(f), s);
      f = {};
      f.target = V6(0x2001, 0x1);
      f.target_mask = AllOnes6();
      f.sll = Mac(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff);
      f.sll_mask = Mac(0xff, 0, 0xff, 0, 0xff, 0);
      f.tll = Mac(1, 2, 3, 4, 5, 6);
      f.tll_mask = Mac(0, 0xff, 0, 0xff, 0, 0xff);
      Check(SetNdAction(f), s);
      Check(SetNdAction(NdSet{}), s);
    }
  }
}

// Both options in one message, in either order, with other options around
// them: only the first one-unit option of each type is an address.
TEST_F(SetL3xTest, NdOptionsAmongOthers) {
  const Bytes nonce = {1, 2, 3, 4, 5, 6};
  const Bytes long_opt(14, 0x5a);  // a two-unit option
  NdSet f;
  f.sll = Mac(0x02, 0x11, 0x11, 0x11, 0x11, 0x11);
  f.sll_mask = kAllOnesMac;
  f.tll = Mac(0x02, 0x22, 0x22, 0x22, 0x22, 0x22);
  f.tll_mask = kAllOnesMac;
  f.target = V6(0x2001, 0x42);
  f.target_mask = AllOnes6();
  const std::vector<std::vector<NdOpt>> layouts = {
      {{kOptSll, MacBytes(Mac(2, 0, 0, 0, 0, 1))}, {kOptTll, MacBytes(Mac(2, 0, 0, 0, 0, 2))}},
      {{kOptTll, MacBytes(Mac(2, 0, 0, 0, 0, 2))}, {kOptSll, MacBytes(Mac(2, 0, 0, 0, 0, 1))}},
      {{kOptNonce, nonce}, {200, long_opt}, {kOptSll, MacBytes(Mac(2, 0, 0, 0, 0, 1))}},
      // A two-unit option of the SLL type is not an Ethernet address: the
      // parser skips it, and so does the rewrite.
      {{kOptSll, long_opt}, {kOptTll, MacBytes(Mac(2, 0, 0, 0, 0, 2))}, {kOptNonce, nonce}},
      {{kOptNonce, nonce}},
      {},
  };
  for (size_t i = 0; i < layouts.size(); ++i) {
    for (uint8_t type : {kNs, kNa}) {
      SCOPED_TRACE(testing::Message() << "options " << i << " type " << int(type));
      L3xSpec s = Nd(type, false);
      s.opts = layouts[i];
      Check(SetNdAction(f), s);
    }
  }
  // A second SLL option (which the parser refuses, so no key to compare):
  // only the first is the address the key had, and only it is rewritten.
  L3xSpec two = Nd(kNs, false);
  two.opts = {{kOptSll, MacBytes(Mac(2, 0, 0, 0, 0, 1))},
              {kOptSll, MacBytes(Mac(2, 0, 0, 0, 0, 3))}};
  L3xSpec want = two;
  ApplyToL3x(SetNdAction(f), &want);
  ASSERT_EQ(want.opts[1].data, two.opts[1].data);
  const L3xFrame b = BuildL3x(two);
  const Bytes got = RunOne({SetNdAction(f)}, b.bytes, b.layout);
  EXPECT_EQ(Hex(got), Hex(BuildL3x(want).bytes));
  ExpectL3xChecksumsValid(got, want);
}

// A message without the option keeps its bytes: nothing is inserted.
TEST_F(SetL3xTest, NdWithoutTheOptionUnchanged) {
  NdSet sll;
  sll.sll = Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f);
  sll.sll_mask = kAllOnesMac;
  NdSet tll;
  tll.tll = sll.sll;
  tll.tll_mask = kAllOnesMac;
  for (const L3xSpec& s : {Nd(kNs, false), Nd(kNa, false), Nd(kNa), Nd(kNs)}) {
    const L3xFrame b = BuildL3x(s);
    // An NS carries an SLL (not a TLL), an NA a TLL (not an SLL).
    const NdSet& absent = s.opts.empty() || s.type == kNs ? tll : sll;
    ExpectUnchanged(SetNdAction(absent), b.bytes, b.layout);
    if (s.opts.empty()) ExpectUnchanged(SetNdAction(s.type == kNs ? sll : tll), b.bytes, b.layout);
    Check(SetNdAction(absent), s);  // and the key keeps the option absent
  }
  // The target of an option-less message is still rewritten.
  NdSet target;
  target.target = V6(0x2001, 5);
  target.target_mask = AllOnes6();
  target.sll = sll.sll;
  target.sll_mask = kAllOnesMac;
  Check(SetNdAction(target), Nd(kNs, false));
}

// Only NS/NA with code 0 are ND; ICMPv6 of other types is left alone.
TEST_F(SetL3xTest, NdOnlyOnSolicitationsAndAdvertisements) {
  NdSet f;
  f.target = V6(0x2001, 5);
  f.target_mask = AllOnes6();
  f.sll = Mac(1, 1, 1, 1, 1, 1);
  f.sll_mask = kAllOnesMac;
  f.tll = Mac(2, 2, 2, 2, 2, 2);
  f.tll_mask = kAllOnesMac;
  L3xSpec code1 = Nd(kNs);
  code1.code = 1;
  L3xSpec rs = Nd(kNs);  // a router solicitation, laid out like an NS
  rs.type = 133;
  for (const L3xSpec& s : {Icmp6(128), Icmp6(1, 3), code1, rs}) {
    SCOPED_TRACE(testing::Message() << "type " << int(s.type) << " code " << int(s.code));
    const L3xFrame b = BuildL3x(s);
    ExpectUnchanged(SetNdAction(f), b.bytes, b.layout);
  }
}

// Options past the contiguous bytes the rewrite may write are left alone,
// and the checksum still matches the bytes that did change.
TEST_F(SetL3xTest, NdOptionsOutsideTheBuffer) {
  L3xSpec s = Nd(kNs);
  s.opts.insert(s.opts.begin(), {kOptNonce, {9, 9, 9, 9, 9, 9}});
  const L3xFrame b = BuildL3x(s);
  NdSet f;
  f.target = V6(0x2001, 6);
  f.target_mask = AllOnes6();
  f.sll = Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f);
  f.sll_mask = kAllOnesMac;
  L3xSpec target_only = s;
  target_only.target = f.target;
  const Bytes want = BuildL3x(target_only).bytes;
  // Cut inside the SLL option (the last 8 bytes): the target changes, the
  // option does not; the checksum is the one of the target-only frame.
  for (uint32_t len = static_cast<uint32_t>(b.bytes.size()) - 7; len < b.bytes.size(); ++len) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    auto buf = std::make_unique<uint8_t[]>(len);
    std::memcpy(buf.get(), b.bytes.data(), len);
    EXPECT_TRUE(SetNdMasked(buf.get(), len, b.layout, SetNdAction(f).nd));
    EXPECT_EQ(Hex(Bytes(buf.get(), buf.get() + len)), Hex(Bytes(want.begin(), want.begin() + len)));
  }
}

// --- Packets of other types ------------------------------------------------------------

TEST_F(SetL3xTest, OtherPacketTypesUnchanged) {
  ArpSet arp = {2,          0xffff,      1,           0xffffffff,  2,
                0xffffffff, kAllOnesMac, kAllOnesMac, kAllOnesMac, kAllOnesMac};
  NdSet nd;
  nd.target = V6(0x2001, 5);
  nd.target_mask = AllOnes6();
  nd.sll = Mac(1, 1, 1, 1, 1, 1);
  nd.sll_mask = kAllOnesMac;
  nd.tll = nd.sll;
  nd.tll_mask = kAllOnesMac;
  const DpAction set_arp = SetArpAction(arp);
  const DpAction set_icmp = SetIcmpAction(false, 0x55, 0xff, 0x66, 0xff);
  const DpAction set_icmp6 = SetIcmpAction(true, 0x55, 0xff, 0x66, 0xff);
  const DpAction set_nd = SetNdAction(nd);
  struct Case {
    L3xSpec spec;
    std::vector<DpAction> noops;
  } cases[] = {
      {Arp(), {set_icmp, set_icmp6, set_nd}},
      {Icmp4(), {set_arp, set_icmp6, set_nd}},
      {Icmp6(), {set_arp, set_icmp, set_nd}},
      {Nd(kNs), {set_arp, set_icmp}},
  };
  for (const Case& c : cases) {
    const L3xFrame b = BuildL3x(c.spec);
    for (const DpAction& a : c.noops) {
      SCOPED_TRACE(testing::Message() << "kind " << int(c.spec.kind) << " action " << int(a.type));
      ExpectUnchanged(a, b.bytes, b.layout);
    }
  }
  // TCP/UDP/SCTP and non-IP frames of the shared model, which ICMP actions
  // must not mistake for ICMP.
  for (uint8_t proto : {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoSctp}) {
    for (L3 l3 : {L3::kIpv4, L3::kIpv6, L3::kNone}) {
      Spec s;
      s.l3 = l3;
      s.proto = proto;
      const Built b = Build(s);
      for (const DpAction& a : {set_arp, set_icmp, set_icmp6, set_nd}) {
        SCOPED_TRACE(testing::Message() << "proto " << int(proto) << " action " << int(a.type));
        ExpectUnchanged(a, b.bytes, b.layout);
      }
    }
  }
  // ARP with other hardware or protocol types is not the ARP these rewrite.
  L3xSpec arp_spec = Arp();
  L3xFrame odd = BuildL3x(arp_spec);
  odd.bytes[odd.layout.l3_ofs + 1] = 6;  // hrd 6 (IEEE 802)
  ExpectUnchanged(set_arp, odd.bytes, odd.layout);
  odd = BuildL3x(arp_spec);
  odd.bytes[odd.layout.l3_ofs + 5] = 16;  // pln 16
  ExpectUnchanged(set_arp, odd.bytes, odd.layout);
  // ARP-looking bytes behind another EtherType are not ARP.
  odd = BuildL3x(arp_spec);
  odd.bytes[odd.layout.l3_ofs - 2] = 0x88;
  odd.bytes[odd.layout.l3_ofs - 1] = 0xb5;
  ExpectUnchanged(set_arp, odd.bytes, odd.layout);
  // Missing layers by layout.
  const L3xFrame arp_frame = BuildL3x(arp_spec);
  ExpectUnchanged(set_arp, arp_frame.bytes, {kNoOffset, kNoOffset});
  const L3xFrame ns = BuildL3x(Nd(kNs));
  ExpectUnchanged(set_nd, ns.bytes, {ns.layout.l3_ofs, kNoOffset});
  ExpectUnchanged(set_icmp6, ns.bytes, {ns.layout.l3_ofs, kNoOffset});
}

// A copy handed out before the rewrite does not see it.
TEST_F(SetL3xTest, CopiesBeforeTheRewriteAreUnchanged) {
  ArpSet f;
  f.tpa = 0x01010101;
  f.tpa_mask = 0xffffffff;
  NdSet g;
  g.target = V6(0x2001, 9);
  g.target_mask = AllOnes6();
  struct Case {
    L3xSpec spec;
    DpAction action;
  } cases[] = {{Arp(), SetArpAction(f)},
               {Icmp4(), SetIcmpAction(false, 0, 0xff, 0, 0)},
               {Icmp6(), SetIcmpAction(true, 129, 0xff, 0, 0)},
               {Nd(kNs), SetNdAction(g)}};
  for (const Case& c : cases) {
    const L3xFrame b = BuildL3x(c.spec);
    L3xSpec want = c.spec;
    ApplyToL3x(c.action, &want);
    std::vector<PacketLayout> layouts = {b.layout};
    RunPkts({DpAction::Output(1), c.action, DpAction::Output(2)}, {Pkt(b.bytes)}, layouts);
    ASSERT_EQ(sink_.got.size(), 2u);
    EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(b.bytes));
    EXPECT_EQ(Hex(Read(sink_.got[1].pkts.at(0))), Hex(BuildL3x(want).bytes));
    sink_.FreeAll();
  }
}

// --- Truncation -----------------------------------------------------------------

// Every prefix of each frame, in a heap buffer of exactly that size, with the
// full frame's layout: nothing is read or written past `len` (an
// AddressSanitizer build turns an overrun into a failure), and a prefix
// shorter than what the action needs is left unchanged.
TEST_F(SetL3xTest, TruncatedPacketsUnchanged) {
  ArpSet arp = {2,          0xffff,      1,           0xffffffff,  2,
                0xffffffff, kAllOnesMac, kAllOnesMac, kAllOnesMac, kAllOnesMac};
  NdSet nd;
  nd.target = V6(0x2001, 5);
  nd.target_mask = AllOnes6();
  nd.sll = Mac(1, 1, 1, 1, 1, 1);
  nd.sll_mask = kAllOnesMac;
  const L3xFrame a = BuildL3x(Arp());
  const L3xFrame i4 = BuildL3x(Icmp4());
  const L3xFrame i6 = BuildL3x(Icmp6());
  const L3xFrame ns = BuildL3x(Nd(kNs));
  struct Case {
    const L3xFrame* frame;
    DpAction action;
    uint32_t needed;  // bytes the action needs
  } cases[] = {
      {&a, SetArpAction(arp), 14 + 28},
      {&i4, SetIcmpAction(false, 0, 0xff, 1, 0xff), 14 + 20 + 4},
      {&i6, SetIcmpAction(true, 129, 0xff, 1, 0xff), 14 + 40 + 4},
      {&ns, SetNdAction(nd), 14 + 40 + 24},
  };
  for (const Case& c : cases) {
    for (uint32_t len = 0; len <= c.frame->bytes.size(); ++len) {
      SCOPED_TRACE(testing::Message() << "action " << int(c.action.type) << " len " << len);
      auto buf = std::make_unique<uint8_t[]>(len + 1);  // +1: never empty
      std::memcpy(buf.get(), c.frame->bytes.data(), len);
      bool applied = false;
      switch (c.action.type) {
        case DpActionType::kSetArp:
          applied = SetArpMasked(buf.get(), len, c.frame->layout, c.action.arp);
          break;
        case DpActionType::kSetIcmp:
        case DpActionType::kSetIcmpv6:
          applied = SetIcmpMasked(buf.get(), len, c.frame->layout, c.action.icmp,
                                  c.action.type == DpActionType::kSetIcmpv6);
          break;
        default:
          applied = SetNdMasked(buf.get(), len, c.frame->layout, c.action.nd);
          break;
      }
      EXPECT_EQ(applied, len >= c.needed);
      if (len < c.needed) {
        ASSERT_EQ(std::memcmp(buf.get(), c.frame->bytes.data(), len), 0);
      }
    }
  }
}

// --- Property test -------------------------------------------------------------------
// Random ARP, ICMP, ICMPv6 and ND frames and random lists of the new set
// actions (and set(eth)): the output must be the model's frame, its
// checksums right from scratch, and its parse the input's key with the
// actions applied, i.e. parse -> execute -> parse agrees with the working
// flow. ICMPv6 type/code sets are drawn so that they keep a message ND or
// not ND (a change of kind changes which fields the parser reads, which no
// working flow describes).

L3xSpec RandomL3x(std::mt19937_64& rng) {
  auto r = [&](uint64_t n) { return rng() % n; };
  auto mac = [&] {
    EthAddr m;
    for (auto& b : m.b) b = static_cast<uint8_t>(rng());
    return m;
  };
  L3xSpec s;
  switch (r(4)) {
    case 0:
      s = Arp(static_cast<uint16_t>(1 + r(4)));
      s.arp_ethertype = r(4) ? 0x0806 : 0x8035;
      s.sha = mac();
      s.tha = mac();
      s.spa = static_cast<uint32_t>(rng());
      s.tpa = static_cast<uint32_t>(rng());
      s.trailer = r(20);
      break;
    case 1:
      s = Icmp4(static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()));
      s.v4_opt_words = static_cast<uint8_t>(r(3) == 0 ? r(5) : 0);
      s.frag = r(6) == 0 ? 0x2000 : 0;
      break;
    case 2: {
      uint8_t type, code;
      do {
        type = static_cast<uint8_t>(rng());
        code = static_cast<uint8_t>(r(3));
      } while (IsNdType(type, code));
      s = Icmp6(type, code);
      s.hop_by_hop = r(3) == 0;
      break;
    }
    default: {
      const uint8_t type = r(2) ? kNs : kNa;
      s = Nd(type, false);
      s.hop_by_hop = r(3) == 0;
      for (auto& x : s.target) x = static_cast<uint8_t>(rng());
      const int n_opts = static_cast<int>(r(4));
      bool sll = false, tll = false;
      for (int i = 0; i < n_opts; ++i) {
        switch (r(4)) {
          case 0:
            if (!sll) s.opts.push_back({kOptSll, MacBytes(mac())});
            sll = true;
            break;
          case 1:
            if (!tll) s.opts.push_back({kOptTll, MacBytes(mac())});
            tll = true;
            break;
          case 2:
            s.opts.push_back({kOptNonce, MacBytes(mac())});
            break;
          default:
            s.opts.push_back({static_cast<uint8_t>(100 + r(50)), Bytes(14, 0x77)});
            break;
        }
      }
      break;
    }
  }
  if (s.kind != Kind::kArp) {
    s.payload.resize(r(3) == 0 ? 0 : r(70));
    for (auto& x : s.payload) x = static_cast<uint8_t>(rng());
    if (s.nd_body) s.payload.clear();
    s.flags_or_rest = static_cast<uint32_t>(rng());
  }
  const int tags = static_cast<int>(r(3));
  for (int i = 0; i < tags; ++i) s.vlan_tcis.push_back(static_cast<uint16_t>(rng() & 0xefff));
  return s;
}

DpAction RandomL3xAction(std::mt19937_64& rng, const L3xSpec& now) {
  auto r = [&](uint64_t n) { return rng() % n; };
  auto mask8 = [&]() -> uint8_t {
    const uint64_t k = r(3);
    return k == 0 ? 0xff : k == 1 ? static_cast<uint8_t>(rng()) : 0;
  };
  auto mac = [&](EthAddr* v, EthAddr* m) {
    for (int i = 0; i < 6; ++i) {
      v->b[i] = static_cast<uint8_t>(rng());
      m->b[i] = mask8();
    }
  };
  switch (r(5)) {
    case 0: {
      DpAction a = Blank(DpActionType::kSetArp);
      // Opcodes stay below 0x100, where the key keeps them whole.
      a.arp.op = Be16(static_cast<uint16_t>(r(256)));
      a.arp.op_mask = Be16(r(2) ? 0xffff : static_cast<uint16_t>(rng()));
      a.arp.spa = Be32(static_cast<uint32_t>(rng()));
      a.arp.spa_mask = Be32(r(2) ? 0xffffffffu : static_cast<uint32_t>(rng()));
      a.arp.tpa = Be32(static_cast<uint32_t>(rng()));
      a.arp.tpa_mask = Be32(r(2) ? 0u : static_cast<uint32_t>(rng()));
      mac(&a.arp.sha, &a.arp.sha_mask);
      mac(&a.arp.tha, &a.arp.tha_mask);
      return a;
    }
    case 1:
      return SetIcmpAction(false, static_cast<uint8_t>(rng()), mask8(), static_cast<uint8_t>(rng()),
                           mask8());
    case 2: {
      for (;;) {
        const DpAction a = SetIcmpAction(true, static_cast<uint8_t>(rng()), mask8(),
                                         static_cast<uint8_t>(rng()), mask8());
        L3xSpec after = now;
        ApplyToL3x(a, &after);
        if (IsNdType(now.type, now.code) == IsNdType(after.type, after.code)) return a;
      }
    }
    case 3: {
      DpAction a = Blank(DpActionType::kSetNd);
      for (int i = 0; i < 16; ++i) {
        a.nd.target[i] = static_cast<uint8_t>(rng());
        a.nd.target_mask[i] = mask8();
      }
      mac(&a.nd.sll, &a.nd.sll_mask);
      mac(&a.nd.tll, &a.nd.tll_mask);
      return a;
    }
    default: {
      DpAction a = Blank(DpActionType::kSetEth);
      mac(&a.eth.src, &a.eth.src_mask);
      mac(&a.eth.dst, &a.eth.dst_mask);
      return a;
    }
  }
}

TEST_F(SetL3xTest, RandomFramesAndActionsMatchModelAndParse) {
  const uint64_t seed = 20250117;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937_64 rng(seed);
  for (int iter = 0; iter < 1500; ++iter) {
    SCOPED_TRACE(testing::Message() << "iter=" << iter);
    const L3xSpec s = RandomL3x(rng);
    std::vector<DpAction> acts;
    L3xSpec now = s;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      acts.push_back(RandomL3xAction(rng, now));
      ApplyToL3x(acts.back(), &now);
    }
    Check(acts, s);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace sluice::dp
