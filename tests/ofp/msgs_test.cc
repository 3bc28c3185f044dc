// The OpenFlow message codec (controller/ofp/ofp_msgs.h): round trips of
// every message type in both versions, the wire type numbers, the errors
// malformed or unsupported messages get, EncodeError's 1.0 renumbering,
// version negotiation, and robustness against truncated, mislabelled and
// random input. Cross-checks with ovs-ofctl are in ofctl_print_test.cc and
// ofctl_capture_test.cc; multipart in multipart_test.cc.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "controller/ofp/ofp_msgs.h"
#include "tests/ofp/ofp_test_util.h"

namespace sluice::ofp {
namespace {

using namespace test;
namespace ofperr = ofproto::ofperr;
using Cmd = ofproto::FlowMod::Command;

void ExpectError(const Bytes& b, uint16_t type, uint16_t code) {
  Decoded d = Decode(b.data(), b.size());
  ASSERT_FALSE(d.ok()) << Hex(b);
  EXPECT_EQ(d.error.type, type) << d.error.message << " for " << Hex(b);
  EXPECT_EQ(d.error.code, code) << d.error.message << " for " << Hex(b);
}

// Sets the header length to the vector's size.
Bytes Fixed(Bytes b) {
  b[2] = static_cast<uint8_t>(b.size() >> 8);
  b[3] = static_cast<uint8_t>(b.size());
  return b;
}

template <typename T>
const T& BodyOf(const Message& m) {
  EXPECT_TRUE(std::holds_alternative<T>(m.body)) << TypeName(m.type);
  static const T kEmpty{};
  const T* p = std::get_if<T>(&m.body);
  return p ? *p : kEmpty;
}

// Decoding any input never crashes; what decodes re-encodes to messages
// that decode again.
void CheckReencodes(const Bytes& b) {
  Decoded d = Decode(b.data(), b.size());
  if (!d.ok()) return;
  auto msgs = Encode(*d.msg);
  ASSERT_FALSE(msgs.empty()) << "decoded but does not encode: " << Hex(b);
  for (const Bytes& m : msgs) {
    Decoded again = Decode(m.data(), m.size());
    ASSERT_TRUE(again.ok()) << again.error.message << "\n in:  " << Hex(b) << "\n out: " << Hex(m);
  }
}

// ---- Wire type numbers ----

TEST(OfpMsgs, WireTypeNumbersOf10And13) {
  struct Case {
    Type type;
    int of10;  // -1: not in 1.0
  };
  const Case cases[] = {
      {Type::kHello, 0},
      {Type::kError, 1},
      {Type::kEchoRequest, 2},
      {Type::kEchoReply, 3},
      {Type::kExperimenter, 4},
      {Type::kFeaturesRequest, 5},
      {Type::kFeaturesReply, 6},
      {Type::kGetConfigRequest, 7},
      {Type::kGetConfigReply, 8},
      {Type::kSetConfig, 9},
      {Type::kPacketIn, 10},
      {Type::kFlowRemoved, 11},
      {Type::kPortStatus, 12},
      {Type::kPacketOut, 13},
      {Type::kFlowMod, 14},
      {Type::kGroupMod, -1},
      {Type::kPortMod, 15},
      {Type::kTableMod, -1},
      {Type::kMultipartRequest, 16},
      {Type::kMultipartReply, 17},
      {Type::kBarrierRequest, 18},
      {Type::kBarrierReply, 19},
      {Type::kQueueGetConfigRequest, 20},
      {Type::kQueueGetConfigReply, 21},
      {Type::kRoleRequest, -1},
      {Type::kRoleReply, -1},
      {Type::kGetAsyncRequest, -1},
      {Type::kGetAsyncReply, -1},
      {Type::kSetAsync, -1},
      {Type::kMeterMod, -1},
  };
  for (uint8_t v : {kVersion10, kVersion13}) {
    auto samples = Samples(v);
    for (const Case& c : cases) {
      const Message* m = nullptr;
      for (const Message& s : samples) {
        if (s.type == c.type) m = &s;
      }
      const int want = v == kVersion13 ? static_cast<int>(c.type) : c.of10;
      if (c.type == Type::kMultipartReply) continue;  // multipart_test.cc
      if (want < 0) {
        EXPECT_EQ(m, nullptr) << TypeName(c.type);
        continue;
      }
      ASSERT_NE(m, nullptr) << TypeName(c.type) << " v" << int(v);
      Bytes b = EncodeOne(*m);
      ASSERT_GE(b.size(), kHeaderLen);
      EXPECT_EQ(b[0], v);
      EXPECT_EQ(b[1], want) << TypeName(c.type) << " v" << int(v);
    }
  }
}

TEST(OfpMsgs, OneDotThreeOnlyTypesDoNotEncodeFor10) {
  for (const Message& m : Samples(kVersion13)) {
    if (m.type != Type::kGroupMod && m.type != Type::kTableMod && m.type != Type::kRoleRequest &&
        m.type != Type::kMeterMod && m.type != Type::kSetAsync) {
      continue;
    }
    Message m10 = m;
    m10.version = kVersion10;
    EXPECT_TRUE(Encode(m10).empty()) << TypeName(m.type);
  }
}

TEST(OfpMsgs, OneDotThreeOnlyWireTypesOn10AreBadType) {
  for (int t = 22; t <= 40; ++t) {
    Bytes b = {kVersion10, static_cast<uint8_t>(t), 0, 8, 0, 0, 0, 1};
    ExpectError(b, err::kBadRequest, err::kBadReqBadType);
  }
  ExpectError(Bytes{kVersion13, 30, 0, 8, 0, 0, 0, 1}, err::kBadRequest, err::kBadReqBadType);
  ExpectError(Bytes{kVersion13, 0xff, 0, 8, 0, 0, 0, 1}, err::kBadRequest, err::kBadReqBadType);
}

// ---- Round trips ----

TEST(OfpMsgs, EverySampleRoundTripsInBothVersions) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : Samples(v)) {
      SCOPED_TRACE(std::string(TypeName(m.type)) + " v" + std::to_string(v));
      RoundTrip(m);
    }
  }
}

