#pragma once
// What: the runtime views of the datapath as text tables and JSON: PMD
// statistics (pmd-stats), ports, and megaflows (dump-flows). Shared by the
// daemon's periodic statistics and the management socket.

#include <nlohmann/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "datapath/dpif/datapath.h"

namespace sluice::ctl {

// Rates need two samples: the previous snapshot and the time between them.
struct StatsSample {
  double time_s = 0;
  std::vector<dp::PmdInfo> pmds;
  std::vector<dp::PortInfo> ports;
};

StatsSample TakeSample(const dp::Datapath& dp, double time_s);

nlohmann::json PmdStatsJson(const StatsSample& now, const StatsSample* prev);
nlohmann::json PortsJson(const StatsSample& now, const StatsSample* prev);
// {"time":..,"pmds":[..],"ports":[..]}: one line of --stats-format json.
nlohmann::json StatsJson(const StatsSample& now, const StatsSample* prev);

// Human-readable: a few lines per PMD (hit breakdown, cycles per packet,
// drops by reason) and one line per port, with rates when prev is given.
std::string PmdStatsText(const StatsSample& now, const StatsSample* prev);
std::string PortsText(const StatsSample& now, const StatsSample* prev);

// dump-flows, one megaflow per line in dpctl style:
//   ufid:..., MATCH, packets:N, bytes:N, used:1.2s, actions:ACTIONS
// With `offload` (hardware offload on), each megaflow also shows its offload
// state ("offloaded:full|partial|refused|pending"; JSON "offloaded",
// "offload_why" for a refusal, "hw_packets"/"hw_bytes" counted by hardware).
using OffloadStateFn = std::function<std::string(const dp::Ufid& ufid, std::string* why)>;
std::string DumpFlowsText(const std::vector<dp::FlowInfo>& flows, uint64_t now_ms,
                          const OffloadStateFn& offload = nullptr);
nlohmann::json DumpFlowsJson(const std::vector<dp::FlowInfo>& flows, uint64_t now_ms,
                             const OffloadStateFn& offload = nullptr);

}  // namespace sluice::ctl
