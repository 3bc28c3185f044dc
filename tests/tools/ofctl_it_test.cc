// Integration test: the real ovs-ofctl (Open vSwitch's client, package
// openvswitch-common) against sluice-switchd's passive OpenFlow listener,
// in OpenFlow 1.3 and 1.0, with every answer checked field by field.
//
// The switch runs bridge br0 in secure mode (empty flow table) with three
// ports: p1 replays one UDP flow (10.0.0.1 -> 10.0.0.2:53) from a pcap
// forever, p2 and p3 are net_null sinks.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <regex>
#include <string>

#include "controller/pcap_writer.h"
#include "tests/common/switchd_process.h"

namespace sluice::test {
namespace {

class OfctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sw_ = new SwitchdProcess("ofctl");
    std::string pcap = (sw_->dir() / "in.pcap").string();
    ctl::PcapWriter w;
    ASSERT_TRUE(w.Open(pcap).ok());
    const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
    auto f = ctl::MakeUdpFrame(dst, src, 0x0a000001, 0x0a000002, 1000, 53);
    ASSERT_TRUE(w.Write(f.data(), static_cast<uint32_t>(f.size())).ok());
    ASSERT_TRUE(w.Close().ok());
    port_ = FreeTcpPort();
    unix_ = (sw_->dir() / "of.sock").string();
    ASSERT_TRUE(sw_->Start({"--port", "p1=net_pcap_of1,rx_pcap=" + pcap + ",infinite_rx=1",
                            "--port", "p2=net_null_of2,no-rx=1", "--port", "p3=net_null_of3,no-rx=1",
                            "--fail-mode", "secure", "--controller",
                            "ptcp:" + std::to_string(port_) + ":127.0.0.1", "--controller",
                            "punix:" + unix_}));
  }
  static void TearDownTestSuite() {
    int rc = sw_->Stop();
    EXPECT_EQ(rc, 0) << sw_->Log();
    delete sw_;
  }
  void SetUp() override { Ofctl13("del-flows"); }

  static std::string Target() { return "tcp:127.0.0.1:" + std::to_string(port_); }

  // Runs ovs-ofctl; expects success unless told otherwise.
  static std::string Ofctl(const std::string& proto, const std::string& args, int want_rc = 0) {
    int rc;
    std::string cmd = "ovs-ofctl --timeout=10 -O " + proto + " " + args;
    std::string out = Shell(cmd, &rc);
    EXPECT_EQ(rc, want_rc) << cmd << "\n" << out;
    return out;
  }
  static std::string Ofctl13(const std::string& cmd, const std::string& rest = "", int want_rc = 0) {
    return Ofctl("OpenFlow13", cmd + " " + Target() + " " + rest, want_rc);
  }
  static std::string Ofctl10(const std::string& cmd, const std::string& rest = "", int want_rc = 0) {
    return Ofctl("OpenFlow10", cmd + " " + Target() + " " + rest, want_rc);
  }
  static int CountLines(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
  // n_packets=N of the dump-flows line containing `needle`.
  static uint64_t PacketsOf(const std::string& dump, const std::string& needle) {
    std::istringstream in(dump);
    std::smatch m;
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) == std::string::npos) continue;
      static const std::regex re("n_packets=([0-9]+)");
      if (std::regex_search(line, m, re)) return std::stoull(m[1]);
    }
    return 0;
  }

  static SwitchdProcess* sw_;
  static int port_;
  static std::string unix_;
};
SwitchdProcess* OfctlTest::sw_ = nullptr;
int OfctlTest::port_ = 0;
std::string OfctlTest::unix_;

TEST_F(OfctlTest, Show13) {
  std::string out = Ofctl13("show");
  EXPECT_NE(out.find("OFPT_FEATURES_REPLY (OF1.3)"), std::string::npos) << out;
  EXPECT_NE(out.find("n_tables:254, n_buffers:0"), std::string::npos) << out;
  EXPECT_NE(out.find("capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS"), std::string::npos) << out;
  for (const char* p : {" 1(p1): addr:", " 2(p2): addr:", " 3(p3): addr:"}) {
    EXPECT_NE(out.find(p), std::string::npos) << p << "\n" << out;
  }
  EXPECT_NE(out.find("OFPT_GET_CONFIG_REPLY (OF1.3)"), std::string::npos) << out;
  EXPECT_EQ(out.find("decode error"), std::string::npos) << out;
}

