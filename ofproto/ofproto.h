#pragma once
// What: Ofproto, one bridge's OpenFlow side: its flow tables, groups, MAC
// learning and ports, and the machinery that connects them to the datapath:
// meters (configured here, enforced by the datapath's MeterTable), upcall
// handlers (a miss is translated, its megaflow installed and the
// packet executed), packet-in and packet-out, and the revalidator (megaflow
// statistics flow into rules, stale megaflows are fixed or removed, idle
// ones expire, rule timeouts fire). This is the C++ API the OpenFlow channel
// code calls.
//
// Design:
//   - OpenFlow port numbers are the datapath's port numbers.
//   - A "ukey" per installed megaflow (ufid, PMD) remembers the megaflow's
//     key, mask and actions, the rules and groups its translation used, the
//     statistics already credited to them, and the state it was translated
//     against (flow-table, group and MAC-learning versions, port state).
//   - Controller-bound packets leave the datapath as userspace actions whose
//     cookie indexes an interned ControllerRequest (reason, table, rule
//     cookie, max_len); the handler turns them into PacketIn events.
//   - Upcalls are handled in batches (HandleUpcallBatch, up to kUpcallBatch):
//     one shared lock for the batch's translations, one datapath call to put
//     its megaflows and one to execute its packets, one ukey-lock round.
//     A miss whose key falls under a megaflow translated earlier in the same
//     batch (same PMD) is not translated again: it is executed with that
//     translation's actions and credited to its rules and groups (by the
//     megaflow soundness property it would have translated the same). Equal
//     action lists share one DpActions object.
//   - Revalidation (Revalidate(), also run by the revalidator thread): fold
//     statistics, delete megaflows idle for megaflow_idle_ms, re-translate
//     those whose inputs changed; a different mask deletes the megaflow, a
//     different action list replaces its actions. The flow limit adapts:
//     it shrinks when a revalidation pass is slow, grows back when fast.
//
// Invariants:
//   1. Every megaflow this bridge installed has a ukey, and the other way
//      round (until Revalidate() notices a megaflow that vanished).
//   2. A rule's packet/byte counters never count a megaflow packet twice;
//      every upcalled packet is credited to the rules (and group buckets)
//      its translation (or its batch-mate's) went through, once.
//   3. After Revalidate(), every remaining megaflow's actions equal a fresh
//      translation of its key.
//
// Thread-safety: every public method may be called from any thread. mu_
// (shared) guards tables, groups, meters and ports: translations take it shared,
// changes take it exclusive. ukeys_ have their own mutex; statistics are
// relaxed atomics.

#include <atomic>
#include <cstring>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "datapath/dpif/datapath.h"
#include "ofproto/flow_table.h"
#include "ofproto/group_table.h"
#include "ofproto/mac_learning.h"
#include "ofproto/meter_table.h"
#include "ofproto/xlate.h"

namespace sluice::ofproto {

struct OfprotoOptions {
  std::string name = "br0";
  // Tags the bridge's controller cookies, so that a switch running several
  // bridges on one datapath routes userspace upcalls back (bridge_set.h).
  uint16_t id = 0;
  // Handler threads Start() runs, each pulling upcalls from the datapath.
  // 0: none; a BridgeSet pulls them and calls HandleUpcall().
  uint32_t n_handlers = 1;
  uint32_t mac_aging_s = 300;
  uint32_t mac_max_entries = 8192;
  uint32_t megaflow_idle_ms = 10000;
  uint32_t flow_limit = 200000;       // upper bound of the adaptive flow limit
  uint32_t revalidate_interval_ms = 500;
  bool miss_to_controller = false;    // table-miss goes to the controller
  std::function<uint64_t()> clock;    // ms; default: the datapath's clock
};

struct PacketIn {
  std::vector<uint8_t> data;  // the first max_len bytes (all when max_len is 0xffff)
  uint32_t total_len = 0;
  uint32_t in_port = 0;
  PacketInReason reason = PacketInReason::kAction;
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  uint64_t metadata = 0;
};

// A meter and its statistics (from the datapath).
struct MeterInfo {
  Meter meter;
  dp::MeterStats stats;
};

// upcalls: miss upcalls handled (every packet); deduped: of those, executed
// with an earlier translation of the same batch; installed / over_limit /
// xlate_errors: per translation.
struct OfprotoStats {
  uint64_t upcalls = 0, installed = 0, install_failed = 0, over_limit = 0, xlate_errors = 0;
  uint64_t deduped = 0;
  uint64_t packet_ins = 0, packet_outs = 0;
  uint64_t revalidations = 0, revalidated = 0, modified = 0, deleted_idle = 0, deleted_stale = 0;
  uint64_t flow_limit = 0, ukeys = 0;
  uint64_t last_revalidate_ms = 0;
};

class Ofproto {
 public:
  Ofproto(dp::Datapath* dp, OfprotoOptions options);
  ~Ofproto();
  Ofproto(const Ofproto&) = delete;
  Ofproto& operator=(const Ofproto&) = delete;

