// Hardware offload wired into the datapath (offload/dp_offload.h,
// Datapath::SetOffload): a real Datapath whose ports are the software
// eSwitch's representor/proxy ethdevs, megaflows installed the way ofproto's
// upcall handler does (FlowPut with the upcall's key, then Execute), PMDs
// driven synchronously (PollAllOnce) and the eSwitch stepped with Poll().
// The offload worker runs on its own thread; each step waits for it
// (WaitIdle), so every run is deterministic.
//
// What is shown: the same traffic with offload off and on gives the same
// frames at every outside end and the same megaflow statistics (software +
// hardware); full offload really takes over (the rules' counters are the
// megaflows' packets); partial offload marks packets and the PMD finds
// their flows by mark; device failures fall back to software and are not
// retried; FlowDel/FlowPut remove and rewrite rules; SetOffload(nullptr)
// and back; unified representor mode (in_port from metadata, tx metadata
// to the VF, 1000 VFs on one proxy queue); a stale mark never runs a
// deleted flow's actions; the eSwitch's "wire" ends (net_pcap).
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "datapath/dpif/datapath.h"
#include "datapath/flow/parse.h"
#include "offload/dp_offload.h"
#include "offload/eswitch.h"
#include "tests/datapath/actions_test_util.h"

// GCC 12 -O3 misreads std::vector<uint8_t> comparisons (sorting frames) as
// unbounded memcmp reads.
#pragma GCC diagnostic ignored "-Wstringop-overread"

namespace sluice::offload {
namespace {

using dp::DpAction;
using dp::FlowKey;
using dp::FlowMask;
using dp::testutil::Build;
using dp::testutil::Bytes;
using dp::testutil::Hex;
using dp::testutil::Read;
using dp::testutil::Spec;

constexpr uint32_t kUplinkPort = 1;  // datapath port of the uplink (the proxy)
// VF v (1-based) is datapath port 1 + v; its eSwitch vport is v.
uint32_t VfPort(uint16_t vf) { return 1u + vf; }

// The slow path's policy: a megaflow (mask) and its actions for an upcall's
// key. Masks cover exactly what the decision looks at.
using Policy = std::function<void(const FlowKey& key, FlowMask* mask, std::vector<DpAction>* acts)>;

void BaseMask(FlowMask* m) {
  m->Clear();
  m->in_port = 0xffffffffu;
  m->eth_type = Be16(0xffff);
  m->vlan[0].tci = Be16(dp::kVlanPresent);
  m->nw_dst = Be32(0xffffffff);
  m->nw_proto = 0xff;
}

// Varied, offloadable actions: output, set eth, set ipv4, push/pop VLAN, drop.
Policy MixedPolicy(uint16_t n_vfs) {
  return [n_vfs](const FlowKey& k, FlowMask* m, std::vector<DpAction>* a) {
    BaseMask(m);
    const uint8_t d = static_cast<uint8_t>(k.nw_dst.host() & 0xff);
    const bool tagged = (k.vlan[0].tci.host() & dp::kVlanPresent) != 0;
    if (k.in_port == kUplinkPort) {
      const uint32_t vf = VfPort(static_cast<uint16_t>(1 + d % n_vfs));
      if (tagged) {
        m->vlan[0].tpid = Be16(0xffff);
        m->vlan[0].tci = Be16(0xffff);
        a->push_back(DpAction::Pop());
      } else if (k.nw_proto == 6) {
        a->push_back(dp::testutil::SetEthAction(dp::testutil::Mac(0, 0, 0, 0, 0, 0), {},
                                                dp::testutil::Mac(2, 0, 0, 0, 0xee, d),
                                                dp::testutil::kAllOnesMac));
      }
      a->push_back(DpAction::Output(vf));
      return;
    }
    if (d == 254) return;  // drop
    if (k.nw_proto == 17) {
      dp::testutil::Ipv4Set s;
      s.src = 0xc0000201;
      s.src_mask = 0xffffffff;
      a->push_back(dp::testutil::SetIpv4Action(s));
      a->push_back(DpAction::Output(kUplinkPort));
    } else {
      a->push_back(DpAction::Push(Be16(0x8100), Be16(dp::kVlanPresent | 100)));
      a->push_back(DpAction::Output(kUplinkPort));
    }
  };
}

struct RigOptions {
  uint16_t n_vfs = 2;
  bool unified = false;
  bool offload = true;
  std::vector<rte_flow_action_type> unsupported_actions;
  std::vector<std::string> wire_devargs;
  OffloadOptions offload_options;
};

// A Datapath on an eSwitch, with the offload hook attached (or not).
class Rig {
 public:
  explicit Rig(const RigOptions& o) : o_(o) {
    dp::DatapathOptions dpo;
    dpo.pmd_cores = {-1};
    dpo.n_mbufs = 8192;
    dpo.emc_insert_inv_prob = 1;
    dp_ = std::make_unique<dp::Datapath>(dpo);
    EXPECT_TRUE(dp_->Init().ok());
    EswitchConfig c;
    c.n_vfs = o.n_vfs;
    c.unified = o.unified;
    c.outside_ethdevs = false;
    c.start_ethdevs = false;  // DpdkPort configures them
    c.pool = dp_->pool();
    c.unsupported_actions = o.unsupported_actions;
    c.wire_devargs = o.wire_devargs;
    Status st;
    esw_ = Eswitch::Create(c, &st);
    EXPECT_NE(esw_, nullptr) << st.message();
    if (!esw_) return;
    offload_ = std::make_shared<DatapathOffload>(dp_.get(), o.offload_options);
    offload_->AttachEswitch(esw_.get());
    offload_->Start();
    if (o.offload) dp_->SetOffload(offload_);
    AddPort("uplink", esw_->devargs(esw_->proxy_port_id()), 0, 0);
    for (uint16_t v = 1; v <= o.n_vfs; ++v) {
      if (o.unified) {
        AddPort("vf" + std::to_string(v), "", kUplinkPort, esw_->flow_port_id(v));
      } else {
        AddPort("vf" + std::to_string(v), esw_->devargs(esw_->representor_port_id(v)), 0, 0);
      }
    }
    in_use_ = rte_mempool_in_use_count(dp_->pool());
  }
  ~Rig() {
    dp_->SetOffload(nullptr);
    offload_->Stop();
    offload_.reset();
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    Outputs();
    EXPECT_EQ(rte_mempool_in_use_count(dp_->pool()), in_use_) << "mbuf leak";
    dp_.reset();
    if (esw_) {
      EXPECT_EQ(esw_->rule_count(), 0u) << "rules left behind";
    }
    esw_.reset();
  }

