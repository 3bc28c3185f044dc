#pragma once
// What: the Internet checksum (RFC 1071) and its incremental update
// (RFC 1624), full IPv4 header and TCP/UDP/ICMPv6 checksums, and CRC32c as
// SCTP uses it. The header rewrites (rewrite.h) use the incremental forms;
// tests and the slow path use the full ones to check them.
//
// Design: the ones'-complement sum does not depend on byte order (RFC 1071
// section 2(B)): summing 16-bit words as they lie in memory, in the host's
// order, gives the byte-swapped sum, which stored back as it is gives the
// right bytes on the wire. So nothing here swaps bytes: checksums are be16
// whose .raw is the value loaded from (or stored to) the packet, and a
// "partial sum" is a uint64_t of memory-order 16-bit (or 32-bit: 2^16 is 1
// modulo 0xffff) words, folded once at the end.
//
//   - CsumAdd(sum, bytes) adds bytes to a partial sum (an odd last byte is
//     padded with a zero, as RFC 1071 says); CsumFinish(sum) folds and
//     complements it into a checksum.
//   - Incremental update (RFC 1624 eqn. 3): HC' = ~(~HC + ~m + m'). A rewrite
//     collects ~m + m' for every field it changes in a CsumDelta and applies
//     it once. Eqn. 3 (not eqn. 2) is used so that the result is the one a
//     full recomputation gives, including its choice between 0x0000 and
//     0xffff (see the test with RFC 1624's own example).
//   - CRC32c (Castagnoli, reflected, init and final xor 0xffffffff) uses the
//     SSE4.2 crc32 instruction. SCTP stores the CRC's 32-bit value in little-
//     endian byte order (RFC 4960 appendix B): the bytes of the native
//     uint32_t on this (x86) machine.
//
// Invariants:
//   1. CsumFinish(CsumAdd(0, d)) over data that contains its own correct
//      checksum is 0 (the usual verification).
//   2. For any header with a correct checksum, CsumApply(old, delta of a
//      change) equals the checksum recomputed from scratch after the change.
//   3. Crc32c("123456789") == 0xe3069283 (the CRC-32C check value).
//
// Thread-safety: pure functions.
// Memory: none.

#include <nmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "datapath/util/be.h"

namespace sluice::dp {

// --- Ones'-complement sum (RFC 1071) --------------------------------------

// Adds `len` bytes at `data` to the partial sum `sum`.
uint64_t CsumAdd(uint64_t sum, const void* data, size_t len);

// Folds a partial sum to 16 bits with end-around carries. The result is 0
// only when `sum` is 0.
inline uint16_t CsumFold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum of a partial sum: its folded ones' complement.
inline be16 CsumFinish(uint64_t sum) {
  return be16::FromRaw(static_cast<uint16_t>(~CsumFold(sum)));
}

// --- Incremental update (RFC 1624) -----------------------------------------

// The change to apply to a checksum, as the sum of ~old + new for every
// changed field. Fields are raw (memory-order) values.
struct CsumDelta {
  uint64_t sum = 0;

