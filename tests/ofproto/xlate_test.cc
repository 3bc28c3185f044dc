// Translation: behaviour of each action and instruction, and the megaflow
// soundness property over random tables.
#include "ofproto/xlate.h"

#include <gtest/gtest.h>

#include "tests/common/of_match.h"

#include <random>

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"

namespace sluice::ofproto {
namespace {

constexpr auto M = sluice::testing::OfMatchOf;

using FV = FieldValue;

OfFlow UdpFlow(uint32_t in_port, uint32_t src, uint32_t dst, uint16_t dport = 53) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = in_port;
  f.dp.eth_src = dp::EthAddr{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(in_port)}};
  f.dp.eth_dst = dp::EthAddr{{0x02, 0, 0, 0, 0, 0x99}};
  f.dp.eth_type = Be16(0x0800);
  f.dp.nw_proto = 17;
  f.dp.nw_ttl = 64;
  f.dp.nw_src = Be32(src);
  f.dp.nw_dst = Be32(dst);
  f.dp.tp_src = Be16(1000);
  f.dp.tp_dst = Be16(dport);
  return f;
}

OfFlow ArpFlow(uint32_t in_port, uint8_t op = 1) {
  OfFlow f;
  f.Clear();
  f.dp.in_port = in_port;
  f.dp.eth_src = dp::EthAddr{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(in_port)}};
  f.dp.eth_dst = dp::EthAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  f.dp.eth_type = Be16(0x0806);
  f.dp.nw_proto = op;
  f.dp.nw_src = Be32(0x0a000001);
  f.dp.nw_dst = Be32(0x0a000002);
  f.dp.arp_sha = f.dp.eth_src;
  return f;
}

OfFlow IcmpFlow(uint32_t in_port, uint8_t type, uint8_t code) {
  OfFlow f = UdpFlow(in_port, 0x0a000001, 0x0a000002);
  f.dp.nw_proto = 1;
  f.dp.tp_src = Be16(type);
  f.dp.tp_dst = Be16(code);
  return f;
}

// ICMPv6; an NS (135) carries a source link-layer address, an NA (136) a
// target one, as the parser would record them.
OfFlow Icmp6Flow(uint32_t in_port, uint8_t type, uint8_t code) {
  OfFlow f = UdpFlow(in_port, 0, 0);
  f.dp.nw_src = f.dp.nw_dst = Be32(0);
  f.dp.eth_type = Be16(0x86dd);
  f.dp.nw_proto = 58;
  f.dp.nw_ttl = 255;
  EXPECT_TRUE(dp::ParseIpv6("fe80::1", f.dp.ipv6_src));
  EXPECT_TRUE(dp::ParseIpv6("ff02::1:ff00:2", f.dp.ipv6_dst));
  f.dp.tp_src = Be16(type);
  f.dp.tp_dst = Be16(code);
  if (code == 0 && (type == 135 || type == 136)) {
    EXPECT_TRUE(dp::ParseIpv6("fe80::2", f.dp.nd_target));
    if (type == 135) f.dp.arp_sha = f.dp.eth_src;
    if (type == 136) f.dp.arp_tha = f.dp.eth_src;
  }
  return f;
}

FieldValue Ip6Value(FieldId id, const char* text) {
  FieldValue v = FieldValue::Of(id);
  EXPECT_TRUE(dp::ParseIpv6(text, v.b.data())) << text;
  return v;
}

class XlateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t p = 1; p <= 4; ++p) env_.ports.push_back(XlatePort{p, true, 0, {}});
    env_.tables = &tables_;
    env_.groups = &groups_;
    env_.controller_cookie = [](const ControllerRequest& r) {
      return uint64_t{0xc0} << 56 | uint64_t{static_cast<uint8_t>(r.reason)} << 48 |
             uint64_t{r.table_id} << 40 | r.max_len;
    };
  }
  void Flow(uint8_t table, OfMatch m, int32_t prio, Instructions insts) {
    FlowMod fm;
    fm.table_id = table;
    fm.match = m;
    fm.priority = prio;
    fm.insts = std::move(insts);
    std::vector<FlowRemoved> removed;
    OfpResult e = tables_.Apply(fm, 0, &removed);
    ASSERT_FALSE(e) << e->message;
  }
  std::string Run(const OfFlow& f, XlateResult* r = nullptr) {
    XlateResult local;
    if (!r) r = &local;
    Xlate(env_, f, r);
    return dp::FormatActions(r->actions);
  }

  FlowTables tables_;
  GroupTable groups_;
  XlateEnv env_;
};