  void AddPort(const std::string& name, const std::string& devargs, uint32_t proxy,
               uint32_t source) {
    dp::PortConfig pc;
    pc.name = name;
    pc.devargs = devargs;
    pc.rx_metadata = true;
    pc.unified_proxy = proxy;
    pc.unified_source_id = source;
    uint32_t no = 0;
    Status st = dp_->AddPort(pc, &no);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  void Inject(uint16_t vport, const std::vector<Bytes>& frames) {
    for (const Bytes& f : frames) {
      rte_mbuf* m = dp::PacketFromBytes(dp_->pool(), f.data(), static_cast<uint32_t>(f.size()));
      ASSERT_NE(m, nullptr);
      ASSERT_EQ(esw_->InjectFromOutside(vport, &m, 1), 1u);
    }
  }

  // The slow path: every upcall gets its megaflow installed and is executed.
  size_t HandleUpcalls() {
    size_t n = 0;
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) {
      ++n;
      upcall_in_ports.push_back(u.key.in_port);
      FlowMask mask;
      std::vector<DpAction> acts;
      policy(u.key, &mask, &acts);
      auto actions = std::make_shared<const dp::DpActions>(acts);
      if (install) {
        EXPECT_TRUE(dp_->FlowPut(u.key, mask, actions, u.pmd_index).ok());
      }
      EXPECT_TRUE(
          dp_->Execute(u.pmd_index, u.packet, u.key.in_port, u.layout, actions).ok());
    }
    return n;
  }

  // Steps hardware, PMDs, slow path and offload worker until nothing moves.
  void Drain() {
    for (int round = 0; round < 1000; ++round) {
      unsigned moved = esw_->Poll();
      moved += dp_->PollAllOnce();
      const size_t up = HandleUpcalls();
      offload_->WaitIdle();  // rules and marks in place before more traffic
      dp_->Sync();           // executes applied
      moved += esw_->Poll();
      if (moved == 0 && up == 0) return;
    }
    ADD_FAILURE() << "traffic did not settle";
  }

  void Send(uint16_t vport, const std::vector<Bytes>& frames) {
    Inject(vport, frames);
    Drain();
  }

