#include "ofproto/ofctl_parse.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/ofproto/ofctl_test_util.h"

namespace sluice::ofproto::ofctl_test {
namespace {

// ---------------------------------------------------------------------------
// The examples of the task, and what they mean.

TEST(OfctlParse, ExampleOutputToPort) {
  FlowMod fm = Parse("table=0,priority=100,in_port=1,ip,nw_dst=10.0.0.0/24,actions=output:2");
  EXPECT_EQ(fm.table_id, 0);
  EXPECT_EQ(fm.priority, 100);
  EXPECT_EQ(Get(fm.match, F::kInPort), 1u);
  EXPECT_EQ(Get(fm.match, F::kEthType), 0x0800u);
  EXPECT_EQ(Get(fm.match, F::kIpv4Dst), 0x0a000000u);
  EXPECT_EQ(Mask(fm.match, F::kIpv4Dst), 0xffffff00u);
  EXPECT_EQ(Mask(fm.match, F::kIpv4Src), 0u);
  EXPECT_EQ(fm.insts, Instructions::Apply({OfAction::Output(2)}));
  // The same text ovs-ofctl 3.1 prints for this flow (parse-flow).
  EXPECT_EQ(FormatFlowMod(fm), "priority=100,ip,in_port=1,nw_dst=10.0.0.0/24 actions=output:2");
}

TEST(OfctlParse, ExampleCookieMaskModify) {
  std::string text =
      "cookie=0x5/-1,priority=10,tcp,tp_dst=80,idle_timeout=30,actions=mod_nw_dst:10.0.0.9,"
      "dec_ttl,NORMAL";
  for (C c : {C::kAdd, C::kModify, C::kModifyStrict}) {
    FlowMod fm = Parse(text, c);
    EXPECT_EQ(fm.cookie, 5u);
    EXPECT_EQ(fm.cookie_mask, ~uint64_t{0});
    EXPECT_EQ(fm.priority, 10);
    EXPECT_EQ(fm.idle_timeout, 30);
    EXPECT_EQ(Get(fm.match, F::kIpProto), 6u);
    EXPECT_EQ(Get(fm.match, F::kTcpDst), 80u);
    EXPECT_EQ(Mask(fm.match, F::kTcpDst), 0xffffu);
    EXPECT_EQ(fm.insts,
              Instructions::Apply(
                  {OfAction::SetField(F::kIpv4Dst, FieldValue::FromUint(F::kIpv4Dst, 0x0a000009)),
                   OfAction::DecTtl(), OfAction::Output(kPortNormal)}));
  }
  EXPECT_EQ(FormatFlowMod(Parse(text, C::kModify)),
            "cookie=0x5/0xffffffffffffffff, idle_timeout=30, priority=10,tcp,tp_dst=80 "
            "actions=set_field:10.0.0.9->ipv4_dst,dec_ttl,NORMAL");
}

TEST(OfctlParse, ExampleController) {
  FlowMod fm = Parse("priority=0,actions=CONTROLLER:128");
  EXPECT_EQ(fm.priority, 0);
  EXPECT_TRUE(MatchEq(fm.match, OfMatch::CatchAll()));
  EXPECT_EQ(fm.insts, Instructions::Apply({OfAction::Output(kPortController, 128)}));
  EXPECT_EQ(FormatFlowMod(fm), "priority=0 actions=CONTROLLER:128");
}

TEST(OfctlParse, ExampleStripVlan) {
  FlowMod fm = Parse("in_port=3,dl_vlan=10,actions=strip_vlan,output:4");
  EXPECT_EQ(Get(fm.match, F::kVlanVid), 0x100au);
  EXPECT_EQ(Mask(fm.match, F::kVlanVid), 0x1fffu);
  EXPECT_EQ(Mask(fm.match, F::kVlanPcp), 0u);
  EXPECT_EQ(fm.insts, Instructions::Apply({OfAction::PopVlan(), OfAction::Output(4)}));
  EXPECT_EQ(FormatFlowMod(fm), "in_port=3,dl_vlan=10 actions=pop_vlan,output:4");
}

TEST(OfctlParse, ExampleArpFlood) {
  FlowMod fm = Parse("arp,arp_tpa=10.0.0.1,actions=FLOOD");
  EXPECT_EQ(Get(fm.match, F::kEthType), 0x0806u);
  EXPECT_EQ(Get(fm.match, F::kArpTpa), 0x0a000001u);
  EXPECT_EQ(fm.insts, Instructions::Apply({OfAction::Output(kPortFlood)}));
  EXPECT_EQ(FormatFlowMod(fm), "arp,arp_tpa=10.0.0.1 actions=FLOOD");
}

TEST(OfctlParse, ExampleIpv6Drop) {
  FlowMod fm = Parse("ipv6,ipv6_dst=2001:db8::/64,actions=drop");
  FieldValue v = GetField(fm.match.value, F::kIpv6Dst),
             m = GetFieldMask(fm.match.mask, F::kIpv6Dst);
  EXPECT_EQ(v.b[0], 0x20);
  EXPECT_EQ(v.b[1], 0x01);
  EXPECT_EQ(v.b[2], 0x0d);
  EXPECT_EQ(v.b[3], 0xb8);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(m.b[i], i < 8 ? 0xff : 0x00) << i;
  EXPECT_EQ(fm.insts, Instructions());  // drop: no instructions at all
  EXPECT_EQ(FormatFlowMod(fm), "ipv6,ipv6_dst=2001:db8::/64 actions=drop");
}

TEST(OfctlParse, ExamplePushVlan) {
  FlowMod fm = Parse("actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2");
  EXPECT_EQ(fm.insts, Instructions::Apply(
                          {OfAction::PushVlan(0x8100),
                           OfAction::SetField(F::kVlanVid, FieldValue::FromUint(F::kVlanVid, 4106)),
                           OfAction::Output(2)}));
  EXPECT_EQ(FormatFlowMod(fm), "actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2");
}

TEST(OfctlParse, ExampleInstructions) {
  EXPECT_EQ(Parse("actions=group:5").insts, Instructions::Apply({OfAction::Group(5)}));

  Instructions wa = Parse("actions=write_actions(output:3),goto_table:2").insts;
  EXPECT_FALSE(wa.has_apply);
  ASSERT_TRUE(wa.write.has_value());
  EXPECT_EQ(*wa.write, OfActionList{OfAction::Output(3)});
  EXPECT_EQ(wa.goto_table, std::optional<uint8_t>(2));

  Instructions wm = Parse("actions=write_metadata:0x5/0xff,goto_table:1").insts;
  EXPECT_TRUE(wm.has_write_metadata);
  EXPECT_EQ(wm.metadata, 5u);
  EXPECT_EQ(wm.metadata_mask, 0xffu);
  EXPECT_EQ(wm.goto_table, std::optional<uint8_t>(1));

  Instructions ca = Parse("actions=clear_actions").insts;
  EXPECT_TRUE(ca.clear_actions);
  EXPECT_FALSE(ca.has_apply);

  Instructions me = Parse("actions=meter:1,output:2").insts;
  EXPECT_EQ(me.meter, std::optional<uint32_t>(1));
  EXPECT_EQ(me.apply, OfActionList{OfAction::Output(2)});

  Instructions sq = Parse("actions=set_queue:1,output:2").insts;
  EXPECT_EQ(sq.apply, (OfActionList{OfAction::SetQueue(1), OfAction::Output(2)}));

  // All six, in order (ovs-ofctl prints this flow the same way).
  FlowMod all = Parse(
      "actions=meter:1,output:2,clear_actions,write_actions(group:5),write_metadata:5,goto_table:"
      "3");
  EXPECT_EQ(
      FormatOfInstructions(all.insts),
      "meter:1,output:2,clear_actions,write_actions(group:5),write_metadata:0x5,goto_table:3");
}

// ---------------------------------------------------------------------------
// Flow-mod keywords and commands.

TEST(OfctlParse, FlowModKeywords) {
  FlowMod fm = Parse(
      "table=3,priority=7,cookie=0x1234,idle_timeout=5,hard_timeout=6,send_flow_rem,"
      "check_overlap,reset_counts,no_packet_counts,no_byte_counts,ip,actions=drop");
  EXPECT_EQ(fm.command, C::kAdd);
  EXPECT_EQ(fm.table_id, 3);
  EXPECT_EQ(fm.priority, 7);
  EXPECT_EQ(fm.cookie, 0x1234u);
  EXPECT_EQ(fm.cookie_mask, 0u);
  EXPECT_EQ(fm.idle_timeout, 5);
  EXPECT_EQ(fm.hard_timeout, 6);
  EXPECT_EQ(fm.flags, kFlagSendFlowRem | kFlagCheckOverlap | kFlagResetCounts | kFlagNoPktCounts |
                          kFlagNoBytCounts);
  EXPECT_EQ(FormatFlowMod(fm),
            "cookie=0x1234, table=3, idle_timeout=5, hard_timeout=6, send_flow_rem, "
            "check_overlap, reset_counts, no_packet_counts, no_byte_counts, priority=7,ip "
            "actions=drop");

  FlowMod def = Parse("actions=drop");
  EXPECT_EQ(def.priority, 0x8000);
  EXPECT_EQ(def.table_id, 0);
  EXPECT_EQ(def.out_port, kPortAny);
  EXPECT_EQ(FormatFlowMod(def), "actions=drop");
}

TEST(OfctlParse, DeleteAndModify) {
  FlowMod del = Parse("tcp,tp_dst=80", C::kDelete);
  EXPECT_EQ(del.command, C::kDelete);
  EXPECT_EQ(del.table_id, kAllTables);
  EXPECT_EQ(del.insts, Instructions());
  EXPECT_EQ(FormatFlowMod(del), "tcp,tp_dst=80");

  FlowMod all = Parse("", C::kDelete);
  EXPECT_TRUE(MatchEq(all.match, OfMatch::CatchAll()));
  EXPECT_EQ(all.table_id, kAllTables);
  EXPECT_EQ(FormatFlowMod(all), "");

  FlowMod strict = Parse("table=2,priority=5,cookie=0x10/0xf0,out_port=3,out_group=7,in_port=1",
                         C::kDeleteStrict);
  EXPECT_EQ(strict.table_id, 2);
  EXPECT_EQ(strict.priority, 5);
  EXPECT_EQ(strict.cookie, 0x10u);
  EXPECT_EQ(strict.cookie_mask, 0xf0u);
  EXPECT_EQ(strict.out_port, 3u);
  EXPECT_EQ(strict.out_group, 7u);
  EXPECT_EQ(Parse("out_port=LOCAL", C::kDelete).out_port, kPortLocal);
  EXPECT_EQ(Parse("table=255", C::kDelete).table_id, kAllTables);

  FlowMod mod = Parse("cookie=0x7,in_port=2,actions=output:3", C::kModify);
  EXPECT_EQ(mod.table_id, 0);
  EXPECT_EQ(mod.cookie, 7u);
  EXPECT_EQ(mod.cookie_mask, 0u);

  const char* dels[] = {"", "tcp,tp_dst=80", "table=2,priority=5,cookie=0x10/0xf0,out_port=3",
                        "out_group=7,in_port=1", "table=255,ip,nw_src=1.0.0.0/8"};
  for (const char* d : dels) {
    ExpectFlowRoundTrip(d, C::kDelete);
    ExpectFlowRoundTrip(d, C::kDeleteStrict);
  }
  ExpectFlowRoundTrip("cookie=0x7,out_port=2,in_port=2,actions=output:3", C::kModify);
  ExpectFlowRoundTrip("cookie=0x7/0xff,table=4,actions=output:3", C::kModifyStrict);
}

// dump-flows output (with statistics) parses back.
TEST(OfctlParse, DumpFlowsOutputParses) {
  FlowMod fm = Parse(
      " cookie=0x5, duration=12.345s, table=1, n_packets=10, n_bytes=1000, idle_timeout=30, "
      "idle_age=3, priority=100,ip,in_port=1,nw_dst=10.0.0.0/24 actions=output:2");
  EXPECT_EQ(fm.cookie, 5u);
  EXPECT_EQ(fm.table_id, 1);
  EXPECT_EQ(fm.idle_timeout, 30);
  EXPECT_EQ(fm.priority, 100);
  EXPECT_EQ(fm.insts, Instructions::Apply({OfAction::Output(2)}));
}

TEST(OfctlParse, FormatFlowOfRule) {
  OfRule rule;
  rule.table_id = 1;
  rule.cookie = 0x5;
  rule.cls.priority = 100;
  rule.cls.match = Match("ip,in_port=1,nw_dst=10.0.0.0/24");
  rule.idle_timeout = 30;
  rule.flags = kFlagSendFlowRem;
  rule.insts = Instructions::Apply({OfAction::Output(2)});
  std::string s = FormatFlow(rule);
  EXPECT_EQ(s,
            "cookie=0x5, table=1, idle_timeout=30, send_flow_rem, "
            "priority=100,ip,in_port=1,nw_dst=10.0.0.0/24 actions=output:2");
  FlowMod back = Parse(s);
  EXPECT_EQ(back.table_id, 1);
  EXPECT_EQ(back.cookie, 5u);
  EXPECT_EQ(back.priority, 100);
  EXPECT_TRUE(MatchEq(back.match, rule.cls.match));
  EXPECT_EQ(back.insts, rule.insts);
  EXPECT_EQ(back.flags, kFlagSendFlowRem);

  OfRule plain;
  plain.cls.priority = 0x8000;
  plain.cls.match = OfMatch::CatchAll();
  EXPECT_EQ(FormatFlow(plain), "actions=drop");
}

// ---------------------------------------------------------------------------
// Groups.

TEST(OfctlParse, Groups) {
  GroupMod gm;
  ASSERT_TRUE(
      ParseGroupMod("group_id=1,type=select,bucket=weight:1,actions=output:2,bucket=weight:1,"
                    "actions=output:3",
                    GroupMod::Command::kAdd, &gm)
          .ok());
  EXPECT_EQ(gm.group_id, 1u);
  EXPECT_EQ(gm.type, GroupType::kSelect);
  ASSERT_EQ(gm.buckets.size(), 2u);
  EXPECT_EQ(gm.buckets[0].weight, 1);
  EXPECT_EQ(gm.buckets[0].actions, OfActionList{OfAction::Output(2)});
  EXPECT_EQ(gm.buckets[1].actions, OfActionList{OfAction::Output(3)});
  EXPECT_EQ(
      FormatGroupMod(gm),
      "group_id=1,type=select,bucket=weight:1,actions=output:2,bucket=weight:1,actions=output:3");

  ASSERT_TRUE(
      ParseGroupMod("group_id=2,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,"
                    "output:3,bucket=watch_group:9,actions=group:9",
                    GroupMod::Command::kModify, &gm)
          .ok());
  EXPECT_EQ(gm.command, GroupMod::Command::kModify);
  EXPECT_EQ(gm.type, GroupType::kFastFailover);
  ASSERT_EQ(gm.buckets.size(), 3u);
  EXPECT_EQ(gm.buckets[0].watch_port, 2u);
  EXPECT_EQ(gm.buckets[0].weight, 0);
  EXPECT_EQ(gm.buckets[1].watch_port, 3u);
  EXPECT_EQ(gm.buckets[1].actions, OfActionList{OfAction::Output(3)});
  EXPECT_EQ(gm.buckets[2].watch_group, 9u);
  EXPECT_EQ(gm.buckets[2].watch_port, kPortAny);
  // ovs-ofctl prints the same (parse-group).
  EXPECT_EQ(FormatGroupMod(gm),
            "group_id=2,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,"
            "actions=output:3,bucket=watch_group:9,actions=group:9");

  ASSERT_TRUE(ParseGroupMod("group_id=3,type=all,bucket=output:1,bucket=output:2,dec_ttl",
                            GroupMod::Command::kAdd, &gm)
                  .ok());
  EXPECT_EQ(gm.type, GroupType::kAll);
  EXPECT_EQ(gm.buckets[1].actions, (OfActionList{OfAction::Output(2), OfAction::DecTtl()}));

  ASSERT_TRUE(ParseGroupMod("group_id=4,type=indirect,bucket=actions=mod_dl_dst:00:00:00:00:00:01,"
                            "output:1",
                            GroupMod::Command::kAdd, &gm)
                  .ok());
  EXPECT_EQ(gm.type, GroupType::kIndirect);
  ASSERT_EQ(gm.buckets.size(), 1u);
  EXPECT_EQ(gm.buckets[0].actions.size(), 2u);

  // Select buckets default to weight 1; explicit weight, bucket_id ignored.
  ASSERT_TRUE(ParseGroupMod("group_id=5,type=select,bucket=output:2,bucket=bucket_id:3,weight=5,"
                            "actions=output:3",
                            GroupMod::Command::kAdd, &gm)
                  .ok());
  EXPECT_EQ(gm.buckets[0].weight, 1);
  EXPECT_EQ(gm.buckets[1].weight, 5);

  ASSERT_TRUE(ParseGroupMod("group_id=6,type=all", GroupMod::Command::kAdd, &gm).ok());
  EXPECT_TRUE(gm.buckets.empty());

  ASSERT_TRUE(ParseGroupMod("group_id=7", GroupMod::Command::kDelete, &gm).ok());
  EXPECT_EQ(gm.group_id, 7u);
  EXPECT_EQ(FormatGroupMod(gm), "group_id=7");
  ASSERT_TRUE(ParseGroupMod("group_id=all", GroupMod::Command::kDelete, &gm).ok());
  EXPECT_EQ(gm.group_id, kGroupAny);
  ASSERT_TRUE(ParseGroupMod("", GroupMod::Command::kDelete, &gm).ok());
  EXPECT_EQ(gm.group_id, kGroupAny);
  EXPECT_EQ(FormatGroupMod(gm), "group_id=all");

  Group g;
  g.id = 9;
  g.type = GroupType::kSelect;
  Bucket b;
  b.weight = 3;
  b.actions = {OfAction::Output(4)};
  g.buckets = {b};
  EXPECT_EQ(FormatGroup(g), "group_id=9,type=select,bucket=weight:3,actions=output:4");
}

TEST(OfctlParse, GroupsRoundTrip) {
  const std::pair<const char*, GroupMod::Command> texts[] = {
      {"group_id=1,type=select,bucket=weight:1,actions=output:2,bucket=weight:0,actions=drop",
       GroupMod::Command::kAdd},
      {"group_id=2,type=ff,bucket=watch_port:LOCAL,watch_group:3,actions=output:1",
       GroupMod::Command::kModify},
      {"group_id=3,type=all,bucket=watch_port:5,actions=output:5,set_queue:1",
       GroupMod::Command::kAdd},
      {"group_id=4,type=indirect,bucket=actions=set_field:10.0.0.1->ipv4_dst,group:1",
       GroupMod::Command::kAdd},
      {"group_id=4294967040", GroupMod::Command::kDelete},
      {"group_id=any", GroupMod::Command::kDelete},
  };
  for (const auto& [text, cmd] : texts) {
    SCOPED_TRACE(text);
    GroupMod a, b;
    Status st = ParseGroupMod(text, cmd, &a);
    ASSERT_TRUE(st.ok()) << st.message();
    std::string f = FormatGroupMod(a);
    st = ParseGroupMod(f, cmd, &b);
    ASSERT_TRUE(st.ok()) << f << " -> " << st.message();
    EXPECT_TRUE(GroupModEq(a, b)) << f;
    EXPECT_EQ(FormatGroupMod(b), f);
  }
}

TEST(OfctlParse, GroupErrors) {
  struct Case {
    const char* text;
    GroupMod::Command cmd;
    const char* want;
  };
  const Case cases[] = {
      {"type=all,bucket=output:1", GroupMod::Command::kAdd, "missing group_id"},
      {"group_id=1,bucket=output:1", GroupMod::Command::kAdd, "missing type"},
      {"group_id=1,type=fancy", GroupMod::Command::kAdd, "group type must be"},
      {"group_id=1,group_id=2,type=all", GroupMod::Command::kAdd, "group_id given twice"},
      {"group_id=0xffffff01,type=all", GroupMod::Command::kAdd, "group id must be"},
      {"group_id=all,type=all", GroupMod::Command::kAdd, "only for deletes"},
      {"group_id=1,type=all,bucket=weight:2,actions=output:1", GroupMod::Command::kAdd,
       "weight is only valid in select groups"},
      {"group_id=1,type=select,bucket=weight:70000,actions=output:1", GroupMod::Command::kAdd,
       "weight must be"},
      {"group_id=1,type=ff,bucket=actions=output:1", GroupMod::Command::kAdd, "needs watch_port"},
      {"group_id=1,type=indirect,bucket=output:1,bucket=output:2", GroupMod::Command::kAdd,
       "exactly one bucket"},
      {"group_id=1,type=indirect", GroupMod::Command::kAdd, "exactly one bucket"},
      {"group_id=1,type=all,bucket=actions=goto_table:1", GroupMod::Command::kAdd,
       "not allowed inside a bucket"},
      {"group_id=1,type=all,bucket=actions=output:1,frob", GroupMod::Command::kAdd,
       "unknown action 'frob'"},
      {"group_id=1,type=all,colour=red", GroupMod::Command::kAdd, "unknown group keyword"},
      {"group_id=1,bucket=output:1", GroupMod::Command::kDelete, "takes no buckets"},
      {"group_id=1,type=all,bucket=output:1)", GroupMod::Command::kAdd, "unexpected ')'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string msg = GroupError(c.text, c.cmd);
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------
// Errors name the offending item.

struct ErrorCase {
  const char* text;
  C command;
  const char* want;  // a substring of the message
};

TEST(OfctlParse, Errors) {
  const ErrorCase cases[] = {
      // Unknown things.
      {"frobnicate=1,actions=drop", C::kAdd, "'frobnicate=1': unknown field 'frobnicate'"},
      {"tcpx,actions=drop", C::kAdd, "'tcpx': unknown keyword or protocol"},
      {"actions=frob:1", C::kAdd, "'frob:1': unknown action 'frob'"},
      {"actions=output:2,bogus", C::kAdd, "'bogus': unknown action"},
      {"actions=->", C::kAdd, "'->': bad action syntax"},
      // Bad values.
      {"in_port=abc,actions=drop", C::kAdd, "'in_port=abc': bad port"},
      {"ip,nw_dst=10.0.0.300,actions=drop", C::kAdd, "'nw_dst=10.0.0.300': bad IPv4 address"},
      {"ip,nw_dst=10.0.0.0/33,actions=drop", C::kAdd, "bad IPv4 mask"},
      {"ipv6,ipv6_src=2001:db8::g,actions=drop", C::kAdd, "bad IPv6 address"},
      {"ipv6,ipv6_src=::1/129,actions=drop", C::kAdd, "bad IPv6 mask"},
      {"dl_src=00:11:22:33:44,actions=drop", C::kAdd,
       "'dl_src=00:11:22:33:44': bad Ethernet address"},
      {"dl_vlan=4096,actions=drop", C::kAdd, "VLAN id must be 0-4095"},
      {"dl_vlan_pcp=8,actions=drop", C::kAdd, "VLAN priority must be 0-7"},
      {"vlan_vid=0x2000,actions=drop", C::kAdd, "out of range"},
      {"ip,ip_dscp=64,actions=drop", C::kAdd, "'ip_dscp=64': value 64 out of range (0-63)"},
      {"tcp,tp_dst=65536,actions=drop", C::kAdd, "out of range"},
      {"tcp,tp_dst=80/0x10000,actions=drop", C::kAdd, "has bits outside the field"},
      {"tcp,tp_dst=,actions=drop", C::kAdd, "missing value"},
      {"tcp,tp_dst=8/,actions=drop", C::kAdd, "missing mask"},
      {"tcp,tcp_flags=+syn+bogus,actions=drop", C::kAdd, "unknown TCP flag 'bogus'"},
      {"tcp,tcp_flags=+syn+syn,actions=drop", C::kAdd, "given twice"},
      {"ip,nw_ttl=1/0xf,actions=drop", C::kAdd, "cannot be masked"},
      {"in_port=1/0xf,actions=drop", C::kAdd, "cannot be masked"},
      {"tcp,nw_proto=6/1,actions=drop", C::kAdd, "cannot be masked"},
      // Prerequisites, whatever the order.
      {"tp_dst=80,actions=drop", C::kAdd,
       "'tp_dst=80': tp_dst requires tcp, udp or sctp (nw_proto)"},
      {"ip,tp_dst=80,actions=drop", C::kAdd, "tp_dst requires tcp, udp or sctp (nw_proto)"},
      {"tp_src=80", C::kDelete, "tp_src requires tcp, udp or sctp (nw_proto)"},
      {"udp,tcp_dst=80,actions=drop", C::kAdd, "'tcp_dst=80': tcp_dst requires tcp (nw_proto=6)"},
      {"nw_src=10.0.0.1,actions=drop", C::kAdd, "nw_src requires ip or arp"},
      {"ipv6,nw_src=10.0.0.1,actions=drop", C::kAdd, "nw_src requires ip or arp"},
      {"ipv4_dst=10.0.0.1,arp,actions=drop", C::kAdd, "ipv4_dst requires ip (dl_type=0x0800)"},
      {"ip,ipv6_src=::1,actions=drop", C::kAdd, "ipv6_src requires ipv6"},
      {"nw_proto=6,actions=drop", C::kAdd, "nw_proto requires ip, ipv6 or arp"},
      {"ip,arp_op=1,actions=drop", C::kAdd, "arp_op requires arp"},
      {"icmp_type=8,actions=drop", C::kAdd, "icmp_type requires icmp or icmp6"},
      {"icmp,icmpv6_type=1,actions=drop", C::kAdd, "icmpv6_type requires icmp6"},
      {"icmp6,nd_target=::1,actions=drop", C::kAdd,
       "nd_target requires icmp6 with icmp_type=135 or 136"},
      {"icmp6,icmp_type=136,nd_sll=00:00:00:00:00:01,actions=drop", C::kAdd,
       "nd_sll requires icmp6 with icmp_type=135"},
      {"udp,tcp_flags=+syn,actions=drop", C::kAdd, "tcp_flags requires tcp"},
      {"nw_tos=4,actions=drop", C::kAdd, "nw_tos requires ip or ipv6"},
      {"vlan_tci=0x2000/0xe000,actions=drop", C::kAdd, "vlan_tci requires a VLAN tag"},
      {"dl_vlan=0xffff,dl_vlan_pcp=1,actions=drop", C::kAdd, "'dl_vlan_pcp=1': contradicts"},
      // Duplicates and contradictions.
      {"tcp,tp_dst=80,tp_dst=81,actions=drop", C::kAdd, "'tp_dst=81': tp_dst is already matched"},
      {"tcp,tcp_dst=80,tp_dst=80,actions=drop", C::kAdd, "tp_dst is already matched"},
      {"udp,udp_dst=1,tcp_dst=1,actions=drop", C::kAdd, "already matched"},
      {"ip,nw_tos=4,ip_dscp=1,actions=drop", C::kAdd, "already matched"},
      {"dl_vlan=1,vlan_vid=4097,actions=drop", C::kAdd, "already matched"},
      {"tcp,udp,actions=drop", C::kAdd, "'udp': contradicts an earlier item"},
      {"tcp,nw_proto=17,actions=drop", C::kAdd, "'nw_proto=17': contradicts"},
      {"ip,dl_type=0x86dd,actions=drop", C::kAdd, "contradicts"},
      {"priority=1,priority=2,actions=drop", C::kAdd, "'priority=2': priority given twice"},
      {"tcp=1,actions=drop", C::kAdd, "tcp takes no value"},
      // Flow-mod keywords.
      {"priority=65536,actions=drop", C::kAdd, "priority must be 0-65535"},
      {"priority,actions=drop", C::kAdd, "'priority': priority needs a value"},
      {"table=255,actions=drop", C::kAdd, "only for deletes"},
      {"table=256", C::kDelete, "table must be"},
      {"idle_timeout=70000,actions=drop", C::kAdd, "timeout must be"},
      {"cookie=xyz,actions=drop", C::kAdd, "bad cookie value"},
      {"cookie=1/zz,actions=drop", C::kAdd, "bad cookie mask"},
      {"cookie=5", C::kDelete, "cookie=VALUE/MASK"},
      {"out_port=1,actions=drop", C::kAdd, "out_port is a filter"},
      {"out_group=1,actions=drop", C::kAdd, "out_group is a filter"},
      {"send_flow_rem=1,actions=drop", C::kAdd, "takes no value"},
      {"in_port=1", C::kAdd, "missing 'actions='"},
      {"in_port=1", C::kModify, "missing 'actions='"},
      {"in_port=1,actions=drop", C::kDelete, "'actions=' is not allowed"},
      {"actions", C::kAdd, "actions needs a value"},
      // Actions.
      {"actions=output", C::kAdd, "output needs an argument"},
      {"actions=output:ANY", C::kAdd, "ANY is not a port to output to"},
      {"actions=output:4294967041", C::kAdd, "is not a port to output to"},
      {"actions=output:x", C::kAdd, "bad port"},
      {"actions=99999999999", C::kAdd, "port number out of range"},
      {"actions=CONTROLLER:70000", C::kAdd, "max_len must be 0-65535"},
      {"actions=controller(reason=no_match)", C::kAdd, "unsupported controller option"},
      {"actions=group:0xffffff01", C::kAdd, "group id must be"},
      {"actions=push_vlan:0x1234", C::kAdd, "push_vlan ethertype must be 0x8100 or 0x88a8"},
      {"actions=pop_vlan:1", C::kAdd, "pop_vlan takes no argument"},
      {"actions=dec_ttl(1)", C::kAdd, "dec_ttl takes no argument"},
      {"actions=set_field:1", C::kAdd, "set_field wants VALUE->FIELD"},
      {"actions=set_field:1->bogus", C::kAdd, "unknown field 'bogus'"},
      {"actions=set_field:1->in_port", C::kAdd, "field in_port cannot be set"},
      {"actions=set_field:1->eth_type", C::kAdd, "cannot be set"},
      {"ip,actions=set_field:10.0.0.1/24->ipv4_dst", C::kAdd,
       "set_field with a mask is not supported"},
      {"ip,actions=set_field:300->nw_ttl", C::kAdd, "out of range"},
      {"actions=set_field:10.0.0.1->ipv4_dst", C::kAdd,
       "setting ipv4_dst requires ip (dl_type=0x0800) in the match"},
      {"ipv6,actions=mod_nw_dst:10.0.0.1", C::kAdd, "setting ipv4_dst requires ip"},
      {"ip,actions=mod_tp_dst:80", C::kAdd, "mod_tp_dst requires tcp, udp or sctp"},
      {"ip,actions=mod_nw_tos:17", C::kAdd, "ECN bits clear"},
      {"actions=mod_vlan_vid:4096", C::kAdd, "VLAN id must be 0-4095"},
      {"actions=mod_dl_src:zz", C::kAdd, "bad Ethernet address"},
      {"tcp,actions=write_actions(set_field:1.2.3.4->ipv4_src,set_field:1.2.3.5->ipv4_src)",
       C::kAdd, "write_actions already has a set_field for ipv4_src action"},
      {"actions=write_actions(output:1,output:2)", C::kAdd, "already has a output action"},
      {"actions=write_actions(goto_table:1)", C::kAdd, "not allowed inside write_actions"},
      {"actions=write_actions:output:1", C::kAdd, "write_actions wants a list in parentheses"},
      {"actions=write_actions(output:1", C::kAdd, "missing ')'"},
      {"actions=output:1)", C::kAdd, "unexpected ')'"},
      // Instructions: order and duplicates.
      {"actions=goto_table:1,meter:1", C::kAdd, "'meter:1': meter must come before goto_table"},
      {"actions=write_actions(output:3),output:2", C::kAdd,
       "'output:2': actions to apply must come before write_actions"},
      {"actions=clear_actions,output:2", C::kAdd, "must come before clear_actions"},
      {"actions=goto_table:1,goto_table:2", C::kAdd,
       "'goto_table:2': duplicate goto_table instruction"},
      {"actions=meter:1,meter:2", C::kAdd, "duplicate meter instruction"},
      {"actions=clear_actions,clear_actions", C::kAdd, "duplicate clear_actions"},
      {"actions=write_actions(output:1),write_actions(output:2)", C::kAdd,
       "duplicate write_actions"},
      {"actions=output:1,apply_actions(output:2)", C::kAdd, "duplicate apply_actions"},
      {"actions=apply_actions(output:2),output:1", C::kAdd, "duplicate apply_actions"},
      {"actions=write_metadata:1,write_metadata:2", C::kAdd, "duplicate write_metadata"},
      {"actions=drop,goto_table:1", C::kAdd, "'drop' must not be accompanied"},
      {"actions=output:1,drop", C::kAdd, "'drop' must not be accompanied"},
      {"actions=meter:0", C::kAdd, "meter wants a meter id"},
      {"actions=goto_table:255", C::kAdd, "goto_table wants a table 0-254"},
      {"actions=goto_table:0", C::kAdd, "goto_table must go to a later table"},
      {"table=5,actions=goto_table:5", C::kAdd, "goto_table must go to a later table"},
      {"actions=clear_actions:1", C::kAdd, "clear_actions takes no argument"},
      {"actions=write_metadata:x", C::kAdd, "bad write_metadata value"},
      {"actions=write_metadata:1/x", C::kAdd, "bad write_metadata mask"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string msg = FlowError(c.text, c.command);
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace sluice::ofproto::ofctl_test
