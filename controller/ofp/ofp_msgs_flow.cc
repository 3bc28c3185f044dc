// Bodies of the flow-related messages, both versions: packet-in,
// flow-removed, port-status, packet-out, flow-mod, group-mod, meter-mod,
// port-mod, table-mod. Layouts are those of the OpenFlow 1.0.0 and 1.3.x
// specifications (ofp_packet_in, ofp_flow_removed, ofp_port_status,
// ofp_packet_out, ofp_flow_mod, ofp_group_mod, ofp_meter_mod, ofp_port_mod,
// ofp_table_mod); the header comments of ofp_msgs.h say how a 1.0 message
// maps onto the version-independent value.

#include <algorithm>

#include "controller/ofp/ofp_msgs_internal.h"

namespace sluice::ofp::internal {

namespace ofperr = ofproto::ofperr;
using ofproto::FieldId;
using ofproto::FieldValue;
using Cmd = ofproto::FlowMod::Command;

namespace {

constexpr uint32_t kGroupMax = 0xffffff00;  // OFPG_MAX
constexpr uint32_t kGroupAll = 0xfffffffc;  // OFPG_ALL
constexpr uint16_t kFlowModFlags13 = 0x1f;  // SEND_FLOW_REM .. NO_BYT_COUNTS
constexpr uint16_t kFlowModFlags10 = 0x3;   // SEND_FLOW_REM, CHECK_OVERLAP
constexpr uint16_t kFlowModEmerg10 = 0x4;   // OFPFF_EMERG (OpenFlow 1.0 only)
constexpr uint32_t kOfpfw10All = (1u << 22) - 1;
constexpr uint32_t kPortConfigSupported =
    kPortConfigPortDown | kPortConfigNoRecv | kPortConfigNoFwd | kPortConfigNoPacketIn;

uint32_t InPortOf(const ofproto::OfMatch& match) {
  return static_cast<uint32_t>(ofproto::GetField(match.value, FieldId::kInPort).ToUint());
}

ofproto::OfMatch InPortMatch(uint32_t port) {
  ofproto::OfMatch m = ofproto::OfMatch::CatchAll();
  ofproto::MatchField(&m, FieldId::kInPort, FieldValue::FromUint(FieldId::kInPort, port),
                      FieldValue::AllOnes(FieldId::kInPort));
  return m;
}

bool IsDelete(Cmd c) { return c == Cmd::kDelete || c == Cmd::kDeleteStrict; }

// Bytes left before a message reaches 65535.
size_t Room(const Writer& w) { return w.size() < 0xffff ? 0xffff - w.size() : 0; }

}  // namespace

// ---- Packet-in ----

OfpResult DecodePacketIn(uint8_t version, Reader& r, PacketIn* m) {
  m->buffer_id = r.u32();
  m->total_len = r.u16();
  if (version == kVersion10) {
    const uint32_t in_port = PortFrom10(r.u16());
    m->reason = static_cast<PacketInReason>(r.u8());
    r.skip(1);
    if (!r.ok()) return BadLen("packet_in");
    m->table_id = 0;
    m->cookie = 0;
    m->match = InPortMatch(in_port);
  } else {
    m->reason = static_cast<PacketInReason>(r.u8());
    m->table_id = r.u8();
    m->cookie = r.u64();
    if (!r.ok()) return BadLen("packet_in");
    if (auto e = DecodeOxmMatch(r, &m->match)) return e;
    r.skip(2);
    if (!r.ok()) return BadLen("packet_in");
  }
  m->data = Rest(r);
  return std::nullopt;
}

// Data that would not fit in one message is cut (total_len still says how
// long the frame was).
void EncodePacketIn(uint8_t version, Writer& w, const PacketIn& m) {
  w.u32(m.buffer_id);
  w.u16(m.total_len);
  if (version == kVersion10) {
    w.u16(PortTo10(InPortOf(m.match)));
    // 1.0 knows no invalid-TTL reason; such packets went to the controller
    // by the switch's own decision, the nearest being "action".
    w.u8(m.reason == PacketInReason::kInvalidTtl ? static_cast<uint8_t>(PacketInReason::kAction)
                                                 : static_cast<uint8_t>(m.reason));
    w.u8(0);
  } else {
    w.u8(static_cast<uint8_t>(m.reason));
    w.u8(m.table_id);
    w.u64(m.cookie);
    EncodeOxmMatch(w, m.match);
    w.zeros(2);
  }
  w.bytes(m.data.data(), std::min(m.data.size(), Room(w)));
}

// ---- Flow-removed ----

OfpResult DecodeFlowRemoved(uint8_t version, Reader& r, FlowRemoved* m) {
  if (version == kVersion10) {
    if (r.remaining() != 80) return BadLen("flow_removed");
    if (auto e = DecodeMatch10(r, &m->match)) return e;
    m->cookie = r.u64();
    m->priority = r.u16();
    m->reason = static_cast<FlowRemovedReason>(r.u8());
    r.skip(1);
    m->table_id = 0;
    m->duration_sec = r.u32();
    m->duration_nsec = r.u32();
    m->idle_timeout = r.u16();
    m->hard_timeout = 0;
    r.skip(2);
    m->packet_count = r.u64();
    m->byte_count = r.u64();
    return Done(r, "flow_removed");
  }
  m->cookie = r.u64();
  m->priority = r.u16();
  m->reason = static_cast<FlowRemovedReason>(r.u8());
  m->table_id = r.u8();
  m->duration_sec = r.u32();
  m->duration_nsec = r.u32();
  m->idle_timeout = r.u16();
  m->hard_timeout = r.u16();
  m->packet_count = r.u64();
  m->byte_count = r.u64();
  if (!r.ok()) return BadLen("flow_removed");
  if (auto e = DecodeOxmMatch(r, &m->match)) return e;
  return Done(r, "flow_removed");
}

void EncodeFlowRemoved(uint8_t version, Writer& w, const FlowRemoved& m) {
  if (version == kVersion10) {
    EncodeMatch10(w, m.match);
    w.u64(m.cookie);
    w.u16(m.priority);
    // 1.0 has no group-delete reason: the flow was deleted.
    w.u8(m.reason == FlowRemovedReason::kGroupDelete
             ? static_cast<uint8_t>(FlowRemovedReason::kDelete)
             : static_cast<uint8_t>(m.reason));
    w.u8(0);
    w.u32(m.duration_sec);
    w.u32(m.duration_nsec);
    w.u16(m.idle_timeout);
    w.zeros(2);
    w.u64(m.packet_count);
    w.u64(m.byte_count);
    return;
  }
  w.u64(m.cookie);
  w.u16(m.priority);
  w.u8(static_cast<uint8_t>(m.reason));
  w.u8(m.table_id);
  w.u32(m.duration_sec);
  w.u32(m.duration_nsec);
  w.u16(m.idle_timeout);
  w.u16(m.hard_timeout);
  w.u64(m.packet_count);
  w.u64(m.byte_count);
  EncodeOxmMatch(w, m.match);
}

// ---- Port-status ----

OfpResult DecodePortStatus(uint8_t version, Reader& r, PortStatus* m) {
  m->reason = static_cast<PortReason>(r.u8());
  r.skip(7);
  if (auto e = DecodePort(version, r, &m->desc)) return e;
  return Done(r, "port_status");
}

void EncodePortStatus(uint8_t version, Writer& w, const PortStatus& m) {
  w.u8(static_cast<uint8_t>(m.reason));
  w.zeros(7);
  EncodePort(version, w, m.desc);
}

// ---- Packet-out ----

OfpResult DecodePacketOut(uint8_t version, Reader& r, PacketOut* m) {
  m->buffer_id = r.u32();
  m->in_port = version == kVersion10 ? PortFrom10(r.u16()) : r.u32();
  const uint16_t actions_len = r.u16();
  if (version != kVersion10) r.skip(6);
  if (!r.ok() || actions_len > r.remaining()) return BadLen("packet_out");
  if (m->buffer_id != kNoBuffer) {
    return MakeErr(err::kBadRequest, err::kBadReqBufferUnknown,
                   "packet_out: Sluice does not buffer packets");
  }
  const uint32_t p = m->in_port;
  if (p >= ofproto::kPortMax && p != ofproto::kPortLocal && p != ofproto::kPortController &&
      p != ofproto::kPortAny) {
    return MakeErr(err::kBadRequest, err::kBadReqBadPort, "packet_out: bad in_port");
  }
  if (auto e = DecodeActions(version, r, actions_len, &m->actions)) return e;
  if (!r.ok()) return BadLen("packet_out");
  m->data = Rest(r);
  return std::nullopt;
}

void EncodePacketOut(uint8_t version, Writer& w, const PacketOut& m) {
  w.u32(m.buffer_id);
  if (version == kVersion10) {
    w.u16(PortTo10(m.in_port));
  } else {
    w.u32(m.in_port);
  }
  const size_t len_at = w.size();
  w.u16(0);
  if (version != kVersion10) w.zeros(6);
  const size_t start = w.size();
  EncodeActions(version, w, m.actions);
  w.put_u16(len_at, static_cast<uint16_t>(w.size() - start));
  w.bytes(m.data.data(), m.data.size());
}

// ---- Flow-mod ----

OfpResult DecodeFlowMod(uint8_t version, Reader& r, FlowMod* m) {
  ofproto::FlowMod& fm = m->fm;
  uint16_t command = 0;
  if (version == kVersion10) {
    // match(40) cookie(8) command(2) idle(2) hard(2) priority(2)
    // buffer_id(4) out_port(2) flags(2), then actions.
    if (r.remaining() < 64) return BadLen("flow_mod");
    Reader peek = r;
    const uint32_t wildcards = peek.u32();
    if (auto e = DecodeMatch10(r, &fm.match)) return e;
    fm.cookie = r.u64();
    fm.cookie_mask = 0;
    command = r.u16();
    fm.idle_timeout = r.u16();
    fm.hard_timeout = r.u16();
    fm.priority = r.u16();
    m->buffer_id = r.u32();
    fm.out_port = PortFrom10(r.u16());
    fm.out_group = ofproto::kGroupAny;
    const uint16_t flags = r.u16();
    if (!r.ok()) return BadLen("flow_mod");
    if (command > static_cast<uint16_t>(Cmd::kDeleteStrict)) {
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModBadCommand, "unknown command");
    }
    fm.command = static_cast<Cmd>(command);
    if (flags & kFlowModEmerg10) {
      // Sluice has no emergency flow cache (optional in 1.0.1, gone in
      // 1.1); "table full" is the nearest error 1.0 has.
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModTableFull,
                     "emergency flows are not supported");
    }
    if (flags & ~kFlowModFlags10) {
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModBadFlags, "unknown flags");
    }
    fm.flags = flags;
    fm.table_id = IsDelete(fm.command) ? ofproto::kAllTables : 0;
    // 1.0: a modify that matches nothing adds the flow (both modify forms).
    fm.modify_adds_if_missing = fm.command == Cmd::kModify || fm.command == Cmd::kModifyStrict;
    // 1.0: an exact-match entry (no wildcards) has the highest priority.
    if ((wildcards & kOfpfw10All) == 0) fm.priority = 0xffff;
    ofproto::OfActionList actions;
    if (auto e = DecodeActions(version, r, r.remaining(), &actions)) return e;
    fm.insts = actions.empty() ? ofproto::Instructions{} : ofproto::Instructions::Apply(actions);
  } else {
    fm.cookie = r.u64();
    fm.cookie_mask = r.u64();
    fm.table_id = r.u8();
    command = r.u8();
    fm.idle_timeout = r.u16();
    fm.hard_timeout = r.u16();
    fm.priority = r.u16();
    m->buffer_id = r.u32();
    fm.out_port = r.u32();
    fm.out_group = r.u32();
    const uint16_t flags = r.u16();
    r.skip(2);
    if (!r.ok()) return BadLen("flow_mod");
    if (command > static_cast<uint16_t>(Cmd::kDeleteStrict)) {
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModBadCommand, "unknown command");
    }
    fm.command = static_cast<Cmd>(command);
    if (fm.table_id == ofproto::kAllTables && !IsDelete(fm.command)) {
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModBadTableId,
                     "table 255 is only for deletes");
    }
    if (flags & ~kFlowModFlags13) {
      return MakeErr(ofperr::kFlowModFailed, ofperr::kFlowModBadFlags, "unknown flags");
    }
    fm.flags = flags;
    fm.modify_adds_if_missing = false;
    if (auto e = DecodeOxmMatch(r, &fm.match)) return e;
    if (auto e = DecodeInstructions(r, r.remaining(), &fm.insts)) return e;
  }
  // Deletes ignore buffer_id (the spec says so for both versions).
  if (m->buffer_id != kNoBuffer && !IsDelete(fm.command)) {
    return MakeErr(err::kBadRequest, err::kBadReqBufferUnknown,
                   "flow_mod: Sluice does not buffer packets");
  }
  return Done(r, "flow_mod");
}