  // Frames each outside end received since the last call, by vport.
  std::map<uint16_t, std::vector<Bytes>> Outputs() {
    for (uint16_t v = 0; v < esw_->n_vports(); ++v) {
      rte_mbuf* pkts[32];
      unsigned n;
      while ((n = esw_->ReceiveOutside(v, pkts, 32)) > 0) {
        for (unsigned i = 0; i < n; ++i) {
          out_[v].push_back(Read(pkts[i]));
          rte_pktmbuf_free(pkts[i]);
        }
      }
    }
    auto r = std::move(out_);
    out_.clear();
    return r;
  }

  // Megaflow statistics by ufid (summed over PMDs), after a counter read.
  std::map<std::pair<uint64_t, uint64_t>, dp::FlowInfo> Flows() {
    offload_->QueryCounters();
    std::map<std::pair<uint64_t, uint64_t>, dp::FlowInfo> m;
    for (const dp::FlowInfo& f : dp_->FlowDump()) {
      dp::FlowInfo& t = m[{f.ufid.hi, f.ufid.lo}];
      if (t.packets == 0 && t.hw_packets == 0) t.ufid = f.ufid;
      t.packets += f.packets;
      t.bytes += f.bytes;
      t.hw_packets += f.hw_packets;
      t.hw_bytes += f.hw_bytes;
    }
    return m;
  }

  dp::PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

  RigOptions o_;
  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<Eswitch> esw_;
  std::shared_ptr<DatapathOffload> offload_;
  Policy policy;
  bool install = true;
  std::vector<uint32_t> upcall_in_ports;

