#include "datapath/actions/csum.h"

namespace sluice::dp {

uint64_t CsumAdd(uint64_t sum, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  // 32-bit words into a 64-bit accumulator: no carry is lost before 2^32
  // words, far beyond any packet.
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    sum += (w & 0xffffffffu) + (w >> 32);
  }
  if (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the first byte of a 16-bit word whose second byte is
    // zero; in memory order on a little-endian host that is its low byte.
    const uint8_t last[2] = {p[0], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

be16 Ipv4HeaderChecksum(const uint8_t* ip, size_t hdr_len) {
  uint64_t sum = CsumAdd(0, ip, 10);
  sum = CsumAdd(sum, ip + 12, hdr_len - 12);
  return CsumFinish(sum);
}

bool Ipv4HeaderChecksumOk(const uint8_t* ip, size_t hdr_len) {
  return CsumFold(CsumAdd(0, ip, hdr_len)) == 0xffff;
}

uint64_t Ipv4PseudoHeaderSum(be32 src, be32 dst, uint8_t proto, uint32_t l4_len) {
  uint64_t sum = static_cast<uint64_t>(src.raw) + dst.raw;
  sum += Be16(proto).raw;
  sum += Be16(static_cast<uint16_t>(l4_len)).raw;
  return sum;
}

uint64_t Ipv6PseudoHeaderSum(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
                             uint32_t l4_len) {
  uint64_t sum = CsumAdd(0, src, 16);
  sum = CsumAdd(sum, dst, 16);
  sum += Be32(l4_len).raw;
  sum += Be32(next_header).raw;
  return sum;
}

int L4ChecksumOffset(uint8_t proto) {
  switch (proto) {
    case csum::kIpProtoTcp:
      return 16;
    case csum::kIpProtoUdp:
      return 6;
    case csum::kIpProtoIcmp:
    case csum::kIpProtoIcmpv6:
      return 2;
    default:
      return -1;
  }
}

namespace {

be16 L4Checksum(uint64_t pseudo, const uint8_t* l4, uint32_t l4_len, uint8_t proto) {
  const int ofs = L4ChecksumOffset(proto);
  if (ofs < 0 || l4_len < static_cast<uint32_t>(ofs) + 2) return be16::FromRaw(0);
  uint64_t sum = CsumAdd(pseudo, l4, static_cast<size_t>(ofs));
  sum = CsumAdd(sum, l4 + ofs + 2, l4_len - static_cast<uint32_t>(ofs) - 2);
  be16 c = CsumFinish(sum);
  if (proto == csum::kIpProtoUdp && c.raw == 0) c = be16::FromRaw(0xffff);
  return c;
}

}  // namespace

be16 Ipv4L4Checksum(const uint8_t* ip, const uint8_t* l4, uint32_t l4_len, uint8_t proto) {
  // ICMP for IPv4 has a checksum but no pseudo-header.
  if (proto == csum::kIpProtoIcmp) return L4Checksum(0, l4, l4_len, proto);
  if (proto != csum::kIpProtoTcp && proto != csum::kIpProtoUdp) return be16::FromRaw(0);
  be32 src, dst;
  std::memcpy(&src, ip + 12, 4);
  std::memcpy(&dst, ip + 16, 4);
  return L4Checksum(Ipv4PseudoHeaderSum(src, dst, proto, l4_len), l4, l4_len, proto);
}

be16 Ipv6L4Checksum(const uint8_t* ip6, const uint8_t* l4, uint32_t l4_len, uint8_t proto) {
  if (proto != csum::kIpProtoTcp && proto != csum::kIpProtoUdp && proto != csum::kIpProtoIcmpv6) {
    return be16::FromRaw(0);
  }
  return L4Checksum(Ipv6PseudoHeaderSum(ip6 + 8, ip6 + 24, proto, l4_len), l4, l4_len, proto);
}

uint32_t Crc32cUpdate(uint32_t crc, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = crc;
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; len > 0; ++p, --len) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

uint32_t SctpChecksum(const uint8_t* sctp, size_t len) {
  if (len < csum::kSctpHeaderLen) return 0;
  uint32_t crc = Crc32cUpdate(0xffffffffu, sctp, csum::kSctpChecksumOfs);
  crc = Crc32cZeros(crc, 4);
  crc = Crc32cUpdate(crc, sctp + csum::kSctpHeaderLen, len - csum::kSctpHeaderLen);
  return ~crc;
}

bool SctpChecksumOk(const uint8_t* sctp, size_t len) {
  if (len < csum::kSctpHeaderLen) return false;
  uint32_t stored;
  std::memcpy(&stored, sctp + csum::kSctpChecksumOfs, 4);
  return stored == SctpChecksum(sctp, len);
}

}  // namespace sluice::dp
