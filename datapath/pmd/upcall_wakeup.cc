#include "datapath/pmd/upcall_wakeup.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace sluice::dp {

UpcallWakeup::UpcallWakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

UpcallWakeup::~UpcallWakeup() {
  if (fd_ >= 0) close(fd_);
}

uint32_t UpcallWakeup::Park() {
  return static_cast<uint32_t>(state_.fetch_add(1, std::memory_order_seq_cst) >> 32);
}

void UpcallWakeup::Unpark(uint32_t epoch) {
  uint64_t s = state_.load(std::memory_order_relaxed);
  // Still registered only while the epoch is the one we parked in.
  while (static_cast<uint32_t>(s >> 32) == epoch && (s & kCountMask) != 0) {
    if (state_.compare_exchange_weak(s, s - 1, std::memory_order_relaxed)) return;
  }
}

void UpcallWakeup::Wake() {
  uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((s & kCountMask) == 0) return;  // another PMD claimed them first
    const uint64_t next = ((s >> 32) + 1) << 32;
    if (state_.compare_exchange_weak(s, next, std::memory_order_seq_cst)) break;
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  if (fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(fd_, &one, sizeof(one));  // EAGAIN: already readable
  }
}

void UpcallWakeup::WakeAll() {
  uint64_t s = state_.load(std::memory_order_relaxed);
  while (!state_.compare_exchange_weak(s, ((s >> 32) + 1) << 32, std::memory_order_seq_cst)) {
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  if (fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(fd_, &one, sizeof(one));
  }
}

bool UpcallWakeup::Wait(uint32_t epoch, int timeout_ms) {
  bool woken = false;
  if (fd_ < 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms < 0 ? 1 : timeout_ms));
  } else {
    pollfd p{fd_, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = read(fd_, &v, sizeof(v));  // drain (EAGAIN: another handler did)
      woken = true;
    }
  }
  Unpark(epoch);
  return woken;
}

}  // namespace sluice::dp