 private:
  std::map<uint16_t, std::vector<Bytes>> out_;
  unsigned in_use_ = 0;
};

std::map<uint16_t, std::vector<Bytes>> Sorted(std::map<uint16_t, std::vector<Bytes>> m) {
  for (auto& [v, frames] : m) std::sort(frames.begin(), frames.end());
  return m;
}

// A few hundred frames with varied headers from the uplink and every VF, in
// bursts of 16, each source's flows repeating across bursts.
struct Traffic {
  std::vector<std::pair<uint16_t, std::vector<Bytes>>> bursts;  // (vport, frames)
  size_t frames = 0;
};

Traffic MakeTraffic(uint16_t n_vfs, int rounds, uint32_t seed, bool with_tags = true) {
  std::mt19937 rng(seed);
  Traffic t;
  for (int r = 0; r < rounds; ++r) {
    for (uint16_t vport = 0; vport <= n_vfs; ++vport) {
      std::vector<Bytes> frames;
      for (int i = 0; i < 16; ++i) {
        Spec s;
        s.src = dp::testutil::Mac(2, 0, 0, 0, static_cast<uint8_t>(vport), 1);
        s.v4_src = 0x0a000100u + vport;
        // A handful of destinations (megaflows) per source; 254 = dropped.
        const uint32_t pick = rng() % 5;
        s.v4_dst = 0x0a000000u + (pick == 4 && vport != 0 ? 254 : 10 + pick);
        s.proto = (rng() % 3 == 0) ? dp::csum::kIpProtoTcp : dp::csum::kIpProtoUdp;
        s.sport = static_cast<uint16_t>(1000 + rng() % 50000);
        s.dport = static_cast<uint16_t>(rng() % 4 == 0 ? 53 : 80);
        s.ttl = static_cast<uint8_t>(32 + rng() % 64);
        s.payload.assign(rng() % 200, static_cast<uint8_t>(rng()));
        if (with_tags && vport == 0 && pick == 3) s.vlans = {{0x8100, dp::kVlanPresent | 7}};
        frames.push_back(Build(s).bytes);
      }
      t.frames += frames.size();
      t.bursts.emplace_back(vport, std::move(frames));
    }
  }
  return t;
}

struct RunResult {
  std::map<uint16_t, std::vector<Bytes>> out;  // sorted per vport
  std::map<std::pair<uint64_t, uint64_t>, dp::FlowInfo> flows;
  dp::PmdCountersSnapshot counters;
  EswitchStats esw;
};

RunResult RunTraffic(const RigOptions& o, const Traffic& t) {
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  RunResult r;
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  r.out = Sorted(rig.Outputs());
  r.flows = rig.Flows();
  r.counters = rig.Counters();
  r.esw = rig.esw_->stats();
  return r;
}

void ExpectSameOutput(const RunResult& off, const RunResult& on) {
  ASSERT_EQ(off.out.size(), on.out.size());
  for (const auto& [v, frames] : off.out) {
    auto it = on.out.find(v);
    ASSERT_NE(it, on.out.end()) << "vport " << v;
    ASSERT_EQ(frames.size(), it->second.size()) << "vport " << v;
    for (size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(frames[i], it->second[i]) << "vport " << v << " frame " << i << "\noff:\n"
                                          << Hex(frames[i]) << "\non:\n"
                                          << Hex(it->second[i]);
    }
  }
}

void ExpectSameStats(const RunResult& off, const RunResult& on) {
  ASSERT_EQ(off.flows.size(), on.flows.size());
  for (const auto& [id, f] : off.flows) {
    auto it = on.flows.find(id);
    ASSERT_NE(it, on.flows.end());
    EXPECT_EQ(f.packets, it->second.packets);
    EXPECT_EQ(f.bytes, it->second.bytes);
    EXPECT_EQ(f.hw_packets, 0u);
  }
}

class DpOffloadTest : public testing::Test {
 protected:
  void SetUp() override { ethdevs_ = rte_eth_dev_count_avail(); }
  void TearDown() override {
    EXPECT_EQ(rte_eth_dev_count_avail(), ethdevs_) << "ethdevs not released";
  }
  unsigned ethdevs_ = 0;
};

// --- Differential: full offload ---------------------------------------------------

TEST_F(DpOffloadTest, FullOffloadForwardsAndCountsExactlyAsSoftware) {
  const Traffic t = MakeTraffic(2, 6, 1);
  ASSERT_GE(t.frames, 250u);
  RigOptions o;
  o.offload = false;
  RunResult off = RunTraffic(o, t);
  o.offload = true;
  RunResult on = RunTraffic(o, t);
  ExpectSameOutput(off, on);
  ExpectSameStats(off, on);

  // With offload on, after each flow's first burst the rules did the work:
  // the PMD saw only the misses, the hardware counted every megaflow packet.
  uint64_t hw = 0, sw = 0;
  for (const auto& [id, f] : on.flows) {
    hw += f.hw_packets;
    sw += f.packets - f.hw_packets;
    EXPECT_EQ(f.packets, f.hw_packets) << "a megaflow hit in software";
  }
  EXPECT_GT(hw, t.frames / 2);
  EXPECT_EQ(sw, 0u);
  EXPECT_EQ(on.counters.emc_hits + on.counters.dpcls_hits, 0u);
  EXPECT_EQ(on.esw.rule_hits, hw);
  EXPECT_GT(off.counters.emc_hits + off.counters.dpcls_hits, 0u);
}

TEST_F(DpOffloadTest, FlowStatesAndStatsViews) {
  RigOptions o;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  const Traffic t = MakeTraffic(2, 3, 2, /*with_tags=*/false);
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  const OffloadStats s = rig.offload_->Stats();
  EXPECT_GT(s.n_full, 0u);
  EXPECT_EQ(s.n_partial + s.n_refused + s.n_pending, 0u) << FormatOffloadStats(s);
  EXPECT_EQ(rig.esw_->rule_count(), s.n_full);
  for (const dp::FlowInfo& f : rig.dp_->FlowDump()) {
    FlowOffloadInfo info;
    ASSERT_TRUE(rig.offload_->Get(f.ufid, &info));
    EXPECT_STREQ(FlowStateName(info.state), "full");
  }
  // FlowStatsDump (what the revalidator reads) sees the hardware hits, and
  // a freshly offloaded flow counts as used.
  rig.offload_->QueryCounters();
  uint64_t hw = 0;
  for (const dp::FlowStatsInfo& f : rig.dp_->FlowStatsDump()) {
    hw += f.hw_packets;
    EXPECT_GE(f.packets, f.hw_packets);
    EXPECT_GE(f.used_ms, f.created_ms);
  }
  EXPECT_GT(hw, 0u);
}

// --- Partial offload ---------------------------------------------------------------

TEST_F(DpOffloadTest, PartialOffloadMarksAndThePmdFindsFlowsByMark) {
  const Traffic t = MakeTraffic(2, 6, 3);
  RigOptions o;
  o.offload = false;
  // The device cannot forward to ports: full offload is refused, partial
  // (COUNT / MARK / QUEUE on the representor) is taken.
  o.unsupported_actions = {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT};
  RunResult off = RunTraffic(o, t);
  o.offload = true;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  RunResult on;
  on.out = Sorted(rig.Outputs());
  on.flows = rig.Flows();
  on.counters = rig.Counters();
  ExpectSameOutput(off, on);
  ExpectSameStats(off, on);  // partial rules' counts are not added twice

  const OffloadStats s = rig.offload_->Stats();
  EXPECT_GT(s.n_partial, 0u) << FormatOffloadStats(s);
  EXPECT_GT(s.refusals[static_cast<int>(Reason::kRefusedByDevice)], 0u);
  // Every megaflow hit after installation came by mark, none by lookup.
  EXPECT_GT(on.counters.mark_hits, t.frames / 2);
  EXPECT_EQ(on.counters.emc_hits + on.counters.dpcls_hits, 0u);
  EXPECT_EQ(rig.esw_->stats().marked, on.counters.mark_hits);
  for (const dp::FlowInfo& f : rig.dp_->FlowDump()) {
    FlowOffloadInfo info;
    ASSERT_TRUE(rig.offload_->Get(f.ufid, &info));
    // Only the drops (no output: DROP needs no port action) went full.
    EXPECT_EQ(info.state, f.actions->empty() ? FlowState::kFull : FlowState::kPartial);
    if (info.state == FlowState::kPartial) {
      EXPECT_NE(info.mark, 0u);
      EXPECT_EQ(f.hw_packets, 0u);
    }
  }
}

// --- Fallback -----------------------------------------------------------------------

TEST_F(DpOffloadTest, DeviceFailureFallsBackToSoftwareAndIsNotRetried) {
  const Traffic t = MakeTraffic(2, 4, 4, false);
  RigOptions o;
  o.offload = false;
  RunResult off = RunTraffic(o, t);
  o.offload = true;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  // The first flow's full and partial creates fail (EIO: device_error).
  rig.esw_->InjectFailure(EswitchOp::kCreate, EIO, 2);
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  RunResult on;
  on.out = Sorted(rig.Outputs());
  on.flows = rig.Flows();
  ExpectSameOutput(off, on);
  ExpectSameStats(off, on);

  OffloadStats s = rig.offload_->Stats();
  EXPECT_EQ(s.n_refused, 1u) << FormatOffloadStats(s);
  EXPECT_EQ(s.refusals[static_cast<int>(Reason::kDeviceError)], 2u);
  dp::FlowInfo refused{};
  bool found = false;
  for (const dp::FlowInfo& f : rig.dp_->FlowDump()) {
    FlowOffloadInfo info;
    ASSERT_TRUE(rig.offload_->Get(f.ufid, &info));
    if (info.state == FlowState::kRefused) {
      EXPECT_EQ(info.reason, Reason::kDeviceError);
      refused = f;
      found = true;
    }
  }
  ASSERT_TRUE(found);
  EXPECT_GT(refused.packets, 0u);  // software kept forwarding it
  EXPECT_EQ(refused.hw_packets, 0u);
  // The same megaflow put again (same actions): remembered, no new attempt.
  const size_t rules = rig.esw_->rule_count();
  ASSERT_TRUE(rig.dp_->FlowPut(refused.key, refused.mask, refused.actions).ok());
  rig.dp_->SetOffload(nullptr);  // a detach and re-attach is a new question...
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), 0u);
  rig.dp_->SetOffload(rig.offload_);
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), rules + 1);  // ...and the device now takes it
  s = rig.offload_->Stats();
  EXPECT_EQ(s.refusals[static_cast<int>(Reason::kDeviceError)], 2u);
  EXPECT_EQ(s.n_refused, 0u);
}

