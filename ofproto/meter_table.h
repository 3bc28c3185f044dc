#pragma once
// What: OpenFlow 1.3 meters of a bridge (section 5.7, OFPT_METER_MOD): the
// meter-mod message as a value, its validation with the spec's errors, and
// the table of configured meters. Enforcement is the datapath's
// (datapath/pmd/meter.h); Ofproto pushes every change there.
//
// Design: a map from meter id to an immutable Meter value; meter-mods
// replace whole values. Validation follows OpenFlow 1.3 (A.4.4,
// OFPET_METER_MOD_FAILED):
//   - command not add/modify/delete                     -> BAD_COMMAND
//   - id 0, or above OFPM_MAX (the virtual meters
//     slowpath/controller are not supported), except
//     OFPM_ALL for delete                                -> INVALID_METER
//   - id the datapath cannot hold (>= 65536)             -> OUT_OF_METERS
//   - add of an existing id                              -> METER_EXISTS
//   - modify of a missing id                             -> UNKNOWN_METER
//   - flags: unknown bits, or not exactly one of
//     KBPS / PKTPS                                       -> BAD_FLAGS
//   - no bands, or a band type other than drop /
//     dscp_remark                                        -> BAD_BAND
//   - a band with rate 0                                 -> BAD_RATE
// Deleting a meter that does not exist is not an error (as for groups).
// Without OFPMF_BURST the bands' burst sizes are ignored (the datapath
// uses one second of the rate); with it a burst of 0 means the same.
//
// Invariants:
//   1. Every stored meter passed Validate().
//   2. version() changes whenever the set of meters or a meter changes.
//
// Thread-safety: not thread-safe; the Ofproto serialises access.
// Memory: one Meter per configured meter.

#include <cstdint>
#include <map>
#include <vector>

#include "datapath/pmd/meter.h"
#include "ofproto/of_error.h"

namespace sluice::ofproto {

// Meter flags (ofp_meter_flags).
inline constexpr uint16_t kMeterFlagKbps = 1, kMeterFlagPktps = 2, kMeterFlagBurst = 4,
                          kMeterFlagStats = 8;
// Meter ids (ofp_meter).
inline constexpr uint32_t kMeterMax = 0xffff0000, kMeterSlowpath = 0xfffffffd,
                          kMeterController = 0xfffffffe, kMeterAll = 0xffffffff;

struct MeterBandSpec {
  enum Type : uint16_t {
    kDrop = 1,
    kDscpRemark = 2,
    kExperimenter = 0xffff
  };  // ofp_meter_band_type
  uint16_t type = kDrop;
  uint32_t rate = 0;        // kbit/s or packets/s, as the meter's flags say
  uint32_t burst_size = 0;  // kbit or packets; only with kMeterFlagBurst
  uint8_t prec_level = 0;   // kDscpRemark
  bool operator==(const MeterBandSpec& o) const = default;
};

struct MeterMod {
  enum class Command : uint8_t { kAdd = 0, kModify = 1, kDelete = 2 };
  Command command = Command::kAdd;
  uint16_t flags = kMeterFlagKbps;
  uint32_t meter_id = 0;
  std::vector<MeterBandSpec> bands;
};

struct Meter {
  uint32_t id = 0;
  uint16_t flags = 0;
  std::vector<MeterBandSpec> bands;
  uint64_t created_ms = 0;
};

class MeterTable {
 public:
  // Checks a meter-mod against the spec and the current table.
  OfpResult Validate(const MeterMod& mm) const;
  // Applies a meter-mod (validating it first). *changed gets the ids added or
  // modified, *deleted the ids removed (kMeterAll deletes all).
  OfpResult Apply(const MeterMod& mm, uint64_t now_ms, std::vector<uint32_t>* changed,
                  std::vector<uint32_t>* deleted);
  const Meter* Find(uint32_t id) const;
  const std::map<uint32_t, Meter>& meters() const { return meters_; }
  uint64_t version() const { return version_; }

 private:
  std::map<uint32_t, Meter> meters_;
  uint64_t version_ = 0;
};

// The datapath's form of a meter.
dp::MeterConfig ToDatapathMeter(const Meter& m);

}  // namespace sluice::ofproto
