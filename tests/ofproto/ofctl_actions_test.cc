#include "ofproto/ofctl_parse.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/ofproto/ofctl_test_util.h"

namespace sluice::ofproto::ofctl_test {
namespace {

// ---------------------------------------------------------------------------
// Actions.

struct ActionCase {
  const char* text;
  OfAction action;
  const char* formatted;
};

TEST(OfctlParse, EveryAction) {
  auto sf = [](FieldId f, uint64_t v) { return OfAction::SetField(f, FieldValue::FromUint(f, v)); };
  FieldValue mac = FieldValue::Of(F::kEthSrc);
  for (int i = 0; i < 6; ++i) mac.b[i] = static_cast<uint8_t>(0x10 + i);
  FieldValue v6 = FieldValue::Of(F::kIpv6Dst);
  v6.b[0] = 0x20;
  v6.b[1] = 0x01;
  v6.b[2] = 0x0d;
  v6.b[3] = 0xb8;
  v6.b[15] = 1;
  const ActionCase cases[] = {
      {"output:2", OfAction::Output(2), "output:2"},
      {"output=2", OfAction::Output(2), "output:2"},
      {"7", OfAction::Output(7), "output:7"},
      {"0x10", OfAction::Output(16), "output:16"},
      {"in_port", OfAction::Output(kPortInPort), "IN_PORT"},
      {"IN_PORT", OfAction::Output(kPortInPort), "IN_PORT"},
      {"output:in_port", OfAction::Output(kPortInPort), "IN_PORT"},
      {"NORMAL", OfAction::Output(kPortNormal), "NORMAL"},
      {"normal", OfAction::Output(kPortNormal), "NORMAL"},
      {"FLOOD", OfAction::Output(kPortFlood), "FLOOD"},
      {"ALL", OfAction::Output(kPortAll), "ALL"},
      {"LOCAL", OfAction::Output(kPortLocal), "LOCAL"},
      {"TABLE", OfAction::Output(kPortTable), "TABLE"},
      {"output:LOCAL", OfAction::Output(kPortLocal), "LOCAL"},
      {"CONTROLLER", OfAction::Output(kPortController, 0xffff), "CONTROLLER:65535"},
      {"CONTROLLER:128", OfAction::Output(kPortController, 128), "CONTROLLER:128"},
      {"controller(max_len=100)", OfAction::Output(kPortController, 100), "CONTROLLER:100"},
      {"controller()", OfAction::Output(kPortController, 0xffff), "CONTROLLER:65535"},
      {"output:CONTROLLER", OfAction::Output(kPortController, 0xffff), "CONTROLLER:65535"},
      {"group:5", OfAction::Group(5), "group:5"},
      {"set_queue:3", OfAction::SetQueue(3), "set_queue:3"},
      {"push_vlan:0x8100", OfAction::PushVlan(0x8100), "push_vlan:0x8100"},
      {"push_vlan:0x88a8", OfAction::PushVlan(0x88a8), "push_vlan:0x88a8"},
      {"pop_vlan", OfAction::PopVlan(), "pop_vlan"},
      {"strip_vlan", OfAction::PopVlan(), "pop_vlan"},
      {"dec_ttl", OfAction::DecTtl(), "dec_ttl"},
      {"set_field:4106->vlan_vid", sf(F::kVlanVid, 4106), "set_field:4106->vlan_vid"},
      {"set_field:10->vlan_vid", sf(F::kVlanVid, 0x100a), "set_field:4106->vlan_vid"},
      {"mod_vlan_vid:10", sf(F::kVlanVid, 0x100a), "set_field:4106->vlan_vid"},
      {"mod_vlan_pcp:3", sf(F::kVlanPcp, 3), "set_field:3->vlan_pcp"},
      {"set_field:10.0.0.1->ipv4_dst", sf(F::kIpv4Dst, 0x0a000001), "set_field:10.0.0.1->ipv4_dst"},
      {"set_field:10.0.0.1->ip_dst", sf(F::kIpv4Dst, 0x0a000001), "set_field:10.0.0.1->ipv4_dst"},
      {"set_field:10.0.0.1->nw_src", sf(F::kIpv4Src, 0x0a000001), "set_field:10.0.0.1->ipv4_src"},
      {"mod_nw_src:1.2.3.4", sf(F::kIpv4Src, 0x01020304), "set_field:1.2.3.4->ipv4_src"},
      {"mod_nw_dst:1.2.3.4", sf(F::kIpv4Dst, 0x01020304), "set_field:1.2.3.4->ipv4_dst"},
      {"mod_nw_tos:16", sf(F::kIpDscp, 4), "set_field:4->ip_dscp"},
      {"set_field:16->nw_tos", sf(F::kIpDscp, 4), "set_field:4->ip_dscp"},
      {"set_field:3->ip_dscp", sf(F::kIpDscp, 3), "set_field:3->ip_dscp"},
      {"mod_nw_ecn:1", sf(F::kIpEcn, 1), "set_field:1->ip_ecn"},
      {"mod_nw_ttl:9", sf(F::kIpTtl, 9), "set_field:9->nw_ttl"},
      {"mod_dl_src:10:11:12:13:14:15", OfAction::SetField(F::kEthSrc, mac),
       "set_field:10:11:12:13:14:15->eth_src"},
      {"set_field:10:11:12:13:14:15->eth_src", OfAction::SetField(F::kEthSrc, mac),
       "set_field:10:11:12:13:14:15->eth_src"},
      {"mod_dl_dst:00:00:00:00:00:01", sf(F::kEthDst, 1), "set_field:00:00:00:00:00:01->eth_dst"},
      {"mod_tp_src:1000", sf(F::kTcpSrc, 1000), "set_field:1000->tcp_src"},  // tcp match
      {"mod_tp_dst:80", sf(F::kTcpDst, 80), "set_field:80->tcp_dst"},
      {"set_field:80->tp_dst", sf(F::kTcpDst, 80), "set_field:80->tcp_dst"},
      {"set_field:0x5->metadata", sf(F::kMetadata, 5), "set_field:0x5->metadata"},
      {"set_field:7->reg2", sf(F::kReg2, 7), "set_field:0x7->reg2"},
      {"set_field:0x123->tun_id", sf(F::kTunId, 0x123), "set_field:0x123->tun_id"},
      {"set_field:2001:db8::1->ipv6_dst", OfAction::SetField(F::kIpv6Dst, v6),
       "set_field:2001:db8::1->ipv6_dst"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    // Context that satisfies every set-field's prerequisites: tcp for IPv4
    // fields, tcp6 for IPv6 ones.
    bool v6_field = std::string(c.text).find("ipv6") != std::string::npos;
    std::string flow =
        std::string(v6_field ? "tcp6" : "tcp") + ",vlan_tci=0x1000/0x1000,actions=" + c.text;
    FlowMod fm = Parse(flow);
    ASSERT_EQ(fm.insts.apply.size(), 1u);
    EXPECT_EQ(fm.insts.apply[0], c.action) << FormatOfInstructions(fm.insts);
    EXPECT_EQ(FormatOfInstructions(fm.insts), c.formatted);
    ExpectFlowRoundTrip(flow);
  }
}

TEST(OfctlParse, TransportPortActionsFollowTheMatch) {
  auto sf = [](FieldId f, uint64_t v) { return OfAction::SetField(f, FieldValue::FromUint(f, v)); };
  EXPECT_EQ(Parse("udp,actions=mod_tp_dst:53").insts.apply[0], sf(F::kUdpDst, 53));
  EXPECT_EQ(Parse("udp6,actions=mod_tp_src:53").insts.apply[0], sf(F::kUdpSrc, 53));
  EXPECT_EQ(Parse("sctp,actions=set_field:9->tp_dst").insts.apply[0], sf(F::kSctpDst, 9));
  EXPECT_EQ(Parse("tcp,actions=mod_tp_dst:80").insts.apply[0], sf(F::kTcpDst, 80));
  // ovs-ofctl prints this one as "udp
  // actions=set_field:80->udp_dst,CONTROLLER:65535,CONTROLLER:100".
  EXPECT_EQ(FormatFlowMod(Parse("udp,actions=mod_tp_dst:80,CONTROLLER,controller(max_len=100)")),
            "udp actions=set_field:80->udp_dst,CONTROLLER:65535,CONTROLLER:100");
}

// mod_vlan_vid/mod_vlan_pcp push a tag on untagged packets first (the
// results are what ovs-ofctl 3.1 prints for the same flows).
TEST(OfctlParse, ModVlanPushesATagWhenUntagged) {
  const std::pair<const char*, const char*> cases[] = {
      {"actions=mod_vlan_vid:10,output:2",
       "actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2"},
      {"dl_vlan=5,actions=mod_vlan_vid:10", "dl_vlan=5 actions=set_field:4106->vlan_vid"},
      {"vlan_tci=0x1000/0x1000,actions=mod_vlan_vid:10",
       "vlan_tci=0x1000/0x1000 actions=set_field:4106->vlan_vid"},
      {"actions=push_vlan:0x88a8,mod_vlan_vid:10",
       "actions=push_vlan:0x88a8,set_field:4106->vlan_vid"},
      {"dl_vlan=5,actions=strip_vlan,mod_vlan_pcp:3",
       "dl_vlan=5 actions=pop_vlan,push_vlan:0x8100,set_field:3->vlan_pcp"},
      {"actions=mod_vlan_vid:1,mod_vlan_pcp:2",
       "actions=push_vlan:0x8100,set_field:4097->vlan_vid,set_field:2->vlan_pcp"},
      {"actions=write_actions(mod_vlan_vid:10)",
       "actions=write_actions(push_vlan:0x8100,set_field:4106->vlan_vid)"},
      // set_field never pushes.
      {"actions=set_field:4106->vlan_vid", "actions=set_field:4106->vlan_vid"},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    EXPECT_EQ(FormatFlowMod(Parse(text)), want);
    ExpectFlowRoundTrip(text);
  }
  // No match, no knowledge: a bucket's mod_vlan_vid is the set-field alone.
  OfActionList l;
  ASSERT_TRUE(ParseOfActions("mod_vlan_vid:10", &l).ok());
  EXPECT_EQ(FormatOfActions(l), "set_field:4106->vlan_vid");
}

TEST(OfctlParse, ActionListsAndBuckets) {
  OfActionList l;
  ASSERT_TRUE(ParseOfActions("output:1, dec_ttl  group:3", &l).ok());
  EXPECT_EQ(l, (OfActionList{OfAction::Output(1), OfAction::DecTtl(), OfAction::Group(3)}));
  EXPECT_EQ(FormatOfActions(l), "output:1,dec_ttl,group:3");
  ASSERT_TRUE(ParseOfActions("drop", &l).ok());
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(FormatOfActions(l), "drop");
  ASSERT_TRUE(ParseOfActions("", &l).ok());
  EXPECT_TRUE(l.empty());
  // Without a match there is no prerequisite check (a group bucket).
  ASSERT_TRUE(ParseOfActions("mod_nw_dst:1.2.3.4,mod_tp_dst:80", &l).ok());
  EXPECT_EQ(l[1].field, F::kTcpDst);
  EXPECT_FALSE(ParseOfActions("goto_table:1", &l).ok());
  EXPECT_FALSE(ParseOfActions("output:1,drop", &l).ok());
}

TEST(OfctlParse, InstructionsRoundTrip) {
  const char* flows[] = {
      "actions=drop",
      "actions=",
      "actions=output:1,output:2,output:1",
      "actions=apply_actions(output:1,dec_ttl)",
      "actions=meter:7",
      "actions=clear_actions,goto_table:4",
      "actions=write_actions()",
      "actions=write_actions(set_field:1->reg0,set_field:2->reg1,output:3,group:4,pop_vlan,"
      "push_vlan:0x88a8,dec_ttl,set_queue:2)",
      "actions=write_metadata:0x1",
      "actions=write_metadata:0xffffffffffffffff/0xf0",
      "table=3,actions=goto_table:254",
      "actions=meter:1,output:2,clear_actions,write_actions(group:5),write_metadata:5/"
      "7,goto_table:3",
  };
  for (const char* f : flows) ExpectFlowRoundTrip(f);
  EXPECT_EQ(Parse("actions=apply_actions(output:1,dec_ttl)").insts,
            Instructions::Apply({OfAction::Output(1), OfAction::DecTtl()}));
  EXPECT_EQ(Parse("actions=").insts, Instructions());
  Instructions wm = Parse("actions=write_metadata:0xff/0xf").insts;
  EXPECT_EQ(wm.metadata, 0xfu);  // value masked
  EXPECT_EQ(wm.metadata_mask, 0xfu);
  EXPECT_EQ(Parse("actions=write_metadata:5").insts.metadata_mask, ~uint64_t{0});
}

}  // namespace
}  // namespace sluice::ofproto::ofctl_test
