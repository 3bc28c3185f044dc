#pragma once
// What: UpcallWakeup, how an idle upcall handler sleeps until a PMD queues an
// upcall, instead of waking up on a timer to look.
//
// Design: one per Datapath, shared by its PMDs (producers) and the handler
// threads (consumers). A handler that found every upcall ring empty "parks":
// it registers in state_ (a parked count and an epoch in one word), checks the
// rings once more, and blocks in poll() on an eventfd. A PMD, after pushing an
// upcall, loads state_ once; only when a handler is parked does it claim the
// parked handlers (a CAS that zeroes the count and bumps the epoch) and write
// the eventfd. So the PMD pays one plain load per queued upcall while handlers
// are awake, and one syscall per quiet-to-busy transition.
//
// The protocol, step by step:
//   handler: 1. epoch = Park(): state_ += 1 (seq_cst RMW, a full barrier);
//            2. read every ring's tail (Pmd::upcall_backlog()); anything
//               there: Unpark(epoch), handle it;
//            3. Wait(epoch, timeout): poll() the eventfd, drain it, Unpark.
//   PMD:     a. TryPush: the CAS on the ring's tail (a locked instruction);
//            b. Notify(): load state_; a non-zero count: Wake() (CAS to
//               {epoch + 1, 0}, then write(eventfd)).
//   Either the PMD's load (b) sees the handler's registration (1) and wakes
//   it, or the handler's read of the tail (2) sees the push (a) and does not
//   sleep: on x86 (the only target: x86-64-v3) both locked instructions are
//   full barriers, so the two loads cannot both miss the two stores. A wake
//   written between 2 and 3 leaves the eventfd readable, so 3 returns at
//   once. Unpark decrements the count only if the epoch is still the one the
//   handler parked in (a Wake already removed it otherwise).
//
// Invariants:
//   1. A Notify() after a push that a parked handler's check (2) missed makes
//      that handler's Wait return.
//   2. Notify() makes no syscall while no handler is parked.
//   3. Spurious returns from Wait are possible (a stale eventfd count, the
//      timeout); callers re-check the rings.
//
// Thread-safety: Notify() from any number of PMDs; Park/Unpark/Wait from any
// number of handler threads; WakeAll() from anyone (shutdown).
// Memory: one eventfd, one cache line.

#include <atomic>
#include <cstdint>

namespace sluice::dp {

class UpcallWakeup {
 public:
  UpcallWakeup();
  ~UpcallWakeup();
  UpcallWakeup(const UpcallWakeup&) = delete;
  UpcallWakeup& operator=(const UpcallWakeup&) = delete;

  // PMD side, after a successful push to an upcall ring.
  void Notify() {
    if (__builtin_expect((state_.load(std::memory_order_seq_cst) & kCountMask) != 0, 0)) Wake();
  }

  // Handler side (see the protocol above). Park returns the epoch to hand to
  // Unpark/Wait.
  uint32_t Park();
  void Unpark(uint32_t epoch);
  // Blocks until woken or timeout_ms (< 0: no timeout) passes, then unparks.
  // True when woken by a Notify/WakeAll (or a stale wake), false on timeout.
  bool Wait(uint32_t epoch, int timeout_ms);

  // Wakes every parked handler and makes the next Wait return at once
  // (shutdown: the handlers then see their stop flag).
  void WakeAll();

  uint32_t parked() const { return static_cast<uint32_t>(state_.load(std::memory_order_relaxed) & kCountMask); }
  // How many times a PMD (or WakeAll) wrote the eventfd.
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint64_t kCountMask = 0xffffffffull;
  void Wake();  // cold path of Notify()

  // epoch << 32 | parked count. Written by handlers and by waking PMDs (both
  // rare), read by every PMD per queued upcall.
  alignas(64) std::atomic<uint64_t> state_{0};
  std::atomic<uint64_t> wakeups_{0};
  int fd_ = -1;  // eventfd (non-blocking); -1 if it could not be made: Wait only sleeps
};

}  // namespace sluice::dp
