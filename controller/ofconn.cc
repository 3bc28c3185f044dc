// One OpenFlow connection: handshake, probes, and every request handled
// against the bridge. See ofconn.h.
#include "controller/ofconn.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "datapath/dpif/datapath.h"
#include "ofproto/ofproto.h"

namespace sluice::ctl {

using ofp::Message;
using ofp::MpType;
using ofp::Type;
using ofproto::MakeError;
using ofproto::OfpResult;
namespace ofperr = ofproto::ofperr;
namespace err = ofp::err;

namespace {

constexpr uint8_t kNumTables = 254;  // tables 0..253 (what features replies announce)
constexpr uint32_t kGroupAll = 0xfffffffc;  // OFPG_ALL

const char* RoleName(ofp::ControllerRole r) {
  switch (r) {
    case ofp::ControllerRole::kMaster:
      return "master";
    case ofp::ControllerRole::kSlave:
      return "slave";
    default:
      return "equal";
  }
}

// The messages a slave may not send (OpenFlow 1.3 6.3.5).
bool ModifiesState(Type t) {
  return t == Type::kFlowMod || t == Type::kGroupMod || t == Type::kPortMod ||
         t == Type::kTableMod || t == Type::kMeterMod || t == Type::kPacketOut;
}

void SplitDuration(uint64_t ms, uint32_t* sec, uint32_t* nsec) {
  *sec = static_cast<uint32_t>(ms / 1000);
  *nsec = static_cast<uint32_t>(ms % 1000 * 1000000);
}

ofp::FlowStats FlowStatsOf(const ofproto::OfRule& r, uint64_t now_ms) {
  ofp::FlowStats s;
  s.table_id = r.table_id;
  SplitDuration(now_ms > r.created_ms ? now_ms - r.created_ms : 0, &s.duration_sec, &s.duration_nsec);
  s.priority = static_cast<uint16_t>(r.priority());
  s.idle_timeout = r.idle_timeout;
  s.hard_timeout = r.hard_timeout;
  s.flags = r.flags;
  s.cookie = r.cookie;
  s.packet_count = (r.flags & ofproto::kFlagNoPktCounts) ? ~0ull : r.packets.load(std::memory_order_relaxed);
  s.byte_count = (r.flags & ofproto::kFlagNoBytCounts) ? ~0ull : r.bytes.load(std::memory_order_relaxed);
  s.match = r.match();
  s.insts = r.insts;
  return s;
}

bool Hidden(const ofproto::OfRule& r) { return r.priority() > 0xffff; }

}  // namespace

OfConn::OfConn(ConnMgr* mgr, boost::asio::io_context& io, std::shared_ptr<OfStream> stream,
               ControllerConfig config, bool active)
    : mgr_(mgr),
      io_(io),
      stream_(std::move(stream)),
      config_(std::move(config)),
      active_(active),
      probe_timer_(io),
      last_rx_(std::chrono::steady_clock::now()) {
  peer_ = stream_->peer();
}

void OfConn::Start() {
  auto self = shared_from_this();
  stream_->Start([self](std::vector<uint8_t>&& m) { self->OnMessage(std::move(m)); },
                 [self](const std::string& why) { self->OnClosed(why); });
  Send(ofp::EncodeHello(next_xid_++));
  ArmProbe();
}

void OfConn::Close() {
  // Posted: the stream may report the close synchronously, and callers hold
  // the ConnMgr's lock.
  boost::asio::post(io_, [s = stream_] { s->Close(); });
}

void OfConn::OnClosed(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  probe_timer_.cancel();
  spdlog::info("{}: OpenFlow connection {} closed: {}", mgr_->bridge()->name(), peer_, reason);
  mgr_->ConnClosed(this);
}

void OfConn::ArmProbe() {
  if (config_.inactivity_probe_ms == 0 || closed_) return;
  // Checked four times per interval, so that a late timer on a busy
  // machine neither skips the echo nor shortens the peer's time to answer.
  probe_timer_.expires_after(std::chrono::milliseconds(std::max<uint32_t>(config_.inactivity_probe_ms / 4, 10)));
  auto self = shared_from_this();
  probe_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    auto now = std::chrono::steady_clock::now();
    auto probe = std::chrono::milliseconds(self->config_.inactivity_probe_ms);
    if (self->probe_sent_) {
      if (now - self->probe_time_ >= probe) {
        spdlog::warn("{}: {}: no reply to an echo request within {} ms, disconnecting",
                     self->mgr_->bridge()->name(), self->peer_, self->config_.inactivity_probe_ms);
        self->Close();
        return;
      }
    } else if (now - self->last_rx_ >= probe && self->version_ != 0) {
      Message m{self->version_.load(), self->next_xid_++, Type::kEchoRequest, ofp::Echo{}};
      self->Send(m);
      self->probe_sent_ = true;
      self->probe_time_ = now;
    }
    self->ArmProbe();
  });
}

