#include "controller/offload_control.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <sstream>

namespace sluice::ctl {

Status ParseOffloadSettings(const std::map<std::string, std::string>& oc, OffloadSettings* out) {
  OffloadSettings s;
  if (auto it = oc.find("hw-offload"); it != oc.end()) {
    if (it->second == "true")
      s.enabled = true;
    else if (it->second != "false")
      return Status::Errorf("other_config:hw-offload must be true or false, not '{}'", it->second);
  }
  if (auto it = oc.find("hw-offload-kinds"); it != oc.end()) {
    s.full = s.partial = false;
    std::stringstream in(it->second);
    for (std::string kind; std::getline(in, kind, ',');) {
      if (kind == "full")
        s.full = true;
      else if (kind == "partial")
        s.partial = true;
      else
        return Status::Errorf("other_config:hw-offload-kinds: '{}' is not full or partial", kind);
    }
    if (!s.full && !s.partial)
      return Status::Errorf("other_config:hw-offload-kinds names no kind (full, partial)");
  }
  if (auto it = oc.find("hw-offload-queue-limit"); it != oc.end()) {
    const std::string& v = it->second;
    size_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n == 0 || n > (1u << 24))
      return Status::Errorf("other_config:hw-offload-queue-limit must be 1..16777216, not '{}'", v);
    s.queue_limit = n;
  }
  *out = s;
  return Status::Ok();
}

OffloadControl::OffloadControl(dp::Datapath* dp)
    : dp_(dp), devices_(std::make_unique<offload::EswitchDevices>(dp->pool())) {
  Listen();
}

void OffloadControl::Listen() {
  devices_->SetListener(
      [this](offload::Eswitch* esw) {
        std::lock_guard lock(mu_);
        if (offload_) offload_->AttachEswitch(esw);
      },
      [this](offload::Eswitch*) {
        // An eSwitch going away while offload is on: every rule leaves the
        // hardware (while the device still exists), and the next Apply()
        // builds offload again over the devices that are left.
        std::shared_ptr<offload::DatapathOffload> old;
        {
          std::lock_guard lock(mu_);
          old = std::move(offload_);
        }
        if (!old) return;
        dp_->SetOffload(nullptr);
        old->Stop();
        old.reset();
        std::lock_guard lock(mu_);
        rebuild_ = true;
      });
}

OffloadControl::~OffloadControl() { Shutdown(); }

void OffloadControl::Apply(const OffloadSettings& settings) {
  {
    std::lock_guard lock(mu_);
    if (settings == settings_ && !rebuild_) return;
    rebuild_ = false;
  }
  std::shared_ptr<offload::DatapathOffload> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(offload_);
  }
  if (old) {
    dp_->SetOffload(nullptr);  // every rule leaves the hardware
    old->Stop();
    old.reset();
    spdlog::info("hardware offload off");
  }
  settings_ = settings;
  if (!settings.enabled) return;
  offload::OffloadOptions oo;
  oo.full = settings.full;
  oo.partial = settings.partial;
  oo.queue_limit = settings.queue_limit;
  auto fresh = std::make_shared<offload::DatapathOffload>(dp_, oo);
  {
    std::lock_guard lock(mu_);
    offload_ = fresh;
  }
  // Attach the existing eSwitches (the listener does the ones made later).
  Listen();
  fresh->Start();
  dp_->SetOffload(fresh);
  spdlog::info("hardware offload on ({}{}{}; queue limit {})", settings.full ? "full" : "",
               settings.full && settings.partial ? ", " : "", settings.partial ? "partial" : "",
               settings.queue_limit);
}

bool OffloadControl::enabled() const {
  std::lock_guard lock(mu_);
  return offload_ != nullptr;
}

std::optional<offload::OffloadStats> OffloadControl::Stats() const {
  std::shared_ptr<offload::DatapathOffload> o;
  {
    std::lock_guard lock(mu_);
    o = offload_;
  }
  if (!o) return std::nullopt;
  return o->Stats();
}

