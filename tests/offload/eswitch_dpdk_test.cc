// The software eSwitch (offload/eswitch.h) executing translated rules: an
// offloaded megaflow forwards every packet exactly as the software action
// executor does (byte for byte, checksums included), misses reach the
// source's representor, counters come back through the query call, table
// size and injected failures are refused with their reasons, DPDK's
// validation rules hold, MARK reaches the mbuf as a PMD delivers it, and in
// unified mode 1000 VFs share one proxy rx queue with the source in the
// metadata dynamic field.
#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datapath/actions/execute.h"
#include "datapath/flow/parse.h"
#include "offload/eswitch.h"
#include "offload/flow_backend.h"
#include "offload/flow_translate.h"
#include "tests/datapath/actions_test_util.h"

namespace sluice::offload {
namespace {

using dp::DpAction;
using dp::DpActionType;
using dp::testutil::Build;
using dp::testutil::Bytes;
using dp::testutil::Hex;
using dp::testutil::Pkt;
using dp::testutil::Pool;
using dp::testutil::Read;
using dp::testutil::Spec;

// dp port N is vport N-1: 1 = uplink, 2 = VF1, 3 = VF2, ...
PortMap MapOf(const Eswitch& esw) {
  PortMap m;
  for (uint16_t v = 0; v < esw.n_vports(); ++v) m.Set(v + 1u, esw.PortInfo(v));
  return m;
}

// The megaflow the slow path would install for this frame: exact on the
// fields the actions below need, for the frame's L3 kind.
void ExactMegaflow(const Bytes& frame, uint32_t in_port, dp::FlowKey* key, dp::FlowMask* mask) {
  dp::PacketLayout layout;
  ASSERT_EQ(dp::ParseFlow(frame.data(), static_cast<uint32_t>(frame.size()), in_port, key, &layout),
            dp::ParseStatus::kOk);
  mask->Clear();
  mask->in_port = 0xffffffffu;
  std::memset(&mask->eth_dst, 0xff, 6);
  std::memset(&mask->eth_src, 0xff, 6);
  mask->eth_type = Be16(0xffff);
  for (auto& v : mask->vlan) {
    v.tpid = Be16(0xffff);
    v.tci = Be16(0xffff);
  }
  const uint16_t type = key->eth_type.host();
  if (type == 0x0800 || type == 0x86dd) {
    mask->nw_proto = 0xff;
    mask->nw_frag = 0xff;
    mask->nw_ttl = 0xff;
    mask->nw_tos = 0xff;
    mask->tp_src = Be16(0xffff);
    mask->tp_dst = Be16(0xffff);
    if (type == 0x0800) {
      mask->nw_src = mask->nw_dst = Be32(0xffffffff);
    } else {
      std::memset(mask->ipv6_src, 0xff, 16);
      std::memset(mask->ipv6_dst, 0xff, 16);
    }
  }
}

// What the software datapath sends where: port -> frames.
std::map<uint32_t, std::vector<Bytes>> Software(const Bytes& frame, uint32_t in_port,
                                                const std::vector<DpAction>& acts) {
  dp::FlowKey key;
  dp::PacketLayout layout;
  EXPECT_EQ(
      dp::ParseFlow(frame.data(), static_cast<uint32_t>(frame.size()), in_port, &key, &layout),
      dp::ParseStatus::kOk);
  rte_mbuf* m = Pkt(frame);
  dp::testutil::FakeSink sink;
  dp::DpActions actions(acts);
  dp::ExecuteActions(actions, &m, &layout, 1, sink);
  std::map<uint32_t, std::vector<Bytes>> out;
  for (const auto& r : sink.got) {
    for (rte_mbuf* p : r.pkts) out[static_cast<uint32_t>(r.arg)].push_back(Read(p));
  }
  return out;
}

class EswitchTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Pool(), nullptr);
    in_use_ = rte_mempool_in_use_count(Pool());
    ethdevs_ = rte_eth_dev_count_avail();
  }
  void TearDown() override {
    esw_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(Pool()), in_use_) << "mbuf leak";
    EXPECT_EQ(rte_eth_dev_count_avail(), ethdevs_) << "ethdevs not released";
  }
  void Make(EswitchConfig c = {}) {
    c.pool = Pool();
    Status st;
    esw_ = Eswitch::Create(c, &st);
    ASSERT_NE(esw_, nullptr) << st.message();
    backend_ = std::make_unique<EswitchBackend>(esw_.get());
    ports_ = MapOf(*esw_);
  }
  // Translates and creates; returns the handle (invalid on refusal).
  FlowHandle Offload(const dp::FlowKey& key, const dp::FlowMask& mask,
                     const std::vector<DpAction>& acts, Mode mode = Mode::kFull, uint32_t mark = 0,
                     BackendStatus* st_out = nullptr) {
    RteFlowRule rule;
    TranslateResult r = Translate(key, mask, acts, ports_, mode, &rule, mark);
    EXPECT_TRUE(r.ok()) << ReasonName(r.reason) << ": " << r.detail;
    FlowHandle h;
    if (!r.ok()) return h;
    BackendStatus st = backend_->Create(rule, &h);
    if (st_out) *st_out = st;
    return h;
  }
  void Inject(uint16_t vport, const Bytes& frame) {
    rte_mbuf* m = Pkt(frame);
    ASSERT_EQ(esw_->InjectFromOutside(vport, &m, 1), 1u);
  }
  std::vector<Bytes> Outside(uint16_t vport) {
    std::vector<Bytes> out;
    rte_mbuf* pkts[32];
    unsigned n;
    while ((n = esw_->ReceiveOutside(vport, pkts, 32)) > 0) {
      for (unsigned i = 0; i < n; ++i) {
        out.push_back(Read(pkts[i]));
        rte_pktmbuf_free(pkts[i]);
      }
    }
    return out;
  }
  std::vector<rte_mbuf*> RxEthdev(uint16_t port) {
    std::vector<rte_mbuf*> out;
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = rte_eth_rx_burst(port, 0, pkts, 32)) > 0) out.insert(out.end(), pkts, pkts + n);
    return out;
  }
  static void FreeAll(std::vector<rte_mbuf*>& v) {
    for (rte_mbuf* m : v) rte_pktmbuf_free(m);
    v.clear();
  }

  std::unique_ptr<Eswitch> esw_;
  std::unique_ptr<EswitchBackend> backend_;
  PortMap ports_;
  unsigned in_use_ = 0;
  unsigned ethdevs_ = 0;
};