void OfConn::Send(std::vector<uint8_t> bytes) {
  if (closed_) return;
  tx_msgs_.fetch_add(1, std::memory_order_relaxed);
  stream_->Send(std::move(bytes));
}

void OfConn::Send(const Message& m) {
  for (auto& b : ofp::Encode(m)) Send(std::move(b));
}

void OfConn::SendError(uint32_t xid, const ofproto::OfpError& e, const std::vector<uint8_t>& request) {
  errors_sent_.fetch_add(1, std::memory_order_relaxed);
  uint8_t v = version_.load() ? version_.load() : ofp::kVersion13;
  spdlog::debug("{}: {}: error type {} code {}: {}", mgr_->bridge()->name(), peer_, e.type, e.code,
                e.message);
  Send(ofp::EncodeError(v, xid, e, request.data(), request.size()));
}

Message OfConn::Reply(uint32_t xid, Type type, ofp::Body body) const {
  return Message{version_.load(), xid, type, std::move(body)};
}

void OfConn::OnMessage(std::vector<uint8_t>&& bytes) {
  last_rx_ = std::chrono::steady_clock::now();
  probe_sent_ = false;
  rx_msgs_.fetch_add(1, std::memory_order_relaxed);
  if (bytes.size() < ofp::kHeaderLen) return;
  ofp::Header h = ofp::PeekHeader(bytes.data());
  if (h.length < ofp::kHeaderLen) {
    SendError(h.xid, MakeError(err::kBadRequest, err::kBadReqBadLen, "length below 8"), bytes);
    return;  // the stream closes after this (it cannot be framed)
  }
  ofp::Decoded d = ofp::Decode(bytes.data(), bytes.size());
  if (version_ == 0) {
    // Only a hello may open the conversation.
    if (!d.ok() || d.msg->type != Type::kHello) {
      SendError(h.xid, MakeError(err::kHelloFailed, 0, "expected HELLO"), bytes);
      Close();
      return;
    }
    uint8_t v = ofp::NegotiateVersion(std::get<ofp::Hello>(d.msg->body));
    if (v == 0) {
      SendError(h.xid, MakeError(err::kHelloFailed, 0, "no common OpenFlow version (Sluice: 1.0, 1.3)"),
                bytes);
      Close();
      return;
    }
    version_ = v;
    spdlog::info("{}: OpenFlow {} connection with {}", mgr_->bridge()->name(),
                 v == ofp::kVersion10 ? "1.0" : "1.3", peer_);
    mgr_->ConnConnected(this);
    return;
  }
  if (h.version != version_ && h.type != 0) {
    SendError(h.xid, MakeError(err::kBadRequest, err::kBadReqBadVersion, "version differs from the negotiated one"),
              bytes);
    return;
  }
  if (!d.ok()) {
    SendError(h.xid, d.error, bytes);
    return;
  }
  if (OfpResult e = Handle(*d.msg, bytes)) SendError(h.xid, *e, bytes);
}

