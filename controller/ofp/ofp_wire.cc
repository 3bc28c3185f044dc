// The codec's byte-level tools: a bounds-checked big-endian Reader, a
// Writer, and the mapping between OpenFlow 1.0's 16-bit and 1.3's 32-bit
// port numbers.

#include "controller/ofp/ofp_wire.h"

#include <cstring>

namespace sluice::ofp {
namespace {

constexpr uint16_t kPortMax10 = 0xff00;           // OFPP_MAX (1.0)
constexpr uint16_t kPortNone10 = 0xffff;          // OFPP_NONE (1.0)
constexpr uint32_t kReservedOffset = 0xffff0000;  // 0xff00 -> 0xffffff00

}  // namespace

// ---- Reader ----

bool Reader::need(size_t n) {
  if (!ok_ || n > n_ - off_) {
    ok_ = false;
    return false;
  }
  return true;
}

uint8_t Reader::u8() {
  if (!need(1)) return 0;
  return p_[off_++];
}

uint16_t Reader::u16() {
  if (!need(2)) return 0;
  uint16_t v = static_cast<uint16_t>(p_[off_] << 8 | p_[off_ + 1]);
  off_ += 2;
  return v;
}

uint32_t Reader::u32() {
  uint32_t hi = u16();
  uint32_t lo = u16();
  return ok_ ? (hi << 16 | lo) : 0;
}

uint64_t Reader::u64() {
  uint64_t hi = u32();
  uint64_t lo = u32();
  return ok_ ? (hi << 32 | lo) : 0;
}

void Reader::bytes(uint8_t* dst, size_t n) {
  if (!need(n)) {
    if (n) std::memset(dst, 0, n);
    return;
  }
  if (n) std::memcpy(dst, p_ + off_, n);
  off_ += n;
}

std::string Reader::str(size_t n) {
  if (!need(n)) return {};
  const char* s = reinterpret_cast<const char*>(p_ + off_);
  off_ += n;
  return std::string(s, strnlen(s, n));
}

void Reader::skip(size_t n) {
  if (need(n)) off_ += n;
}

Reader Reader::sub(size_t n) {
  if (!need(n)) {
    Reader r(p_, 0);
    r.fail();
    return r;
  }
  Reader r(p_ + off_, n);
  off_ += n;
  return r;
}

// ---- Writer ----

void Writer::u16(uint16_t v) {
  out_->push_back(static_cast<uint8_t>(v >> 8));
  out_->push_back(static_cast<uint8_t>(v));
}

void Writer::u32(uint32_t v) {
  u16(static_cast<uint16_t>(v >> 16));
  u16(static_cast<uint16_t>(v));
}

void Writer::u64(uint64_t v) {
  u32(static_cast<uint32_t>(v >> 32));
  u32(static_cast<uint32_t>(v));
}

void Writer::str(std::string_view s, size_t n) {
  if (n == 0) return;
  size_t len = s.size() < n - 1 ? s.size() : n - 1;
  bytes(reinterpret_cast<const uint8_t*>(s.data()), len);
  zeros(n - len);
}

void Writer::put_u16(size_t at, uint16_t v) {
  (*out_)[at] = static_cast<uint8_t>(v >> 8);
  (*out_)[at + 1] = static_cast<uint8_t>(v);
}

// ---- Ports ----

uint32_t PortFrom10(uint16_t p) { return p >= kPortMax10 ? kReservedOffset + p : p; }

// Ports 0xff00..0xfffffeff have no OpenFlow 1.0 number: they become
// OFPP_NONE, which a 1.0 peer reads as "no port".
uint16_t PortTo10(uint32_t p) {
  if (p < kPortMax10) return static_cast<uint16_t>(p);
  if (p >= kReservedOffset + kPortMax10) return static_cast<uint16_t>(p - kReservedOffset);
  return kPortNone10;
}

}  // namespace sluice::ofp
