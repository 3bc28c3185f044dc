// Tests of the action, instruction, bucket and meter-band codecs
// (controller/ofp/ofp_actions.cc). Byte vectors are computed by hand from
// the spec's layouts; encodings are cross-checked by decoding them with the
// real ovs-ofctl (ofp-print) and reading its text back with Sluice's own
// ovs-ofctl syntax parser.

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/ofp/ofp_wire.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofp {
namespace {

using ofproto::Bucket;
using ofproto::FieldId;
using ofproto::FieldValue;
using ofproto::Instructions;
using ofproto::MeterBandSpec;
using ofproto::OfAction;
using ofproto::OfActionList;
using ofproto::OfpResult;
using F = FieldId;
using Bytes = std::vector<uint8_t>;

constexpr uint8_t k10 = 0x01, k13 = 0x04;

// Error types and codes (OpenFlow 1.3, A.4.4).
constexpr int kBadRequest = 1, kBadAction = 2, kBadInstruction = 3, kGroupModFailed = 6,
              kMeterModFailed = 12;
constexpr int kActBadType = 0, kActBadLen = 1, kActBadExperimenter = 2, kActBadOutPort = 4,
              kActBadArgument = 5, kActBadOutGroup = 9, kActBadSetType = 13, kActBadSetLen = 14,
              kActBadSetArgument = 15;
constexpr int kInstUnknown = 0, kInstBadExperimenter = 5, kInstBadLen = 7, kInstDup = 9;

// ---------------------------------------------------------------------------
// Helpers.

Bytes Hex(std::string_view s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

std::string ToHex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
  }
  return s;
}

std::pair<int, int> Code(const OfpResult& r) {
  if (!r) return {-1, -1};
  return {r->type, r->code};
}

OfActionList Actions(std::string_view text) {
  OfActionList out;
  Status st = ofproto::ParseOfActions(text, &out);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return out;
}

ofproto::OfMatch Match(std::string_view text) {
  ofproto::OfMatch m = ofproto::OfMatch::CatchAll();
  Status st = ofproto::ParseOfMatch(text, &m);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return m;
}

Instructions Insts(std::string_view text, const ofproto::OfMatch* match = nullptr) {
  Instructions out;
  Status st = ofproto::ParseOfInstructions(text, match, &out);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return out;
}

std::string Text(const OfActionList& a) { return ofproto::FormatOfActions(a); }
std::string Text(const Instructions& i) { return ofproto::FormatOfInstructions(i); }

Bytes EncodeActs(uint8_t version, const OfActionList& a) {
  Bytes b;
  Writer w(&b);
  EncodeActions(version, w, a);
  return b;
}

// Decodes all of `b` (a copy of exactly its size, so ASan sees over-reads).
OfpResult DecodeActs(uint8_t version, const Bytes& b, OfActionList* out) {
  Bytes copy(b);
  Reader r(copy.data(), copy.size());
  OfpResult res = DecodeActions(version, r, copy.size(), out);
  if (!res) {
    EXPECT_EQ(r.remaining(), 0u);
  }
  return res;
}

Bytes EncodeInsts(const Instructions& i) {
  Bytes b;
  Writer w(&b);
  EncodeInstructions(w, i);
  return b;
}

OfpResult DecodeInsts(const Bytes& b, Instructions* out) {
  Bytes copy(b);
  Reader r(copy.data(), copy.size());
  return DecodeInstructions(r, copy.size(), out);
}

// ---- ovs-ofctl ----

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed: " + cmd;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) out += "\n(exit status " + std::to_string(rc) + ")";
  return out;
}

std::string OfpPrint(const Bytes& msg) {
  return Run("ovs-ofctl ofp-print " + ToHex(msg) + " 2>&1");
}

// The text after "actions=" on ofp-print's flow-mod line, or "ERROR: ...".
std::string PrintedActions(const std::string& printed) {
  size_t at = printed.find("actions=");
  if (at == std::string::npos || printed.find("decode error") != std::string::npos) {
    return "ERROR: " + printed;
  }
  size_t end = printed.find('\n', at);
  return printed.substr(at + 8, end == std::string::npos ? std::string::npos : end - at - 8);
}

// OFPT_FLOW_MOD (1.3): ADD, priority 0x8000, xid 1, `match` (ovs-ofctl
// checks set-field prerequisites against it), then `insts`.
Bytes FlowMod13(const ofproto::OfMatch& match, const Bytes& insts) {
  Bytes b;
  Writer w(&b);
  w.u8(0x04);
  w.u8(14);
  w.u16(0);
  w.u32(1);
  w.u64(0);           // cookie
  w.u64(0);           // cookie_mask
  w.u8(0);            // table_id
  w.u8(0);            // command: ADD
  w.u16(0);           // idle_timeout
  w.u16(0);           // hard_timeout
  w.u16(0x8000);      // priority
  w.u32(0xffffffff);  // buffer_id
  w.u32(0xffffffff);  // out_port
  w.u32(0xffffffff);  // out_group
  w.u16(0);           // flags
  w.zeros(2);
  EncodeOxmMatch(w, match);
  w.bytes(insts.data(), insts.size());
  w.put_u16(2, static_cast<uint16_t>(b.size()));
  return b;
}

// OFPT_FLOW_MOD (1.0): ADD, priority 0x8000, xid 1, `match`, `actions`.
Bytes FlowMod10(const ofproto::OfMatch& match, const Bytes& actions) {
  Bytes b;
  Writer w(&b);
  w.u8(0x01);
  w.u8(14);
  w.u16(0);
  w.u32(1);
  EncodeMatch10(w, match);
  w.u64(0);           // cookie
  w.u16(0);           // command: ADD
  w.u16(0);           // idle_timeout
  w.u16(0);           // hard_timeout
  w.u16(0x8000);      // priority
  w.u32(0xffffffff);  // buffer_id
  w.u16(0xffff);      // out_port
  w.u16(0);           // flags
  w.bytes(actions.data(), actions.size());
  w.put_u16(2, static_cast<uint16_t>(b.size()));
  return b;
}

