#pragma once
// What: sluice-switchd's composition root: start the EAL, build the datapath
// from the command line (until the config store exists), run the PMDs,
// handle upcalls and print statistics until told to stop.

#include <string>
#include <vector>

#include "datapath/util/status.h"

namespace sluice::ctl {

struct SwitchdOptions {
  std::string pmd_cpu_mask = "";  // hex; empty = one PMD on the last CPU
  unsigned dpdk_mem_mb = 1024;
  std::string dpdk_extra;        // extra EAL arguments, space separated
  std::string huge = "auto";     // auto | yes | no
  uint32_t mbufs = 131072;
  uint16_t n_rxq = 1;
  uint32_t emc_insert_inv_prob = 100;
  std::vector<std::string> ports;  // NAME=DEVARGS
  std::vector<std::string> flows;     // datapath megaflows: MATCH actions:ACTIONS
  std::vector<std::string> of_flows;  // OpenFlow rules, ovs-ofctl syntax
  std::vector<std::string> of_groups; // OpenFlow groups, ovs-ofctl syntax
  double stats_interval_s = 1.0;   // 0 = no periodic statistics
  std::string stats_format = "text";  // text | json
  double duration_s = 0;              // 0 = until SIGINT/SIGTERM
  bool demo = false;                  // built-in traffic and flows
  std::string demo_dir = "/tmp";
  std::string log_level = "info";
  std::string fail_mode = "standalone";  // standalone (NORMAL) | secure (empty tables)
  // OpenFlow channels (active tcp:/ssl:/unix:, passive ptcp:/pssl:/punix:).
  std::vector<std::string> controllers;
  uint32_t inactivity_probe_ms = 5000;
  uint32_t max_backoff_ms = 8000;
  uint32_t fail_open_delay_ms = 0;  // 0: three probe intervals
  std::string private_key, certificate, ca_cert;  // for ssl:/pssl:
  // The config store (sluice-db): with a target, ports, controllers, the
  // fail mode and pmd-cpu-mask come from it and follow it live.
  std::string db;
  std::string bridge = "br0";  // the bridge to run when the store has none yet
  uint32_t stats_write_interval_ms = 5000;  // Interface.statistics
  std::string ctl_path;  // management socket; empty = $SLUICE_RUNDIR/sluice-switchd.ctl
  bool hw_offload = false;  // without --db (with it: other_config:hw-offload)
};

// Parses a CPU mask ("0x6") into CPU numbers. Error on garbage or empty.
Status ParseCpuMask(const std::string& mask, std::vector<int>* cores);

// Runs until stopped; returns the process exit code.
int RunSwitchd(const SwitchdOptions& options);

}  // namespace sluice::ctl
