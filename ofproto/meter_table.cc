#include "ofproto/meter_table.h"

#include <fmt/format.h>

namespace sluice::ofproto {

namespace {

OfpError MeterError(uint16_t code, std::string message) {
  return MakeError(ofperr::kMeterModFailed, code, std::move(message));
}

}  // namespace

OfpResult MeterTable::Validate(const MeterMod& mm) const {
  if (static_cast<uint8_t>(mm.command) > static_cast<uint8_t>(MeterMod::Command::kDelete)) {
    return MeterError(ofperr::kMeterBadCommand, "unknown meter-mod command");
  }
  const bool is_delete = mm.command == MeterMod::Command::kDelete;
  if (is_delete && mm.meter_id == kMeterAll) return std::nullopt;
  if (mm.meter_id == 0 || mm.meter_id > kMeterMax) {
    return MeterError(ofperr::kMeterInvalid, fmt::format("invalid meter id {:#x}", mm.meter_id));
  }
  if (is_delete) return std::nullopt;
  if (mm.meter_id >= dp::MeterTable::kMaxMeters) {
    return MeterError(
        ofperr::kMeterOutOfMeters,
        fmt::format("meter id {} too large (max {})", mm.meter_id, dp::MeterTable::kMaxMeters - 1));
  }
  const bool exists = meters_.count(mm.meter_id) != 0;
  if (mm.command == MeterMod::Command::kAdd && exists) {
    return MeterError(ofperr::kMeterExists, fmt::format("meter {} exists", mm.meter_id));
  }
  if (mm.command == MeterMod::Command::kModify && !exists) {
    return MeterError(ofperr::kMeterUnknown, fmt::format("no meter {}", mm.meter_id));
  }
  constexpr uint16_t kKnown = kMeterFlagKbps | kMeterFlagPktps | kMeterFlagBurst | kMeterFlagStats;
  if (mm.flags & ~kKnown) {
    return MeterError(ofperr::kMeterBadFlags, fmt::format("unknown meter flags {:#x}", mm.flags));
  }
  if (((mm.flags & kMeterFlagKbps) != 0) == ((mm.flags & kMeterFlagPktps) != 0)) {
    return MeterError(ofperr::kMeterBadFlags, "a meter needs exactly one of kbps and pktps");
  }
  if (mm.bands.empty()) return MeterError(ofperr::kMeterBadBand, "a meter needs a band");
  for (const MeterBandSpec& b : mm.bands) {
    if (b.type != MeterBandSpec::kDrop && b.type != MeterBandSpec::kDscpRemark) {
      return MeterError(ofperr::kMeterBadBand,
                        fmt::format("unsupported meter band type {}", b.type));
    }
    if (b.rate == 0) return MeterError(ofperr::kMeterBadRate, "meter band with rate 0");
  }
  return std::nullopt;
}

OfpResult MeterTable::Apply(const MeterMod& mm, uint64_t now_ms, std::vector<uint32_t>* changed,
                            std::vector<uint32_t>* deleted) {
  if (OfpResult e = Validate(mm)) return e;
  switch (mm.command) {
    case MeterMod::Command::kAdd:
    case MeterMod::Command::kModify: {
      Meter& m = meters_[mm.meter_id];
      if (mm.command == MeterMod::Command::kAdd) m.created_ms = now_ms;
      m.id = mm.meter_id;
      m.flags = mm.flags;
      m.bands = mm.bands;
      if (changed) changed->push_back(mm.meter_id);
      break;
    }
    case MeterMod::Command::kDelete:
      if (mm.meter_id == kMeterAll) {
        for (const auto& [id, m] : meters_) {
          if (deleted) deleted->push_back(id);
        }
        meters_.clear();
      } else if (meters_.erase(mm.meter_id) != 0) {
        if (deleted) deleted->push_back(mm.meter_id);
      }
      break;
  }
  ++version_;
  return std::nullopt;
}

const Meter* MeterTable::Find(uint32_t id) const {
  auto it = meters_.find(id);
  return it == meters_.end() ? nullptr : &it->second;
}

dp::MeterConfig ToDatapathMeter(const Meter& m) {
  dp::MeterConfig c;
  c.id = m.id;
  c.pktps = (m.flags & kMeterFlagPktps) != 0;
  c.burst_flag = (m.flags & kMeterFlagBurst) != 0;
  for (const MeterBandSpec& b : m.bands) {
    dp::MeterBand band;
    band.type =
        b.type == MeterBandSpec::kDscpRemark ? dp::MeterBand::kDscpRemark : dp::MeterBand::kDrop;
    band.rate = b.rate;
    band.burst = b.burst_size;
    band.prec_level = b.prec_level;
    c.bands.push_back(band);
  }
  return c;
}

}  // namespace sluice::ofproto
