#include "offload/offload_thread.h"

#include <fmt/format.h>

#include <cstring>

namespace sluice::offload {

namespace {

bool SameFlow(const dp::FlowKey& k1, const dp::FlowMask& m1, const std::vector<dp::DpAction>& a1,
              const dp::FlowKey& k2, const dp::FlowMask& m2, const std::vector<dp::DpAction>& a2) {
  dp::FlowKey x, y;
  MaskKeyBytes(k1, m1, &x);
  MaskKeyBytes(k2, m2, &y);
  return std::memcmp(&x, &y, sizeof(x)) == 0 && std::memcmp(&m1, &m2, sizeof(m1)) == 0 && a1 == a2;
}

}  // namespace

const char* FlowStateName(FlowState s) {
  switch (s) {
    case FlowState::kPending:
      return "pending";
    case FlowState::kFull:
      return "full";
    case FlowState::kPartial:
      return "partial";
    case FlowState::kRefused:
      return "refused";
  }
  return "?";
}

std::string FormatOffloadStats(const OffloadStats& s) {
  std::string out = fmt::format(
      "flows: full {} partial {} refused {} pending {}\n"
      "requests: puts {} dels {} skipped_refused {} queue_depth {} queue_drops {}\n"
      "rules: inserted {} removed {} modified {} full_fallbacks {} insertion_rate {:.1f}/s\n"
      "errors: destroy {} query {}\n"
      "refusals:",
      s.n_full, s.n_partial, s.n_refused, s.n_pending, s.puts, s.dels, s.skipped_refused,
      s.queue_depth, s.queue_drops, s.insertions, s.removals, s.modifications, s.full_fallbacks,
      s.insertion_rate, s.destroy_errors, s.query_errors);
  for (int i = 1; i < static_cast<int>(Reason::kCount); ++i) {
    if (s.refusals[i])
      out += fmt::format(" {} {}", ReasonName(static_cast<Reason>(i)), s.refusals[i]);
  }
  return out + "\n";
}

OffloadManager::OffloadManager(FlowBackend* backend, const OffloadOptions& options)
    : backend_(backend), options_(options), ports_(std::make_shared<PortMap>()) {}

OffloadManager::~OffloadManager() {
  Stop();
  std::lock_guard<std::mutex> w(work_mu_);
  for (auto& [ufid, f] : flows_) {
    if (f.handle.valid()) backend_->Destroy(f.handle);
  }
}

void OffloadManager::SetMarkCallbacks(MarkSetFn set, MarkClearFn clear) {
  std::lock_guard<std::mutex> w(work_mu_);
  mark_set_ = std::move(set);
  mark_clear_ = std::move(clear);
}

void OffloadManager::ReleaseMark(const Flow& f) {
  if (f.info.mark != 0 && f.handle.valid() && mark_clear_) mark_clear_(f.info.mark);
}

void OffloadManager::SetPorts(PortMap ports) {
  auto p = std::make_shared<const PortMap>(std::move(ports));
  std::lock_guard<std::mutex> l(mu_);
  ports_ = std::move(p);
}

bool OffloadManager::Put(const dp::Ufid& ufid, const dp::FlowKey& key, const dp::FlowMask& mask,
                         std::vector<dp::DpAction> actions) {
  std::lock_guard<std::mutex> l(mu_);
  if (queue_.size() >= options_.queue_limit) {
    ++stats_.queue_drops;
    return false;
  }
  flows_.try_emplace(ufid);  // a new flow shows as pending until applied
  queue_.push_back(Request{false, ufid, key, mask, std::move(actions)});
  cv_.notify_one();
  return true;
}

bool OffloadManager::Del(const dp::Ufid& ufid) {
  std::lock_guard<std::mutex> l(mu_);
  if (queue_.size() >= options_.queue_limit) {
    ++stats_.queue_drops;
    return false;
  }
  Request r;
  r.del = true;
  r.ufid = ufid;
  queue_.push_back(std::move(r));
  cv_.notify_one();
  return true;
}

size_t OffloadManager::ProcessRequests(size_t max) {
  std::lock_guard<std::mutex> w(work_mu_);
  size_t n = 0;
  while (n < max) {
    Request r;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (queue_.empty()) break;
      r = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    Apply(r);
    ++n;
    std::lock_guard<std::mutex> l(mu_);
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
  return n;
}

void OffloadManager::Apply(Request& r) {
  if (r.del) {
    ApplyDel(r.ufid);
  } else {
    ApplyPut(r);
  }
}

uint32_t OffloadManager::AllocMark() {
  std::lock_guard<std::mutex> l(mu_);
  if (!free_marks_.empty()) {
    uint32_t m = free_marks_.front();
    free_marks_.pop_front();
    return m;
  }
  return next_mark_ <= options_.max_mark ? next_mark_++ : 0;
}

void OffloadManager::FreeMark(uint32_t mark) {
  if (mark == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  marks_.erase(mark);
  free_marks_.push_back(mark);
}

OffloadManager::Installed OffloadManager::Install(const Request& r, const PortMap& ports) {
  Installed in;
  RteFlowRule rule;
  if (options_.full) {
    TranslateResult t = Translate(r.key, r.mask, r.actions, ports, Mode::kFull, &rule);
    if (t.ok()) {
      BackendStatus st = backend_->Create(rule, &in.handle);
      if (st.ok()) {
        in.state = FlowState::kFull;
        return in;
      }
      in.reason = st.reason;
      in.detail = st.message;
    } else {
      in.reason = t.reason;
      in.detail = t.detail;
    }
    in.full_reason = in.reason;
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.refusals[static_cast<int>(in.reason)];
  }
  if (options_.partial) {
    const uint32_t mark = AllocMark();
    if (mark == 0) {
      in.reason = Reason::kTableFull;
      in.detail = "no free MARK id";
    } else {
      TranslateResult t = Translate(r.key, r.mask, r.actions, ports, Mode::kPartial, &rule, mark);
      if (t.ok()) {
        BackendStatus st = backend_->Create(rule, &in.handle);
        if (st.ok()) {
          in.state = FlowState::kPartial;
          in.mark = mark;
          {
            std::lock_guard<std::mutex> l(mu_);
            if (options_.full) ++stats_.full_fallbacks;
            marks_[mark] = r.ufid;
          }
          if (mark_set_) mark_set_(r.ufid, mark);
          return in;
        }
        in.reason = st.reason;
        in.detail = st.message;
      } else {
        in.reason = t.reason;
        in.detail = t.detail;
      }
      FreeMark(mark);
    }
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.refusals[static_cast<int>(in.reason)];
  }
  in.state = FlowState::kRefused;
  return in;
}

void OffloadManager::ApplyPut(Request& r) {
  std::shared_ptr<const PortMap> ports;
  Flow* existing = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.puts;
    ports = ports_;
    auto it = flows_.find(r.ufid);
    if (it != flows_.end() && it->second.applied) {
      Flow& f = it->second;
      if (SameFlow(f.key, f.mask, f.actions, r.key, r.mask, r.actions)) {
        // Already offloaded, or refused before: remembered, not retried.
        if (f.info.state == FlowState::kRefused) ++stats_.skipped_refused;
        return;
      }
      existing = &f;  // only the worker erases flows, so this stays valid
    }
  }
  Installed in = Install(r, *ports);

  if (existing != nullptr && existing->handle.valid()) {
    // Make-before-break: the new rule exists; fold the old one's counters
    // and remove it.
    ReadCounters(r.ufid, existing);
    ReleaseMark(*existing);
    BackendStatus st = backend_->Destroy(existing->handle);
    std::lock_guard<std::mutex> l(mu_);
    if (!st.ok()) ++stats_.destroy_errors;
    ++stats_.removals;
  }
  if (existing != nullptr) FreeMark(existing->info.mark);

  std::lock_guard<std::mutex> l(mu_);
  Flow& f = flows_[r.ufid];
  if (existing != nullptr) ++stats_.modifications;
  f.key = r.key;
  f.mask = r.mask;
  f.actions = std::move(r.actions);
  f.handle = in.handle;
  f.applied = true;
  f.base_hits = f.base_bytes = 0;
  f.info.state = in.state;
  f.info.mark = in.mark;
  f.info.full_reason = in.full_reason;
  f.info.reason = in.state == FlowState::kRefused ? in.reason : Reason::kOk;
  f.info.detail = in.detail;
  if (in.state == FlowState::kFull || in.state == FlowState::kPartial) {
    ++stats_.insertions;
    const auto now = std::chrono::steady_clock::now();
    if (rate_count_ == 0) rate_start_ = now;
    ++rate_count_;
    const double secs = std::chrono::duration<double>(now - rate_start_).count();
    if (secs >= 1.0) {
      stats_.insertion_rate = rate_count_ / secs;
      rate_count_ = 0;
    } else if (secs > 0) {
      stats_.insertion_rate = rate_count_ / secs;
    }
  }
}

void OffloadManager::ApplyDel(const dp::Ufid& ufid) {
  Flow* f = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.dels;
    auto it = flows_.find(ufid);
    if (it == flows_.end()) return;
    f = &it->second;
  }
  if (f->handle.valid()) {
    ReadCounters(ufid, f);
    ReleaseMark(*f);
    BackendStatus st = backend_->Destroy(f->handle);
    std::lock_guard<std::mutex> l(mu_);
    if (!st.ok()) ++stats_.destroy_errors;
    ++stats_.removals;
  }
  FreeMark(f->info.mark);
  std::lock_guard<std::mutex> l(mu_);
  flows_.erase(ufid);
}

void OffloadManager::ReadCounters(const dp::Ufid& ufid, Flow* f) {
  FlowCounters c;
  BackendStatus st = backend_->QueryCount(f->handle, /*reset=*/false, &c);
  std::lock_guard<std::mutex> l(mu_);
  if (!st.ok()) {
    ++stats_.query_errors;
    return;
  }
  // A counter that went backwards was reset by the device: start again.
  const uint64_t dh = c.hits >= f->base_hits ? c.hits - f->base_hits : c.hits;
  const uint64_t db = c.bytes >= f->base_bytes ? c.bytes - f->base_bytes : c.bytes;
  f->base_hits = c.hits;
  f->base_bytes = c.bytes;
  f->info.hw_packets += dh;
  f->info.hw_bytes += db;
  if (dh == 0 && db == 0) return;
  if (f->info.state == FlowState::kPartial && !options_.partial_deltas) return;
  CounterDelta& d = deltas_[ufid];
  d.ufid = ufid;
  d.packets += dh;
  d.bytes += db;
}

void OffloadManager::QueryCounters() {
  std::lock_guard<std::mutex> w(work_mu_);
  std::vector<std::pair<dp::Ufid, Flow*>> todo;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [ufid, f] : flows_) {
      if (f.handle.valid()) todo.emplace_back(ufid, &f);
    }
  }
  // Only the worker (we hold work_mu_) erases flows: the pointers stay valid.
  for (auto& [ufid, f] : todo) ReadCounters(ufid, f);
}