TEST(OfpMsgs, HelloCarriesTheVersionBitmap) {
  Bytes h = EncodeHello(7);
  EXPECT_EQ(Hex(h), "04000010000000070001000800000012");
  Message m = MustDecode(h);
  EXPECT_EQ(BodyOf<Hello>(m).version_bitmap, 0x12u);
  EXPECT_EQ(BodyOf<Hello>(m).version, kVersion13);
  // A hello with an unknown element before the bitmap, padded.
  Bytes h2 = FromHex(
      "0500001800000001"
      "00ff0005aa000000"
      "0001000800000032");
  Message m2 = MustDecode(h2);
  EXPECT_EQ(m2.version, 5);
  EXPECT_EQ(BodyOf<Hello>(m2).version_bitmap, 0x32u);
  EXPECT_EQ(NegotiateVersion(BodyOf<Hello>(m2)), kVersion13);
  // Elements that do not frame are ignored, not fatal: negotiation goes on.
  Bytes h3 = FromHex(
      "0400000e00000001"
      "0001000900000012");
  h3.resize(14);
  Message m3 = MustDecode(h3);
  EXPECT_EQ(BodyOf<Hello>(m3).version_bitmap, 0u);
}

TEST(OfpMsgs, NegotiateVersion) {
  EXPECT_EQ(NegotiateVersion(Hello{0, kVersion13}), kVersion13);
  EXPECT_EQ(NegotiateVersion(Hello{0, kVersion10}), kVersion10);
  EXPECT_EQ(NegotiateVersion(Hello{0, 6}), kVersion13);  // min(6, 1.3)
  EXPECT_EQ(NegotiateVersion(Hello{0, 2}), 0);           // 1.1: not ours
  EXPECT_EQ(NegotiateVersion(Hello{0, 3}), 0);
  EXPECT_EQ(NegotiateVersion(Hello{(1u << 1) | (1u << 4) | (1u << 5), 5}), kVersion13);
  EXPECT_EQ(NegotiateVersion(Hello{(1u << 1) | (1u << 2), 2}), kVersion10);
  EXPECT_EQ(NegotiateVersion(Hello{(1u << 5) | (1u << 6), 6}), 0);
}

