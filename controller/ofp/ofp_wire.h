#pragma once
// What: the codec's building blocks, shared by the message codec
// (ofp_msgs.cc) and its tests: a bounds-checked big-endian Reader and a
// Writer, and the encoders/decoders of the pieces messages are made of:
// matches (OpenFlow 1.3 OXM ofp_match, OpenFlow 1.0 ofp_match), actions
// (both versions), instructions (1.3), group buckets and meter bands (1.3),
// and 16-bit OpenFlow 1.0 port numbers.
//
// Design:
//   - A Reader never reads past its end: a short read sets !ok(), returns
//     zeros, and every later read fails too; decoders check ok() before
//     trusting what they read.
//   - Decoders return OfpResult (nullopt = success) with the OpenFlow 1.3
//     error the spec prescribes for the first problem found (BAD_MATCH /
//     BAD_ACTION / BAD_INSTRUCTION / BAD_REQUEST codes), and consume exactly
//     the bytes of the element (including its padding) on success.
//   - Encoders append to a Writer and emit the spec's padding.
//
// Thread-safety: values only.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"
#include "ofproto/meter_table.h"

namespace sluice::ofp {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? n_ - off_ : 0; }
  size_t offset() const { return off_; }
  const uint8_t* here() const { return p_ + off_; }
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  // Copies n bytes to dst (zeros and !ok() when short).
  void bytes(uint8_t* dst, size_t n);
  // A NUL-padded fixed-width string field.
  std::string str(size_t n);
  void skip(size_t n);
  // A sub-reader over the next n bytes, which this reader skips.
  Reader sub(size_t n);
  void fail() { ok_ = false; }

 private:
  bool need(size_t n);
  const uint8_t* p_;
  size_t n_, off_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  size_t size() const { return out_->size(); }
  void u8(uint8_t v) { out_->push_back(v); }
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void bytes(const uint8_t* p, size_t n) { out_->insert(out_->end(), p, p + n); }
  void str(std::string_view s, size_t n);  // NUL-padded / truncated to n-1 chars
  void zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  void pad_to(size_t align) { zeros((align - out_->size() % align) % align); }
  void put_u16(size_t at, uint16_t v);  // overwrites 2 bytes at offset `at`
  std::vector<uint8_t>& out() { return *out_; }

 private:
  std::vector<uint8_t>* out_;
};

// OpenFlow 1.0 16-bit ports: 0xff00.. map to 0xffffff00.. and back.
uint32_t PortFrom10(uint16_t p);
uint16_t PortTo10(uint32_t p);

// ---- Matches ----
// OpenFlow 1.3 ofp_match (type OFPMT_OXM) including its padding to 8
// bytes. Checks duplicate fields, masks on unmaskable fields, value bits
// outside the mask, prerequisites; unknown OXM classes/fields -> BAD_FIELD.
ofproto::OfpResult DecodeOxmMatch(Reader& r, ofproto::OfMatch* match);
void EncodeOxmMatch(Writer& w, const ofproto::OfMatch& match);
// Just the OXM TLVs (no ofp_match header), e.g. inside set-field actions.
ofproto::OfpResult DecodeOxm(Reader& r, ofproto::FieldId* field, ofproto::FieldValue* value,
                             ofproto::FieldValue* mask, bool* has_mask);
void EncodeOxm(Writer& w, ofproto::FieldId field, const ofproto::FieldValue& value,
               const ofproto::FieldValue* mask);

// OpenFlow 1.0 ofp_match (40 bytes, wildcards bitmap, nw_src/dst CIDR bits).
ofproto::OfpResult DecodeMatch10(Reader& r, ofproto::OfMatch* match);
void EncodeMatch10(Writer& w, const ofproto::OfMatch& match);

// ---- Actions and instructions ----
// `len` bytes of actions for `version` (1.0: ofp_action_* incl. set_dl_*,
// set_nw_*, set_tp_*, set_vlan_*, strip_vlan, enqueue; 1.3: output, group,
// set_field, push/pop_vlan, dec_nw_ttl, set_queue, copy_ttl_*, set_nw_ttl).
ofproto::OfpResult DecodeActions(uint8_t version, Reader& r, size_t len,
                                 ofproto::OfActionList* actions);
void EncodeActions(uint8_t version, Writer& w, const ofproto::OfActionList& actions);
// OpenFlow 1.3 instructions (`len` bytes).
ofproto::OfpResult DecodeInstructions(Reader& r, size_t len, ofproto::Instructions* insts);
void EncodeInstructions(Writer& w, const ofproto::Instructions& insts);

// OpenFlow 1.3 group buckets (`len` bytes) and meter bands (`len` bytes).
ofproto::OfpResult DecodeBuckets(Reader& r, size_t len, std::vector<ofproto::Bucket>* buckets);
void EncodeBuckets(Writer& w, const std::vector<ofproto::Bucket>& buckets);
ofproto::OfpResult DecodeBands(Reader& r, size_t len, std::vector<ofproto::MeterBandSpec>* bands);
void EncodeBands(Writer& w, const std::vector<ofproto::MeterBandSpec>& bands);

}  // namespace sluice::ofp