void EncodeFlowMod(uint8_t version, Writer& w, const FlowMod& m) {
  const ofproto::FlowMod& fm = m.fm;
  if (version == kVersion10) {
    EncodeMatch10(w, fm.match);
    w.u64(fm.cookie);
    w.u16(static_cast<uint16_t>(fm.command));
    w.u16(fm.idle_timeout);
    w.u16(fm.hard_timeout);
    w.u16(static_cast<uint16_t>(fm.priority));
    w.u32(m.buffer_id);
    w.u16(PortTo10(fm.out_port));
    w.u16(fm.flags & kFlowModFlags10);
    EncodeActions(version, w, fm.insts.apply);
    return;
  }
  w.u64(fm.cookie);
  w.u64(fm.cookie_mask);
  w.u8(fm.table_id);
  w.u8(static_cast<uint8_t>(fm.command));
  w.u16(fm.idle_timeout);
  w.u16(fm.hard_timeout);
  w.u16(static_cast<uint16_t>(fm.priority));
  w.u32(m.buffer_id);
  w.u32(fm.out_port);
  w.u32(fm.out_group);
  w.u16(fm.flags);
  w.zeros(2);
  EncodeOxmMatch(w, fm.match);
  EncodeInstructions(w, fm.insts);
}

// ---- Group-mod (1.3) ----

