// RteFlowBackend (offload/flow_backend.h) on a real ethdev without rte_flow
// support (net_ring, as every port on these machines): the real rte_flow_*
// calls refuse with the device's errno, the refusal maps to
// refused_by_device, and the offload manager leaves the flow in software
// and does not retry it.
#include <gtest/gtest.h>
#include <rte_ethdev.h>

#include <cerrno>
#include <cstring>

#include "offload/flow_backend.h"
#include "offload/flow_translate.h"
#include "offload/offload_thread.h"
#include "tests/common/ring_port.h"

namespace sluice::offload {
namespace {

uint16_t PortIdOf(const testing::RingPort& p) {
  uint16_t id = 0;
  EXPECT_EQ(rte_eth_dev_get_port_by_name(p.devargs().c_str(), &id), 0);
  return id;
}

struct Ports2 {
  testing::RingPort a = testing::RingPort::Make(), b = testing::RingPort::Make();
  uint16_t ida = PortIdOf(a), idb = PortIdOf(b);
  PortMap ports;
  dp::FlowKey key;
  dp::FlowMask mask;
  Ports2() {
    for (auto [dp_port, id] : {std::pair<uint32_t, uint16_t>{1, ida}, {2, idb}}) {
      OffloadPort p;
      p.domain_id = 1;
      p.flow_port_id = p.rx_port_id = id;
      p.proxy_port_id = ida;
      ports.Set(dp_port, p);
    }
    key.Clear();
    mask.Clear();
    key.in_port = 1;
    mask.in_port = 0xffffffffu;
  }
};

TEST(RteFlowBackend, DeviceWithoutRteFlowRefuses) {
  Ports2 s;
  RteFlowBackend backend;
  uint16_t proxy = 0xffff;
  rte_flow_error error{};
  // No flow ops at all (not merely no proxy method, where DPDK would return
  // the port itself): even picking the proxy fails with ENOSYS.
  EXPECT_EQ(rte_flow_pick_transfer_proxy(s.idb, &proxy, &error), -ENOSYS);
  for (Mode mode : {Mode::kFull, Mode::kPartial}) {
    RteFlowRule rule;
    ASSERT_TRUE(Translate(s.key, s.mask, {dp::DpAction::Output(2)}, s.ports, mode, &rule, 1).ok());
    BackendStatus v = backend.Validate(rule);
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(v.err, -ENOSYS) << v.message;
    EXPECT_EQ(v.reason, Reason::kRefusedByDevice);
    FlowHandle h;
    BackendStatus c = backend.Create(rule, &h);
    EXPECT_EQ(c.reason, Reason::kRefusedByDevice) << c.message;
    EXPECT_FALSE(h.valid());
  }
  FlowCounters counters;
  EXPECT_FALSE(backend.QueryCount(FlowHandle{s.ida, nullptr}, false, &counters).ok());
  // Not configured yet: negotiation is allowed; net_ring has no metadata to
  // negotiate, which reads as "nothing granted".
  EXPECT_EQ(RteFlowBackend::NegotiateRxMetadata(s.ida), 0u);
}

TEST(RteFlowBackend, ManagerKeepsTheFlowInSoftwareAndDoesNotRetry) {
  Ports2 s;
  RteFlowBackend backend;
  OffloadManager mgr(&backend, OffloadOptions{});
  mgr.SetPorts(s.ports);
  const dp::Ufid ufid{1, 2};
  for (int i = 0; i < 3; ++i) mgr.Put(ufid, s.key, s.mask, {dp::DpAction::Output(2)});
  mgr.ProcessRequests();
  FlowOffloadInfo info;
  ASSERT_TRUE(mgr.Get(ufid, &info));
  EXPECT_EQ(info.state, FlowState::kRefused);
  EXPECT_EQ(info.full_reason, Reason::kRefusedByDevice);
  EXPECT_EQ(info.reason, Reason::kRefusedByDevice);
  const OffloadStats st = mgr.Stats();
  EXPECT_EQ(st.skipped_refused, 2u);
  EXPECT_EQ(st.refusals[static_cast<int>(Reason::kRefusedByDevice)], 2u);
}

}  // namespace
}  // namespace sluice::offload