// ---------------------------------------------------------------------------
// Actions: exact bytes.

struct BytesCase {
  const char* text;
  const char* hex;
};

TEST(Actions13, SpecBytes) {
  const BytesCase cases[] = {
      {"output:2", "0000 0010 00000002 0000 000000000000"},
      {"CONTROLLER:128", "0000 0010 fffffffd 0080 000000000000"},
      {"IN_PORT", "0000 0010 fffffff8 0000 000000000000"},
      {"group:5", "0016 0008 00000005"},
      {"set_queue:7", "0015 0008 00000007"},
      {"push_vlan:0x88a8", "0011 0008 88a8 0000"},
      {"pop_vlan", "0012 0008 00000000"},
      {"dec_ttl", "0018 0008 00000000"},
      {"mod_nw_ttl:64", "0017 0008 40 000000"},
      {"set_field:aa:bb:cc:dd:ee:ff->eth_dst", "0019 0010 80000606 aabbccddeeff 0000"},
      {"set_field:4101->vlan_vid", "0019 0010 80000c02 1005 000000000000"},
      {"set_field:10.0.0.1->ip_src", "0019 0010 80001604 0a000001 00000000"},
      {"set_field:2001:db8::1->ipv6_dst", "0019 0018 80003610 20010db8000000000000000000000001"},
      {"set_field:0x12345678->metadata", "0019 0010 80000408 0000000012345678"},
      {"set_field:5->reg0", "0019 0010 00010004 00000005 00000000"},
      {"mod_nw_tos:16", "0019 0010 80001001 04 00000000000000"},
  };
  for (const BytesCase& c : cases) {
    SCOPED_TRACE(c.text);
    OfActionList a = Actions(c.text);
    EXPECT_EQ(ToHex(EncodeActs(k13, a)), ToHex(Hex(c.hex)));
    OfActionList back;
    OfpResult err = DecodeActs(k13, Hex(c.hex), &back);
    ASSERT_FALSE(err) << err->message;
    EXPECT_EQ(Text(back), Text(a));
    EXPECT_TRUE(back == a);
  }
}

TEST(Actions10, SpecBytes) {
  const BytesCase cases[] = {
      {"output:2", "0000 0008 0002 0000"},
      {"CONTROLLER:128", "0000 0008 fffd 0080"},
      {"LOCAL", "0000 0008 fffe 0000"},
      {"mod_vlan_vid:5", "0001 0008 0005 0000"},
      {"mod_vlan_pcp:3", "0002 0008 03 000000"},
      {"strip_vlan", "0003 0008 00000000"},
      {"mod_dl_src:00:11:22:33:44:55", "0004 0010 001122334455 000000000000"},
      {"mod_dl_dst:00:11:22:33:44:55", "0005 0010 001122334455 000000000000"},
      {"mod_nw_src:10.0.0.1", "0006 0008 0a000001"},
      {"mod_nw_dst:10.0.0.2", "0007 0008 0a000002"},
      {"mod_nw_tos:16", "0008 0008 10 000000"},
      {"mod_tp_src:80", "0009 0008 0050 0000"},
      {"mod_tp_dst:443", "000a 0008 01bb 0000"},
      {"set_queue:7,output:3", "000b 0010 0003 000000000000 00000007"},
      {"set_queue:7,IN_PORT", "000b 0010 fff8 000000000000 00000007"},
  };
  for (const BytesCase& c : cases) {
    SCOPED_TRACE(c.text);
    OfActionList a = Actions(c.text);
    EXPECT_EQ(ToHex(EncodeActs(k10, a)), ToHex(Hex(c.hex)));
    OfActionList back;
    OfpResult err = DecodeActs(k10, Hex(c.hex), &back);
    ASSERT_FALSE(err) << err->message;
    EXPECT_EQ(Text(back), Text(a));
  }
}

// OpenFlow 1.0 actions decode to what a 1.3 controller would send.
TEST(Actions10, DecodeToThe13Model) {
  OfActionList a;
  ASSERT_FALSE(DecodeActs(k10,
                          Hex("0001 0008 0064 0000 0008 0008 b8 000000 000b 0010 0001"
                              " 000000000000 00000002 0003 0008 00000000"),
                          &a));
  OfActionList want = {
      OfAction::SetField(F::kVlanVid, FieldValue::FromUint(F::kVlanVid, 0x1000 | 100)),
      OfAction::SetField(F::kIpDscp, FieldValue::FromUint(F::kIpDscp, 0xb8 >> 2)),
      OfAction::SetQueue(2),
      OfAction::Output(1),
      OfAction::PopVlan(),
  };
  EXPECT_TRUE(a == want) << Text(a);
}

// What 1.0 cannot express is left out (the file comment of ofp_actions.cc
// says why for each).
TEST(Actions10, EncodeLeavesOutWhat10Lacks) {
  OfActionList a = {
      OfAction::Group(1),
      OfAction::PushVlan(0x8100),
      OfAction::SetField(F::kVlanVid, FieldValue::FromUint(F::kVlanVid, 0x1000 | 9)),
      OfAction::DecTtl(),
      OfAction::SetField(F::kIpEcn, FieldValue::FromUint(F::kIpEcn, 1)),
      OfAction::SetField(F::kIpTtl, FieldValue::FromUint(F::kIpTtl, 3)),
      OfAction::SetField(F::kMetadata, FieldValue::FromUint(F::kMetadata, 3)),
      OfAction::SetField(F::kUdpSrc, FieldValue::FromUint(F::kUdpSrc, 53)),
      OfAction::Output(0x10000),  // no 16-bit number
      OfAction::SetQueue(4),      // not followed by an output
      OfAction::PopVlan(),
      OfAction::SetQueue(5),  // enqueue takes no reserved port but IN_PORT, LOCAL
      OfAction::Output(ofproto::kPortController, 64),
      OfAction::SetQueue(6),
      OfAction::Output(ofproto::kPortLocal),
      OfAction::SetQueue(7),
  };
  Bytes b = EncodeActs(k10, a);
  EXPECT_EQ(ToHex(b), ToHex(Hex("0001 0008 0009 0000 0009 0008 0035 0000 0003 0008 00000000"
                                " 0000 0008 fffd 0040 000b 0010 fffe 000000000000 00000006")));
  OfActionList back;
  ASSERT_FALSE(DecodeActs(k10, b, &back));
  EXPECT_EQ(Text(back),
            "set_field:4105->vlan_vid,set_field:53->tcp_src,pop_vlan,CONTROLLER:64,"
            "set_queue:6,LOCAL");
}