TEST(OfpMsgs, MessageTypeDecidesBetweenRequestAndReply) {
  // The body's flag says request, the type says reply: the type wins.
  Message m = Msg(kVersion13, Type::kEchoReply, Echo{false, {1}});
  EXPECT_EQ(EncodeOne(m)[1], 3);
  // A type that does not fit the body: the body's flag decides.
  Message m2 = Msg(kVersion13, Type::kHello, Echo{true, {1}});
  EXPECT_EQ(EncodeOne(m2)[1], 3);
  Message m3 = Msg(kVersion10, Type::kSetConfig, SwitchConfig{false, 0, 128});
  EXPECT_EQ(EncodeOne(m3)[1], 9);
  Message m4 = Msg(kVersion13, Type::kRoleReply, RoleMsg{false, ControllerRole::kEqual, 1});
  EXPECT_EQ(EncodeOne(m4)[1], 25);
  Message m5 = Msg(kVersion13, Type::kSetAsync, AsyncMsg{AsyncMsg::Kind::kGetReply, {}});
  EXPECT_EQ(EncodeOne(m5)[1], 28);
}

TEST(OfpMsgs, FeaturesReplyLayouts) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : Samples(v)) {
      if (m.type != Type::kFeaturesReply) continue;
      Bytes b;
      Message d = RoundTrip(m, &b);
      const auto& f = BodyOf<FeaturesReply>(d);
      EXPECT_EQ(f.datapath_id, 0x0000aabbccddeeffull);
      EXPECT_EQ(f.n_tables, 254);
      if (v == kVersion10) {
        EXPECT_EQ(b.size(), 32u + 2 * 48);
        ASSERT_EQ(f.ports.size(), 2u);
        EXPECT_EQ(f.ports[1].name, "eth2");
        EXPECT_EQ(f.ports[1].port_no, 2u);
        EXPECT_EQ(f.ports[1].curr, (1u << 5) | (1u << 11));  // back in 1.3 numbering
        EXPECT_EQ(f.actions_10, 0xfffu);
        // On the wire, 1.0 numbering: COPPER is bit 7.
        EXPECT_EQ(b[32 + 32 + 3], (1u << 5) | (1u << 7));
      } else {
        EXPECT_EQ(b.size(), 32u);
        EXPECT_TRUE(f.ports.empty());
      }
    }
  }
}

TEST(OfpMsgs, PortsMapBetween16And32Bits) {
  Message m = Msg(kVersion10, Type::kPortStatus, PortStatus{PortReason::kAdd, SamplePort(0)});
  std::get<PortStatus>(m.body).desc.port_no = ofproto::kPortLocal;
  Bytes b;
  Message d = RoundTrip(m, &b);
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(b[16], 0xff);
  EXPECT_EQ(b[17], 0xfe);
  EXPECT_EQ(BodyOf<PortStatus>(d).desc.port_no, ofproto::kPortLocal);
  Message m13 = m;
  m13.version = kVersion13;
  RoundTrip(m13, &b);
  EXPECT_EQ(b.size(), 80u);
}

TEST(OfpMsgs, PacketInLayouts) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : Samples(v)) {
      if (m.type != Type::kPacketIn) continue;
      Bytes b;
      Message d = RoundTrip(m, &b);
      const auto& pi = BodyOf<PacketIn>(d);
      EXPECT_EQ(pi.total_len, 64);
      EXPECT_EQ(pi.data.size(), 64u);
      EXPECT_EQ(pi.reason, PacketInReason::kNoMatch);
      EXPECT_EQ(ofproto::GetField(pi.match.value, ofproto::FieldId::kInPort).ToUint(), 3u);
      if (v == kVersion10) {
        EXPECT_EQ(b.size(), 18u + 64);
        EXPECT_EQ(b[14], 0);  // in_port (16 bits)
        EXPECT_EQ(b[15], 3);
        EXPECT_EQ(b[16], 0);  // reason
      } else {
        EXPECT_EQ(pi.cookie, 0x77u);
        EXPECT_EQ(pi.table_id, 3);
        EXPECT_TRUE(SameMatch(pi.match, MatchOf("in_port=3,metadata=0x5")));
        // header 8 + 16 fixed + match (4 + 8 in_port + 12 metadata = 24, padded 24) + 2 pad
        EXPECT_EQ(b.size(), 8u + 16 + 24 + 2 + 64);
      }
    }
  }
}

