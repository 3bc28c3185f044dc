#pragma once
// What: RingDatapathTest, a GoogleTest fixture base for datapath tests: a
// Datapath with synchronous PMDs and ring ports p1..pN (port numbers 1..N),
// and at teardown every upcall and transmitted frame drained and the mempool
// checked for leaks; plus TestActions(), datapath actions from text.
//
// Design: tests fill in their DatapathOptions and call OpenDatapath() from
// SetUp (or from the test, when the options differ per test); TearDown does
// nothing if no datapath was opened. An optional EMC policy is passed the
// only way the Datapath allows, SLUICE_PMD_EMC, around Init (the PMDs read it
// when they are created).
//
// Thread-safety: test thread only. Memory: the datapath's mempool (n_mbufs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "datapath/actions/actions_format.h"
#include "datapath/dpif/datapath.h"
#include "datapath/packet/packet.h"
#include "tests/common/ring_port.h"

namespace sluice::testing {

inline dp::DpActionsPtr TestActions(const std::string& text) {
  std::vector<dp::DpAction> a;
  Status st = dp::ParseActions(text, &a);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return std::make_shared<const dp::DpActions>(a);
}

class RingDatapathTest : public ::testing::Test {
 protected:
  // Opens the datapath with `o` and adds n_ports ring ports; emc_policy (if
  // any) is set in SLUICE_PMD_EMC while the PMDs are created.
  void OpenDatapath(const dp::DatapathOptions& o, int n_ports, const char* emc_policy = nullptr) {
    if (emc_policy != nullptr) setenv("SLUICE_PMD_EMC", emc_policy, 1);
    dp_ = std::make_unique<dp::Datapath>(o);
    const bool ok = dp_->Init().ok();
    if (emc_policy != nullptr) unsetenv("SLUICE_PMD_EMC");
    ASSERT_TRUE(ok);
    for (int i = 0; i < n_ports; ++i) {
      ports_.push_back(RingPort::Make());
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i + 1);
      pc.devargs = ports_.back().devargs();
      uint32_t no = 0;
      ASSERT_TRUE(dp_->AddPort(pc, &no).ok());
      ASSERT_EQ(no, static_cast<uint32_t>(i + 1));
    }
    in_use_at_start_ = rte_mempool_in_use_count(dp_->pool());
  }

  void TearDown() override {
    if (!dp_) return;
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    for (auto& p : ports_) p.Drain();
    EXPECT_EQ(rte_mempool_in_use_count(dp_->pool()), in_use_at_start_) << "mbuf leak";
    dp_.reset();
  }

  std::unique_ptr<dp::Datapath> dp_;
  std::vector<RingPort> ports_;
  unsigned in_use_at_start_ = 0;
};

}  // namespace sluice::testing