// ---------------------------------------------------------------------------
// Actions: round trips.

OfAction RandomAction13(std::mt19937_64& rng) {
  static constexpr uint32_t kPorts[] = {1,
                                        2,
                                        0xfffe,
                                        0xffffff00,
                                        ofproto::kPortInPort,
                                        ofproto::kPortTable,
                                        ofproto::kPortNormal,
                                        ofproto::kPortFlood,
                                        ofproto::kPortAll,
                                        ofproto::kPortController,
                                        ofproto::kPortLocal};
  switch (rng() % 7) {
    case 0:
      return OfAction::Output(kPorts[rng() % 11], static_cast<uint16_t>(rng()));
    case 1:
      return OfAction::Group(static_cast<uint32_t>(rng() % 0xffffff01));
    case 2:
      return OfAction::PushVlan(rng() % 2 ? 0x8100 : 0x88a8);
    case 3:
      return OfAction::PopVlan();
    case 4:
      return OfAction::DecTtl();
    case 5:
      return OfAction::SetQueue(static_cast<uint32_t>(rng()));
    default:
      break;
  }
  for (;;) {
    FieldId id = static_cast<FieldId>(rng() % static_cast<int>(F::kCount));
    if (!ofproto::Field(id).writable) continue;
    FieldValue v = FieldValue::Of(id);
    FieldValue ones = FieldValue::AllOnes(id);
    for (int i = 0; i < v.n; ++i) v.b[i] = static_cast<uint8_t>(rng()) & ones.b[i];
    if (id == F::kVlanVid) v = FieldValue::FromUint(id, 0x1000 | (v.ToUint() & 0xfff));
    return OfAction::SetField(id, v);
  }
}

TEST(Actions13, RandomListsRoundTrip) {
  const uint64_t seed = 1313;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int rep = 0; rep < 3000; ++rep) {
    OfActionList a;
    for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) a.push_back(RandomAction13(rng));
    Bytes b = EncodeActs(k13, a);
    EXPECT_EQ(b.size() % 8, 0u);
    OfActionList back;
    OfpResult err = DecodeActs(k13, b, &back);
    ASSERT_FALSE(err) << Text(a) << ": " << err->message;
    EXPECT_TRUE(back == a) << Text(a) << " -> " << Text(back);
  }
}

// Lists of what 1.0 can express (set_tp_* as tcp_*, enqueue as set_queue
// directly before an output to a port 1.0 can enqueue on).
TEST(Actions10, RandomListsRoundTrip) {
  const uint64_t seed = 1010;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  static constexpr FieldId kFields[] = {F::kEthSrc,  F::kEthDst,  F::kVlanVid,
                                        F::kVlanPcp, F::kIpv4Src, F::kIpv4Dst,
                                        F::kIpDscp,  F::kTcpSrc,  F::kTcpDst};
  static constexpr uint32_t kPorts[] = {1,
                                        0xfeff,
                                        0xffffff00,
                                        ofproto::kPortInPort,
                                        ofproto::kPortNormal,
                                        ofproto::kPortController,
                                        ofproto::kPortLocal};
  static constexpr uint32_t kQueuePorts[] = {1, 0xfeff, ofproto::kPortInPort, ofproto::kPortLocal};
  for (int rep = 0; rep < 3000; ++rep) {
    OfActionList a;
    for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) {
      switch (rng() % 4) {
        case 0:
          a.push_back(OfAction::Output(kPorts[rng() % 7], static_cast<uint16_t>(rng())));
          break;
        case 1:
          a.push_back(OfAction::SetQueue(static_cast<uint32_t>(rng())));
          a.push_back(OfAction::Output(kQueuePorts[rng() % 4]));
          break;
        case 2:
          a.push_back(OfAction::PopVlan());
          break;
        default: {
          FieldId id = kFields[rng() % 9];
          FieldValue v = FieldValue::FromUint(id, rng());
          FieldValue ones = FieldValue::AllOnes(id);
          for (int k = 0; k < v.n; ++k) v.b[k] &= ones.b[k];
          if (id == F::kVlanVid) v = FieldValue::FromUint(id, 0x1000 | (v.ToUint() & 0xfff));
          a.push_back(OfAction::SetField(id, v));
        }
      }
    }
    Bytes b = EncodeActs(k10, a);
    OfActionList back;
    OfpResult err = DecodeActs(k10, b, &back);
    ASSERT_FALSE(err) << Text(a) << ": " << err->message;
    EXPECT_TRUE(back == a) << Text(a) << " -> " << Text(back);
  }
}