// --- Execution equals software ----------------------------------------------

struct Case {
  const char* name;
  Spec spec;
  std::vector<DpAction> acts;
};

std::vector<Case> Cases() {
  using namespace dp::testutil;
  std::vector<Case> v;
  Spec udp;  // IPv4/UDP with a checksum
  Spec tcp;
  tcp.proto = dp::csum::kIpProtoTcp;
  Spec udp0 = udp;
  udp0.udp_csum = false;
  Spec tagged = udp;
  tagged.vlans = {{0x8100, 0x2064}};
  Spec v6;
  v6.l3 = L3::kIpv6;
  Spec v6tcp = v6;
  v6tcp.proto = dp::csum::kIpProtoTcp;

  v.push_back({"output only", udp, {DpAction::Output(3)}});
  v.push_back(
      {"set eth",
       udp,
       {SetEthAction(Mac(2, 0, 0, 0, 0, 0xaa), kAllOnesMac, Mac(2, 0, 0, 0, 0, 0xbb), kAllOnesMac),
        DpAction::Output(1)}});
  Ipv4Set s4;
  s4.src = 0xc0a80101;
  s4.src_mask = 0xffffffff;
  s4.dst = 0xc0a80202;
  s4.dst_mask = 0xffffffff;
  s4.ttl = 63;
  s4.ttl_mask = 0xff;
  v.push_back({"set ipv4 src dst dec_ttl", udp, {SetIpv4Action(s4), DpAction::Output(3)}});
  v.push_back({"set ipv4 on tcp", tcp, {SetIpv4Action(s4), DpAction::Output(3)}});
  v.push_back({"set ipv4, udp checksum zero", udp0, {SetIpv4Action(s4), DpAction::Output(3)}});
  Ipv4Set ttl_only;
  ttl_only.ttl = 5;
  ttl_only.ttl_mask = 0xff;
  v.push_back({"set ttl", udp, {SetIpv4Action(ttl_only), DpAction::Output(3)}});
  Ipv4Set dscp;
  dscp.tos = 0xb8;
  dscp.tos_mask = 0xfc;
  v.push_back({"set dscp", udp, {SetIpv4Action(dscp), DpAction::Output(3)}});
  v.push_back(
      {"set tcp ports",
       tcp,
       {SetL4Action(DpActionType::kSetTcp, 4321, 0xffff, 8080, 0xffff), DpAction::Output(1)}});
  v.push_back({"set udp dst port",
               udp,
               {SetL4Action(DpActionType::kSetUdp, 0, 0, 53, 0xffff), DpAction::Output(1)}});
  v.push_back(
      {"push vlan",
       udp,
       {DpAction::Push(Be16(0x8100), Be16(0xa000 | dp::kVlanPresent | 42)), DpAction::Output(1)}});
  v.push_back({"pop vlan", tagged, {DpAction::Pop(), DpAction::Output(3)}});
  v.push_back({"push s-tag onto c-tag",
               tagged,
               {DpAction::Push(Be16(0x88a8), Be16(dp::kVlanPresent | 7)), DpAction::Output(1)}});
  Ipv6Set s6;
  s6.src = V6(0x2001, 0x11);
  s6.src_mask = AllOnes6();
  s6.dst = V6(0x2001, 0x22);
  s6.dst_mask = AllOnes6();
  s6.hlimit = 9;
  s6.hlimit_mask = 0xff;
  s6.tclass = 0x40;
  s6.tclass_mask = 0xfc;
  v.push_back({"set ipv6 + udp port",
               v6,
               {SetIpv6Action(s6), SetL4Action(DpActionType::kSetUdp, 7, 0xffff, 0, 0),
                DpAction::Output(3)}});
  v.push_back({"set ipv6 on tcp", v6tcp, {SetIpv6Action(s6), DpAction::Output(3)}});
  Ipv4Set dst_only;
  dst_only.dst = 0x0a0a0a0a;
  dst_only.dst_mask = 0xffffffff;
  v.push_back({"mirror with a rewrite between",
               udp,
               {DpAction::Output(1), SetIpv4Action(dst_only), DpAction::Output(3)}});
  v.push_back({"drop", udp, {}});
  return v;
}

