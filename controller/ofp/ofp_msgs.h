#pragma once
// What: the OpenFlow wire codec, OpenFlow 1.0 (wire version 0x01) and 1.3
// (0x04): every message as a plain value, Decode() from bytes and Encode()
// to bytes. The channel code (controller/ofconn.h) speaks only in these
// values; ofproto's types (OfMatch, Instructions, FlowMod, GroupMod,
// MeterMod) are reused where the meaning is the same.
//
// Design:
//   - Type is version independent (named after OpenFlow 1.3). Decode() maps
//     a 1.0 message to the same value a 1.3 one would give (an OF1.0
//     ofp_match becomes an OfMatch, OF1.0 actions become OfActions, 16-bit
//     ports become 32-bit ones: 0xfff8..0xffff -> 0xfffffff8..0xffffffff),
//     and Encode() does the reverse for the connection's version.
//   - Decoding is strict and bounds-checked: every length is checked
//     against the bytes present before it is used; nothing reads past
//     `len`. A message Sluice cannot accept yields the OpenFlow 1.3 error
//     (type, code) the spec prescribes (OfpError, numbering of OpenFlow 1.3,
//     as ofproto uses it); EncodeError() renumbers for OpenFlow 1.0.
//   - The switch side decodes requests and encodes replies, but replies
//     and asynchronous messages decode too (tests and the fuzzer use it).
//   - Multipart replies longer than one message are split with
//     OFPMPF_REPLY_MORE (Encode() returns several messages).
//
// Decisions (tested in tests/ofp/msgs_test.cc, multipart_test.cc; the
// encoders are checked against `ovs-ofctl ofp-print` in
// ofctl_print_test.cc, the decoders against messages ovs-ofctl really sends
// in ofctl_capture_test.cc):
//   - Implementation: ofp_msgs.cc (frame, dispatch, small messages, errors),
//     ofp_msgs_flow.cc (packet-in/out, flow-removed, port-status, flow-,
//     group-, meter-, port-, table-mod), ofp_multipart.cc,
//     ofp_table_features.cc; shared declarations in ofp_msgs_internal.h.
//   - Encode() takes the wire type from m.type when the body allows it
//     (Echo, SwitchConfig, RoleMsg, AsyncMsg each serve two types), else
//     from the body's own flag (reply / set / kind). It returns no message
//     when m.version has no such message (a 1.3-only type or multipart type
//     on 1.0) or is neither 1.0 nor 1.3 (a HELLO excepted).
//   - Multipart replies: entries are never split across messages; every
//     message but the last gets OFPMPF_REPLY_MORE (the last keeps
//     MultipartReply::flags). An entry too big for a message of its own is
//     left out (nothing a flow-/group-/meter-mod installed can be).
//   - Table features: the codec writes the properties (see
//     ofp_table_features.cc); "next tables" of a table are the later table
//     ids of the same reply, and goto-table is offered only when there is
//     one. Decoding keeps the fixed fields and skips the properties.
//   - HELLO elements are read from version 1.3 on; elements that do not
//     frame end the walk without an error (negotiation must still work
//     with a future version's hello).
//   - Packet-in data that would take the message past 65535 bytes is cut
//     (total_len still tells the frame's length).
//   - OpenFlow 1.0 mapping: port feature bits are renumbered (1.3's
//     40G/100G/1T/OTHER have no 1.0 form); port state keeps LINK_DOWN only
//     (no STP); flow-mod table_id is 0, or 0xff for deletes; both modify
//     commands set modify_adds_if_missing; an exact-match flow-mod (no
//     wildcard bits) gets priority 0xffff, as 1.0 prescribes; OFPFF_EMERG
//     is refused with FLOW_MOD_FAILED/TABLE_FULL (1.0's ALL_TABLES_FULL);
//     the packet-in in_port is the match's in_port; reason INVALID_TTL and
//     flow-removed reason GROUP_DELETE (1.3 only) go out as ACTION and
//     DELETE; queue stats "all ports" is OFPP_ALL on the wire and kPortAny
//     in the value.
//   - Checks made here (the rest is ofproto's): header length == bytes,
//     exact body lengths, version, type, multipart type; packet-out and
//     flow-mod buffer_id (BUFFER_UNKNOWN; ignored for deletes), packet-out
//     in_port (a port, LOCAL, CONTROLLER or ANY; else BAD_PORT); flow-mod
//     command, table 0xff only for deletes, flags; group-mod command, type,
//     reserved ids (OFPG_ALL/ANY only for delete, which becomes kGroupAny);
//     meter-mod command; port-mod port and config mask (only PORT_DOWN,
//     NO_RECV, NO_FWD, NO_PACKET_IN); table-mod config; set-config flags;
//     role; queue-get-config port (QUEUE_OP_FAILED/BAD_PORT).
//
// Thread-safety: free functions over values; no shared state.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"
#include "ofproto/meter_table.h"