// --- Revalidation -----------------------------------------------------------------

TEST_F(DpOffloadTest, FlowDelRemovesTheRuleAndFlowPutRewritesIt) {
  RigOptions o;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  Spec s;
  s.v4_dst = 0x0a00000b;  // uplink -> VF (11 % 2 = 1 -> VF2)
  const Bytes frame = Build(s).bytes;
  rig.Send(Eswitch::kUplink, {frame});
  ASSERT_EQ(rig.esw_->rule_count(), 1u);
  EXPECT_EQ(rig.Outputs()[2].size(), 1u);
  rig.Send(Eswitch::kUplink, {frame, frame});
  EXPECT_EQ(rig.Outputs()[2].size(), 2u);
  EXPECT_EQ(rig.esw_->stats().rule_hits, 2u);

  std::vector<dp::FlowInfo> flows = rig.dp_->FlowDump();
  ASSERT_EQ(flows.size(), 1u);
  const dp::FlowInfo f = flows[0];

  // New actions: the rule is rewritten in place (make-before-break).
  auto to_vf1 = std::make_shared<const dp::DpActions>(
      std::vector<DpAction>{DpAction::Output(VfPort(1))});
  ASSERT_TRUE(rig.dp_->FlowPut(f.key, f.mask, to_vf1).ok());
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), 1u);
  EXPECT_EQ(rig.offload_->Stats().modifications, 1u);
  rig.install = false;
  rig.Send(Eswitch::kUplink, {frame});
  auto out = rig.Outputs();
  EXPECT_EQ(out[1].size(), 1u);
  EXPECT_EQ(out[2].size(), 0u);
  EXPECT_EQ(rig.esw_->stats().rule_hits, 3u);

  // Delete: the rule goes, traffic misses to software again.
  ASSERT_TRUE(rig.dp_->FlowDel(f.ufid).ok());
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), 0u);
  const size_t before = rig.upcall_in_ports.size();
  rig.Send(Eswitch::kUplink, {frame});
  EXPECT_EQ(rig.upcall_in_ports.size(), before + 1);
  EXPECT_EQ(rig.esw_->stats().rule_hits, 3u);
  EXPECT_EQ(rig.Outputs()[2].size(), 1u);  // the policy's answer again
}

