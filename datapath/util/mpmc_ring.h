#pragma once
// What: MpmcRing<T>, a bounded lock-free multi-producer multi-consumer queue
// of values, used for PMD command rings and upcall queues.
//
// Design: the classic sequence-numbered array queue (Dmitry Vyukov's bounded
// MPMC design). Each slot carries a sequence number; a producer claims slot
// `tail` with a CAS when the slot's sequence equals tail, writes the value,
// then publishes by storing sequence = tail + 1. A consumer claims `head`
// when the slot's sequence is head + 1, reads, then frees the slot for the
// next lap by storing sequence = head + capacity. No allocation after
// construction; a full queue makes TryPush fail (the caller counts a drop),
// an empty one makes TryPop fail. Neither ever blocks.
//
// Invariants:
//   1. Values come out in the order their pushes claimed slots (FIFO per
//      producer and globally by claim order).
//   2. At most capacity() values are in the queue.
//
// Thread-safety: any number of producers and consumers concurrently.
// Memory: capacity (rounded up to a power of two) * (sizeof(T) + 8) bytes.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace sluice {

template <typename T>
class MpmcRing {
  static_assert(std::is_trivially_copyable_v<T>, "ring values are copied as bytes");

 public:
  explicit MpmcRing(size_t capacity) {
    size_t n = 1;
    while (n < capacity) n <<= 1;
    mask_ = n - 1;
    slots_ = std::make_unique<Slot[]>(n);
    for (size_t i = 0; i < n; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }

  bool TryPush(const T& value) {
    size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slots_[pos & mask_];
      size_t seq = s.seq.load(std::memory_order_acquire);
      intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          s.value = value;
          s.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  bool TryPop(T* out) {
    size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slots_[pos & mask_];
      size_t seq = s.seq.load(std::memory_order_acquire);
      intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          *out = s.value;
          s.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  size_t capacity() const { return mask_ + 1; }
  // Approximate (racy) count, for statistics.
  size_t SizeApprox() const {
    size_t t = tail_.load(std::memory_order_relaxed), h = head_.load(std::memory_order_relaxed);
    return t >= h ? t - h : 0;
  }

 private:
  struct Slot {
    std::atomic<size_t> seq;
    T value;
  };
  static constexpr size_t kLine = 64;
  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  alignas(kLine) std::atomic<size_t> tail_{0};
  alignas(kLine) std::atomic<size_t> head_{0};
};

}  // namespace sluice
