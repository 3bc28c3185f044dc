// The PMD's EMC policy (datapath/pmd/pmd.h, EmcPolicy), driven through a
// Datapath with net_ring ports:
//   - kAuto (the default): the EMC is off while the classifier alone is
//     cheaper -- with today's Dpcls at every subtable count -- the choice is
//     re-made as subtables come and go, pmd-stats' emc_state says why it is
//     off, and every packet is counted as exactly one EMC hit, classifier
//     hit or miss (EMC hits only while it is on);
//   - kAdaptive: the hit-ratio rule alone (emc_state says so when it is off);
//   - kOn / kOff and the SLUICE_PMD_EMC override (a bad value is ignored).
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "datapath/actions/actions_format.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/dpif/datapath.h"
#include "datapath/flow/flow_format.h"
#include "datapath/pmd/pmd.h"
#include "tests/common/ring_datapath.h"
#include "tests/common/ring_port.h"

namespace sluice::dp {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;
using Frames = std::vector<std::vector<uint8_t>>;

constexpr uint64_t kOn = static_cast<uint64_t>(EmcState::kOn);
constexpr uint64_t kOffHitRatio = static_cast<uint64_t>(EmcState::kOffHitRatio);
constexpr uint64_t kOffCheaper = static_cast<uint64_t>(EmcState::kOffCheaper);
constexpr uint64_t kOffConfigured = static_cast<uint64_t>(EmcState::kOffConfigured);

constexpr auto Actions = sluice::testing::TestActions;

// Ten UDP flows to 10.0.0.1..10 (one packet each, distinct destinations so
// that no packet follows another).
Frames TenFlows() {
  Frames f;
  for (uint32_t i = 1; i <= 10; ++i) f.push_back(UdpFrame(0xc0a80001, 0x0a000000 + i, 1000, 53));
  return f;
}

class EmcPolicyTest : public sluice::testing::RingDatapathTest {
 protected:

  // A datapath with one synchronous PMD; `policy` (if any) is passed the
  // only way the Datapath's options allow: SLUICE_PMD_EMC.
  void Make(const char* policy = nullptr) {
    DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 8192;
    o.emc_insert_inv_prob = 1;  // always insert: deterministic EMC
    OpenDatapath(o, 3, policy);
  }

  Ufid Put(const std::string& match, const std::string& actions) {
    FlowKey key;
    FlowMask mask;
    Status st = ParseMatch(match, &key, &mask);
    EXPECT_TRUE(st.ok()) << match << ": " << st.message();
    Ufid ufid;
    st = dp_->FlowPut(key, mask, Actions(actions), Datapath::kAllPmds, &ufid);
    EXPECT_TRUE(st.ok()) << st.message();
    dp_->Sync();
    return ufid;
  }

  void Del(const Ufid& ufid) {
    ASSERT_TRUE(dp_->FlowDel(ufid).ok());
    dp_->Sync();
  }

  PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }
  size_t Subtables() { return dp_->PmdStats()[0].n_subtables; }

  void Run(uint32_t port_no, const Frames& frames) {
    for (size_t at = 0; at < frames.size(); at += 512) {
      Frames chunk(frames.begin() + static_cast<std::ptrdiff_t>(at),
                   frames.begin() + static_cast<std::ptrdiff_t>(std::min(at + 512, frames.size())));
      const uint64_t rx0 = Counters().rx_packets;
      ports_[port_no - 1].Inject(dp_->pool(), chunk);
      while (Counters().rx_packets - rx0 < chunk.size()) dp_->PollAllOnce();
    }
  }

  // Sends the ten flows on port 1 twice and checks they all reach port 2;
  // returns the counter deltas of the second round (the first fills the
  // EMC when it is on).
  PmdCountersSnapshot TwoRounds() {
    Run(1, TenFlows());
    EXPECT_EQ(ports_[1].Drain().size(), 10u);
    const PmdCountersSnapshot a = Counters();
    Run(1, TenFlows());
    EXPECT_EQ(ports_[1].Drain().size(), 10u);
    const PmdCountersSnapshot b = Counters();
    PmdCountersSnapshot d;
    d.emc_hits = b.emc_hits - a.emc_hits;
    d.dpcls_hits = b.dpcls_hits - a.dpcls_hits;
    d.misses = b.misses - a.misses;
    d.emc_state = b.emc_state;
    return d;
  }

};

TEST(EmcPolicyNames, ParseAndName) {
  EmcPolicy p = EmcPolicy::kAuto;
  EXPECT_TRUE(ParseEmcPolicy("off", &p));
  EXPECT_EQ(p, EmcPolicy::kOff);
  EXPECT_TRUE(ParseEmcPolicy("adaptive", &p));
  EXPECT_EQ(p, EmcPolicy::kAdaptive);
  EXPECT_TRUE(ParseEmcPolicy("on", &p));
  EXPECT_EQ(p, EmcPolicy::kOn);
  EXPECT_TRUE(ParseEmcPolicy("auto", &p));
  EXPECT_EQ(p, EmcPolicy::kAuto);
  EXPECT_FALSE(ParseEmcPolicy("yes", &p));
  EXPECT_FALSE(ParseEmcPolicy("", &p));
  EXPECT_EQ(p, EmcPolicy::kAuto);
  EXPECT_STREQ(EmcStateName(kOn), "on");
  EXPECT_STREQ(EmcStateName(kOffCheaper), "off: the megaflow classifier is cheaper");
  EXPECT_STREQ(EmcStateName(kOffHitRatio), "off: hits too rarely");
  EXPECT_STREQ(EmcStateName(kOffConfigured), "off: configured off");
  EXPECT_STREQ(EmcStateName(99), "unknown");
}

