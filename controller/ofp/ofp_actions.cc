// Action, instruction, group-bucket and meter-band codecs.
//
// Actions of both versions decode to the OfActions a 1.3 controller would
// have sent: OpenFlow 1.0's set_dl_src is set-field(eth_src), set_nw_tos is
// set-field(ip_dscp, tos >> 2), set_vlan_vid is set-field(vlan_vid,
// OFPVID_PRESENT | vid), strip_vlan is pop_vlan, set_tp_src/dst are
// set-field(tcp_src/dst) (the three L4 port fields share storage, so this
// rewrites UDP and SCTP ports alike), and enqueue is set_queue + output.
//
// Encoding for 1.0 reverses that and leaves out what 1.0 cannot express:
// group, push_vlan (1.0's set_vlan_vid adds a tag itself when the packet
// has none, which is what push_vlan + set-field(vlan_vid) mean), dec_ttl,
// set_queue not directly followed by an output to a port 1.0 can enqueue on
// (1.0 only has enqueue, which is both), outputs to ports with no 16-bit
// number (0xff00..0xfffffeff), and set-field of
// fields 1.0 cannot set (ECN, TTL, IPv6, ARP, ICMP, metadata, registers,
// tunnel id).
//
// Every TLV's length is checked before its body is read: at least the fixed
// size, a multiple of 8, and within its list; each type's fixed length
// exactly.

#include <fmt/format.h>

#include <cstring>

#include "controller/ofp/ofp_wire.h"