OfpResult DecodeGroupMod(Reader& r, GroupMod* m) {
  ofproto::GroupMod& gm = m->gm;
  const uint16_t command = r.u16();
  const uint8_t type = r.u8();
  r.skip(1);
  uint32_t id = r.u32();
  if (!r.ok()) return BadLen("group_mod");
  if (command > static_cast<uint16_t>(ofproto::GroupMod::Command::kDelete)) {
    return MakeErr(ofperr::kGroupModFailed, ofperr::kGroupBadCommand, "unknown command");
  }
  gm.command = static_cast<ofproto::GroupMod::Command>(command);
  const bool del = gm.command == ofproto::GroupMod::Command::kDelete;
  if (type > static_cast<uint8_t>(ofproto::GroupType::kFastFailover)) {
    return MakeErr(ofperr::kGroupModFailed, ofperr::kGroupBadType, "unknown group type");
  }
  gm.type = static_cast<ofproto::GroupType>(type);
  if (del && (id == kGroupAll || id == ofproto::kGroupAny)) {
    id = ofproto::kGroupAny;  // GroupTable's "delete all"
  } else if (id > kGroupMax) {
    return MakeErr(ofperr::kGroupModFailed, ofperr::kGroupInvalid, "reserved group id");
  }
  gm.group_id = id;
  if (auto e = DecodeBuckets(r, r.remaining(), &gm.buckets)) return e;
  return Done(r, "group_mod");
}

