#include "ofproto/ofproto.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "datapath/actions/actions_format.h"
#include "datapath/flow/flow_format.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"

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
  stop_.store(true);
  for (auto& t : handlers_) t.join();
  handlers_.clear();
  if (revalidator_.joinable()) revalidator_.join();
}

void Ofproto::HandlerMain() {
  while (!stop_.load(std::memory_order_relaxed)) {
    if (HandleUpcalls(64) == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void Ofproto::RevalidatorMain() {
  auto next = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (std::chrono::steady_clock::now() < next) continue;
    Revalidate();
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.revalidate_interval_ms);
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

XlateEnv Ofproto::EnvLocked() const {
  XlateEnv env;
  env.tables = &tables_;
  env.groups = &groups_;
  env.mac = const_cast<MacLearning*>(&mac_);
  env.ports = ports_;
  env.now_ms = options_.clock();
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
  std::lock_guard lock(stats_mu_);
  stats_.packet_outs++;
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

size_t Ofproto::HandleUpcalls(size_t max) {
  size_t n = 0;
  dp::Upcall u;
  while (n < max && dp_->RecvUpcall(&u)) {
    HandleUpcall(u);
    ++n;
  }
  return n;
}

void Ofproto::HandleUpcall(dp::Upcall& u) {
  if (u.type == dp::UpcallType::kUserspace) {
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
    {
      std::lock_guard lock(stats_mu_);
      stats_.packet_ins++;
    }
    std::lock_guard lock(listener_mu_);
    if (packet_in_listener_) packet_in_listener_(pi);
    return;
  }

  OfFlow flow = FlowFromKey(u.key);
  XlateResult r;
  uint64_t version;
  {
    std::shared_lock lock(mu_);
    XlateEnv env = EnvLocked();
    version = InputsVersionLocked();
    Xlate(env, flow, &r);
  }
  auto actions = std::make_shared<const dp::DpActions>(r.actions);
  bool installed = false;
  {
    std::lock_guard lock(stats_mu_);
    stats_.upcalls++;
    if (r.error != XlateResult::Error::kNone) stats_.xlate_errors++;
  }
  if (dp_->FlowCount() < flow_limit_.load(std::memory_order_relaxed)) {
    dp::Ufid ufid;
    Status st = dp_->FlowPut(u.key, r.wc.dp, actions, u.pmd_index, &ufid);
    if (st.ok()) {
      installed = true;
      std::lock_guard lock(ukey_mu_);
      Ukey& k = ukeys_[UkeyId{ufid, u.pmd_index}];
      k.ufid = ufid;
      k.pmd = u.pmd_index;
      k.key = u.key;
      k.mask = r.wc.dp;
      k.actions = r.actions;
      k.rules = r.rules;
      k.groups = r.groups;
      k.version = version;
      k.created_ms = options_.clock();
    }
  }
  {
    std::lock_guard lock(stats_mu_);
    (installed ? stats_.installed : stats_.over_limit)++;
  }
  // The packet itself is the rules' too (the megaflow counts only what
  // follows it), as in Open vSwitch.
  uint64_t len = dp::PacketLen(u.packet), now = options_.clock();
  for (const auto& rule : r.rules) rule->AddStats(1, len, now);
  if (!r.groups.empty()) CreditGroups(r.groups, 1, len);
  Status st = dp_->Execute(u.pmd_index, u.packet, u.key.in_port, u.layout, actions);
  if (!st.ok()) spdlog::warn("{}: execute failed: {}", options_.name, st.message());
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
      Xlate(env, FlowFromKey(k.key), &r);
      ++revalidated;
      if (!(r.wc.dp == k.mask)) {
        dp_->FlowDel(k.ufid, k.pmd).ok();
        ukeys_.erase(it);
        ++stale;
        continue;
      }
      if (r.actions != k.actions) {
        dp_->FlowPut(k.key, k.mask, std::make_shared<const dp::DpActions>(r.actions), k.pmd).ok();
        k.actions = r.actions;
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
  std::lock_guard slock(stats_mu_);
  stats_.revalidations++;
  stats_.revalidated += revalidated;
  stats_.modified += modified;
  stats_.deleted_idle += idle;
  stats_.deleted_stale += stale;
  stats_.last_revalidate_ms = dt;
}

void Ofproto::DeleteMegaflows() {
  std::lock_guard lock(ukey_mu_);
  for (const auto& [id, k] : ukeys_) dp_->FlowDel(k.ufid, k.pmd).ok();
  ukeys_.clear();
}

OfprotoStats Ofproto::stats() const {
  OfprotoStats s;
  {
    std::lock_guard lock(stats_mu_);
    s = stats_;
  }
  s.flow_limit = flow_limit_.load();
  std::lock_guard lock(const_cast<std::mutex&>(ukey_mu_));
  s.ukeys = ukeys_.size();
  return s;
}

}  // namespace sluice::ofproto
