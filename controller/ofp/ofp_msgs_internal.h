#pragma once
// What: what the message codec's files (ofp_msgs.cc, ofp_msgs_flow.cc,
// ofp_multipart.cc, ofp_table_features.cc) share and nobody else needs:
// error constructors, the message framing helpers, and each body's decoder
// and encoder.
//
// Design: a body decoder reads from a Reader positioned just after the
// 8-byte header and spanning exactly the message; it returns nullopt on
// success (having checked that the body is exactly as long as its layout
// says) or the OpenFlow 1.3 error to send back. A body encoder appends the
// body to a Writer whose vector already holds the header; the caller
// patches the length.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include "controller/ofp/ofp_msgs.h"
#include "controller/ofp/ofp_wire.h"

namespace sluice::ofp::internal {

using ofproto::OfpResult;

inline OfpError MakeErr(uint16_t type, uint16_t code, std::string what) {
  return OfpError{type, code, std::move(what)};
}
inline OfpError BadLen(const char* what) {
  return MakeErr(err::kBadRequest, err::kBadReqBadLen, std::string(what) + ": bad length");
}
// Success when the reader is intact and fully consumed, else BAD_LEN.
inline OfpResult Done(const Reader& r, const char* what) {
  if (!r.ok() || r.remaining() != 0) return BadLen(what);
  return std::nullopt;
}
// The rest of the reader's bytes (consumed).
std::vector<uint8_t> Rest(Reader& r);

// Starts a message: writes the header with length 0 (patched by Finish).
void StartMessage(Writer& w, uint8_t version, uint8_t wire_type, uint32_t xid);
// Patches the header's length; false when the message exceeds 65535 bytes.
bool FinishMessage(std::vector<uint8_t>& msg);

// OpenFlow 1.0 port feature bits (12 bits) <-> OpenFlow 1.3 ones (16 bits):
// bits 0-6 (10M..10G) are shared, 1.0's copper..pause_asym (7-11) are 1.3's
// 11-15; 1.3's 40G/100G/1T/other have no 1.0 form and are dropped.
uint32_t FeaturesTo10(uint32_t f13);
uint32_t FeaturesFrom10(uint32_t f10);

// ofp_port (1.3, 64 bytes) / ofp_phy_port (1.0, 48 bytes).
inline constexpr size_t kPortLen13 = 64, kPortLen10 = 48;
OfpResult DecodePort(uint8_t version, Reader& r, PortDesc* out);
void EncodePort(uint8_t version, Writer& w, const PortDesc& p);

// ---- Bodies of ofp_msgs_flow.cc ----
OfpResult DecodePacketIn(uint8_t version, Reader& r, PacketIn* out);
void EncodePacketIn(uint8_t version, Writer& w, const PacketIn& m);
OfpResult DecodeFlowRemoved(uint8_t version, Reader& r, FlowRemoved* out);
void EncodeFlowRemoved(uint8_t version, Writer& w, const FlowRemoved& m);
OfpResult DecodePortStatus(uint8_t version, Reader& r, PortStatus* out);
void EncodePortStatus(uint8_t version, Writer& w, const PortStatus& m);
OfpResult DecodePacketOut(uint8_t version, Reader& r, PacketOut* out);
void EncodePacketOut(uint8_t version, Writer& w, const PacketOut& m);
OfpResult DecodeFlowMod(uint8_t version, Reader& r, FlowMod* out);
void EncodeFlowMod(uint8_t version, Writer& w, const FlowMod& m);
OfpResult DecodeGroupMod(Reader& r, GroupMod* out);
void EncodeGroupMod(Writer& w, const GroupMod& m);
OfpResult DecodeMeterMod(Reader& r, MeterMod* out);
void EncodeMeterMod(Writer& w, const MeterMod& m);
OfpResult DecodePortMod(uint8_t version, Reader& r, PortMod* out);
void EncodePortMod(uint8_t version, Writer& w, const PortMod& m);
OfpResult DecodeTableMod(Reader& r, TableMod* out);
void EncodeTableMod(Writer& w, const TableMod& m);

// ---- Bodies of ofp_multipart.cc ----
OfpResult DecodeMultipartRequest(uint8_t version, Reader& r, MultipartRequest* out);
void EncodeMultipartRequest(uint8_t version, Writer& w, const MultipartRequest& m);
OfpResult DecodeMultipartReply(uint8_t version, Reader& r, MultipartReply* out);
// Whole messages (headers included), split at 65535 bytes; empty when
// `version` has no such reply type.
std::vector<std::vector<uint8_t>> EncodeMultipartReply(uint8_t version, uint32_t xid,
                                                       const MultipartReply& m);

// ---- ofp_table_features.cc ----
// One ofp_table_features entry (its length field included), properties
// generated from what Sluice supports; `next_tables` are the ids a goto
// from this table may name.
void EncodeTableFeatures(Writer& w, const TableFeatures& t,
                         const std::vector<uint8_t>& next_tables);
// One entry; the properties are checked for framing and skipped.
OfpResult DecodeTableFeatures(Reader& r, TableFeatures* out);

}  // namespace sluice::ofp::internal