namespace sluice::ofp {
namespace {

using ofproto::Bucket;
using ofproto::Field;
using ofproto::FieldId;
using ofproto::FieldValue;
using ofproto::Instructions;
using ofproto::MakeError;
using ofproto::MeterBandSpec;
using ofproto::OfAction;
using ofproto::OfActionList;
using ofproto::OfActionType;
using ofproto::OfpError;
using ofproto::OfpResult;
namespace ofperr = ofproto::ofperr;
using F = FieldId;

// OpenFlow 1.3 error codes that of_error.h does not name.
constexpr uint16_t kBadActionBadExperimenter = 2, kBadActionBadSetLen = 14;
constexpr uint16_t kBadInstBadExperimenter = 5, kBadInstBadLen = 7;
// OFPBIC_DUP_INST: numbered 9 from OpenFlow 1.4 on; 1.3 has no code of its
// own for a duplicate instruction, and 9 is the one that says so.
constexpr uint16_t kBadInstDupInst = 9;
constexpr uint16_t kBadRequestBadLen = 6;
// OFPBMC_* that DecodeOxm returns, mapped to set-field errors below.
constexpr uint16_t kBadMatchBadLen = 1;

constexpr uint8_t kWire10 = 0x01, kWire13 = 0x04;  // wire versions
constexpr uint16_t kVlanPresent = 0x1000;
constexpr uint32_t kGroupMax = 0xffffff00;  // OFPG_MAX
constexpr size_t kTlvHeaderLen = 4;         // type, len

// OFPAT_* of OpenFlow 1.0.
namespace at10 {
constexpr uint16_t kOutput = 0, kSetVlanVid = 1, kSetVlanPcp = 2, kStripVlan = 3, kSetDlSrc = 4,
                   kSetDlDst = 5, kSetNwSrc = 6, kSetNwDst = 7, kSetNwTos = 8, kSetTpSrc = 9,
                   kSetTpDst = 10, kEnqueue = 11, kVendor = 0xffff;
}  // namespace at10

// OFPAT_* of OpenFlow 1.3.
namespace at13 {
constexpr uint16_t kOutput = 0, kCopyTtlOut = 11, kCopyTtlIn = 12, kSetMplsTtl = 15,
                   kDecMplsTtl = 16, kPushVlan = 17, kPopVlan = 18, kPushMpls = 19, kPopMpls = 20,
                   kSetQueue = 21, kGroup = 22, kSetNwTtl = 23, kDecNwTtl = 24, kSetField = 25,
                   kPushPbb = 26, kPopPbb = 27, kExperimenter = 0xffff;
}  // namespace at13

// OFPIT_* (1.3).
namespace it {
constexpr uint16_t kGotoTable = 1, kWriteMetadata = 2, kWriteActions = 3, kApplyActions = 4,
                   kClearActions = 5, kMeter = 6, kExperimenter = 0xffff;
}  // namespace it

OfpError BadAction(uint16_t code, std::string msg) {
  return MakeError(ofperr::kBadAction, code, std::move(msg));
}
OfpError BadInst(uint16_t code, std::string msg) {
  return MakeError(ofperr::kBadInstruction, code, std::move(msg));
}

size_t PadTo8(size_t len) { return (8 - len % 8) % 8; }

// Reads a TLV header (type, len) and hands out its body (len - 4 bytes).
// False when the header is short or len is under `min_len`, not a multiple
// of 8, or past the end of `list`.
bool NextTlv(Reader& list, size_t min_len, uint16_t* type, uint16_t* len, Reader* body) {
  *type = list.u16();
  *len = list.u16();
  if (!list.ok() || *len < min_len || *len % 8 || *len - kTlvHeaderLen > list.remaining()) {
    return false;
  }
  *body = list.sub(*len - kTlvHeaderLen);
  return true;
}

// Sets the length of the TLV that starts at `start` to reach the end.
void EndTlv(Writer& w, size_t start) {
  w.put_u16(start + 2, static_cast<uint16_t>(w.size() - start));
}

// ---------------------------------------------------------------------------
// Decoding actions.

OfpResult WantLen(uint16_t len, uint16_t want, const char* name) {
  if (len == want) return std::nullopt;
  return BadAction(ofperr::kBadActionBadLen,
                   fmt::format("{} action has length {}, want {}", name, len, want));
}

// A port an output may name: a physical one or a reserved one that means a
// destination (not OFPP_ANY, not the unassigned 0xffffff01..0xfffffff7).
OfpResult CheckOutPort(uint32_t port) {
  if (port <= ofproto::kPortMax || (port >= ofproto::kPortInPort && port <= ofproto::kPortLocal)) {
    return std::nullopt;
  }
  return BadAction(ofperr::kBadActionBadOutPort, fmt::format("output to invalid port {:#x}", port));
}

// OpenFlow 1.0's enqueue takes a physical port, IN_PORT or LOCAL.
bool IsQueuePort10(uint32_t port) {
  return port < 0xff00 || port == ofproto::kPortInPort || port == ofproto::kPortLocal;
}

// DecodeOxm's BAD_MATCH error as the set-field error the spec names for it:
// unknown field -> BAD_SET_TYPE, length -> BAD_SET_LEN, value or mask ->
// BAD_SET_ARGUMENT.
OfpResult SetFieldError(const OfpError& e) {
  uint16_t code = e.code == ofperr::kBadMatchBadField ? ofperr::kBadActionBadSetType
                  : e.code == kBadMatchBadLen         ? kBadActionBadSetLen
                                                      : ofperr::kBadActionBadSetArgument;
  return BadAction(code, "set-field: " + e.message);
}

// OFPAT_SET_FIELD: one OXM (no mask) and padding to 8 bytes.
OfpResult DecodeSetField(uint16_t len, Reader& body, OfActionList* out) {
  size_t before = body.remaining();
  FieldId id;
  FieldValue value, mask;
  bool has_mask;
  if (auto err = DecodeOxm(body, &id, &value, &mask, &has_mask)) return SetFieldError(*err);
  size_t oxm_len = before - body.remaining();
  const char* name = Field(id).name;
  if (body.remaining() != PadTo8(kTlvHeaderLen + oxm_len)) {
    return BadAction(kBadActionBadSetLen,
                     fmt::format("set-field {}: action length {} does not fit its OXM", name, len));
  }
  if (!Field(id).writable) {
    return BadAction(ofperr::kBadActionBadSetType, fmt::format("field {} cannot be set", name));
  }
  if (has_mask) {
    return BadAction(ofperr::kBadActionBadSetArgument,
                     fmt::format("set-field {} with a mask", name));
  }
  if (id == F::kVlanVid && !(value.ToUint() & kVlanPresent)) {
    return BadAction(ofperr::kBadActionBadSetArgument,
                     "set-field vlan_vid without OFPVID_PRESENT (0x1000)");
  }
  out->push_back(OfAction::SetField(id, value));
  return std::nullopt;
}

OfpResult DecodeOutput13(uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 16, "output")) return err;
  uint32_t port = b.u32();
  uint16_t max_len = b.u16();
  if (auto err = CheckOutPort(port)) return err;
  out->push_back(OfAction::Output(port, max_len));
  return std::nullopt;
}