TEST_F(XlateTest, OutputAndMissAndInPort) {
  Flow(0, M({{FieldId::kInPort, 1}}), 10, Instructions::Apply({OfAction::Output(2)}));
  XlateResult r;
  EXPECT_EQ(Run(UdpFlow(1, 1, 2), &r), "2");
  EXPECT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.wc.dp.in_port, 0xffffffffu);
  // Only in_port was consulted: everything else stays wildcarded.
  EXPECT_EQ(r.wc.dp.nw_dst, Be32(0));
  EXPECT_EQ(r.wc.dp.eth_type, Be16(0));
  EXPECT_EQ(Run(UdpFlow(3, 1, 2)), "drop");  // table miss: drop (OF1.3)
  // Output to the input port is skipped unless IN_PORT is used.
  Flow(0, M({{FieldId::kInPort, 2}}), 10,
       Instructions::Apply({OfAction::Output(2), OfAction::Output(kPortInPort), OfAction::Output(9)}));
  EXPECT_EQ(Run(UdpFlow(2, 1, 2)), "2");
}

TEST_F(XlateTest, SetFieldsCommitBeforeOutput) {
  Flow(0, M({{FieldId::kEthType, 0x0800}}), 10,
       Instructions::Apply({OfAction::Output(2),
                            OfAction::SetField(FieldId::kIpv4Dst, FV::FromUint(FieldId::kIpv4Dst, 0x0a000063)),
                            OfAction::SetField(FieldId::kUdpDst, FV::FromUint(FieldId::kUdpDst, 5353)),
                            OfAction::DecTtl(), OfAction::Output(3)}));
  XlateResult r;
  std::string a = Run(UdpFlow(1, 0x0a000001, 0x0a000002), &r);
  EXPECT_EQ(a, "2,set(ipv4(dst=10.0.0.99,ttl=63)),set(udp(dst=5353)),3") << a;
  EXPECT_EQ(r.wc.dp.nw_ttl, 0xff);      // dec_ttl read it
  EXPECT_EQ(r.wc.dp.nw_proto, 0xff);    // commit chose udp by protocol
}

TEST_F(XlateTest, SetArpFields) {
  Flow(0, M({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0806}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kArpOp, FV::FromUint(FieldId::kArpOp, 2)),
                            OfAction::SetField(FieldId::kArpSpa, FV::FromUint(FieldId::kArpSpa, 0x0a000002)),
                            OfAction::SetField(FieldId::kArpTpa, FV::FromUint(FieldId::kArpTpa, 0x0a000001)),
                            OfAction::SetField(FieldId::kArpSha, FV::FromUint(FieldId::kArpSha, 0x020000000077)),
                            OfAction::SetField(FieldId::kArpTha, FV::FromUint(FieldId::kArpTha, 0x020000000001)),
                            OfAction::Output(2)}));
  XlateResult r;
  EXPECT_EQ(Run(ArpFlow(1), &r),
            "set(arp(sip=10.0.0.2,tip=10.0.0.1,op=2,sha=02:00:00:00:00:77,"
            "tha=02:00:00:00:00:01)),2");
  EXPECT_EQ(r.error, XlateResult::Error::kNone);
  EXPECT_EQ(r.wc.dp.eth_type, Be16(0xffff));
  // Only what differs from the packet is written.
  Flow(0, M({{FieldId::kInPort, 2}, {FieldId::kEthType, 0x0806}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kArpTpa, FV::FromUint(FieldId::kArpTpa, 0x0a000009)),
                            OfAction::SetField(FieldId::kArpOp, FV::FromUint(FieldId::kArpOp, 1)),
                            OfAction::Output(3)}));
  EXPECT_EQ(Run(ArpFlow(2, 1), &r), "set(arp(tip=10.0.0.9)),3");
  EXPECT_EQ(Run(ArpFlow(2, 2), &r), "set(arp(tip=10.0.0.9,op=1)),3");
}

