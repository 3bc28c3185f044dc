// Golden tests of megaflow -> rte_flow translation (offload/flow_translate.h):
// every supported match field and action gives the expected items/actions
// (as FormatRule text, plus direct struct checks), every unsupported one a
// refusal with its reason, and the rule's storage invariants hold.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "datapath/flow/proto.h"
#include "offload/flow_translate.h"

namespace sluice::offload {
namespace {

using dp::DpAction;
using dp::DpActionType;

// dp port -> switch port. Domain 1: uplink (flow id 0 = the proxy), VF
// representors 3 and 4; port 7 is in another domain; 8 is a VF behind a
// unified proxy; 9 has four rx queues; 10 may not use partial offload.
PortMap Ports() {
  PortMap m;
  auto add = [&](uint32_t dp, uint32_t domain, uint16_t flow, uint16_t rx, uint16_t proxy) {
    OffloadPort p;
    p.domain_id = domain;
    p.flow_port_id = flow;
    p.rx_port_id = rx;
    p.proxy_port_id = proxy;
    m.Set(dp, p);
    return p;
  };
  add(1, 1, 0, 0, 0);
  add(2, 1, 3, 3, 0);
  add(3, 1, 4, 4, 0);
  add(7, 2, 9, 9, 9);
  OffloadPort u = add(8, 1, 0x1005, 0, 0);
  u.unified = true;
  m.Set(8, u);
  OffloadPort q = add(9, 1, 5, 5, 0);
  q.n_rxq = 4;
  m.Set(9, q);
  OffloadPort np = add(10, 1, 6, 6, 0);
  np.partial_ok = false;
  m.Set(10, np);
  return m;
}

// A megaflow under construction: key and mask together.
struct Mf {
  dp::FlowKey key;
  dp::FlowMask mask;
  Mf() {
    key.Clear();
    mask.Clear();
    key.in_port = 2;
    mask.in_port = 0xffffffffu;
  }
  Mf& InPort(uint32_t p) {
    key.in_port = p;
    return *this;
  }
  Mf& EthDst(uint8_t last) {
    key.eth_dst = dp::EthAddr{{0x02, 0, 0, 0, 0, last}};
    std::memset(&mask.eth_dst, 0xff, 6);
    return *this;
  }
  Mf& EthSrc(uint8_t last) {
    key.eth_src = dp::EthAddr{{0x02, 0, 0, 0, 0, last}};
    std::memset(&mask.eth_src, 0xff, 6);
    return *this;
  }
  Mf& Type(uint16_t t) {
    key.eth_type = Be16(t);
    mask.eth_type = Be16(0xffff);
    return *this;
  }
  Mf& NoVlan() {
    mask.vlan[0].tci = Be16(dp::kVlanPresent);
    return *this;
  }
  Mf& Vlan(int i, uint16_t tpid, uint16_t tci, uint16_t tci_mask = 0xffff) {
    key.vlan[i].tpid = Be16(tpid);
    mask.vlan[i].tpid = Be16(0xffff);
    key.vlan[i].tci = Be16(tci | dp::kVlanPresent);
    mask.vlan[i].tci = Be16(tci_mask);
    return *this;
  }
  Mf& Ip4(uint32_t src, uint32_t src_mask, uint32_t dst, uint32_t dst_mask) {
    Type(0x0800).NoVlan();
    key.nw_src = Be32(src);
    mask.nw_src = Be32(src_mask);
    key.nw_dst = Be32(dst);
    mask.nw_dst = Be32(dst_mask);
    return *this;
  }
  Mf& Ip6(uint8_t src_last, uint8_t dst_last) {
    Type(0x86dd).NoVlan();
    key.ipv6_src[0] = 0xfd;
    key.ipv6_src[15] = src_last;
    key.ipv6_dst[0] = 0xfd;
    key.ipv6_dst[15] = dst_last;
    std::memset(mask.ipv6_src, 0xff, 16);
    std::memset(mask.ipv6_dst, 0xff, 16);
    return *this;
  }
  Mf& Proto(uint8_t p) {
    key.nw_proto = p;
    mask.nw_proto = 0xff;
    return *this;
  }
  Mf& Ports(uint16_t s, uint16_t d) {
    key.tp_src = Be16(s);
    mask.tp_src = Be16(0xffff);
    key.tp_dst = Be16(d);
    mask.tp_dst = Be16(0xffff);
    return *this;
  }
};

struct Out {
  TranslateResult r;
  std::string text;
  RteFlowRule rule;
};

Out Xlate(const Mf& mf, const std::vector<DpAction>& acts, Mode mode = Mode::kFull,
          uint32_t mark = 0) {
  Out o;
  o.r = Translate(mf.key, mf.mask, acts, Ports(), mode, &o.rule, mark);
  if (o.r.ok()) o.text = FormatRule(o.rule);
  return o;
}

DpAction Blank(DpActionType t) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = t;
  return a;
}
const std::vector<DpAction> kToVf2 = {DpAction::Output(3)};

constexpr const char* kSrc = "transfer pattern represented_port port_id 3/65535 / ";
constexpr const char* kOut = "actions count / represented_port port_id 4 / end";

// --- Match fields ---------------------------------------------------------

TEST(TranslateMatch, InPortOnly) {
  Out o = Xlate(Mf(), kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) + "end " + kOut);
  EXPECT_FALSE(o.r.narrowed);
  EXPECT_EQ(o.rule.port_id, 0);  // the proxy
  EXPECT_EQ(o.rule.attr.transfer, 1u);
  EXPECT_EQ(o.rule.attr.ingress, 0u);
  ASSERT_EQ(o.rule.items().size(), 2u);
  EXPECT_EQ(o.rule.items()[0].type, RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT);
  EXPECT_EQ(static_cast<const rte_flow_item_ethdev*>(o.rule.items()[0].spec)->port_id, 3);
  EXPECT_EQ(o.rule.items()[1].type, RTE_FLOW_ITEM_TYPE_END);
  ASSERT_EQ(o.rule.actions().size(), 3u);
  EXPECT_EQ(o.rule.actions()[0].type, RTE_FLOW_ACTION_TYPE_COUNT);
  EXPECT_EQ(o.rule.actions()[1].type, RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT);
  EXPECT_EQ(static_cast<const rte_flow_action_ethdev*>(o.rule.actions()[1].conf)->port_id, 4);
  EXPECT_EQ(o.rule.actions()[2].type, RTE_FLOW_ACTION_TYPE_END);
}