namespace sluice::ofp {

using ofproto::OfpError;

inline constexpr uint8_t kVersion10 = 0x01;
inline constexpr uint8_t kVersion13 = 0x04;
inline constexpr size_t kHeaderLen = 8;
inline constexpr uint32_t kNoBuffer = 0xffffffff;

// OpenFlow 1.3 error types beyond of_error.h's, and their codes used here.
namespace err {
inline constexpr uint16_t kHelloFailed = 0;        // codes: 0 incompatible, 1 eperm
inline constexpr uint16_t kBadRequest = 1;
inline constexpr uint16_t kBadReqBadVersion = 0, kBadReqBadType = 1, kBadReqBadMultipart = 2,
                          kBadReqBadExperimenter = 3, kBadReqBadExpType = 4, kBadReqEperm = 5,
                          kBadReqBadLen = 6, kBadReqBufferEmpty = 7, kBadReqBufferUnknown = 8,
                          kBadReqBadTableId = 9, kBadReqIsSlave = 10, kBadReqBadPort = 11,
                          kBadReqBadPacket = 12, kBadReqMultipartBufferOverflow = 13;
inline constexpr uint16_t kBadActionBadExperimenter = 2, kBadActionBadOutPort = 4,
                          kBadActionBadLen = 1, kBadActionBadArgument = 5;
inline constexpr uint16_t kBadInstBadLen = 7, kBadInstUnsupInst = 1;
inline constexpr uint16_t kBadMatchBadType = 0, kBadMatchBadLen = 1, kBadMatchBadTag = 2,
                          kBadMatchBadWildcards = 5;
inline constexpr uint16_t kPortModFailed = 7, kPortModBadPort = 0, kPortModBadHwAddr = 1,
                          kPortModBadConfig = 2;
inline constexpr uint16_t kTableModFailed = 8, kTableModBadTable = 0, kTableModBadConfig = 1;
inline constexpr uint16_t kSwitchConfigFailed = 10, kSwitchConfigBadFlags = 0,
                          kSwitchConfigBadLen = 1;
inline constexpr uint16_t kRoleRequestFailed = 11, kRoleStale = 0, kRoleUnsup = 1,
                          kRoleBadRole = 2;
inline constexpr uint16_t kTableFeaturesFailed = 13;
inline constexpr uint16_t kHelloIncompatible = 0, kHelloEperm = 1;
inline constexpr uint16_t kQueueOpFailed = 9, kQueueOpBadPort = 0, kQueueOpBadQueue = 1;
inline constexpr uint16_t kTableFeaturesBadTable = 0, kTableFeaturesBadArgument = 4,
                          kTableFeaturesEperm = 5;
}  // namespace err

// Message types, numbered as in OpenFlow 1.3 (ofp_type).
enum class Type : uint8_t {
  kHello = 0,
  kError = 1,
  kEchoRequest = 2,
  kEchoReply = 3,
  kExperimenter = 4,
  kFeaturesRequest = 5,
  kFeaturesReply = 6,
  kGetConfigRequest = 7,
  kGetConfigReply = 8,
  kSetConfig = 9,
  kPacketIn = 10,
  kFlowRemoved = 11,
  kPortStatus = 12,
  kPacketOut = 13,
  kFlowMod = 14,
  kGroupMod = 15,
  kPortMod = 16,
  kTableMod = 17,
  kMultipartRequest = 18,
  kMultipartReply = 19,
  kBarrierRequest = 20,
  kBarrierReply = 21,
  kQueueGetConfigRequest = 22,
  kQueueGetConfigReply = 23,
  kRoleRequest = 24,
  kRoleReply = 25,
  kGetAsyncRequest = 26,
  kGetAsyncReply = 27,
  kSetAsync = 28,
  kMeterMod = 29,
};

struct Header {
  uint8_t version = kVersion13;
  uint8_t type = 0;  // the wire type number of `version`
  uint16_t length = 0;
  uint32_t xid = 0;
};
// Reads the 8-byte header at p (the caller has checked 8 bytes are there).
Header PeekHeader(const uint8_t* p);

// ---- Message bodies ----

struct Hello {
  uint32_t version_bitmap = 0;  // bit v set: version v supported; 0 = no bitmap element
  uint8_t version = 0;          // header version
};
struct Error {
  uint16_t type = 0, code = 0;  // wire numbering of the message's version
  std::vector<uint8_t> data;
};
struct Echo {
  bool reply = false;
  std::vector<uint8_t> data;
};
struct Experimenter {
  uint32_t experimenter = 0, exp_type = 0;
  std::vector<uint8_t> data;
};
struct FeaturesRequest {};
struct BarrierRequest {};
struct BarrierReply {};
struct GetConfigRequest {};
struct GetAsyncRequest {};

// ofp_port (1.3) / ofp_phy_port (1.0).
struct PortDesc {
  uint32_t port_no = 0;
  std::array<uint8_t, 6> hw_addr{};
  std::string name;  // at most 15 chars on the wire
  uint32_t config = 0, state = 0;
  uint32_t curr = 0, advertised = 0, supported = 0, peer = 0;
  uint32_t curr_speed = 0, max_speed = 0;  // kbps (1.3 only)
};
inline constexpr uint32_t kPortConfigPortDown = 1, kPortConfigNoRecv = 4, kPortConfigNoFwd = 32,
                          kPortConfigNoPacketIn = 64;
inline constexpr uint32_t kPortStateLinkDown = 1, kPortStateLive = 4;

struct FeaturesReply {
  uint64_t datapath_id = 0;
  uint32_t n_buffers = 0;
  uint8_t n_tables = 254;
  uint8_t auxiliary_id = 0;
  uint32_t capabilities = 0;     // OFPC_* of the connection's version
  uint32_t actions_10 = 0;       // OpenFlow 1.0 supported-actions bitmap
  std::vector<PortDesc> ports;   // OpenFlow 1.0 only (1.3 uses port-desc multipart)
};
inline constexpr uint32_t kCapFlowStats = 1, kCapTableStats = 2, kCapPortStats = 4,
                          kCapGroupStats = 8, kCapQueueStats = 64, kCapPortBlocked = 256;

struct SwitchConfig {  // get-config reply and set-config
  bool set = false;    // true: OFPT_SET_CONFIG, false: OFPT_GET_CONFIG_REPLY
  uint16_t flags = 0;  // OFPC_FRAG_*
  uint16_t miss_send_len = 128;
};

enum class PacketInReason : uint8_t { kNoMatch = 0, kAction = 1, kInvalidTtl = 2 };
struct PacketIn {
  uint32_t buffer_id = kNoBuffer;
  uint16_t total_len = 0;
  PacketInReason reason = PacketInReason::kAction;
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  ofproto::OfMatch match = ofproto::OfMatch::CatchAll();  // in_port (always), metadata when non-zero
  std::vector<uint8_t> data;
};

enum class FlowRemovedReason : uint8_t { kIdleTimeout = 0, kHardTimeout = 1, kDelete = 2, kGroupDelete = 3 };
struct FlowRemoved {
  uint64_t cookie = 0;
  uint16_t priority = 0;
  FlowRemovedReason reason = FlowRemovedReason::kDelete;
  uint8_t table_id = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;
  uint16_t idle_timeout = 0, hard_timeout = 0;
  uint64_t packet_count = 0, byte_count = 0;
  ofproto::OfMatch match = ofproto::OfMatch::CatchAll();
};

enum class PortReason : uint8_t { kAdd = 0, kDelete = 1, kModify = 2 };
struct PortStatus {
  PortReason reason = PortReason::kAdd;
  PortDesc desc;
};

struct PacketOut {
  uint32_t buffer_id = kNoBuffer;
  uint32_t in_port = ofproto::kPortController;
  ofproto::OfActionList actions;
  std::vector<uint8_t> data;
};

struct FlowMod {
  ofproto::FlowMod fm;  // OF1.0 modify sets fm.modify_adds_if_missing
  uint32_t buffer_id = kNoBuffer;
};
struct GroupMod {
  ofproto::GroupMod gm;
};
struct MeterMod {
  ofproto::MeterMod mm;
};
struct PortMod {
  uint32_t port_no = 0;
  std::array<uint8_t, 6> hw_addr{};
  uint32_t config = 0, mask = 0, advertise = 0;
};
struct TableMod {
  uint8_t table_id = 0;
  uint32_t config = 0;
};

enum class ControllerRole : uint32_t { kNoChange = 0, kEqual = 1, kMaster = 2, kSlave = 3 };
struct RoleMsg {  // role request and reply
  bool reply = false;
  ControllerRole role = ControllerRole::kNoChange;
  uint64_t generation_id = 0;
};

// Asynchronous-message configuration (ofp_async_config): [0] is for the
// master/equal role, [1] for slave. Bit n of a mask enables reason n.
struct AsyncConfig {
  std::array<uint32_t, 2> packet_in_mask{0x7, 0x0};
  std::array<uint32_t, 2> port_status_mask{0x7, 0x7};
  std::array<uint32_t, 2> flow_removed_mask{0xf, 0x0};
};
struct AsyncMsg {
  enum class Kind : uint8_t { kGetReply, kSet } kind = Kind::kSet;
  AsyncConfig config;
};

struct QueueGetConfigRequest {
  uint32_t port = 0;
};
struct QueueGetConfigReply {
  uint32_t port = 0;  // Sluice has no queues: always an empty list
};

// ---- Multipart (OpenFlow 1.0 "stats") ----

enum class MpType : uint16_t {
  kDesc = 0,
  kFlow = 1,
  kAggregate = 2,
  kTable = 3,
  kPortStats = 4,
  kQueue = 5,
  kGroup = 6,
  kGroupDesc = 7,
  kGroupFeatures = 8,
  kMeter = 9,
  kMeterConfig = 10,
  kMeterFeatures = 11,
  kTableFeatures = 12,
  kPortDesc = 13,
  kExperimenter = 0xffff,
};
inline constexpr uint16_t kMpFlagMore = 1;  // OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE

struct FlowStatsRequest {  // flow and aggregate
  uint8_t table_id = ofproto::kAllTables;
  uint32_t out_port = ofproto::kPortAny;
  uint32_t out_group = ofproto::kGroupAny;
  uint64_t cookie = 0, cookie_mask = 0;
  ofproto::OfMatch match = ofproto::OfMatch::CatchAll();
};
struct MultipartRequest {
  MpType type = MpType::kDesc;
  uint16_t flags = 0;
  FlowStatsRequest flow;              // kFlow, kAggregate
  uint32_t port_no = ofproto::kPortAny;  // kPortStats, kQueue (OFPP_ANY = all)
  uint32_t queue_id = 0xffffffff;     // kQueue
  uint32_t group_id = ofproto::kGroupAny;   // kGroup, kGroupDesc
  uint32_t meter_id = ofproto::kMeterAll;   // kMeter, kMeterConfig
  std::vector<uint8_t> body;          // kTableFeatures with properties (set is refused), kExperimenter
};

struct DescStats {
  std::string mfr_desc, hw_desc, sw_desc, serial_num, dp_desc;
};
struct FlowStats {
  uint8_t table_id = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;
  uint16_t priority = 0, idle_timeout = 0, hard_timeout = 0, flags = 0;
  uint64_t cookie = 0, packet_count = 0, byte_count = 0;
  ofproto::OfMatch match = ofproto::OfMatch::CatchAll();
  ofproto::Instructions insts;  // OF1.0: apply-actions only
};
struct AggregateStats {
  uint64_t packet_count = 0, byte_count = 0;
  uint32_t flow_count = 0;
};
struct TableStats {
  uint8_t table_id = 0;
  uint32_t active_count = 0;
  uint64_t lookup_count = 0, matched_count = 0;
  std::string name;  // OF1.0 only
  uint32_t max_entries = 1000000;  // OF1.0 only
};
struct PortStats {
  uint32_t port_no = 0;
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0, rx_errors = 0, tx_errors = 0;
  uint64_t rx_frame_err = 0, rx_over_err = 0, rx_crc_err = 0, collisions = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3 only
};
struct GroupStats {
  uint32_t group_id = 0;
  uint32_t ref_count = 0;
  uint64_t packet_count = 0, byte_count = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;
  std::vector<std::pair<uint64_t, uint64_t>> buckets;  // (packets, bytes)
};
struct GroupDesc {
  ofproto::GroupType type = ofproto::GroupType::kAll;
  uint32_t group_id = 0;
  std::vector<ofproto::Bucket> buckets;
};
struct GroupFeatures {
  uint32_t types = 0xf;         // bit per GroupType
  uint32_t capabilities = 0x5;  // OFPGFC_SELECT_WEIGHT | OFPGFC_CHAINING
  std::array<uint32_t, 4> max_groups{};
  std::array<uint32_t, 4> actions{};  // bit per OFPAT_* supported, per type
};
struct MeterStats {
  uint32_t meter_id = 0;
  uint32_t flow_count = 0;
  uint64_t packet_in_count = 0, byte_in_count = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;
  std::vector<std::pair<uint64_t, uint64_t>> bands;  // (packets, bytes) per band
};
struct MeterConfig {
  uint16_t flags = 0;
  uint32_t meter_id = 0;
  std::vector<ofproto::MeterBandSpec> bands;
};
struct MeterFeatures {
  uint32_t max_meter = 65535;
  uint32_t band_types = (1u << 1) | (1u << 2);  // drop, dscp_remark
  uint32_t capabilities = 0xf;                  // kbps, pktps, burst, stats
  uint8_t max_bands = 8, max_color = 0;
};
// One table's features (OpenFlow 1.3 A.3.5.5): the codec fills the
// properties (instructions, next tables, actions, match, wildcards,
// set-field for both the normal and the miss case) from what Sluice
// supports; the caller names the table.
struct TableFeatures {
  uint8_t table_id = 0;
  std::string name;
  uint64_t metadata_match = ~0ull, metadata_write = ~0ull;
  uint32_t config = 0;
  uint32_t max_entries = 1000000;
};

struct MultipartReply {
  MpType type = MpType::kDesc;
  uint16_t flags = 0;
  // Exactly the member that `type` names is used.
  DescStats desc;
  std::vector<FlowStats> flows;
  AggregateStats aggregate;
  std::vector<TableStats> tables;
  std::vector<PortStats> ports;
  std::vector<GroupStats> groups;
  std::vector<GroupDesc> group_descs;
  GroupFeatures group_features;
  std::vector<MeterStats> meters;
  std::vector<MeterConfig> meter_configs;
  MeterFeatures meter_features;
  std::vector<TableFeatures> table_features;
  std::vector<PortDesc> port_descs;
  // kQueue: always empty (Sluice has no queues).
};

using Body = std::variant<Hello, Error, Echo, Experimenter, FeaturesRequest, FeaturesReply,
                          GetConfigRequest, SwitchConfig, PacketIn, FlowRemoved, PortStatus,
                          PacketOut, FlowMod, GroupMod, PortMod, TableMod, MultipartRequest,
                          MultipartReply, BarrierRequest, BarrierReply, QueueGetConfigRequest,
                          QueueGetConfigReply, RoleMsg, GetAsyncRequest, AsyncMsg, MeterMod>;

struct Message {
  uint8_t version = kVersion13;
  uint32_t xid = 0;
  Type type = Type::kHello;
  Body body;
};

// The outcome of Decode: a message, or the error to send back. `error` uses
// OpenFlow 1.3 numbering (EncodeError renumbers it for 1.0).
struct Decoded {
  std::optional<Message> msg;
  OfpError error;
  bool ok() const { return msg.has_value(); }
};

// Decodes one whole message (header included; len == header.length).
// Versions other than 1.0 and 1.3 are refused (BAD_REQUEST/BAD_VERSION),
// except that a HELLO of any version decodes (for negotiation).
Decoded Decode(const uint8_t* p, size_t len);

// Encodes one message for m.version. Multipart replies that do not fit in
// 65535 bytes are split (OFPMPF_REPLY_MORE on all but the last), hence the
// vector of messages; every other type yields exactly one.
std::vector<std::vector<uint8_t>> Encode(const Message& m);
// Convenience for the single-message types.
std::vector<uint8_t> EncodeOne(const Message& m);

// An OFPT_ERROR for `version` carrying err (1.3 numbering, renumbered for
// 1.0 where 1.0 has an equivalent, else BAD_REQUEST/EPERM) and the first
// 64 bytes of the offending request. For HELLO_FAILED the data is instead
// err.message (an ASCII explanation, as the spec asks; at most 256 bytes).
std::vector<uint8_t> EncodeError(uint8_t version, uint32_t xid, const OfpError& err,
                                 const uint8_t* request, size_t request_len);

// A HELLO carrying a version bitmap with 1.0 and 1.3.
std::vector<uint8_t> EncodeHello(uint32_t xid);
// The version both sides support: the highest common version of the
// bitmaps, or (no bitmap) min(their header version, 1.3) if we support it;
// 0 when there is none.
uint8_t NegotiateVersion(const Hello& theirs);

const char* TypeName(Type t);

}  // namespace sluice::ofp
