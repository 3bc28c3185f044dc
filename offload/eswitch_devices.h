#pragma once
// What: EswitchDevices, the port provider for software eSwitches inside
// sluice-switchd: it turns devargs such as
//   sluice_eswitch0,representor=vf[0-3],unified=1,wire=tap   (the PF)
//   sluice_eswitch0,representor=vf2                         (a VF representor)
// into Eswitch instances (eswitch.h) and the datapath ports that stand for
// their uplink and VF representors, the way a SmartNIC's PF devargs make
// DPDK probe representor ethdevs.
//
// Design:
//   - Devargs grammar (ParseEswitchDevargs): the device name
//     `sluice_eswitch<N>`, then comma-separated keys:
//       representor=vf<K>        this port is VF K's representor
//       representor=vf[A-B]      (PF) the eSwitch has VFs A..B: B+1 VFs
//       vfs=N                    (PF) N VFs (1..4096), instead of the range
//       unified=0|1              (PF) unified representor mode: every VF's
//                                missed traffic arrives on the PF port's rx
//                                queue, the source in rte_flow metadata
//       wire=none|tap            (PF) the outside ends: only rings (the
//                                default), or one net_tap per vport so that
//                                traffic can be sent and seen from outside
//                                the process (interfaces <prefix>u for the
//                                uplink, <prefix>v<K> for VF K)
//       wire-prefix=NAME         (PF) prefix of those interface names
//                                (default "esw<N>", at most 10 characters)
//       max-rules=N              (PF) rule table size (default 4096)
//     A port without `representor=vf<K>` is the PF: it creates the eSwitch
//     and is its uplink/proxy port. A representor port needs its PF's port
//     to exist first (StoreApplier adds PF ports before representors).
//   - Prepare() fills the dp::PortConfig: the ethdev devargs DpdkPort opens
//     (the proxy's, or the VF's representor ethdev's), `rx_metadata` (so
//     partial offload's MARK reaches the PMD) and, in unified mode, for a VF
//     `unified_proxy` (the PF's datapath port number) and
//     `unified_source_id` (the VF's flow port id) instead of an ethdev.
//   - The eSwitch's hardware step (Eswitch::Poll) runs on a thread of its
//     own that sleeps 50 us when a pass moved nothing, so an idle model does
//     not take a core from the switch on small machines.
//   - An eSwitch lives while any port uses it: Removed() of its last port
//     stops its thread and destroys it (after the datapath closed its
//     ethdevs).
//
// Invariants:
//   1. Every port Prepare()d and then Added() is in exactly one device's
//      port set until Removed().
//   2. A device is destroyed only when no port uses it.
//
// Thread-safety: one mutex; called from the control thread (StoreApplier,
// switchd start-up) and read by views (Describe) from the management thread.
//
// Memory: per device the Eswitch (eswitch.h) and its poll thread; per port a
// map entry.

#include <rte_mempool.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "datapath/port/port.h"
#include "datapath/util/status.h"
#include "offload/eswitch.h"

namespace sluice::offload {

inline constexpr const char* kEswitchDevicePrefix = "sluice_eswitch";

struct EswitchDevargs {
  std::string device;        // "sluice_eswitch0"
  bool representor = false;  // representor=vf<K>: a VF representor port
  uint16_t vf = 0;           // K
  // PF settings (ignored on representor ports).
  uint16_t n_vfs = 0;
  bool unified = false;
  bool wire_tap = false;
  std::string wire_prefix;  // empty: "esw<N>"
  uint32_t max_rules = 4096;
};

// True when devargs name a software eSwitch (start with "sluice_eswitch").
bool IsEswitchDevargs(const std::string& devargs);
// Parses the grammar above; the error names the offending key.
Status ParseEswitchDevargs(const std::string& devargs, EswitchDevargs* out);

class EswitchDevices {
 public:
  explicit EswitchDevices(rte_mempool* pool);
  ~EswitchDevices();  // stops and destroys every device (ports must be closed)
  EswitchDevices(const EswitchDevices&) = delete;
  EswitchDevices& operator=(const EswitchDevices&) = delete;

  // Before dp::Datapath::AddPort of port `config->name` with eSwitch devargs
  // `devargs`: creates the device for a PF, and fills config (see above).
  // A representor's device must exist with its PF port added.
  Status Prepare(const std::string& devargs, dp::PortConfig* config);
  // After AddPort: records the port's datapath number.
  void Added(const std::string& port_name, uint32_t port_no);
  // After DelPort, or when AddPort failed after Prepare.
  void Removed(const std::string& port_name);

  // Every port name of the device `port_name` belongs to (itself included),
  // representors after the PF. Empty when it is not an eSwitch port.
  std::vector<std::string> DevicePorts(const std::string& port_name) const;
  // True when `port_name` is an eSwitch PF port.
  bool IsPf(const std::string& port_name) const;

  // Called (with the device) whenever a device is created, and once for
  // every existing device when set; `on_destroy` just before one goes.
  void SetListener(std::function<void(Eswitch*)> on_create,
                   std::function<void(Eswitch*)> on_destroy);

  struct DeviceInfo {
    std::string device;
    uint16_t n_vfs = 0;
    bool unified = false;
    size_t rules = 0;
    EswitchStats stats;
    std::vector<std::string> ports;
  };
  std::vector<DeviceInfo> Describe() const;

 private:
  struct Device {
    EswitchDevargs args;
    std::unique_ptr<Eswitch> esw;
    std::string pf_port;  // the PF's port name
    uint32_t pf_port_no = 0;
    std::map<std::string, uint32_t> ports;     // name -> datapath port number (0: not added yet)
    std::map<uint16_t, std::string> vf_ports;  // VF -> its representor port
    std::thread poller;
    std::atomic<bool> stop{false};
  };
  void DestroyLocked(std::map<std::string, std::unique_ptr<Device>>::iterator it);

  rte_mempool* pool_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Device>> devices_;  // by device name
  std::map<std::string, std::string> port_device_;          // port name -> device name
  std::function<void(Eswitch*)> on_create_, on_destroy_;
};

}  // namespace sluice::offload