TEST(TranslateMatch, EthernetAddressesAndUntaggedType) {
  Out o = Xlate(Mf().EthDst(2).EthSrc(1).Type(0x0800).NoVlan(), kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth dst 02:00:00:00:00:02/ff:ff:ff:ff:ff:ff src 02:00:00:00:00:01/"
                        "ff:ff:ff:ff:ff:ff type 0x800/0xffff has_vlan 0/1 / end " +
                        kOut);
  EXPECT_FALSE(o.r.narrowed);
}

TEST(TranslateMatch, TypeWithoutVlanMatchNarrowsToUntagged) {
  Mf mf;
  mf.Type(0x0800);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) + "eth type 0x800/0xffff has_vlan 0/1 / end " + kOut);
  EXPECT_TRUE(o.r.narrowed);
}

TEST(TranslateMatch, OneVlanTag) {
  Mf mf;
  mf.Type(0x0800).Vlan(0, 0x8100, 0x6064);       // PCP 3, VID 100
  mf.mask.vlan[1].tci = Be16(dp::kVlanPresent);  // and no second tag
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x8100/0xffff has_vlan 1/1 / vlan tci 0x6064/0xefff inner_type "
                        "0x800/0xffff has_more_vlan 0/1 / end " +
                        kOut);
  EXPECT_FALSE(o.r.narrowed);
}

