#include "datapath/flow/flow_key.h"

#include "datapath/util/hash.h"

namespace sluice::dp {

Ufid UfidFromMatch(const FlowKey& masked_key, const FlowMask& mask) {
  uint32_t h[4];
  for (int i = 0; i < 4; ++i) {
    uint32_t basis = 0x5eed0000u + static_cast<uint32_t>(i);
    basis = HashAddWord(basis, HashWords(masked_key.words(), kFlowWords, basis));
    h[i] = HashWords(mask.words(), kFlowWords, basis);
  }
  return Ufid{static_cast<uint64_t>(h[0]) << 32 | h[1], static_cast<uint64_t>(h[2]) << 32 | h[3]};
}

}  // namespace sluice::dp
