#pragma once
// What: starting DPDK's EAL once per process.
//
// Design: the EAL is process-global and can be initialised only once, so all
// start-up goes through EalInit(), which builds the argument list from
// EalOptions: hugepages are used when the kernel has free ones reserved,
// otherwise the EAL runs with --no-huge on ordinary memory (tests and CI
// machines without hugepages). --in-memory keeps every instance private (no
// /var/run/dpdk files; --no-shconf without hugepages), so tests and daemons
// can run side by side.
//
// Thread-safety: call from the main thread before starting any DPDK thread.

#include <string>
#include <vector>

#include "datapath/util/status.h"

namespace sluice::dp {

struct EalOptions {
  std::string lcores = "0";  // -l: DPDK lcores (PMD threads are ours, not EAL's)
  unsigned mem_mb = 1024;    // memory to reserve (-m)
  enum class Huge { kAuto, kYes, kNo } huge = Huge::kAuto;
  bool no_pci = true;
  std::vector<std::string> vdevs;  // each becomes --vdev=...
  std::vector<std::string> extra;  // appended verbatim (other_config:dpdk-extra)
  std::string log_level = "notice";  // --log-level (global level)
};

Status EalInit(const EalOptions& options);
bool EalStarted();
bool EalUsesHugepages();
// Free 2 MiB (or default-size) hugepages the kernel has reserved right now.
unsigned FreeHugepages();
// The argument vector EalInit would pass (for logs and tests).
std::vector<std::string> EalArgs(const EalOptions& options);

}  // namespace sluice::dp