TEST_F(DpOffloadTest, SetOffloadOffAndOnLive) {
  RigOptions o;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  const Traffic t = MakeTraffic(2, 2, 5, false);
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  const size_t n_flows = rig.dp_->FlowCount();
  ASSERT_GT(n_flows, 0u);
  EXPECT_EQ(rig.esw_->rule_count(), n_flows);

  rig.dp_->SetOffload(nullptr);
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), 0u);
  // Software carries everything now.
  const uint64_t lookups = rig.Counters().emc_hits + rig.Counters().dpcls_hits;
  rig.install = false;
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  EXPECT_GT(rig.Counters().emc_hits + rig.Counters().dpcls_hits, lookups);

  rig.dp_->SetOffload(rig.offload_);
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), n_flows);
  const uint64_t hits = rig.esw_->stats().rule_hits;
  const uint64_t lookups2 = rig.Counters().emc_hits + rig.Counters().dpcls_hits;
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  EXPECT_GT(rig.esw_->stats().rule_hits, hits);
  EXPECT_EQ(rig.Counters().emc_hits + rig.Counters().dpcls_hits, lookups2);
}

// --- Stale marks ------------------------------------------------------------------

TEST_F(DpOffloadTest, StaleMarkDoesNotRunTheDeletedFlow) {
  RigOptions o;
  o.unsupported_actions = {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT};  // partial only
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  Spec s;
  s.v4_dst = 0x0a00000b;
  const Bytes frame = Build(s).bytes;
  rig.Send(Eswitch::kUplink, {frame});
  rig.Outputs();
  std::vector<dp::FlowInfo> flows = rig.dp_->FlowDump();
  ASSERT_EQ(flows.size(), 1u);
  FlowOffloadInfo info;
  ASSERT_TRUE(rig.offload_->Get(flows[0].ufid, &info));
  ASSERT_EQ(info.state, FlowState::kPartial);

  // Marked packets wait in the proxy's rx ring while the flow is deleted.
  rig.Inject(Eswitch::kUplink, {frame, frame, frame});
  rig.esw_->Poll();
  EXPECT_EQ(rig.esw_->stats().marked, 3u);
  const uint64_t mark_hits = rig.Counters().mark_hits;
  ASSERT_TRUE(rig.dp_->FlowDel(flows[0].ufid).ok());
  rig.offload_->WaitIdle();
  EXPECT_EQ(rig.esw_->rule_count(), 0u);

  // They carry the old mark, but it names nothing now: they miss and go to
  // the slow path, which (told not to install) sends them nowhere new.
  rig.install = false;
  rig.policy = [](const FlowKey& k, FlowMask* m, std::vector<DpAction>* a) {
    BaseMask(m);
    (void)k;
    (void)a;  // drop
  };
  const size_t before = rig.upcall_in_ports.size();
  rig.Drain();
  EXPECT_EQ(rig.upcall_in_ports.size(), before + 3);
  EXPECT_EQ(rig.Counters().mark_hits, mark_hits);
  EXPECT_TRUE(rig.Outputs().empty());

  // Installed again, the flow gets a mark (the freed id, now that every
  // PMD has forgotten it) and its packets find it by that mark.
  rig.install = true;
  rig.policy = MixedPolicy(o.n_vfs);
  rig.Send(Eswitch::kUplink, {frame});
  FlowOffloadInfo info2;
  ASSERT_TRUE(rig.offload_->Get(rig.dp_->FlowDump()[0].ufid, &info2));
  EXPECT_EQ(info2.state, FlowState::kPartial);
  rig.Send(Eswitch::kUplink, {frame, frame});
  EXPECT_EQ(rig.Counters().mark_hits, mark_hits + 2);
  EXPECT_EQ(rig.Outputs()[2].size(), 3u);
}