TEST(OfpMsgs, PacketInDataIsCutToFitOneMessage) {
  PacketIn pi;
  pi.total_len = 0xffff;
  pi.match = MatchOf("in_port=1");
  pi.data.assign(70000, 1);
  Bytes b = EncodeOne(Msg(kVersion13, Type::kPacketIn, pi));
  ASSERT_EQ(b.size(), 0xffffu);
  EXPECT_TRUE(Decode(b.data(), b.size()).ok());
}

TEST(OfpMsgs, FlowModOf13) {
  for (const Message& m : Samples(kVersion13)) {
    if (m.type != Type::kFlowMod) continue;
    Message d = RoundTrip(m);
    const auto& fm = BodyOf<FlowMod>(d).fm;
    EXPECT_EQ(fm.priority, 10);
    EXPECT_EQ(fm.cookie, 0xabcu);
    EXPECT_EQ(fm.idle_timeout, 5);
    EXPECT_EQ(fm.hard_timeout, 50);
    EXPECT_EQ(fm.flags, ofproto::kFlagSendFlowRem);
    EXPECT_FALSE(fm.modify_adds_if_missing);
    EXPECT_TRUE(SameMatch(fm.match, MatchOf("tcp,nw_src=10.0.0.0/8,tp_dst=80")));
    EXPECT_TRUE(fm.insts == std::get<FlowMod>(m.body).fm.insts);
    EXPECT_EQ(BodyOf<FlowMod>(d).buffer_id, kNoBuffer);
  }
}

TEST(OfpMsgs, FlowModOf10) {
  Message m;
  for (const Message& s : Samples(kVersion10)) {
    if (s.type == Type::kFlowMod) m = s;
  }
  Bytes b;
  Message d = RoundTrip(m, &b);
  const auto& fm = BodyOf<FlowMod>(d).fm;
  EXPECT_EQ(b.size(), 72u + 16 + 8);  // set_dl_dst (16) + output (8)
  EXPECT_EQ(fm.table_id, 0);
  EXPECT_EQ(fm.priority, 10);
  EXPECT_EQ(fm.cookie_mask, 0u);
  EXPECT_EQ(fm.out_group, ofproto::kGroupAny);
  EXPECT_TRUE(SameMatch(fm.match, MatchOf("tcp,nw_src=10.0.0.0/8,tp_dst=80")));
  EXPECT_TRUE(fm.insts == std::get<FlowMod>(m.body).fm.insts);
  EXPECT_FALSE(fm.modify_adds_if_missing);

  // Modify (both forms) adds when nothing matches; deletes cover all tables.
  for (Cmd c : {Cmd::kModify, Cmd::kModifyStrict, Cmd::kDelete, Cmd::kDeleteStrict}) {
    Message mc = m;
    std::get<FlowMod>(mc.body).fm.command = c;
    Bytes bc = EncodeOne(mc);
    const Message decoded = MustDecode(bc);
    const auto& got = BodyOf<FlowMod>(decoded).fm;
    EXPECT_EQ(got.command, c);
    const bool modify = c == Cmd::kModify || c == Cmd::kModifyStrict;
    EXPECT_EQ(got.modify_adds_if_missing, modify);
    EXPECT_EQ(got.table_id, modify ? 0 : ofproto::kAllTables);
  }

  // The 16-bit out_port: OFPP_NONE is "any".
  Message mo = m;
  std::get<FlowMod>(mo.body).fm.command = Cmd::kDelete;
  std::get<FlowMod>(mo.body).fm.out_port = 5;
  EXPECT_EQ(BodyOf<FlowMod>(MustDecode(EncodeOne(mo))).fm.out_port, 5u);
  std::get<FlowMod>(mo.body).fm.out_port = ofproto::kPortAny;
  Bytes bo = EncodeOne(mo);
  EXPECT_EQ(bo[68], 0xff);
  EXPECT_EQ(bo[69], 0xff);
  EXPECT_EQ(BodyOf<FlowMod>(MustDecode(bo)).fm.out_port, ofproto::kPortAny);
}

