#pragma once
// What: a bridge's OpenFlow connection manager: the controllers it connects
// to (tcp:/ssl:/unix:), the listeners it accepts on (ptcp:/pssl:/punix:),
// one OfConn per live connection, role arbitration between them, the fan-out
// of asynchronous messages (packet-in, flow-removed, port-status), and the
// fail mode.
//
// Design:
//   - One io_context thread per ConnMgr runs every socket, timer and
//     OfConn of the bridge. Ofproto calls its listeners from handler and
//     revalidator threads; those events are posted to the io thread.
//   - Controller targets and the fail mode can be replaced live
//     (SetControllers, SetFailMode): unchanged targets keep their
//     connections, removed ones are closed, new ones start.
//   - Roles (OpenFlow 1.3 6.3.5): a connection starts EQUAL; a MASTER
//     request demotes the current master to SLAVE; generation ids are
//     checked (a stale one gets ROLE_REQUEST_FAILED/STALE).
//   - Fail mode standalone: while active controllers are configured but
//     none has been connected for fail_open_delay_ms, a hidden rule
//     (table 0, priority kFailOpenPriority, above every OpenFlow priority,
//     actions=NORMAL) makes the bridge a MAC-learning switch; it is removed
//     as soon as a controller completes its handshake. Controllers never see
//     it in flow statistics. Passive listeners (ovs-ofctl) do not count as
//     controllers for this, as in Open vSwitch. Secure mode adds nothing.
//   - Port status: the port list and link states are polled every 100 ms;
//     changes become OFPT_PORT_STATUS and update the bridge's port
//     liveness (fast-failover groups follow links).
//   - Packet-ins to a connection whose send queue holds more than
//     kPacketInQueueLimit bytes are dropped and counted, so that a slow
//     controller cannot grow the switch's memory.
//
// Thread-safety: public methods may be called from any thread.

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "controller/of_stream.h"
#include "controller/ofp/ofp_msgs.h"
#include "datapath/dpif/datapath.h"
#include "datapath/util/status.h"

namespace sluice::dp {
class Datapath;
}
namespace sluice::ofproto {
class Ofproto;
struct PacketIn;
struct FlowRemoved;
}  // namespace sluice::ofproto

namespace sluice::ctl {

class OfConn;

inline constexpr int32_t kFailOpenPriority = 0xf0f0f0;
inline constexpr size_t kPacketInQueueLimit = 1u << 20;

struct ControllerConfig {
  std::string target;                  // tcp:IP[:PORT] ... punix:PATH
  uint32_t inactivity_probe_ms = 5000;  // 0 = no probes
  uint32_t max_backoff_ms = 8000;
  bool operator==(const ControllerConfig&) const = default;
};

struct ConnMgrOptions {
  std::vector<ControllerConfig> controllers;
  TlsOptions tls;
  std::string fail_mode = "standalone";  // standalone | secure
  uint32_t fail_open_delay_ms = 0;       // 0: three inactivity probe intervals
  uint64_t datapath_id = 0;              // 0: derived from the bridge name
  ofp::DescStats desc;                   // empty fields get Sluice's defaults
};

// One row of `sluicectl controller/show`.
struct ConnStatus {
  std::string target;  // the configured target ("" for an accepted connection)
  std::string peer;
  bool connected = false;  // handshake done
  std::string role;        // equal | master | slave
  uint8_t version = 0;
  uint64_t rx_msgs = 0, tx_msgs = 0, errors_sent = 0, packet_ins = 0, packet_ins_dropped = 0;
  std::string state;  // "connected", "backoff 2000 ms", "listening on port 6653"
};

class ConnMgr {
 public:
  ConnMgr(ofproto::Ofproto* br, dp::Datapath* dp, ConnMgrOptions options);
  ~ConnMgr();
  ConnMgr(const ConnMgr&) = delete;
  ConnMgr& operator=(const ConnMgr&) = delete;

  // Starts the io thread, the listeners and connectors; hooks the bridge's
  // packet-in and flow-removed listeners. Fails on a bad target or TLS files.
  Status Start();
  void Stop();

  Status SetControllers(const std::vector<ControllerConfig>& controllers);
  Status SetFailMode(const std::string& mode);
  std::vector<ConnStatus> Connections() const;
  // TCP ports the passive targets listen on (for ptcp:0).
  std::vector<uint16_t> ListeningPorts() const;
  bool fail_open_active() const { return fail_open_.load(); }

  // --- For OfConn (io thread) ---
  ofproto::Ofproto* bridge() const { return br_; }
  dp::Datapath* datapath() const { return dp_; }
  // The datapath's ports that belong to this bridge.
  std::vector<dp::PortInfo> Ports() const;
  const ConnMgrOptions& options() const { return options_; }
  // Role arbitration: sets `conn`'s role; demotes the previous master.
  ofproto::OfpResult ChangeRole(OfConn* conn, ofp::ControllerRole role, uint64_t generation_id);
  void ConnConnected(OfConn* conn);  // handshake done
  void ConnClosed(OfConn* conn);
  // Port config bits set by port-mods (OFPPC_*), reported in port descriptions.
  uint32_t PortConfig(uint32_t port_no) const;
  void SetPortConfig(uint32_t port_no, uint32_t config, uint32_t mask);
  std::vector<ofp::PortDesc> PortDescs() const;
  uint64_t datapath_id() const { return datapath_id_; }

 private:
  struct Active;
  struct Passive;

  void OnPacketIn(const ofproto::PacketIn& pi);
  void OnFlowRemoved(const ofproto::FlowRemoved& fr);
  void Tick();  // port status, fail-open, every 100 ms
  void UpdateFailOpen(uint64_t now_ms);
  void AddConn(std::shared_ptr<OfStream> stream, const ControllerConfig& config, Active* owner);
  Status ApplyControllers(const std::vector<ControllerConfig>& controllers);
  static uint64_t NowMs();

  ofproto::Ofproto* br_;
  dp::Datapath* dp_;
  ConnMgrOptions options_;
  uint64_t datapath_id_ = 0;

  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<boost::asio::steady_timer> tick_timer_;

  mutable std::mutex mu_;  // everything below
  std::map<std::string, std::unique_ptr<Active>> active_;    // by target text
  std::map<std::string, std::unique_ptr<Passive>> passive_;  // by target text
  std::vector<std::shared_ptr<OfConn>> conns_;
  uint64_t generation_id_ = 0;
  bool generation_defined_ = false;
  std::map<uint32_t, uint32_t> port_config_;
  std::map<uint32_t, std::pair<bool, std::string>> known_ports_;  // port -> (link up, name)
  uint64_t last_controller_ms_ = 0;  // last time an active controller was connected
  std::atomic<bool> fail_open_{false};
  bool started_ = false;
};

}  // namespace sluice::ctl