OfpResult DecodeGroup13(uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 8, "group")) return err;
  uint32_t group = b.u32();
  if (group > kGroupMax) {
    return BadAction(ofperr::kBadActionBadOutGroup, fmt::format("group {:#x} is reserved", group));
  }
  out->push_back(OfAction::Group(group));
  return std::nullopt;
}

OfpResult DecodePushVlan13(uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 8, "push_vlan")) return err;
  uint16_t ethertype = b.u16();
  if (ethertype != 0x8100 && ethertype != 0x88a8) {
    return BadAction(ofperr::kBadActionBadArgument,
                     fmt::format("push_vlan ethertype {:#06x} (want 0x8100 or 0x88a8)", ethertype));
  }
  out->push_back(OfAction::PushVlan(ethertype));
  return std::nullopt;
}

// The 8-byte actions with at most one 32- or 8-bit argument.
OfpResult DecodeSimple13(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  switch (type) {
    case at13::kPopVlan:
      if (auto err = WantLen(len, 8, "pop_vlan")) return err;
      out->push_back(OfAction::PopVlan());
      return std::nullopt;
    case at13::kDecNwTtl:
      if (auto err = WantLen(len, 8, "dec_nw_ttl")) return err;
      out->push_back(OfAction::DecTtl());
      return std::nullopt;
    case at13::kSetQueue:
      if (auto err = WantLen(len, 8, "set_queue")) return err;
      out->push_back(OfAction::SetQueue(b.u32()));
      return std::nullopt;
    case at13::kSetNwTtl:
      if (auto err = WantLen(len, 8, "set_nw_ttl")) return err;
      out->push_back(OfAction::SetField(F::kIpTtl, FieldValue::FromUint(F::kIpTtl, b.u8())));
      return std::nullopt;
  }
  return BadAction(ofperr::kBadActionBadType, fmt::format("unknown action type {}", type));
}

OfpResult DecodeAction13(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  switch (type) {
    case at13::kOutput:
      return DecodeOutput13(len, b, out);
    case at13::kGroup:
      return DecodeGroup13(len, b, out);
    case at13::kPushVlan:
      return DecodePushVlan13(len, b, out);
    case at13::kSetField:
      return DecodeSetField(len, b, out);
    case at13::kPopVlan:
    case at13::kDecNwTtl:
    case at13::kSetQueue:
    case at13::kSetNwTtl:
      return DecodeSimple13(type, len, b, out);
    case at13::kCopyTtlOut:
    case at13::kCopyTtlIn:
    case at13::kSetMplsTtl:
    case at13::kDecMplsTtl:
    case at13::kPushMpls:
    case at13::kPopMpls:
    case at13::kPushPbb:
    case at13::kPopPbb:
      return BadAction(ofperr::kBadActionBadType,
                       fmt::format("action type {} (MPLS, PBB, copy-TTL) is not supported", type));
    case at13::kExperimenter:
      return BadAction(kBadActionBadExperimenter,
                       fmt::format("experimenter action {:#x} is not supported", b.u32()));
    default:
      return BadAction(ofperr::kBadActionBadType, fmt::format("unknown action type {}", type));
  }
}

// OpenFlow 1.0 output and enqueue: 16-bit ports.
OfpResult DecodeOutput10(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  bool enqueue = type == at10::kEnqueue;
  if (auto err = WantLen(len, enqueue ? 16 : 8, enqueue ? "enqueue" : "output")) return err;
  uint32_t port = PortFrom10(b.u16());
  uint16_t max_len = 0;
  uint32_t queue = 0;
  if (enqueue) {
    b.skip(6);
    queue = b.u32();
  } else {
    max_len = b.u16();
  }
  if (auto err = CheckOutPort(port)) return err;
  if (enqueue && !IsQueuePort10(port)) {
    return BadAction(ofperr::kBadActionBadOutPort, fmt::format("enqueue to port {:#x}", port));
  }
  if (enqueue) out->push_back(OfAction::SetQueue(queue));
  out->push_back(OfAction::Output(port, max_len));
  return std::nullopt;
}

