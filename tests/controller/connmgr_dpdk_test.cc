// The OpenFlow connection manager and per-connection protocol against a
// real bridge (ring ports, synchronous PMD): handshake and version
// negotiation, error replies to malformed messages with the connection kept
// up, roles and generation ids, async configuration, packet-in,
// flow-removed, port-mod/port-status, and fail-open. The client side is a
// raw unix socket speaking bytes made by the codec (and by hand for the
// malformed cases).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "controller/connmgr.h"
#include "datapath/dpif/datapath.h"
#include "ofproto/ofproto.h"
#include "tests/common/ring_port.h"

namespace sluice::ctl {
namespace {

using ofp::Message;
using ofp::Type;
using sluice::testing::RingPort;

// A blocking OpenFlow client on a unix socket.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    for (int i = 0; i < 100; ++i) {
      if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "cannot connect to " << path;
  }
  ~RawClient() { close(fd_); }

  void SendBytes(const std::vector<uint8_t>& b) { ASSERT_EQ(write(fd_, b.data(), b.size()), static_cast<ssize_t>(b.size())); }
  void Send(const Message& m) {
    for (const auto& b : ofp::Encode(m)) SendBytes(b);
  }
  // The next whole message, or empty on timeout / close.
  std::vector<uint8_t> RecvBytes(int timeout_ms = 3000) {
    std::vector<uint8_t> out(8);
    if (!ReadN(out.data(), 8, timeout_ms)) return {};
    size_t len = out[2] << 8 | out[3];
    if (len < 8) return out;
    out.resize(len);
    if (!ReadN(out.data() + 8, len - 8, timeout_ms)) return {};
    return out;
  }
  // The next message of type t (others, e.g. port-status, skipped).
  std::optional<Message> Recv(Type t, int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto b = RecvBytes(timeout_ms);
      if (b.empty()) return std::nullopt;
      ofp::Decoded d = ofp::Decode(b.data(), b.size());
      EXPECT_TRUE(d.ok()) << "switch sent an undecodable message: " << d.error.message;
      if (d.ok() && d.msg->type == t) return d.msg;
    }
    return std::nullopt;
  }
  // Hello exchange for `version` (bitmap hello from the switch expected).
  void Handshake(uint8_t version) {
    auto hello = Recv(Type::kHello);
    ASSERT_TRUE(hello);
    Message h{version, 1, Type::kHello, ofp::Hello{(1u << version), version}};
    Send(h);
  }
  bool Closed(int timeout_ms = 3000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return read(fd_, &c, 1) == 0;
  }

 private:
  bool ReadN(uint8_t* p, size_t n, int timeout_ms) {
    while (n > 0) {
      pollfd pf{fd_, POLLIN, 0};
      if (poll(&pf, 1, timeout_ms) <= 0) return false;
      ssize_t r = read(fd_, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
};

class ConnMgrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dp::DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 4096;
    dp_ = std::make_unique<dp::Datapath>(o);
    ASSERT_TRUE(dp_->Init().ok());
    for (uint32_t i = 1; i <= 2; ++i) {
      ports_.push_back(RingPort::Make());
      dp::PortConfig pc;
      pc.name = "p" + std::to_string(i);
      pc.devargs = ports_.back().devargs();
      uint32_t no = 0;
      ASSERT_TRUE(dp_->AddPort(pc, &no).ok());
    }
    ofproto::OfprotoOptions oo;
    br_ = std::make_unique<ofproto::Ofproto>(dp_.get(), oo);
    for (uint32_t i = 1; i <= 2; ++i) br_->SetPort(ofproto::XlatePort{i, true, 0, {}});
    dir_ = std::filesystem::temp_directory_path() / ("sluice-connmgr-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "of.sock").string();
  }
  void TearDown() override {
    if (cm_) cm_->Stop();
    cm_.reset();
    br_.reset();
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    for (auto& p : ports_) p.Drain();
    dp_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartMgr(std::vector<ControllerConfig> extra = {}, std::string fail_mode = "secure",
                uint32_t fail_open_delay_ms = 0) {
    ConnMgrOptions o;
    o.controllers = {ControllerConfig{"punix:" + path_, 0, 1000}};
    for (auto& c : extra) o.controllers.push_back(c);
    o.fail_mode = fail_mode;
    o.fail_open_delay_ms = fail_open_delay_ms;
    cm_ = std::make_unique<ConnMgr>(br_.get(), dp_.get(), o);
    ASSERT_TRUE(cm_->Start().ok());
  }
  // Polls the PMD and handles upcalls until quiet.
  void Pump() {
    for (int i = 0; i < 10; ++i) {
      dp_->PollAllOnce();
      size_t n = br_->HandleUpcalls();
      dp_->Sync();
      dp_->PollAllOnce();
      if (n == 0) break;
    }
  }
  static Message Msg(Type t, ofp::Body body, uint32_t xid = 7, uint8_t v = ofp::kVersion13) {
    return Message{v, xid, t, std::move(body)};
  }
  static ofp::Error ErrorOf(const Message& m) { return std::get<ofp::Error>(m.body); }

  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<ofproto::Ofproto> br_;
  std::unique_ptr<ConnMgr> cm_;
  std::vector<RingPort> ports_;
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ConnMgrTest, NegotiatesAndAnswersFeatures) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  c.Send(Msg(Type::kFeaturesRequest, ofp::FeaturesRequest{}, 11));
  auto f = c.Recv(Type::kFeaturesReply);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->xid, 11u);
  EXPECT_EQ(std::get<ofp::FeaturesReply>(f->body).n_tables, 254);
  EXPECT_EQ(std::get<ofp::FeaturesReply>(f->body).datapath_id, cm_->datapath_id());
  c.Send(Msg(Type::kEchoRequest, ofp::Echo{false, {1, 2, 3}}, 12));
  auto e = c.Recv(Type::kEchoReply);
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<ofp::Echo>(e->body).data, (std::vector<uint8_t>{1, 2, 3}));
}

