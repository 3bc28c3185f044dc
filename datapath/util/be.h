#pragma once
// What: strong big-endian integer types for wire-format fields.
//
// Design: a field read from a packet stays in network byte order inside flow
// keys, masks and actions, so parsing is a copy and masking is a bitwise AND.
// be16/be32/be64 wrap the raw network-order value; there is no implicit
// conversion to or from host integers, so a missing byte swap is a compile
// error rather than a wrong match.
//
// Memory: each type is exactly the size of its integer (static_asserted), so
// they can sit inside packed wire structures.

#include <cstdint>

namespace sluice {

template <typename T>
constexpr T ByteSwap(T v) {
  if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
  if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
  if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
}

template <typename T>
struct BigEndian {
  T raw;  // network byte order

  static constexpr BigEndian FromHost(T host) { return BigEndian{ByteSwap(host)}; }
  static constexpr BigEndian FromRaw(T raw) { return BigEndian{raw}; }
  constexpr T host() const { return ByteSwap(raw); }

  constexpr bool operator==(const BigEndian&) const = default;
  constexpr BigEndian operator&(BigEndian o) const { return BigEndian{static_cast<T>(raw & o.raw)}; }
  constexpr BigEndian operator|(BigEndian o) const { return BigEndian{static_cast<T>(raw | o.raw)}; }
  constexpr BigEndian operator~() const { return BigEndian{static_cast<T>(~raw)}; }
  constexpr explicit operator bool() const { return raw != 0; }
};

using be16 = BigEndian<uint16_t>;
using be32 = BigEndian<uint32_t>;
using be64 = BigEndian<uint64_t>;
static_assert(sizeof(be16) == 2 && sizeof(be32) == 4 && sizeof(be64) == 8);

constexpr be16 Be16(uint16_t host) { return be16::FromHost(host); }
constexpr be32 Be32(uint32_t host) { return be32::FromHost(host); }
constexpr be64 Be64(uint64_t host) { return be64::FromHost(host); }

}  // namespace sluice