TEST(TranslateMatch, VidOnly) {
  Mf mf;
  mf.Vlan(0, 0x8100, 0x0064, dp::kVlanPresent | dp::kVlanVidMask);
  mf.mask.vlan[0].tpid = Be16(0);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) + "eth has_vlan 1/1 / vlan tci 0x64/0xfff / end " + kOut);
}

TEST(TranslateMatch, QinQ) {
  Mf mf;
  mf.Type(0x86dd).Vlan(0, 0x88a8, 0x000a).Vlan(1, 0x8100, 0x2014);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x88a8/0xffff has_vlan 1/1 / vlan tci 0xa/0xefff inner_type "
                        "0x8100/0xffff has_more_vlan 1/1 / vlan tci 0x2014/0xefff inner_type "
                        "0x86dd/0xffff has_more_vlan 0/1 / end " +
                        kOut);
}

TEST(TranslateMatch, Ipv4AddressesPrefixTosTtlNoFrag) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0x0a010000, 0xffff0000);
  mf.key.nw_tos = 0xb8;
  mf.mask.nw_tos = 0xfc;
  mf.key.nw_ttl = 64;
  mf.mask.nw_ttl = 0xff;
  mf.mask.nw_frag = 0xff;
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 src 10.0.0.1/255.255.255.255 "
                        "dst 10.1.0.0/255.255.0.0 tos 0xb8/0xfc fragment_offset 0x0/0x3fff ttl "
                        "64/255 / end " +
                        kOut);
}

TEST(TranslateMatch, Ipv4Tcp) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0x0a000002, 0xffffffff).Proto(6).Ports(1234, 80);
  mf.key.tcp_flags = Be16(dp::kTcpSyn | dp::kTcpNs);
  mf.mask.tcp_flags = Be16(dp::kTcpSyn | dp::kTcpAck | dp::kTcpNs);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 src 10.0.0.1/255.255.255.255 "
                        "dst 10.0.0.2/255.255.255.255 proto 6/255 / tcp src 1234/65535 dst "
                        "80/65535 data_off 0x1/0x1 flags 0x2/0x12 / end " +
                        kOut);
}

TEST(TranslateMatch, Ipv4UdpPortsOnly) {
  Mf mf;
  mf.Type(0x0800).NoVlan().Proto(17);
  mf.key.tp_dst = Be16(4789);
  mf.mask.tp_dst = Be16(0xffff);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 proto 17/255 / udp dst "
                        "4789/65535 / end " +
                        kOut);
}

TEST(TranslateMatch, Ipv4ProtocolWithoutPorts) {
  Mf mf;
  mf.Type(0x0800).NoVlan().Proto(6);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  // The TCP item is there (empty): later fragments have no TCP header.
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 proto 6/255 / tcp / end " +
                        kOut);
}

TEST(TranslateMatch, Sctp) {
  Mf mf;
  mf.Type(0x0800).NoVlan().Proto(132).Ports(5000, 6000);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 proto 132/255 / sctp src "
                        "5000/65535 dst 6000/65535 / end " +
                        kOut);
}

TEST(TranslateMatch, IcmpTypeCode) {
  Mf mf;
  mf.Type(0x0800).NoVlan().Proto(1).Ports(8, 0);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x800/0xffff has_vlan 0/1 / ipv4 proto 1/255 / icmp type 8/255 "
                        "code 0/255 / end " +
                        kOut);
}

TEST(TranslateMatch, Ipv6Icmp6AndHeaderFields) {
  Mf mf;
  mf.Ip6(1, 2).Proto(58).Ports(128, 0);
  mf.key.ipv6_label = Be32(0x12345);
  mf.mask.ipv6_label = Be32(0xfffff);
  mf.key.nw_tos = 0x28;
  mf.mask.nw_tos = 0xff;
  mf.key.nw_ttl = 255;
  mf.mask.nw_ttl = 0xff;
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, std::string(kSrc) +
                        "eth type 0x86dd/0xffff has_vlan 0/1 / ipv6 src "
                        "fd000000000000000000000000000001/ffffffffffffffffffffffffffffffff dst "
                        "fd000000000000000000000000000002/ffffffffffffffffffffffffffffffff "
                        "vtc_flow 0x2812345/0xfffffff hop_limits 255/255 proto 58/255 / icmp6 "
                        "type 128/255 code 0/255 / end " +
                        kOut);
  EXPECT_TRUE(o.r.narrowed);  // extension headers would hide the protocol
}