TEST(OfpMsgs, FlowModOf10ExactMatchGetsTopPriority) {
  FlowMod fm;
  fm.fm.priority = 5;
  Bytes b = EncodeOne(Msg(kVersion10, Type::kFlowMod, fm));
  // Clear the wildcards: an exact match of every 1.0 field.
  b[8] = b[9] = b[10] = b[11] = 0;
  EXPECT_EQ(BodyOf<FlowMod>(MustDecode(b)).fm.priority, 0xffff);
}

TEST(OfpMsgs, FlowModErrors) {
  FlowMod fm;
  fm.fm.match = MatchOf("ip");
  fm.fm.insts = InstsOf("output:1", fm.fm.match);
  const Bytes b13 = EncodeOne(Msg(kVersion13, Type::kFlowMod, fm));
  const Bytes b10 = EncodeOne(Msg(kVersion10, Type::kFlowMod, fm));
  constexpr size_t kCmd13 = 25, kTable13 = 24, kBuf13 = 32, kFlags13 = 44;
  constexpr size_t kCmd10 = 56, kBuf10 = 64, kFlags10 = 70;

  Bytes b = b13;
  b[kCmd13] = 5;
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModBadCommand);
  b = b10;
  b[kCmd10 + 1] = 9;
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModBadCommand);

  b = b13;
  b[kTable13] = 0xff;  // add to "all tables"
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModBadTableId);
  b[kCmd13] = static_cast<uint8_t>(Cmd::kDelete);
  EXPECT_EQ(BodyOf<FlowMod>(MustDecode(b)).fm.table_id, 0xff);
  b[kCmd13] = static_cast<uint8_t>(Cmd::kDeleteStrict);
  EXPECT_EQ(BodyOf<FlowMod>(MustDecode(b)).fm.table_id, 0xff);

  b = b13;
  b[kBuf13 + 3] = 0x01;  // buffer_id 0xffffff01
  ExpectError(b, err::kBadRequest, err::kBadReqBufferUnknown);
  b[kCmd13] = static_cast<uint8_t>(Cmd::kDelete);  // deletes ignore it
  EXPECT_TRUE(Decode(b.data(), b.size()).ok());
  b = b10;
  b[kBuf10] = 0;
  ExpectError(b, err::kBadRequest, err::kBadReqBufferUnknown);

  b = b13;
  b[kFlags13 + 1] = 0x20;
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModBadFlags);
  b = b10;
  b[kFlags10 + 1] = 0x04;  // OFPFF_EMERG
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModTableFull);
  b = b10;
  b[kFlags10 + 1] = 0x08;
  ExpectError(b, ofperr::kFlowModFailed, ofperr::kFlowModBadFlags);
}

TEST(OfpMsgs, PacketOutErrors) {
  PacketOut po;
  po.actions = ActionsOf("output:1");
  po.data = {1, 2, 3};
  for (uint8_t v : {kVersion10, kVersion13}) {
    const Bytes good = EncodeOne(Msg(v, Type::kPacketOut, po));
    Message d = MustDecode(good);
    EXPECT_EQ(BodyOf<PacketOut>(d).in_port, ofproto::kPortController);
    EXPECT_EQ(BodyOf<PacketOut>(d).data, po.data);
    Bytes b = good;
    b[8] = 0;  // buffer_id 0x00ffffff
    ExpectError(b, err::kBadRequest, err::kBadReqBufferUnknown);
    // actions_len past the end.
    b = good;
    const size_t len_at = v == kVersion10 ? 14 : 16;
    b[len_at] = 0x01;
    ExpectError(b, err::kBadRequest, err::kBadReqBadLen);
  }
  // A reserved in_port that makes no sense for a packet-out.
  PacketOut bad = po;
  bad.in_port = ofproto::kPortFlood;
  Bytes b = EncodeOne(Msg(kVersion13, Type::kPacketOut, bad));
  ExpectError(b, err::kBadRequest, err::kBadReqBadPort);
}