OfpResult DecodeSetVlan10(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 8, "set_vlan")) return err;
  if (type == at10::kSetVlanVid) {
    uint16_t vid = b.u16();
    if (vid > 0x0fff) {
      return BadAction(ofperr::kBadActionBadArgument, fmt::format("VLAN id {} > 4095", vid));
    }
    out->push_back(
        OfAction::SetField(F::kVlanVid, FieldValue::FromUint(F::kVlanVid, kVlanPresent | vid)));
    return std::nullopt;
  }
  uint8_t pcp = b.u8();
  if (pcp > 7) {
    return BadAction(ofperr::kBadActionBadArgument, fmt::format("VLAN priority {} > 7", pcp));
  }
  out->push_back(OfAction::SetField(F::kVlanPcp, FieldValue::FromUint(F::kVlanPcp, pcp)));
  return std::nullopt;
}

OfpResult DecodeSetDl10(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 16, "set_dl_addr")) return err;
  FieldId id = type == at10::kSetDlSrc ? F::kEthSrc : F::kEthDst;
  FieldValue v = FieldValue::Of(id);
  b.bytes(v.b.data(), 6);
  out->push_back(OfAction::SetField(id, v));
  return std::nullopt;
}

OfpResult DecodeSetNw10(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  if (auto err = WantLen(len, 8, "set_nw")) return err;
  if (type == at10::kSetNwTos) {
    uint8_t tos = b.u8();
    if (tos & 0x03) {
      return BadAction(ofperr::kBadActionBadArgument,
                       fmt::format("set_nw_tos {:#x} has ECN bits set", tos));
    }
    out->push_back(OfAction::SetField(F::kIpDscp, FieldValue::FromUint(F::kIpDscp, tos >> 2)));
    return std::nullopt;
  }
  FieldId id = type == at10::kSetNwSrc   ? F::kIpv4Src
               : type == at10::kSetNwDst ? F::kIpv4Dst
               : type == at10::kSetTpSrc ? F::kTcpSrc
                                         : F::kTcpDst;
  uint64_t v = Field(id).bytes == 4 ? b.u32() : b.u16();
  out->push_back(OfAction::SetField(id, FieldValue::FromUint(id, v)));
  return std::nullopt;
}

OfpResult DecodeAction10(uint16_t type, uint16_t len, Reader& b, OfActionList* out) {
  switch (type) {
    case at10::kOutput:
    case at10::kEnqueue:
      return DecodeOutput10(type, len, b, out);
    case at10::kSetVlanVid:
    case at10::kSetVlanPcp:
      return DecodeSetVlan10(type, len, b, out);
    case at10::kStripVlan:
      if (auto err = WantLen(len, 8, "strip_vlan")) return err;
      out->push_back(OfAction::PopVlan());
      return std::nullopt;
    case at10::kSetDlSrc:
    case at10::kSetDlDst:
      return DecodeSetDl10(type, len, b, out);
    case at10::kSetNwSrc:
    case at10::kSetNwDst:
    case at10::kSetNwTos:
    case at10::kSetTpSrc:
    case at10::kSetTpDst:
      return DecodeSetNw10(type, len, b, out);
    case at10::kVendor:
      return BadAction(kBadActionBadExperimenter,
                       fmt::format("vendor action {:#x} is not supported", b.u32()));
    default:
      return BadAction(ofperr::kBadActionBadType, fmt::format("unknown action type {}", type));
  }
}

// ---------------------------------------------------------------------------
// Encoding actions.

void Encode8(Writer& w, uint16_t type) {
  w.u16(type);
  w.u16(8);
  w.zeros(4);
}

void EncodeAction13(Writer& w, const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      w.u16(at13::kOutput);
      w.u16(16);
      w.u32(a.port);
      w.u16(a.max_len);
      w.zeros(6);
      return;
    case OfActionType::kGroup:
      w.u16(at13::kGroup);
      w.u16(8);
      w.u32(a.group_id);
      return;
    case OfActionType::kSetQueue:
      w.u16(at13::kSetQueue);
      w.u16(8);
      w.u32(a.queue_id);
      return;
    case OfActionType::kPushVlan:
      w.u16(at13::kPushVlan);
      w.u16(8);
      w.u16(a.ethertype);
      w.zeros(2);
      return;
    case OfActionType::kPopVlan:
      Encode8(w, at13::kPopVlan);
      return;
    case OfActionType::kDecTtl:
      Encode8(w, at13::kDecNwTtl);
      return;
    case OfActionType::kSetField:
      break;
  }
  if (a.field >= F::kCount) return;  // no field: nothing to say
  if (a.field == F::kIpTtl) {        // no OXM in 1.3; set_nw_ttl says it
    w.u16(at13::kSetNwTtl);
    w.u16(8);
    w.u8(static_cast<uint8_t>(a.value.ToUint()));
    w.zeros(3);
    return;
  }
  size_t start = w.size();
  w.u16(at13::kSetField);
  w.u16(0);
  EncodeOxm(w, a.field, a.value, nullptr);
  w.zeros(PadTo8(w.size() - start));
  EndTlv(w, start);
}