void EncodeGroupMod(Writer& w, const GroupMod& m) {
  const ofproto::GroupMod& gm = m.gm;
  const bool del = gm.command == ofproto::GroupMod::Command::kDelete;
  w.u16(static_cast<uint16_t>(gm.command));
  w.u8(static_cast<uint8_t>(gm.type));
  w.u8(0);
  w.u32(del && gm.group_id == ofproto::kGroupAny ? kGroupAll : gm.group_id);
  EncodeBuckets(w, gm.buckets);
}

// ---- Meter-mod (1.3) ----

OfpResult DecodeMeterMod(Reader& r, MeterMod* m) {
  ofproto::MeterMod& mm = m->mm;
  const uint16_t command = r.u16();
  mm.flags = r.u16();
  mm.meter_id = r.u32();
  if (!r.ok()) return BadLen("meter_mod");
  if (command > static_cast<uint16_t>(ofproto::MeterMod::Command::kDelete)) {
    return MakeErr(ofperr::kMeterModFailed, ofperr::kMeterBadCommand, "unknown command");
  }
  mm.command = static_cast<ofproto::MeterMod::Command>(command);
  if (auto e = DecodeBands(r, r.remaining(), &mm.bands)) return e;
  return Done(r, "meter_mod");
}

void EncodeMeterMod(Writer& w, const MeterMod& m) {
  w.u16(static_cast<uint16_t>(m.mm.command));
  w.u16(m.mm.flags);
  w.u32(m.mm.meter_id);
  EncodeBands(w, m.mm.bands);
}

