#include "ofproto/ofproto.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"
#include "ofproto/upcall_handler.h"

namespace sluice::ofproto {

namespace {
// A controller cookie: tag (8 bits) | bridge id (16) | unused (8) | request index (32).
constexpr uint64_t kControllerCookieTag = uint64_t{0x5c} << 56;
constexpr uint64_t kControllerCookieTagMask = uint64_t{0xff} << 56;
constexpr int kCookieBridgeShift = 40;
constexpr uint64_t kCookieIndexMask = 0xffffffffull;
}  // namespace

OfFlow FlowFromKey(const dp::FlowKey& key) {
  OfFlow f;
  f.Clear();
  f.dp = key;
  return f;
}

Ofproto::Ofproto(dp::Datapath* dp, OfprotoOptions options)
    : dp_(dp),
      options_(std::move(options)),
      mac_(MacLearningOptions{options_.mac_max_entries, options_.mac_aging_s}),
      flow_limit_(options_.flow_limit) {
  if (!options_.clock) options_.clock = [] { return dp::Pmd::NowMs(); };
  miss_to_controller_ = options_.miss_to_controller;
  Validator v;
  v.group = [this](uint32_t group) -> OfpResult {
    if (groups_.Find(group)) return std::nullopt;
    return MakeError(ofperr::kBadAction, ofperr::kBadActionBadOutGroup,
                     fmt::format("no group {}", group));
  };
  // OpenFlow 1.3 leaves the error for a missing meter open; like Open
  // vSwitch, Sluice answers OFPET_METER_MOD_FAILED / OFPMMFC_UNKNOWN_METER.
  v.meter = [this](uint32_t meter) -> OfpResult {
    if (meters_.Find(meter)) return std::nullopt;
    return MakeError(ofperr::kMeterModFailed, ofperr::kMeterUnknown,
                     fmt::format("no meter {}", meter));
  };
  tables_.set_validator(std::move(v));
}

Ofproto::~Ofproto() { Stop(); }

void Ofproto::Start() {
  stop_.store(false);
  for (uint32_t i = 0; i < options_.n_handlers; ++i) {
    handlers_.emplace_back([this] { HandlerMain(); });
  }
  revalidator_ = std::thread([this] { RevalidatorMain(); });
}

void Ofproto::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_.store(true);
  }
  stop_cv_.notify_all();
  for (auto& t : handlers_) {
    dp_->WakeUpcallHandlers();  // (again per thread: a woken one may drain another's wakeup)
    t.join();
  }
  handlers_.clear();
  if (revalidator_.joinable()) revalidator_.join();
}

void Ofproto::HandlerMain() {
  RunUpcallHandler(dp_, stop_, [this] { return HandleUpcalls(kUpcallBatch); });
}

void Ofproto::RevalidatorMain() {
  // Sleeps until the next pass is due (or Stop()), not in short naps: an
  // idle bridge wakes once per revalidate_interval_ms.
  const auto interval = std::chrono::milliseconds(options_.revalidate_interval_ms);
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
  std::unique_lock lock(stop_mu_);
  while (!stop_.load(std::memory_order_relaxed)) {
    if (stop_cv_.wait_until(lock, next, [this] { return stop_.load(std::memory_order_relaxed); })) break;
    lock.unlock();
    Revalidate();
    lock.lock();
    next = std::chrono::steady_clock::now() + interval;
  }
}

// --- Ports ---

void Ofproto::SetPort(const XlatePort& port) {
  std::unique_lock lock(mu_);
  auto it = std::lower_bound(ports_.begin(), ports_.end(), port.ofport,
                             [](const XlatePort& p, uint32_t n) { return p.ofport < n; });
  if (it != ports_.end() && it->ofport == port.ofport) {
    *it = port;
  } else {
    ports_.insert(it, port);
  }
  ++ports_version_;
}

void Ofproto::RemovePort(uint32_t ofport) {
  std::unique_lock lock(mu_);
  std::erase_if(ports_, [ofport](const XlatePort& p) { return p.ofport == ofport; });
  mac_.FlushPort(ofport, FlushStatic::kRemove);
  ++ports_version_;
}

void Ofproto::SetPortLive(uint32_t ofport, bool live) {
  std::unique_lock lock(mu_);
  for (auto& p : ports_) {
    if (p.ofport == ofport && p.live != live) {
      p.live = live;
      if (!live) mac_.FlushPort(ofport);
      ++ports_version_;
    }
  }
}