TEST_F(OfctlTest, Show10OverUnixSocket) {
  std::string out = Ofctl("OpenFlow10", "show unix:" + unix_);
  EXPECT_NE(out.find("OFPT_FEATURES_REPLY (xid="), std::string::npos) << out;
  EXPECT_NE(out.find(" 2(p2): addr:"), std::string::npos) << out;
  EXPECT_NE(out.find("miss_send_len=128"), std::string::npos) << out;
}

TEST_F(OfctlTest, FlowLifecycle13) {
  Ofctl13("add-flow", "'priority=10,in_port=1,udp,nw_dst=10.0.0.0/24,actions=output:2'");
  Ofctl13("add-flow", "'table=0,priority=20,cookie=0x42,in_port=1,udp,tp_dst=53,actions=output:3'");
  Ofctl13("add-flow", "'table=1,priority=5,ip,actions=drop'");
  std::string dump = Ofctl13("dump-flows");
  EXPECT_EQ(CountLines(dump, "cookie="), 3) << dump;
  EXPECT_NE(dump.find("priority=10,udp,in_port=1,nw_dst=10.0.0.0/24 actions=output:2"), std::string::npos) << dump;
  EXPECT_NE(dump.find("cookie=0x42,"), std::string::npos) << dump;
  EXPECT_NE(dump.find("priority=20,udp,in_port=1,tp_dst=53 actions=output:3"), std::string::npos) << dump;
  EXPECT_NE(dump.find("table=1,"), std::string::npos) << dump;

  // The UDP flow hits the priority-20 rule; its counters grow.
  uint64_t packets = 0;
  for (int i = 0; i < 50 && packets == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    packets = PacketsOf(Ofctl13("dump-flows"), "tp_dst=53");
  }
  EXPECT_GT(packets, 0u) << Ofctl13("dump-flows");

  // Filters: by table, by match, by cookie.
  std::string t1 = Ofctl13("dump-flows", "table=1");
  EXPECT_EQ(CountLines(t1, "cookie="), 1) << t1;
  std::string by_cookie = Ofctl13("dump-flows", "cookie=0x42/-1");
  EXPECT_EQ(CountLines(by_cookie, "cookie="), 1) << by_cookie;
  std::string by_match = Ofctl13("dump-flows", "udp,nw_dst=10.0.0.0/24");
  EXPECT_EQ(CountLines(by_match, "cookie="), 1) << by_match;

  // mod-flows changes the actions and keeps the counters.
  Ofctl13("mod-flows", "'in_port=1,udp,tp_dst=53,actions=output:2'");
  dump = Ofctl13("dump-flows", "udp,tp_dst=53");
  EXPECT_NE(dump.find("tp_dst=53 actions=output:2"), std::string::npos) << dump;

  // del-flows --strict needs the priority; without it nothing goes.
  Ofctl13("--strict del-flows", "'in_port=1,udp,tp_dst=53'");
  EXPECT_EQ(CountLines(Ofctl13("dump-flows"), "cookie="), 3);
  Ofctl13("--strict del-flows", "'priority=20,in_port=1,udp,tp_dst=53'");
  dump = Ofctl13("dump-flows");
  EXPECT_EQ(CountLines(dump, "cookie="), 2) << dump;
  // Non-strict delete of everything UDP in table 0.
  Ofctl13("del-flows", "'table=0,udp'");
  dump = Ofctl13("dump-flows");
  EXPECT_EQ(CountLines(dump, "cookie="), 1) << dump;
  EXPECT_NE(dump.find("table=1,"), std::string::npos) << dump;
}