TEST_F(XlateTest, SetIcmpTypeAndCode) {
  Flow(0, M({{FieldId::kEthType, 0x0800}, {FieldId::kIpProto, 1}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIcmpv4Type, FV::FromUint(FieldId::kIcmpv4Type, 0)),
                            OfAction::SetField(FieldId::kIcmpv4Code, FV::FromUint(FieldId::kIcmpv4Code, 0)),
                            OfAction::Output(2)}));
  XlateResult r;
  EXPECT_EQ(Run(IcmpFlow(1, 8, 0), &r), "set(icmp(type=0)),2");
  EXPECT_EQ(r.wc.dp.nw_proto, 0xff);
  EXPECT_EQ(Run(IcmpFlow(1, 3, 1)), "set(icmp(type=0,code=0)),2");
  EXPECT_EQ(Run(IcmpFlow(1, 0, 0)), "2");  // nothing to change

  Flow(0, M({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIcmpv6Type, FV::FromUint(FieldId::kIcmpv6Type, 129)),
                            OfAction::SetField(FieldId::kIcmpv6Code, FV::FromUint(FieldId::kIcmpv6Code, 0)),
                            OfAction::Output(3)}));
  EXPECT_EQ(Run(Icmp6Flow(1, 128, 0), &r), "set(icmpv6(type=129)),3");
  EXPECT_EQ(r.error, XlateResult::Error::kNone);
  EXPECT_EQ(Run(Icmp6Flow(1, 1, 4)), "set(icmpv6(type=129,code=0)),3");
}

TEST_F(XlateTest, SetNdFields) {
  Flow(0, M({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58}, {FieldId::kIcmpv6Type, 135}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIpv6NdTarget, Ip6Value(FieldId::kIpv6NdTarget, "fe80::99")),
                            OfAction::SetField(FieldId::kIpv6NdSll, FV::FromUint(FieldId::kIpv6NdSll, 0x0200000000aa)),
                            OfAction::Output(2)}));
  Flow(0, M({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58}, {FieldId::kIcmpv6Type, 136}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIpv6NdTll, FV::FromUint(FieldId::kIpv6NdTll, 0x0200000000bb)),
                            OfAction::Output(3)}));
  XlateResult r;
  EXPECT_EQ(Run(Icmp6Flow(1, 135, 0), &r), "set(nd(target=fe80::99,sll=02:00:00:00:00:aa)),2");
  EXPECT_EQ(r.error, XlateResult::Error::kNone);
  // Whether the ND set applies depends on the ICMPv6 type and code.
  EXPECT_EQ(r.wc.dp.tp_src.host() & 0xff, 0xff);
  EXPECT_EQ(r.wc.dp.tp_dst.host() & 0xff, 0xff);
  EXPECT_EQ(Run(Icmp6Flow(1, 136, 0), &r), "set(nd(tll=02:00:00:00:00:bb)),3");
  EXPECT_EQ(r.error, XlateResult::Error::kNone);
  // The datapath (as the parser) takes only code 0 as ND: a set on an NS
  // with another code has no datapath action, so translation fails.
  EXPECT_EQ(Run(Icmp6Flow(1, 135, 1), &r), "drop");
  EXPECT_EQ(r.error, XlateResult::Error::kUnsupportedSet);
}

// Changing the type of an NS to an NA and its link-layer address: the type is
// written first, so the ND rewrite sees the working flow's message.
TEST_F(XlateTest, SetIcmpv6TypeThenNd) {
  Flow(0, M({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58}, {FieldId::kIcmpv6Type, 135}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIcmpv6Type, FV::FromUint(FieldId::kIcmpv6Type, 136)),
                            OfAction::SetField(FieldId::kIpv6NdTll, FV::FromUint(FieldId::kIpv6NdTll, 0x0200000000cc)),
                            OfAction::Output(2)}));
  EXPECT_EQ(Run(Icmp6Flow(1, 135, 0)), "set(icmpv6(type=136)),set(nd(tll=02:00:00:00:00:cc)),2");
}