  void Add16(uint16_t old_raw, uint16_t new_raw) {
    sum += static_cast<uint16_t>(~old_raw);
    sum += new_raw;
  }
  void Add32(uint32_t old_raw, uint32_t new_raw) {
    sum += static_cast<uint32_t>(~old_raw);
    sum += new_raw;
  }
  void Add64(uint64_t old_raw, uint64_t new_raw) {
    const uint64_t inv = ~old_raw;
    sum += (inv & 0xffffffffu) + (inv >> 32) + (new_raw & 0xffffffffu) + (new_raw >> 32);
  }
  void Add(const CsumDelta& o) { sum += o.sum; }
};

// HC' = ~(~HC + delta) (RFC 1624 eqn. 3).
inline be16 CsumApply(be16 csum, const CsumDelta& delta) {
  const uint64_t s = static_cast<uint16_t>(~csum.raw) + delta.sum;
  return be16::FromRaw(static_cast<uint16_t>(~CsumFold(s)));
}

inline be16 CsumUpdate16(be16 csum, be16 old_v, be16 new_v) {
  CsumDelta d;
  d.Add16(old_v.raw, new_v.raw);
  return CsumApply(csum, d);
}

inline be16 CsumUpdate32(be16 csum, be32 old_v, be32 new_v) {
  CsumDelta d;
  d.Add32(old_v.raw, new_v.raw);
  return CsumApply(csum, d);
}

// For a 16-byte field (an IPv6 address).
inline be16 CsumUpdate128(be16 csum, const uint8_t old_v[16], const uint8_t new_v[16]) {
  CsumDelta d;
  for (int i = 0; i < 16; i += 8) {
    uint64_t o, n;
    std::memcpy(&o, old_v + i, 8);
    std::memcpy(&n, new_v + i, 8);
    d.Add64(o, n);
  }
  return CsumApply(csum, d);
}

// --- Full checksums ----------------------------------------------------------

// Protocol numbers used here, in a namespace of their own so that they never
// collide with the parser's wire-format constants.
namespace csum {
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;
inline constexpr uint8_t kIpProtoSctp = 132;
inline constexpr size_t kSctpChecksumOfs = 8;
inline constexpr size_t kSctpHeaderLen = 12;
}  // namespace csum

// The IPv4 header checksum of the `hdr_len`-byte header at `ip`, computed
// with its checksum field (bytes 10-11) taken as zero.
be16 Ipv4HeaderChecksum(const uint8_t* ip, size_t hdr_len);
// True when the header's stored checksum is correct.
bool Ipv4HeaderChecksumOk(const uint8_t* ip, size_t hdr_len);

// Partial sums of the pseudo-headers that TCP, UDP and ICMPv6 checksums
// cover (RFC 793 / RFC 768 for IPv4, RFC 8200 section 8.1 for IPv6).
uint64_t Ipv4PseudoHeaderSum(be32 src, be32 dst, uint8_t proto, uint32_t l4_len);
uint64_t Ipv6PseudoHeaderSum(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
                             uint32_t l4_len);

// Where the checksum field sits in an L4 header of protocol `proto`, or -1
// for protocols with no 16-bit Internet checksum here (SCTP uses CRC32c).
int L4ChecksumOffset(uint8_t proto);

// The checksum of the `l4_len`-byte segment at `l4`, computed with its
// checksum field taken as zero: TCP/UDP (pseudo-header from the IPv4 header
// at `ip`) or ICMP (no pseudo-header) over IPv4; TCP/UDP/ICMPv6 over IPv6
// (pseudo-header from the fixed header at `ip6`, whose destination field is
// taken as the final destination). A UDP result of 0 is returned as 0xffff
// (0 means "no checksum" on the wire). Returns 0 for any other protocol, or
// a segment too short for the field.
be16 Ipv4L4Checksum(const uint8_t* ip, const uint8_t* l4, uint32_t l4_len, uint8_t proto);
be16 Ipv6L4Checksum(const uint8_t* ip6, const uint8_t* l4, uint32_t l4_len, uint8_t proto);

// --- CRC32c (SCTP) -------------------------------------------------------------

// Runs the CRC32c register `crc` over `len` bytes (no initial or final
// inversion: Crc32c below adds those).
uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t len);

// Runs the register over `n` zero bytes, without reading memory.
inline uint32_t Crc32cZeros(uint32_t crc, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8) c = _mm_crc32_u64(c, 0);
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n) c32 = _mm_crc32_u8(c32, 0);
  return c32;
}

// The standard CRC-32C of `len` bytes.
inline uint32_t Crc32c(const void* data, size_t len) {
  return ~Crc32cUpdate(0xffffffffu, data, len);
}

// The CRC32c of the `len`-byte SCTP packet at `sctp` (common header and
// chunks), computed with its checksum field (bytes 8-11) taken as zero. To
// store it, write the uint32_t's bytes as they lie in memory (little-endian).
uint32_t SctpChecksum(const uint8_t* sctp, size_t len);
// True when the packet's stored checksum is correct.
bool SctpChecksumOk(const uint8_t* sctp, size_t len);

}  // namespace sluice::dp