std::vector<XlatePort> Ofproto::Ports() const {
  std::shared_lock lock(mu_);
  return ports_;
}

// --- Translation environment ---

XlateEnv Ofproto::EnvLocked(uint64_t now_ms) const {
  XlateEnv env;
  env.tables = &tables_;
  env.groups = &groups_;
  env.mac = const_cast<MacLearning*>(&mac_);
  env.ports = ports_;
  env.now_ms = now_ms;
  env.miss_to_controller = miss_to_controller_;
  env.controller_cookie = [this](const ControllerRequest& r) {
    return const_cast<Ofproto*>(this)->ControllerCookie(r);
  };
  return env;
}

uint64_t Ofproto::InputsVersionLocked() const {
  return tables_.version() + groups_.version() + ports_version_ + mac_.generation() +
         (miss_to_controller_ ? 1 : 0);
}

uint64_t Ofproto::ControllerCookie(const ControllerRequest& r) {
  std::lock_guard lock(cookie_mu_);
  auto key = std::make_tuple(static_cast<uint8_t>(r.reason), r.table_id, r.max_len, r.rule_cookie,
                             r.metadata);
  auto it = controller_index_.find(key);
  uint32_t id;
  if (it != controller_index_.end()) {
    id = it->second;
  } else {
    id = static_cast<uint32_t>(controller_requests_.size());
    controller_requests_.push_back(r);
    controller_index_.emplace(key, id);
  }
  return kControllerCookieTag | uint64_t{options_.id} << kCookieBridgeShift | id;
}

std::optional<uint16_t> Ofproto::CookieBridge(uint64_t cookie) {
  if ((cookie & kControllerCookieTagMask) != kControllerCookieTag) return std::nullopt;
  return static_cast<uint16_t>(cookie >> kCookieBridgeShift);
}

bool Ofproto::DecodeControllerCookie(uint64_t cookie, ControllerRequest* r) const {
  if (CookieBridge(cookie) != options_.id) return false;
  uint64_t id = cookie & kCookieIndexMask;
  std::lock_guard lock(const_cast<std::mutex&>(cookie_mu_));
  if (id >= controller_requests_.size()) return false;
  *r = controller_requests_[id];
  return true;
}

// --- OpenFlow operations ---

void Ofproto::EmitRemoved(std::vector<FlowRemoved>& removed) {
  if (removed.empty()) return;
  std::lock_guard lock(listener_mu_);
  if (!flow_removed_listener_) return;
  for (const auto& r : removed) flow_removed_listener_(r);
}

OfpResult Ofproto::FlowMod(const ofproto::FlowMod& fm) {
  std::vector<FlowRemoved> removed;
  OfpResult e;
  {
    std::unique_lock lock(mu_);
    e = tables_.Apply(fm, options_.clock(), &removed);
  }
  EmitRemoved(removed);
  return e;
}

OfpResult Ofproto::GroupMod(const ofproto::GroupMod& gm) {
  std::vector<FlowRemoved> removed;
  OfpResult e;
  {
    std::unique_lock lock(mu_);
    std::vector<uint32_t> deleted;
    e = groups_.Apply(gm, options_.clock(), &deleted);
    // OpenFlow: deleting a group deletes the rules that use it.
    for (uint32_t id : deleted) tables_.RemoveRulesUsingGroup(id, &removed);
  }
  EmitRemoved(removed);
  return e;
}

OfpResult Ofproto::MeterMod(const ofproto::MeterMod& mm) {
  std::vector<FlowRemoved> removed;
  OfpResult e;
  {
    std::unique_lock lock(mu_);
    if ((e = meters_.Validate(mm))) return e;
    // The datapath first, so that the bridge never shows a meter it does
    // not enforce (it can only refuse what validation let through if it is
    // not initialised).
    if (mm.command != MeterMod::Command::kDelete) {
      Meter m;
      m.id = mm.meter_id;
      m.flags = mm.flags;
      m.bands = mm.bands;
      Status st = dp_->MeterSet(ToDatapathMeter(m));
      if (!st.ok()) return MakeError(ofperr::kMeterModFailed, ofperr::kMeterOutOfMeters, st.message());
    }
    std::vector<uint32_t> deleted;
    e = meters_.Apply(mm, options_.clock(), nullptr, &deleted);
    // OpenFlow: deleting a meter deletes the rules that use it.
    for (uint32_t id : deleted) {
      dp_->MeterDel(id).ok();
      tables_.RemoveRulesUsingMeter(id, &removed);
    }
  }
  EmitRemoved(removed);
  return e;
}

