// The datapath's batch API for the slow path: RecvUpcalls, FlowPutBatch,
// ExecuteBatch, and the parked-handler wakeup (WaitForUpcalls), over net_ring
// ports with the PMD driven synchronously.
#include <gtest/gtest.h>
#include <rte_mempool.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "datapath/actions/actions_format.h"
#include "datapath/dpif/datapath.h"
#include "datapath/flow/flow_format.h"
#include "datapath/packet/packet.h"
#include "tests/common/ring_datapath.h"
#include "tests/common/ring_port.h"

namespace sluice::dp {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;

constexpr auto Actions = sluice::testing::TestActions;

class DpifBatchTest : public sluice::testing::RingDatapathTest {
 protected:
  void SetUp() override {
    DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 4096;
    OpenDatapath(o, 3);
  }
  // n misses from port 1, sources 10.0.0.1.. (one UDP source port each).
  void Misses(uint32_t n) {
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t i = 0; i < n; ++i) frames.push_back(UdpFrame(0x0a000001 + i, 0x0b000001, static_cast<uint16_t>(i), 53));
    ports_[0].Inject(dp_->pool(), frames);
    for (uint32_t got = 0; got < n;) got += dp_->PollAllOnce();
  }
  PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

};

TEST_F(DpifBatchTest, RecvUpcallsTakesAtMostMaxInOrder) {
  Misses(40);
  Upcall ups[64];
  ASSERT_EQ(dp_->RecvUpcalls(ups, 16), 16u);
  ASSERT_EQ(dp_->RecvUpcalls(ups + 16, 64), 24u);
  EXPECT_EQ(dp_->RecvUpcalls(ups, 64), 0u);
  for (uint32_t i = 0; i < 40; ++i) {
    EXPECT_EQ(ups[i].key.nw_src, Be32(0x0a000001 + i)) << i;
    rte_pktmbuf_free(ups[i].packet);
  }
}

TEST_F(DpifBatchTest, FlowPutBatchInstallsEachUfidOnce) {
  FlowKey k1, k2, mask;
  ASSERT_TRUE(ParseMatch("in_port(1),eth_type(0x0800),ipv4(src=10.0.0.1)", &k1, &mask).ok());
  ASSERT_TRUE(ParseMatch("in_port(1),eth_type(0x0800),ipv4(src=10.0.0.2)", &k2, &mask).ok());
  DpActionsPtr to2 = Actions("2"), to3 = Actions("3");
  FlowPutOp ops[5];
  const FlowKey* keys[5] = {&k1, &k1, &k2, &k1, &k2};
  const DpActionsPtr* acts[5] = {&to2, &to2, &to2, &to3, &to2};
  for (int i = 0; i < 5; ++i) {
    ops[i].key = keys[i];
    ops[i].mask = &mask;
    ops[i].actions = *acts[i];
    ops[i].pmd = 0;
  }
  ops[4].pmd = 7;  // no such PMD
  dp_->FlowPutBatch(ops, 5);
  EXPECT_EQ(ops[0].result, FlowPutOp::Result::kInstalled);
  EXPECT_EQ(ops[1].result, FlowPutOp::Result::kExists);
  EXPECT_EQ(ops[2].result, FlowPutOp::Result::kInstalled);
  EXPECT_EQ(ops[3].result, FlowPutOp::Result::kModified);
  EXPECT_EQ(ops[4].result, FlowPutOp::Result::kNoPmd);
  EXPECT_EQ(ops[0].ufid, ops[1].ufid);
  EXPECT_NE(ops[0].ufid, ops[2].ufid);
  EXPECT_EQ(dp_->FlowCount(), 2u);
  dp_->Sync();
  EXPECT_EQ(Counters().flows, 2u);
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(ops[0].ufid, &info));
  EXPECT_EQ(FormatActions(info.actions->actions()), "3");

  // The ufids FlowPut derives are the same.
  Ufid u;
  ASSERT_TRUE(dp_->FlowPut(k2, mask, to2, 0, &u).ok());
  EXPECT_EQ(u, ops[2].ufid);
  EXPECT_EQ(dp_->FlowCount(), 2u);
}