std::string OffloadControl::FlowState(const dp::Ufid& ufid, std::string* why) const {
  std::shared_ptr<offload::DatapathOffload> o;
  {
    std::lock_guard lock(mu_);
    o = offload_;
  }
  offload::FlowOffloadInfo info;
  if (!o || !o->Get(ufid, &info)) return "";
  if (why && info.state == offload::FlowState::kRefused) {
    *why = std::string(offload::ReasonName(info.reason)) +
           (info.detail.empty() ? "" : ": " + info.detail);
  } else if (why && info.state == offload::FlowState::kPartial &&
             info.full_reason != offload::Reason::kOk) {
    *why = std::string("not full: ") + offload::ReasonName(info.full_reason);
  }
  return offload::FlowStateName(info.state);
}

void OffloadControl::Shutdown() {
  Apply(OffloadSettings{});
  devices_.reset();
}

namespace {

nlohmann::json StatsJson(const offload::OffloadStats& s) {
  nlohmann::json refusals = nlohmann::json::object();
  for (int i = 1; i < static_cast<int>(offload::Reason::kCount); ++i) {
    refusals[offload::ReasonName(static_cast<offload::Reason>(i))] = s.refusals[i];
  }
  return {{"enabled", true},
          {"flows",
           {{"full", s.n_full},
            {"partial", s.n_partial},
            {"refused", s.n_refused},
            {"pending", s.n_pending}}},
          {"refusals", refusals},
          {"full_fallbacks", s.full_fallbacks},
          {"puts", s.puts},
          {"dels", s.dels},
          {"skipped_refused", s.skipped_refused},
          {"queue_depth", s.queue_depth},
          {"queue_drops", s.queue_drops},
          {"insertions", s.insertions},
          {"removals", s.removals},
          {"modifications", s.modifications},
          {"insertion_rate", s.insertion_rate},
          {"destroy_errors", s.destroy_errors},
          {"query_errors", s.query_errors}};
}

}  // namespace

void RegisterOffloadViews(MgmtServer* server, OffloadControl* control) {
  server->Register(
      "offload-stats",
      "hardware offload: flows by kind, refusals by reason, queue depth, insertion rate",
      [control](const std::vector<std::string>&) {
        MgmtReply r;
        auto s = control->Stats();
        if (!s) {
          r.text = "hardware offload is off (other_config:hw-offload=true turns it on)\n";
          r.json = {{"enabled", false}};
          return r;
        }
        r.text = offload::FormatOffloadStats(*s);
        r.json = StatsJson(*s);
        return r;
      });
  server->Register(
      "offload/show", "the software eSwitches: VFs, mode, rules, counters, ports",
      [control](const std::vector<std::string>&) {
        MgmtReply r;
        r.json = nlohmann::json::array();
        if (!control->devices()) return r;
        for (const auto& d : control->devices()->Describe()) {
          r.text += fmt::format(
              "{}: {} VF(s), {} mode, {} rule(s); from outside {} (rule hits {}, misses {}), "
              "to Sluice {}, from Sluice {}, drops rule {} full {} other {}\n  ports: {}\n",
              d.device, d.n_vfs, d.unified ? "unified" : "per-representor", d.rules,
              d.stats.from_outside, d.stats.rule_hits, d.stats.misses, d.stats.to_sluice,
              d.stats.from_sluice, d.stats.dropped_rule, d.stats.dropped_full,
              d.stats.dropped_other, fmt::join(d.ports, " "));
          r.json.push_back({{"device", d.device},
                            {"vfs", d.n_vfs},
                            {"unified", d.unified},
                            {"rules", d.rules},
                            {"from_outside", d.stats.from_outside},
                            {"rule_hits", d.stats.rule_hits},
                            {"misses", d.stats.misses},
                            {"to_sluice", d.stats.to_sluice},
                            {"from_sluice", d.stats.from_sluice},
                            {"ports", d.ports}});
        }
        if (r.text.empty()) r.text = "no eSwitch devices\n";
        return r;
      });
}

}  // namespace sluice::ctl