std::vector<MeterInfo> Ofproto::Meters() const {
  std::shared_lock lock(mu_);
  std::vector<MeterInfo> out;
  for (const auto& [id, m] : meters_.meters()) {
    MeterInfo info;
    info.meter = m;
    dp_->MeterStats(id, &info.stats);
    out.push_back(std::move(info));
  }
  return out;
}

OfpResult Ofproto::PacketOut(const uint8_t* data, uint32_t len, uint32_t in_port,
                             const OfActionList& actions) {
  alignas(64) dp::FlowKey key;
  dp::PacketLayout layout;
  dp::ParseStatus st = dp::ParseFlow(data, len, in_port, &key, &layout);
  if (st != dp::ParseStatus::kOk && st != dp::ParseStatus::kTooShort) {
    // Still send it: the controller asked for these bytes to go out.
    key.in_port = in_port;
  }
  XlateResult r;
  {
    std::shared_lock lock(mu_);
    XlateEnv env = EnvLocked();
    XlateActions(env, FlowFromKey(key), actions, &r);
  }
  rte_mbuf* m = dp::PacketFromBytes(dp_->pool(), data, len);
  if (!m) return MakeError(ofperr::kBadRequest, 0, "no packet buffer for packet-out");
  Status s = dp_->Execute(0, m, in_port, layout, std::make_shared<const dp::DpActions>(r.actions));
  if (!s.ok()) return MakeError(ofperr::kBadRequest, 0, s.message());
  stats_.packet_outs.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

std::vector<OfRulePtr> Ofproto::Flows(uint8_t table_id, const OfMatch& match, uint64_t cookie,
                                      uint64_t cookie_mask, uint32_t out_port,
                                      uint32_t out_group) const {
  std::shared_lock lock(mu_);
  return tables_.Select(table_id, match, cookie, cookie_mask, out_port, out_group);
}

TableStats Ofproto::TableStatsOf(uint8_t table) const {
  std::shared_lock lock(mu_);
  return tables_.Stats(table);
}

std::vector<Group> Ofproto::Groups() const {
  std::shared_lock lock(mu_);
  std::vector<Group> out;
  for (const auto& [id, g] : groups_.groups()) out.push_back(g.Snapshot());
  return out;
}

void Ofproto::CreditGroups(const std::vector<std::pair<uint32_t, int>>& groups, uint64_t packets,
                           uint64_t bytes) {
  std::shared_lock lock(mu_);
  CreditGroupsLocked(groups, packets, bytes);
}

void Ofproto::CreditGroupsLocked(const std::vector<std::pair<uint32_t, int>>& groups,
                                 uint64_t packets, uint64_t bytes) const {
  for (auto [id, bucket] : groups) {
    const Group* g = groups_.Find(id);
    if (!g || !g->counters) continue;  // deleted since the translation
    if (bucket == -2) {
      g->counters->Add(-1, packets, bytes);
      for (size_t b = 0; b < g->buckets.size(); ++b) {
        g->counters->bucket_packets[b].fetch_add(packets, std::memory_order_relaxed);
        g->counters->bucket_bytes[b].fetch_add(bytes, std::memory_order_relaxed);
      }
    } else {
      g->counters->Add(bucket, packets, bytes);
    }
  }
}

std::vector<std::string> Ofproto::Trace(const OfFlow& flow, const OfMask* given) {
  std::vector<std::string> lines;
  XlateResult r;
  r.trace = &lines;
  {
    std::shared_lock lock(mu_);
    XlateEnv env = EnvLocked();
    env.learn = false;  // a trace must not learn
    // Show the fields the user gave (or, without a mask, the non-zero
    // bytes), not 128 bytes of zeros.
    dp::FlowMask shown;
    shown.Clear();
    if (given) {
      shown = given->dp;
    } else {
      const auto* in = reinterpret_cast<const uint8_t*>(&flow.dp);
      auto* out = reinterpret_cast<uint8_t*>(&shown);
      for (size_t i = 0; i < sizeof(dp::FlowKey); ++i) out[i] = in[i] ? 0xff : 0;
    }
    shown.in_port = 0xffffffff;
    lines.push_back("flow: " + dp::FormatMatch(flow.dp, shown));
    Xlate(env, flow, &r);
  }
  alignas(64) dp::FlowKey masked;
  dp::MaskKey(flow.dp, r.wc.dp, &masked);
  lines.push_back("megaflow: " + dp::FormatMatch(masked, r.wc.dp));
  lines.push_back("datapath actions: " + dp::FormatActions(r.actions));
  if (r.error != XlateResult::Error::kNone) {
    lines.push_back(std::string("error: ") + XlateErrorName(r.error));
  }
  return lines;
}

void Ofproto::set_packet_in_listener(std::function<void(const PacketIn&)> f) {
  std::lock_guard lock(listener_mu_);
  packet_in_listener_ = std::move(f);
}

void Ofproto::set_flow_removed_listener(std::function<void(const FlowRemoved&)> f) {
  std::lock_guard lock(listener_mu_);
  flow_removed_listener_ = std::move(f);
}

void Ofproto::set_miss_to_controller(bool on) {
  std::unique_lock lock(mu_);
  miss_to_controller_ = on;
}

// --- Upcalls ---

namespace {

// One translation of an upcall batch and the misses that share it.
struct alignas(64) BatchXlate {
  dp::FlowKey masked;  // the first miss's key under r.wc.dp
  XlateResult r;
  dp::DpActionsPtr actions;
  const dp::Upcall* first = nullptr;  // the miss that was translated
  uint32_t hash = 0;                  // FlowKeyHash(masked), when mask_slot >= 0
  int mask_slot = -1;                 // index in BatchScratch::masks; -1: not looked up
  uint32_t packets = 0;               // misses executed with it
  uint64_t bytes = 0;
};

// Per handler thread, reused batch after batch (the vectors in the
// translations keep their capacity).
struct BatchScratch {
  static constexpr int kMaxMasks = 8;  // distinct megaflow masks looked up per batch
  BatchXlate xl[Ofproto::kUpcallBatch];
  uint8_t xl_of[Ofproto::kUpcallBatch];  // per miss: its translation
  const dp::FlowMask* masks[kMaxMasks];
  int n_masks = 0;
  dp::FlowPutOp puts[Ofproto::kUpcallBatch];
  dp::ExecuteOp execs[Ofproto::kUpcallBatch];
  // The last few action lists made: megaflows with equal actions share one.
  static constexpr size_t kRecent = 4;
  dp::DpActionsPtr recent[kRecent];
  size_t recent_next = 0;
};

BatchScratch& Scratch() {
  static thread_local BatchScratch s;
  return s;
}

// The translation in s.xl[0..n_xl) whose megaflow covers `u` on u's PMD, or -1.
int FindBatchXlate(const BatchScratch& s, size_t n_xl, const dp::Upcall& u) {
  alignas(64) dp::FlowKey masked;
  for (int m = 0; m < s.n_masks; ++m) {
    dp::MaskKey(u.key, *s.masks[m], &masked);
    const uint32_t h = dp::FlowKeyHash(masked);
    for (size_t t = 0; t < n_xl; ++t) {
      const BatchXlate& x = s.xl[t];
      if (x.hash == h && x.mask_slot == m && x.first->pmd_index == u.pmd_index &&
          std::memcmp(&x.masked, &masked, sizeof(masked)) == 0) {
        return static_cast<int>(t);
      }
    }
  }
  return -1;
}

int MaskSlot(BatchScratch& s, const dp::FlowMask& mask) {
  for (int m = 0; m < s.n_masks; ++m) {
    if (std::memcmp(s.masks[m], &mask, sizeof(mask)) == 0) return m;
  }
  if (s.n_masks == BatchScratch::kMaxMasks) return -1;
  s.masks[s.n_masks] = &mask;
  return s.n_masks++;
}

dp::DpActionsPtr InternActions(BatchScratch& s, const std::vector<dp::DpAction>& actions) {
  for (const auto& p : s.recent) {
    if (p && p->actions() == actions) return p;
  }
  auto p = std::make_shared<const dp::DpActions>(actions);
  s.recent[s.recent_next] = p;
  s.recent_next = (s.recent_next + 1) % BatchScratch::kRecent;
  return p;
}

}  // namespace

size_t Ofproto::HandleUpcalls(size_t max) {
  dp::Upcall batch[kUpcallBatch];
  size_t total = 0;
  while (total < max) {
    const size_t n = dp_->RecvUpcalls(batch, std::min(kUpcallBatch, max - total));
    if (n == 0) break;
    HandleUpcallBatch(batch, n);
    total += n;
  }
  return total;
}

void Ofproto::HandleUpcallBatch(dp::Upcall* ups, size_t n) {
  dp::Upcall* misses[kUpcallBatch];
  size_t n_miss = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ups[i].type == dp::UpcallType::kUserspace) {
      HandlePacketIn(ups[i]);
      continue;
    }
    misses[n_miss++] = &ups[i];
    if (n_miss == kUpcallBatch) {
      HandleMissBatch(misses, n_miss);
      n_miss = 0;
    }
  }
  if (n_miss != 0) HandleMissBatch(misses, n_miss);
}

