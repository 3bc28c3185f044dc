// A bridge's OpenFlow connections: listeners, connectors, roles, async
// fan-out, port status and fail-open. See connmgr.h.
#include "controller/connmgr.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <future>

#include "controller/ofconn.h"
#include "datapath/dpif/datapath.h"
#include "ofproto/ofproto.h"

namespace sluice::ctl {

using ofproto::MakeError;
using ofproto::OfpResult;

struct ConnMgr::Active {
  ControllerConfig config;
  std::unique_ptr<Connector> connector;
  OfConn* conn = nullptr;  // the live connection, if any
};

struct ConnMgr::Passive {
  ControllerConfig config;
  std::unique_ptr<Listener> listener;
};

namespace {

// OFPPF_* speed bits (the same in 1.0 and 1.3 up to 10 Gb/s).
uint32_t SpeedFeature(uint32_t mbps) {
  switch (mbps) {
    case 10:
      return 1u << 1;
    case 100:
      return 1u << 3;
    case 1000:
      return 1u << 5;
    case 10000:
      return 1u << 6;
    case 40000:
      return 1u << 7;
    case 100000:
      return 1u << 8;
    default:
      return mbps ? 1u << 10 : 0;  // OFPPF_OTHER
  }
}

ofp::DescStats DefaultDesc(const ofp::DescStats& in, const std::string& bridge) {
  ofp::DescStats d = in;
  if (d.mfr_desc.empty()) d.mfr_desc = "The Sluice project";
  if (d.hw_desc.empty()) d.hw_desc = "Sluice userspace switch (DPDK)";
  if (d.sw_desc.empty()) d.sw_desc = "sluice-switchd 0.1.0";
  if (d.serial_num.empty()) d.serial_num = "None";
  if (d.dp_desc.empty()) d.dp_desc = bridge;
  return d;
}

}  // namespace

uint64_t ConnMgr::NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

ConnMgr::ConnMgr(ofproto::Ofproto* br, dp::Datapath* dp, ConnMgrOptions options)
    : br_(br), dp_(dp), options_(std::move(options)) {
  options_.desc = DefaultDesc(options_.desc, br_->name());
  datapath_id_ = options_.datapath_id;
  if (datapath_id_ == 0) {
    // Like Open vSwitch's default: 48 bits that name the bridge, stable across restarts.
    datapath_id_ = std::hash<std::string>()("sluice:" + br_->name()) & 0xffffffffffffull;
  }
}

ConnMgr::~ConnMgr() { Stop(); }

Status ConnMgr::Start() {
  if (options_.fail_mode != "standalone" && options_.fail_mode != "secure") {
    return Status::Errorf("fail mode '{}': expected standalone or secure", options_.fail_mode);
  }
  work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      io_.get_executor());
  {
    std::lock_guard lock(mu_);
    last_controller_ms_ = NowMs();
    for (const auto& p : Ports()) known_ports_[p.port_no] = {p.link_up, p.name};
  }
  SLUICE_RETURN_IF_ERROR(ApplyControllers(options_.controllers));
  br_->set_packet_in_listener([this](const ofproto::PacketIn& pi) { OnPacketIn(pi); });
  br_->set_flow_removed_listener([this](const ofproto::FlowRemoved& fr) { OnFlowRemoved(fr); });
  tick_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  boost::asio::post(io_, [this] { Tick(); });
  io_thread_ = std::thread([this] { io_.run(); });
  started_ = true;
  return Status::Ok();
}

void ConnMgr::Stop() {
  if (!started_) return;
  started_ = false;
  br_->set_packet_in_listener(nullptr);
  br_->set_flow_removed_listener(nullptr);
  boost::asio::post(io_, [this] {
    tick_timer_->cancel();
    std::lock_guard lock(mu_);
    for (auto& [t, a] : active_) a->connector->Stop();
    for (auto& [t, p] : passive_) p->listener->Close();
    for (auto& c : conns_) c->Close();
  });
  work_.reset();
  // Give the closes a moment to flush, then stop whatever is still running.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (conns_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  std::lock_guard lock(mu_);
  conns_.clear();
  active_.clear();
  passive_.clear();
}