// Set-fields on other layers of ARP, ICMP and ND packets emit only their
// own actions; TCP/UDP port sets are unaffected by the ICMP support.
TEST_F(XlateTest, OtherPacketTypesUnaffected) {
  Flow(0, M({{FieldId::kInPort, 1}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kEthDst, FV::FromUint(FieldId::kEthDst, 0x020000000042)),
                            OfAction::Output(2)}));
  for (const OfFlow& f : {ArpFlow(1), IcmpFlow(1, 8, 0), Icmp6Flow(1, 135, 0), Icmp6Flow(1, 128, 0),
                          UdpFlow(1, 1, 2)}) {
    XlateResult r;
    EXPECT_EQ(Run(f, &r), "set(eth(dst=02:00:00:00:00:42)),2");
    EXPECT_EQ(r.error, XlateResult::Error::kNone);
  }
  Flow(0, M({{FieldId::kInPort, 2}, {FieldId::kEthType, 0x0800}, {FieldId::kIpProto, 17}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kUdpDst, FV::FromUint(FieldId::kUdpDst, 5353)),
                            OfAction::Output(3)}));
  EXPECT_EQ(Run(UdpFlow(2, 1, 2)), "set(udp(dst=5353)),3");
  // An ICMP type set on a flow whose protocol has no set action still fails
  // (ICMPv6's protocol number over IPv4 has no type/code in the datapath).
  Flow(0, M({{FieldId::kInPort, 3}}), 10,
       Instructions::Apply({OfAction::SetField(FieldId::kIcmpv6Type, FV::FromUint(FieldId::kIcmpv6Type, 1)),
                            OfAction::Output(1)}));
  OfFlow odd = IcmpFlow(3, 8, 0);
  odd.dp.nw_proto = 58;
  XlateResult r;
  EXPECT_EQ(Run(odd, &r), "drop");
  EXPECT_EQ(r.error, XlateResult::Error::kUnsupportedSet);
}

TEST_F(XlateTest, GotoMetadataAndActionSet) {
  Instructions i0;
  i0.has_write_metadata = true;
  i0.metadata = 0x5;
  i0.metadata_mask = 0xff;
  i0.write = OfActionList{OfAction::Output(4)};
  i0.goto_table = 1;
  Flow(0, OfMatch::CatchAll(), 0, i0);
  Instructions i1;
  i1.write = OfActionList{OfAction::Output(3),
                          OfAction::SetField(FieldId::kEthDst, FV::FromUint(FieldId::kEthDst, 0x020000000042))};
  Flow(1, M({{FieldId::kMetadata, 5}}), 10, i1);
  // The action set runs at the end: set-field before output, output 3 replaced 4.
  EXPECT_EQ(Run(UdpFlow(1, 1, 2)), "set(eth(dst=02:00:00:00:00:42)),3");
  // clear_actions empties the set.
  Instructions i2;
  i2.clear_actions = true;
  Flow(1, M({{FieldId::kMetadata, 5}}), 20, i2);
  EXPECT_EQ(Run(UdpFlow(1, 1, 2)), "drop");
}

TEST_F(XlateTest, VlanPushPop) {
  Flow(0, M({{FieldId::kInPort, 1}}), 10,
       Instructions::Apply({OfAction::PushVlan(0x8100),
                            OfAction::SetField(FieldId::kVlanVid, FV::FromUint(FieldId::kVlanVid, 0x1000 | 10)),
                            OfAction::Output(2)}));
  EXPECT_EQ(Run(UdpFlow(1, 1, 2)), "push_vlan(vid=10,pcp=0),2");
  Flow(0, M({{FieldId::kInPort, 2}}), 10, Instructions::Apply({OfAction::PopVlan(), OfAction::Output(1)}));
  OfFlow tagged = UdpFlow(2, 1, 2);
  tagged.dp.vlan[0].tpid = Be16(0x8100);
  tagged.dp.vlan[0].tci = Be16(0x1000 | 10);
  EXPECT_EQ(Run(tagged), "pop_vlan,1");
}

TEST_F(XlateTest, ControllerAndTtlExpiry) {
  Flow(0, M({{FieldId::kInPort, 1}}), 10, Instructions::Apply({OfAction::Output(kPortController, 128)}));
  XlateResult r;
  Run(UdpFlow(1, 1, 2), &r);
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(r.actions[0].type, dp::DpActionType::kUserspace);
  EXPECT_EQ(r.actions[0].userspace.cookie & 0xffff, 128u);
  Flow(0, M({{FieldId::kInPort, 2}}), 10, Instructions::Apply({OfAction::DecTtl(), OfAction::Output(3)}));
  OfFlow f = UdpFlow(2, 1, 2);
  f.dp.nw_ttl = 1;
  Run(f, &r);
  ASSERT_EQ(r.actions.size(), 1u);  // to the controller, not forwarded
  EXPECT_EQ((r.actions[0].userspace.cookie >> 48) & 0xff, static_cast<uint64_t>(PacketInReason::kInvalidTtl));
}

