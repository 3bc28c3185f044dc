#pragma once
// What: the mapping from an Interface row of the config store (type, name,
// options, plus the Open_vSwitch row's vhost settings) to what the datapath
// opens: DPDK devargs and the few port settings that go with them. Pure
// functions, unit-tested without the EAL (tests/controller/port_types_test.cc),
// plus the two filesystem steps around opening a vhost-user server socket.
//
// Design: every port type is an ethdev (docs/design-notes.md, "vhost-user
// ports"):
//   dpdk                 options:dpdk-devargs, passed through unchanged
//   dpdkvhostuser        Sluice serves the socket <vhost-sock-dir>/<name>:
//                        net_vhost<index>,iface=SOCK,queues=N,client=0,tso=T
//   dpdkvhostuserclient  Sluice connects to options:vhost-server-path and
//                        reconnects whenever the VM restarts:
//                        net_vhost<index>,iface=PATH,queues=N,client=1,tso=T
// vhost-sock-dir is Open_vSwitch other_config:vhost-sock-dir: absolute, or
// relative to the switch's run directory; empty means the run directory.
// Options understood (anything else is ignored, as Open vSwitch does):
//   n_rxq or queues     queue pairs (vhost: the most the guest may use, 1..128,
//                       default 1; dpdk: rx queues, 1..1024)
//   tso                 true/false, vhost only, default false: offer TCP
//                       segmentation offload to the guest
//   tx-retries-max      0..32, vhost only, default 8 (kVhostTxRetries): extra
//                       transmit attempts when the guest's ring is full
// The vdev name net_vhost<index> must be unique in the process and stable
// for an interface (the datapath re-opens a port whose devargs change):
// the caller keeps one index per interface name.
//
// Invariants:
//   1. InterfacePortSpec is a pure function of its request: same request,
//      same result; it touches no file.
//   2. A result's devargs never hold a socket path with ',' or '=' (the
//      devargs separators) and a socket path always fits sockaddr_un.
//   3. On error *spec is unchanged and the message names the interface and
//      the offending column.
//
// Thread-safety: all functions are reentrant.

#include <cstdint>
#include <map>
#include <string>

#include "datapath/util/status.h"

namespace sluice::ctl {

struct PortTypeRequest {
  std::string type;                            // Interface.type
  std::string name;                            // Interface.name
  std::map<std::string, std::string> options;  // Interface.options
  std::string vhost_sock_dir;                  // Open_vSwitch other_config:vhost-sock-dir
  std::string vhost_sock_mode;                 // Open_vSwitch other_config:vhost-sock-mode (octal)
  std::string run_dir;                         // the switch's run directory (ctl::RunDir())
  uint32_t index = 0;                          // vhost vdev name suffix (see above)
};

// Default mode of a socket Sluice serves: owner and group read/write (QEMU
// usually runs as another user in a shared group), nobody else.
inline constexpr uint32_t kDefaultVhostSockMode = 0660;
inline constexpr uint16_t kMaxVhostQueuePairs = 128;

struct PortSpec {
  std::string devargs;
  uint16_t n_rxq = 0;   // 0: not given (the switch's default)
  int tx_retries = -1;  // -1: the driver's default (dp::PortConfig::tx_retries)
  // vhost-user only.
  bool vhost = false;
  bool vhost_server = false;                         // Sluice serves the socket (dpdkvhostuser)
  std::string vhost_socket;                          // the socket's path
  uint32_t vhost_sock_mode = kDefaultVhostSockMode;  // applied to a served socket
};

Status InterfacePortSpec(const PortTypeRequest& request, PortSpec* spec);

// InterfacePortSpec's devargs alone.
Status InterfaceDevargs(const PortTypeRequest& request, std::string* devargs);

// Before opening a port Sluice serves: creates the socket's directory and
// removes a stale socket file (one a previous run left; DPDK's bind would
// fail on it). A non-socket file in the way is an error. No-op otherwise.
Status PrepareVhostSocket(const PortSpec& spec);

// After the port is open (the socket exists once the device is configured):
// applies spec.vhost_sock_mode to a socket Sluice serves. No-op otherwise.
Status FinishVhostSocket(const PortSpec& spec);

}  // namespace sluice::ctl
