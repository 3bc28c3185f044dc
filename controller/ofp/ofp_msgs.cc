// The message codec's frame: header, the version's type numbers, Decode()
// and Encode() dispatch, the small fixed-layout messages (hello, error,
// echo, experimenter, features, switch config, role, async config, queue
// config, barrier), EncodeError()'s OpenFlow 1.0 renumbering and version
// negotiation. Flow-related bodies are in ofp_msgs_flow.cc, multipart in
// ofp_multipart.cc.

#include "controller/ofp/ofp_msgs.h"

#include <algorithm>
#include <utility>

#include "controller/ofp/ofp_msgs_internal.h"
#include "controller/ofp/ofp_wire.h"

namespace sluice::ofp {

using ofproto::OfpResult;
namespace ofperr = ofproto::ofperr;

namespace internal {

std::vector<uint8_t> Rest(Reader& r) {
  const size_t n = r.remaining();
  std::vector<uint8_t> v(n);
  if (n > 0) r.bytes(v.data(), n);
  return v;
}

void StartMessage(Writer& w, uint8_t version, uint8_t wire_type, uint32_t xid) {
  w.u8(version);
  w.u8(wire_type);
  w.u16(0);
  w.u32(xid);
}

bool FinishMessage(std::vector<uint8_t>& msg) {
  if (msg.size() < kHeaderLen || msg.size() > 0xffff) return false;
  msg[2] = static_cast<uint8_t>(msg.size() >> 8);
  msg[3] = static_cast<uint8_t>(msg.size());
  return true;
}

uint32_t FeaturesTo10(uint32_t f) { return (f & 0x7f) | (((f >> 11) & 0x1f) << 7); }
uint32_t FeaturesFrom10(uint32_t f) { return (f & 0x7f) | (((f >> 7) & 0x1f) << 11); }

OfpResult DecodePort(uint8_t version, Reader& r, PortDesc* p) {
  if (version == kVersion10) {
    p->port_no = PortFrom10(r.u16());
    r.bytes(p->hw_addr.data(), 6);
    p->name = r.str(16);
    p->config = r.u32();
    p->state = r.u32() & kPortStateLinkDown;  // the STP bits mean nothing to Sluice
    p->curr = FeaturesFrom10(r.u32());
    p->advertised = FeaturesFrom10(r.u32());
    p->supported = FeaturesFrom10(r.u32());
    p->peer = FeaturesFrom10(r.u32());
    p->curr_speed = p->max_speed = 0;
  } else {
    p->port_no = r.u32();
    r.skip(4);
    r.bytes(p->hw_addr.data(), 6);
    r.skip(2);
    p->name = r.str(16);
    p->config = r.u32();
    p->state = r.u32();
    p->curr = r.u32();
    p->advertised = r.u32();
    p->supported = r.u32();
    p->peer = r.u32();
    p->curr_speed = r.u32();
    p->max_speed = r.u32();
  }
  if (!r.ok()) return BadLen("port");
  return std::nullopt;
}

void EncodePort(uint8_t version, Writer& w, const PortDesc& p) {
  if (version == kVersion10) {
    w.u16(PortTo10(p.port_no));
    w.bytes(p.hw_addr.data(), 6);
    w.str(p.name, 16);
    w.u32(p.config);
    w.u32(p.state & kPortStateLinkDown);  // 1.0 has no LIVE/BLOCKED; STP state "listen" = 0
    w.u32(FeaturesTo10(p.curr));
    w.u32(FeaturesTo10(p.advertised));
    w.u32(FeaturesTo10(p.supported));
    w.u32(FeaturesTo10(p.peer));
  } else {
    w.u32(p.port_no);
    w.zeros(4);
    w.bytes(p.hw_addr.data(), 6);
    w.zeros(2);
    w.str(p.name, 16);
    w.u32(p.config);
    w.u32(p.state);
    w.u32(p.curr);
    w.u32(p.advertised);
    w.u32(p.supported);
    w.u32(p.peer);
    w.u32(p.curr_speed);
    w.u32(p.max_speed);
  }
}

}  // namespace internal

using namespace internal;

namespace {

// ---- Type numbers ----

constexpr Type k10Types[] = {
    Type::kHello,
    Type::kError,
    Type::kEchoRequest,
    Type::kEchoReply,
    Type::kExperimenter,
    Type::kFeaturesRequest,
    Type::kFeaturesReply,
    Type::kGetConfigRequest,
    Type::kGetConfigReply,
    Type::kSetConfig,
    Type::kPacketIn,
    Type::kFlowRemoved,
    Type::kPortStatus,
    Type::kPacketOut,
    Type::kFlowMod,
    Type::kPortMod,
    Type::kMultipartRequest,
    Type::kMultipartReply,
    Type::kBarrierRequest,
    Type::kBarrierReply,
    Type::kQueueGetConfigRequest,
    Type::kQueueGetConfigReply,
};
constexpr uint8_t kMaxType13 = static_cast<uint8_t>(Type::kMeterMod);

std::optional<Type> TypeFromWire(uint8_t version, uint8_t wire) {
  if (version == kVersion10) {
    if (wire < std::size(k10Types)) return k10Types[wire];
    return std::nullopt;
  }
  if (wire <= kMaxType13) return static_cast<Type>(wire);
  return std::nullopt;
}

std::optional<uint8_t> WireType(uint8_t version, Type t) {
  if (version != kVersion10) return static_cast<uint8_t>(t);
  for (size_t i = 0; i < std::size(k10Types); ++i) {
    if (k10Types[i] == t) return static_cast<uint8_t>(i);
  }
  return std::nullopt;
}

// ---- Small bodies ----

OfpResult DecodeHello(uint8_t version, Reader& r, Hello* h) {
  h->version = version;
  h->version_bitmap = 0;
  // Hello elements exist from OpenFlow 1.3 on. A later version's hello must
  // still negotiate, so elements that do not frame end the walk quietly.
  while (version >= kVersion13 && r.remaining() >= 4) {
    const uint16_t type = r.u16();
    const uint16_t elen = r.u16();
    if (elen < 4 || elen - 4u > r.remaining()) break;
    Reader e = r.sub(elen - 4u);
    if (type == 1 /* OFPHET_VERSIONBITMAP */ && h->version_bitmap == 0 && e.remaining() >= 4) {
      h->version_bitmap = e.u32();
    }
    r.skip(std::min<size_t>((8 - elen % 8) % 8, r.remaining()));
  }
  r.skip(r.remaining());
  return std::nullopt;
}

void EncodeHelloBody(Writer& w, const Hello& h) {
  if (h.version_bitmap == 0) return;
  w.u16(1);  // OFPHET_VERSIONBITMAP
  w.u16(8);
  w.u32(h.version_bitmap);
}

OfpResult DecodeError(Reader& r, Error* e) {
  e->type = r.u16();
  e->code = r.u16();
  if (!r.ok()) return BadLen("error");
  e->data = Rest(r);
  return std::nullopt;
}

OfpResult DecodeExperimenter(uint8_t version, Reader& r, Experimenter* e) {
  e->experimenter = r.u32();
  e->exp_type = version == kVersion10 ? 0 : r.u32();
  if (!r.ok()) return BadLen("experimenter");
  e->data = Rest(r);
  return std::nullopt;
}

void EncodeExperimenter(uint8_t version, Writer& w, const Experimenter& e) {
  w.u32(e.experimenter);
  if (version != kVersion10) w.u32(e.exp_type);
  w.bytes(e.data.data(), e.data.size());
}

OfpResult DecodeFeaturesReply(uint8_t version, Reader& r, FeaturesReply* f) {
  f->datapath_id = r.u64();
  f->n_buffers = r.u32();
  f->n_tables = r.u8();
  if (version == kVersion10) {
    f->auxiliary_id = 0;
    r.skip(3);
    f->capabilities = r.u32();
    f->actions_10 = r.u32();
    if (!r.ok() || r.remaining() % kPortLen10 != 0) return BadLen("features_reply");
    while (r.remaining() > 0) {
      PortDesc p;
      if (auto e = DecodePort(version, r, &p)) return e;
      f->ports.push_back(std::move(p));
    }
  } else {
    f->auxiliary_id = r.u8();
    r.skip(2);
    f->capabilities = r.u32();
    r.skip(4);  // reserved
    f->actions_10 = 0;
  }
  return Done(r, "features_reply");
}

void EncodeFeaturesReply(uint8_t version, Writer& w, const FeaturesReply& f) {
  w.u64(f.datapath_id);
  w.u32(f.n_buffers);
  w.u8(f.n_tables);
  if (version == kVersion10) {
    w.zeros(3);
    w.u32(f.capabilities);
    w.u32(f.actions_10);
    for (const PortDesc& p : f.ports) EncodePort(version, w, p);
  } else {
    w.u8(f.auxiliary_id);
    w.zeros(2);
    w.u32(f.capabilities);
    w.u32(0);
  }
}

OfpResult DecodeSwitchConfig(Reader& r, SwitchConfig* c) {
  c->flags = r.u16();
  c->miss_send_len = r.u16();
  if (auto e = Done(r, "switch_config")) return e;
  if (c->flags & ~3u) {  // OFPC_FRAG_MASK
    return MakeErr(err::kSwitchConfigFailed, err::kSwitchConfigBadFlags,
                   "switch_config: unknown flags");
  }
  return std::nullopt;
}

OfpResult DecodeRole(Reader& r, RoleMsg* m) {
  const uint32_t role = r.u32();
  r.skip(4);
  m->generation_id = r.u64();
  if (auto e = Done(r, "role")) return e;
  if (role > static_cast<uint32_t>(ControllerRole::kSlave)) {
    return MakeErr(err::kRoleRequestFailed, err::kRoleBadRole, "role: unknown role");
  }
  m->role = static_cast<ControllerRole>(role);
  return std::nullopt;
}

void EncodeRole(Writer& w, const RoleMsg& m) {
  w.u32(static_cast<uint32_t>(m.role));
  w.zeros(4);
  w.u64(m.generation_id);
}

OfpResult DecodeAsync(Reader& r, AsyncMsg* m) {
  for (auto* masks :
       {&m->config.packet_in_mask, &m->config.port_status_mask, &m->config.flow_removed_mask}) {
    (*masks)[0] = r.u32();
    (*masks)[1] = r.u32();
  }
  return Done(r, "async_config");
}

void EncodeAsync(Writer& w, const AsyncMsg& m) {
  for (const auto* masks :
       {&m.config.packet_in_mask, &m.config.port_status_mask, &m.config.flow_removed_mask}) {
    w.u32((*masks)[0]);
    w.u32((*masks)[1]);
  }
}

// A queue-config port: a physical port, or ANY/ALL for every port.
bool ValidQueuePort(uint32_t port) {
  return port < ofproto::kPortMax || port == ofproto::kPortAny || port == ofproto::kPortAll;
}

OfpResult DecodeQueueGetConfigRequest(uint8_t version, Reader& r, QueueGetConfigRequest* q) {
  if (version == kVersion10) {
    q->port = PortFrom10(r.u16());
    r.skip(2);
  } else {
    q->port = r.u32();
    r.skip(4);
  }
  if (auto e = Done(r, "queue_get_config_request")) return e;
  if (!ValidQueuePort(q->port)) {
    return MakeErr(err::kQueueOpFailed, err::kQueueOpBadPort, "queue_get_config_request: bad port");
  }
  return std::nullopt;
}

OfpResult DecodeQueueGetConfigReply(uint8_t version, Reader& r, QueueGetConfigReply* q) {
  if (version == kVersion10) {
    q->port = PortFrom10(r.u16());
    r.skip(6);
  } else {
    q->port = r.u32();
    r.skip(4);
  }
  if (!r.ok()) return BadLen("queue_get_config_reply");
  r.skip(r.remaining());  // Sluice has no queues: any listed are ignored
  return std::nullopt;
}

void EncodeQueuePort(uint8_t version, Writer& w, uint32_t port, size_t pad10) {
  if (version == kVersion10) {
    w.u16(PortTo10(port));
    w.zeros(pad10);
  } else {
    w.u32(port);
    w.zeros(4);
  }
}

OfpResult Empty(Reader& r, const char* what) { return Done(r, what); }

template <typename T, typename F>
OfpResult As(Body* body, F&& decode) {
  T x{};
  OfpResult e = decode(&x);
  if (!e) *body = std::move(x);
  return e;
}

OfpResult DecodeBody(uint8_t v, Type t, Reader& r, Body* body) {
  switch (t) {
    case Type::kHello:
      return As<Hello>(body, [&](Hello* x) { return DecodeHello(v, r, x); });
    case Type::kError:
      return As<Error>(body, [&](Error* x) { return DecodeError(r, x); });
    case Type::kEchoRequest:
    case Type::kEchoReply:
      return As<Echo>(body, [&](Echo* x) {
        x->reply = t == Type::kEchoReply;
        x->data = Rest(r);
        return OfpResult{};
      });
    case Type::kExperimenter:
      return As<Experimenter>(body, [&](Experimenter* x) { return DecodeExperimenter(v, r, x); });
    case Type::kFeaturesRequest:
      return As<FeaturesRequest>(body, [&](auto*) { return Empty(r, "features_request"); });
    case Type::kFeaturesReply:
      return As<FeaturesReply>(body,
                               [&](FeaturesReply* x) { return DecodeFeaturesReply(v, r, x); });
    case Type::kGetConfigRequest:
      return As<GetConfigRequest>(body, [&](auto*) { return Empty(r, "get_config_request"); });
    case Type::kGetConfigReply:
    case Type::kSetConfig:
      return As<SwitchConfig>(body, [&](SwitchConfig* x) {
        x->set = t == Type::kSetConfig;
        return DecodeSwitchConfig(r, x);
      });
    case Type::kPacketIn:
      return As<PacketIn>(body, [&](PacketIn* x) { return DecodePacketIn(v, r, x); });
    case Type::kFlowRemoved:
      return As<FlowRemoved>(body, [&](FlowRemoved* x) { return DecodeFlowRemoved(v, r, x); });
    case Type::kPortStatus:
      return As<PortStatus>(body, [&](PortStatus* x) { return DecodePortStatus(v, r, x); });
    case Type::kPacketOut:
      return As<PacketOut>(body, [&](PacketOut* x) { return DecodePacketOut(v, r, x); });
    case Type::kFlowMod:
      return As<FlowMod>(body, [&](FlowMod* x) { return DecodeFlowMod(v, r, x); });
    case Type::kGroupMod:
      return As<GroupMod>(body, [&](GroupMod* x) { return DecodeGroupMod(r, x); });
    case Type::kPortMod:
      return As<PortMod>(body, [&](PortMod* x) { return DecodePortMod(v, r, x); });
    case Type::kTableMod:
      return As<TableMod>(body, [&](TableMod* x) { return DecodeTableMod(r, x); });
    case Type::kMultipartRequest:
      return As<MultipartRequest>(
          body, [&](MultipartRequest* x) { return DecodeMultipartRequest(v, r, x); });
    case Type::kMultipartReply:
      return As<MultipartReply>(body,
                                [&](MultipartReply* x) { return DecodeMultipartReply(v, r, x); });
    case Type::kBarrierRequest:
      return As<BarrierRequest>(body, [&](auto*) { return Empty(r, "barrier_request"); });
    case Type::kBarrierReply:
      return As<BarrierReply>(body, [&](auto*) { return Empty(r, "barrier_reply"); });
    case Type::kQueueGetConfigRequest:
      return As<QueueGetConfigRequest>(
          body, [&](QueueGetConfigRequest* x) { return DecodeQueueGetConfigRequest(v, r, x); });
    case Type::kQueueGetConfigReply:
      return As<QueueGetConfigReply>(
          body, [&](QueueGetConfigReply* x) { return DecodeQueueGetConfigReply(v, r, x); });
    case Type::kRoleRequest:
    case Type::kRoleReply:
      return As<RoleMsg>(body, [&](RoleMsg* x) {
        x->reply = t == Type::kRoleReply;
        return DecodeRole(r, x);
      });
    case Type::kGetAsyncRequest:
      return As<GetAsyncRequest>(body, [&](auto*) { return Empty(r, "get_async_request"); });
    case Type::kGetAsyncReply:
    case Type::kSetAsync:
      return As<AsyncMsg>(body, [&](AsyncMsg* x) {
        x->kind = t == Type::kSetAsync ? AsyncMsg::Kind::kSet : AsyncMsg::Kind::kGetReply;
        return DecodeAsync(r, x);
      });
    case Type::kMeterMod:
      return As<MeterMod>(body, [&](MeterMod* x) { return DecodeMeterMod(r, x); });
  }
  return MakeErr(err::kBadRequest, err::kBadReqBadType, "unknown type");
}

// ---- Encoding ----

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

// The message type to send: m.type where the body allows it, else the one
// the body's own flag names.
Type ResolveType(const Message& m) {
  auto either = [&](Type a, Type b, bool second) {
    if (m.type == a || m.type == b) return m.type;
    return second ? b : a;
  };
  return std::visit(
      Overloaded{
          [](const Hello&) { return Type::kHello; },
          [](const Error&) { return Type::kError; },
          [&](const Echo& x) { return either(Type::kEchoRequest, Type::kEchoReply, x.reply); },
          [](const Experimenter&) { return Type::kExperimenter; },
          [](const FeaturesRequest&) { return Type::kFeaturesRequest; },
          [](const FeaturesReply&) { return Type::kFeaturesReply; },
          [](const GetConfigRequest&) { return Type::kGetConfigRequest; },
          [&](const SwitchConfig& x) {
            return either(Type::kGetConfigReply, Type::kSetConfig, x.set);
          },
          [](const PacketIn&) { return Type::kPacketIn; },
          [](const FlowRemoved&) { return Type::kFlowRemoved; },
          [](const PortStatus&) { return Type::kPortStatus; },
          [](const PacketOut&) { return Type::kPacketOut; },
          [](const FlowMod&) { return Type::kFlowMod; },
          [](const GroupMod&) { return Type::kGroupMod; },
          [](const PortMod&) { return Type::kPortMod; },
          [](const TableMod&) { return Type::kTableMod; },
          [](const MultipartRequest&) { return Type::kMultipartRequest; },
          [](const MultipartReply&) { return Type::kMultipartReply; },
          [](const BarrierRequest&) { return Type::kBarrierRequest; },
          [](const BarrierReply&) { return Type::kBarrierReply; },
          [](const QueueGetConfigRequest&) { return Type::kQueueGetConfigRequest; },
          [](const QueueGetConfigReply&) { return Type::kQueueGetConfigReply; },
          [&](const RoleMsg& x) { return either(Type::kRoleRequest, Type::kRoleReply, x.reply); },
          [](const GetAsyncRequest&) { return Type::kGetAsyncRequest; },
          [&](const AsyncMsg& x) {
            return either(Type::kGetAsyncReply, Type::kSetAsync, x.kind == AsyncMsg::Kind::kSet);
          },
          [](const MeterMod&) { return Type::kMeterMod; },
      },
      m.body);
}

void EncodeBody(uint8_t v, Writer& w, const Body& body) {
  std::visit(Overloaded{
                 [&](const Hello& x) { EncodeHelloBody(w, x); },
                 [&](const Error& x) {
                   w.u16(x.type);
                   w.u16(x.code);
                   w.bytes(x.data.data(), x.data.size());
                 },
                 [&](const Echo& x) { w.bytes(x.data.data(), x.data.size()); },
                 [&](const Experimenter& x) { EncodeExperimenter(v, w, x); },
                 [&](const FeaturesRequest&) {},
                 [&](const FeaturesReply& x) { EncodeFeaturesReply(v, w, x); },
                 [&](const GetConfigRequest&) {},
                 [&](const SwitchConfig& x) {
                   w.u16(x.flags);
                   w.u16(x.miss_send_len);
                 },
                 [&](const PacketIn& x) { EncodePacketIn(v, w, x); },
                 [&](const FlowRemoved& x) { EncodeFlowRemoved(v, w, x); },
                 [&](const PortStatus& x) { EncodePortStatus(v, w, x); },
                 [&](const PacketOut& x) { EncodePacketOut(v, w, x); },
                 [&](const FlowMod& x) { EncodeFlowMod(v, w, x); },
                 [&](const GroupMod& x) { EncodeGroupMod(w, x); },
                 [&](const PortMod& x) { EncodePortMod(v, w, x); },
                 [&](const TableMod& x) { EncodeTableMod(w, x); },
                 [&](const MultipartRequest& x) { EncodeMultipartRequest(v, w, x); },
                 [&](const MultipartReply&) {},  // Encode() handles it (splitting)
                 [&](const BarrierRequest&) {},
                 [&](const BarrierReply&) {},
                 [&](const QueueGetConfigRequest& x) { EncodeQueuePort(v, w, x.port, 2); },
                 [&](const QueueGetConfigReply& x) { EncodeQueuePort(v, w, x.port, 6); },
                 [&](const RoleMsg& x) { EncodeRole(w, x); },
                 [&](const GetAsyncRequest&) {},
                 [&](const AsyncMsg& x) { EncodeAsync(w, x); },
                 [&](const MeterMod& x) { EncodeMeterMod(w, x); },
             },
             body);
}

// OpenFlow 1.3 (type, code) -> OpenFlow 1.0, where 1.0 has the same error.
std::pair<uint16_t, uint16_t> ErrorTo10(uint16_t type, uint16_t code) {
  constexpr std::pair<uint16_t, uint16_t> kEperm{1, 5};  // OFPET_BAD_REQUEST / OFPBRC_EPERM
  switch (type) {
    case err::kHelloFailed:
      return code <= 1 ? std::pair<uint16_t, uint16_t>{0, code} : kEperm;
    case err::kBadRequest:
      // BAD_VERSION .. BUFFER_UNKNOWN share their numbers (BAD_STAT,
      // BAD_VENDOR, BAD_SUBTYPE in 1.0).
      return code <= err::kBadReqBufferUnknown ? std::pair<uint16_t, uint16_t>{1, code} : kEperm;
    case ofperr::kBadAction:
      if (code <= 8) return {2, code};  // BAD_TYPE .. BAD_QUEUE
      if (code == ofperr::kBadActionBadSetType) return {2, 0};
      if (code == 14 /* BAD_SET_LEN */) return {2, 1};
      if (code == ofperr::kBadActionBadSetArgument) return {2, 5};
      return kEperm;
    case ofperr::kFlowModFailed:
      switch (code) {
        case ofperr::kFlowModTableFull:
          return {3, 0};  // ALL_TABLES_FULL
        case ofperr::kFlowModOverlap:
          return {3, 1};
        case ofperr::kFlowModEperm:
          return {3, 2};
        case ofperr::kFlowModBadCommand:
          return {3, 4};
        default:
          return kEperm;
      }
    case ofperr::kPortModFailed:
      return code <= err::kPortModBadHwAddr ? std::pair<uint16_t, uint16_t>{4, code} : kEperm;
    case err::kQueueOpFailed:
      return code <= 2 ? std::pair<uint16_t, uint16_t>{5, code} : kEperm;
    default:
      return kEperm;
  }
}

}  // namespace

Header PeekHeader(const uint8_t* p) {
  Header h;
  h.version = p[0];
  h.type = p[1];
  h.length = static_cast<uint16_t>(p[2] << 8 | p[3]);
  h.xid = static_cast<uint32_t>(p[4]) << 24 | static_cast<uint32_t>(p[5]) << 16 |
          static_cast<uint32_t>(p[6]) << 8 | p[7];
  return h;
}

Decoded Decode(const uint8_t* p, size_t len) {
  Decoded d;
  if (p == nullptr || len < kHeaderLen) {
    d.error = BadLen("header");
    return d;
  }
  const Header h = PeekHeader(p);
  if (h.length != len) {
    d.error = BadLen("header length");
    return d;
  }
  const bool known_version = h.version == kVersion10 || h.version == kVersion13;
  if (!known_version && h.type != 0 /* OFPT_HELLO in every version */) {
    d.error = MakeErr(err::kBadRequest, err::kBadReqBadVersion, "unsupported version");
    return d;
  }
  const std::optional<Type> t = known_version ? TypeFromWire(h.version, h.type) : Type::kHello;
  if (!t) {
    d.error = MakeErr(err::kBadRequest, err::kBadReqBadType,
                      "unknown message type " + std::to_string(h.type));
    return d;
  }
  Reader r(p + kHeaderLen, len - kHeaderLen);
  Message m;
  m.version = h.version;
  m.xid = h.xid;
  m.type = *t;
  if (OfpResult e = DecodeBody(h.version, *t, r, &m.body)) {
    d.error = std::move(*e);
    d.error.message = std::string(TypeName(*t)) + ": " + d.error.message;
    return d;
  }
  d.msg = std::move(m);
  return d;
}

std::vector<std::vector<uint8_t>> Encode(const Message& m) {
  if (const auto* mp = std::get_if<MultipartReply>(&m.body)) {
    if (m.version != kVersion10 && m.version != kVersion13) return {};
    return EncodeMultipartReply(m.version, m.xid, *mp);
  }
  const Type t = ResolveType(m);
  const bool hello = t == Type::kHello;
  if (!hello && m.version != kVersion10 && m.version != kVersion13) return {};
  const std::optional<uint8_t> wire = hello ? uint8_t{0} : WireType(m.version, t);
  if (!wire) return {};
  std::vector<uint8_t> out;
  Writer w(&out);
  StartMessage(w, m.version, *wire, m.xid);
  EncodeBody(m.version, w, m.body);
  if (!FinishMessage(out)) return {};
  return {std::move(out)};
}

std::vector<uint8_t> EncodeOne(const Message& m) {
  std::vector<std::vector<uint8_t>> msgs = Encode(m);
  if (msgs.size() != 1) return {};
  return std::move(msgs[0]);
}

std::vector<uint8_t> EncodeError(uint8_t version, uint32_t xid, const OfpError& e,
                                 const uint8_t* request, size_t request_len) {
  auto [type, code] = version == kVersion10 ? ErrorTo10(e.type, e.code)
                                            : std::pair<uint16_t, uint16_t>{e.type, e.code};
  std::vector<uint8_t> out;
  Writer w(&out);
  StartMessage(w, version, 1 /* OFPT_ERROR in every version */, xid);
  w.u16(type);
  w.u16(code);
  if (e.type == err::kHelloFailed) {
    // The spec's data for a failed hello: an ASCII explanation.
    w.bytes(reinterpret_cast<const uint8_t*>(e.message.data()),
            std::min<size_t>(e.message.size(), 256));
  } else if (request != nullptr) {
    w.bytes(request, std::min<size_t>(request_len, 64));
  }
  FinishMessage(out);
  return out;
}

std::vector<uint8_t> EncodeHello(uint32_t xid) {
  Message m;
  m.version = kVersion13;
  m.xid = xid;
  m.type = Type::kHello;
  m.body = Hello{(1u << kVersion10) | (1u << kVersion13), kVersion13};
  return EncodeOne(m);
}

uint8_t NegotiateVersion(const Hello& theirs) {
  constexpr uint32_t kOurs = (1u << kVersion10) | (1u << kVersion13);
  if (theirs.version_bitmap != 0) {
    const uint32_t common = theirs.version_bitmap & kOurs;
    if (common == 0) return 0;
    return static_cast<uint8_t>(31 - __builtin_clz(common));
  }
  const uint8_t v = std::min(theirs.version, kVersion13);
  return (kOurs >> v) & 1 ? v : 0;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kHello:
      return "OFPT_HELLO";
    case Type::kError:
      return "OFPT_ERROR";
    case Type::kEchoRequest:
      return "OFPT_ECHO_REQUEST";
    case Type::kEchoReply:
      return "OFPT_ECHO_REPLY";
    case Type::kExperimenter:
      return "OFPT_EXPERIMENTER";
    case Type::kFeaturesRequest:
      return "OFPT_FEATURES_REQUEST";
    case Type::kFeaturesReply:
      return "OFPT_FEATURES_REPLY";
    case Type::kGetConfigRequest:
      return "OFPT_GET_CONFIG_REQUEST";
    case Type::kGetConfigReply:
      return "OFPT_GET_CONFIG_REPLY";
    case Type::kSetConfig:
      return "OFPT_SET_CONFIG";
    case Type::kPacketIn:
      return "OFPT_PACKET_IN";
    case Type::kFlowRemoved:
      return "OFPT_FLOW_REMOVED";
    case Type::kPortStatus:
      return "OFPT_PORT_STATUS";
    case Type::kPacketOut:
      return "OFPT_PACKET_OUT";
    case Type::kFlowMod:
      return "OFPT_FLOW_MOD";
    case Type::kGroupMod:
      return "OFPT_GROUP_MOD";
    case Type::kPortMod:
      return "OFPT_PORT_MOD";
    case Type::kTableMod:
      return "OFPT_TABLE_MOD";
    case Type::kMultipartRequest:
      return "OFPT_MULTIPART_REQUEST";
    case Type::kMultipartReply:
      return "OFPT_MULTIPART_REPLY";
    case Type::kBarrierRequest:
      return "OFPT_BARRIER_REQUEST";
    case Type::kBarrierReply:
      return "OFPT_BARRIER_REPLY";
    case Type::kQueueGetConfigRequest:
      return "OFPT_QUEUE_GET_CONFIG_REQUEST";
    case Type::kQueueGetConfigReply:
      return "OFPT_QUEUE_GET_CONFIG_REPLY";
    case Type::kRoleRequest:
      return "OFPT_ROLE_REQUEST";
    case Type::kRoleReply:
      return "OFPT_ROLE_REPLY";
    case Type::kGetAsyncRequest:
      return "OFPT_GET_ASYNC_REQUEST";
    case Type::kGetAsyncReply:
      return "OFPT_GET_ASYNC_REPLY";
    case Type::kSetAsync:
      return "OFPT_SET_ASYNC";
    case Type::kMeterMod:
      return "OFPT_METER_MOD";
  }
  return "OFPT_UNKNOWN";
}

}  // namespace sluice::ofp