TEST_F(ConnMgrTest, OpenFlow10Client) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion10);
  c.Send(Msg(Type::kFeaturesRequest, ofp::FeaturesRequest{}, 3, ofp::kVersion10));
  auto f = c.Recv(Type::kFeaturesReply);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version, ofp::kVersion10);
  EXPECT_EQ(std::get<ofp::FeaturesReply>(f->body).ports.size(), 2u);
}

TEST_F(ConnMgrTest, IncompatibleVersionGetsHelloFailed) {
  StartMgr();
  // A hello from an OpenFlow 1.1-only peer (no bitmap: the lower header
  // version, 1.1, is what it would settle on), and one whose bitmap offers
  // only OpenFlow 1.5.
  std::vector<std::vector<uint8_t>> hellos = {
      {0x02, 0x00, 0x00, 0x08, 0, 0, 0, 9},
      {0x06, 0x00, 0x00, 0x10, 0, 0, 0, 9, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x40},
  };
  for (const auto& h : hellos) {
    RawClient c(path_);
    ASSERT_TRUE(c.Recv(Type::kHello));
    c.SendBytes(h);
    auto e = c.Recv(Type::kError);
    ASSERT_TRUE(e) << "hello version " << int(h[0]);
    EXPECT_EQ(ErrorOf(*e).type, ofp::err::kHelloFailed);
    EXPECT_EQ(ErrorOf(*e).code, 0);  // OFPHFC_INCOMPATIBLE
    EXPECT_TRUE(c.Closed());
  }
  // Without a bitmap, a newer peer settles on 1.3.
  RawClient c(path_);
  ASSERT_TRUE(c.Recv(Type::kHello));
  c.SendBytes({0x06, 0x00, 0x00, 0x08, 0, 0, 0, 9});
  c.Send(Msg(Type::kEchoRequest, ofp::Echo{}, 10));
  auto echo = c.Recv(Type::kEchoReply);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->version, ofp::kVersion13);
}

TEST_F(ConnMgrTest, MalformedMessagesGetErrorsAndTheConnectionStays) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  struct Case {
    std::vector<uint8_t> bytes;
    uint16_t type, code;
  };
  std::vector<Case> cases = {
      // Unknown message type 200.
      {{0x04, 200, 0x00, 0x08, 0, 0, 0, 1}, ofp::err::kBadRequest, ofp::err::kBadReqBadType},
      // A flow-mod cut short (header says 16 bytes).
      {{0x04, 14, 0x00, 0x10, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}, ofp::err::kBadRequest, ofp::err::kBadReqBadLen},
      // A multipart request of an unknown type 0x99.
      {{0x04, 18, 0x00, 0x10, 0, 0, 0, 3, 0x00, 0x99, 0, 0, 0, 0, 0, 0}, ofp::err::kBadRequest,
       ofp::err::kBadReqBadMultipart},
      // A message of another version than negotiated.
      {{0x01, 2, 0x00, 0x08, 0, 0, 0, 4}, ofp::err::kBadRequest, ofp::err::kBadReqBadVersion},
      // An experimenter message.
      {{0x04, 4, 0x00, 0x10, 0, 0, 0, 5, 0, 0, 0x23, 0x20, 0, 0, 0, 1}, ofp::err::kBadRequest,
       ofp::err::kBadReqBadExperimenter},
  };
  for (const auto& k : cases) {
    c.SendBytes(k.bytes);
    auto e = c.Recv(Type::kError);
    ASSERT_TRUE(e) << "no error for message type " << int(k.bytes[1]);
    EXPECT_EQ(ErrorOf(*e).type, k.type) << int(k.bytes[1]);
    EXPECT_EQ(ErrorOf(*e).code, k.code) << int(k.bytes[1]);
    EXPECT_EQ(e->xid, static_cast<uint32_t>(k.bytes[7]));
    // The offending bytes come back.
    const auto& data = ErrorOf(*e).data;
    ASSERT_GE(data.size(), 8u);
    EXPECT_TRUE(std::equal(data.begin(), data.begin() + 8, k.bytes.begin()));
  }
  // Still up.
  c.Send(Msg(Type::kEchoRequest, ofp::Echo{}, 99));
  EXPECT_TRUE(c.Recv(Type::kEchoReply));
  // A flow-mod that ofproto refuses (bad table in goto) also gets its error.
  ofp::FlowMod fm;
  fm.fm.table_id = 3;
  fm.fm.insts.goto_table = 2;  // backwards
  c.Send(Msg(Type::kFlowMod, fm, 100));
  auto e = c.Recv(Type::kError);
  ASSERT_TRUE(e);
  EXPECT_EQ(ErrorOf(*e).type, ofproto::ofperr::kBadInstruction);
}

