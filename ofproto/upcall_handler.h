#pragma once
// What: the main loop of an upcall handler thread (BridgeSet's handlers and a
// stand-alone Ofproto's): take batches of upcalls while there are any, nap
// briefly when the rings run dry, and park when they stay dry.
//
// Design: three states.
//   busy    - handle_batch() found work: call it again at once.
//   napping - it found none: sleep kMinNapUs, doubling up to kMaxNapUs
//             (50 + 100 + 200 us), checking between naps. During a storm
//             the rings are empty only for moments, and a napping handler
//             costs the PMDs nothing: they make no syscall to wake it.
//   parked  - still nothing after the naps: Datapath::WaitForUpcalls, which
//             the first upcall a PMD queues ends (one eventfd write), so the
//             first packet after a quiet spell waits for a thread wakeup
//             instead of the rest of a timer nap, and an idle switch wakes
//             its handler once per park timeout instead of ~1,000 times a
//             second (docs/design-notes.md, "Upcall handling").
//
// Invariants:
//   1. The loop returns within one nap or one wakeup after `stop` is set and
//      Datapath::WakeUpcallHandlers() is called.
//
// Thread-safety: runs on the calling (handler) thread; `stop` is read only.

#include <atomic>
#include <cstddef>
#include <functional>

#include "datapath/dpif/datapath.h"

namespace sluice::ofproto {

inline constexpr uint32_t kHandlerMinNapUs = 50;
inline constexpr uint32_t kHandlerMaxNapUs = 200;
// A parked handler also wakes this often by itself (a backstop, and the
// cadence of an idle switch's handler).
inline constexpr int kHandlerParkTimeoutMs = 100;

// Calls handle_batch() (returns the upcalls it handled) until `stop`.
void RunUpcallHandler(dp::Datapath* dp, const std::atomic<bool>& stop,
                      const std::function<size_t()>& handle_batch,
                      int park_timeout_ms = kHandlerParkTimeoutMs);

}  // namespace sluice::ofproto
