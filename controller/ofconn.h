#pragma once
// What: one OpenFlow connection (a controller or an ovs-ofctl client): the
// hello exchange and version negotiation, the inactivity probe, and the
// handling of every request against the bridge (ofproto) with the spec's
// replies and errors; plus the per-connection state OpenFlow defines (role,
// asynchronous-message configuration, miss_send_len).
//
// Design:
//   - Runs on its ConnMgr's io thread only; the stream delivers whole
//     messages (of_stream.h).
//   - Before the handshake only HELLO is accepted; an incompatible peer
//     gets HELLO_FAILED/INCOMPATIBLE and the connection closes. Afterwards a
//     message of another version gets BAD_REQUEST/BAD_VERSION.
//   - Every request is answered in order; since each is applied before the
//     next is read, a barrier is answered at once.
//   - A decoding error or an ofproto error becomes an OFPT_ERROR carrying
//     the request's xid and first bytes; the connection stays up.
//   - Inactivity probe: with nothing received for probe_ms an echo request
//     is sent; with nothing received for probe_ms after that, the
//     connection is closed.
//
// Thread-safety: io thread only, except role(), set_role() and Status()
// (atomics).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "controller/connmgr.h"
#include "controller/of_stream.h"
#include "controller/ofp/ofp_msgs.h"

namespace sluice::ctl {

class OfConn : public std::enable_shared_from_this<OfConn> {
 public:
  OfConn(ConnMgr* mgr, boost::asio::io_context& io, std::shared_ptr<OfStream> stream,
         ControllerConfig config, bool active);
  void Start();
  void Close();

  // Asynchronous messages, filtered by role and async configuration.
  void SendPacketIn(const ofp::PacketIn& pi, bool no_match);
  void SendFlowRemoved(const ofp::FlowRemoved& fr);
  void SendPortStatus(const ofp::PortStatus& ps);

  bool handshake_done() const { return version_ != 0; }
  bool active() const { return active_; }
  ofp::ControllerRole role() const { return role_.load(); }
  void set_role(ofp::ControllerRole r) { role_.store(r); }
  ConnStatus Status() const;
  const ControllerConfig& config() const { return config_; }

 private:
  void OnMessage(std::vector<uint8_t>&& bytes);
  void OnClosed(const std::string& reason);
  void ArmProbe();
  void Send(const ofp::Message& m);
  void Send(std::vector<uint8_t> bytes);
  void SendError(uint32_t xid, const ofproto::OfpError& e, const std::vector<uint8_t>& request);
  ofp::Message Reply(uint32_t xid, ofp::Type type, ofp::Body body) const;

  // Handlers; a returned error is sent back.
  ofproto::OfpResult Handle(const ofp::Message& m, const std::vector<uint8_t>& bytes);
  ofproto::OfpResult HandleMultipart(const ofp::Message& m);
  ofproto::OfpResult HandlePortMod(const ofp::PortMod& pm);
  ofproto::OfpResult HandleRole(const ofp::Message& m);
  ofp::FeaturesReply Features() const;
  bool IsSlave() const { return role_ == ofp::ControllerRole::kSlave; }
  int AsyncSlot() const { return IsSlave() ? 1 : 0; }

  ConnMgr* mgr_;
  boost::asio::io_context& io_;
  std::shared_ptr<OfStream> stream_;
  ControllerConfig config_;
  bool active_;
  boost::asio::steady_timer probe_timer_;

  std::atomic<uint8_t> version_{0};  // negotiated; 0 before the handshake
  std::atomic<ofp::ControllerRole> role_{ofp::ControllerRole::kEqual};
  ofp::AsyncConfig async_;
  uint16_t miss_send_len_ = 128;
  uint16_t config_flags_ = 0;
  std::atomic<bool> closed_{false};
  uint32_t next_xid_ = 1;
  std::chrono::steady_clock::time_point last_rx_, probe_time_;
  bool probe_sent_ = false;

  std::atomic<uint64_t> rx_msgs_{0}, tx_msgs_{0}, errors_sent_{0}, packet_ins_{0},
      packet_ins_dropped_{0};
  std::string peer_;
};

}  // namespace sluice::ctl