TEST_F(ConnMgrTest, RolesAndGenerationIds) {
  StartMgr();
  RawClient a(path_), b(path_);
  a.Handshake(ofp::kVersion13);
  b.Handshake(ofp::kVersion13);
  auto role = [](RawClient& c, ofp::ControllerRole r, uint64_t gen) {
    c.Send(Msg(Type::kRoleRequest, ofp::RoleMsg{false, r, gen}, 5));
    auto m = c.Recv(Type::kRoleReply, 2000);
    return m ? std::get<ofp::RoleMsg>(m->body).role : ofp::ControllerRole::kNoChange;
  };
  EXPECT_EQ(role(a, ofp::ControllerRole::kMaster, 10), ofp::ControllerRole::kMaster);
  EXPECT_EQ(role(b, ofp::ControllerRole::kMaster, 11), ofp::ControllerRole::kMaster);
  // a was demoted.
  EXPECT_EQ(role(a, ofp::ControllerRole::kNoChange, 0), ofp::ControllerRole::kSlave);
  // A slave may not change the flow table.
  a.Send(Msg(Type::kFlowMod, ofp::FlowMod{}, 6));
  auto e = a.Recv(Type::kError);
  ASSERT_TRUE(e);
  EXPECT_EQ(ErrorOf(*e).code, ofp::err::kBadReqIsSlave);
  // A stale generation id is refused.
  a.Send(Msg(Type::kRoleRequest, ofp::RoleMsg{false, ofp::ControllerRole::kMaster, 9}, 8));
  e = a.Recv(Type::kError);
  ASSERT_TRUE(e);
  EXPECT_EQ(ErrorOf(*e).type, ofp::err::kRoleRequestFailed);
  EXPECT_EQ(ErrorOf(*e).code, ofp::err::kRoleStale);
}

TEST_F(ConnMgrTest, PacketInsFollowAsyncConfig) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  // Table-miss to the controller, as simple_switch_13 does.
  ofp::FlowMod fm;
  fm.fm.priority = 0;
  fm.fm.insts = ofproto::Instructions::Apply({ofproto::OfAction::Output(ofproto::kPortController, 0xffff)});
  c.Send(Msg(Type::kFlowMod, fm, 1));
  c.Send(Msg(Type::kBarrierRequest, ofp::BarrierRequest{}, 2));
  ASSERT_TRUE(c.Recv(Type::kBarrierReply));
  ports_[0].Inject(dp_->pool(), {testing::UdpFrame(0x0a000001, 0x0a000002, 1, 2)});
  Pump();
  auto pi = c.Recv(Type::kPacketIn);
  ASSERT_TRUE(pi);
  const auto& p = std::get<ofp::PacketIn>(pi->body);
  EXPECT_EQ(p.data.size(), 60u);
  EXPECT_EQ(p.buffer_id, ofp::kNoBuffer);
  EXPECT_EQ(ofproto::GetField(p.match.value, ofproto::FieldId::kInPort).ToUint(), 1u);
  // Turn packet-ins with reason "action" off for this (equal-role) connection.
  ofp::AsyncMsg am;
  am.config.packet_in_mask[0] = 1u << 0;  // no-match only
  c.Send(Msg(Type::kSetAsync, am, 3));
  c.Send(Msg(Type::kGetAsyncRequest, ofp::GetAsyncRequest{}, 4));
  auto got = c.Recv(Type::kGetAsyncReply);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<ofp::AsyncMsg>(got->body).config.packet_in_mask[0], 1u);
  ports_[0].Inject(dp_->pool(), {testing::UdpFrame(0x0a000001, 0x0a000003, 1, 2)});
  Pump();
  EXPECT_FALSE(c.Recv(Type::kPacketIn, 500));
}