void Ofproto::HandlePacketIn(dp::Upcall& u) {
  ControllerRequest req;
  if (!DecodeControllerCookie(u.cookie, &req)) {
    rte_pktmbuf_free(u.packet);
    return;
  }
  PacketIn pi;
  uint32_t len = dp::PacketHeadLen(u.packet);
  uint32_t take = req.max_len == kControllerMaxLenNoBuffer ? len : std::min<uint32_t>(len, req.max_len);
  pi.data.assign(dp::PacketData(u.packet), dp::PacketData(u.packet) + take);
  pi.total_len = dp::PacketLen(u.packet);
  pi.in_port = u.key.in_port;
  pi.reason = req.reason;
  pi.table_id = req.table_id;
  pi.cookie = req.rule_cookie;
  pi.metadata = req.metadata;
  rte_pktmbuf_free(u.packet);
  stats_.packet_ins.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(listener_mu_);
  if (packet_in_listener_) packet_in_listener_(pi);
}

// The batch's steps (class comment, "Upcalls are handled in batches"):
//   1. under mu_ (shared): translate each miss, unless an earlier
//      translation's megaflow covers it; credit rules and groups;
//   2. one FlowPutBatch for the translations (the flow limit applied there);
//   3. ukeys for what was put, under ukey_mu_ once;
//   4. one ExecuteBatch for every miss, in the order received.
void Ofproto::HandleMissBatch(dp::Upcall* const* misses, size_t n) {
  BatchScratch& s = Scratch();
  const uint64_t now = options_.clock();
  size_t n_xl = 0;
  uint64_t deduped = 0, xlate_errors = 0;
  uint64_t version;
  s.n_masks = 0;
  {
    std::shared_lock lock(mu_);
    const XlateEnv env = EnvLocked(now);
    version = InputsVersionLocked();
    for (size_t i = 0; i < n; ++i) {
      const dp::Upcall& u = *misses[i];
      const uint64_t len = dp::PacketLen(u.packet);
      if (n_xl != 0) {
        if (int t = FindBatchXlate(s, n_xl, u); t >= 0) {
          s.xl_of[i] = static_cast<uint8_t>(t);
          s.xl[t].packets++;
          s.xl[t].bytes += len;
          ++deduped;
          continue;
        }
      }
      BatchXlate& x = s.xl[n_xl];
      x.r.learned = false;
      Xlate(env, FlowFromKey(u.key), &x.r);
      if (x.r.error != XlateResult::Error::kNone) ++xlate_errors;
      x.first = &u;
      x.packets = 1;
      x.bytes = len;
      dp::MaskKey(u.key, x.r.wc.dp, &x.masked);
      x.mask_slot = MaskSlot(s, x.r.wc.dp);
      x.hash = x.mask_slot >= 0 ? dp::FlowKeyHash(x.masked) : 0;
      s.xl_of[i] = static_cast<uint8_t>(n_xl++);
    }
    // The packets themselves are the rules' too (the megaflow counts only
    // what follows them), as in Open vSwitch.
    for (size_t t = 0; t < n_xl; ++t) {
      const BatchXlate& x = s.xl[t];
      for (const auto& rule : x.r.rules) rule->AddStats(x.packets, x.bytes, now);
      if (!x.r.groups.empty()) CreditGroupsLocked(x.r.groups, x.packets, x.bytes);
    }
  }

  for (size_t t = 0; t < n_xl; ++t) {
    BatchXlate& x = s.xl[t];
    x.actions = InternActions(s, x.r.actions);
    dp::FlowPutOp& op = s.puts[t];
    op.key = &x.first->key;
    op.mask = &x.r.wc.dp;
    op.actions = x.actions;
    op.pmd = x.first->pmd_index;
  }
  dp_->FlowPutBatch(s.puts, n_xl, flow_limit_.load(std::memory_order_relaxed));

  uint64_t installed = 0, over_limit = 0;
  {
    std::lock_guard lock(ukey_mu_);
    for (size_t t = 0; t < n_xl; ++t) {
      BatchXlate& x = s.xl[t];
      const dp::FlowPutOp& op = s.puts[t];
      if (!op.ok()) {
        ++over_limit;
        continue;
      }
      ++installed;
      Ukey& k = ukeys_[UkeyId{op.ufid, op.pmd}];
      k.ufid = op.ufid;
      k.pmd = op.pmd;
      k.key.Set(x.first->key);
      k.mask.Set(x.r.wc.dp);
      k.actions = x.actions;
      k.rules = std::move(x.r.rules);
      k.groups = std::move(x.r.groups);
      k.version = version;
      k.created_ms = now;
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const dp::Upcall& u = *misses[i];
    dp::ExecuteOp& op = s.execs[i];
    op.pmd = u.pmd_index;
    op.packet = u.packet;
    op.in_port = u.key.in_port;
    op.layout = u.layout;
    op.actions = s.xl[s.xl_of[i]].actions;
  }
  if (size_t bad = dp_->ExecuteBatch(s.execs, n); bad != 0) {
    spdlog::warn("{}: {} upcalled packet(s) not executed: no such PMD", options_.name, bad);
  }
  // Drop the batch's references now (the datapath holds what it needs).
  for (size_t i = 0; i < n; ++i) s.execs[i].actions.reset();
  for (size_t t = 0; t < n_xl; ++t) {
    s.puts[t].actions.reset();
    s.xl[t].actions.reset();
    s.xl[t].r.rules.clear();  // (what was not moved into a ukey: over the limit)
    s.xl[t].r.groups.clear();
  }

  constexpr auto kRelaxed = std::memory_order_relaxed;
  stats_.upcalls.fetch_add(n, kRelaxed);
  if (deduped) stats_.deduped.fetch_add(deduped, kRelaxed);
  if (xlate_errors) stats_.xlate_errors.fetch_add(xlate_errors, kRelaxed);
  if (installed) stats_.installed.fetch_add(installed, kRelaxed);
  if (over_limit) stats_.over_limit.fetch_add(over_limit, kRelaxed);
}

// --- Revalidation ---

void Ofproto::Revalidate() {
  uint64_t t0 = options_.clock();
  std::vector<FlowRemoved> removed;
  {
    std::unique_lock lock(mu_);
    tables_.ExpireTimeouts(t0, &removed);
  }
  EmitRemoved(removed);
  mac_.Expire(t0);

  // The pass works in chunks of kChunk megaflows, taking ukey_mu_ (and the
  // datapath's lock) only per chunk, so that handlers installing new
  // megaflows are never held up for a whole pass.
  constexpr size_t kChunk = 512;
  std::vector<dp::FlowStatsInfo> flows = dp_->FlowStatsDump();
  std::unordered_map<UkeyId, const dp::FlowStatsInfo*, UkeyIdHash> present;
  present.reserve(flows.size());
  for (const auto& f : flows) present.emplace(UkeyId{f.ufid, f.pmd}, &f);
  std::vector<UkeyId> ids;
  {
    std::lock_guard ulock(ukey_mu_);
    ids.reserve(ukeys_.size());
    for (const auto& [id, k] : ukeys_) ids.push_back(id);
  }
  uint64_t revalidated = 0, modified = 0, idle = 0, stale = 0;
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    std::lock_guard ulock(ukey_mu_);
    for (size_t i = start; i < std::min(ids.size(), start + kChunk); ++i) {
      auto it = ukeys_.find(ids[i]);
      if (it == ukeys_.end()) continue;
      Ukey& k = it->second;
      auto p = present.find(it->first);
      if (p == present.end()) {
        // Not in this dump: it vanished (flushed, PMDs replaced), or a handler
        // installed it after the dump; keep the young ones.
        if (k.created_ms >= t0) continue;
        ukeys_.erase(it);
        continue;
      }
      const dp::FlowStatsInfo& f = *p->second;
      // Statistics: credit what is new since the last pass.
      uint64_t dp_pkts = f.packets >= k.packets ? f.packets - k.packets : f.packets;
      uint64_t dp_bytes = f.bytes >= k.bytes ? f.bytes - k.bytes : f.bytes;
      if (dp_pkts) {
        for (const auto& rule : k.rules) rule->AddStats(dp_pkts, dp_bytes, f.used_ms);
        if (!k.groups.empty()) CreditGroups(k.groups, dp_pkts, dp_bytes);
      }
      k.packets = f.packets;
      k.bytes = f.bytes;
      uint64_t last = std::max(f.used_ms, f.created_ms);
      if (t0 >= last + options_.megaflow_idle_ms) {
        dp_->FlowDel(k.ufid, k.pmd).ok();
        ukeys_.erase(it);
        ++idle;
        continue;
      }
      std::shared_lock lock(mu_);
      uint64_t version = InputsVersionLocked();
      if (k.version == version) continue;
      XlateResult r;
      XlateEnv env = EnvLocked();
      env.learn = false;  // re-translation must not learn
      alignas(64) dp::FlowKey key;
      k.key.Get(&key);
      Xlate(env, FlowFromKey(key), &r);
      ++revalidated;
      if (!k.mask.Equals(r.wc.dp)) {
        dp_->FlowDel(k.ufid, k.pmd).ok();
        ukeys_.erase(it);
        ++stale;
        continue;
      }
      if (r.actions != k.actions->actions()) {
        k.actions = std::make_shared<const dp::DpActions>(r.actions);
        dp_->FlowPut(key, r.wc.dp, k.actions, k.pmd).ok();  // (r.wc.dp is the mask)
        ++modified;
      }
      k.rules = r.rules;
      k.groups = r.groups;
      k.version = version;
    }
  }

  uint64_t dt = options_.clock() - t0;
  uint64_t limit = flow_limit_.load();
  if (dt > 1000) {
    limit = std::max<uint64_t>(1000, limit * 3 / 4);
  } else if (dt < 100 && limit < options_.flow_limit) {
    limit = std::min<uint64_t>(options_.flow_limit, limit + 1000);
  }
  flow_limit_.store(limit);
  constexpr auto kRelaxed = std::memory_order_relaxed;
  stats_.revalidations.fetch_add(1, kRelaxed);
  stats_.revalidated.fetch_add(revalidated, kRelaxed);
  stats_.modified.fetch_add(modified, kRelaxed);
  stats_.deleted_idle.fetch_add(idle, kRelaxed);
  stats_.deleted_stale.fetch_add(stale, kRelaxed);
  stats_.last_revalidate_ms.store(dt, kRelaxed);
}