// An output to `port` as a 1.0 action (output, or enqueue when queue set).
// False when the port has no 16-bit number or cannot be enqueued on.
bool EncodeOutput10(Writer& w, uint32_t port, uint16_t max_len, const uint32_t* queue) {
  uint16_t p = PortTo10(port);
  if (PortFrom10(p) != port || (queue && !IsQueuePort10(port))) return false;
  if (queue) {
    w.u16(at10::kEnqueue);
    w.u16(16);
    w.u16(p);
    w.zeros(6);
    w.u32(*queue);
  } else {
    w.u16(at10::kOutput);
    w.u16(8);
    w.u16(p);
    w.u16(max_len);
  }
  return true;
}

// A set-field as the 1.0 action that sets the same field, if there is one.
void EncodeSetField10(Writer& w, const OfAction& a) {
  uint64_t v = a.value.ToUint();
  switch (a.field) {
    case F::kEthSrc:
    case F::kEthDst:
      w.u16(a.field == F::kEthSrc ? at10::kSetDlSrc : at10::kSetDlDst);
      w.u16(16);
      w.bytes(a.value.b.data(), 6);
      w.zeros(6);
      return;
    case F::kVlanVid:
      w.u16(at10::kSetVlanVid);
      w.u16(8);
      w.u16(static_cast<uint16_t>(v & 0x0fff));
      w.zeros(2);
      return;
    case F::kVlanPcp:
    case F::kIpDscp:
      w.u16(a.field == F::kVlanPcp ? at10::kSetVlanPcp : at10::kSetNwTos);
      w.u16(8);
      w.u8(static_cast<uint8_t>(a.field == F::kVlanPcp ? v : v << 2));
      w.zeros(3);
      return;
    case F::kIpv4Src:
    case F::kIpv4Dst:
      w.u16(a.field == F::kIpv4Src ? at10::kSetNwSrc : at10::kSetNwDst);
      w.u16(8);
      w.u32(static_cast<uint32_t>(v));
      return;
    case F::kTcpSrc:
    case F::kUdpSrc:
    case F::kSctpSrc:
    case F::kTcpDst:
    case F::kUdpDst:
    case F::kSctpDst: {
      bool src = a.field == F::kTcpSrc || a.field == F::kUdpSrc || a.field == F::kSctpSrc;
      w.u16(src ? at10::kSetTpSrc : at10::kSetTpDst);
      w.u16(8);
      w.u16(static_cast<uint16_t>(v));
      w.zeros(2);
      return;
    }
    default:
      return;  // 1.0 cannot set this field
  }
}

void EncodeActions10(Writer& w, const OfActionList& actions) {
  for (size_t i = 0; i < actions.size(); ++i) {
    const OfAction& a = actions[i];
    switch (a.type) {
      case OfActionType::kOutput:
        EncodeOutput10(w, a.port, a.max_len, nullptr);
        break;
      case OfActionType::kSetQueue:
        // set_queue + output is enqueue; a queue on its own has no 1.0 form.
        if (i + 1 < actions.size() && actions[i + 1].type == OfActionType::kOutput &&
            EncodeOutput10(w, actions[i + 1].port, 0, &a.queue_id)) {
          ++i;
        }
        break;
      case OfActionType::kSetField:
        EncodeSetField10(w, a);
        break;
      case OfActionType::kPopVlan:
        Encode8(w, at10::kStripVlan);
        break;
      case OfActionType::kGroup:
      case OfActionType::kPushVlan:
      case OfActionType::kDecTtl:
        break;  // no 1.0 equivalent (see the file comment)
    }
  }
}

// ---------------------------------------------------------------------------
// Instructions.

OfpResult WantInstLen(uint16_t len, uint16_t want, const char* name) {
  if (len == want) return std::nullopt;
  return BadInst(kBadInstBadLen,
                 fmt::format("{} instruction has length {}, want {}", name, len, want));
}