TEST_F(EswitchTest, OffloadedFlowForwardsExactlyAsSoftware) {
  Make();
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Bytes frame = Build(c.spec).bytes;
    dp::FlowKey key;
    dp::FlowMask mask;
    ExactMegaflow(frame, 2, &key, &mask);
    FlowHandle h = Offload(key, mask, c.acts);
    ASSERT_TRUE(h.valid());
    Inject(1, frame);  // VF1 = dp port 2
    EXPECT_EQ(esw_->Poll(), 1u);
    const auto want = Software(frame, 2, c.acts);
    for (uint16_t vport = 0; vport < esw_->n_vports(); ++vport) {
      const std::vector<Bytes> got = Outside(vport);
      auto it = want.find(vport + 1u);
      const std::vector<Bytes> expect = it == want.end() ? std::vector<Bytes>{} : it->second;
      ASSERT_EQ(got.size(), expect.size()) << "vport " << vport;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(Hex(got[i]), Hex(expect[i])) << "vport " << vport;
      }
    }
    auto rx = RxEthdev(esw_->representor_port_id(1));
    EXPECT_TRUE(rx.empty()) << "hit traffic must not reach the representor";
    FreeAll(rx);
    EXPECT_TRUE(backend_->Destroy(h).ok());
  }
  EXPECT_EQ(esw_->rule_count(), 0u);
  EXPECT_EQ(esw_->stats().misses, 0u);
}

TEST_F(EswitchTest, MissGoesToTheSourcesRepresentor) {
  Make();
  const Bytes frame = Build(Spec{}).bytes;
  dp::FlowKey key;
  dp::FlowMask mask;
  ExactMegaflow(frame, 2, &key, &mask);
  ASSERT_TRUE(Offload(key, mask, {DpAction::Output(3)}).valid());
  Spec other;
  other.v4_src = 0x0a0000ff;  // not the offloaded flow
  Inject(1, Build(other).bytes);
  Inject(2, frame);  // right headers, wrong source (VF2)
  Inject(0, frame);  // from the wire
  EXPECT_EQ(esw_->Poll(), 3u);
  auto rep1 = RxEthdev(esw_->representor_port_id(1));
  auto rep2 = RxEthdev(esw_->representor_port_id(2));
  auto pf = RxEthdev(esw_->proxy_port_id());
  ASSERT_EQ(rep1.size(), 1u);
  ASSERT_EQ(rep2.size(), 1u);
  ASSERT_EQ(pf.size(), 1u);
  EXPECT_EQ(rep1[0]->port, esw_->representor_port_id(1));
  EXPECT_EQ(Read(rep1[0]), Build(other).bytes);
  EXPECT_FALSE(rep1[0]->ol_flags & RTE_MBUF_F_RX_FDIR);
  EXPECT_EQ(esw_->stats().misses, 3u);
  for (uint16_t v = 0; v < esw_->n_vports(); ++v) EXPECT_TRUE(Outside(v).empty());
  FreeAll(rep1);
  FreeAll(rep2);
  FreeAll(pf);
}

TEST_F(EswitchTest, OutsideEndsAndRepresentorsAreEthdevs) {
  Make();
  const Bytes frame = Build(Spec{}).bytes;
  // The VM on VF1 transmits; Sluice receives on the representor and
  // transmits on VF2's representor; the VM on VF2 receives.
  rte_mbuf* m = Pkt(frame);
  ASSERT_EQ(rte_eth_tx_burst(esw_->outside_port_id(1), 0, &m, 1), 1);
  esw_->Poll();
  auto rx = RxEthdev(esw_->representor_port_id(1));
  ASSERT_EQ(rx.size(), 1u);
  ASSERT_EQ(rte_eth_tx_burst(esw_->representor_port_id(2), 0, rx.data(), 1), 1);
  esw_->Poll();
  rte_mbuf* got[4];
  ASSERT_EQ(rte_eth_rx_burst(esw_->outside_port_id(2), 0, got, 4), 1);
  EXPECT_EQ(Read(got[0]), frame);
  rte_pktmbuf_free(got[0]);
  EXPECT_EQ(esw_->devargs(esw_->proxy_port_id()).rfind("net_ring_esw", 0), 0u);
}