// --- Unified representor mode --------------------------------------------------

TEST_F(DpOffloadTest, UnifiedEightVfsSameAsSoftwareAndInPortFromMetadata) {
  const Traffic t = MakeTraffic(8, 3, 6);
  RigOptions o;
  o.n_vfs = 8;
  o.unified = true;
  o.offload = false;
  RunResult off;
  {
    Rig rig(o);
    rig.policy = MixedPolicy(o.n_vfs);
    for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
    off.out = Sorted(rig.Outputs());
    off.flows = rig.Flows();
    // Every VF's misses came up with the VF's own port number.
    std::vector<uint32_t> seen = rig.upcall_in_ports;
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    std::vector<uint32_t> want;
    for (uint32_t p = kUplinkPort; p <= VfPort(8); ++p) want.push_back(p);
    EXPECT_EQ(seen, want);
    // Megaflows keyed on the VF ports hit in software.
    EXPECT_GT(rig.Counters().emc_hits + rig.Counters().dpcls_hits, 0u);
    EXPECT_EQ(rig.Counters().unknown_source_drops, 0u);
  }
  // Uplink frames reached the VFs the policy chose (10..14 % 8 + 1: VFs
  // 3-7) by tx metadata; the VFs' frames reached the uplink.
  std::vector<uint16_t> reached;
  for (const auto& [v, frames] : off.out) reached.push_back(v);
  EXPECT_EQ(reached, (std::vector<uint16_t>{0, 3, 4, 5, 6, 7}));

  o.offload = true;
  RunResult on;
  {
    Rig rig(o);
    rig.policy = MixedPolicy(o.n_vfs);
    for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
    on.out = Sorted(rig.Outputs());
    on.flows = rig.Flows();
    EXPECT_GT(rig.offload_->Stats().n_full, 0u);
    EXPECT_GT(rig.esw_->stats().rule_hits, 0u);
  }
  ExpectSameOutput(off, on);
  ASSERT_EQ(off.flows.size(), on.flows.size());
  for (const auto& [id, f] : off.flows) {
    EXPECT_EQ(f.packets, on.flows[id].packets);
    EXPECT_EQ(f.bytes, on.flows[id].bytes);
  }
}

TEST_F(DpOffloadTest, UnifiedPartialOffloadOnTheProxy) {
  const Traffic t = MakeTraffic(8, 3, 7, false);
  RigOptions o;
  o.n_vfs = 8;
  o.unified = true;
  o.offload = false;
  o.unsupported_actions = {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT};
  RunResult off = RunTraffic(o, t);
  o.offload = true;
  Rig rig(o);
  rig.policy = MixedPolicy(o.n_vfs);
  for (const auto& [vport, frames] : t.bursts) rig.Send(vport, frames);
  RunResult on;
  on.out = Sorted(rig.Outputs());
  on.flows = rig.Flows();
  ExpectSameOutput(off, on);
  ExpectSameStats(off, on);
  EXPECT_GT(rig.Counters().mark_hits, 0u);
  EXPECT_EQ(rig.Counters().emc_hits + rig.Counters().dpcls_hits, 0u);
}

TEST_F(DpOffloadTest, Unified1000VfsOnOneProxyQueue) {
  constexpr uint16_t kVfs = 1000;
  RigOptions o;
  o.n_vfs = kVfs;
  o.unified = true;
  o.offload = false;
  Rig rig(o);
  // One rx queue serves them all.
  size_t rxqs = 0;
  for (const auto& pmd : rig.dp_->PmdStats()) rxqs += pmd.rxqs.size();
  EXPECT_EQ(rxqs, 1u);
  // One frame from every VF, each answered by the slow path with "back to
  // where you came from" (output to the in_port).
  rig.install = false;
  rig.policy = [](const FlowKey& k, FlowMask* m, std::vector<DpAction>* a) {
    BaseMask(m);
    a->push_back(DpAction::Output(k.in_port));
  };
  for (uint16_t v = 1; v <= kVfs; ++v) {
    Spec s;
    s.v4_src = 0x0a000000u + v;
    rig.Inject(v, {Build(s).bytes});
  }
  rig.Drain();
  ASSERT_EQ(rig.upcall_in_ports.size(), kVfs);
  std::vector<uint32_t> seen = rig.upcall_in_ports;
  std::sort(seen.begin(), seen.end());
  for (uint16_t v = 1; v <= kVfs; ++v) ASSERT_EQ(seen[v - 1], VfPort(v));
  auto out = rig.Outputs();
  ASSERT_EQ(out.size(), kVfs);
  for (uint16_t v = 1; v <= kVfs; ++v) {
    ASSERT_EQ(out[v].size(), 1u) << "VF " << v;
    // The frame's source address says which VF sent it.
    EXPECT_EQ(out[v][0][29], static_cast<uint8_t>(v & 0xff));
  }
  EXPECT_EQ(rig.Counters().unknown_source_drops, 0u);
}