TEST(OfpMsgs, GroupModErrorsAndDeleteAll) {
  GroupMod gm;
  gm.gm.command = ofproto::GroupMod::Command::kDelete;
  gm.gm.group_id = ofproto::kGroupAny;
  Bytes b = EncodeOne(Msg(kVersion13, Type::kGroupMod, gm));
  EXPECT_EQ(Hex(b).substr(16), "00020000fffffffc");  // OFPG_ALL on the wire
  EXPECT_EQ(BodyOf<GroupMod>(MustDecode(b)).gm.group_id, ofproto::kGroupAny);
  Bytes c = b;
  c[9] = 3;  // command 3
  ExpectError(c, ofperr::kGroupModFailed, ofperr::kGroupBadCommand);
  c = b;
  c[10] = 4;  // type 4
  ExpectError(c, ofperr::kGroupModFailed, ofperr::kGroupBadType);
  c = b;
  c[9] = 0;  // add of OFPG_ALL
  ExpectError(c, ofperr::kGroupModFailed, ofperr::kGroupInvalid);
}

TEST(OfpMsgs, OtherModErrors) {
  MeterMod mm;
  Bytes b = EncodeOne(Msg(kVersion13, Type::kMeterMod, mm));
  b[9] = 3;
  ExpectError(b, ofperr::kMeterModFailed, ofperr::kMeterBadCommand);

  Bytes role = EncodeOne(Msg(kVersion13, Type::kRoleRequest, RoleMsg{}));
  role[11] = 4;
  ExpectError(role, err::kRoleRequestFailed, err::kRoleBadRole);

  for (uint8_t v : {kVersion10, kVersion13}) {
    Bytes sc = EncodeOne(Msg(v, Type::kSetConfig, SwitchConfig{true, 0, 128}));
    sc[9] = 0x10;
    ExpectError(sc, err::kSwitchConfigFailed, err::kSwitchConfigBadFlags);

    PortMod pm;
    pm.port_no = ofproto::kPortFlood;
    ExpectError(EncodeOne(Msg(v, Type::kPortMod, pm)), err::kPortModFailed, err::kPortModBadPort);
    pm.port_no = 1;
    pm.mask = 2;  // OFPPC_NO_STP (1.0) / reserved (1.3)
    ExpectError(EncodeOne(Msg(v, Type::kPortMod, pm)), err::kPortModFailed, err::kPortModBadConfig);

    ExpectError(EncodeOne(Msg(v, Type::kQueueGetConfigRequest,
                              QueueGetConfigRequest{ofproto::kPortController})),
                err::kQueueOpFailed, err::kQueueOpBadPort);
  }
  ExpectError(EncodeOne(Msg(kVersion13, Type::kTableMod, TableMod{1, 8})), err::kTableModFailed,
              err::kTableModBadConfig);
}

TEST(OfpMsgs, EmptyBodiedMessagesRefuseABody) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (Type t : {Type::kFeaturesRequest, Type::kGetConfigRequest, Type::kBarrierRequest,
                   Type::kBarrierReply, Type::kGetAsyncRequest}) {
      Message m;
      for (const Message& s : Samples(v)) {
        if (s.type == t) m = s;
      }
      if (m.type != t) continue;
      Bytes b = EncodeOne(m);
      b.push_back(0);
      ExpectError(Fixed(b), err::kBadRequest, err::kBadReqBadLen);
    }
  }
}

TEST(OfpMsgs, HeaderErrors) {
  Bytes b = EncodeOne(Msg(kVersion13, Type::kBarrierRequest, BarrierRequest{}));
  ExpectError(Bytes(b.begin(), b.begin() + 7), err::kBadRequest, err::kBadReqBadLen);
  EXPECT_FALSE(Decode(nullptr, 0).ok());
  Bytes longer = b;
  longer[3] = 9;  // says 9, has 8
  ExpectError(longer, err::kBadRequest, err::kBadReqBadLen);
  Bytes shorter = b;
  shorter[3] = 7;
  ExpectError(shorter, err::kBadRequest, err::kBadReqBadLen);
  for (uint8_t v : {0, 2, 3, 5, 6, 0x81, 0xff}) {
    Bytes bv = b;
    bv[0] = v;
    ExpectError(bv, err::kBadRequest, err::kBadReqBadVersion);
    bv[1] = 0;  // a hello of any version decodes
    Decoded d = Decode(bv.data(), bv.size());
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(BodyOf<Hello>(*d.msg).version, v);
  }
}

