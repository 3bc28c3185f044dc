#pragma once
// What: sluice-switchd's reading of the config store: the monitored rows
// (Open_vSwitch, Bridge, Port, Interface, Controller) turned into the
// configuration the switch should run (StoreConfig), and the runtime
// columns it writes back (ofport, mtu, link_state, error, statistics,
// Controller.is_connected/role, Open_vSwitch.cur_cfg) as OVSDB operations.
//
// Design:
//   - Pure functions over the Replica's JSON rows (RFC 7047 notation), so
//     that the mapping is unit-tested without a server or DPDK; the
//     composition root (switchd.cc) applies the result to the datapath,
//     the bridge and its connection manager.
//   - Interface types: "dpdk" (options:dpdk-devargs) becomes a DPDK port;
//     the bridge's own "internal" interface and other types are reported
//     through Interface.error until Sluice supports them.
//   - Write-back is incremental: RuntimeWriter remembers what it wrote and
//     emits operations only for values that changed, so that the monitor
//     updates its own writes cause settle at once.
//
// Thread-safety: values and a writer owned by the switch's main loop.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/connmgr.h"
#include "db/client.h"

namespace sluice::ctl {

struct StoreInterface {
  std::string uuid, port_uuid;
  std::string name, type;
  std::string devargs;          // options:dpdk-devargs
  std::map<std::string, std::string> options;  // every option (vhost-server-path, n_rxq, ...)
  uint32_t ofport_request = 0;  // 0: any
  uint32_t mtu_request = 0;     // 0: the device's default
  // From the Port row.
  uint16_t tag = 0;
  std::vector<uint16_t> trunks;
};

struct StoreBridge {
  std::string uuid, name;
  std::string fail_mode = "standalone";
  std::vector<ControllerConfig> controllers;
  std::map<std::string, std::string> controller_uuids;  // target -> Controller row
  std::vector<StoreInterface> interfaces;
};

struct StoreConfig {
  std::string root_uuid;
  int64_t next_cfg = 0;
  std::string pmd_cpu_mask;  // other_config:pmd-cpu-mask
  std::string dpdk_extra;    // other_config:dpdk-extra
  std::string vhost_sock_dir;   // other_config:vhost-sock-dir
  std::string vhost_sock_mode;  // other_config:vhost-sock-mode (octal)
  std::map<std::string, std::string> other_config;  // all of it (hw-offload* among others)
  std::vector<StoreBridge> bridges;  // sorted by name
};

// Builds the configuration from the replica's tables.
StoreConfig ParseStoreConfig(const db::Replica::Tables& tables);

// Runtime state of one interface, as the switch sees it.
struct InterfaceState {
  std::optional<uint32_t> ofport;  // nullopt: not in the datapath
  uint32_t mtu = 0;
  bool link_up = false;
  std::string error;  // empty: none
  std::map<std::string, int64_t> statistics;
};

struct ControllerState {
  bool connected = false;
  std::string role;  // "master", "slave", "other"
};

// Remembers the runtime columns written and makes operations for changes.
class RuntimeWriter {
 public:
  // Operations updating what differs from the last write; empty if nothing.
  db::Json Update(const std::map<std::string, InterfaceState>& interfaces,  // by Interface uuid
                  const std::map<std::string, ControllerState>& controllers,  // by Controller uuid
                  const std::string& root_uuid, std::optional<int64_t> cur_cfg);
  // Forget what was written (after a reconnection to the store).
  void Reset();

 private:
  std::map<std::string, db::Json> written_;  // "table/uuid" -> row written
};

}  // namespace sluice::ctl
