#include "offload/dp_offload.h"

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::offload {

// --- DispatchBackend --------------------------------------------------------------

void DispatchBackend::Attach(Eswitch* esw) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = owner_.find(esw->proxy_port_id());
  if (it != owner_.end() && it->second.first == esw) return;  // attached already
  eswitch_backends_.push_back(std::make_unique<EswitchBackend>(esw));
  EswitchBackend* b = eswitch_backends_.back().get();
  owner_[esw->proxy_port_id()] = {esw, b};
  for (uint16_t v = 1; v < esw->n_vports(); ++v) owner_[esw->representor_port_id(v)] = {esw, b};
}

Eswitch* DispatchBackend::EswitchOf(uint16_t ethdev) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = owner_.find(ethdev);
  return it == owner_.end() ? nullptr : it->second.first;
}

FlowBackend* DispatchBackend::For(uint16_t ethdev) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = owner_.find(ethdev);
  if (it == owner_.end()) return &rte_flow_;
  return it->second.second;
}

BackendStatus DispatchBackend::Validate(const RteFlowRule& rule) {
  return For(rule.port_id)->Validate(rule);
}

BackendStatus DispatchBackend::Create(const RteFlowRule& rule, FlowHandle* handle) {
  return For(rule.port_id)->Create(rule, handle);
}

BackendStatus DispatchBackend::Destroy(const FlowHandle& handle) {
  return For(handle.port_id)->Destroy(handle);
}

BackendStatus DispatchBackend::QueryCount(const FlowHandle& handle, bool reset,
                                          FlowCounters* out) {
  return For(handle.port_id)->QueryCount(handle, reset, out);
}

// --- DatapathOffload ----------------------------------------------------------------

namespace {
OffloadOptions ForDatapath(OffloadOptions o) {
  o.partial_deltas = false;  // software counts the packets partial rules mark
  return o;
}
}  // namespace

DatapathOffload::DatapathOffload(dp::Datapath* dp, const OffloadOptions& options)
    : dp_(dp),
      options_(ForDatapath(options)),
      backend_(std::make_unique<DispatchBackend>()),
      mgr_(std::make_unique<OffloadManager>(backend_.get(), options_)) {
  mgr_->SetMarkCallbacks(
      [this](const dp::Ufid& ufid, uint32_t mark) { dp_->MarkSet(this, ufid, mark); },
      [this](uint32_t mark) { dp_->MarkClear(this, mark); });
}

DatapathOffload::~DatapathOffload() {
  Stop();
  mgr_.reset();  // destroys every rule left (no Datapath calls)
  backend_.reset();
}

void DatapathOffload::AttachEswitch(Eswitch* esw) {
  backend_->Attach(esw);
  std::lock_guard<std::mutex> l(mu_);
  PublishLocked();  // ports announced before now may belong to it
}

void DatapathOffload::Start() { mgr_->Start(); }
void DatapathOffload::Stop() { mgr_->Stop(); }
size_t DatapathOffload::ProcessRequests(size_t max) { return mgr_->ProcessRequests(max); }
void DatapathOffload::QueryCounters() { mgr_->QueryCounters(); }
void DatapathOffload::WaitIdle() { mgr_->WaitIdle(); }
OffloadStats DatapathOffload::Stats() const { return mgr_->Stats(); }

bool DatapathOffload::Get(const dp::Ufid& ufid, FlowOffloadInfo* info) const {
  return mgr_->Get(ufid, info);
}

bool DatapathOffload::PortOf(uint32_t port_no, OffloadPort* out) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = ports_.find(port_no);
  if (it == ports_.end()) return false;
  *out = it->second;
  return true;
}

bool DatapathOffload::Describe(const Known& k, OffloadPort* out) const {
  const bool vf = k.config.unified_proxy != 0;
  if (Eswitch* esw = backend_->EswitchOf(k.ethdev)) {
    uint16_t vport = Eswitch::kUplink;
    if (vf) {
      if (k.config.unified_source_id > 0xffff ||
          !esw->VportOf(static_cast<uint16_t>(k.config.unified_source_id), &vport)) {
        return false;
      }
    } else if (k.ethdev != esw->proxy_port_id()) {
      for (uint16_t v = 1; v < esw->n_vports(); ++v) {
        if (esw->representor_port_id(v) == k.ethdev) vport = v;
      }
    }
    *out = esw->PortInfo(vport);
    return true;
  }
  // Any other ethdev: what the device says about its switch domain.
  OffloadPort p;
  rte_eth_dev_info info{};
  const bool have_info = rte_eth_dev_info_get(k.ethdev, &info) == 0;
  const bool in_domain =
      have_info && info.switch_info.domain_id != RTE_ETH_DEV_SWITCH_DOMAIN_ID_INVALID;
  p.domain_id = in_domain ? info.switch_info.domain_id : 0x10000u + k.ethdev;
  p.flow_port_id = vf ? static_cast<uint16_t>(k.config.unified_source_id) : k.ethdev;
  p.rx_port_id = k.ethdev;
  uint16_t proxy = k.ethdev;
  rte_flow_error error{};
  if (rte_flow_pick_transfer_proxy(k.ethdev, &proxy, &error) != 0) proxy = k.ethdev;
  p.proxy_port_id = proxy;
  p.n_rxq = have_info ? std::max<uint16_t>(1, info.nb_rx_queues) : 1;
  p.unified = vf;
  *out = p;
  return true;
}

void DatapathOffload::PublishLocked() {
  ports_.clear();
  PortMap map;
  for (const auto& [no, k] : known_) {
    OffloadPort p;
    if (!Describe(k, &p)) continue;
    ports_[no] = p;
    map.Set(no, p);
  }
  mgr_->SetPorts(std::move(map));
}

void DatapathOffload::PortAdded(uint32_t port_no, const dp::PortConfig& config,
                                uint16_t ethdev_port_id) {
  std::lock_guard<std::mutex> l(mu_);
  known_[port_no] = Known{config, ethdev_port_id};
  PublishLocked();
}

void DatapathOffload::PortDeleted(uint32_t port_no) {
  std::lock_guard<std::mutex> l(mu_);
  known_.erase(port_no);
  PublishLocked();
}

void DatapathOffload::FlowPut(const dp::Ufid& ufid, const dp::FlowKey& masked_key,
                              const dp::FlowMask& mask, const dp::DpActionsPtr& actions) {
  RetryDels();
  mgr_->Put(ufid, masked_key, mask, actions->actions());
}

void DatapathOffload::FlowDel(const dp::Ufid& ufid) {
  RetryDels();
  if (!mgr_->Del(ufid)) {
    // A put may be dropped (the flow stays in software), a delete must not
    // be (the rule would go on forwarding with stale actions): retry later.
    std::lock_guard<std::mutex> l(mu_);
    retry_dels_.push_back(ufid);
  }
}

void DatapathOffload::RetryDels() {
  std::lock_guard<std::mutex> l(mu_);
  while (!retry_dels_.empty() && mgr_->Del(retry_dels_.back())) retry_dels_.pop_back();
}

void DatapathOffload::TakeCounterDeltas(std::vector<dp::HwCounterDelta>* out) {
  RetryDels();
  for (const CounterDelta& d : mgr_->TakeCounterDeltas()) {
    out->push_back(dp::HwCounterDelta{d.ufid, d.packets, d.bytes});
  }
}

}  // namespace sluice::offload
