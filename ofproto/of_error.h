#pragma once
// What: OpenFlow error replies as values: the spec's (type, code) pair plus a
// one-line explanation for logs. The channel code turns them into
// OFPT_ERROR messages; everything in ofproto returns them instead of failing
// silently.

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::ofproto {

struct OfpError {
  uint16_t type = 0;
  uint16_t code = 0;
  std::string message;
};

using OfpResult = std::optional<OfpError>;  // nullopt = success

// OpenFlow 1.3 error types and the codes Sluice uses (section A.4.4).
namespace ofperr {
inline constexpr uint16_t kBadRequest = 1, kBadAction = 2, kBadInstruction = 3, kBadMatch = 4,
                          kFlowModFailed = 5, kGroupModFailed = 6, kPortModFailed = 7,
                          kTableModFailed = 8, kMeterModFailed = 12;
// kBadAction codes
inline constexpr uint16_t kBadActionBadType = 0, kBadActionBadLen = 1, kBadActionBadOutPort = 4,
                          kBadActionBadArgument = 5, kBadActionBadOutGroup = 9,
                          kBadActionBadSetType = 13, kBadActionBadSetArgument = 15;
// kBadInstruction codes
inline constexpr uint16_t kBadInstUnknownInst = 0, kBadInstBadTableId = 2, kBadInstUnsupMetadataMask = 4;
// kBadMatch codes
inline constexpr uint16_t kBadMatchBadField = 6, kBadMatchBadValue = 7, kBadMatchBadMask = 8,
                          kBadMatchBadPrereq = 9, kBadMatchDupField = 10;
// kFlowModFailed codes
inline constexpr uint16_t kFlowModUnknown = 0, kFlowModTableFull = 1, kFlowModBadTableId = 2,
                          kFlowModOverlap = 3, kFlowModEperm = 4, kFlowModBadTimeout = 5,
                          kFlowModBadCommand = 6, kFlowModBadFlags = 7;
// kGroupModFailed codes
inline constexpr uint16_t kGroupExists = 0, kGroupInvalid = 1, kGroupOutOfGroups = 3,
                          kGroupChainingUnsupported = 5, kGroupLoop = 7, kGroupUnknown = 8,
                          kGroupBadType = 10, kGroupBadCommand = 11, kGroupBadBucket = 12,
                          kGroupBadWatch = 13;
// kMeterModFailed codes
inline constexpr uint16_t kMeterExists = 1, kMeterInvalid = 2, kMeterUnknown = 3,
                          kMeterBadCommand = 4, kMeterBadFlags = 5, kMeterBadRate = 6,
                          kMeterBadBurst = 7, kMeterBadBand = 8, kMeterOutOfMeters = 10;
}  // namespace ofperr

inline OfpError MakeError(uint16_t type, uint16_t code, std::string message) {
  return OfpError{type, code, std::move(message)};
}

}  // namespace sluice::ofproto