// Whatever mutated or random bytes decode to re-encodes to the same actions;
// nothing reads out of bounds (run under ASan).
TEST(Actions, RandomBytesNeverCrash) {
  const uint64_t seed = 31337;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  int decoded = 0;
  for (int rep = 0; rep < 20000; ++rep) {
    uint8_t version = rep % 2 ? k13 : k10;
    OfActionList a;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i)
      a.push_back(RandomAction13(rng));
    Bytes b = EncodeActs(version, a);
    if (b.empty() || rep % 5 == 0) {
      b.resize(8 * (1 + rng() % 4));
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      b[0] = 0;
      b[1] = static_cast<uint8_t>(rng() % 28);
    } else {
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
        b[rng() % b.size()] ^= static_cast<uint8_t>(1 << (rng() % 8));
      }
    }
    OfActionList got;
    if (DecodeActs(version, b, &got)) continue;
    ++decoded;
    OfActionList again;
    ASSERT_FALSE(DecodeActs(version, EncodeActs(version, got), &again)) << ToHex(b);
    EXPECT_TRUE(again == got) << ToHex(b) << ": " << Text(got) << " vs " << Text(again);
  }
  EXPECT_GT(decoded, 1000);
}

// ---------------------------------------------------------------------------
// Actions: errors.

struct ErrCase {
  const char* why;
  const char* hex;
  std::pair<int, int> error;
};

void ExpectErrors(uint8_t version, const std::vector<ErrCase>& cases) {
  for (const ErrCase& c : cases) {
    SCOPED_TRACE(c.why);
    OfActionList a = {OfAction::PopVlan()};
    OfpResult err = DecodeActs(version, Hex(c.hex), &a);
    EXPECT_EQ(Code(err), c.error) << (err ? err->message : "ok: " + Text(a));
    EXPECT_EQ(a.size(), 1u) << "a failed decode must leave *actions alone";
  }
}

TEST(Actions13, Errors) {
  const std::pair<int, int> kLen = {kBadAction, kActBadLen}, kType = {kBadAction, kActBadType};
  ExpectErrors(
      k13,
      {
          {"header cut", "0000 00", kLen},
          {"length under 8", "0012 0004 00000000", kLen},
          {"length not a multiple of 8", "0012 000c 00000000 00000000", kLen},
          {"length past the end", "0012 0010 00000000", kLen},
          {"length 0", "0012 0000 00000000", kLen},
          {"output of length 8", "0000 0008 00000002", kLen},
          {"pop_vlan of length 16", "0012 0010 00000000 00000000 00000000", kLen},
          {"group of length 16", "0016 0010 00000001 00000000 00000000", kLen},
          {"unknown type 3 (1.1's set_vlan_pcp)", "0003 0008 00000000", kType},
          {"unknown type 99", "0063 0008 00000000", kType},
          {"copy_ttl_out", "000b 0008 00000000", kType},
          {"copy_ttl_in", "000c 0008 00000000", kType},
          {"set_mpls_ttl", "000f 0008 40000000", kType},
          {"dec_mpls_ttl", "0010 0008 00000000", kType},
          {"push_mpls", "0013 0008 8847 0000", kType},
          {"pop_mpls", "0014 0008 0800 0000", kType},
          {"push_pbb", "001a 0008 88e7 0000", kType},
          {"pop_pbb", "001b 0008 00000000", kType},
          {"experimenter",
           "ffff 0010 00002320 0000000000000000",
           {kBadAction, kActBadExperimenter}},
          {"push_vlan 0x0800", "0011 0008 0800 0000", {kBadAction, kActBadArgument}},
          {"output to ANY", "0000 0010 ffffffff 0000 000000000000", {kBadAction, kActBadOutPort}},
          {"output to 0xffffff01",
           "0000 0010 ffffff01 0000 000000000000",
           {kBadAction, kActBadOutPort}},
          {"group ALL", "0016 0008 fffffffc", {kBadAction, kActBadOutGroup}},
          {"set_field unknown field",
           "0019 0010 80004404 00000001 00000000",
           {kBadAction, kActBadSetType}},
          {"set_field experimenter OXM",
           "0019 0010 ffff0004 00002320 00000000",
           {kBadAction, kActBadSetType}},
          {"set_field eth_type (not writable)",
           "0019 0010 80000a02 0800 000000000000",
           {kBadAction, kActBadSetType}},
          {"set_field in_port (not writable)",
           "0019 0010 80000004 00000001 00000000",
           {kBadAction, kActBadSetType}},
          {"set_field tcp_flags (not writable)",
           "0019 0010 80005402 0002 000000000000",
           {kBadAction, kActBadSetType}},
          {"set_field with 8 bytes too many",
           "0019 0018 80000606 aabbccddeeff 0000 0000000000000000",
           {kBadAction, kActBadSetLen}},
          {"set_field OXM past the action",
           "0019 0010 80000610 aabbccddeeff 0000",
           {kBadAction, kActBadSetLen}},
          {"set_field OXM length wrong for the field",
           "0019 0010 80000604 aabbccdd 00000000",
           {kBadAction, kActBadSetLen}},
          {"set_field masked",
           "0019 0018 8000070c aabbccddeeff ffffffffffff 00000000",
           {kBadAction, kActBadSetArgument}},
          {"set_field vlan_vid without OFPVID_PRESENT",
           "0019 0010 80000c02 0005 000000000000",
           {kBadAction, kActBadSetArgument}},
          {"set_field vlan_pcp 8",
           "0019 0010 80000e01 08 00000000000000",
           {kBadAction, kActBadSetArgument}},
          {"error after a good action", "0012 0008 00000000 0063 0008 00000000", kType},
      });
}