OfpResult OfConn::Handle(const Message& m, const std::vector<uint8_t>& bytes) {
  ofproto::Ofproto* br = mgr_->bridge();
  if (IsSlave() && ModifiesState(m.type)) {
    return MakeError(err::kBadRequest, err::kBadReqIsSlave, "a slave controller may not change the switch");
  }
  switch (m.type) {
    case Type::kHello:
      return std::nullopt;
    case Type::kError: {
      const auto& e = std::get<ofp::Error>(m.body);
      spdlog::warn("{}: {} sent an error: type {} code {}", br->name(), peer_, e.type, e.code);
      return std::nullopt;
    }
    case Type::kEchoRequest: {
      ofp::Echo reply = std::get<ofp::Echo>(m.body);
      reply.reply = true;
      Send(Reply(m.xid, Type::kEchoReply, reply));
      return std::nullopt;
    }
    case Type::kEchoReply:
      return std::nullopt;
    case Type::kExperimenter:
      return MakeError(err::kBadRequest, err::kBadReqBadExperimenter, "no experimenter extensions");
    case Type::kFeaturesRequest:
      Send(Reply(m.xid, Type::kFeaturesReply, Features()));
      return std::nullopt;
    case Type::kGetConfigRequest: {
      ofp::SwitchConfig c;
      c.flags = config_flags_;
      c.miss_send_len = miss_send_len_;
      Send(Reply(m.xid, Type::kGetConfigReply, c));
      return std::nullopt;
    }
    case Type::kSetConfig: {
      const auto& c = std::get<ofp::SwitchConfig>(m.body);
      if (c.flags & ~3u) return MakeError(err::kSwitchConfigFailed, err::kSwitchConfigBadFlags, "unknown config flags");
      config_flags_ = c.flags;
      miss_send_len_ = c.miss_send_len;
      return std::nullopt;
    }
    case Type::kPacketOut: {
      const auto& po = std::get<ofp::PacketOut>(m.body);
      if (po.data.empty()) return MakeError(err::kBadRequest, err::kBadReqBadPacket, "packet-out without a packet");
      return br->PacketOut(po.data.data(), static_cast<uint32_t>(po.data.size()), po.in_port, po.actions);
    }
    case Type::kFlowMod:
      return br->FlowMod(std::get<ofp::FlowMod>(m.body).fm);
    case Type::kGroupMod:
      return br->GroupMod(std::get<ofp::GroupMod>(m.body).gm);
    case Type::kMeterMod:
      return br->MeterMod(std::get<ofp::MeterMod>(m.body).mm);
    case Type::kPortMod:
      return HandlePortMod(std::get<ofp::PortMod>(m.body));
    case Type::kTableMod: {
      const auto& tm = std::get<ofp::TableMod>(m.body);
      if (tm.table_id >= kNumTables && tm.table_id != 0xff) {
        return MakeError(err::kTableModFailed, err::kTableModBadTable, "no such table");
      }
      if (tm.config & ~3u) return MakeError(err::kTableModFailed, err::kTableModBadConfig, "unknown table config");
      return std::nullopt;  // OpenFlow 1.3 table config bits are deprecated; nothing to change
    }
    case Type::kMultipartRequest:
      return HandleMultipart(m);
    case Type::kBarrierRequest:
      Send(Reply(m.xid, Type::kBarrierReply, ofp::BarrierReply{}));
      return std::nullopt;
    case Type::kQueueGetConfigRequest: {
      const auto& q = std::get<ofp::QueueGetConfigRequest>(m.body);
      Send(Reply(m.xid, Type::kQueueGetConfigReply, ofp::QueueGetConfigReply{q.port}));
      return std::nullopt;
    }
    case Type::kRoleRequest:
      return HandleRole(m);
    case Type::kGetAsyncRequest: {
      ofp::AsyncMsg a;
      a.kind = ofp::AsyncMsg::Kind::kGetReply;
      a.config = async_;
      Send(Reply(m.xid, Type::kGetAsyncReply, a));
      return std::nullopt;
    }
    case Type::kSetAsync:
      async_ = std::get<ofp::AsyncMsg>(m.body).config;
      return std::nullopt;
    default:
      // Replies and asynchronous messages only a switch sends.
      return MakeError(err::kBadRequest, err::kBadReqBadType,
                       std::string("a switch does not accept ") + ofp::TypeName(m.type));
  }
}