TEST(TranslateMatch, Ipv6UdpNoFragment) {
  Mf mf;
  mf.Ip6(1, 2).Proto(17).Ports(53, 53);
  mf.mask.nw_frag = dp::kFragAny;
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("proto 17/255 has_frag_ext 0/1 / udp src 53/65535 dst 53/65535 / end"),
            std::string::npos)
      << o.text;
}

TEST(TranslateMatch, RecircZeroIsFine) {
  Mf mf;
  mf.mask.recirc_id = 0xffffffffu;
  EXPECT_TRUE(Xlate(mf, kToVf2).r.ok());
}

// --- Actions --------------------------------------------------------------

TEST(TranslateActions, DropWhenNoOutput) {
  Out o = Xlate(Mf(), {});
  ASSERT_TRUE(o.r.ok());
  EXPECT_EQ(o.text, std::string(kSrc) + "end actions count / drop / end");
}

TEST(TranslateActions, SeveralOutputsAndTrailingSetIgnored) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0, 0);
  DpAction set = Blank(DpActionType::kSetIpv4);
  set.ipv4.dst = Be32(0x0a0000fe);
  set.ipv4.dst_mask = Be32(0xffffffff);
  Out o = Xlate(mf, {DpAction::Output(1), set, DpAction::Output(3), set});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / represented_port port_id 0 / set_ipv4_dst ipv4_addr "
                        "10.0.0.254 / represented_port port_id 4 / end"),
            std::string::npos)
      << o.text;
}

TEST(TranslateActions, PushVlan) {
  Out o = Xlate(Mf(), {DpAction::Push(Be16(0x8100), Be16(0x6000 | dp::kVlanPresent | 100)),
                       DpAction::Output(1)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text,
            std::string(kSrc) +
                "end actions count / of_push_vlan ethertype 0x8100 / of_set_vlan_vid "
                "vlan_vid 100 / of_set_vlan_pcp vlan_pcp 3 / represented_port port_id 0 / end");
}

TEST(TranslateActions, PopVlanNeedsAMatchedTag) {
  Mf tagged;
  tagged.Vlan(0, 0x8100, 100, dp::kVlanPresent | dp::kVlanVidMask);
  Out o = Xlate(tagged, {DpAction::Pop(), DpAction::Output(3)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / of_pop_vlan / represented_port port_id 4 / end"),
            std::string::npos);
  // Push then pop is fine without a matched tag; pop alone is not.
  EXPECT_TRUE(Xlate(Mf(), {DpAction::Push(Be16(0x8100), Be16(dp::kVlanPresent | 5)),
                           DpAction::Pop(), DpAction::Output(3)})
                  .r.ok());
  Out bad = Xlate(Mf(), {DpAction::Pop(), DpAction::Output(3)});
  EXPECT_EQ(bad.r.reason, Reason::kUnsupportedAction);
  EXPECT_EQ(bad.rule.items().size(), 0u);  // nothing half-built is left
}

TEST(TranslateActions, SetEth) {
  DpAction a = Blank(DpActionType::kSetEth);
  a.eth.src = dp::EthAddr{{0x02, 0, 0, 0, 0, 0xaa}};
  std::memset(&a.eth.src_mask, 0xff, 6);
  a.eth.dst = dp::EthAddr{{0x02, 0, 0, 0, 0, 0xbb}};
  std::memset(&a.eth.dst_mask, 0xff, 6);
  Out o = Xlate(Mf(), {a, DpAction::Output(3)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / set_mac_src mac_addr 02:00:00:00:00:aa / set_mac_dst "
                        "mac_addr 02:00:00:00:00:bb / represented_port"),
            std::string::npos)
      << o.text;
}

TEST(TranslateActions, SetIpv4AllFields) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0, 0);
  mf.key.nw_ttl = 64;
  mf.mask.nw_ttl = 0xff;
  DpAction a = Blank(DpActionType::kSetIpv4);
  a.ipv4.src = Be32(0xc0a80001);
  a.ipv4.src_mask = Be32(0xffffffff);
  a.ipv4.dst = Be32(0xc0a80002);
  a.ipv4.dst_mask = Be32(0xffffffff);
  a.ipv4.tos = 0xb8;
  a.ipv4.tos_mask = 0xfc;
  a.ipv4.ttl = 63;  // matched 64: dec_ttl
  a.ipv4.ttl_mask = 0xff;
  Out o = Xlate(mf, {a, DpAction::Output(3)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / set_ipv4_src ipv4_addr 192.168.0.1 / set_ipv4_dst "
                        "ipv4_addr 192.168.0.2 / set_ipv4_dscp dscp 46 / dec_ttl / "
                        "represented_port port_id 4 / end"),
            std::string::npos)
      << o.text;
  a.ipv4.ttl = 10;  // not matched-minus-one: set_ttl
  o = Xlate(mf, {a, DpAction::Output(3)});
  EXPECT_NE(o.text.find("set_ttl ttl_value 10 /"), std::string::npos) << o.text;
}