TEST(Actions10, Errors) {
  const std::pair<int, int> kLen = {kBadAction, kActBadLen};
  ExpectErrors(
      k10, {
               {"header cut", "00", kLen},
               {"length under 8", "0000 0004 0002 0000", kLen},
               {"length not a multiple of 8", "0000 000c 0002 0000 00000000", kLen},
               {"output of length 16", "0000 0010 0002 0000 0000000000000000", kLen},
               {"set_dl_src of length 8", "0004 0008 00112233", kLen},
               {"enqueue of length 8", "000b 0008 0001 0000", kLen},
               {"unknown type 12", "000c 0008 00000000", {kBadAction, kActBadType}},
               {"vendor", "ffff 0010 00002320 0000000000000000", {kBadAction, kActBadExperimenter}},
               {"set_vlan_vid 0x1000", "0001 0008 1000 0000", {kBadAction, kActBadArgument}},
               {"set_vlan_pcp 8", "0002 0008 08 000000", {kBadAction, kActBadArgument}},
               {"set_nw_tos with ECN bits", "0008 0008 11 000000", {kBadAction, kActBadArgument}},
               {"output to OFPP_NONE", "0000 0008 ffff 0000", {kBadAction, kActBadOutPort}},
               {"output to 0xff01", "0000 0008 ff01 0000", {kBadAction, kActBadOutPort}},
               {"enqueue to OFPP_NONE",
                "000b 0010 ffff 000000000000 00000001",
                {kBadAction, kActBadOutPort}},
               {"enqueue to CONTROLLER",
                "000b 0010 fffd 000000000000 00000001",
                {kBadAction, kActBadOutPort}},
               {"enqueue to OFPP_MAX",
                "000b 0010 ff00 000000000000 00000001",
                {kBadAction, kActBadOutPort}},
           });
}

// Every proper prefix of one action, taken as the whole list, fails; so
// does the whole action when the list claims more bytes than there are.
TEST(Actions, EveryTruncationFails) {
  struct Case {
    uint8_t version;
    const char* text;
  };
  const Case cases[] = {
      {k13, "output:2"},
      {k13, "set_field:2001:db8::1->ipv6_dst"},
      {k13, "set_field:4101->vlan_vid"},
      {k13, "group:1"},
      {k13, "mod_nw_ttl:3"},
      {k10, "mod_dl_src:00:11:22:33:44:55"},
      {k10, "set_queue:1,output:2"},
      {k10, "output:1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Bytes full = EncodeActs(c.version, Actions(c.text));
    for (size_t k = 1; k < full.size(); ++k) {
      Bytes cut(full.begin(), full.begin() + static_cast<long>(k));
      OfActionList a;
      OfpResult err = DecodeActs(c.version, cut, &a);
      EXPECT_TRUE(err) << "at " << k;
      if (err) {
        EXPECT_EQ(err->type, kBadAction);
      }
      Reader r(cut.data(), cut.size());
      EXPECT_EQ(Code(DecodeActions(c.version, r, full.size(), &a)),
                std::make_pair(kBadAction, kActBadLen))
          << "at " << k;
    }
  }
}

// ---------------------------------------------------------------------------
// Instructions.

TEST(Instructions, SpecBytes) {
  const BytesCase cases[] = {
      {"goto_table:3", "0001 0008 03 000000"},
      {"write_metadata:0x12/0xff", "0002 0018 00000000 0000000000000012 00000000000000ff"},
      {"meter:7", "0006 0008 00000007"},
      {"clear_actions", "0005 0008 00000000"},
      {"output:2", "0004 0018 00000000 0000 0010 00000002 0000 000000000000"},
      {"write_actions(group:1)", "0003 0010 00000000 0016 0008 00000001"},
      {"apply_actions()", ""},
      {"drop", ""},
      // The pipeline's order: meter, apply, clear, write, write-metadata, goto.
      {"meter:1,pop_vlan,clear_actions,write_actions(dec_ttl),write_metadata:0x1,goto_table:2",
       "0006 0008 00000001  0004 0010 00000000 0012 0008 00000000  0005 0008 00000000"
       " 0003 0010 00000000 0018 0008 00000000"
       " 0002 0018 00000000 0000000000000001 ffffffffffffffff  0001 0008 02 000000"},
  };
  for (const BytesCase& c : cases) {
    SCOPED_TRACE(c.text);
    Instructions i = Insts(c.text);
    EXPECT_EQ(ToHex(EncodeInsts(i)), ToHex(Hex(c.hex)));
    Instructions back;
    OfpResult err = DecodeInsts(Hex(c.hex), &back);
    ASSERT_FALSE(err) << err->message;
    EXPECT_EQ(Text(back), Text(i));
    EXPECT_TRUE(back == i);
  }
}

// An empty apply-actions instruction on the wire decodes as one (has_apply)
// and encodes back the same.
TEST(Instructions, EmptyApplyActionsIsKept) {
  Bytes b = Hex("0004 0008 00000000");
  Instructions i;
  ASSERT_FALSE(DecodeInsts(b, &i));
  EXPECT_TRUE(i.has_apply);
  EXPECT_TRUE(i.apply.empty());
  EXPECT_EQ(ToHex(EncodeInsts(i)), ToHex(b));
}

// Instructions may come in any order on the wire; duplicates are refused.
TEST(Instructions, AnyOrderOnTheWire) {
  Instructions i;
  ASSERT_FALSE(DecodeInsts(Hex("0001 0008 02 000000 0006 0008 00000001"), &i));
  EXPECT_EQ(Text(i), "meter:1,goto_table:2");
}

TEST(Instructions, RandomRoundTrip) {
  const uint64_t seed = 4;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int rep = 0; rep < 2000; ++rep) {
    Instructions i;
    if (rng() % 2) i.meter = static_cast<uint32_t>(rng());
    if (rng() % 2) {
      i.has_apply = true;
      for (int k = 0, n = static_cast<int>(rng() % 4); k < n; ++k)
        i.apply.push_back(RandomAction13(rng));
    }
    i.clear_actions = rng() % 2;
    if (rng() % 2) {
      i.write.emplace();
      for (int k = 0, n = static_cast<int>(rng() % 4); k < n; ++k)
        i.write->push_back(RandomAction13(rng));
    }
    if (rng() % 2) {
      i.has_write_metadata = true;
      i.metadata_mask = rng();
      i.metadata = rng() & i.metadata_mask;
    }
    if (rng() % 2) i.goto_table = static_cast<uint8_t>(rng());
    Bytes b = EncodeInsts(i);
    Instructions back;
    OfpResult err = DecodeInsts(b, &back);
    ASSERT_FALSE(err) << Text(i) << ": " << err->message;
    EXPECT_TRUE(back == i) << Text(i) << " -> " << Text(back);
  }
}