std::vector<CounterDelta> OffloadManager::TakeCounterDeltas() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<CounterDelta> out;
  out.reserve(deltas_.size());
  for (auto& [ufid, d] : deltas_) out.push_back(d);
  deltas_.clear();
  return out;
}

bool OffloadManager::Get(const dp::Ufid& ufid, FlowOffloadInfo* info) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = flows_.find(ufid);
  if (it == flows_.end()) return false;
  *info = it->second.info;
  return true;
}

bool OffloadManager::UfidOfMark(uint32_t mark, dp::Ufid* ufid) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = marks_.find(mark);
  if (it == marks_.end()) return false;
  *ufid = it->second;
  return true;
}

OffloadStats OffloadManager::Stats() const {
  std::lock_guard<std::mutex> l(mu_);
  OffloadStats s = stats_;
  s.queue_depth = queue_.size();
  for (const auto& [ufid, f] : flows_) {
    switch (f.info.state) {
      case FlowState::kFull:
        ++s.n_full;
        break;
      case FlowState::kPartial:
        ++s.n_partial;
        break;
      case FlowState::kRefused:
        ++s.n_refused;
        break;
      case FlowState::kPending:
        ++s.n_pending;
        break;
    }
  }
  return s;
}

void OffloadManager::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void OffloadManager::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!thread_.joinable()) return;
    stop_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void OffloadManager::Run() {
  const auto interval = std::chrono::milliseconds(options_.counter_interval_ms);
  auto next_query = std::chrono::steady_clock::now() + interval;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_until(l, next_query, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
    }
    ProcessRequests(64);  // a batch, then check the counter clock
    if (std::chrono::steady_clock::now() >= next_query) {
      QueryCounters();
      next_query = std::chrono::steady_clock::now() + interval;
    }
  }
}

void OffloadManager::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [&] { return queue_.empty() && !busy_; });
}

}  // namespace sluice::offload