TEST_F(EswitchTest, CountersComeBackThroughQuery) {
  Make();
  const Bytes frame = Build(Spec{}).bytes;
  dp::FlowKey key;
  dp::FlowMask mask;
  ExactMegaflow(frame, 2, &key, &mask);
  FlowHandle h = Offload(key, mask, {DpAction::Output(3)});
  ASSERT_TRUE(h.valid());
  for (int i = 0; i < 5; ++i) Inject(1, frame);
  esw_->Poll();
  EXPECT_EQ(Outside(2).size(), 5u);
  FlowCounters c;
  ASSERT_TRUE(backend_->QueryCount(h, /*reset=*/false, &c).ok());
  EXPECT_EQ(c.hits, 5u);
  EXPECT_EQ(c.bytes, 5u * frame.size());
  ASSERT_TRUE(backend_->QueryCount(h, /*reset=*/true, &c).ok());
  EXPECT_EQ(c.hits, 5u);
  ASSERT_TRUE(backend_->QueryCount(h, false, &c).ok());
  EXPECT_EQ(c.hits, 0u);
  // A destroyed rule cannot be queried, and its traffic misses.
  ASSERT_TRUE(backend_->Destroy(h).ok());
  EXPECT_FALSE(backend_->QueryCount(h, false, &c).ok());
  EXPECT_FALSE(backend_->Destroy(h).ok());
  Inject(1, frame);
  esw_->Poll();
  auto rx = RxEthdev(esw_->representor_port_id(1));
  EXPECT_EQ(rx.size(), 1u);
  FreeAll(rx);
}

TEST_F(EswitchTest, TableSizeRefusal) {
  EswitchConfig c;
  c.max_rules = 2;
  Make(c);
  for (uint32_t i = 0; i < 3; ++i) {
    Spec s;
    s.v4_src = 0x0a000100 + i;
    dp::FlowKey key;
    dp::FlowMask mask;
    ExactMegaflow(Build(s).bytes, 2, &key, &mask);
    BackendStatus st;
    FlowHandle h = Offload(key, mask, {DpAction::Output(3)}, Mode::kFull, 0, &st);
    if (i < 2) {
      EXPECT_TRUE(h.valid()) << st.message;
    } else {
      EXPECT_FALSE(h.valid());
      EXPECT_EQ(st.err, -ENOSPC);
      EXPECT_EQ(st.reason, Reason::kTableFull);
    }
  }
  EXPECT_EQ(esw_->rule_count(), 2u);
}

TEST_F(EswitchTest, InjectedFailures) {
  Make();
  dp::FlowKey key;
  dp::FlowMask mask;
  ExactMegaflow(Build(Spec{}).bytes, 2, &key, &mask);
  RteFlowRule rule;
  ASSERT_TRUE(Translate(key, mask, {DpAction::Output(3)}, ports_, Mode::kFull, &rule).ok());
  esw_->InjectFailure(EswitchOp::kCreate, EIO, 1);
  FlowHandle h;
  BackendStatus st = backend_->Create(rule, &h);
  EXPECT_EQ(st.err, -EIO);
  EXPECT_EQ(st.reason, Reason::kDeviceError);
  EXPECT_NE(st.message.find("injected"), std::string::npos);
  EXPECT_TRUE(backend_->Create(rule, &h).ok());  // only the next one failed
  esw_->InjectFailure(EswitchOp::kValidate, ENOTSUP, 1);
  EXPECT_EQ(backend_->Validate(rule).reason, Reason::kRefusedByDevice);
  EXPECT_TRUE(backend_->Validate(rule).ok());
  esw_->InjectFailure(EswitchOp::kQuery, EBUSY, 1);
  FlowCounters c;
  EXPECT_EQ(backend_->QueryCount(h, false, &c).reason, Reason::kDeviceError);
  esw_->InjectFailure(EswitchOp::kDestroy, EIO, 1);
  EXPECT_FALSE(backend_->Destroy(h).ok());
  EXPECT_TRUE(backend_->Destroy(h).ok());
}

