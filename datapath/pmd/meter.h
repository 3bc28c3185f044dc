#pragma once
// What: the datapath's meter table: OpenFlow 1.3 meters (token-bucket rate
// limiters with drop and dscp_remark bands), shared by every PMD and applied
// to whole batches by the kMeter action (see execute_inl.h).
//
// Design:
//   - A meter has one token bucket per band. Rates are packets/s (pktps) or
//     kbit/s (kbps); a packet costs 1 packet or 8 * its length in bits. A
//     band's bucket holds at most its burst (packets or kbit) when the meter
//     has burst_flag and a non-zero burst, else one second of its rate.
//     Buckets start full and refill by rate * elapsed TSC cycles / tsc_hz,
//     once per batch. Token arithmetic is exact: tokens are kept in units of
//     1/tsc_hz packet (or bit) in 128-bit integers, so no rounding loses or
//     creates tokens and nothing overflows.
//   - OpenFlow band selection: every band whose bucket holds the packet's
//     cost takes its tokens (the packet conforms to that band); of the bands
//     whose bucket does not, the packet "exceeds" them, and the one with the
//     highest rate applies (ties: the first in the config). A packet that
//     exceeds no band passes unchanged.
//   - drop bands free the packet. dscp_remark bands raise the drop
//     precedence of the DSCP (RFC 2597 AF codepoints: DSCP = class:3 dp:2 0;
//     dp becomes min(dp + prec_level, 3)) of IPv4 (header checksum updated
//     incrementally) and IPv6 packets; other packets pass unchanged.
//   - Apply() compacts the survivors to the front of pkts[]/layouts[] in
//     receive order and returns their number. An unknown meter id passes
//     every packet unmetered.
//   - Storage: a fixed array of kMaxMeters slots indexed by meter id, each
//     with its own spinlock, a config version and a pointer to the meter's
//     state (config, buckets, statistics), so lookup is an index and no
//     table-wide lock exists.
//
// Cross-thread protocol (implemented in meter.cc):
//   1. Apply() (any PMD) takes the slot's spinlock once per chunk of up to
//      kMaxBurst packets, never per packet; under it, it refills the buckets,
//      decides every packet's band and counts statistics; it releases the
//      lock and then frees, remarks and compacts packets (packet work needs
//      no shared state).
//   2. Set() builds the new meter state without the lock, then swaps it in
//      under the slot lock and bumps the version; Del() swaps in nullptr
//      the same way. The old state is freed after the lock is released:
//      Apply only touches the state while holding the lock, so nobody can
//      still see it.
//   3. Stats() copies the statistics under the slot lock.
//
// Invariants:
//   1. Over any sequence of Apply() calls on one meter with one band, the
//      packets passed never exceed bucket capacity + rate * elapsed time.
//   2. Every input packet is either returned in pkts[0..result) or freed,
//      exactly once; survivors keep their order.
//   3. packets_in counts every packet metered; each band's packets count the
//      packets that band was applied to.
//   4. A meter id >= kMaxMeters is never stored (Set fails).
//
// Thread-safety: every method may be called from any thread, concurrently.
// Memory: the slot array (kMaxMeters * 16 B = 1 MiB, allocated once) plus
// one heap object per configured meter (~100 B + 64 B per band), allocated
// by Set() on the control thread; Apply() allocates nothing.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "datapath/flow/parse.h"
#include "datapath/util/status.h"

struct rte_mbuf;

namespace sluice::dp {

struct MeterBand {
  enum Type : uint8_t { kDrop, kDscpRemark };
  Type type = kDrop;
  uint64_t rate = 0;       // packets/s or kbit/s, as the meter says; > 0
  uint64_t burst = 0;      // packets or kbit; used when the meter has burst_flag
  uint8_t prec_level = 0;  // kDscpRemark: drop precedence increase
};

struct MeterConfig {
  uint32_t id = 0;
  bool pktps = false;  // rates in packets/s, else kbit/s
  bool burst_flag = false;
  std::vector<MeterBand> bands;
};

struct MeterBandStats {
  uint64_t packets = 0, bytes = 0;  // packets this band was applied to
};

struct MeterStats {
  uint64_t packets_in = 0, bytes_in = 0;
  std::vector<MeterBandStats> bands;  // in config order
  uint64_t config_version = 0;        // bumped by every Set/Del of this id
};

class MeterTable {
 public:
  static constexpr uint32_t kMaxMeters = 65536;  // meter ids 0..65535

  // tsc_hz 0: rte_get_tsc_hz() (the EAL must be running).
  explicit MeterTable(uint64_t tsc_hz = 0);
  ~MeterTable();
  MeterTable(const MeterTable&) = delete;
  MeterTable& operator=(const MeterTable&) = delete;

  // Adds or replaces meter config.id. Replacing resets the buckets (full)
  // and the band statistics; packets_in/bytes_in carry over.
  Status Set(const MeterConfig& config);
  // Removes meter `id`; false when there was none.
  bool Del(uint32_t id);
  // Statistics of meter `id`; false when there is none.
  bool Stats(uint32_t id, MeterStats* out) const;

  // Meters pkts[0..n) (with their layouts) through meter `meter_id` at time
  // now_tsc (TSC cycles), frees the dropped packets, compacts the survivors
  // to the front of pkts/layouts in order, and returns how many survive.
  uint32_t Apply(uint32_t meter_id, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                 uint64_t now_tsc);

  uint64_t tsc_hz() const { return tsc_hz_; }

 private:
  struct Meter;
  struct Slot {
    std::atomic<uint32_t> lock{0};
    uint32_t version = 0;    // guarded by lock
    Meter* meter = nullptr;  // guarded by lock; written by Set/Del, read by Apply/Stats
  };
  static_assert(sizeof(Slot) == 16, "the slot array is kMaxMeters * 16 bytes");

  static void Lock(Slot& s);
  static void Unlock(Slot& s);

  uint64_t tsc_hz_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace sluice::dp
