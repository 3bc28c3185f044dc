#pragma once
// What: OffloadManager, the offload thread: takes megaflow put/modify/delete
// requests (by ufid) from the slow path, pushes them to a FlowBackend (full
// offload, else partial, else software), remembers what was refused and why,
// reads the hardware counters back, and keeps the statistics
// `sluicectl offload-stats` prints.
//
// Design:
//   - Requests go into a bounded FIFO (mutex + condition variable: callers
//     are handler/revalidator threads, never a PMD). A full queue refuses
//     the request and counts it; the flow then simply stays in software.
//   - One worker (the thread Start() runs, or a caller of ProcessRequests()
//     in synchronous mode) applies requests in order. Per put: translate for
//     full offload and create; on any refusal (translation or device),
//     allocate a MARK id, translate for partial offload and create; on
//     refusal the flow is kRefused with the reason of the last attempt.
//   - Refusals are remembered: a put with the same match and actions as a
//     refused flow is skipped (counted as skipped_refused), so a megaflow
//     the device cannot take is never retried in a loop. A put with other
//     actions (a modify), or a delete and a new put, tries again.
//   - Modify is make-before-break: the new rule is created before the old
//     one is destroyed, so traffic never falls to software in between (the
//     old rule's counters are read and folded first).
//   - Counters: every counter_interval_ms (or on QueryCounters()) each
//     offloaded rule's COUNT is read; the increase since the last read is
//     added to a per-ufid delta that TakeCounterDeltas() hands out (and
//     clears), for the revalidator to add to the megaflow's statistics. A
//     deleted flow's last counters are read before its rule is destroyed.
//   - MARK ids are 1..max_mark (0 is "no mark"), reused after delete in
//     FIFO order (the longest-freed first); UfidOfMark() maps one back.
//     Mark callbacks (SetMarkCallbacks; DatapathOffload wires them to the
//     PMDs' mark tables): `set(ufid, mark)` right after a partial rule is
//     created; `clear(mark)` before a partial rule is destroyed, returning
//     only once every PMD has forgotten the mark. The id goes back to the
//     free list only after that and the destroy, so a freed id is never
//     reused while a PMD could still map it to the old flow; FIFO reuse
//     then puts every other free id between a packet still in an rx ring
//     with the old mark and the id's next owner.
//
// Invariants:
//   1. A ufid has at most one rule in the backend at a time (between the
//      create and the destroy of a modify, two, briefly).
//   2. Every rule created is destroyed by Del, a modify, or the destructor.
//   3. Per-ufid deltas only grow until taken; a device counter that goes
//      backwards (reset) restarts the baseline, never yields a negative.
//   4. A flow whose (key, mask, actions) was refused is not sent to the
//      backend again.
//
// Thread-safety: Put/Del/Get/Stats/TakeCounterDeltas/UfidOfMark/SetPorts
// from any thread (one mutex, held briefly, never across a backend call).
// Backend calls happen on the worker only. ProcessRequests() and the
// thread must not run at the same time (a second mutex serialises them).
//
// Memory: per flow ~250 bytes plus its actions; per queued request ~300
// bytes plus its actions.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "datapath/actions/dp_actions.h"
#include "datapath/flow/flow_key.h"
#include "offload/flow_backend.h"
#include "offload/flow_translate.h"

namespace sluice::offload {

enum class FlowState : uint8_t { kPending, kFull, kPartial, kRefused };
const char* FlowStateName(FlowState s);  // "pending", "full", "partial", "refused"

struct FlowOffloadInfo {
  FlowState state = FlowState::kPending;
  Reason full_reason = Reason::kOk;  // why not full (partial or refused flows)
  Reason reason = Reason::kOk;       // why in software (refused flows)
  std::string detail;                // of the last refusal
  uint32_t mark = 0;                 // partial: the MARK id packets carry
  uint64_t hw_packets = 0;           // device counter totals, as last read
  uint64_t hw_bytes = 0;
};

struct CounterDelta {
  dp::Ufid ufid;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct OffloadStats {
  uint64_t n_full = 0, n_partial = 0, n_refused = 0, n_pending = 0;  // flows now
  uint64_t refusals[static_cast<int>(Reason::kCount)] = {};          // per attempt, cumulative
  uint64_t full_fallbacks = 0;                                       // full refused, partial taken
  uint64_t puts = 0, dels = 0;                                       // requests applied
  uint64_t skipped_refused = 0;  // puts not retried (remembered refusal)
  uint64_t queue_drops = 0;      // requests refused because the queue was full
  uint64_t queue_depth = 0;
  uint64_t insertions = 0, removals = 0, modifications = 0;
  uint64_t destroy_errors = 0, query_errors = 0;
  double insertion_rate = 0;  // rules per second, over the last second with inserts
};

// "full 3 partial 1 refused 2 ..." lines for `sluicectl offload-stats`.
std::string FormatOffloadStats(const OffloadStats& s);

struct OffloadOptions {
  bool full = true;
  bool partial = true;
  size_t queue_limit = 65536;
  uint32_t max_mark = 0xffffff;
  uint32_t counter_interval_ms = 1000;
  // Hand out partial rules' counts as deltas too. False when the packets a
  // partial rule counts also reach software and are counted there (the
  // datapath integration), so that TakeCounterDeltas() never counts twice.
  bool partial_deltas = true;
};

class OffloadManager {
 public:
  OffloadManager(FlowBackend* backend, const OffloadOptions& options);
  ~OffloadManager();  // stops the thread, destroys every rule
  OffloadManager(const OffloadManager&) = delete;
  OffloadManager& operator=(const OffloadManager&) = delete;