OfpResult OfConn::HandleRole(const Message& m) {
  const auto& r = std::get<ofp::RoleMsg>(m.body);
  if (r.role != ofp::ControllerRole::kNoChange) {
    if (r.role != ofp::ControllerRole::kEqual && r.role != ofp::ControllerRole::kMaster &&
        r.role != ofp::ControllerRole::kSlave) {
      return MakeError(err::kRoleRequestFailed, err::kRoleBadRole, "unknown role");
    }
    if (OfpResult e = mgr_->ChangeRole(this, r.role, r.generation_id)) return e;
  }
  ofp::RoleMsg reply;
  reply.reply = true;
  reply.role = role_;
  reply.generation_id = r.generation_id;
  Send(Reply(m.xid, Type::kRoleReply, reply));
  return std::nullopt;
}

OfpResult OfConn::HandlePortMod(const ofp::PortMod& pm) {
  for (const auto& p : mgr_->PortDescs()) {
    if (p.port_no != pm.port_no) continue;
    if (p.hw_addr != pm.hw_addr) {
      return MakeError(err::kPortModFailed, err::kPortModBadHwAddr, "hw_addr does not match the port's");
    }
    constexpr uint32_t kSupported = ofp::kPortConfigPortDown | ofp::kPortConfigNoRecv |
                                    ofp::kPortConfigNoFwd | ofp::kPortConfigNoPacketIn;
    if (pm.mask & ~kSupported) {
      return MakeError(err::kPortModFailed, err::kPortModBadConfig, "unsupported port config bits");
    }
    mgr_->SetPortConfig(pm.port_no, pm.config, pm.mask);
    return std::nullopt;
  }
  return MakeError(err::kPortModFailed, err::kPortModBadPort, "no such port");
}

ofp::FeaturesReply OfConn::Features() const {
  ofp::FeaturesReply f;
  f.datapath_id = mgr_->datapath_id();
  f.n_buffers = 0;
  f.n_tables = kNumTables;
  f.capabilities = ofp::kCapFlowStats | ofp::kCapTableStats | ofp::kCapPortStats |
                   (version_ == ofp::kVersion13 ? ofp::kCapGroupStats : 0);
  // OpenFlow 1.0: every action but ENQUEUE's queues (bits 0-11 are OFPAT_*).
  f.actions_10 = 0xfff;
  if (version_ == ofp::kVersion10) f.ports = mgr_->PortDescs();
  return f;
}

