#pragma once
// What: OfFlow, the OpenFlow pipeline's view of a packet: the datapath's
// FlowKey plus the fields that exist only inside the pipeline (OpenFlow
// metadata, tunnel id, registers), and OfMatch, a rule's match over it.
//
// Design: the same word-oriented layout as FlowKey (datapath/flow/flow_key.h),
// extended to 24 64-bit words, so the OpenFlow classifier hashes, masks and
// compares whole words exactly like the megaflow classifier does, and the
// datapath part of a flow's wildcards is a FlowMask that becomes a megaflow
// mask as it is.
//
// Invariants:
//   1. sizeof(OfFlow) == 192, 64-byte aligned; dp occupies words 0-15.
//   2. Pipeline-only words (16-23) never reach the datapath: a megaflow mask
//      is wc.dp only.
//
// Thread-safety: plain values.

#include <cstdint>
#include <cstring>

#include "datapath/flow/flow_key.h"

namespace sluice::ofproto {

inline constexpr int kOfFlowWords = 24;

struct alignas(64) OfFlow {
  dp::FlowKey dp;       // words 0-15
  uint64_t metadata;    // word 16: OpenFlow metadata (host order)
  uint64_t tun_id;      // word 17: tunnel id (host order; reserved)
  uint32_t regs[8];     // words 18-21: registers reg0..reg7 (host order)
  uint64_t pad[2];      // words 22-23: always zero

  const AliasWord* words() const { return reinterpret_cast<const AliasWord*>(this); }
  AliasWord* words() { return reinterpret_cast<AliasWord*>(this); }
  void Clear() { std::memset(this, 0, sizeof(*this)); }
  bool operator==(const OfFlow& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};
static_assert(sizeof(OfFlow) == kOfFlowWords * 8);
static_assert(offsetof(OfFlow, metadata) == 128);

// Wildcards: a 1 bit means "this bit was (or is) looked at".
using OfMask = OfFlow;

inline void MaskFlow(const OfFlow& f, const OfMask& m, OfFlow* out) {
  for (int i = 0; i < kOfFlowWords; ++i) out->words()[i] = f.words()[i] & m.words()[i];
}
inline void OrMask(OfMask* into, const OfMask& m) {
  for (int i = 0; i < kOfFlowWords; ++i) into->words()[i] |= m.words()[i];
}

// A rule's match: value (already masked) and mask.
struct OfMatch {
  OfFlow value;
  OfMask mask;

  static OfMatch CatchAll() {
    OfMatch m;
    m.value.Clear();
    m.mask.Clear();
    return m;
  }
  // True when `flow` agrees with the match on every masked bit.
  bool Matches(const OfFlow& flow) const {
    for (int i = 0; i < kOfFlowWords; ++i) {
      if ((flow.words()[i] & mask.words()[i]) != value.words()[i]) return false;
    }
    return true;
  }
};

}  // namespace sluice::ofproto