  // The port map used for requests applied from now on.
  void SetPorts(PortMap ports);

  // Called on the worker, never with this object's mutex held (see Design).
  // Set before Start(); the destructor calls neither.
  using MarkSetFn = std::function<void(const dp::Ufid& ufid, uint32_t mark)>;
  using MarkClearFn = std::function<void(uint32_t mark)>;
  void SetMarkCallbacks(MarkSetFn set, MarkClearFn clear);

  // Enqueue a put (install or modify) / delete. False when the queue is full.
  bool Put(const dp::Ufid& ufid, const dp::FlowKey& key, const dp::FlowMask& mask,
           std::vector<dp::DpAction> actions);
  bool Del(const dp::Ufid& ufid);

  void Start();
  void Stop();
  // Synchronous mode: applies up to `max` queued requests on this thread.
  size_t ProcessRequests(size_t max = SIZE_MAX);
  // Reads every offloaded rule's counters now (on the worker's behalf).
  void QueryCounters();
  // With the thread running: returns once every request queued before the
  // call has been applied.
  void WaitIdle();

  bool Get(const dp::Ufid& ufid, FlowOffloadInfo* info) const;
  std::vector<CounterDelta> TakeCounterDeltas();
  bool UfidOfMark(uint32_t mark, dp::Ufid* ufid) const;
  OffloadStats Stats() const;

 private:
  struct Request {
    bool del = false;
    dp::Ufid ufid;
    dp::FlowKey key;
    dp::FlowMask mask;
    std::vector<dp::DpAction> actions;
  };
  struct Flow {
    FlowOffloadInfo info;
    FlowHandle handle;
    dp::FlowKey key;
    dp::FlowMask mask;
    std::vector<dp::DpAction> actions;
    uint64_t base_hits = 0, base_bytes = 0;  // counters at the last read
    bool applied = false;                    // false: queued by Put, not yet seen by the worker
  };
  struct Installed {
    FlowState state = FlowState::kRefused;
    FlowHandle handle;
    uint32_t mark = 0;
    Reason full_reason = Reason::kOk, reason = Reason::kOk;
    std::string detail;
  };

  void Apply(Request& r);
  void ApplyPut(Request& r);
  void ApplyDel(const dp::Ufid& ufid);
  Installed Install(const Request& r, const PortMap& ports);
  // Reads one rule's counters into its flow and the deltas (mu_ not held).
  void ReadCounters(const dp::Ufid& ufid, Flow* f);
  uint32_t AllocMark();
  void FreeMark(uint32_t mark);
  void Run();

  // A partial rule is about to be destroyed: the PMDs forget its mark.
  void ReleaseMark(const Flow& f);

  FlowBackend* backend_;
  OffloadOptions options_;
  MarkSetFn mark_set_;
  MarkClearFn mark_clear_;
  std::mutex work_mu_;  // one worker at a time

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Request> queue_;
  bool busy_ = false;
  std::shared_ptr<const PortMap> ports_;
  std::unordered_map<dp::Ufid, Flow, dp::UfidHash> flows_;
  std::unordered_map<dp::Ufid, CounterDelta, dp::UfidHash> deltas_;
  std::unordered_map<uint32_t, dp::Ufid> marks_;
  std::deque<uint32_t> free_marks_;  // FIFO: a freed id is reused last
  uint32_t next_mark_ = 1;
  OffloadStats stats_;
  std::chrono::steady_clock::time_point rate_start_{};
  uint64_t rate_count_ = 0;

  std::thread thread_;
  bool stop_ = false;  // under mu_
};

}  // namespace sluice::offload
