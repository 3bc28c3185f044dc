#pragma once
// What: BridgeSet, the bridges of one switch sharing one datapath (as Open
// vSwitch's bridges share its netdev datapath): a registry by name, the
// port -> bridge map, and the handler threads that take upcalls from the
// datapath and hand each to the bridge it belongs to.
//
// Design:
//   - Every datapath port belongs to at most one bridge. A miss goes to the
//     bridge of its in_port; a userspace upcall (CONTROLLER action) to the
//     bridge whose id its cookie carries (Ofproto::CookieBridge), so that a
//     packet-out from a controller finds its way back. Upcalls of ports that
//     belong to no bridge (yet, or any more) are dropped and counted.
//   - Port numbers are the datapath's, unique across the switch, so a
//     bridge's OpenFlow port numbers never collide with another bridge's
//     (design-notes.md, "Several bridges").
//   - Bridges are shared_ptrs: a view or handler that looked one up keeps it
//     alive while a removal from the store goes ahead.
//   - Each bridge keeps its own revalidator (Ofproto::Start with no
//     handlers); the set's handlers do the translation work: they take
//     upcalls in batches (Datapath::RecvUpcalls), route a batch under one
//     shared lock, and hand each bridge its share (in the order received)
//     as one Ofproto::HandleUpcallBatch. Idle handlers nap, then park until
//     a PMD wakes them (ofproto/upcall_handler.h).
//
// Thread-safety: every method may be called from any thread; mu_ (shared)
// guards the maps, handlers look up under the shared lock.

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "datapath/dpif/datapath.h"
#include "ofproto/ofproto.h"
#include "ofproto/upcall_handler.h"

namespace sluice::ofproto {

class BridgeSet {
 public:
  explicit BridgeSet(dp::Datapath* dp, uint32_t n_handlers = 1);
  ~BridgeSet();
  BridgeSet(const BridgeSet&) = delete;
  BridgeSet& operator=(const BridgeSet&) = delete;

  // Creates a bridge named options.name and starts its revalidator (when
  // the set is started). Null if the name is taken.
  std::shared_ptr<Ofproto> Add(OfprotoOptions options);
  // Stops and forgets the bridge, deleting its megaflows; its ports are
  // detached. False if there is none by that name.
  bool Remove(const std::string& name);
  std::shared_ptr<Ofproto> Find(const std::string& name) const;
  std::vector<std::shared_ptr<Ofproto>> All() const;  // sorted by name
  size_t size() const;

  // Upcalls from datapath port `port_no` go to `bridge` from now on.
  void AttachPort(uint32_t port_no, const std::string& bridge);
  void DetachPort(uint32_t port_no);
  // The bridge a port belongs to ("" if none).
  std::string BridgeOf(uint32_t port_no) const;

  // Handler threads (and every bridge's revalidator). Without them, tests
  // call HandleUpcalls().
  void Start();
  void Stop();
  // How long a parked handler sleeps without a wakeup (< 0: until woken);
  // call before Start(). Tests use -1 to show that the wakeup works.
  void set_park_timeout_ms(int ms) { park_timeout_ms_ = ms; }
  size_t HandleUpcalls(size_t max = SIZE_MAX);

  uint64_t orphan_upcalls() const { return orphans_.load(std::memory_order_relaxed); }

 private:
  void HandlerMain();
  // The bridge an upcall belongs to (mu_ held, shared); nullptr: none.
  const std::shared_ptr<Ofproto>* RouteLocked(const dp::Upcall& u) const;

  dp::Datapath* dp_;
  uint32_t n_handlers_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Ofproto>> by_name_;
  std::unordered_map<uint16_t, std::shared_ptr<Ofproto>> by_id_;
  std::unordered_map<uint32_t, std::shared_ptr<Ofproto>> by_port_;
  uint16_t next_id_ = 1;
  bool started_ = false;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> handlers_;
  std::atomic<uint64_t> orphans_{0};
  int park_timeout_ms_ = kHandlerParkTimeoutMs;
};

}  // namespace sluice::ofproto