OfpResult OfConn::HandleMultipart(const Message& m) {
  const auto& req = std::get<ofp::MultipartRequest>(m.body);
  ofproto::Ofproto* br = mgr_->bridge();
  ofp::MultipartReply rep;
  rep.type = req.type;
  uint64_t now = br->Now();
  switch (req.type) {
    case MpType::kDesc: {
      rep.desc = mgr_->options().desc;
      break;
    }
    case MpType::kFlow:
    case MpType::kAggregate: {
      const auto& f = req.flow;
      if (f.table_id >= kNumTables && f.table_id != ofproto::kAllTables) {
        return MakeError(err::kBadRequest, err::kBadReqBadTableId, "no such table");
      }
      auto rules = br->Flows(f.table_id, f.match, f.cookie, f.cookie_mask, f.out_port, f.out_group);
      for (const auto& r : rules) {
        if (Hidden(*r)) continue;
        if (req.type == MpType::kFlow) {
          rep.flows.push_back(FlowStatsOf(*r, now));
        } else {
          rep.aggregate.flow_count++;
          if (!(r->flags & ofproto::kFlagNoPktCounts)) rep.aggregate.packet_count += r->packets.load();
          if (!(r->flags & ofproto::kFlagNoBytCounts)) rep.aggregate.byte_count += r->bytes.load();
        }
      }
      break;
    }
    case MpType::kTable: {
      for (int t = 0; t < kNumTables; ++t) {
        ofproto::TableStats ts = br->TableStatsOf(static_cast<uint8_t>(t));
        ofp::TableStats s;
        s.table_id = static_cast<uint8_t>(t);
        s.active_count = ts.active;
        s.lookup_count = ts.lookups;
        s.matched_count = ts.matched;
        s.name = "table" + std::to_string(t);
        // Hidden rules are not the controller's: do not count them.
        if (t == 0 && mgr_->fail_open_active() && s.active_count > 0) s.active_count--;
        rep.tables.push_back(std::move(s));
        if (version_ == ofp::kVersion10) break;  // OpenFlow 1.0 switches report their tables; one here
      }
      break;
    }
    case MpType::kPortStats: {
      bool found = req.port_no == ofproto::kPortAny;
      for (const auto& p : mgr_->Ports()) {
        if (req.port_no != ofproto::kPortAny && p.port_no != req.port_no) continue;
        found = true;
        ofp::PortStats s;
        s.port_no = p.port_no;
        s.rx_packets = p.stats.rx_packets;
        s.tx_packets = p.stats.tx_packets;
        s.rx_bytes = p.stats.rx_bytes;
        s.tx_bytes = p.stats.tx_bytes;
        s.rx_dropped = p.stats.rx_dropped;
        s.tx_dropped = p.stats.tx_dropped;
        s.rx_errors = p.stats.rx_errors;
        s.tx_errors = p.stats.tx_errors;
        uint64_t now_dp = dp::Pmd::NowMs();
        SplitDuration(now_dp > p.created_ms ? now_dp - p.created_ms : 0, &s.duration_sec, &s.duration_nsec);
        rep.ports.push_back(s);
      }
      if (!found) return MakeError(err::kBadRequest, err::kBadReqBadPort, "no such port");
      break;
    }
    case MpType::kQueue:
      break;  // no queues
    case MpType::kGroup:
    case MpType::kGroupDesc: {
      auto rules = br->Flows(ofproto::kAllTables, ofproto::OfMatch::CatchAll(), 0, 0, ofproto::kPortAny,
                             ofproto::kGroupAny);
      for (const auto& g : br->Groups()) {
        if (req.group_id != kGroupAll && req.group_id != ofproto::kGroupAny && req.group_id != g.id) continue;
        if (req.type == MpType::kGroupDesc) {
          rep.group_descs.push_back(ofp::GroupDesc{g.type, g.id, g.buckets});
          continue;
        }
        ofp::GroupStats s;
        s.group_id = g.id;
        for (const auto& r : rules) s.ref_count += r->insts.UsesGroup(g.id) ? 1 : 0;
        s.packet_count = g.packets;
        s.byte_count = g.bytes;
        SplitDuration(now > g.created_ms ? now - g.created_ms : 0, &s.duration_sec, &s.duration_nsec);
        for (const auto& b : g.buckets) s.buckets.emplace_back(b.packets, b.bytes);
        rep.groups.push_back(std::move(s));
      }
      break;
    }
    case MpType::kGroupFeatures: {
      rep.group_features.max_groups = {65535, 65535, 65535, 65535};
      // OUTPUT, SET_QUEUE? no: OUTPUT(0), PUSH/POP_VLAN(17,18), GROUP(22), DEC_NW_TTL(24), SET_FIELD(25)
      uint32_t acts = 1u << 0 | 1u << 17 | 1u << 18 | 1u << 22 | 1u << 24 | 1u << 25;
      rep.group_features.actions = {acts, acts, acts, acts};
      break;
    }
    case MpType::kMeter:
    case MpType::kMeterConfig: {
      auto rules = br->Flows(ofproto::kAllTables, ofproto::OfMatch::CatchAll(), 0, 0, ofproto::kPortAny,
                             ofproto::kGroupAny);
      for (const auto& mi : br->Meters()) {
        if (req.meter_id != ofproto::kMeterAll && req.meter_id != mi.meter.id) continue;
        if (req.type == MpType::kMeterConfig) {
          rep.meter_configs.push_back(ofp::MeterConfig{mi.meter.flags, mi.meter.id, mi.meter.bands});
          continue;
        }
        ofp::MeterStats s;
        s.meter_id = mi.meter.id;
        for (const auto& r : rules) s.flow_count += r->insts.meter == mi.meter.id ? 1 : 0;
        s.packet_in_count = mi.stats.packets_in;
        s.byte_in_count = mi.stats.bytes_in;
        SplitDuration(now > mi.meter.created_ms ? now - mi.meter.created_ms : 0, &s.duration_sec,
                      &s.duration_nsec);
        for (const auto& b : mi.stats.bands) s.bands.emplace_back(b.packets, b.bytes);
        rep.meters.push_back(std::move(s));
      }
      break;
    }
    case MpType::kMeterFeatures:
      break;  // the defaults of ofp::MeterFeatures are Sluice's
    case MpType::kTableFeatures: {
      if (!req.body.empty()) {
        return MakeError(err::kTableFeaturesFailed, 5 /* OFPTFFC_EPERM */,
                         "changing table features is not supported");
      }
      for (int t = 0; t < kNumTables; ++t) {
        ofp::TableFeatures tf;
        tf.table_id = static_cast<uint8_t>(t);
        tf.name = "table" + std::to_string(t);
        rep.table_features.push_back(std::move(tf));
      }
      break;
    }
    case MpType::kPortDesc:
      rep.port_descs = mgr_->PortDescs();
      break;
    case MpType::kExperimenter:
      return MakeError(err::kBadRequest, err::kBadReqBadExperimenter, "no experimenter multipart");
  }
  Send(Reply(m.xid, Type::kMultipartReply, std::move(rep)));
  return std::nullopt;
}