OfpResult DecodeActionInst(uint16_t type, uint16_t len, Reader& b, Instructions* out) {
  b.skip(4);
  OfActionList actions;
  if (auto err = DecodeActions(kWire13, b, len - 8, &actions)) return err;
  if (type == it::kApplyActions) {
    out->apply = std::move(actions);
    out->has_apply = true;
  } else {
    out->write = std::move(actions);
  }
  return std::nullopt;
}

OfpResult DecodeInstruction(uint16_t type, uint16_t len, Reader& b, Instructions* out) {
  switch (type) {
    case it::kGotoTable:
      if (auto err = WantInstLen(len, 8, "goto_table")) return err;
      out->goto_table = b.u8();
      return std::nullopt;
    case it::kWriteMetadata: {
      if (auto err = WantInstLen(len, 24, "write_metadata")) return err;
      b.skip(4);
      uint64_t metadata = b.u64();
      uint64_t mask = b.u64();
      out->has_write_metadata = true;
      out->metadata = metadata & mask;
      out->metadata_mask = mask;
      return std::nullopt;
    }
    case it::kWriteActions:
    case it::kApplyActions:
      return DecodeActionInst(type, len, b, out);
    case it::kClearActions:
      if (auto err = WantInstLen(len, 8, "clear_actions")) return err;
      out->clear_actions = true;
      return std::nullopt;
    case it::kMeter:
      if (auto err = WantInstLen(len, 8, "meter")) return err;
      out->meter = b.u32();
      return std::nullopt;
    case it::kExperimenter:
      return BadInst(kBadInstBadExperimenter,
                     fmt::format("experimenter instruction {:#x} is not supported", b.u32()));
    default:
      return BadInst(ofperr::kBadInstUnknownInst, fmt::format("unknown instruction type {}", type));
  }
}

