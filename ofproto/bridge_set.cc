#include "ofproto/bridge_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "datapath/packet/packet.h"
#include "ofproto/upcall_handler.h"

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
  for (auto& t : handlers_) {
    dp_->WakeUpcallHandlers();  // (again per thread: a woken one may drain another's wakeup)
    t.join();
  }
  handlers_.clear();
  std::unique_lock lock(mu_);
  if (!started_) return;
  started_ = false;
  for (auto& [name, br] : by_name_) br->Stop();
}

const std::shared_ptr<Ofproto>* BridgeSet::RouteLocked(const dp::Upcall& u) const {
  if (u.type == dp::UpcallType::kUserspace) {
    auto id = Ofproto::CookieBridge(u.cookie);
    if (!id) return nullptr;
    auto it = by_id_.find(*id);
    return it == by_id_.end() ? nullptr : &it->second;
  }
  auto it = by_port_.find(u.key.in_port);
  return it == by_port_.end() ? nullptr : &it->second;
}

size_t BridgeSet::HandleUpcalls(size_t max) {
  constexpr size_t kBatch = Ofproto::kUpcallBatch;
  dp::Upcall batch[kBatch];
  size_t total = 0;
  while (total < max) {
    const size_t n = dp_->RecvUpcalls(batch, std::min(kBatch, max - total));
    if (n == 0) break;
    total += n;
    // Route the batch under one shared lock; keep each bridge alive (one
    // reference per bridge, not per upcall) while its upcalls are handled.
    uint8_t owner[kBatch];  // index into bridges; kNone: no bridge
    constexpr uint8_t kNone = 0xff;
    std::vector<std::shared_ptr<Ofproto>> bridges;
    {
      std::shared_lock lock(mu_);
      for (size_t i = 0; i < n; ++i) {
        const std::shared_ptr<Ofproto>* br = RouteLocked(batch[i]);
        owner[i] = kNone;
        if (br == nullptr) continue;
        size_t b = 0;
        while (b < bridges.size() && bridges[b] != *br) ++b;
        if (b == bridges.size()) bridges.push_back(*br);
        owner[i] = static_cast<uint8_t>(b);
      }
    }
    size_t orphans = 0;
    for (size_t i = 0; i < n; ++i) {
      if (owner[i] != kNone) continue;
      ++orphans;
      rte_pktmbuf_free(batch[i].packet);
    }
    if (orphans) orphans_.fetch_add(orphans, std::memory_order_relaxed);
    if (bridges.size() == 1 && orphans == 0) {
      bridges[0]->HandleUpcallBatch(batch, n);  // the common case: no regrouping
      continue;
    }
    // Several bridges: each gets its upcalls, in the order received.
    dp::Upcall mine[kBatch];
    for (size_t b = 0; b < bridges.size(); ++b) {
      size_t m = 0;
      for (size_t i = 0; i < n; ++i) {
        if (static_cast<size_t>(owner[i]) == b) mine[m++] = batch[i];
      }
      bridges[b]->HandleUpcallBatch(mine, m);
    }
  }
  return total;
}

void BridgeSet::HandlerMain() {
  RunUpcallHandler(dp_, stop_, [this] { return HandleUpcalls(Ofproto::kUpcallBatch); },
                   park_timeout_ms_);
}

}  // namespace sluice::ofproto