  // Handler and revalidator threads. Without them, tests drive the bridge
  // with HandleUpcalls() and Revalidate().
  void Start();
  void Stop();

  // --- Ports ---
  void SetPort(const XlatePort& port);  // add or change
  void RemovePort(uint32_t ofport);
  void SetPortLive(uint32_t ofport, bool live);
  std::vector<XlatePort> Ports() const;

  // --- OpenFlow operations ---
  OfpResult FlowMod(const ofproto::FlowMod& fm);
  OfpResult GroupMod(const ofproto::GroupMod& gm);
  // Adds, modifies or deletes meters (meter_table.h) and pushes the change
  // to the datapath. Deleting a meter removes the rules that use it.
  OfpResult MeterMod(const ofproto::MeterMod& mm);
  // Runs `actions` on a packet as if received on in_port (kPortController /
  // kPortLocal / 0 for "from the controller").
  OfpResult PacketOut(const uint8_t* data, uint32_t len, uint32_t in_port,
                      const OfActionList& actions);
  std::vector<OfRulePtr> Flows(uint8_t table_id, const OfMatch& match, uint64_t cookie,
                               uint64_t cookie_mask, uint32_t out_port, uint32_t out_group) const;
  TableStats TableStatsOf(uint8_t table) const;
  std::vector<Group> Groups() const;
  std::vector<MeterInfo> Meters() const;

  // Explains how `flow` would be processed (the engine of `sluicectl trace`).
  // `given`, if set, says which fields the user gave (for the "flow:" line).
  std::vector<std::string> Trace(const OfFlow& flow, const OfMask* given = nullptr);

  void set_packet_in_listener(std::function<void(const PacketIn&)> f);
  void set_flow_removed_listener(std::function<void(const FlowRemoved&)> f);
  void set_miss_to_controller(bool on);

  // --- Slow path ---
  static constexpr size_t kUpcallBatch = 64;
  // Handles up to `max` pending upcalls on the calling thread, in batches;
  // returns how many.
  size_t HandleUpcalls(size_t max = SIZE_MAX);
  // Handles upcalls that belong to this bridge (any number; misses in
  // batches of kUpcallBatch); takes the packets.
  void HandleUpcallBatch(dp::Upcall* ups, size_t n);
  // Handles one upcall that belongs to this bridge; takes the packet.
  void HandleUpcall(dp::Upcall& u) { HandleUpcallBatch(&u, 1); }
  // The bridge id a userspace upcall's cookie carries, if it is one of ours.
  static std::optional<uint16_t> CookieBridge(uint64_t cookie);
  // Deletes every megaflow this bridge installed (the bridge is going away).
  void DeleteMegaflows();
  // One revalidation pass (see Design).
  void Revalidate();

  MacLearning& mac() { return mac_; }
  OfprotoStats stats() const;
  uint64_t Now() const { return options_.clock(); }
  const std::string& name() const { return options_.name; }
  uint16_t id() const { return options_.id; }

