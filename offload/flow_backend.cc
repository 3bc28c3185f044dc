#include "offload/flow_backend.h"

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <cerrno>

namespace sluice::offload {

BackendStatus BackendError(int err, const char* what, const rte_flow_error& error) {
  BackendStatus st;
  st.err = err < 0 ? err : -err;
  if (st.err == 0) st.err = -EIO;
  const int e = -st.err;
  if (e == ENOSPC) {
    st.reason = Reason::kTableFull;
  } else if (e == ENOTSUP || e == EINVAL || e == ENOSYS || e == EPERM) {
    st.reason = Reason::kRefusedByDevice;
  } else {
    st.reason = Reason::kDeviceError;
  }
  st.message = fmt::format("{}: {} ({})", what, error.message ? error.message : "no message",
                           rte_strerror(e));
  return st;
}

int RteFlowBackend::RulePort(const RteFlowRule& rule, uint16_t* port, rte_flow_error* error) {
  *port = rule.port_id;
  if (!rule.attr.transfer) return 0;
  return rte_flow_pick_transfer_proxy(rule.port_id, port, error);
}

BackendStatus RteFlowBackend::Validate(const RteFlowRule& rule) {
  rte_flow_error error{};
  uint16_t port;
  int rc = RulePort(rule, &port, &error);
  if (rc == 0)
    rc = rte_flow_validate(port, &rule.attr, rule.pattern(), rule.action_array(), &error);
  return rc == 0 ? BackendStatus{} : BackendError(rc, "validate", error);
}

BackendStatus RteFlowBackend::Create(const RteFlowRule& rule, FlowHandle* handle) {
  rte_flow_error error{};
  uint16_t port;
  int rc = RulePort(rule, &port, &error);
  if (rc != 0) return BackendError(rc, "pick transfer proxy", error);
  rte_flow* flow = rte_flow_create(port, &rule.attr, rule.pattern(), rule.action_array(), &error);
  if (flow == nullptr) return BackendError(-rte_errno, "create", error);
  handle->port_id = port;
  handle->flow = flow;
  return {};
}

BackendStatus RteFlowBackend::Destroy(const FlowHandle& handle) {
  rte_flow_error error{};
  int rc = rte_flow_destroy(handle.port_id, static_cast<rte_flow*>(handle.flow), &error);
  return rc == 0 ? BackendStatus{} : BackendError(rc, "destroy", error);
}

BackendStatus RteFlowBackend::QueryCount(const FlowHandle& handle, bool reset, FlowCounters* out) {
  rte_flow_error error{};
  rte_flow_query_count q{};
  q.reset = reset ? 1 : 0;
  rte_flow_action_count conf{};
  const rte_flow_action action{RTE_FLOW_ACTION_TYPE_COUNT, &conf};
  int rc = rte_flow_query(handle.port_id, static_cast<rte_flow*>(handle.flow), &action, &q, &error);
  if (rc != 0) return BackendError(rc, "query", error);
  out->hits = q.hits_set ? q.hits : 0;
  out->bytes = q.bytes_set ? q.bytes : 0;
  return {};
}

uint64_t RteFlowBackend::NegotiateRxMetadata(uint16_t port_id) {
  uint64_t features = RTE_ETH_RX_METADATA_USER_MARK | RTE_ETH_RX_METADATA_USER_FLAG;
  int rc = rte_eth_rx_metadata_negotiate(port_id, &features);
  return rc == 0 ? features : 0;
}

}  // namespace sluice::offload