Status ConnMgr::SetControllers(const std::vector<ControllerConfig>& controllers) {
  // Validate on the caller's thread so that the caller gets the error.
  for (const auto& c : controllers) {
    std::string error;
    if (!ParseTarget(c.target, 6653, &error)) return Status::Errorf("controller '{}': {}", c.target, error);
  }
  std::promise<Status> done;
  auto result = done.get_future();
  boost::asio::post(io_, [&] { done.set_value(ApplyControllers(controllers)); });
  return result.get();
}

Status ConnMgr::SetFailMode(const std::string& mode) {
  if (mode != "standalone" && mode != "secure") {
    return Status::Errorf("fail mode '{}': expected standalone or secure", mode);
  }
  std::lock_guard lock(mu_);
  options_.fail_mode = mode;
  return Status::Ok();
}

Status ConnMgr::ApplyControllers(const std::vector<ControllerConfig>& controllers) {
  std::map<std::string, ControllerConfig> want;
  for (const auto& c : controllers) want[c.target] = c;
  std::lock_guard lock(mu_);
  // Drop what is gone or changed.
  for (auto it = active_.begin(); it != active_.end();) {
    auto w = want.find(it->first);
    if (w != want.end() && w->second == it->second->config) {
      ++it;
      continue;
    }
    it->second->connector->Stop();
    if (it->second->conn) it->second->conn->Close();
    it = active_.erase(it);
  }
  for (auto it = passive_.begin(); it != passive_.end();) {
    auto w = want.find(it->first);
    if (w != want.end() && w->second == it->second->config) {
      ++it;
      continue;
    }
    it->second->listener->Close();
    it = passive_.erase(it);
  }
  // Start what is new.
  for (const auto& [text, cfg] : want) {
    if (active_.count(text) || passive_.count(text)) continue;
    std::string error;
    std::optional<Target> t = ParseTarget(text, 6653, &error);
    if (!t) return Status::Errorf("controller '{}': {}", text, error);
    if (t->passive) {
      auto p = std::make_unique<Passive>();
      p->config = cfg;
      ControllerConfig c = cfg;
      p->listener = Listener::Open(
          io_, *t, options_.tls,
          [this, c](std::shared_ptr<OfStream> s) { AddConn(std::move(s), c, nullptr); }, &error);
      if (!p->listener) return Status::Errorf("listen on '{}': {}", text, error);
      spdlog::info("{}: listening for OpenFlow on {} (port {})", br_->name(), text, p->listener->port());
      passive_[text] = std::move(p);
    } else {
      auto a = std::make_unique<Active>();
      a->config = cfg;
      Active* raw = a.get();
      ControllerConfig c = cfg;
      a->connector = Connector::Create(
          io_, *t, options_.tls, cfg.max_backoff_ms,
          [this, c, raw](std::shared_ptr<OfStream> s) { AddConn(std::move(s), c, raw); }, &error);
      if (!a->connector) return Status::Errorf("controller '{}': {}", text, error);
      a->connector->Start();
      spdlog::info("{}: connecting to controller {}", br_->name(), text);
      active_[text] = std::move(a);
    }
  }
  options_.controllers = controllers;
  return Status::Ok();
}

void ConnMgr::AddConn(std::shared_ptr<OfStream> stream, const ControllerConfig& config, Active* owner) {
  auto conn = std::make_shared<OfConn>(this, io_, std::move(stream), config, owner != nullptr);
  {
    std::lock_guard lock(mu_);
    bool owner_alive = false;
    for (auto& [t, a] : active_) owner_alive |= a.get() == owner;
    if (owner && !owner_alive) {
      conn->Close();  // the controller was removed meanwhile
      return;
    }
    if (owner) owner->conn = conn.get();
    conns_.push_back(conn);
  }
  conn->Start();
}