TEST(TranslateActions, SetIpv6) {
  Mf mf;
  mf.Ip6(1, 2);
  DpAction a = Blank(DpActionType::kSetIpv6);
  a.ipv6.dst[0] = 0xfd;
  a.ipv6.dst[15] = 9;
  std::memset(a.ipv6.dst_mask, 0xff, 16);
  a.ipv6.tclass = 0x20;
  a.ipv6.tclass_mask = 0xfc;
  a.ipv6.hlimit = 7;
  a.ipv6.hlimit_mask = 0xff;
  Out o = Xlate(mf, {a, DpAction::Output(3)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / set_ipv6_dst ipv6_addr fd000000000000000000000000000009 "
                        "/ set_ipv6_dscp dscp 8 / set_ttl ttl_value 7 / represented_port"),
            std::string::npos)
      << o.text;
}

TEST(TranslateActions, SetTcpAndUdpPorts) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0, 0).Proto(6);
  DpAction a = Blank(DpActionType::kSetTcp);
  a.l4.src = Be16(1111);
  a.l4.src_mask = Be16(0xffff);
  a.l4.dst = Be16(2222);
  a.l4.dst_mask = Be16(0xffff);
  Out o = Xlate(mf, {a, DpAction::Output(3)});
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_NE(o.text.find("actions count / set_tp_src port 1111 / set_tp_dst port 2222 /"),
            std::string::npos);
  mf.Proto(17);
  a.type = DpActionType::kSetUdp;
  EXPECT_TRUE(Xlate(mf, {a, DpAction::Output(3)}).r.ok());
  // kSetTcp on a UDP match would write the wrong header: refused.
  a.type = DpActionType::kSetTcp;
  EXPECT_EQ(Xlate(mf, {a, DpAction::Output(3)}).r.reason, Reason::kUnsupportedAction);
}

// --- Partial offload ------------------------------------------------------

TEST(TranslatePartial, MarkAndQueueOnTheRepresentor) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0, 0);
  // Actions stay in software: even an untranslatable one is fine here.
  Out o = Xlate(mf, {DpAction::ToUserspace(7)}, Mode::kPartial, 42);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text,
            "ingress pattern eth type 0x800/0xffff has_vlan 0/1 / ipv4 src "
            "10.0.0.1/255.255.255.255 / end actions count / mark id 42 / queue index 0 / end");
  EXPECT_EQ(o.rule.port_id, 3);
  EXPECT_EQ(o.rule.attr.ingress, 1u);
  EXPECT_EQ(o.rule.attr.transfer, 0u);
}