void Ofproto::DeleteMegaflows() {
  std::lock_guard lock(ukey_mu_);
  for (const auto& [id, k] : ukeys_) dp_->FlowDel(k.ufid, k.pmd).ok();
  ukeys_.clear();
}

OfprotoStats Ofproto::stats() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  OfprotoStats s;
  s.upcalls = stats_.upcalls.load(kRelaxed);
  s.deduped = stats_.deduped.load(kRelaxed);
  s.installed = stats_.installed.load(kRelaxed);
  s.install_failed = stats_.install_failed.load(kRelaxed);
  s.over_limit = stats_.over_limit.load(kRelaxed);
  s.xlate_errors = stats_.xlate_errors.load(kRelaxed);
  s.packet_ins = stats_.packet_ins.load(kRelaxed);
  s.packet_outs = stats_.packet_outs.load(kRelaxed);
  s.revalidations = stats_.revalidations.load(kRelaxed);
  s.revalidated = stats_.revalidated.load(kRelaxed);
  s.modified = stats_.modified.load(kRelaxed);
  s.deleted_idle = stats_.deleted_idle.load(kRelaxed);
  s.deleted_stale = stats_.deleted_stale.load(kRelaxed);
  s.last_revalidate_ms = stats_.last_revalidate_ms.load(kRelaxed);
  s.flow_limit = flow_limit_.load();
  std::lock_guard lock(const_cast<std::mutex&>(ukey_mu_));
  s.ukeys = ukeys_.size();
  return s;
}

}  // namespace sluice::ofproto