void ConnMgr::ConnConnected(OfConn* conn) {
  if (!conn->active()) return;
  std::lock_guard lock(mu_);
  last_controller_ms_ = NowMs();
  if (fail_open_.load()) {
    // Leave fail-open at once: the controller decides from now on.
    boost::asio::post(io_, [this] { UpdateFailOpen(NowMs()); });
  }
}

void ConnMgr::ConnClosed(OfConn* conn) {
  std::shared_ptr<OfConn> keep;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->get() == conn) {
      keep = *it;
      conns_.erase(it);
      break;
    }
  }
  for (auto& [t, a] : active_) {
    if (a->conn == conn) {
      a->conn = nullptr;
      a->connector->Disconnected();
    }
  }
}

OfpResult ConnMgr::ChangeRole(OfConn* conn, ofp::ControllerRole role, uint64_t generation_id) {
  std::lock_guard lock(mu_);
  if (role == ofp::ControllerRole::kMaster || role == ofp::ControllerRole::kSlave) {
    if (generation_defined_ && static_cast<int64_t>(generation_id - generation_id_) < 0) {
      return MakeError(ofp::err::kRoleRequestFailed, ofp::err::kRoleStale, "stale generation id");
    }
    generation_id_ = generation_id;
    generation_defined_ = true;
  }
  if (role == ofp::ControllerRole::kMaster) {
    for (auto& c : conns_) {
      if (c.get() != conn && c->role() == ofp::ControllerRole::kMaster) {
        c->set_role(ofp::ControllerRole::kSlave);
      }
    }
  }
  conn->set_role(role);
  return std::nullopt;
}

uint32_t ConnMgr::PortConfig(uint32_t port_no) const {
  std::lock_guard lock(mu_);
  auto it = port_config_.find(port_no);
  return it == port_config_.end() ? 0 : it->second;
}

void ConnMgr::SetPortConfig(uint32_t port_no, uint32_t config, uint32_t mask) {
  uint32_t now;
  {
    std::lock_guard lock(mu_);
    uint32_t& c = port_config_[port_no];
    c = (c & ~mask) | (config & mask);
    now = c;
  }
  // An administratively downed port is not live (fast-failover, flooding).
  bool link = false;
  for (const auto& p : Ports()) link |= p.port_no == port_no && p.link_up;
  br_->SetPortLive(port_no, link && !(now & ofp::kPortConfigPortDown));
  ofp::PortStatus ps;
  ps.reason = ofp::PortReason::kModify;
  for (const auto& d : PortDescs()) {
    if (d.port_no == port_no) ps.desc = d;
  }
  std::vector<std::shared_ptr<OfConn>> conns;
  {
    std::lock_guard lock(mu_);
    conns = conns_;
  }
  for (auto& c : conns) c->SendPortStatus(ps);
}

std::vector<dp::PortInfo> ConnMgr::Ports() const {
  std::vector<ofproto::XlatePort> mine = br_->Ports();  // sorted by ofport
  std::vector<dp::PortInfo> out;
  for (auto& p : dp_->Ports()) {
    auto it = std::lower_bound(mine.begin(), mine.end(), p.port_no,
                               [](const ofproto::XlatePort& x, uint32_t no) { return x.ofport < no; });
    if (it != mine.end() && it->ofport == p.port_no) out.push_back(std::move(p));
  }
  return out;
}

std::vector<ofp::PortDesc> ConnMgr::PortDescs() const {
  std::vector<ofp::PortDesc> out;
  for (const auto& p : Ports()) {
    ofp::PortDesc d;
    d.port_no = p.port_no;
    std::copy(p.mac.b, p.mac.b + 6, d.hw_addr.begin());
    d.name = p.name.substr(0, 15);
    d.config = PortConfig(p.port_no);
    d.state = p.link_up ? ofp::kPortStateLive : ofp::kPortStateLinkDown;
    d.curr = SpeedFeature(p.link_speed_mbps);
    d.supported = d.curr;
    d.advertised = d.curr;
    d.curr_speed = p.link_speed_mbps * 1000;
    d.max_speed = d.curr_speed;
    out.push_back(std::move(d));
  }
  return out;
}