TEST_F(OfctlTest, AddFlowsFromFileAndAggregate) {
  std::string file = (sw_->dir() / "flows.txt").string();
  std::ofstream(file) << "priority=1,in_port=2,actions=output:3\n"
                      << "# a comment\n"
                      << "priority=2,in_port=3,actions=output:2\n"
                      << "priority=3,in_port=1,udp,actions=output:2,output:3\n";
  Ofctl13("add-flows", file);
  std::string dump = Ofctl13("dump-flows");
  EXPECT_EQ(CountLines(dump, "cookie="), 3) << dump;
  EXPECT_NE(dump.find("actions=output:2,output:3"), std::string::npos) << dump;
  std::string agg;
  for (int i = 0; i < 50; ++i) {
    agg = Ofctl13("dump-aggregate");
    if (agg.find("packet_count=0 ") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(agg.find("OFPST_AGGREGATE reply (OF1.3)"), std::string::npos) << agg;
  EXPECT_NE(agg.find("flow_count=3"), std::string::npos) << agg;
  EXPECT_EQ(agg.find("packet_count=0 "), std::string::npos) << agg;
}

TEST_F(OfctlTest, PortsAndTables) {
  Ofctl13("add-flow", "'priority=1,in_port=1,actions=output:2'");
  std::string ports = Ofctl13("dump-ports");
  EXPECT_NE(ports.find("OFPST_PORT reply (OF1.3)"), std::string::npos) << ports;
  EXPECT_NE(ports.find("3 ports"), std::string::npos) << ports;
  EXPECT_NE(ports.find("port  1: rx pkts="), std::string::npos) << ports;
  EXPECT_NE(ports.find("duration="), std::string::npos) << ports;
  std::string one = Ofctl13("dump-ports", "2");
  EXPECT_NE(one.find("1 ports"), std::string::npos) << one;

  std::string desc = Ofctl13("dump-ports-desc");
  EXPECT_NE(desc.find("OFPST_PORT_DESC reply (OF1.3)"), std::string::npos) << desc;
  for (const char* p : {" 1(p1):", " 2(p2):", " 3(p3):"}) EXPECT_NE(desc.find(p), std::string::npos) << desc;

  std::string tables = Ofctl13("dump-tables");
  EXPECT_NE(tables.find("OFPST_TABLE reply (OF1.3)"), std::string::npos) << tables;
  EXPECT_NE(tables.find("table 0:"), std::string::npos) << tables;
  EXPECT_NE(tables.find("active=1"), std::string::npos) << tables;

  std::string features = Ofctl13("dump-table-features");
  EXPECT_NE(features.find("table 0"), std::string::npos) << features;
  EXPECT_EQ(features.find("decode error"), std::string::npos) << features;
}

TEST_F(OfctlTest, GroupsAndMeters) {
  Ofctl13("del-groups");
  Ofctl13("add-group", "'group_id=1,type=all,bucket=output:2,bucket=output:3'");
  Ofctl13("add-group", "'group_id=2,type=select,bucket=weight:10,output:2,bucket=weight:20,output:3'");
  std::string groups = Ofctl13("dump-groups");
  EXPECT_NE(groups.find("group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3"), std::string::npos)
      << groups;
  EXPECT_NE(groups.find("group_id=2,type=select,bucket=weight:10,actions=output:2,bucket=weight:20,actions=output:3"),
            std::string::npos)
      << groups;
  Ofctl13("add-flow", "'priority=1,in_port=1,actions=group:1'");
  std::string stats;
  for (int i = 0; i < 50; ++i) {
    stats = Ofctl13("dump-group-stats");
    if (stats.find("group_id=1,duration=") != std::string::npos &&
        stats.find("ref_count=1,packet_count=0") == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(stats.find("group_id=1,duration="), std::string::npos) << stats;
  EXPECT_NE(stats.find("ref_count=1"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("ref_count=1,packet_count=0"), std::string::npos) << stats;
  // A flow to a group that does not exist: the spec's error, printed by ovs-ofctl.
  std::string bad = Ofctl13("add-flow", "'priority=1,in_port=2,actions=group:99'", 1);
  EXPECT_NE(bad.find("OFPBAC_BAD_OUT_GROUP"), std::string::npos) << bad;
  Ofctl13("del-flows");
  Ofctl13("del-groups");
  EXPECT_EQ(Ofctl13("dump-groups").find("group_id="), std::string::npos);

  Ofctl13("add-meter", "'meter=1,kbps,band=type=drop,rate=1000'");
  Ofctl13("add-meter", "'meter=2,pktps,burst,stats,band=type=dscp_remark,rate=500,burst_size=50,prec_level=1'");
  std::string meters = Ofctl13("dump-meters");
  EXPECT_NE(meters.find("meter=1 kbps bands=\ntype=drop rate=1000"), std::string::npos) << meters;
  EXPECT_NE(meters.find("meter=2 pktps burst stats bands=\ntype=dscp_remark rate=500 burst_size=50 prec_level=1"),
            std::string::npos)
      << meters;
  std::string mstats = Ofctl13("meter-stats");
  EXPECT_NE(mstats.find("meter:1 flow_count:0"), std::string::npos) << mstats;
  std::string mfeat = Ofctl13("meter-features");
  EXPECT_NE(mfeat.find("max_meter:65535"), std::string::npos) << mfeat;
  Ofctl13("del-meter", "meter=1");
  EXPECT_EQ(Ofctl13("dump-meters").find("meter=1 "), std::string::npos);
}

TEST_F(OfctlTest, PacketOut) {
  auto tx_of = [&](int port) -> uint64_t {
    std::string out = Ofctl13("dump-ports", std::to_string(port));
    std::smatch m;
    static const std::regex re("tx pkts=([0-9]+)");
    return std::regex_search(out, m, re) ? std::stoull(m[1]) : 0;
  };
  // Megaflows of earlier tests' rules may still forward p1's traffic for a
  // revalidation interval after SetUp's del-flows: wait until port 3 is quiet.
  uint64_t before = tx_of(3);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t now = tx_of(3);
    if (now == before) break;
    before = now;
  }
  std::string packet = "ffffffffffff0200000000010800"  // Ethernet
                       "450000280000000040110000c0a80001c0a80002"  // IPv4
                       "04d20035001400000000000000000000000000000000";  // UDP + 12 bytes
  for (int i = 0; i < 5; ++i) {
    Ofctl13("packet-out", "'in_port=controller,packet=" + packet + ",actions=output:3'");
  }
  uint64_t after = before;
  for (int i = 0; i < 25 && after < before + 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after = tx_of(3);
  }
  EXPECT_EQ(after, before + 5);
}

TEST_F(OfctlTest, OpenFlow10) {
  Ofctl10("add-flow", "'priority=10,in_port=1,dl_type=0x0800,nw_proto=17,nw_dst=10.0.0.0/24,tp_dst=53,"
                      "actions=mod_nw_tos:16,output:2'");
  Ofctl10("add-flow", "'priority=5,in_port=2,actions=strip_vlan,output:3'");
  std::string dump = Ofctl10("dump-flows");
  EXPECT_EQ(CountLines(dump, "cookie="), 2) << dump;
  EXPECT_NE(dump.find("priority=10,udp,in_port=1,nw_dst=10.0.0.0/24,tp_dst=53 actions=mod_nw_tos:16,output:2"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("actions=strip_vlan,output:3"), std::string::npos) << dump;
  // The same rules seen through OpenFlow 1.3.
  std::string dump13 = Ofctl13("dump-flows");
  EXPECT_TRUE(dump13.find("set_field:4->ip_dscp") != std::string::npos ||
              dump13.find("mod_nw_tos:16") != std::string::npos)
      << dump13;
  // OpenFlow 1.0 modify of a missing flow adds it.
  Ofctl10("mod-flows", "'in_port=3,actions=output:1'");
  EXPECT_EQ(CountLines(Ofctl10("dump-flows"), "cookie="), 3);
  std::string ports = Ofctl10("dump-ports");
  EXPECT_NE(ports.find("OFPST_PORT reply"), std::string::npos) << ports;
  std::string tables = Ofctl10("dump-tables");
  EXPECT_NE(tables.find("OFPST_TABLE reply"), std::string::npos) << tables;
  std::string agg = Ofctl10("dump-aggregate");
  EXPECT_NE(agg.find("flow_count=3"), std::string::npos) << agg;
  Ofctl10("--strict del-flows", "'priority=5,in_port=2'");
  EXPECT_EQ(CountLines(Ofctl10("dump-flows"), "cookie="), 2);
  Ofctl10("del-flows");
  EXPECT_EQ(CountLines(Ofctl10("dump-flows"), "cookie="), 0);
}

TEST_F(OfctlTest, ControllerViewListsConnections) {
  ctl::MgmtReply r = sw_->Call("controller/show");
  EXPECT_NE(r.text.find("listening on"), std::string::npos) << r.text;
  EXPECT_EQ(r.json.size(), 2u) << r.json.dump();
}

}  // namespace
}  // namespace sluice::test