TEST_F(XlateTest, Groups) {
  std::vector<uint32_t> deleted;
  GroupMod all;
  all.group_id = 1;
  all.type = GroupType::kAll;
  all.buckets = {Bucket{0, kPortAny, kGroupAny, {OfAction::Output(2)}},
                 Bucket{0, kPortAny, kGroupAny,
                        {OfAction::SetField(FieldId::kIpv4Dst, FV::FromUint(FieldId::kIpv4Dst, 9)), OfAction::Output(3)}},
                 Bucket{0, kPortAny, kGroupAny, {OfAction::Output(4)}}};
  ASSERT_FALSE(groups_.Apply(all, 0, &deleted));
  Flow(0, M({{FieldId::kInPort, 1}}), 10, Instructions::Apply({OfAction::Group(1)}));
  // Each bucket sees the original packet: the third bucket undoes the second's set.
  EXPECT_EQ(Run(UdpFlow(1, 1, 0x0a000002)), "2,set(ipv4(dst=0.0.0.9)),3,set(ipv4(dst=10.0.0.2)),4");

  GroupMod ff;
  ff.group_id = 2;
  ff.type = GroupType::kFastFailover;
  ff.buckets = {Bucket{0, 2, kGroupAny, {OfAction::Output(2)}}, Bucket{0, 3, kGroupAny, {OfAction::Output(3)}}};
  ASSERT_FALSE(groups_.Apply(ff, 0, &deleted));
  Flow(0, M({{FieldId::kInPort, 4}}), 10, Instructions::Apply({OfAction::Group(2)}));
  EXPECT_EQ(Run(UdpFlow(4, 1, 2)), "2");
  env_.ports[1].live = false;  // port 2 down: fail over
  EXPECT_EQ(Run(UdpFlow(4, 1, 2)), "3");
  env_.ports[1].live = true;

  GroupMod sel;
  sel.group_id = 3;
  sel.type = GroupType::kSelect;
  sel.buckets = {Bucket{1, kPortAny, kGroupAny, {OfAction::Output(2)}}, Bucket{1, kPortAny, kGroupAny, {OfAction::Output(4)}}};
  ASSERT_FALSE(groups_.Apply(sel, 0, &deleted));
  Flow(0, M({{FieldId::kInPort, 3}}), 10, Instructions::Apply({OfAction::Group(3)}));
  int to2 = 0, to4 = 0;
  for (uint32_t i = 0; i < 200; ++i) {
    XlateResult r;
    std::string a = Run(UdpFlow(3, 0x0a000000 + i, 2), &r);
    to2 += a == "2";
    to4 += a == "4";
    EXPECT_EQ(r.wc.dp.nw_src, Be32(0xffffffff));  // the hash read it
  }
  EXPECT_EQ(to2 + to4, 200);
  EXPECT_GT(to2, 50);
  EXPECT_GT(to4, 50);
  // Loops are refused.
  GroupMod loop;
  loop.command = GroupMod::Command::kModify;
  loop.group_id = 1;
  loop.buckets = {Bucket{0, kPortAny, kGroupAny, {OfAction::Group(1)}}};
  OfpResult e = groups_.Apply(loop, 0, &deleted);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ofperr::kGroupLoop);
}