void ConnMgr::OnPacketIn(const ofproto::PacketIn& in) {
  if (PortConfig(in.in_port) & ofp::kPortConfigNoPacketIn) return;
  ofp::PacketIn pi;
  pi.total_len = static_cast<uint16_t>(std::min<uint32_t>(in.total_len, 0xffff));
  pi.reason = static_cast<ofp::PacketInReason>(in.reason);
  pi.table_id = in.table_id;
  pi.cookie = in.cookie;
  using ofproto::FieldId;
  using ofproto::FieldValue;
  ofproto::MatchField(&pi.match, FieldId::kInPort, FieldValue::FromUint(FieldId::kInPort, in.in_port),
                      FieldValue::AllOnes(FieldId::kInPort));
  if (in.metadata) {
    ofproto::MatchField(&pi.match, FieldId::kMetadata, FieldValue::FromUint(FieldId::kMetadata, in.metadata),
                        FieldValue::AllOnes(FieldId::kMetadata));
  }
  pi.data = in.data;
  bool no_match = in.reason == ofproto::PacketInReason::kNoMatch;
  boost::asio::post(io_, [this, pi = std::move(pi), no_match] {
    std::vector<std::shared_ptr<OfConn>> conns;
    {
      std::lock_guard lock(mu_);
      conns = conns_;
    }
    for (auto& c : conns) c->SendPacketIn(pi, no_match);
  });
}

void ConnMgr::OnFlowRemoved(const ofproto::FlowRemoved& fr) {
  const ofproto::OfRule& r = *fr.rule;
  if (!(r.flags & ofproto::kFlagSendFlowRem) || r.priority() > 0xffff) return;
  ofp::FlowRemoved m;
  m.cookie = r.cookie;
  m.priority = static_cast<uint16_t>(r.priority());
  m.reason = static_cast<ofp::FlowRemovedReason>(fr.reason);
  m.table_id = r.table_id;
  uint64_t now = br_->Now(), age = now > r.created_ms ? now - r.created_ms : 0;
  m.duration_sec = static_cast<uint32_t>(age / 1000);
  m.duration_nsec = static_cast<uint32_t>(age % 1000 * 1000000);
  m.idle_timeout = r.idle_timeout;
  m.hard_timeout = r.hard_timeout;
  m.packet_count = r.packets.load();
  m.byte_count = r.bytes.load();
  m.match = r.match();
  boost::asio::post(io_, [this, m] {
    std::vector<std::shared_ptr<OfConn>> conns;
    {
      std::lock_guard lock(mu_);
      conns = conns_;
    }
    for (auto& c : conns) c->SendFlowRemoved(m);
  });
}