void OfConn::SendPacketIn(const ofp::PacketIn& pi, bool no_match) {
  if (!handshake_done() || closed_) return;
  uint32_t reason = static_cast<uint32_t>(pi.reason);
  if (version_ == ofp::kVersion13 && !(async_.packet_in_mask[AsyncSlot()] & (1u << reason))) return;
  if (version_ == ofp::kVersion10 && IsSlave()) return;
  if (stream_->queued_bytes() > kPacketInQueueLimit) {
    packet_ins_dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ofp::PacketIn copy = pi;
  // A table-miss under OpenFlow 1.0 sends miss_send_len bytes (1.3 uses the
  // output action's max_len, already applied by ofproto).
  if (no_match && version_ == ofp::kVersion10 && copy.data.size() > miss_send_len_) {
    copy.data.resize(miss_send_len_);
  }
  packet_ins_.fetch_add(1, std::memory_order_relaxed);
  Send(Reply(next_xid_++, Type::kPacketIn, std::move(copy)));
}

void OfConn::SendFlowRemoved(const ofp::FlowRemoved& fr) {
  if (!handshake_done() || closed_) return;
  uint32_t reason = static_cast<uint32_t>(fr.reason);
  if (version_ == ofp::kVersion13 && !(async_.flow_removed_mask[AsyncSlot()] & (1u << reason))) return;
  if (version_ == ofp::kVersion10 && IsSlave()) return;
  Send(Reply(next_xid_++, Type::kFlowRemoved, fr));
}

void OfConn::SendPortStatus(const ofp::PortStatus& ps) {
  if (!handshake_done() || closed_) return;
  uint32_t reason = static_cast<uint32_t>(ps.reason);
  if (version_ == ofp::kVersion13 && !(async_.port_status_mask[AsyncSlot()] & (1u << reason))) return;
  Send(Reply(next_xid_++, Type::kPortStatus, ps));
}

ConnStatus OfConn::Status() const {
  ConnStatus s;
  s.target = active_ ? config_.target : "";
  s.peer = peer_;
  s.connected = version_ != 0 && !closed_;
  s.role = RoleName(role_.load());
  s.version = version_;
  s.rx_msgs = rx_msgs_.load();
  s.tx_msgs = tx_msgs_.load();
  s.errors_sent = errors_sent_.load();
  s.packet_ins = packet_ins_.load();
  s.packet_ins_dropped = packet_ins_dropped_.load();
  s.state = closed_ ? "closed" : version_ ? "connected" : "handshake";
  return s;
}

}  // namespace sluice::ctl
