// Multipart (OpenFlow 1.0 "stats") requests and replies, both versions.
//
// A reply's entries are written one after another into the current
// message; an entry that would take the message past 65535 bytes moves to a
// fresh message, and every message but the last gets OFPMPF_REPLY_MORE.
// Entries are never split. An entry too large for a message of its own
// (impossible for anything a flow-mod, group-mod or meter-mod could have
// installed) is left out.
//
// Layouts: ofp_multipart_request/reply (1.3: type, flags, 4 pad bytes),
// ofp_stats_request/reply (1.0: type, flags), and the bodies of OpenFlow
// 1.3 section A.3.5 / OpenFlow 1.0 section 5.3.5.

#include <algorithm>

#include "controller/ofp/ofp_msgs_internal.h"

namespace sluice::ofp::internal {

namespace {

constexpr uint16_t kMaxMsg = 0xffff;
constexpr uint32_t kOfpfw10All = (1u << 22) - 1;  // 1.0 table stats: every field wildcardable
constexpr uint16_t kPortAll10 = 0xfffc;           // OFPP_ALL, "every port" in 1.0 queue stats
constexpr size_t kPortStatsLen13 = 112, kPortStatsLen10 = 104;
constexpr size_t kTableStatsLen13 = 24, kTableStatsLen10 = 64;
constexpr size_t kQueueStatsLen13 = 40, kQueueStatsLen10 = 32;

OfpError BadMultipart(const char* what) {
  return MakeErr(err::kBadRequest, err::kBadReqBadMultipart, what);
}

bool KnownMpType(uint8_t version, uint16_t type) {
  if (type == static_cast<uint16_t>(MpType::kExperimenter)) return true;
  const auto last = version == kVersion10 ? MpType::kQueue : MpType::kPortDesc;
  return type <= static_cast<uint16_t>(last);
}

size_t MpHeaderLen(uint8_t version) { return version == kVersion10 ? 12 : 16; }

// The next entry of a list whose u16 length sits `len_off` bytes into the
// entry: a sub-reader over exactly that entry, or false when the length is
// below `min_len` or runs past the list.
bool NextEntry(Reader& r, size_t len_off, size_t min_len, Reader* entry) {
  if (r.remaining() < std::max(min_len, len_off + 2)) return false;
  Reader peek = r;
  peek.skip(len_off);
  const uint16_t len = peek.u16();
  if (len < min_len || len > r.remaining()) return false;
  *entry = r.sub(len);
  return true;
}

// ---- Requests ----

OfpResult DecodeFlowStatsRequest(uint8_t version, Reader& r, FlowStatsRequest* f) {
  if (version == kVersion10) {
    if (r.remaining() != 44) return BadLen("flow_stats_request");
    if (auto e = DecodeMatch10(r, &f->match)) return e;
    f->table_id = r.u8();
    r.skip(1);
    f->out_port = PortFrom10(r.u16());
    f->out_group = ofproto::kGroupAny;
    f->cookie = f->cookie_mask = 0;
    return Done(r, "flow_stats_request");
  }
  f->table_id = r.u8();
  r.skip(3);
  f->out_port = r.u32();
  f->out_group = r.u32();
  r.skip(4);
  f->cookie = r.u64();
  f->cookie_mask = r.u64();
  if (!r.ok()) return BadLen("flow_stats_request");
  if (auto e = DecodeOxmMatch(r, &f->match)) return e;
  return Done(r, "flow_stats_request");
}

void EncodeFlowStatsRequest(uint8_t version, Writer& w, const FlowStatsRequest& f) {
  if (version == kVersion10) {
    EncodeMatch10(w, f.match);
    w.u8(f.table_id);
    w.u8(0);
    w.u16(PortTo10(f.out_port));
    return;
  }
  w.u8(f.table_id);
  w.zeros(3);
  w.u32(f.out_port);
  w.u32(f.out_group);
  w.zeros(4);
  w.u64(f.cookie);
  w.u64(f.cookie_mask);
  EncodeOxmMatch(w, f.match);
}

// ---- Reply entries ----

OfpResult DecodeFlowStats(uint8_t version, Reader& r, FlowStats* s) {
  Reader e(nullptr, 0);
  if (!NextEntry(r, 0, version == kVersion10 ? 88 : 56, &e)) return BadLen("flow_stats");
  e.skip(2);  // length
  s->table_id = e.u8();
  e.skip(1);
  if (version == kVersion10) {
    if (auto err = DecodeMatch10(e, &s->match)) return err;
  }
  s->duration_sec = e.u32();
  s->duration_nsec = e.u32();
  s->priority = e.u16();
  s->idle_timeout = e.u16();
  s->hard_timeout = e.u16();
  if (version == kVersion10) {
    s->flags = 0;
    e.skip(6);
  } else {
    s->flags = e.u16();
    e.skip(4);
  }
  s->cookie = e.u64();
  s->packet_count = e.u64();
  s->byte_count = e.u64();
  if (!e.ok()) return BadLen("flow_stats");
  if (version == kVersion10) {
    ofproto::OfActionList actions;
    if (auto err = DecodeActions(version, e, e.remaining(), &actions)) return err;
    s->insts = actions.empty() ? ofproto::Instructions{} : ofproto::Instructions::Apply(actions);
  } else {
    if (auto err = DecodeOxmMatch(e, &s->match)) return err;
    if (auto err = DecodeInstructions(e, e.remaining(), &s->insts)) return err;
  }
  return Done(e, "flow_stats");
}

void EncodeFlowStats(uint8_t version, Writer& w, const FlowStats& s) {
  const size_t start = w.size();
  w.u16(0);
  w.u8(s.table_id);
  w.u8(0);
  if (version == kVersion10) EncodeMatch10(w, s.match);
  w.u32(s.duration_sec);
  w.u32(s.duration_nsec);
  w.u16(s.priority);
  w.u16(s.idle_timeout);
  w.u16(s.hard_timeout);
  if (version == kVersion10) {
    w.zeros(6);
  } else {
    w.u16(s.flags);
    w.zeros(4);
  }
  w.u64(s.cookie);
  w.u64(s.packet_count);
  w.u64(s.byte_count);
  if (version == kVersion10) {
    EncodeActions(version, w, s.insts.apply);
  } else {
    EncodeOxmMatch(w, s.match);
    EncodeInstructions(w, s.insts);
  }
  w.put_u16(start, static_cast<uint16_t>(std::min<size_t>(w.size() - start, kMaxMsg)));
}

OfpResult DecodeTableStats(uint8_t version, Reader& r, TableStats* t) {
  t->table_id = r.u8();
  r.skip(3);
  if (version == kVersion10) {
    t->name = r.str(32);
    r.skip(4);  // wildcards
    t->max_entries = r.u32();
  }
  t->active_count = r.u32();
  t->lookup_count = r.u64();
  t->matched_count = r.u64();
  if (!r.ok()) return BadLen("table_stats");
  return std::nullopt;
}

void EncodeTableStats(uint8_t version, Writer& w, const TableStats& t) {
  w.u8(t.table_id);
  w.zeros(3);
  if (version == kVersion10) {
    w.str(t.name, 32);
    w.u32(kOfpfw10All);
    w.u32(t.max_entries);
  }
  w.u32(t.active_count);
  w.u64(t.lookup_count);
  w.u64(t.matched_count);
}

// The twelve counters shared by both versions' ofp_port_stats.
template <typename S, typename F>
void ForPortCounters(S& s, F&& f) {
  for (auto* c : {&s.rx_packets, &s.tx_packets, &s.rx_bytes, &s.tx_bytes, &s.rx_dropped,
                  &s.tx_dropped, &s.rx_errors, &s.tx_errors, &s.rx_frame_err, &s.rx_over_err,
                  &s.rx_crc_err, &s.collisions}) {
    f(c);
  }
}

OfpResult DecodePortStats(uint8_t version, Reader& r, PortStats* s) {
  if (version == kVersion10) {
    s->port_no = PortFrom10(r.u16());
    r.skip(6);
  } else {
    s->port_no = r.u32();
    r.skip(4);
  }
  ForPortCounters(*s, [&](uint64_t* c) { *c = r.u64(); });
  if (version != kVersion10) {
    s->duration_sec = r.u32();
    s->duration_nsec = r.u32();
  }
  if (!r.ok()) return BadLen("port_stats");
  return std::nullopt;
}

void EncodePortStats(uint8_t version, Writer& w, const PortStats& s) {
  if (version == kVersion10) {
    w.u16(PortTo10(s.port_no));
    w.zeros(6);
  } else {
    w.u32(s.port_no);
    w.zeros(4);
  }
  ForPortCounters(s, [&](const uint64_t* c) { w.u64(*c); });
  if (version != kVersion10) {
    w.u32(s.duration_sec);
    w.u32(s.duration_nsec);
  }
}

OfpResult DecodeGroupStats(Reader& r, GroupStats* g) {
  Reader e(nullptr, 0);
  if (!NextEntry(r, 0, 40, &e) || (e.remaining() - 40) % 16 != 0) return BadLen("group_stats");
  e.skip(4);  // length, pad
  g->group_id = e.u32();
  g->ref_count = e.u32();
  e.skip(4);
  g->packet_count = e.u64();
  g->byte_count = e.u64();
  g->duration_sec = e.u32();
  g->duration_nsec = e.u32();
  while (e.ok() && e.remaining() > 0) {
    const uint64_t packets = e.u64();
    g->buckets.emplace_back(packets, e.u64());
  }
  return Done(e, "group_stats");
}

void EncodeGroupStats(Writer& w, const GroupStats& g) {
  const size_t start = w.size();
  w.u16(0);
  w.zeros(2);
  w.u32(g.group_id);
  w.u32(g.ref_count);
  w.zeros(4);
  w.u64(g.packet_count);
  w.u64(g.byte_count);
  w.u32(g.duration_sec);
  w.u32(g.duration_nsec);
  for (const auto& [packets, bytes] : g.buckets) {
    w.u64(packets);
    w.u64(bytes);
  }
  w.put_u16(start, static_cast<uint16_t>(std::min<size_t>(w.size() - start, kMaxMsg)));
}

OfpResult DecodeGroupDesc(Reader& r, GroupDesc* g) {
  Reader e(nullptr, 0);
  if (!NextEntry(r, 0, 8, &e)) return BadLen("group_desc");
  e.skip(2);
  const uint8_t type = e.u8();
  e.skip(1);
  g->group_id = e.u32();
  if (type > static_cast<uint8_t>(ofproto::GroupType::kFastFailover)) {
    return MakeErr(ofproto::ofperr::kGroupModFailed, ofproto::ofperr::kGroupBadType,
                   "group_desc: unknown group type");
  }
  g->type = static_cast<ofproto::GroupType>(type);
  if (auto err = DecodeBuckets(e, e.remaining(), &g->buckets)) return err;
  return Done(e, "group_desc");
}

void EncodeGroupDesc(Writer& w, const GroupDesc& g) {
  const size_t start = w.size();
  w.u16(0);
  w.u8(static_cast<uint8_t>(g.type));
  w.u8(0);
  w.u32(g.group_id);
  EncodeBuckets(w, g.buckets);
  w.put_u16(start, static_cast<uint16_t>(std::min<size_t>(w.size() - start, kMaxMsg)));
}

OfpResult DecodeMeterStats(Reader& r, MeterStats* m) {
  Reader e(nullptr, 0);
  if (!NextEntry(r, 4, 40, &e) || (e.remaining() - 40) % 16 != 0) return BadLen("meter_stats");
  m->meter_id = e.u32();
  e.skip(8);  // len, pad
  m->flow_count = e.u32();
  m->packet_in_count = e.u64();
  m->byte_in_count = e.u64();
  m->duration_sec = e.u32();
  m->duration_nsec = e.u32();
  while (e.ok() && e.remaining() > 0) {
    const uint64_t packets = e.u64();
    m->bands.emplace_back(packets, e.u64());
  }
  return Done(e, "meter_stats");
}

void EncodeMeterStats(Writer& w, const MeterStats& m) {
  const size_t start = w.size();
  w.u32(m.meter_id);
  w.u16(0);
  w.zeros(6);
  w.u32(m.flow_count);
  w.u64(m.packet_in_count);
  w.u64(m.byte_in_count);
  w.u32(m.duration_sec);
  w.u32(m.duration_nsec);
  for (const auto& [packets, bytes] : m.bands) {
    w.u64(packets);
    w.u64(bytes);
  }
  w.put_u16(start + 4, static_cast<uint16_t>(std::min<size_t>(w.size() - start, kMaxMsg)));
}

OfpResult DecodeMeterConfig(Reader& r, MeterConfig* m) {
  Reader e(nullptr, 0);
  if (!NextEntry(r, 0, 8, &e)) return BadLen("meter_config");
  e.skip(2);
  m->flags = e.u16();
  m->meter_id = e.u32();
  if (auto err = DecodeBands(e, e.remaining(), &m->bands)) return err;
  return Done(e, "meter_config");
}

void EncodeMeterConfig(Writer& w, const MeterConfig& m) {
  const size_t start = w.size();
  w.u16(0);
  w.u16(m.flags);
  w.u32(m.meter_id);
  EncodeBands(w, m.bands);
  w.put_u16(start, static_cast<uint16_t>(std::min<size_t>(w.size() - start, kMaxMsg)));
}

// Decodes a list body entry by entry.
template <typename T, typename F>
OfpResult DecodeList(Reader& r, std::vector<T>* out, F&& decode_one) {
  while (r.ok() && r.remaining() > 0) {
    T x{};
    if (auto e = decode_one(&x)) return e;
    out->push_back(std::move(x));
  }
  return std::nullopt;
}

// Collects the messages of one multipart reply.
class ReplyBuilder {
 public:
  ReplyBuilder(uint8_t version, uint32_t xid, uint16_t type, uint16_t flags)
      : version_(version), xid_(xid), type_(type), flags_(flags) {
    Start();
  }
  Writer& w() { return w_; }
  void BeginEntry() { entry_start_ = cur_.size(); }
  // Moves the entry just written to a new message when it made the current
  // one too long (or drops it when it cannot fit in any).
  void EndEntry() {
    if (cur_.size() <= kMaxMsg) return;
    const size_t hdr = MpHeaderLen(version_);
    if (cur_.size() - entry_start_ > kMaxMsg - hdr || entry_start_ == hdr) {
      cur_.resize(entry_start_);
      return;
    }
    std::vector<uint8_t> tail(cur_.begin() + static_cast<ptrdiff_t>(entry_start_), cur_.end());
    cur_.resize(entry_start_);
    Flush(flags_ | kMpFlagMore);
    w_.bytes(tail.data(), tail.size());
  }
  std::vector<std::vector<uint8_t>> Finish() {
    Flush(flags_);
    return std::move(msgs_);
  }