// kAuto: the classifier alone is cheaper than the EMC with one or two
// subtables (a short walk) and from the third on (the signature cache), so
// the EMC stays off, and says why, as subtables come and go; every packet
// is still counted once, as a classifier hit.
TEST_F(EmcPolicyTest, AutoKeepsTheEmcOffAsSubtablesComeAndGo) {
  Make();
  EXPECT_EQ(Counters().emc_state, kOffCheaper);  // no subtable at all
  const Ufid wide = Put("in_port(1)", "2");
  ASSERT_EQ(Subtables(), 1u);
  PmdCountersSnapshot d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOffCheaper);
  EXPECT_EQ(d.emc_hits, 0u);
  EXPECT_EQ(d.dpcls_hits, 10u);
  EXPECT_EQ(d.misses, 0u);

  // More masks (port 3's traffic, none sent): two subtables, then three,
  // where the signature cache takes over.
  const Ufid two = Put("in_port(3),eth_type(0x0800),ipv4(dst=10.9.9.9)", "drop");
  ASSERT_EQ(Subtables(), 2u);
  EXPECT_EQ(Counters().emc_state, kOffCheaper);
  d = TwoRounds();
  EXPECT_EQ(d.emc_hits, 0u);
  EXPECT_EQ(d.dpcls_hits, 10u);
  const Ufid three = Put("in_port(3),eth_type(0x0800)", "drop");
  ASSERT_EQ(Subtables(), 3u);
  d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOffCheaper);
  EXPECT_EQ(d.emc_hits, 0u);
  EXPECT_EQ(d.dpcls_hits, 10u);
  EXPECT_EQ(d.misses, 0u);

  // Masks go again; the flows still hit, and a removed megaflow misses.
  Del(three);
  Del(two);
  ASSERT_EQ(Subtables(), 1u);
  d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOffCheaper);
  EXPECT_EQ(d.dpcls_hits, 10u);
  Del(wide);
  EXPECT_EQ(Subtables(), 0u);
  EXPECT_EQ(Counters().emc_state, kOffCheaper);
  const uint64_t misses = Counters().misses;
  Run(1, TenFlows());
  EXPECT_TRUE(ports_[1].Drain().empty());
  EXPECT_EQ(Counters().misses, misses + 10);
  EXPECT_EQ(Counters().emc_hits, 0u);
}

// The elephant-follower path under kAuto: one flow's packets are forwarded
// and counted as classifier hits, all of them.
TEST_F(EmcPolicyTest, AutoElephantIsForwardedAndCounted) {
  Make();
  const Ufid f = Put("in_port(1)", "2");
  const Frames elephant(64, UdpFrame(0xc0a80001, 0x0a000001, 1000, 53));
  Run(1, elephant);
  EXPECT_EQ(ports_[1].Drain(), elephant);
  const PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.emc_hits, 0u);
  EXPECT_EQ(c.dpcls_hits, 64u);
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(f, &info));
  EXPECT_EQ(info.packets, 64u);
}

// kAdaptive: the hit-ratio rule alone; a thrashed EMC goes off and
// emc_state says it hits too rarely; subtables do not matter.
TEST_F(EmcPolicyTest, AdaptiveReportsTheHitRatio) {
  Make("adaptive");
  Put("in_port(3)", "drop");
  EXPECT_EQ(Counters().emc_state, kOn);
  Frames warm;
  for (uint32_t i = 0; i < (1u << 16) + 64; ++i) warm.push_back(UdpFrame(i, 0x0b000000 + i, 7, 7));
  Run(3, warm);
  EXPECT_EQ(Counters().emc_off_periods, 1u);
  EXPECT_EQ(Counters().emc_state, kOffHitRatio);
  const uint64_t hits = Counters().emc_hits;
  Run(3, Frames(100, UdpFrame(1, 2, 7, 7)));
  EXPECT_EQ(Counters().emc_hits, hits);
}

TEST_F(EmcPolicyTest, OnKeepsTheEmcWithOneSubtable) {
  Make("on");
  Put("in_port(1)", "2");
  const PmdCountersSnapshot d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOn);
  EXPECT_EQ(d.emc_hits, 10u);
  EXPECT_EQ(d.dpcls_hits, 0u);
}

TEST_F(EmcPolicyTest, OffNeverUsesTheEmc) {
  Make("off");
  Put("in_port(1)", "2");
  Put("in_port(3),eth_type(0x0800),ipv4(dst=10.9.9.9)", "drop");
  const PmdCountersSnapshot d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOffConfigured);
  EXPECT_EQ(d.emc_hits, 0u);
  EXPECT_EQ(d.dpcls_hits, 10u);
}

TEST_F(EmcPolicyTest, AdaptiveIgnoresSubtables) {
  Make("adaptive");
  Put("in_port(1)", "2");
  const PmdCountersSnapshot d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOn);
  EXPECT_EQ(d.emc_hits, 10u);
}

TEST_F(EmcPolicyTest, BadOverrideIsIgnored) {
  Make("sometimes");
  Put("in_port(1)", "2");
  const PmdCountersSnapshot d = TwoRounds();
  EXPECT_EQ(d.emc_state, kOffCheaper);  // the default, kAuto
  EXPECT_EQ(d.emc_hits, 0u);
  EXPECT_EQ(d.dpcls_hits, 10u);
}

}  // namespace
}  // namespace sluice::dp