// An instruction whose body is a list of actions.
void EncodeActionInst(Writer& w, uint16_t type, const OfActionList& actions) {
  size_t start = w.size();
  w.u16(type);
  w.u16(0);
  w.zeros(4);
  EncodeActions(kWire13, w, actions);
  EndTlv(w, start);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

// Any version but 0x01 reads OpenFlow 1.3's actions.
OfpResult DecodeActions(uint8_t version, Reader& r, size_t len, OfActionList* actions) {
  Reader list = r.sub(len);
  if (!list.ok()) return BadAction(ofperr::kBadActionBadLen, "actions run past their end");
  OfActionList out;
  while (list.remaining() > 0) {
    uint16_t type, alen;
    Reader body(nullptr, 0);
    if (!NextTlv(list, 8, &type, &alen, &body)) {
      return BadAction(ofperr::kBadActionBadLen,
                       fmt::format("action type {} has bad length {}", type, alen));
    }
    OfpResult err = version == kWire10 ? DecodeAction10(type, alen, body, &out)
                                       : DecodeAction13(type, alen, body, &out);
    if (err) return err;
  }
  *actions = std::move(out);
  return std::nullopt;
}

void EncodeActions(uint8_t version, Writer& w, const OfActionList& actions) {
  if (version == kWire10) {
    EncodeActions10(w, actions);
    return;
  }
  for (const OfAction& a : actions) EncodeAction13(w, a);
}

OfpResult DecodeInstructions(Reader& r, size_t len, Instructions* insts) {
  Reader list = r.sub(len);
  if (!list.ok()) return BadInst(kBadInstBadLen, "instructions run past their end");
  Instructions out;
  uint32_t seen = 0;
  while (list.remaining() > 0) {
    uint16_t type, ilen;
    Reader body(nullptr, 0);
    if (!NextTlv(list, 8, &type, &ilen, &body)) {
      return BadInst(kBadInstBadLen,
                     fmt::format("instruction type {} has bad length {}", type, ilen));
    }
    if (type >= it::kGotoTable && type <= it::kMeter) {
      if (seen & 1u << type) {
        return BadInst(kBadInstDupInst, fmt::format("instruction type {} appears twice", type));
      }
      seen |= 1u << type;
    }
    if (auto err = DecodeInstruction(type, ilen, body, &out)) return err;
  }
  *insts = std::move(out);
  return std::nullopt;
}

// In the order the pipeline applies them: meter, apply-actions,
// clear-actions, write-actions, write-metadata, goto-table.
void EncodeInstructions(Writer& w, const Instructions& insts) {
  if (insts.meter) {
    w.u16(it::kMeter);
    w.u16(8);
    w.u32(*insts.meter);
  }
  if (insts.has_apply || !insts.apply.empty()) {
    EncodeActionInst(w, it::kApplyActions, insts.apply);
  }
  if (insts.clear_actions) Encode8(w, it::kClearActions);
  if (insts.write) EncodeActionInst(w, it::kWriteActions, *insts.write);
  if (insts.has_write_metadata) {
    w.u16(it::kWriteMetadata);
    w.u16(24);
    w.zeros(4);
    w.u64(insts.metadata);
    w.u64(insts.metadata_mask);
  }
  if (insts.goto_table) {
    w.u16(it::kGotoTable);
    w.u16(8);
    w.u8(*insts.goto_table);
    w.zeros(3);
  }
}

// ---------------------------------------------------------------------------
// Group buckets and meter bands (1.3).

OfpResult DecodeBuckets(Reader& r, size_t len, std::vector<Bucket>* buckets) {
  constexpr size_t kBucketLen = 16;
  auto bad = [](std::string msg) {
    return MakeError(ofperr::kGroupModFailed, ofperr::kGroupBadBucket, std::move(msg));
  };
  Reader list = r.sub(len);
  if (!list.ok()) return bad("buckets run past their end");
  std::vector<Bucket> out;
  while (list.remaining() > 0) {
    uint16_t blen = list.u16();
    if (!list.ok() || blen < kBucketLen || blen - 2u > list.remaining()) {
      return bad(fmt::format("bucket {} has bad length {}", out.size(), blen));
    }
    Reader body = list.sub(blen - 2u);
    Bucket b;
    b.weight = body.u16();
    b.watch_port = body.u32();
    b.watch_group = body.u32();
    body.skip(4);
    if (auto err = DecodeActions(kWire13, body, blen - kBucketLen, &b.actions)) {
      return err;
    }
    out.push_back(std::move(b));
  }
  *buckets = std::move(out);
  return std::nullopt;
}

void EncodeBuckets(Writer& w, const std::vector<Bucket>& buckets) {
  for (const Bucket& b : buckets) {
    size_t start = w.size();
    w.u16(0);  // len, below
    w.u16(b.weight);
    w.u32(b.watch_port);
    w.u32(b.watch_group);
    w.zeros(4);
    EncodeActions(kWire13, w, b.actions);
    w.put_u16(start, static_cast<uint16_t>(w.size() - start));
  }
}

// Drop and DSCP-remark bands, 16 bytes each. Experimenter bands are refused
// (BAD_BAND): Sluice has none.
OfpResult DecodeBands(Reader& r, size_t len, std::vector<MeterBandSpec>* bands) {
  constexpr uint16_t kBandLen = 16;
  auto bad_len = [](std::string msg) {
    return MakeError(ofperr::kBadRequest, kBadRequestBadLen, std::move(msg));
  };
  Reader list = r.sub(len);
  if (!list.ok()) return bad_len("meter bands run past their end");
  std::vector<MeterBandSpec> out;
  while (list.remaining() > 0) {
    uint16_t type = list.u16();
    uint16_t blen = list.u16();
    if (!list.ok() || blen < kBandLen || blen - kTlvHeaderLen > list.remaining()) {
      return bad_len(fmt::format("meter band {} has bad length {}", out.size(), blen));
    }
    Reader body = list.sub(blen - kTlvHeaderLen);
    if (type != MeterBandSpec::kDrop && type != MeterBandSpec::kDscpRemark) {
      return MakeError(ofperr::kMeterModFailed, ofperr::kMeterBadBand,
                       fmt::format("meter band type {} is not supported", type));
    }
    if (blen != kBandLen) {
      return bad_len(fmt::format("meter band {} has length {}, want 16", out.size(), blen));
    }
    MeterBandSpec band;
    band.type = type;
    band.rate = body.u32();
    band.burst_size = body.u32();
    if (type == MeterBandSpec::kDscpRemark) band.prec_level = body.u8();
    out.push_back(band);
  }
  *bands = std::move(out);
  return std::nullopt;
}

void EncodeBands(Writer& w, const std::vector<MeterBandSpec>& bands) {
  for (const MeterBandSpec& b : bands) {
    w.u16(b.type);
    w.u16(16);
    w.u32(b.rate);
    w.u32(b.burst_size);
    if (b.type == MeterBandSpec::kDscpRemark) {
      w.u8(b.prec_level);
      w.zeros(3);
    } else {
      w.zeros(4);  // drop: pad; experimenter: id 0
    }
  }
}

}  // namespace sluice::ofp