TEST_F(DpOffloadTest, UnifiedProxyCannotBeDeletedUnderItsVfs) {
  RigOptions o;
  o.n_vfs = 2;
  o.unified = true;
  o.offload = false;
  Rig rig(o);
  Status st = rig.dp_->DelPort(kUplinkPort);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unified proxy"), std::string::npos) << st.message();
  dp::PortConfig pc;
  pc.name = "dup";
  pc.unified_proxy = kUplinkPort;
  pc.unified_source_id = rig.esw_->flow_port_id(1);
  uint32_t no = 0;
  st = rig.dp_->AddPort(pc, &no);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("already used"), std::string::npos) << st.message();
  pc.unified_proxy = 77;
  st = rig.dp_->AddPort(pc, &no);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no unified proxy"), std::string::npos) << st.message();
}

// --- The eSwitch's wire ends ------------------------------------------------------

void WritePcap(const std::string& path, const std::vector<Bytes>& frames) {
  std::ofstream f(path, std::ios::binary);
  auto put32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto put16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  put32(0xa1b2c3d4);  // classic pcap, microseconds, host order
  put16(2);
  put16(4);
  put32(0);
  put32(0);
  put32(65535);
  put32(1);  // Ethernet
  uint32_t t = 0;
  for (const Bytes& b : frames) {
    put32(1700000000);
    put32(t++);
    put32(static_cast<uint32_t>(b.size()));
    put32(static_cast<uint32_t>(b.size()));
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
}

std::vector<Bytes> ReadPcap(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<Bytes> out;
  char hdr[24];
  if (!f.read(hdr, 24)) return out;
  uint32_t rec[4];
  while (f.read(reinterpret_cast<char*>(rec), 16)) {
    Bytes b(rec[2]);
    if (!f.read(reinterpret_cast<char*>(b.data()), rec[2])) break;
    out.push_back(std::move(b));
  }
  return out;
}

TEST_F(DpOffloadTest, WireEndsAreOrdinaryDpdkPorts) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("sluice_wire_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<Bytes> in;
  for (int i = 0; i < 40; ++i) {
    Spec s;
    s.v4_dst = 0x0a00000a;  // uplink -> VF1 in MixedPolicy
    s.sport = static_cast<uint16_t>(2000 + i);
    s.proto = dp::csum::kIpProtoUdp;
    in.push_back(Build(s).bytes);
  }
  WritePcap(dir + "/in.pcap", in);
  WritePcap(dir + "/empty.pcap", {});
  {
    RigOptions o;
    o.wire_devargs = {"net_pcap_wire0,rx_pcap=" + dir + "/in.pcap,tx_pcap=" + dir + "/out0.pcap",
                      "net_pcap_wire1,rx_pcap=" + dir + "/empty.pcap,tx_pcap=" + dir +
                          "/out1.pcap"};
    Rig rig(o);
    ASSERT_NE(rig.esw_->wire_port_id(0), kNoEthdev);
    ASSERT_NE(rig.esw_->wire_port_id(1), kNoEthdev);
    EXPECT_EQ(rig.esw_->wire_port_id(2), kNoEthdev);
    rig.policy = MixedPolicy(o.n_vfs);
    rig.Drain();
    EXPECT_EQ(rig.esw_->stats().from_outside, in.size());
    EXPECT_TRUE(rig.Outputs().empty());  // it all left through the wire
  }
  // What the uplink's wire sent came out of VF1's wire, byte for byte and
  // in order (the first burst all missed and was executed one by one).
  EXPECT_EQ(ReadPcap(dir + "/out1.pcap"), in);
  EXPECT_TRUE(ReadPcap(dir + "/out0.pcap").empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::offload
