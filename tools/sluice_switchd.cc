// sluice-switchd: the switch daemon. See controller/switchd.h.
#include <CLI/CLI.hpp>

#include "controller/switchd.h"

int main(int argc, char** argv) {
  sluice::ctl::SwitchdOptions o;
  CLI::App app{"sluice-switchd: the Sluice switch (PMD threads, datapath, slow path)"};
  app.add_option("--pmd-cpu-mask", o.pmd_cpu_mask, "hex mask of the CPUs that run PMD threads (default: the last CPU)");
  app.add_option("--dpdk-mem", o.dpdk_mem_mb, "MB of memory for DPDK")->capture_default_str();
  app.add_option("--dpdk-extra", o.dpdk_extra, "extra DPDK EAL arguments");
  app.add_option("--hugepages", o.huge, "use hugepages: auto (when reserved), yes, no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))->capture_default_str();
  app.add_option("--mbufs", o.mbufs, "packet buffers in the pool")->capture_default_str();
  app.add_option("--n-rxq", o.n_rxq, "receive queues per port")->capture_default_str();
  app.add_option("--emc-insert-inv-prob", o.emc_insert_inv_prob,
                 "insert into the exact-match cache 1 in N times (0 = never)")->capture_default_str();
  app.add_option("--port", o.ports, "NAME=DEVARGS, e.g. p0=net_pcap0,rx_pcap=in.pcap,infinite_rx=1 (ports are numbered 1, 2, ... in order)");
  app.add_option("--of-flow", o.of_flows, "an OpenFlow rule for bridge br0, ovs-ofctl syntax, e.g. 'priority=10,ip,in_port=1,actions=output:2'");
  app.add_option("--of-group", o.of_groups, "an OpenFlow group for br0, e.g. 'group_id=1,type=select,bucket=actions=output:2,bucket=actions=output:3'");
  app.add_option("--flow", o.flows, "a datapath megaflow 'MATCH actions:ACTIONS', e.g. 'in_port(1),eth_type(0x0800) actions:2' (turns the OpenFlow slow path off)");
  app.add_option("--stats-interval", o.stats_interval_s, "seconds between statistics (0 = none)")->capture_default_str();
  app.add_option("--stats-format", o.stats_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  app.add_option("--duration", o.duration_s, "stop after this many seconds (0 = run until SIGINT/SIGTERM)");
  app.add_flag("--demo", o.demo, "run the built-in demo: generated UDP traffic through three ports");
  app.add_option("--demo-dir", o.demo_dir, "where the demo writes its pcap")->capture_default_str();
  app.add_option("--fail-mode", o.fail_mode, "standalone: a MAC-learning switch while no controller is connected; secure: only the flow table")
      ->check(CLI::IsMember({"standalone", "secure"}))->capture_default_str();
  app.add_option("--controller", o.controllers,
                 "an OpenFlow controller to connect to (tcp:IP[:PORT], ssl:IP[:PORT], unix:PATH) or to "
                 "listen on (ptcp:[PORT][:IP], pssl:[PORT][:IP], punix:PATH); repeatable; port 6653 by default");
  app.add_option("--inactivity-probe", o.inactivity_probe_ms,
                 "ms without a message before an echo probe (and 2x before disconnecting; 0 = off)")->capture_default_str();
  app.add_option("--max-backoff", o.max_backoff_ms, "ms, the longest wait between connection attempts")->capture_default_str();
  app.add_option("--fail-open-delay", o.fail_open_delay_ms,
                 "ms without a controller before standalone mode acts as a learning switch (0 = 3 probe intervals)");
  app.add_option("--private-key", o.private_key, "PEM private key for ssl:/pssl:");
  app.add_option("--certificate", o.certificate, "PEM certificate for ssl:/pssl:");
  app.add_option("--ca-cert", o.ca_cert, "PEM CA certificate that peers' certificates must chain to");
  app.add_option("--db", o.db,
                 "the config store to follow (unix:PATH or tcp:IP:PORT, e.g. unix:/run/sluice/db.sock); "
                 "ports, controllers, fail mode and pmd-cpu-mask then come from it, live");
  app.add_option("--bridge", o.bridge, "the bridge's name (without --db; with it, bridges come from the store)")->capture_default_str();
  app.add_option("--ctl", o.ctl_path, "management socket (default $SLUICE_RUNDIR/sluice-switchd.ctl, SLUICE_RUNDIR defaults to /run/sluice)");
  app.add_flag("--hw-offload", o.hw_offload,
               "offload megaflows to the ports' hardware (rte_flow; software eSwitch ports: "
               "devargs sluice_eswitch<N>,...); with --db it is other_config:hw-offload");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return sluice::ctl::RunSwitchd(o);
}
