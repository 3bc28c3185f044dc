#pragma once
// What: OffloadControl, hardware flow offload for one sluice-switchd: the
// eSwitch devices that ports may live on (offload/eswitch_devices.h) and,
// while offload is on, the DatapathOffload (offload/dp_offload.h) that the
// datapath hands its megaflows to. Also the management views
// `offload-stats` and `offload/show`, and each megaflow's offload state for
// `dump-flows`.
//
// Design:
//   - Offload follows Open_vSwitch other_config, live (Open vSwitch needs a
//     restart for hw-offload; Sluice does not):
//       hw-offload=true|false           on/off (default false)
//       hw-offload-kinds=full,partial   which kinds to try (default both)
//       hw-offload-queue-limit=N        request queue bound (default 65536)
//     Turning it on creates a DatapathOffload, attaches every eSwitch and
//     gives it to Datapath::SetOffload, which announces the ports and
//     offers every installed megaflow; turning it off (or changing a
//     setting) gives the datapath nullptr first, which takes every rule out
//     of the hardware, then destroys it (rebuilt with the new settings).
//   - An eSwitch created while offload is on is attached to it (a listener
//     on EswitchDevices). One destroyed while offload is on first takes
//     offload down (every rule destroyed while the device still exists);
//     the next Apply() builds it again over the remaining devices.
//   - Without hardware (ports that are not eSwitch ports) the real rte_flow
//     backend is asked and refuses; the flows stay in software and
//     offload-stats says why.
//
// Thread-safety: SetEnabled from the control thread; Stats/FlowState from
// the management thread too (one mutex guards the current DatapathOffload;
// it is held as a shared_ptr so a view never sees it destroyed under it).

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/mgmt_server.h"
#include "datapath/dpif/datapath.h"
#include "datapath/util/status.h"
#include "offload/dp_offload.h"
#include "offload/eswitch_devices.h"
#include "offload/offload_thread.h"

namespace sluice::ctl {

struct OffloadSettings {
  bool enabled = false;
  bool full = true, partial = true;
  size_t queue_limit = 65536;
  bool operator==(const OffloadSettings&) const = default;
};

// other_config's hw-offload* keys -> settings; the error names the key.
Status ParseOffloadSettings(const std::map<std::string, std::string>& other_config,
                            OffloadSettings* out);

class OffloadControl {
 public:
  explicit OffloadControl(dp::Datapath* dp);
  ~OffloadControl();  // offload off; the eSwitches stay until Shutdown()
  OffloadControl(const OffloadControl&) = delete;
  OffloadControl& operator=(const OffloadControl&) = delete;

  // nullptr after Shutdown().
  offload::EswitchDevices* devices() { return devices_.get(); }

  // Applies settings; a no-op when they did not change.
  void Apply(const OffloadSettings& settings);
  bool enabled() const;

  // nullopt while offload is off.
  std::optional<offload::OffloadStats> Stats() const;
  // "full", "partial", "refused", "pending"; "" when offload is off or the
  // flow is unknown to it. *why gets a refusal's reason and detail.
  std::string FlowState(const dp::Ufid& ufid, std::string* why = nullptr) const;

  // Offload off, then every eSwitch destroyed. Call after the datapath's
  // ports are closed.
  void Shutdown();

 private:
  void Listen();  // attach/detach eSwitches as they come and go

  dp::Datapath* dp_;
  std::unique_ptr<offload::EswitchDevices> devices_;
  OffloadSettings settings_;
  mutable std::mutex mu_;
  std::shared_ptr<offload::DatapathOffload> offload_;
  bool rebuild_ = false;  // an eSwitch went away: build offload again
};

// offload-stats and offload/show.
void RegisterOffloadViews(MgmtServer* server, OffloadControl* control);

}  // namespace sluice::ctl