TEST(Instructions, Errors) {
  const std::pair<int, int> kLen = {kBadInstruction, kInstBadLen};
  const ErrCase cases[] = {
      {"header cut", "0001 00", kLen},
      {"length under 8", "0005 0004 00000000", kLen},
      {"length not a multiple of 8", "0005 000c 00000000 00000000", kLen},
      {"length past the end", "0004 0020 00000000 0012 0008 00000000", kLen},
      {"goto_table of length 16", "0001 0010 02000000 00000000 00000000", kLen},
      {"write_metadata of length 16", "0002 0010 00000000 0000000000000001", kLen},
      {"clear_actions of length 16", "0005 0010 00000000 00000000 00000000", kLen},
      {"meter of length 16", "0006 0010 00000001 00000000 00000000", kLen},
      {"unknown type 7", "0007 0008 00000000", {kBadInstruction, kInstUnknown}},
      {"unknown type 0", "0000 0008 00000000", {kBadInstruction, kInstUnknown}},
      {"experimenter",
       "ffff 0010 00002320 00000000 00000000",
       {kBadInstruction, kInstBadExperimenter}},
      {"goto_table twice", "0001 0008 02000000 0001 0008 03000000", {kBadInstruction, kInstDup}},
      {"apply_actions twice", "0004 0008 00000000 0004 0008 00000000", {kBadInstruction, kInstDup}},
      {"bad action inside", "0004 0010 00000000 0063 0008 00000000", {kBadAction, kActBadType}},
      {"action past its instruction",
       "0004 0010 00000000 0000 0010 00000002",
       {kBadAction, kActBadLen}},
  };
  for (const ErrCase& c : cases) {
    SCOPED_TRACE(c.why);
    Instructions i = Insts("goto_table:9");
    OfpResult err = DecodeInsts(Hex(c.hex), &i);
    EXPECT_EQ(Code(err), c.error) << (err ? err->message : "ok: " + Text(i));
    EXPECT_EQ(Text(i), "goto_table:9") << "a failed decode must leave *insts alone";
  }
}

TEST(Instructions, EveryTruncationFails) {
  const char* texts[] = {"output:2", "write_metadata:0x1/0x3", "goto_table:1",
                         "write_actions(set_field:10.0.0.1->ip_dst)"};
  for (const char* text : texts) {
    SCOPED_TRACE(text);
    Bytes full = EncodeInsts(Insts(text));
    for (size_t k = 1; k < full.size(); ++k) {
      Bytes cut(full.begin(), full.begin() + static_cast<long>(k));
      Instructions i;
      EXPECT_TRUE(DecodeInsts(cut, &i)) << "at " << k;
      Reader r(cut.data(), cut.size());
      EXPECT_EQ(Code(DecodeInstructions(r, full.size(), &i)),
                std::make_pair(kBadInstruction, kInstBadLen))
          << "at " << k;
    }
  }
}

// ---------------------------------------------------------------------------
// Buckets and bands.

std::vector<Bucket> Buckets(const Bytes& b, OfpResult* err) {
  Bytes copy(b);
  Reader r(copy.data(), copy.size());
  std::vector<Bucket> out;
  *err = DecodeBuckets(r, copy.size(), &out);
  return out;
}

TEST(Buckets, SpecBytesAndRoundTrip) {
  Bucket a;
  a.weight = 3;
  a.watch_port = 2;
  a.watch_group = ofproto::kGroupAny;
  a.actions = Actions("output:2");
  Bucket b;  // defaults: any port, any group, no actions
  Bytes want =
      Hex("0020 0003 00000002 ffffffff 00000000 0000 0010 00000002 0000 000000000000"
          " 0010 0000 ffffffff ffffffff 00000000");
  Bytes got;
  Writer w(&got);
  EncodeBuckets(w, {a, b});
  EXPECT_EQ(ToHex(got), ToHex(want));
  OfpResult err;
  std::vector<Bucket> back = Buckets(want, &err);
  ASSERT_FALSE(err) << err->message;
  ASSERT_EQ(back.size(), 2u);
  EXPECT_TRUE(back[0] == a);
  EXPECT_TRUE(back[1] == b);
}

TEST(Buckets, Errors) {
  const std::pair<int, int> kBad = {kGroupModFailed, 12};
  const ErrCase cases[] = {
      {"length cut", "00", kBad},
      {"length under 16", "0008 0000 00000000", kBad},
      {"length past the end", "0020 0000 ffffffff ffffffff 00000000", kBad},
      {"bad action",
       "0018 0000 ffffffff ffffffff 00000000 0063 0008 00000000",
       {kBadAction, kActBadType}},
      {"action cut by the bucket",
       "0014 0000 ffffffff ffffffff 00000000 0012 0008",
       {kBadAction, kActBadLen}},
  };
  for (const ErrCase& c : cases) {
    SCOPED_TRACE(c.why);
    OfpResult err;
    Buckets(Hex(c.hex), &err);
    EXPECT_EQ(Code(err), c.error);
  }
  Bytes full = Hex("0020 0003 00000002 ffffffff 00000000 0000 0010 00000002 0000 000000000000");
  for (size_t k = 1; k < full.size(); ++k) {
    OfpResult err;
    Buckets(Bytes(full.begin(), full.begin() + static_cast<long>(k)), &err);
    EXPECT_TRUE(err) << "at " << k;
  }
}

