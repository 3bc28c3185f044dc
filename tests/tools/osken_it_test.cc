// Integration test: a real OpenFlow 1.3 controller, os-ken's learning switch
// (tests/tools/osken_simple_switch_13.py, upstream's simple_switch_13 app)
// run by osken-manager, drives sluice-switchd over an active tcp: channel
// while two hosts ping each other through the switch.
//
// Topology, built by the fixture and torn down even when a test fails:
//
//   netns sluice-h1-PID          root namespace              netns sluice-h2-PID
//   slPIDh1 10.77.0.1 ==veth== slPIDs1 -- p1 [sluice-switchd br0] p2 -- slPIDs2 ==veth==
//   slPIDh2 10.77.0.2
//                                         (net_af_packet ports)
//                                               | tcp:127.0.0.1:PORT
//                                          osken-manager
//
// The switch runs in secure fail mode, so every packet the hosts exchange
// goes through the controller's rules. A tshark capture of the OpenFlow
// channel (tcp PORT on lo) runs around the whole test and is then checked
// for malformed messages with Wireshark's OpenFlow dissector.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"

namespace sluice::test {
namespace {

constexpr const char* kH1Mac = "02:00:0a:4d:00:01";
constexpr const char* kH2Mac = "02:00:0a:4d:00:02";
constexpr const char* kH1Ip = "10.77.0.1";
constexpr const char* kH2Ip = "10.77.0.2";

class OskenTest : public ::testing::Test {
 protected:
  OskenTest() : sw_("osken"), tag_(std::to_string(getpid())) {}

  std::string Ns(int h) const { return "sluice-h" + std::to_string(h) + "-" + tag_; }
  // The veth end in the root namespace (a switch port) and the one in the
  // host's namespace.
  std::string SwIf(int h) const { return "sl" + tag_ + "s" + std::to_string(h); }
  std::string HostIf(int h) const { return "sl" + tag_ + "h" + std::to_string(h); }
  std::string InNs(int h, const std::string& cmd) const {
    return "ip netns exec " + Ns(h) + " " + cmd;
  }

  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "this test creates network namespaces and veths: run it as root";
    ASSERT_TRUE(HaveTools({"ip", "ping", "ethtool", "sysctl", "ss", "osken-manager", "tshark"}));
    RemoveTopology();  // leftovers of a killed run with the same pid
    for (int h : {1, 2}) {
      AddHost(h);
      if (HasFatalFailure()) return;
    }

    port_ = FreeTcpPort();
    ASSERT_GT(port_, 0);
    capture_ = std::make_unique<TsharkCapture>(sw_.dir(), port_);
    ASSERT_TRUE(capture_->Start());

    std::string app = SourceDir() + "/tests/tools/osken_simple_switch_13.py";
    ASSERT_TRUE(std::filesystem::exists(app)) << app;
    ASSERT_TRUE(osken_.Start({"osken-manager", "--ofp-listen-host", "127.0.0.1",
                              "--ofp-tcp-listen-port", std::to_string(port_), app},
                             (sw_.dir() / "osken.log").string()));
    // Listening before the switch dials, so that the capture holds one
    // clean session from its first byte.
    ASSERT_TRUE(PollUntil([&] { return ListeningOn(port_) || !osken_.Running(); }, 30) &&
                osken_.Running())
        << "osken-manager is not listening on " << port_ << ":\n"
        << osken_.Log();

    ASSERT_TRUE(sw_.Start({"--port", "p1=net_af_packet0,iface=" + SwIf(1) + ",qpairs=1", "--port",
                           "p2=net_af_packet1,iface=" + SwIf(2) + ",qpairs=1", "--fail-mode",
                           "secure", "--controller", "tcp:127.0.0.1:" + std::to_string(port_),
                           "--max-backoff", "1000"}));
  }

  void TearDown() override {
    int rc = sw_.Stop();
    EXPECT_TRUE(rc == 0 || rc == -1) << "sluice-switchd exit " << rc << "\n" << sw_.Log();
    osken_.Stop();
    if (capture_) capture_->Stop();
    if (HasFailure()) {
      std::cerr << "--- osken-manager log (" << osken_.log_path() << ")\n" << osken_.Log();
      std::cerr << "--- sluice-switchd log (" << sw_.log_path() << ")\n" << sw_.Log();
    }
    RemoveTopology();
  }

