#include "ofproto/upcall_handler.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace sluice::ofproto {

void RunUpcallHandler(dp::Datapath* dp, const std::atomic<bool>& stop,
                      const std::function<size_t()>& handle_batch, int park_timeout_ms) {
  uint32_t nap_us = 0;  // 0: busy
  while (!stop.load(std::memory_order_relaxed)) {
    if (handle_batch() != 0) {
      nap_us = 0;
      continue;
    }
    if (nap_us < kHandlerMaxNapUs) {
      nap_us = nap_us == 0 ? kHandlerMinNapUs : std::min(nap_us * 2, kHandlerMaxNapUs);
      std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
      continue;
    }
    dp->WaitForUpcalls(park_timeout_ms);
  }
}

}  // namespace sluice::ofproto
