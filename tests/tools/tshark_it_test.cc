// Integration test: Wireshark's OpenFlow dissector as a second opinion on
// sluice-switchd's wire format. tshark captures the switch's passive
// OpenFlow port on lo while the real ovs-ofctl runs a session of requests
// in OpenFlow 1.3 (then, on a fresh switch, 1.0) covering every message
// family the switch answers: features, config, flows, aggregate, ports,
// port-mod, tables, table features, groups, meters, packet-out, echo,
// barrier, and packet-ins to an `ovs-ofctl monitor` connection. The capture
// is then read back with the port decoded as OpenFlow: no frame may be
// malformed or carry an error-level expert item, and the message types of
// the session must all be there.
//
// The os-ken session (packet-ins from real traffic, flow-mods and
// packet-outs from a controller) is captured and checked the same way in
// osken_it_test.cc. TLS channels cannot be dissected without their keys,
// so ofctl_tls_it_test.cc has no capture.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"

namespace sluice::test {
namespace {

// An ICMP echo request 192.168.0.1 -> 192.168.0.2 with payload "sluice!!",
// as ovs-ofctl packet-out takes it. Its lengths and checksums are right:
// the dissector follows packet-outs and packet-ins into the packet and
// would flag a truncated one (or, for UDP to port 53, a short DNS message).
constexpr const char* kPacket =
    "ffffffffffff0200000000010800"              // Ethernet
    "45000024000000004001f985c0a80001c0a80002"  // IPv4, total length 36
    "0800786e12340001736c756963652121";         // ICMP echo request

class TsharkTest : public ::testing::Test {
 protected:
  TsharkTest() : sw_("tshark") {}

  void SetUp() override {
    ASSERT_TRUE(HaveTools({"ovs-ofctl"}));
    port_ = FreeTcpPort();
    ASSERT_GT(port_, 0);
    capture_ = std::make_unique<TsharkCapture>(sw_.dir(), port_);
    ASSERT_TRUE(capture_->Start());
    ASSERT_TRUE(sw_.Start({"--port", "p1=net_null_ts1,no-rx=1", "--port", "p2=net_null_ts2,no-rx=1",
                           "--port", "p3=net_null_ts3,no-rx=1", "--fail-mode", "secure",
                           "--controller", "ptcp:" + std::to_string(port_) + ":127.0.0.1"}));
  }
  void TearDown() override {
    monitor_.Stop();
    if (capture_) capture_->Stop();
    int rc = sw_.Stop();
    EXPECT_TRUE(rc == 0 || rc == -1) << "sluice-switchd exit " << rc << "\n" << sw_.Log();
  }

  std::string Target() const { return "tcp:127.0.0.1:" + std::to_string(port_); }

  // ovs-ofctl -O `proto` CMD TARGET REST; expects success.
  std::string Ofctl(const std::string& proto, const std::string& cmd,
                    const std::string& rest = "") {
    int rc;
    std::string line =
        "ovs-ofctl --timeout=10 -O " + proto + " " + cmd + " " + Target() + " " + rest;
    std::string out = Shell(line, &rc);
    EXPECT_EQ(rc, 0) << line << "\n" << out;
    EXPECT_EQ(out.find("decode error"), std::string::npos) << line << "\n" << out;
    return out;
  }

  // Starts `ovs-ofctl monitor`, waits until the switch has accepted it, then
  // sends packet-outs through table 0, whose rule sends the packet to the
  // controller, until the monitor prints a packet-in.
  void PacketInToMonitor(const std::string& proto) {
    // --unixctl: ovs-ofctl monitor opens a control socket, by default under
    // /var/run/openvswitch, which only an Open vSwitch install creates.
    std::string unixctl = (sw_.dir() / ("monitor-" + proto + ".ctl")).string();
    ASSERT_TRUE(monitor_.Start(
        {"ovs-ofctl", "-O", proto, "--unixctl=" + unixctl, "monitor", Target(), "65535"},
        (sw_.dir() / ("monitor-" + proto + ".log")).string()));
    ctl::MgmtReply conns = sw_.WaitFor("controller/show", [](const ctl::MgmtReply& r) {
      int connected = 0;
      for (const auto& c : r.json) connected += c.value("connected", false);
      return connected == 1;
    });
    ASSERT_NE(conns.text.find("connected"), std::string::npos) << conns.text << monitor_.Log();
    bool seen = PollUntil(
        [&] {
          Ofctl(proto, "packet-out",
                std::string("'in_port=controller,packet=") + kPacket + ",actions=output:TABLE'");
          return monitor_.Log().find("OFPT_PACKET_IN") != std::string::npos;
        },
        10);
    EXPECT_TRUE(seen) << monitor_.Log() << "\n" << sw_.Call("dump-flows", {"br0"}).text;
    monitor_.Stop();
  }