 private:
  void Start() {
    cur_.clear();
    StartMessage(w_, version_, version_ == kVersion10 ? 17 : 19, xid_);
    w_.u16(type_);
    w_.u16(0);  // flags, set by Flush
    if (version_ != kVersion10) w_.zeros(4);
  }
  void Flush(uint16_t flags) {
    w_.put_u16(10, flags);
    FinishMessage(cur_);
    msgs_.push_back(std::move(cur_));
    Start();
  }

  uint8_t version_;
  uint32_t xid_;
  uint16_t type_, flags_;
  std::vector<uint8_t> cur_;
  Writer w_{&cur_};
  size_t entry_start_ = 0;
  std::vector<std::vector<uint8_t>> msgs_;
};

template <typename T, typename F>
void EncodeList(ReplyBuilder& b, const std::vector<T>& list, F&& encode_one) {
  for (const T& x : list) {
    b.BeginEntry();
    encode_one(b.w(), x);
    b.EndEntry();
  }
}

}  // namespace

// ---- Requests ----

OfpResult DecodeMultipartRequest(uint8_t version, Reader& r, MultipartRequest* m) {
  const uint16_t type = r.u16();
  m->flags = r.u16();
  if (version != kVersion10) r.skip(4);
  if (!r.ok()) return BadLen("multipart_request");
  if (!KnownMpType(version, type)) return BadMultipart("unknown multipart type");
  m->type = static_cast<MpType>(type);
  switch (m->type) {
    case MpType::kDesc:
    case MpType::kTable:
    case MpType::kGroupDesc:
    case MpType::kGroupFeatures:
    case MpType::kMeterFeatures:
    case MpType::kPortDesc:
      return Done(r, "multipart_request");
    case MpType::kFlow:
    case MpType::kAggregate:
      return DecodeFlowStatsRequest(version, r, &m->flow);
    case MpType::kPortStats:
      if (version == kVersion10) {
        m->port_no = PortFrom10(r.u16());
        r.skip(6);
      } else {
        m->port_no = r.u32();
        r.skip(4);
      }
      return Done(r, "port_stats_request");
    case MpType::kQueue:
      if (version == kVersion10) {
        const uint16_t port = r.u16();
        m->port_no = port == kPortAll10 ? ofproto::kPortAny : PortFrom10(port);
        r.skip(2);
      } else {
        m->port_no = r.u32();
      }
      m->queue_id = r.u32();
      return Done(r, "queue_stats_request");
    case MpType::kGroup:
      m->group_id = r.u32();
      r.skip(4);
      return Done(r, "group_stats_request");
    case MpType::kMeter:
    case MpType::kMeterConfig:
      m->meter_id = r.u32();
      r.skip(4);
      return Done(r, "meter_request");
    case MpType::kTableFeatures:
      m->body = Rest(r);  // empty: a query; else a set, which the caller refuses
      return std::nullopt;
    case MpType::kExperimenter:
      if (r.remaining() < (version == kVersion10 ? 4u : 8u)) return BadLen("experimenter_request");
      m->body = Rest(r);
      return std::nullopt;
  }
  return BadMultipart("unknown multipart type");
}

void EncodeMultipartRequest(uint8_t version, Writer& w, const MultipartRequest& m) {
  w.u16(static_cast<uint16_t>(m.type));
  w.u16(m.flags);
  if (version != kVersion10) w.zeros(4);
  switch (m.type) {
    case MpType::kFlow:
    case MpType::kAggregate:
      EncodeFlowStatsRequest(version, w, m.flow);
      break;
    case MpType::kPortStats:
      if (version == kVersion10) {
        w.u16(PortTo10(m.port_no));
        w.zeros(6);
      } else {
        w.u32(m.port_no);
        w.zeros(4);
      }
      break;
    case MpType::kQueue:
      if (version == kVersion10) {
        w.u16(m.port_no == ofproto::kPortAny ? kPortAll10 : PortTo10(m.port_no));
        w.zeros(2);
      } else {
        w.u32(m.port_no);
      }
      w.u32(m.queue_id);
      break;
    case MpType::kGroup:
      w.u32(m.group_id);
      w.zeros(4);
      break;
    case MpType::kMeter:
    case MpType::kMeterConfig:
      w.u32(m.meter_id);
      w.zeros(4);
      break;
    case MpType::kTableFeatures:
    case MpType::kExperimenter:
      w.bytes(m.body.data(), m.body.size());
      break;
    default:
      break;
  }
}

// ---- Replies ----

OfpResult DecodeMultipartReply(uint8_t version, Reader& r, MultipartReply* m) {
  const uint16_t type = r.u16();
  m->flags = r.u16();
  if (version != kVersion10) r.skip(4);
  if (!r.ok()) return BadLen("multipart_reply");
  if (!KnownMpType(version, type) || type == static_cast<uint16_t>(MpType::kExperimenter)) {
    return BadMultipart("unknown multipart reply type");
  }
  m->type = static_cast<MpType>(type);
  const bool v10 = version == kVersion10;
  switch (m->type) {
    case MpType::kDesc:
      m->desc.mfr_desc = r.str(256);
      m->desc.hw_desc = r.str(256);
      m->desc.sw_desc = r.str(256);
      m->desc.serial_num = r.str(32);
      m->desc.dp_desc = r.str(256);
      return Done(r, "desc_reply");
    case MpType::kFlow:
      return DecodeList(r, &m->flows, [&](FlowStats* x) { return DecodeFlowStats(version, r, x); });
    case MpType::kAggregate:
      m->aggregate.packet_count = r.u64();
      m->aggregate.byte_count = r.u64();
      m->aggregate.flow_count = r.u32();
      r.skip(4);
      return Done(r, "aggregate_reply");
    case MpType::kTable:
      if (r.remaining() % (v10 ? kTableStatsLen10 : kTableStatsLen13) != 0) {
        return BadLen("table_stats");
      }
      return DecodeList(r, &m->tables,
                        [&](TableStats* x) { return DecodeTableStats(version, r, x); });
    case MpType::kPortStats:
      if (r.remaining() % (v10 ? kPortStatsLen10 : kPortStatsLen13) != 0) {
        return BadLen("port_stats");
      }
      return DecodeList(r, &m->ports, [&](PortStats* x) { return DecodePortStats(version, r, x); });
    case MpType::kQueue:
      if (r.remaining() % (v10 ? kQueueStatsLen10 : kQueueStatsLen13) != 0) {
        return BadLen("queue_stats");
      }
      r.skip(r.remaining());  // Sluice has no queues
      return std::nullopt;
    case MpType::kGroup:
      return DecodeList(r, &m->groups, [&](GroupStats* x) { return DecodeGroupStats(r, x); });
    case MpType::kGroupDesc:
      return DecodeList(r, &m->group_descs, [&](GroupDesc* x) { return DecodeGroupDesc(r, x); });
    case MpType::kGroupFeatures:
      m->group_features.types = r.u32();
      m->group_features.capabilities = r.u32();
      for (uint32_t& x : m->group_features.max_groups) x = r.u32();
      for (uint32_t& x : m->group_features.actions) x = r.u32();
      return Done(r, "group_features_reply");
    case MpType::kMeter:
      return DecodeList(r, &m->meters, [&](MeterStats* x) { return DecodeMeterStats(r, x); });
    case MpType::kMeterConfig:
      return DecodeList(r, &m->meter_configs,
                        [&](MeterConfig* x) { return DecodeMeterConfig(r, x); });
    case MpType::kMeterFeatures:
      m->meter_features.max_meter = r.u32();
      m->meter_features.band_types = r.u32();
      m->meter_features.capabilities = r.u32();
      m->meter_features.max_bands = r.u8();
      m->meter_features.max_color = r.u8();
      r.skip(2);
      return Done(r, "meter_features_reply");
    case MpType::kTableFeatures:
      return DecodeList(r, &m->table_features,
                        [&](TableFeatures* x) { return DecodeTableFeatures(r, x); });
    case MpType::kPortDesc:
      if (r.remaining() % kPortLen13 != 0) return BadLen("port_desc");
      return DecodeList(r, &m->port_descs, [&](PortDesc* x) { return DecodePort(version, r, x); });
    case MpType::kExperimenter:
      break;
  }
  return BadMultipart("unknown multipart reply type");
}

std::vector<std::vector<uint8_t>> EncodeMultipartReply(uint8_t version, uint32_t xid,
                                                       const MultipartReply& m) {
  if (!KnownMpType(version, static_cast<uint16_t>(m.type)) || m.type == MpType::kExperimenter) {
    return {};
  }
  ReplyBuilder b(version, xid, static_cast<uint16_t>(m.type), m.flags);
  Writer& w = b.w();
  switch (m.type) {
    case MpType::kDesc:
      w.str(m.desc.mfr_desc, 256);
      w.str(m.desc.hw_desc, 256);
      w.str(m.desc.sw_desc, 256);
      w.str(m.desc.serial_num, 32);
      w.str(m.desc.dp_desc, 256);
      break;
    case MpType::kFlow:
      EncodeList(b, m.flows,
                 [&](Writer& x, const FlowStats& s) { EncodeFlowStats(version, x, s); });
      break;
    case MpType::kAggregate:
      w.u64(m.aggregate.packet_count);
      w.u64(m.aggregate.byte_count);
      w.u32(m.aggregate.flow_count);
      w.zeros(4);
      break;
    case MpType::kTable:
      EncodeList(b, m.tables,
                 [&](Writer& x, const TableStats& t) { EncodeTableStats(version, x, t); });
      break;
    case MpType::kPortStats:
      EncodeList(b, m.ports,
                 [&](Writer& x, const PortStats& s) { EncodePortStats(version, x, s); });
      break;
    case MpType::kQueue:
      break;
    case MpType::kGroup:
      EncodeList(b, m.groups, [&](Writer& x, const GroupStats& g) { EncodeGroupStats(x, g); });
      break;
    case MpType::kGroupDesc:
      EncodeList(b, m.group_descs, [&](Writer& x, const GroupDesc& g) { EncodeGroupDesc(x, g); });
      break;
    case MpType::kGroupFeatures:
      w.u32(m.group_features.types);
      w.u32(m.group_features.capabilities);
      for (uint32_t x : m.group_features.max_groups) w.u32(x);
      for (uint32_t x : m.group_features.actions) w.u32(x);
      break;
    case MpType::kMeter:
      EncodeList(b, m.meters, [&](Writer& x, const MeterStats& s) { EncodeMeterStats(x, s); });
      break;
    case MpType::kMeterConfig:
      EncodeList(b, m.meter_configs,
                 [&](Writer& x, const MeterConfig& c) { EncodeMeterConfig(x, c); });
      break;
    case MpType::kMeterFeatures:
      w.u32(m.meter_features.max_meter);
      w.u32(m.meter_features.band_types);
      w.u32(m.meter_features.capabilities);
      w.u8(m.meter_features.max_bands);
      w.u8(m.meter_features.max_color);
      w.zeros(2);
      break;
    case MpType::kTableFeatures: {
      // A goto may name any later table of the reply.
      std::vector<uint8_t> ids;
      for (const TableFeatures& t : m.table_features) ids.push_back(t.table_id);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      EncodeList(b, m.table_features, [&](Writer& x, const TableFeatures& t) {
        const std::vector<uint8_t> next(std::upper_bound(ids.begin(), ids.end(), t.table_id),
                                        ids.end());
        EncodeTableFeatures(x, t, next);
      });
      break;
    }
    case MpType::kPortDesc:
      EncodeList(b, m.port_descs, [&](Writer& x, const PortDesc& p) { EncodePort(version, x, p); });
      break;
    case MpType::kExperimenter:
      break;
  }
  return b.Finish();
}

}  // namespace sluice::ofp::internal
