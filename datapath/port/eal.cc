#include "datapath/port/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace sluice::dp {
namespace {
bool g_started = false;
bool g_huge = false;
}  // namespace

unsigned FreeHugepages() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  while (in >> key) {
    if (key == "HugePages_Free:") {
      unsigned n = 0;
      in >> n;
      return n;
    }
    in.ignore(256, '\n');
  }
  return 0;
}

std::vector<std::string> EalArgs(const EalOptions& o) {
  std::vector<std::string> args = {"sluice", "-l", o.lcores, "--log-level=" + o.log_level};
  bool huge = o.huge == EalOptions::Huge::kYes ||
              (o.huge == EalOptions::Huge::kAuto && FreeHugepages() * 2u >= o.mem_mb);
  // Private instances: no files under /var/run/dpdk, no shared config.
  // (--in-memory is refused together with --no-huge; --no-shconf is its
  // equivalent there.)
  args.push_back(huge ? "--in-memory" : "--no-shconf");
  if (!huge) args.push_back("--no-huge");
  args.push_back("-m");
  args.push_back(std::to_string(o.mem_mb));
  if (o.no_pci) args.push_back("--no-pci");
  for (const auto& v : o.vdevs) args.push_back("--vdev=" + v);
  for (const auto& e : o.extra) args.push_back(e);
  return args;
}

Status EalInit(const EalOptions& options) {
  if (g_started) return Status::Error("the DPDK EAL is already running in this process");
  std::vector<std::string> args = EalArgs(options);
  std::vector<char*> argv;
  std::string joined;
  for (auto& a : args) {
    argv.push_back(a.data());
    joined += a + " ";
  }
  g_huge = std::find(args.begin(), args.end(), "--no-huge") == args.end();
  spdlog::info("starting DPDK EAL: {}", joined);
  int rc = rte_eal_init(static_cast<int>(argv.size()), argv.data());
  if (rc < 0) {
    return Status::Errorf("DPDK EAL initialisation failed: {} (arguments: {})",
                          rte_strerror(rte_errno), joined);
  }
  g_started = true;
  return Status::Ok();
}

bool EalStarted() { return g_started; }
bool EalUsesHugepages() { return g_huge; }

}  // namespace sluice::dp