void ConnMgr::Tick() {
  uint64_t now = NowMs();
  // Port status.
  std::vector<ofp::PortStatus> events;
  std::map<uint32_t, std::pair<bool, std::string>> current;
  for (const auto& p : Ports()) current[p.port_no] = {p.link_up, p.name};
  std::vector<std::pair<uint32_t, bool>> liveness;
  {
    std::lock_guard lock(mu_);
    for (const auto& [no, st] : current) {
      auto it = known_ports_.find(no);
      if (it == known_ports_.end()) {
        events.push_back({ofp::PortReason::kAdd, {}});
        events.back().desc.port_no = no;
      } else if (it->second.first != st.first) {
        events.push_back({ofp::PortReason::kModify, {}});
        events.back().desc.port_no = no;
        liveness.emplace_back(no, st.first);
      }
    }
    for (const auto& [no, st] : known_ports_) {
      if (!current.count(no)) {
        ofp::PortStatus ps;
        ps.reason = ofp::PortReason::kDelete;
        ps.desc.port_no = no;
        ps.desc.name = st.second;
        ps.desc.state = ofp::kPortStateLinkDown;
        events.push_back(ps);
      }
    }
    known_ports_ = current;
  }
  if (!events.empty()) {
    auto descs = PortDescs();
    for (auto& e : events) {
      for (const auto& d : descs) {
        if (d.port_no == e.desc.port_no && e.reason != ofp::PortReason::kDelete) e.desc = d;
      }
    }
    for (auto [no, up] : liveness) br_->SetPortLive(no, up && !(PortConfig(no) & ofp::kPortConfigPortDown));
    std::vector<std::shared_ptr<OfConn>> conns;
    {
      std::lock_guard lock(mu_);
      conns = conns_;
    }
    for (const auto& e : events) {
      spdlog::info("{}: port {} {}", br_->name(), e.desc.port_no,
                   e.reason == ofp::PortReason::kAdd      ? "added"
                   : e.reason == ofp::PortReason::kDelete ? "deleted"
                   : (e.desc.state & ofp::kPortStateLinkDown) ? "link down"
                                                              : "link up");
      for (auto& c : conns) c->SendPortStatus(e);
    }
  }
  UpdateFailOpen(now);
  tick_timer_->expires_after(std::chrono::milliseconds(100));
  tick_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

void ConnMgr::UpdateFailOpen(uint64_t now) {
  bool want;
  {
    std::lock_guard lock(mu_);
    bool connected = false;
    for (auto& [t, a] : active_) connected |= a->conn && a->conn->handshake_done();
    if (connected) last_controller_ms_ = now;
    uint32_t delay = options_.fail_open_delay_ms;
    if (delay == 0) {
      uint32_t probe = active_.empty() ? 5000 : active_.begin()->second->config.inactivity_probe_ms;
      delay = 3 * (probe ? probe : 5000);
    }
    want = options_.fail_mode == "standalone" && !active_.empty() && !connected &&
           now - last_controller_ms_ >= delay;
  }
  if (want == fail_open_.load()) return;
  ofproto::FlowMod fm;
  fm.priority = kFailOpenPriority;
  fm.table_id = 0;
  if (want) {
    fm.command = ofproto::FlowMod::Command::kAdd;
    fm.insts = ofproto::Instructions::Apply({ofproto::OfAction::Output(ofproto::kPortNormal)});
  } else {
    fm.command = ofproto::FlowMod::Command::kDeleteStrict;
  }
  if (OfpResult e = br_->FlowMod(fm)) {
    spdlog::error("{}: fail-open rule: {}", br_->name(), e->message);
    return;
  }
  fail_open_.store(want);
  spdlog::warn("{}: {} fail-open mode (standalone: {})", br_->name(), want ? "entering" : "leaving",
               want ? "no controller connected, acting as a learning switch" : "a controller connected");
}

std::vector<ConnStatus> ConnMgr::Connections() const {
  std::lock_guard lock(mu_);
  std::vector<ConnStatus> out;
  for (const auto& [t, a] : active_) {
    if (a->conn) {
      out.push_back(a->conn->Status());
    } else {
      ConnStatus s;
      s.target = t;
      s.state = "backoff " + std::to_string(a->connector->current_backoff_ms()) + " ms, " +
                std::to_string(a->connector->attempts()) + " attempt(s)";
      out.push_back(s);
    }
  }
  for (const auto& c : conns_) {
    if (!c->active()) out.push_back(c->Status());
  }
  for (const auto& [t, p] : passive_) {
    ConnStatus s;
    s.target = t;
    s.state = "listening on " + p->listener->ToString();
    out.push_back(s);
  }
  return out;
}

std::vector<uint16_t> ConnMgr::ListeningPorts() const {
  std::lock_guard lock(mu_);
  std::vector<uint16_t> out;
  for (const auto& [t, p] : passive_) out.push_back(p->listener->port());
  return out;
}

}  // namespace sluice::ctl