// Rules built by hand to exercise DPDK's documented validation rules.
TEST_F(EswitchTest, ValidationFollowsDpdkRules) {
  EswitchConfig cfg;
  cfg.unsupported_items = {RTE_FLOW_ITEM_TYPE_SCTP};
  cfg.unsupported_actions = {RTE_FLOW_ACTION_TYPE_SET_TTL};
  Make(cfg);
  const uint16_t proxy = esw_->proxy_port_id(), rep1 = esw_->representor_port_id(1);
  rte_flow_item_ethdev src{esw_->flow_port_id(1)}, src_m{0xffff};
  rte_flow_item_port_id old_src{1};
  rte_flow_item_ipv4 ip{}, ip_m{};
  ip_m.hdr.hdr_checksum = 0xffff;  // not matchable
  rte_flow_item_udp udp{}, udp_m{};
  udp_m.hdr.src_port = 0xffff;
  rte_flow_action_ethdev to_vf2{esw_->flow_port_id(2)}, to_nowhere{999};
  rte_flow_action_mark mark{5}, big_mark{1u << 30};
  rte_flow_action_queue q0{0}, q3{3};
  rte_flow_action_set_ttl ttl{3};
  const rte_flow_item kEnd{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  const rte_flow_item kSrc{RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, &src, nullptr, &src_m};
  const rte_flow_item kEth{RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
  const rte_flow_action kAEnd{RTE_FLOW_ACTION_TYPE_END, nullptr};
  const rte_flow_action kFwd{RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &to_vf2};
  rte_flow_attr transfer{};
  transfer.transfer = 1;
  rte_flow_attr ingress{};
  ingress.ingress = 1;

  struct Bad {
    const char* name;
    uint16_t port;
    rte_flow_attr attr;
    std::vector<rte_flow_item> items;
    std::vector<rte_flow_action> actions;
    int err;
  };
  rte_flow_attr both = transfer;
  both.ingress = 1;
  rte_flow_attr egress{};
  egress.egress = 1;
  rte_flow_attr group1 = transfer;
  group1.group = 1;
  const std::vector<Bad> bad = {
      {"transfer without a source item", proxy, transfer, {kEth, kEnd}, {kFwd, kAEnd}, EINVAL},
      {"PORT_ID is deprecated",
       proxy,
       transfer,
       {{RTE_FLOW_ITEM_TYPE_PORT_ID, &old_src, nullptr, nullptr}, kEnd},
       {kFwd, kAEnd},
       ENOTSUP},
      {"transfer rule on a non-proxy port", rep1, transfer, {kSrc, kEnd}, {kFwd, kAEnd}, EINVAL},
      {"MARK on a transfer rule",
       proxy,
       transfer,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_MARK, &mark}, kFwd, kAEnd},
       EINVAL},
      {"QUEUE on a transfer rule",
       proxy,
       transfer,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_QUEUE, &q0}, kAEnd},
       EINVAL},
      {"transfer without a fate",
       proxy,
       transfer,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_COUNT, nullptr}, kAEnd},
       EINVAL},
      {"output to an unknown port",
       proxy,
       transfer,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &to_nowhere}, kAEnd},
       EINVAL},
      {"mask without spec",
       proxy,
       transfer,
       {kSrc, {RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, &ip_m}, kEnd},
       {kFwd, kAEnd},
       EINVAL},
      {"mask on a field the device cannot match",
       proxy,
       transfer,
       {kSrc, {RTE_FLOW_ITEM_TYPE_IPV4, &ip, nullptr, &ip_m}, kEnd},
       {kFwd, kAEnd},
       ENOTSUP},
      {"ranges",
       proxy,
       transfer,
       {kSrc, {RTE_FLOW_ITEM_TYPE_UDP, &udp, &udp_m, &udp_m}, kEnd},
       {kFwd, kAEnd},
       ENOTSUP},
      {"L4 without L3",
       proxy,
       transfer,
       {kSrc, kEth, {RTE_FLOW_ITEM_TYPE_UDP, &udp, nullptr, &udp_m}, kEnd},
       {kFwd, kAEnd},
       EINVAL},
      {"items out of order",
       proxy,
       transfer,
       {kSrc, {RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, nullptr}, kEth, kEnd},
       {kFwd, kAEnd},
       EINVAL},
      {"item switched off",
       proxy,
       transfer,
       {kSrc,
        {RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, nullptr},
        {RTE_FLOW_ITEM_TYPE_SCTP, nullptr, nullptr, nullptr},
        kEnd},
       {kFwd, kAEnd},
       ENOTSUP},
      {"action switched off",
       proxy,
       transfer,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_SET_TTL, &ttl}, kFwd, kAEnd},
       ENOTSUP},
      {"ingress and transfer", proxy, both, {kSrc, kEnd}, {kFwd, kAEnd}, EINVAL},
      {"egress",
       rep1,
       egress,
       {kEth, kEnd},
       {{RTE_FLOW_ACTION_TYPE_DROP, nullptr}, kAEnd},
       ENOTSUP},
      {"group 1", proxy, group1, {kSrc, kEnd}, {kFwd, kAEnd}, ENOTSUP},
      {"source item on ingress",
       rep1,
       ingress,
       {kSrc, kEnd},
       {{RTE_FLOW_ACTION_TYPE_MARK, &mark}, kAEnd},
       EINVAL},
      {"port action on ingress", rep1, ingress, {kEth, kEnd}, {kFwd, kAEnd}, ENOTSUP},
      {"no such queue",
       rep1,
       ingress,
       {kEth, kEnd},
       {{RTE_FLOW_ACTION_TYPE_QUEUE, &q3}, kAEnd},
       EINVAL},
      {"mark too large",
       rep1,
       ingress,
       {kEth, kEnd},
       {{RTE_FLOW_ACTION_TYPE_MARK, &big_mark}, kAEnd},
       EINVAL},
      {"META without unified mode",
       rep1,
       ingress,
       {{RTE_FLOW_ITEM_TYPE_META, nullptr, nullptr, nullptr}, kEnd},
       {{RTE_FLOW_ACTION_TYPE_MARK, &mark}, kAEnd},
       ENOTSUP},
  };
  for (const Bad& b : bad) {
    rte_flow_error error{};
    EXPECT_EQ(esw_->FlowValidate(b.port, &b.attr, b.items.data(), b.actions.data(), &error), -b.err)
        << b.name;
    EXPECT_NE(error.message, nullptr) << b.name;
    EXPECT_EQ(esw_->FlowCreate(b.port, &b.attr, b.items.data(), b.actions.data(), &error), nullptr)
        << b.name;
    EXPECT_EQ(rte_errno, b.err) << b.name;
  }
  // And the good ones.
  const std::vector<rte_flow_item> ok_items = {kSrc, kEth, kEnd};
  const std::vector<rte_flow_action> ok_actions = {
      {RTE_FLOW_ACTION_TYPE_COUNT, nullptr}, kFwd, kAEnd};
  rte_flow_error error{};
  EXPECT_EQ(esw_->FlowValidate(proxy, &transfer, ok_items.data(), ok_actions.data(), &error), 0);
  const std::vector<rte_flow_action> mark_actions = {
      {RTE_FLOW_ACTION_TYPE_MARK, &mark}, {RTE_FLOW_ACTION_TYPE_QUEUE, &q0}, kAEnd};
  EXPECT_EQ(esw_->FlowValidate(rep1, &ingress, ok_items.data() + 1, mark_actions.data(), &error),
            0);
  EXPECT_EQ(esw_->rule_count(), 0u);
}

