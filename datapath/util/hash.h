#pragma once
// What: the hash functions of the datapath.
//
// Design: CRC32C (the SSE4.2 instruction, one cycle throughput per 8 bytes)
// over 64-bit words, finished with a multiply-xorshift so that the low bits
// used to pick hash buckets are well mixed. Every user hashes whole 64-bit
// words of a flow key, so one primitive serves the EMC, the megaflow
// classifier's subtables and the ufid.

#include <nmmintrin.h>

#include <cstdint>

namespace sluice {

// A 64-bit word that may alias any object. Flow keys are structs of
// smaller fields read as whole words (hashing, masking, comparing); read
// through plain uint64_t*, GCC's strict-aliasing analysis may reorder such
// reads before the field stores that precede them (seen at -O3 with
// inlining). Every word view of a key goes through this type.
using AliasWord = uint64_t __attribute__((__may_alias__));

inline uint32_t HashAddWord(uint32_t hash, uint64_t word) {
  return static_cast<uint32_t>(_mm_crc32_u64(hash, word));
}

inline uint32_t HashFinish(uint32_t hash, uint32_t n_bytes) {
  uint64_t h = (static_cast<uint64_t>(hash) << 32 | n_bytes) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>(h >> 32) ^ static_cast<uint32_t>(h);
}

inline uint32_t HashWords(const AliasWord* words, int n, uint32_t basis) {
  uint32_t h = basis;
  for (int i = 0; i < n; ++i) h = HashAddWord(h, words[i]);
  return HashFinish(h, static_cast<uint32_t>(n * 8));
}

}  // namespace sluice