TEST_F(XlateTest, NormalLearnsAndFloods) {
  MacLearning mac;
  env_.mac = &mac;
  env_.ports[3].tag = 20;  // port 4: access VLAN 20
  Flow(0, OfMatch::CatchAll(), 0, Instructions::Apply({OfAction::Output(kPortNormal)}));
  OfFlow a = UdpFlow(1, 1, 2);  // from 02:..:01 to 02:..:99 (unknown)
  XlateResult r;
  EXPECT_EQ(Run(a, &r), "2,3");  // flood on VLAN 0, not to the access port
  EXPECT_TRUE(r.learned);
  EXPECT_EQ(r.wc.dp.eth_src, (dp::EthAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}));
  // The reply goes straight back to port 1.
  OfFlow b = UdpFlow(2, 2, 1);
  b.dp.eth_src = dp::EthAddr{{0x02, 0, 0, 0, 0, 0x99}};
  b.dp.eth_dst = dp::EthAddr{{0x02, 0, 0, 0, 0, 0x01}};
  EXPECT_EQ(Run(b), "1");
  // Access port: its untagged traffic is VLAN 20; trunks get it tagged.
  OfFlow c = UdpFlow(4, 1, 2);
  EXPECT_EQ(Run(c), "push_vlan(vid=20,pcp=0),1,2,3");
  // A tagged frame on an access port is dropped.
  c.dp.vlan[0].tpid = Be16(0x8100);
  c.dp.vlan[0].tci = Be16(0x1000 | 20);
  EXPECT_EQ(Run(c), "drop");
}

TEST_F(XlateTest, TraceExplainsEachStep) {
  Instructions i0 = Instructions::Apply({OfAction::SetField(FieldId::kIpv4Dst, FV::FromUint(FieldId::kIpv4Dst, 7))});
  i0.goto_table = 2;
  Flow(0, M({{FieldId::kInPort, 1}}), 10, i0);
  Flow(2, OfMatch::CatchAll(), 1, Instructions::Apply({OfAction::Output(3)}));
  std::vector<std::string> trace;
  XlateResult r;
  r.trace = &trace;
  Run(UdpFlow(1, 1, 2), &r);
  std::string all;
  for (const auto& l : trace) all += l + "\n";
  EXPECT_NE(all.find("table 0: priority 10"), std::string::npos) << all;
  EXPECT_NE(all.find("table 2: priority 1"), std::string::npos) << all;
  EXPECT_NE(all.find("output to port 3"), std::string::npos) << all;
}

