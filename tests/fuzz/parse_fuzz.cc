// libFuzzer target for ParseFlow (datapath/flow/parse.h).
//
// libFuzzer hands over an exactly sized heap buffer, so with ASan any read
// past `size` (invariant 1) aborts. On top of that each input checks:
//   - the status is a known one;
//   - every offset the parser reports leaves room for its layer's smallest
//     header inside the frame, on success and on error alike;
//   - parsing is deterministic and ignores what the key and layout held
//     before (invariants 2 and 3);
//   - an accepted frame's key agrees with its offsets (an L3 offset only for
//     IP/ARP EtherTypes, no L4 offset or ports for a non-first fragment).

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "datapath/flow/parse.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::dp;
  if (size > 0xffff) return 0;  // frames are at most 64 KiB (mbuf data_len is 16 bits)
  const auto len = static_cast<uint32_t>(size);

  FlowKey a;
  PacketLayout la;
  std::memset(&a, 0x00, sizeof(a));
  const ParseStatus sa = ParseFlow(data, len, 3, &a, &la);
  Check(static_cast<int>(sa) < static_cast<int>(ParseStatus::kCount));

  if (la.l3_ofs != kNoOffset) Check(la.l3_ofs >= 14 && la.l3_ofs + 20u <= len);
  if (la.l4_ofs != kNoOffset) {
    Check(la.l3_ofs != kNoOffset && la.l4_ofs > la.l3_ofs && la.l4_ofs + 4u <= len);
  }

  FlowKey b;
  PacketLayout lb{123, 456};
  std::memset(&b, 0xff, sizeof(b));
  const ParseStatus sb = ParseFlow(data, len, 3, &b, &lb);
  Check(sa == sb && a == b && la.l3_ofs == lb.l3_ofs && la.l4_ofs == lb.l4_ofs);
  Check(a.in_port == 3 && a.recirc_id == 0 && a.pkt_mark == 0 && a.dp_hash == 0);
  Check(a.pad13 == 0 && a.pad14 == 0 && a.pad15 == 0);

  if (sa == ParseStatus::kOk) {
    const uint16_t et = a.eth_type.host();
    if (la.l3_ofs != kNoOffset) Check(et == 0x0800 || et == 0x86dd || et == 0x0806 || et == 0x8035);
    if (et == 0x0800 || et == 0x86dd || et == 0x0806 || et == 0x8035) Check(la.l3_ofs != kNoOffset);
    if (a.nw_frag & kFragLater) {
      Check(la.l4_ofs == kNoOffset && !a.tp_src && !a.tp_dst && !a.tcp_flags);
    }
    if (!a.vlan[0].tpid) Check(!a.vlan[1].tpid && !a.vlan[0].tci);
  }
  return 0;
}