  // Namespace `h` with one end of a veth pair; the other end stays in the
  // root namespace for the switch. No IPv6 (router solicitations and DAD
  // would only add packet-ins), no transmit checksum offload (af_packet
  // would forward partial checksums).
  void AddHost(int h) {
    std::string ns = Ns(h), host = HostIf(h), sw = SwIf(h);
    ASSERT_TRUE(ShellOk("ip netns add " + ns));
    ASSERT_TRUE(ShellOk(InNs(
        h, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")));
    ASSERT_TRUE(ShellOk("ip link add " + sw + " type veth peer name " + host + " netns " + ns));
    ASSERT_TRUE(ShellOk("sysctl -qw net.ipv6.conf." + sw + ".disable_ipv6=1"));
    ASSERT_TRUE(ShellOk("ethtool -K " + sw + " tx off"));
    ASSERT_TRUE(ShellOk("ip link set " + sw + " up"));
    ASSERT_TRUE(ShellOk(InNs(h, "ethtool -K " + host + " tx off")));
    ASSERT_TRUE(
        ShellOk("ip -n " + ns + " link set " + host + " address " + (h == 1 ? kH1Mac : kH2Mac)));
    ASSERT_TRUE(
        ShellOk("ip -n " + ns + " addr add " + (h == 1 ? kH1Ip : kH2Ip) + "/24 dev " + host));
    ASSERT_TRUE(ShellOk("ip -n " + ns + " link set " + host + " up"));
    ASSERT_TRUE(ShellOk("ip -n " + ns + " link set lo up"));
  }

  // Deleting the root-side veth deletes its peer; then the namespaces go.
  void RemoveTopology() {
    int rc;
    for (int h : {1, 2}) {
      Shell("ip link del " + SwIf(h), &rc);
      Shell("ip netns del " + Ns(h), &rc);
    }
  }

  // Calls the management socket until pred(reply) holds (bounded).
  template <class Pred>
  ctl::MgmtReply WaitForCall(const std::string& method, const std::vector<std::string>& params,
                             Pred pred, int seconds = 20) {
    ctl::MgmtReply r;
    PollUntil(
        [&] {
          r = sw_.Call(method, params);
          return pred(r);
        },
        seconds);
    return r;
  }

  // The priority-1 rule simple_switch_13 installed for traffic from
  // `in_port` to `dst`, or null.
  static const nlohmann::json* LearnedRule(const nlohmann::json& rules, int in_port,
                                           const std::string& dst) {
    for (const auto& r : rules) {
      std::string match = r.value("match", "");
      if (r.value("priority", -1) == 1 &&
          match.find("in_port=" + std::to_string(in_port)) != std::string::npos &&
          match.find("dl_dst=" + dst) != std::string::npos) {
        return &r;
      }
    }
    return nullptr;
  }

  SwitchdProcess sw_;
  std::string tag_;
  int port_ = 0;
  ChildProcess osken_;
  std::unique_ptr<TsharkCapture> capture_;
};

TEST_F(OskenTest, SimpleSwitch13LearnsAndHostsPing) {
  // The channel comes up: os-ken completes the handshake, never asks for a
  // role, so the connection stays EQUAL.
  ctl::MgmtReply conns = sw_.WaitFor("controller/show", [](const ctl::MgmtReply& r) {
    return r.json.size() == 1 && r.json[0].value("connected", false);
  });
  ASSERT_EQ(conns.json.size(), 1u) << conns.text;
  const auto& c = conns.json[0];
  ASSERT_TRUE(c.value("connected", false)) << conns.text << "\n" << osken_.Log();
  EXPECT_EQ(c.value("target", ""), "tcp:127.0.0.1:" + std::to_string(port_)) << conns.text;
  EXPECT_EQ(c.value("version", ""), "1.3") << conns.text;
  EXPECT_EQ(c.value("role", ""), "equal") << conns.text;
  EXPECT_NE(conns.text.find("role equal"), std::string::npos) << conns.text;
  EXPECT_EQ(conns.text.find("fail-open"), std::string::npos) << conns.text;

  // On the features reply the app installs the table-miss rule.
  ctl::MgmtReply rules = WaitForCall("dump-flows", {"br0"}, [](const ctl::MgmtReply& r) {
    return r.text.find("CONTROLLER:65535") != std::string::npos;
  });
  ASSERT_EQ(rules.json.size(), 1u) << rules.text;
  EXPECT_EQ(rules.json[0].value("priority", -1), 0) << rules.text;
  EXPECT_EQ(rules.json[0].value("actions", ""), "CONTROLLER:65535") << rules.text;

  // h1 pings h2: ARP and the first echo go up as packet-ins, come back as
  // packet-outs, and the learned rules carry the rest.
  int rc;
  std::string ping = Shell(InNs(1, std::string("ping -c 3 -W 2 ") + kH2Ip), &rc);
  EXPECT_EQ(rc, 0) << ping << "\n" << sw_.Call("dump-flows", {"br0"}).text << sw_.Call("show").text;
  EXPECT_NE(ping.find("3 packets transmitted, 3 received"), std::string::npos) << ping;
  // And back, over the rules learned already.
  std::string pong = Shell(InNs(2, std::string("ping -c 2 -W 2 ") + kH1Ip), &rc);
  EXPECT_EQ(rc, 0) << pong;

  // dump-flows br0: the table-miss rule plus one learned rule per
  // direction, counting the packets that no longer reach the controller.
  rules = WaitForCall("dump-flows", {"br0"}, [&](const ctl::MgmtReply& r) {
    const auto* to_h2 = LearnedRule(r.json, 1, kH2Mac);
    const auto* to_h1 = LearnedRule(r.json, 2, kH1Mac);
    return to_h2 && to_h1 && (*to_h2).value("n_packets", 0) > 0 &&
           (*to_h1).value("n_packets", 0) > 0;
  });
  const auto* to_h2 = LearnedRule(rules.json, 1, kH2Mac);
  const auto* to_h1 = LearnedRule(rules.json, 2, kH1Mac);
  ASSERT_NE(to_h2, nullptr) << rules.text;
  ASSERT_NE(to_h1, nullptr) << rules.text;
  EXPECT_EQ(to_h2->value("actions", ""), "output:2") << rules.text;
  EXPECT_EQ(to_h1->value("actions", ""), "output:1") << rules.text;
  EXPECT_GT(to_h2->value("n_packets", 0), 0) << rules.text;
  EXPECT_GT(to_h1->value("n_packets", 0), 0) << rules.text;
  EXPECT_NE(rules.text.find("priority=0 actions=CONTROLLER:65535"), std::string::npos)
      << rules.text;
  EXPECT_NE(rules.text.find(std::string("priority=1,in_port=1,dl_src=") + kH1Mac +
                            ",dl_dst=" + kH2Mac + " actions=output:2"),
            std::string::npos)
      << rules.text;

  // The controller saw the packet-ins, and the datapath holds megaflows
  // for the hosts' traffic.
  conns = sw_.Call("controller/show");
  ASSERT_EQ(conns.json.size(), 1u) << conns.text;
  EXPECT_GT(conns.json[0].value("packet_ins", 0), 0) << conns.text;
  EXPECT_EQ(conns.json[0].value("packet_ins_dropped", -1), 0) << conns.text;
  EXPECT_EQ(conns.json[0].value("errors_sent", -1), 0) << conns.text;
  EXPECT_NE(osken_.Log().find("packet in"), std::string::npos) << osken_.Log();
  ctl::MgmtReply megaflows = sw_.Call("dump-flows");
  EXPECT_NE(megaflows.text.find(kH2Mac), std::string::npos) << megaflows.text;

  // The capture of the whole channel decodes cleanly and holds the
  // messages of this exchange.
  capture_->Stop();
  EXPECT_EQ(capture_->Malformed(), "") << capture_->file();
  auto types = capture_->TypeCounts("openflow_v4.type");
  // hello, features request/reply, packet-in, packet-out, flow-mod,
  // multipart request/reply (os-ken's port description request).
  for (int t : {0, 5, 6, 10, 13, 14, 18, 19}) {
    EXPECT_GT(types[t], 0) << "no OpenFlow 1.3 message of type " << t << " in " << capture_->file()
                           << ": " << FormatCounts(types);
  }
  EXPECT_EQ(types[1], 0) << "OFPT_ERROR in the capture: " << FormatCounts(types);
}

}  // namespace
}  // namespace sluice::test