TEST_F(DpifBatchTest, FlowPutBatchStopsAtTheFlowLimit) {
  std::vector<FlowKey> keys(6);
  FlowKey mask;
  FlowPutOp ops[6];
  DpActionsPtr to2 = Actions("2");
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(ParseMatch("in_port(1),eth_type(0x0800),ipv4(src=10.0.0." + std::to_string(i + 1) + ")",
                           &keys[i], &mask).ok());
    ops[i].key = &keys[i];
    ops[i].mask = &mask;
    ops[i].actions = to2;
    ops[i].pmd = Datapath::kAllPmds;
  }
  ops[5].key = &keys[0];  // already there: not refused
  dp_->FlowPutBatch(ops, 6, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ops[i].result, FlowPutOp::Result::kInstalled) << i;
  EXPECT_EQ(ops[4].result, FlowPutOp::Result::kOverLimit);
  EXPECT_EQ(ops[5].result, FlowPutOp::Result::kExists);
  EXPECT_FALSE(ops[4].ok());
  EXPECT_EQ(dp_->FlowCount(), 4u);
}

TEST_F(DpifBatchTest, ExecuteBatchRunsInOrderAndFreesWhatItCannotRun) {
  Misses(5);
  Upcall ups[8];
  ASSERT_EQ(dp_->RecvUpcalls(ups, 8), 5u);
  DpActionsPtr to2 = Actions("2"), to3 = Actions("3");
  ExecuteOp ops[5];
  for (int i = 0; i < 5; ++i) {
    ops[i].pmd = 0;
    ops[i].packet = ups[i].packet;
    ops[i].in_port = 1;
    ops[i].layout = ups[i].layout;
    ops[i].actions = i == 3 ? to3 : to2;
  }
  ops[4].pmd = -3;  // no such PMD: freed, counted
  EXPECT_EQ(dp_->ExecuteBatch(ops, 5), 1u);
  dp_->Sync();
  auto out2 = ports_[1].Drain();
  ASSERT_EQ(out2.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out2[i][35], i) << "in order";  // UDP source port = op index
  EXPECT_EQ(ports_[2].Drain().size(), 1u);
  EXPECT_EQ(Counters().executed, 4u);
}

TEST_F(DpifBatchTest, WaitForUpcallsReturnsAtOnceWithBacklogAndTimesOutWithout) {
  EXPECT_FALSE(dp_->WaitForUpcalls(0));
  EXPECT_EQ(dp_->upcall_handlers_parked(), 0u);
  Misses(1);
  EXPECT_TRUE(dp_->WaitForUpcalls(-1));  // would block forever without the backlog check
  EXPECT_EQ(dp_->upcall_handlers_parked(), 0u);
  // No handler was parked: queuing the upcall made no wakeup (no syscall).
  EXPECT_EQ(dp_->upcall_wakeups(), 0u);
}

TEST_F(DpifBatchTest, ParkedHandlerIsWokenByTheFirstUpcall) {
  std::atomic<bool> returned{false};
  std::thread handler([&] {
    dp_->WaitForUpcalls(-1);  // no timeout: only a wakeup ends it
    returned = true;
  });
  while (dp_->upcall_handlers_parked() == 0) std::this_thread::yield();
  EXPECT_FALSE(returned.load());
  Misses(3);  // the first push wakes the handler, the others find nobody parked
  handler.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(dp_->upcall_wakeups(), 1u);
  EXPECT_EQ(dp_->upcall_handlers_parked(), 0u);
}

TEST_F(DpifBatchTest, WakeUpcallHandlersEndsAPark) {
  std::thread handler([&] { dp_->WaitForUpcalls(-1); });
  while (dp_->upcall_handlers_parked() == 0) std::this_thread::yield();
  dp_->WakeUpcallHandlers();
  handler.join();
  EXPECT_EQ(dp_->upcall_handlers_parked(), 0u);
}

}  // namespace
}  // namespace sluice::dp