std::vector<MeterBandSpec> Bands(const Bytes& b, OfpResult* err) {
  Bytes copy(b);
  Reader r(copy.data(), copy.size());
  std::vector<MeterBandSpec> out;
  *err = DecodeBands(r, copy.size(), &out);
  return out;
}

TEST(Bands, SpecBytesAndRoundTrip) {
  MeterBandSpec drop;
  drop.type = MeterBandSpec::kDrop;
  drop.rate = 1000;
  drop.burst_size = 100;
  MeterBandSpec remark;
  remark.type = MeterBandSpec::kDscpRemark;
  remark.rate = 0x12345678;
  remark.burst_size = 0;
  remark.prec_level = 2;
  Bytes want = Hex("0001 0010 000003e8 00000064 00000000  0002 0010 12345678 00000000 02 000000");
  Bytes got;
  Writer w(&got);
  EncodeBands(w, {drop, remark});
  EXPECT_EQ(ToHex(got), ToHex(want));
  OfpResult err;
  std::vector<MeterBandSpec> back = Bands(want, &err);
  ASSERT_FALSE(err) << err->message;
  ASSERT_EQ(back.size(), 2u);
  EXPECT_TRUE(back[0] == drop);
  EXPECT_TRUE(back[1] == remark);
}

TEST(Bands, Errors) {
  const std::pair<int, int> kLen = {kBadRequest, 6}, kBand = {kMeterModFailed, 8};
  const ErrCase cases[] = {
      {"header cut", "0001 00", kLen},
      {"length under 16", "0001 0008 000003e8", kLen},
      {"length past the end", "0001 0010 000003e8 00000064", kLen},
      {"drop of length 24", "0001 0018 000003e8 00000064 00000000 00000000", kLen},
      {"unknown type 3", "0003 0010 000003e8 00000064 00000000", kBand},
      {"experimenter band", "ffff 0010 000003e8 00000064 00002320", kBand},
  };
  for (const ErrCase& c : cases) {
    SCOPED_TRACE(c.why);
    OfpResult err;
    Bands(Hex(c.hex), &err);
    EXPECT_EQ(Code(err), c.error);
  }
  Bytes full = Hex("0002 0010 12345678 00000000 02 000000");
  for (size_t k = 1; k < full.size(); ++k) {
    OfpResult err;
    Bands(Bytes(full.begin(), full.begin() + static_cast<long>(k)), &err);
    EXPECT_EQ(Code(err), kLen) << "at " << k;
  }
}

// ---------------------------------------------------------------------------
// Cross-checks with Open vSwitch: ovs-ofctl decodes Sluice's encodings to
// the same instructions/actions (its text read back with Sluice's parser).

struct FlowCase {
  const char* match;
  const char* actions;
};

TEST(OvsOfctl, DecodesOur13Instructions) {
  const FlowCase cases[] = {
      {"", "drop"},
      {"", "output:2"},
      {"", "CONTROLLER:65535"},
      {"", "output:2,output:LOCAL,IN_PORT,NORMAL,FLOOD,ALL"},
      {"", "group:5"},
      {"", "set_queue:7,output:1"},
      {"", "push_vlan:0x8100,set_field:4101->vlan_vid,output:3"},
      {"", "push_vlan:0x88a8"},
      {"ip,dl_vlan=3", "pop_vlan,dec_ttl,mod_nw_ttl:9"},
      {"", "set_field:aa:bb:cc:dd:ee:ff->eth_dst,set_field:00:00:00:00:00:01->eth_src"},
      {"ip", "set_field:10.0.0.1->ip_src,set_field:10.0.0.2->ip_dst"},
      {"ipv6", "set_field:2001:db8::1->ipv6_src,set_field:0x12345->ipv6_label"},
      {"ip,dl_vlan=3", "mod_nw_tos:16,mod_nw_ecn:2,set_field:5->vlan_pcp"},
      {"tcp", "set_field:80->tcp_src"},
      {"udp6", "set_field:53->udp_dst"},
      {"sctp", "set_field:9->sctp_dst"},
      {"icmp", "set_field:8->icmp_type,set_field:0->icmp_code"},
      {"icmp6,icmp_type=136",
       "set_field:136->icmpv6_type,set_field:fe80::1->nd_target,"
       "set_field:00:00:00:00:00:02->nd_tll"},
      {"arp",
       "set_field:2->arp_op,set_field:10.0.0.9->arp_spa,"
       "set_field:00:00:00:00:00:03->arp_sha"},
      {"", "set_field:0x77->metadata,set_field:0x5->tun_id,set_field:0x9->reg3"},
      {"",
       "meter:1,output:2,clear_actions,write_actions(output:3,group:4),"
       "write_metadata:0x1/0xff,goto_table:2"},
      {"ip", "write_actions(set_field:1.2.3.4->ip_dst,pop_vlan,dec_ttl,set_queue:3)"},
  };
  for (const FlowCase& c : cases) {
    SCOPED_TRACE(c.actions);
    ofproto::OfMatch m = Match(c.match);
    Instructions i = Insts(c.actions, &m);
    std::string got = PrintedActions(OfpPrint(FlowMod13(m, EncodeInsts(i))));
    ASSERT_EQ(got.rfind("ERROR", 0), std::string::npos) << got;
    Instructions back = Insts(got, &m);
    EXPECT_TRUE(back == i) << "ovs-ofctl read: " << got << "; Sluice: " << Text(back);
  }
}