// The megaflow soundness property: for random tables and packets, every
// packet that agrees with the first on the megaflow's masked bits gets the
// same datapath actions.
TEST_F(XlateTest, MegaflowSoundness) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    FlowTables tables;
    GroupTable groups;
    std::vector<uint32_t> deleted;
    GroupMod sel;
    sel.group_id = 7;
    sel.type = GroupType::kSelect;
    sel.buckets = {Bucket{1, kPortAny, kGroupAny, {OfAction::Output(2)}},
                   Bucket{2, kPortAny, kGroupAny, {OfAction::Output(3)}}};
    groups.Apply(sel, 0, &deleted);
    env_.tables = &tables;
    env_.groups = &groups;
    auto pick = [&](auto... xs) {
      uint64_t v[] = {static_cast<uint64_t>(xs)...};
      return v[rng() % sizeof...(xs)];
    };
    for (int n = 0; n < 60; ++n) {
      OfMatch m = OfMatch::CatchAll();
      if (rng() % 2) MatchField(&m, FieldId::kInPort, FV::FromUint(FieldId::kInPort, 1 + rng() % 4), FV::AllOnes(FieldId::kInPort));
      bool ip = rng() % 3 != 0;
      if (ip) {
        MatchField(&m, FieldId::kEthType, FV::FromUint(FieldId::kEthType, 0x0800), FV::AllOnes(FieldId::kEthType));
        if (rng() % 2) {
          int len = static_cast<int>(rng() % 33);
          uint32_t mask = len ? ~0u << (32 - len) : 0;
          MatchField(&m, FieldId::kIpv4Dst, FV::FromUint(FieldId::kIpv4Dst, pick(0x0a000001, 0x0a000102, 0x0b000001)),
                     FV::FromUint(FieldId::kIpv4Dst, mask));
        }
        if (rng() % 2) {
          MatchField(&m, FieldId::kIpProto, FV::FromUint(FieldId::kIpProto, pick(6, 17)), FV::AllOnes(FieldId::kIpProto));
          if (rng() % 2) {
            FieldId port = m.value.dp.nw_proto == 6 ? FieldId::kTcpDst : FieldId::kUdpDst;
            MatchField(&m, port, FV::FromUint(port, pick(53, 80, 443)), FV::AllOnes(port));
          }
        }
      }
      uint8_t table = static_cast<uint8_t>(rng() % 3);
      if (table > 0 && rng() % 2) MatchField(&m, FieldId::kMetadata, FV::FromUint(FieldId::kMetadata, rng() % 3), FV::AllOnes(FieldId::kMetadata));
      Instructions in;
      in.has_apply = true;
      int n_actions = static_cast<int>(rng() % 3);
      for (int k = 0; k < n_actions; ++k) {
        switch (rng() % 7) {
          case 0: in.apply.push_back(OfAction::Output(1 + rng() % 4)); break;
          case 1: if (ip) in.apply.push_back(OfAction::SetField(FieldId::kIpv4Src, FV::FromUint(FieldId::kIpv4Src, 0x0a000001))); break;
          case 2: if (ip) in.apply.push_back(OfAction::DecTtl()); break;
          case 3: in.apply.push_back(OfAction::Group(7)); break;
          case 4: in.apply.push_back(OfAction::Output(kPortFlood)); break;
          case 5: in.apply.push_back(OfAction::PushVlan()); break;
          case 6: in.apply.push_back(OfAction::Output(kPortInPort)); break;
        }
      }
      if (table < 2 && rng() % 2) in.goto_table = static_cast<uint8_t>(table + 1 + rng() % (2 - table));
      if (rng() % 3 == 0) {
        in.has_write_metadata = true;
        in.metadata = rng() % 3;
        in.metadata_mask = 0xff;
      }
      FlowMod fm;
      fm.table_id = table;
      fm.match = m;
      fm.priority = static_cast<int32_t>(rng() % 50);
      fm.insts = in;
      std::vector<FlowRemoved> removed;
      tables.Apply(fm, 0, &removed);
    }
    auto random_flow = [&]() {
      OfFlow f = UdpFlow(static_cast<uint32_t>(1 + rng() % 4), static_cast<uint32_t>(pick(0x0a000001, 0x0a000002, rng())),
                         static_cast<uint32_t>(pick(0x0a000001, 0x0a000102, 0x0b000001, 0x0a0001ff, rng())),
                         static_cast<uint16_t>(pick(53, 80, 443, 9)));
      f.dp.eth_type = Be16(static_cast<uint16_t>(pick(0x0800, 0x0800, 0x86dd, 0x0806)));
      f.dp.nw_proto = static_cast<uint8_t>(pick(6, 17, 1));
      f.dp.nw_ttl = static_cast<uint8_t>(pick(1, 2, 64));
      if (rng() % 4 == 0) {
        f.dp.vlan[0].tpid = Be16(0x8100);
        f.dp.vlan[0].tci = Be16(static_cast<uint16_t>(0x1000 | (rng() & 0xefff)));
      }
      return f;
    };
    for (int p = 0; p < 150; ++p) {
      OfFlow f = random_flow();
      XlateResult r;
      Xlate(env_, f, &r);
      for (int q = 0; q < 20; ++q) {
        // Agree with f on wc's datapath bits; anything elsewhere.
        OfFlow g = random_flow();
        for (int w = 0; w < dp::kFlowWords; ++w) {
          uint64_t m = r.wc.words()[w];
          g.words()[w] = (f.words()[w] & m) | (g.words()[w] & ~m);
        }
        XlateResult r2;
        Xlate(env_, g, &r2);
        ASSERT_EQ(dp::FormatActions(r2.actions), dp::FormatActions(r.actions))
            << "megaflow mask too wide; flow " << p << " variant " << q;
      }
    }
  }
  env_.tables = &tables_;
  env_.groups = &groups_;
}