TEST(TranslatePartial, UnifiedProxyMatchesTheSourceInMetadata) {
  Out o = Xlate(Mf().InPort(8), {DpAction::Output(1)}, Mode::kPartial, 7);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text,
            "ingress pattern meta data 0x1005/0xffffffff / end actions count / mark id 7 / queue "
            "index 0 / end");
  EXPECT_EQ(o.rule.port_id, 0);  // the proxy
}

TEST(TranslatePartial, RssOverAllQueues) {
  Out o = Xlate(Mf().InPort(9), {}, Mode::kPartial, 1);
  ASSERT_TRUE(o.r.ok()) << o.r.detail;
  EXPECT_EQ(o.text, "ingress pattern end actions count / mark id 1 / rss queues 0 1 2 3 / end");
}

TEST(TranslatePartial, DisabledPort) {
  EXPECT_EQ(Xlate(Mf().InPort(10), {}, Mode::kPartial).r.reason, Reason::kPartialDisabled);
  EXPECT_TRUE(Xlate(Mf().InPort(10), {}, Mode::kFull).r.ok());
}

// --- Refusals ---------------------------------------------------------------

struct Refusal {
  const char* name;
  Mf mf;
  std::vector<DpAction> acts;
  Reason reason;
  const char* detail;  // substring of the detail
};