 private:
  // A FlowKey's bytes without its 64-byte alignment: a ukey holds two, and
  // an over-aligned map node costs a memalign (~600 instructions) per
  // megaflow set up, where a plain one costs ~100.
  struct PackedKey {
    uint64_t w[dp::kFlowWords];
    void Set(const dp::FlowKey& k) { std::memcpy(w, &k, sizeof(w)); }
    void Get(dp::FlowKey* k) const { std::memcpy(k, w, sizeof(w)); }
    bool Equals(const dp::FlowKey& k) const { return std::memcmp(w, &k, sizeof(w)) == 0; }
  };
  static_assert(sizeof(PackedKey) == sizeof(dp::FlowKey));
  struct Ukey {
    dp::Ufid ufid;
    int pmd = 0;
    PackedKey key;   // the translated packet's key
    PackedKey mask;  // the megaflow's mask
    dp::DpActionsPtr actions;
    std::vector<OfRulePtr> rules;
    std::vector<std::pair<uint32_t, int>> groups;  // (group id, bucket) executed
    uint64_t packets = 0, bytes = 0;  // already credited to the rules
    uint64_t version = 0;             // InputsVersion() when translated
    uint64_t created_ms = 0;
  };
  struct UkeyId {
    dp::Ufid ufid;
    int pmd;
    bool operator==(const UkeyId& o) const { return ufid == o.ufid && pmd == o.pmd; }
  };
  struct UkeyIdHash {
    size_t operator()(const UkeyId& u) const { return dp::UfidHash()(u.ufid) ^ static_cast<size_t>(u.pmd); }
  };

  XlateEnv EnvLocked() const { return EnvLocked(options_.clock()); }
  XlateEnv EnvLocked(uint64_t now_ms) const;
  uint64_t InputsVersionLocked() const;
  uint64_t ControllerCookie(const ControllerRequest& r);
  bool DecodeControllerCookie(uint64_t cookie, ControllerRequest* r) const;
  void HandlerMain();
  void RevalidatorMain();
  void EmitRemoved(std::vector<FlowRemoved>& removed);
  void HandlePacketIn(dp::Upcall& u);
  // Misses only, n <= kUpcallBatch.
  void HandleMissBatch(dp::Upcall* const* misses, size_t n);
  void CreditGroups(const std::vector<std::pair<uint32_t, int>>& groups, uint64_t packets,
                    uint64_t bytes);
  void CreditGroupsLocked(const std::vector<std::pair<uint32_t, int>>& groups, uint64_t packets,
                          uint64_t bytes) const;

  dp::Datapath* dp_;
  OfprotoOptions options_;

  mutable std::shared_mutex mu_;
  FlowTables tables_;
  GroupTable groups_;
  MeterTable meters_;
  std::vector<XlatePort> ports_;  // sorted by ofport
  uint64_t ports_version_ = 0;
  bool miss_to_controller_ = false;
  MacLearning mac_;

  std::mutex cookie_mu_;
  std::vector<ControllerRequest> controller_requests_;
  std::map<std::tuple<uint8_t, uint8_t, uint16_t, uint64_t, uint64_t>, uint32_t> controller_index_;

  std::mutex ukey_mu_;
  std::unordered_map<UkeyId, Ukey, UkeyIdHash> ukeys_;
  std::atomic<uint64_t> flow_limit_;

  std::mutex listener_mu_;
  std::function<void(const PacketIn&)> packet_in_listener_;
  std::function<void(const FlowRemoved&)> flow_removed_listener_;

  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;  // with stop_cv_: the revalidator's sleep, ended by Stop()
  std::condition_variable stop_cv_;
  std::vector<std::thread> handlers_;
  std::thread revalidator_;

  // Relaxed counters (what stats() returns, but flow_limit and ukeys).
  struct Counters {
    std::atomic<uint64_t> upcalls{0}, deduped{0}, installed{0}, install_failed{0}, over_limit{0},
        xlate_errors{0}, packet_ins{0}, packet_outs{0}, revalidations{0}, revalidated{0},
        modified{0}, deleted_idle{0}, deleted_stale{0}, last_revalidate_ms{0};
  };
  Counters stats_;
};

// The OfFlow of a datapath key (pipeline-only fields zero).
OfFlow FlowFromKey(const dp::FlowKey& key);

}  // namespace sluice::ofproto