// ---- Errors ----

TEST(OfpMsgs, EncodeErrorOf13KeepsNumbersAndEchoes64Bytes) {
  Bytes req(100);
  for (size_t i = 0; i < req.size(); ++i) req[i] = static_cast<uint8_t>(i);
  Bytes e = EncodeError(kVersion13, 9, OfpError{ofperr::kBadMatch, ofperr::kBadMatchBadPrereq, ""},
                        req.data(), req.size());
  ASSERT_EQ(e.size(), 12u + 64);
  Message m = MustDecode(e);
  const auto& body = BodyOf<Error>(m);
  EXPECT_EQ(body.type, ofperr::kBadMatch);
  EXPECT_EQ(body.code, ofperr::kBadMatchBadPrereq);
  EXPECT_EQ(body.data, Bytes(req.begin(), req.begin() + 64));
  EXPECT_EQ(m.xid, 9u);
  Bytes small = EncodeError(kVersion13, 1, OfpError{1, 6, ""}, req.data(), 10);
  EXPECT_EQ(small.size(), 22u);
  EXPECT_EQ(EncodeError(kVersion13, 1, OfpError{1, 6, ""}, nullptr, 0).size(), 12u);
}

TEST(OfpMsgs, EncodeErrorRenumbersFor10) {
  struct Case {
    uint16_t type13, code13, type10, code10;
  };
  const Case cases[] = {
      {0, 0, 0, 0},  // HELLO_FAILED/INCOMPATIBLE
      {1, err::kBadReqBadVersion, 1, 0},
      {1, err::kBadReqBadType, 1, 1},
      {1, err::kBadReqBadMultipart, 1, 2},  // BAD_STAT
      {1, err::kBadReqBadLen, 1, 6},
      {1, err::kBadReqBufferUnknown, 1, 8},
      {1, err::kBadReqBadTableId, 1, 5},  // no 1.0 form: EPERM
      {1, err::kBadReqBadPort, 1, 5},
      {ofperr::kBadAction, ofperr::kBadActionBadOutPort, 2, 4},
      {ofperr::kBadAction, ofperr::kBadActionBadSetArgument, 2, 5},
      {ofperr::kBadAction, ofperr::kBadActionBadOutGroup, 1, 5},
      {ofperr::kBadInstruction, 0, 1, 5},
      {ofperr::kBadMatch, ofperr::kBadMatchBadField, 1, 5},
      {ofperr::kFlowModFailed, ofperr::kFlowModTableFull, 3, 0},
      {ofperr::kFlowModFailed, ofperr::kFlowModOverlap, 3, 1},
      {ofperr::kFlowModFailed, ofperr::kFlowModEperm, 3, 2},
      {ofperr::kFlowModFailed, ofperr::kFlowModBadCommand, 3, 4},
      {ofperr::kFlowModFailed, ofperr::kFlowModBadTableId, 1, 5},
      {ofperr::kGroupModFailed, ofperr::kGroupBadType, 1, 5},
      {ofperr::kPortModFailed, err::kPortModBadPort, 4, 0},
      {ofperr::kPortModFailed, err::kPortModBadHwAddr, 4, 1},
      {ofperr::kPortModFailed, err::kPortModBadConfig, 1, 5},
      {err::kQueueOpFailed, err::kQueueOpBadPort, 5, 0},
      {ofperr::kMeterModFailed, ofperr::kMeterBadBand, 1, 5},
      {err::kSwitchConfigFailed, err::kSwitchConfigBadFlags, 1, 5},
  };
  const Bytes req = {1, 14, 0, 8, 0, 0, 0, 5};
  for (const Case& c : cases) {
    Bytes e = EncodeError(kVersion10, 5, OfpError{c.type13, c.code13, ""}, req.data(), req.size());
    Message m = MustDecode(e);
    EXPECT_EQ(m.version, kVersion10);
    EXPECT_EQ(BodyOf<Error>(m).type, c.type10) << c.type13 << "/" << c.code13;
    EXPECT_EQ(BodyOf<Error>(m).code, c.code10) << c.type13 << "/" << c.code13;
    // HELLO_FAILED carries the explanation (here none), the rest the request.
    EXPECT_EQ(BodyOf<Error>(m).data, c.type13 == err::kHelloFailed ? Bytes{} : req);
  }
}