TEST_F(EswitchTest, PartialOffloadMarksPacketsAsAPmdWould) {
  Make();
  const Bytes frame = Build(Spec{}).bytes;
  dp::FlowKey key;
  dp::FlowMask mask;
  ExactMegaflow(frame, 2, &key, &mask);
  FlowHandle h = Offload(key, mask, {DpAction::ToUserspace(1)}, Mode::kPartial, 777);
  ASSERT_TRUE(h.valid());
  EXPECT_EQ(h.port_id, esw_->representor_port_id(1));
  Spec other;
  other.dport = 9;
  Inject(1, frame);
  Inject(1, Build(other).bytes);
  esw_->Poll();
  auto rx = RxEthdev(esw_->representor_port_id(1));
  ASSERT_EQ(rx.size(), 2u);
  EXPECT_EQ(rx[0]->ol_flags & (RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID),
            RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID);
  EXPECT_EQ(rx[0]->hash.fdir.hi, 777u);
  EXPECT_EQ(Read(rx[0]), frame);  // partial offload never changes the packet
  EXPECT_FALSE(rx[1]->ol_flags & RTE_MBUF_F_RX_FDIR);
  FreeAll(rx);
  FlowCounters c;
  ASSERT_TRUE(backend_->QueryCount(h, false, &c).ok());
  EXPECT_EQ(c.hits, 1u);
}

TEST_F(EswitchTest, HardwareThreadForwards) {
  Make();
  const Bytes frame = Build(Spec{}).bytes;
  dp::FlowKey key;
  dp::FlowMask mask;
  ExactMegaflow(frame, 2, &key, &mask);
  ASSERT_TRUE(Offload(key, mask, {DpAction::Output(3)}).valid());
  esw_->StartThread();
  for (int i = 0; i < 100; ++i) Inject(1, frame);
  // Wait for the hardware thread: bounded by a deadline, not a sleep.
  size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got < 100 && std::chrono::steady_clock::now() < deadline) got += Outside(2).size();
  esw_->StopThread();
  EXPECT_EQ(got, 100u);
}

// The rule never widens the megaflow: over random megaflows and packets, a
// packet the hardware rule takes is one the megaflow matches; and it takes
// every matching packet unless the translation said it narrowed.
TEST_F(EswitchTest, RandomMegaflowsNeverWidenInHardware) {
  Make();
  std::mt19937 rng(20261122);
  auto random_spec = [&]() {
    Spec s;
    s.v4_src = 0x0a000000 + rng() % 4;
    s.v4_dst = 0x0a000100 + rng() % 2;
    s.proto = rng() % 2 ? dp::csum::kIpProtoTcp : dp::csum::kIpProtoUdp;
    s.sport = static_cast<uint16_t>(1000 + rng() % 2);
    s.dport = static_cast<uint16_t>(2000 + rng() % 2);
    s.ttl = static_cast<uint8_t>(63 + rng() % 2);
    s.dst = dp::testutil::Mac(2, 0, 0, 0, 0, static_cast<uint8_t>(rng() % 2));
    if (rng() % 4 == 0) s.vlans = {{0x8100, static_cast<uint16_t>(rng() % 2 ? 10 : 20)}};
    return s;
  };
  int hits = 0, matches = 0, narrowed_rules = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const Bytes base = Build(random_spec()).bytes;
    dp::FlowKey key;
    dp::FlowMask full, mask;
    ExactMegaflow(base, 2, &key, &full);
    mask.Clear();
    mask.in_port = 0xffffffffu;
    const uint32_t pick = rng();
    if (pick & 1) std::memcpy(&mask.eth_dst, &full.eth_dst, 6);
    if (pick & 2) {
      mask.eth_type = full.eth_type;
      if (pick & 4) mask.vlan[0].tci = Be16(0xffff);
      if (pick & 8) mask.nw_src = Be32(0xfffffffe);
      if (pick & 16) mask.nw_dst = full.nw_dst;
      if (pick & 32) mask.nw_ttl = 0xff;
      if (pick & 64) {
        mask.nw_proto = 0xff;
        if (pick & 128) mask.tp_src = full.tp_src;
        if (pick & 256) mask.tp_dst = full.tp_dst;
      }
    }
    RteFlowRule rule;
    TranslateResult r = Translate(key, mask, {DpAction::Output(3)}, ports_, Mode::kFull, &rule);
    ASSERT_TRUE(r.ok()) << "iter " << iter << ": " << r.detail;
    narrowed_rules += r.narrowed;
    FlowHandle h;
    ASSERT_TRUE(backend_->Create(rule, &h).ok());
    for (int p = 0; p < 20; ++p) {
      const Bytes frame = Build(random_spec()).bytes;
      dp::FlowKey pk;
      dp::PacketLayout layout;
      ASSERT_EQ(dp::ParseFlow(frame.data(), static_cast<uint32_t>(frame.size()), 2, &pk, &layout),
                dp::ParseStatus::kOk);
      bool sw = true;
      const auto* a = reinterpret_cast<const uint8_t*>(&pk);
      const auto* b = reinterpret_cast<const uint8_t*>(&key);
      const auto* m = reinterpret_cast<const uint8_t*>(&mask);
      for (size_t i = 0; i < sizeof(pk); ++i) sw &= ((a[i] ^ b[i]) & m[i]) == 0;
      Inject(1, frame);
      esw_->Poll();
      const bool hw = Outside(2).size() == 1;
      auto rx = RxEthdev(esw_->representor_port_id(1));
      EXPECT_EQ(rx.size(), hw ? 0u : 1u);
      FreeAll(rx);
      EXPECT_TRUE(!hw || sw)
          << "hardware took a packet the megaflow does not match (seed 20261122, "
          << "iter " << iter << ")\n"
          << FormatRule(rule);
      if (!r.narrowed) {
        EXPECT_EQ(hw, sw) << "iter " << iter << "\n" << FormatRule(rule);
      }
      hits += hw;
      matches += sw;
    }
    ASSERT_TRUE(backend_->Destroy(h).ok());
  }
  std::printf(
      "random megaflows: %d of %d matching packets taken by hardware (%d of 60 rules narrowed)\n",
      hits, matches, narrowed_rules);
  EXPECT_GT(hits, 0);
}