std::vector<Refusal> Refusals() {
  std::vector<Refusal> v;
  auto add = [&](const char* name, Mf mf, std::vector<DpAction> acts, Reason r, const char* d) {
    v.push_back({name, mf, std::move(acts), r, d});
  };
  Mf m;
  m.mask.in_port = 0;
  add("in_port wildcarded", m, kToVf2, Reason::kUnsupportedMatchField, "in_port");
  add("unknown in_port", Mf().InPort(55), kToVf2, Reason::kUnknownPort, "55");
  m = Mf();
  m.key.recirc_id = 3;
  m.mask.recirc_id = 0xffffffffu;
  add("recirculated", m, kToVf2, Reason::kUnsupportedMatchField, "recirc_id");
  m = Mf();
  m.key.pkt_mark = 1;
  m.mask.pkt_mark = 0xffffffffu;
  add("pkt_mark", m, kToVf2, Reason::kUnsupportedMatchField, "pkt_mark");
  m = Mf();
  m.mask.dp_hash = 0xff;
  add("dp_hash", m, kToVf2, Reason::kUnsupportedMatchField, "dp_hash");
  m = Mf();
  m.Type(0x0806).NoVlan();
  m.key.nw_src = Be32(1);
  m.mask.nw_src = Be32(0xffffffff);
  add("arp fields", m, kToVf2, Reason::kUnsupportedMatchField, "arp");
  m = Mf();
  m.Type(0x0806).NoVlan();
  std::memset(&m.mask.arp_sha, 0xff, 6);
  add("arp sha", m, kToVf2, Reason::kUnsupportedMatchField, "arp_sha");
  m = Mf();
  m.Ip6(1, 2).Proto(58).Ports(135, 0);
  std::memset(m.mask.nd_target, 0xff, 16);
  add("nd target", m, kToVf2, Reason::kUnsupportedMatchField, "nd_target");
  m = Mf();
  m.mask.eth_type = Be16(0xff00);
  add("partial eth_type", m, kToVf2, Reason::kUnsupportedMatchField, "eth_type");
  m = Mf();
  m.Type(dp::kEthTypeNone);
  add("802.3 frames", m, kToVf2, Reason::kUnsupportedMatchField, "802.3");
  m = Mf();
  m.key.vlan[0].tci = Be16(100);
  m.mask.vlan[0].tci = Be16(0x0fff);
  add("vid without presence", m, kToVf2, Reason::kUnsupportedMatchField, "presence");
  m = Mf();
  m.Ip4(1, 0xffffffff, 0, 0);
  m.key.nw_frag = dp::kFragAny | dp::kFragLater;
  m.mask.nw_frag = 0xff;
  add("later fragments", m, kToVf2, Reason::kUnsupportedMatchField, "nw_frag");
  m = Mf();
  m.Ip4(1, 0xffffffff, 0, 0);
  m.mask.tp_dst = Be16(0xffff);
  add("l4 without nw_proto", m, kToVf2, Reason::kUnsupportedMatchField, "nw_proto");
  m = Mf();
  m.key.nw_src = Be32(1);
  m.mask.nw_src = Be32(0xffffffff);
  add("l3 without eth_type", m, kToVf2, Reason::kUnsupportedMatchField, "eth_type");
  m = Mf();
  m.Ip4(1, 0xffffffff, 0, 0).Proto(6);
  m.mask.tcp_flags = Be16(0xf000);
  add("tcp flag bits above 12", m, kToVf2, Reason::kUnsupportedMatchField, "tcp_flags");
  m = Mf();
  m.Ip4(1, 0xffffffff, 0, 0).Proto(47);
  m.mask.tp_src = Be16(0xffff);
  add("gre ports", m, kToVf2, Reason::kUnsupportedMatchField, "l4");

  Mf ip;
  ip.Ip4(1, 0xffffffff, 0, 0);
  add("userspace", Mf(), {DpAction::ToUserspace(1)}, Reason::kUnsupportedAction, "userspace");
  add("recirc", Mf(), {DpAction::Recirc(1), DpAction::Output(3)}, Reason::kUnsupportedAction,
      "recirc");
  add("meter", Mf(), {DpAction::Meter(1), DpAction::Output(3)}, Reason::kUnsupportedAction,
      "meter");
  for (DpActionType t : {DpActionType::kSetSctp, DpActionType::kSetArp, DpActionType::kSetIcmp,
                         DpActionType::kSetIcmpv6, DpActionType::kSetNd}) {
    add("set sctp/arp/icmp/nd", ip, {Blank(t), DpAction::Output(3)}, Reason::kUnsupportedAction,
        "set");
  }
  DpAction eth = Blank(DpActionType::kSetEth);
  eth.eth.src_mask = dp::EthAddr{{0xff, 0, 0, 0, 0, 0}};
  add("set eth partial mask", Mf(), {eth, DpAction::Output(3)}, Reason::kUnsupportedAction,
      "partial");
  DpAction v4 = Blank(DpActionType::kSetIpv4);
  v4.ipv4.src_mask = Be32(0xffffff00);
  add("set ipv4 prefix", ip, {v4, DpAction::Output(3)}, Reason::kUnsupportedAction, "partial");
  v4 = Blank(DpActionType::kSetIpv4);
  v4.ipv4.tos_mask = 0x03;
  add("set ecn", ip, {v4, DpAction::Output(3)}, Reason::kUnsupportedAction, "ECN");
  v4 = Blank(DpActionType::kSetIpv4);
  v4.ipv4.ttl_mask = 0xff;
  add("set ipv4 without ipv4 match", Mf(), {v4, DpAction::Output(3)}, Reason::kUnsupportedAction,
      "without an ipv4");
  DpAction v6 = Blank(DpActionType::kSetIpv6);
  v6.ipv6.label_mask = Be32(0xfffff);
  Mf ip6;
  ip6.Ip6(1, 2);
  add("set flow label", ip6, {v6, DpAction::Output(3)}, Reason::kUnsupportedAction, "label");
  add("output to another domain", Mf(), {DpAction::Output(7)}, Reason::kCrossDomainOutput, "7");
  add("output to a non-switch port", Mf(), {DpAction::Output(77)}, Reason::kCrossDomainOutput,
      "77");
  return v;
}

