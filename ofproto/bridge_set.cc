#include "ofproto/bridge_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "datapath/packet/packet.h"

namespace sluice::ofproto {

BridgeSet::BridgeSet(dp::Datapath* dp, uint32_t n_handlers)
    : dp_(dp), n_handlers_(std::max<uint32_t>(1, n_handlers)) {}

BridgeSet::~BridgeSet() { Stop(); }

std::shared_ptr<Ofproto> BridgeSet::Add(OfprotoOptions options) {
  std::unique_lock lock(mu_);
  if (by_name_.count(options.name)) return nullptr;
  while (by_id_.count(next_id_) || next_id_ == 0) ++next_id_;
  options.id = next_id_++;
  options.n_handlers = 0;
  auto br = std::make_shared<Ofproto>(dp_, std::move(options));
  by_name_[br->name()] = br;
  by_id_[br->id()] = br;
  if (started_) br->Start();
  return br;
}

bool BridgeSet::Remove(const std::string& name) {
  std::shared_ptr<Ofproto> br;
  {
    std::unique_lock lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return false;
    br = it->second;
    by_name_.erase(it);
    by_id_.erase(br->id());
    for (auto p = by_port_.begin(); p != by_port_.end();) {
      p = p->second == br ? by_port_.erase(p) : std::next(p);
    }
  }
  br->Stop();
  br->DeleteMegaflows();
  return true;
}

std::shared_ptr<Ofproto> BridgeSet::Find(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Ofproto>> BridgeSet::All() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<Ofproto>> out;
  for (const auto& [name, br] : by_name_) out.push_back(br);
  return out;
}

size_t BridgeSet::size() const {
  std::shared_lock lock(mu_);
  return by_name_.size();
}

void BridgeSet::AttachPort(uint32_t port_no, const std::string& bridge) {
  std::unique_lock lock(mu_);
  auto it = by_name_.find(bridge);
  if (it == by_name_.end()) return;
  by_port_[port_no] = it->second;
}

void BridgeSet::DetachPort(uint32_t port_no) {
  std::unique_lock lock(mu_);
  by_port_.erase(port_no);
}

std::string BridgeSet::BridgeOf(uint32_t port_no) const {
  std::shared_lock lock(mu_);
  auto it = by_port_.find(port_no);
  return it == by_port_.end() ? "" : it->second->name();
}

void BridgeSet::Start() {
  {
    std::unique_lock lock(mu_);
    if (started_) return;
    started_ = true;
    for (auto& [name, br] : by_name_) br->Start();
  }
  stop_.store(false);
  for (uint32_t i = 0; i < n_handlers_; ++i) handlers_.emplace_back([this] { HandlerMain(); });
}

void BridgeSet::Stop() {
  stop_.store(true);
  for (auto& t : handlers_) t.join();
  handlers_.clear();
  std::unique_lock lock(mu_);
  if (!started_) return;
  started_ = false;
  for (auto& [name, br] : by_name_) br->Stop();
}

std::shared_ptr<Ofproto> BridgeSet::Route(const dp::Upcall& u) const {
  std::shared_lock lock(mu_);
  if (u.type == dp::UpcallType::kUserspace) {
    auto id = Ofproto::CookieBridge(u.cookie);
    if (!id) return nullptr;
    auto it = by_id_.find(*id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  auto it = by_port_.find(u.key.in_port);
  return it == by_port_.end() ? nullptr : it->second;
}

size_t BridgeSet::HandleUpcalls(size_t max) {
  size_t n = 0;
  dp::Upcall u;
  while (n < max && dp_->RecvUpcall(&u)) {
    ++n;
    if (auto br = Route(u)) {
      br->HandleUpcall(u);
    } else {
      orphans_.fetch_add(1, std::memory_order_relaxed);
      rte_pktmbuf_free(u.packet);
    }
  }
  return n;
}

void BridgeSet::HandlerMain() {
  // Idle backoff: 50 us after work, doubling per empty round up to 1 ms.
  // A fixed 100 us nap woke the handler ~6,600 times a second on an idle
  // switch, stealing timeslices from whatever shares its core (a VM's
  // vCPU, on a small hypervisor); now an idle handler wakes ~1,000 times a
  // second and a miss after a quiet spell waits at most 1 ms.
  uint32_t nap_us = kMinNapUs;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (HandleUpcalls(64) != 0) {
      nap_us = kMinNapUs;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
    nap_us = std::min(nap_us * 2, kMaxNapUs);
  }
}

}  // namespace sluice::ofproto