// --- Unified representor mode -------------------------------------------------

TEST_F(EswitchTest, Unified1000RepresentorsShareOneProxyQueue) {
  constexpr uint16_t kVfs = 1000;
  size_t heap_before = 0, heap_after = 0;
  rte_malloc_socket_stats ms;
  rte_malloc_get_socket_stats(0, &ms);
  heap_before = ms.heap_allocsz_bytes;

  EswitchConfig small;
  small.unified = true;
  small.n_vfs = 10;
  small.outside_ethdevs = false;
  small.ring_size = 64;
  small.pool = Pool();
  Status st;
  auto esw10 = Eswitch::Create(small, &st);
  ASSERT_NE(esw10, nullptr) << st.message();
  const size_t mem10 = esw10->MemoryBytes(), sluice10 = esw10->SluiceSideBytes();
  rte_malloc_get_socket_stats(0, &ms);
  const size_t heap10 = ms.heap_allocsz_bytes - heap_before;
  esw10.reset();

  // For contrast: per-VF representor ethdevs (non-unified) cost Sluice one
  // ethdev, two rings and one more rx queue to poll each.
  EswitchConfig per_rep = small;
  per_rep.unified = false;
  per_rep.n_vfs = 4;
  auto esw4 = Eswitch::Create(per_rep, &st);
  ASSERT_NE(esw4, nullptr) << st.message();
  per_rep.n_vfs = 2;
  auto esw2 = Eswitch::Create(per_rep, &st);
  ASSERT_NE(esw2, nullptr) << st.message();
  const size_t per_rep_bytes = (esw4->SluiceSideBytes() - esw2->SluiceSideBytes()) / 2;
  esw2.reset();
  std::vector<uint16_t> rep_ports;
  for (uint16_t v = 0; v < esw4->n_vports(); ++v) rep_ports.push_back(esw4->representor_port_id(v));
  auto empty_poll_cycles = [](const std::vector<uint16_t>& ports) {
    rte_mbuf* pkts[32];
    const uint64_t t0 = rte_rdtsc();
    for (int i = 0; i < 1000; ++i) {
      for (uint16_t p : ports) {
        if (rte_eth_rx_burst(p, 0, pkts, 32) != 0) std::abort();
      }
    }
    return double(rte_rdtsc() - t0) / 1000;
  };
  const double poll_per_rep = empty_poll_cycles(rep_ports);
  esw4.reset();

  EswitchConfig c = small;
  c.n_vfs = kVfs;
  rte_malloc_get_socket_stats(0, &ms);
  heap_before = ms.heap_allocsz_bytes;
  Make(c);
  rte_malloc_get_socket_stats(0, &ms);
  heap_after = ms.heap_allocsz_bytes;
  const size_t heap1000 = heap_after - heap_before;

  // Sluice's side does not grow: one ethdev, the same rings.
  EXPECT_EQ(esw_->SluiceSideBytes(), sluice10);
  for (uint16_t v = 0; v < esw_->n_vports(); ++v) {
    EXPECT_EQ(esw_->representor_port_id(v), esw_->proxy_port_id());
  }
  const double poll_unified = empty_poll_cycles({esw_->proxy_port_id()});
  std::printf(
      "non-unified: %zu B of Sluice-side rings per VF representor; an idle poll round "
      "of %zu representors %.0f cycles vs %.0f cycles for the one unified proxy of %u VFs\n",
      per_rep_bytes, rep_ports.size(), poll_per_rep, poll_unified, kVfs);
  const double per_vf_model = double(esw_->MemoryBytes() - mem10) / (kVfs - 10);
  const double per_vf_heap = double(heap1000 - heap10) / (kVfs - 10);
  std::printf(
      "unified mode: Sluice-side bytes %zu for 10 and %zu for %u VFs (0 per representor); "
      "eSwitch model %.0f B/VF (its two outside rings of %u slots), DPDK heap %.0f B/VF\n",
      sluice10, esw_->SluiceSideBytes(), kVfs, per_vf_model, c.ring_size, per_vf_heap);

  // Every VF's missed traffic arrives on the proxy with its source.
  for (uint16_t vf = 0; vf < kVfs; ++vf) {
    Spec s;
    s.src = dp::testutil::Mac(2, 0, 0, 0, static_cast<uint8_t>(vf >> 8), static_cast<uint8_t>(vf));
    Inject(Eswitch::VfVport(vf), Build(s).bytes);
  }
  EXPECT_EQ(esw_->Poll(), kVfs);
  std::vector<rte_mbuf*> rx;
  rte_mbuf* pkts[32];
  uint16_t n;
  uint64_t polls = 0;
  while ((n = rte_eth_rx_burst(esw_->proxy_port_id(), 0, pkts, 32)) > 0) {
    rx.insert(rx.end(), pkts, pkts + n);
    ++polls;
  }
  ASSERT_EQ(rx.size(), kVfs);
  const int off = esw_->metadata_offset();
  ASSERT_GE(off, 0);
  std::vector<bool> seen(kVfs, false);
  for (rte_mbuf* m : rx) {
    ASSERT_TRUE(m->ol_flags & rte_flow_dynf_metadata_mask);
    EXPECT_EQ(m->port, esw_->proxy_port_id());
    const uint32_t src = *RTE_MBUF_DYNFIELD(m, off, uint32_t*);
    uint16_t vport = 0;
    ASSERT_TRUE(esw_->VportOf(static_cast<uint16_t>(src), &vport));
    const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint16_t vf = static_cast<uint16_t>(d[10] << 8 | d[11]);
    EXPECT_EQ(vport, Eswitch::VfVport(vf)) << "source id does not match the sender";
    EXPECT_EQ(src, kVirtualPortBase + Eswitch::VfVport(vf));
    seen[vf] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), kVfs);
  std::printf("unified mode: %u VFs' misses read in %lu rx bursts on ONE queue\n", kVfs,
              static_cast<unsigned long>(polls));

  // Sluice answers VF 500 through the proxy, addressed by metadata.
  rte_mbuf* reply = rx[0];
  rx.erase(rx.begin());
  FreeAll(rx);
  *RTE_MBUF_DYNFIELD(reply, off, uint32_t*) = esw_->flow_port_id(Eswitch::VfVport(500));
  reply->ol_flags |= rte_flow_dynf_metadata_mask;
  ASSERT_EQ(rte_eth_tx_burst(esw_->proxy_port_id(), 0, &reply, 1), 1);
  esw_->Poll();
  EXPECT_EQ(Outside(Eswitch::VfVport(500)).size(), 1u);

  // Full offload between two VFs, and partial offload (META) on the proxy.
  const Bytes frame = Build(Spec{}).bytes;
  dp::FlowKey key;
  dp::FlowMask mask;
  const uint32_t dp_vf7 = Eswitch::VfVport(7) + 1u, dp_vf900 = Eswitch::VfVport(900) + 1u;
  ExactMegaflow(frame, dp_vf7, &key, &mask);
  ASSERT_TRUE(Offload(key, mask, {DpAction::Output(dp_vf900)}).valid());
  ExactMegaflow(frame, Eswitch::VfVport(8) + 1u, &key, &mask);
  ASSERT_TRUE(Offload(key, mask, {}, Mode::kPartial, 4242).valid());
  // The uplink's partial rule sits on the same proxy: it must not mark VF traffic.
  ExactMegaflow(frame, 1, &key, &mask);
  ASSERT_TRUE(Offload(key, mask, {}, Mode::kPartial, 1111).valid());
  Inject(Eswitch::VfVport(7), frame);
  Inject(Eswitch::VfVport(8), frame);
  Inject(Eswitch::VfVport(9), frame);
  esw_->Poll();
  EXPECT_EQ(Outside(Eswitch::VfVport(900)).size(), 1u);
  rx = RxEthdev(esw_->proxy_port_id());
  ASSERT_EQ(rx.size(), 2u);
  for (rte_mbuf* m : rx) {
    const uint32_t src = *RTE_MBUF_DYNFIELD(m, off, uint32_t*);
    if (src == esw_->flow_port_id(Eswitch::VfVport(8))) {
      EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_RX_FDIR_ID);
      EXPECT_EQ(m->hash.fdir.hi, 4242u);
    } else {
      EXPECT_EQ(src, esw_->flow_port_id(Eswitch::VfVport(9)));
      EXPECT_FALSE(m->ol_flags & RTE_MBUF_F_RX_FDIR);
    }
  }
  FreeAll(rx);
}

}  // namespace
}  // namespace sluice::offload