  // Stops the capture; expects a clean decode and every type in `types`.
  void CheckCapture(const std::string& field, std::initializer_list<int> types) {
    capture_->Stop();
    EXPECT_EQ(capture_->Malformed(), "") << capture_->file();
    auto counts = capture_->TypeCounts(field);
    for (int t : types) {
      EXPECT_GT(counts[t], 0) << "no " << field << " == " << t << " in " << capture_->file() << ": "
                              << FormatCounts(counts);
    }
  }

  SwitchdProcess sw_;
  int port_ = 0;
  std::unique_ptr<TsharkCapture> capture_;
  ChildProcess monitor_;
};

TEST_F(TsharkTest, OpenFlow13SessionDecodesCleanly) {
  const std::string of13 = "OpenFlow13";
  EXPECT_NE(Ofctl(of13, "show").find("OFPT_FEATURES_REPLY (OF1.3)"), std::string::npos);
  Ofctl(of13, "probe");
  Ofctl(of13, "add-flow", "'priority=10,in_port=1,udp,nw_dst=10.0.0.0/24,actions=output:2'");
  Ofctl(of13, "add-flow",
        "'table=1,priority=5,cookie=0x9,ip,actions=set_field:10.0.0.9->ip_dst,output:3'");
  Ofctl(of13, "add-flow", "'priority=50,icmp,actions=CONTROLLER:200'");
  EXPECT_NE(Ofctl(of13, "dump-flows").find("priority=50,icmp actions=CONTROLLER:200"),
            std::string::npos);
  Ofctl(of13, "dump-aggregate");
  Ofctl(of13, "dump-ports");
  Ofctl(of13, "dump-ports-desc");
  Ofctl(of13, "mod-port", "2 up");
  Ofctl(of13, "dump-tables");
  EXPECT_NE(Ofctl(of13, "dump-table-features").find("table 0"), std::string::npos);
  Ofctl(of13, "add-group", "'group_id=1,type=all,bucket=output:2,bucket=output:3'");
  Ofctl(of13, "add-group",
        "'group_id=2,type=select,bucket=weight:10,output:2,bucket=weight:20,output:3'");
  Ofctl(of13, "dump-groups");
  Ofctl(of13, "dump-group-stats");
  Ofctl(of13, "dump-group-features");
  Ofctl(of13, "add-meter", "'meter=1,kbps,band=type=drop,rate=1000'");
  Ofctl(of13, "add-meter",
        "'meter=2,pktps,burst,stats,band=type=dscp_remark,rate=500,burst_size=50,prec_level=1'");
  Ofctl(of13, "dump-meters");
  Ofctl(of13, "meter-stats");
  Ofctl(of13, "meter-features");
  Ofctl(of13, "packet-out",
        std::string("'in_port=controller,packet=") + kPacket + ",actions=output:3'");
  PacketInToMonitor(of13);
  Ofctl(of13, "del-meter", "meter=1");
  Ofctl(of13, "del-groups");
  Ofctl(of13, "del-flows");
  // hello, error-free echo, features, get-config, set-config (monitor),
  // packet-in, packet-out, flow-mod, group-mod, port-mod, multipart,
  // barrier, meter-mod.
  CheckCapture("openflow_v4.type",
               {0, 2, 3, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 18, 19, 20, 21, 29});
}

TEST_F(TsharkTest, OpenFlow10SessionDecodesCleanly) {
  const std::string of10 = "OpenFlow10";
  EXPECT_NE(Ofctl(of10, "show").find("OFPT_FEATURES_REPLY"), std::string::npos);
  Ofctl(of10, "probe");
  Ofctl(of10, "add-flow",
        "'priority=10,in_port=1,dl_type=0x0800,nw_proto=17,nw_dst=10.0.0.0/24,tp_dst=53,"
        "actions=mod_nw_tos:16,output:2'");
  Ofctl(of10, "add-flow", "'priority=5,in_port=2,actions=strip_vlan,output:3'");
  Ofctl(of10, "add-flow", "'priority=50,icmp,actions=CONTROLLER:200'");
  Ofctl(of10, "dump-flows");
  Ofctl(of10, "dump-aggregate");
  Ofctl(of10, "dump-ports");
  Ofctl(of10, "dump-ports-desc");
  Ofctl(of10, "mod-port", "2 up");
  Ofctl(of10, "dump-tables");
  Ofctl(of10, "packet-out", std::string("'in_port=none,packet=") + kPacket + ",actions=output:3'");
  PacketInToMonitor(of10);
  // No OpenFlow 1.0 delete here: Wireshark 4.0's OpenFlow 1.0 dissector
  // reads an action header after every flow-mod, so it calls a valid
  // 72-byte flow-mod without actions (what ovs-ofctl sends for del-flows)
  // malformed. The rules go through the management socket instead.
  EXPECT_EQ(sw_.Call("del-flows", {"br0"}).error, "");
  // OpenFlow 1.0 numbering: hello, echo, features, get/set-config,
  // packet-in, packet-out, flow-mod, port-mod (15), stats (16, 17),
  // barrier (18, 19).
  CheckCapture("openflow_1_0.type", {0, 2, 3, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, 19});
}

}  // namespace
}  // namespace sluice::test