TEST(OfpMsgs, HelloFailedCarriesItsExplanation) {
  const Bytes req = EncodeHello(1);
  for (uint8_t v : {kVersion10, kVersion13}) {
    Bytes e =
        EncodeError(v, 1, OfpError{err::kHelloFailed, err::kHelloIncompatible, "no common version"},
                    req.data(), req.size());
    Message m = MustDecode(e);
    EXPECT_EQ(BodyOf<Error>(m).type, err::kHelloFailed);
    EXPECT_EQ(BodyOf<Error>(m).code, err::kHelloIncompatible);
    const Bytes& d = BodyOf<Error>(m).data;
    EXPECT_EQ(std::string(d.begin(), d.end()), "no common version");
  }
}

// ---- Robustness ----

TEST(OfpMsgs, TruncationAtEveryLength) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : Samples(v)) {
      SCOPED_TRACE(std::string(TypeName(m.type)) + " v" + std::to_string(v));
      const Bytes full = EncodeOne(m);
      // Fixed layouts (no trailing list or data): any shorter body is an error.
      const Type kFixed[] = {Type::kGetConfigReply,   Type::kSetConfig,
                             Type::kFlowRemoved,      Type::kPortStatus,
                             Type::kPortMod,          Type::kTableMod,
                             Type::kMultipartRequest, Type::kQueueGetConfigRequest,
                             Type::kRoleRequest,      Type::kRoleReply,
                             Type::kGetAsyncReply,    Type::kSetAsync};
      const bool fixed =
          std::find(std::begin(kFixed), std::end(kFixed), m.type) != std::end(kFixed) ||
          (m.type == Type::kFeaturesReply && v == kVersion13);
      for (size_t n = 0; n < full.size(); ++n) {
        Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
        // The header still says the full length: always BAD_LEN.
        ExpectError(cut, err::kBadRequest, err::kBadReqBadLen);
        if (n < kHeaderLen) continue;
        // The header agrees with the cut: an error, or a shorter message
        // that still re-encodes.
        Bytes agreed = Fixed(cut);
        if (fixed) {
          EXPECT_FALSE(Decode(agreed.data(), agreed.size()).ok()) << Hex(agreed);
        }
        CheckReencodes(agreed);
      }
      // One byte too many, header unchanged: BAD_LEN.
      Bytes extra = full;
      extra.push_back(0);
      ExpectError(extra, err::kBadRequest, err::kBadReqBadLen);
    }
  }
}

TEST(OfpMsgs, RandomBytesNeverCrash) {
  const uint32_t seed = 20240611;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    const size_t len = kHeaderLen + rng() % 120;
    Bytes b(len);
    for (uint8_t& c : b) c = static_cast<uint8_t>(rng());
    const uint32_t pick = rng() % 8;
    if (pick < 7) b[0] = pick < 3 ? kVersion10 : kVersion13;
    if (pick < 6) b[1] = static_cast<uint8_t>(rng() % 32);
    if (pick < 7) b = Fixed(b);
    CheckReencodes(b);
    if (HasFatalFailure()) return;
  }
}

// Byte mutations of valid messages reach much deeper than random bytes.
TEST(OfpMsgs, MutatedSamplesNeverCrash) {
  const uint32_t seed = 77;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<Bytes> samples;
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : Samples(v)) samples.push_back(EncodeOne(m));
  }
  for (int i = 0; i < 100000; ++i) {
    Bytes b = samples[rng() % samples.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = kHeaderLen + rng() % (b.size() - kHeaderLen + 1);
      if (at >= b.size()) continue;
      b[at] = rng() % 3 == 0 ? static_cast<uint8_t>(b[at] ^ (1u << (rng() % 8)))
                             : static_cast<uint8_t>(rng());
    }
    if (rng() % 4 == 0) b.resize(kHeaderLen + rng() % (b.size() - kHeaderLen + 1));
    CheckReencodes(Fixed(b));
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace sluice::ofp