TEST_F(ConnMgrTest, FlowRemovedOnDelete) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  ofp::FlowMod fm;
  fm.fm.priority = 5;
  fm.fm.cookie = 0xabc;
  fm.fm.flags = ofproto::kFlagSendFlowRem;
  fm.fm.insts = ofproto::Instructions::Apply({ofproto::OfAction::Output(2)});
  c.Send(Msg(Type::kFlowMod, fm, 1));
  fm.fm.command = ofproto::FlowMod::Command::kDelete;
  fm.fm.flags = 0;
  fm.fm.insts = {};
  c.Send(Msg(Type::kFlowMod, fm, 2));
  auto fr = c.Recv(Type::kFlowRemoved);
  ASSERT_TRUE(fr);
  EXPECT_EQ(std::get<ofp::FlowRemoved>(fr->body).cookie, 0xabcu);
  EXPECT_EQ(std::get<ofp::FlowRemoved>(fr->body).reason, ofp::FlowRemovedReason::kDelete);
}

TEST_F(ConnMgrTest, PortModAndPortStatus) {
  StartMgr();
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  auto descs = cm_->PortDescs();
  ASSERT_EQ(descs.size(), 2u);
  ofp::PortMod pm;
  pm.port_no = 2;
  pm.hw_addr = descs[1].hw_addr;
  pm.config = ofp::kPortConfigPortDown;
  pm.mask = ofp::kPortConfigPortDown;
  c.Send(Msg(Type::kPortMod, pm, 1));
  auto ps = c.Recv(Type::kPortStatus);
  ASSERT_TRUE(ps);
  EXPECT_EQ(std::get<ofp::PortStatus>(ps->body).desc.port_no, 2u);
  EXPECT_EQ(std::get<ofp::PortStatus>(ps->body).desc.config & ofp::kPortConfigPortDown,
            ofp::kPortConfigPortDown);
  pm.port_no = 77;
  c.Send(Msg(Type::kPortMod, pm, 2));
  auto e = c.Recv(Type::kError);
  ASSERT_TRUE(e);
  EXPECT_EQ(ErrorOf(*e).type, ofp::err::kPortModFailed);
  EXPECT_EQ(ErrorOf(*e).code, ofp::err::kPortModBadPort);
}

TEST_F(ConnMgrTest, FailOpenWhileNoControllerIsConnected) {
  // An active controller nobody answers; standalone fail mode with a short delay.
  std::string ctrl = (dir_ / "ctrl.sock").string();
  StartMgr({ControllerConfig{"unix:" + ctrl, 0, 200}}, "standalone", 300);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cm_->fail_open_active() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(cm_->fail_open_active());
  // The hidden NORMAL rule forwards (floods) traffic.
  ports_[0].Inject(dp_->pool(), {testing::UdpFrame(0x0a000001, 0x0a000002, 1, 2)});
  Pump();
  EXPECT_EQ(ports_[1].Drain().size(), 1u);
  // ...but controllers do not see it.
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  ofp::MultipartRequest mr;
  mr.type = ofp::MpType::kFlow;
  c.Send(Msg(Type::kMultipartRequest, mr, 1));
  auto rep = c.Recv(Type::kMultipartReply);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(std::get<ofp::MultipartReply>(rep->body).flows.empty());

  // The controller comes up: the switch connects, and fail-open ends with
  // the handshake.
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, ctrl.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  pollfd pf{lfd, POLLIN, 0};
  ASSERT_EQ(poll(&pf, 1, 5000), 1);
  int cfd = accept(lfd, nullptr, nullptr);
  ASSERT_GE(cfd, 0);
  auto hello = ofp::EncodeHello(1);
  ASSERT_EQ(write(cfd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (cm_->fail_open_active() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(cm_->fail_open_active());
  close(cfd);
  close(lfd);
}

TEST_F(ConnMgrTest, InactivityProbeDisconnectsASilentPeer) {
  ConnMgrOptions o;
  o.controllers = {ControllerConfig{"punix:" + path_, 200, 1000}};
  o.fail_mode = "secure";
  cm_ = std::make_unique<ConnMgr>(br_.get(), dp_.get(), o);
  ASSERT_TRUE(cm_->Start().ok());
  RawClient c(path_);
  c.Handshake(ofp::kVersion13);
  // The switch probes with an echo request...
  auto echo = c.Recv(Type::kEchoRequest, 2000);
  ASSERT_TRUE(echo);
  // ...and, unanswered, gives up.
  EXPECT_TRUE(c.Closed(2000));
}

}  // namespace
}  // namespace sluice::ctl