// The megaflow soundness property for tables whose rules set ARP, ICMP,
// ICMPv6 and ND fields, over ARP, ICMP, ICMPv6 (ND or not, code 0 or not)
// and UDP packets.
TEST_F(XlateTest, MegaflowSoundnessArpIcmpNd) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    FlowTables tables;
    env_.tables = &tables;
    auto pick = [&](auto... xs) {
      uint64_t v[] = {static_cast<uint64_t>(xs)...};
      return v[rng() % sizeof...(xs)];
    };
    auto set = [](FieldId id, uint64_t v) { return OfAction::SetField(id, FV::FromUint(id, v)); };
    for (int n = 0; n < 40; ++n) {
      OfMatch m = OfMatch::CatchAll();
      if (rng() % 2) MatchField(&m, FieldId::kInPort, FV::FromUint(FieldId::kInPort, 1 + rng() % 4), FV::AllOnes(FieldId::kInPort));
      Instructions in;
      in.has_apply = true;
      switch (rng() % 4) {
        case 0:  // ARP
          MatchField(&m, FieldId::kEthType, FV::FromUint(FieldId::kEthType, 0x0806), FV::AllOnes(FieldId::kEthType));
          if (rng() % 2) in.apply.push_back(set(FieldId::kArpOp, pick(1, 2)));
          if (rng() % 2) in.apply.push_back(set(FieldId::kArpTpa, pick(0x0a000001, 0x0a000002)));
          if (rng() % 2) in.apply.push_back(set(FieldId::kArpSha, 0x020000000001));
          break;
        case 1:  // ICMP
          MatchField(&m, FieldId::kEthType, FV::FromUint(FieldId::kEthType, 0x0800), FV::AllOnes(FieldId::kEthType));
          MatchField(&m, FieldId::kIpProto, FV::FromUint(FieldId::kIpProto, 1), FV::AllOnes(FieldId::kIpProto));
          in.apply.push_back(set(FieldId::kIcmpv4Type, pick(0, 8)));
          if (rng() % 2) in.apply.push_back(set(FieldId::kIcmpv4Code, 0));
          break;
        case 2:  // ICMPv6
          MatchField(&m, FieldId::kEthType, FV::FromUint(FieldId::kEthType, 0x86dd), FV::AllOnes(FieldId::kEthType));
          MatchField(&m, FieldId::kIpProto, FV::FromUint(FieldId::kIpProto, 58), FV::AllOnes(FieldId::kIpProto));
          in.apply.push_back(set(FieldId::kIcmpv6Type, pick(128, 129, 136)));
          break;
        default: {  // ND
          MatchField(&m, FieldId::kEthType, FV::FromUint(FieldId::kEthType, 0x86dd), FV::AllOnes(FieldId::kEthType));
          MatchField(&m, FieldId::kIpProto, FV::FromUint(FieldId::kIpProto, 58), FV::AllOnes(FieldId::kIpProto));
          const uint64_t t = pick(135, 136);
          MatchField(&m, FieldId::kIcmpv6Type, FV::FromUint(FieldId::kIcmpv6Type, t), FV::AllOnes(FieldId::kIcmpv6Type));
          in.apply.push_back(OfAction::SetField(FieldId::kIpv6NdTarget, Ip6Value(FieldId::kIpv6NdTarget, "fe80::77")));
          if (rng() % 2) in.apply.push_back(set(t == 135 ? FieldId::kIpv6NdSll : FieldId::kIpv6NdTll, 0x0200000000ee));
          break;
        }
      }
      in.apply.push_back(OfAction::Output(1 + rng() % 4));
      FlowMod fm;
      fm.table_id = 0;
      fm.match = m;
      fm.priority = static_cast<int32_t>(rng() % 50);
      fm.insts = in;
      std::vector<FlowRemoved> removed;
      tables.Apply(fm, 0, &removed);
    }
    auto random_flow = [&]() {
      const uint32_t port = static_cast<uint32_t>(1 + rng() % 4);
      switch (rng() % 4) {
        case 0:
          return ArpFlow(port, static_cast<uint8_t>(pick(1, 2)));
        case 1:
          return IcmpFlow(port, static_cast<uint8_t>(pick(0, 8, 3)), static_cast<uint8_t>(pick(0, 1)));
        case 2:
          return Icmp6Flow(port, static_cast<uint8_t>(pick(128, 135, 136)), static_cast<uint8_t>(pick(0, 0, 1)));
        default:
          return UdpFlow(port, 1, 2);
      }
    };
    for (int p = 0; p < 150; ++p) {
      OfFlow f = random_flow();
      XlateResult r;
      Xlate(env_, f, &r);
      for (int q = 0; q < 20; ++q) {
        OfFlow g = random_flow();
        for (int w = 0; w < dp::kFlowWords; ++w) {
          uint64_t m = r.wc.words()[w];
          g.words()[w] = (f.words()[w] & m) | (g.words()[w] & ~m);
        }
        XlateResult r2;
        Xlate(env_, g, &r2);
        ASSERT_EQ(dp::FormatActions(r2.actions), dp::FormatActions(r.actions))
            << "megaflow mask too wide; flow " << p << " variant " << q;
      }
    }
  }
  env_.tables = &tables_;
}

}  // namespace
}  // namespace sluice::ofproto