TEST(TranslateRefusal, EveryUnsupportedFieldAndActionHasItsReason) {
  for (const Refusal& c : Refusals()) {
    RteFlowRule rule;
    TranslateResult r = Translate(c.mf.key, c.mf.mask, c.acts, Ports(), Mode::kFull, &rule);
    EXPECT_EQ(r.reason, c.reason) << c.name << ": " << r.detail;
    EXPECT_NE(r.detail.find(c.detail), std::string::npos) << c.name << ": " << r.detail;
    EXPECT_TRUE(rule.items().empty() && rule.actions().empty()) << c.name;
  }
}

TEST(TranslateRefusal, ReasonNames) {
  EXPECT_STREQ(ReasonName(Reason::kTableFull), "table_full");
  EXPECT_STREQ(ReasonName(Reason::kCrossDomainOutput), "cross_domain_output");
  EXPECT_STREQ(ReasonName(Reason::kUnsupportedMatchField), "unsupported_match_field");
  for (int i = 0; i < static_cast<int>(Reason::kCount); ++i) {
    EXPECT_STRNE(ReasonName(static_cast<Reason>(i)), "?");
    EXPECT_STRNE(ReasonText(static_cast<Reason>(i)), "?");
  }
}

// --- Invariants ---------------------------------------------------------------

TEST(TranslateInvariants, PointersStayValidAfterMoveAndCopyFromIsDeep) {
  Mf mf;
  mf.Ip4(0x0a000001, 0xffffffff, 0x0a000002, 0xffffffff).Proto(17).Ports(1, 2);
  Out o = Xlate(mf, kToVf2);
  ASSERT_TRUE(o.r.ok());
  const std::string before = FormatRule(o.rule);
  RteFlowRule moved = std::move(o.rule);
  EXPECT_EQ(FormatRule(moved), before);
  RteFlowRule copy;
  ASSERT_TRUE(copy.CopyFrom(moved.port_id, moved.attr, moved.pattern(), moved.action_array()));
  moved.Clear();
  EXPECT_EQ(FormatRule(copy), before);
  for (const auto& it : copy.items()) {
    if (it.type == RTE_FLOW_ITEM_TYPE_END) continue;
    EXPECT_NE(it.spec, nullptr);
    EXPECT_NE(it.mask, nullptr);
  }
}

TEST(TranslateInvariants, DeterministicAndNeverWidening) {
  // Random megaflows over the supported fields: translating twice gives the
  // same text, and clearing any single mask byte the pattern covers changes
  // the text (so each masked bit is in the pattern).
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 300; ++iter) {
    Mf mf;
    const bool v6 = rng() & 1;
    if (v6) {
      mf.Ip6(static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()));
    } else {
      mf.Ip4(rng(), rng(), rng(), rng());
    }
    if (rng() & 1) mf.EthDst(static_cast<uint8_t>(rng()));
    const uint8_t protos[] = {6, 17, 132};
    if (rng() & 1)
      mf.Proto(protos[rng() % 3]).Ports(static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()));
    Out a = Xlate(mf, kToVf2), b = Xlate(mf, kToVf2);
    ASSERT_TRUE(a.r.ok()) << "seed 12345 iter " << iter << ": " << a.r.detail;
    EXPECT_EQ(a.text, b.text);
    // Widening check: flip one masked key bit; the pattern must change.
    auto* key = reinterpret_cast<uint8_t*>(&mf.key);
    const auto* mask = reinterpret_cast<const uint8_t*>(&mf.mask);
    for (size_t i = 8; i < sizeof(dp::FlowKey); ++i) {  // past in_port/recirc
      if (mask[i] == 0) continue;
      const uint8_t bit = static_cast<uint8_t>(mask[i] & -mask[i]);
      key[i] ^= bit;
      Out c = Xlate(mf, kToVf2);
      if (c.r.ok()) {
        EXPECT_NE(c.text, a.text) << "iter " << iter << " byte " << i;
      }
      key[i] ^= bit;
    }
  }
}

}  // namespace
}  // namespace sluice::offload