TEST(OvsOfctl, DecodesOur10Actions) {
  struct Case {
    const char* match;
    const char* text;
    const char* ovs;  // ovs-ofctl's text, when Sluice's syntax has no such action
  };
  const Case cases[] = {
      {"", "output:2,CONTROLLER:128,LOCAL,IN_PORT", nullptr},
      {"", "mod_vlan_vid:5,mod_vlan_pcp:3", nullptr},
      {"", "strip_vlan", nullptr},
      {"", "mod_dl_src:00:11:22:33:44:55,mod_dl_dst:00:00:00:00:00:01", nullptr},
      {"ip", "mod_nw_src:10.0.0.1,mod_nw_dst:10.0.0.2,mod_nw_tos:16", nullptr},
      {"tcp", "mod_tp_src:80,mod_tp_dst:443", nullptr},
      {"", "set_queue:7,output:3", "enqueue:3:7"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    OfActionList a = Actions(c.text);
    std::string got = PrintedActions(OfpPrint(FlowMod10(Match(c.match), EncodeActs(k10, a))));
    ASSERT_EQ(got.rfind("ERROR", 0), std::string::npos) << got;
    if (c.ovs) {
      EXPECT_EQ(got, c.ovs);
    } else {
      OfActionList back = Actions(got);
      EXPECT_TRUE(back == a) << "ovs-ofctl read: " << got;
    }
  }
}

// OFPT_GROUP_MOD (1.3, ADD, group 1) around our buckets: ovs-ofctl's text
// of it, read back with Sluice's group syntax, gives the same buckets.
TEST(OvsOfctl, DecodesOurBuckets) {
  const char* texts[] = {
      "group_id=1,type=select,bucket=weight:3,actions=output:2,bucket=weight:1,actions=drop",
      "group_id=1,type=fast_failover,bucket=watch_port:2,actions=output:2,"
      "bucket=watch_port:3,watch_group:7,actions=group:2",
      "group_id=1,type=all,bucket=actions=set_field:00:00:00:00:00:01->eth_src,output:1,"
      "bucket=actions=push_vlan:0x8100,set_field:4099->vlan_vid,output:2",
  };
  for (const char* text : texts) {
    SCOPED_TRACE(text);
    ofproto::GroupMod gm;
    Status st = ofproto::ParseGroupMod(text, ofproto::GroupMod::Command::kAdd, &gm);
    ASSERT_TRUE(st.ok()) << st.message();
    Bytes msg;
    Writer w(&msg);
    w.u8(0x04);
    w.u8(15);  // OFPT_GROUP_MOD
    w.u16(0);
    w.u32(1);
    w.u16(0);  // OFPGC_ADD
    w.u8(static_cast<uint8_t>(gm.type));
    w.zeros(1);
    w.u32(gm.group_id);
    EncodeBuckets(w, gm.buckets);
    w.put_u16(2, static_cast<uint16_t>(msg.size()));
    std::string printed = OfpPrint(msg);
    size_t add = printed.find("ADD ");
    ASSERT_NE(add, std::string::npos) << printed;
    std::string got = printed.substr(add + 4, printed.find('\n', add) - add - 4);
    ofproto::GroupMod back;
    st = ofproto::ParseGroupMod(got, ofproto::GroupMod::Command::kAdd, &back);
    ASSERT_TRUE(st.ok()) << got << ": " << st.message();
    EXPECT_TRUE(back.buckets == gm.buckets) << "ovs-ofctl read: " << got;
  }
}

// OFPT_METER_MOD (1.3, ADD, kbps|burst, meter 5) around our bands.
TEST(OvsOfctl, DecodesOurBands) {
  MeterBandSpec drop;
  drop.type = MeterBandSpec::kDrop;
  drop.rate = 1000;
  drop.burst_size = 100;
  MeterBandSpec remark;
  remark.type = MeterBandSpec::kDscpRemark;
  remark.rate = 2000;
  remark.burst_size = 7;
  remark.prec_level = 2;
  Bytes msg;
  Writer w(&msg);
  w.u8(0x04);
  w.u8(29);  // OFPT_METER_MOD
  w.u16(0);
  w.u32(1);
  w.u16(0);      // OFPMC_ADD
  w.u16(1 | 4);  // OFPMF_KBPS | OFPMF_BURST
  w.u32(5);
  EncodeBands(w, {drop, remark});
  w.put_u16(2, static_cast<uint16_t>(msg.size()));
  EXPECT_EQ(OfpPrint(msg),
            "OFPT_METER_MOD (OF1.3) (xid=0x1): ADD meter=5 kbps burst bands=\n"
            "type=drop rate=1000 burst_size=100\n"
            "type=dscp_remark rate=2000 burst_size=7 prec_level=2\n");
}

TEST(OvsOfctl, RefusesWhatWeRefuseWithTheSameError) {
  struct Case {
    const char* hex;  // instructions
    std::pair<int, int> error;
    const char* ovs_name;
  };
  const Case cases[] = {
      {"0004 0018 00000000 0011 0008 0800 0000 0000 0010 00000002",
       {kBadAction, kActBadArgument},
       "OFPBAC_BAD_ARGUMENT"},
      {"0004 0010 00000000 0063 0008 00000000", {kBadAction, kActBadType}, "OFPBAC_BAD_TYPE"},
      {"0004 0010 00000000 0012 0010 00000000", {kBadAction, kActBadLen}, "OFPBAC_BAD_LEN"},
      {"0004 0018 00000000 0019 0010 80000c02 0005 000000000000",
       {kBadAction, kActBadSetArgument},
       "OFPBAC_BAD_SET_ARGUMENT"},
      {"0007 0008 00000000", {kBadInstruction, kInstUnknown}, "OFPBIC_UNKNOWN_INST"},
      {"0005 0010 00000000 00000000 00000000", {kBadInstruction, kInstBadLen}, "OFPBIC_BAD_LEN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    Instructions i;
    EXPECT_EQ(Code(DecodeInsts(Hex(c.hex), &i)), c.error);
    std::string printed = OfpPrint(FlowMod13(ofproto::OfMatch::CatchAll(), Hex(c.hex)));
    EXPECT_NE(printed.find(std::string("decode error: ") + c.ovs_name), std::string::npos)
        << printed;
  }
}

}  // namespace
}  // namespace sluice::ofp