// ---- Port-mod ----

OfpResult DecodePortMod(uint8_t version, Reader& r, PortMod* m) {
  if (version == kVersion10) {
    m->port_no = PortFrom10(r.u16());
    r.bytes(m->hw_addr.data(), 6);
    m->config = r.u32();
    m->mask = r.u32();
    m->advertise = FeaturesFrom10(r.u32());
    r.skip(4);
  } else {
    m->port_no = r.u32();
    r.skip(4);
    r.bytes(m->hw_addr.data(), 6);
    r.skip(2);
    m->config = r.u32();
    m->mask = r.u32();
    m->advertise = r.u32();
    r.skip(4);
  }
  if (auto e = Done(r, "port_mod")) return e;
  if (m->port_no >= ofproto::kPortMax && m->port_no != ofproto::kPortLocal) {
    return MakeErr(err::kPortModFailed, err::kPortModBadPort, "port_mod: reserved port");
  }
  if (m->mask & ~kPortConfigSupported) {
    return MakeErr(err::kPortModFailed, err::kPortModBadConfig,
                   "port_mod: unsupported config bits");
  }
  return std::nullopt;
}

void EncodePortMod(uint8_t version, Writer& w, const PortMod& m) {
  if (version == kVersion10) {
    w.u16(PortTo10(m.port_no));
    w.bytes(m.hw_addr.data(), 6);
    w.u32(m.config);
    w.u32(m.mask);
    w.u32(FeaturesTo10(m.advertise));
    w.zeros(4);
    return;
  }
  w.u32(m.port_no);
  w.zeros(4);
  w.bytes(m.hw_addr.data(), 6);
  w.zeros(2);
  w.u32(m.config);
  w.u32(m.mask);
  w.u32(m.advertise);
  w.zeros(4);
}

// ---- Table-mod (1.3) ----

OfpResult DecodeTableMod(Reader& r, TableMod* m) {
  m->table_id = r.u8();  // 0xff: all tables
  r.skip(3);
  m->config = r.u32();
  if (auto e = Done(r, "table_mod")) return e;
  if (m->config & ~3u) {  // only OFPTC_DEPRECATED_MASK exists in 1.3
    return MakeErr(err::kTableModFailed, err::kTableModBadConfig, "table_mod: unknown config");
  }
  return std::nullopt;
}

void EncodeTableMod(Writer& w, const TableMod& m) {
  w.u8(m.table_id);
  w.zeros(3);
  w.u32(m.config);
}

}  // namespace sluice::ofp::internal
