// Integration test: the real sluice-switchd binary on its built-in demo,
// inspected and changed through its management socket the way sluicectl
// does it, and the sluicectl binary itself.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "controller/mgmt_client.h"
#include "tests/common/switchd_process.h"

namespace fs = std::filesystem;
using sluice::ctl::MgmtCall;
using sluice::ctl::MgmtReply;
using sluice::test::BuildDir;
using sluice::test::Shell;

namespace {

class SwitchdDemo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = sw_.dir();
    ctl_ = sw_.ctl();
    ASSERT_TRUE(sw_.Start({"--demo", "--demo-dir", dir_.string()}));
  }

  void TearDown() override { EXPECT_EQ(sw_.Stop(), 0) << sw_.Log(); }

  MgmtReply Call(const std::string& method, std::vector<std::string> params = {}) {
    return sw_.Call(method, std::move(params));
  }

  // Polls `method` until pred(json) holds (bounded), returns the last reply.
  template <class Pred>
  MgmtReply WaitFor(const std::string& method, Pred pred) {
    return sw_.WaitFor(method, [&](const MgmtReply& r) { return pred(r.json); });
  }

  sluice::test::SwitchdProcess sw_{"it"};
  fs::path dir_;
  std::string ctl_;
};

TEST_F(SwitchdDemo, ForwardsAndReportsStatistics) {
  // Traffic flows: every demo megaflow gets packets and the sinks transmit.
  // The bridge's OpenFlow rules make the megaflows: one per prefix rule
  // (their masks stop at the rule's prefix) and one for the NORMAL rest.
  MgmtReply flows = WaitFor("dump-flows", [](const nlohmann::json& j) {
    if (j.size() < 4) return false;
    for (const auto& f : j) {
      if (f["packets"].get<uint64_t>() == 0) return false;
    }
    return true;
  });
  ASSERT_GE(flows.json.size(), 4u) << flows.text;
  EXPECT_NE(flows.text.find("ipv4(dst=10.0.0.0/255.255.252.0)"), std::string::npos) << flows.text;
  for (const auto& f : flows.json) EXPECT_GT(f["packets"].get<uint64_t>(), 0u) << f.dump();
  EXPECT_NE(flows.text.find("actions:2,3"), std::string::npos) << flows.text;

  MgmtReply pmd = WaitFor("pmd-stats", [](const nlohmann::json& j) {
    return j.size() == 1 && j[0]["rx_packets"].get<uint64_t>() > 0 && j[0]["upcalls"].get<uint64_t>() > 0;
  });
  ASSERT_EQ(pmd.json.size(), 1u);
  const auto& p = pmd.json[0];
  uint64_t rx = p["rx_packets"], emc = p["emc_hits"], dpcls = p["dpcls_hits"], miss = p["misses"];
  EXPECT_GT(rx, 0u);
  // Every packet is looked up once: hits and misses add up to what was received
  // (the counters are read at slightly different moments, so allow a burst).
  EXPECT_NEAR(static_cast<double>(emc + dpcls + miss), static_cast<double>(rx), 64 * 4);
  // One tenth of the demo's traffic (10.0.9.x) has no megaflow.
  EXPECT_GT(miss, 0u);
  EXPECT_NE(pmd.text.find("emc hits"), std::string::npos);

  MgmtReply ports = Call("show");
  ASSERT_EQ(ports.json.size(), 3u);
  EXPECT_EQ(ports.json[0]["name"], "p0");
  EXPECT_GT(ports.json[0]["rx_packets"].get<uint64_t>(), 0u);
  EXPECT_GT(ports.json[1]["tx_packets"].get<uint64_t>(), 0u);
  EXPECT_GT(ports.json[2]["tx_packets"].get<uint64_t>(), 0u);
}

TEST_F(SwitchdDemo, OpenFlowRulesChangeAtRunTime) {
  // 10.0.9.x goes NORMAL (flooded) until a rule sends it to port 3; the
  // revalidator moves the existing megaflow over, and the rule counts.
  const std::string rule = "priority=20,ip,in_port=1,nw_dst=10.0.9.0/24,actions=output:3";
  Call("add-flow", {"br0", rule});
  auto counted = [&](const nlohmann::json& j) {
    for (const auto& r : j) {
      if (r["priority"] == 20 && r["n_packets"].get<uint64_t>() > 0) return true;
    }
    return false;
  };
  MgmtReply r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    r = Call("dump-flows", {"br0"});
    if (counted(r.json)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(counted(r.json)) << r.text;
  EXPECT_NE(r.text.find("nw_dst=10.0.9.0/24 actions=output:3"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("n_packets="), std::string::npos) << r.text;

  Call("del-flows", {"br0", "ip,nw_dst=10.0.9.0/24"});
  r = Call("dump-flows", {"br0"});
  EXPECT_EQ(r.text.find("10.0.9.0/24"), std::string::npos) << r.text;

  // trace explains the pipeline and the megaflow it would make.
  MgmtReply t = Call("trace", {"br0", "in_port=1,udp,nw_dst=10.0.0.5"});
  EXPECT_NE(t.text.find("table 0: priority 10"), std::string::npos) << t.text;
  EXPECT_NE(t.text.find("output to port 2"), std::string::npos) << t.text;
  EXPECT_NE(t.text.find("megaflow: "), std::string::npos) << t.text;

  // Errors are one clear line, and the switch keeps serving.
  sluice::Status st = MgmtCall(ctl_, "add-flow", {"br0", "in_port=1,actions=bogus"}, 10, &r);
  EXPECT_FALSE(st.ok());
  st = MgmtCall(ctl_, "add-flow", {"br9", "actions=drop"}, 10, &r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no bridge named br9"), std::string::npos) << st.message();
  st = MgmtCall(ctl_, "add-flow", {"br0", "tp_dst=80,actions=drop"}, 10, &r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tp_dst"), std::string::npos) << st.message();
  st = MgmtCall(ctl_, "no-such-command", {}, 10, &r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown command"), std::string::npos);
  EXPECT_EQ(Call("dump-groups", {"br0"}).json.size(), 1u);
  EXPECT_GT(Call("upcall-stats").json["installed"].get<uint64_t>(), 0u);
}

TEST_F(SwitchdDemo, StaticMacEntries) {
  // The demo's frames go to 02:00:00:00:00:02; 10.0.9.x goes NORMAL.
  const std::string flow = "in_port=1,dl_dst=02:00:00:00:00:02,udp,nw_dst=10.0.9.1";
  Call("fdb/flush", {"br0"});
  Call("fdb/add", {"br0", "p2", "0", "02:00:00:00:00:02"});
  MgmtReply fdb = Call("fdb/show", {"br0"});
  bool found = false;
  for (const auto& e : fdb.json) found |= e["mac"] == "02:00:00:00:00:02" && e["static"] == true && e["port"] == 3;
  EXPECT_TRUE(found) << fdb.text;
  MgmtReply t = Call("trace", {"br0", flow});
  EXPECT_NE(t.text.find("megaflow: "), std::string::npos) << t.text;
  // Known unicast, not flooded; the flow line shows the fields as given.
  EXPECT_NE(t.text.find("destination learned on port 3"), std::string::npos) << t.text;
  EXPECT_NE(t.text.find("datapath actions: 3\n"), std::string::npos) << t.text;
  EXPECT_NE(t.text.find("eth(dst=02:00:00:00:00:02)"), std::string::npos) << t.text;
  // Bad input: one clear line each.
  for (const auto& args : std::vector<std::vector<std::string>>{{"br0", "nope", "0", "02:00:00:00:00:02"},
                                                                {"br0", "p2", "5000", "02:00:00:00:00:02"},
                                                                {"br0", "p2", "0", "zz"},
                                                                {"br9", "p2", "0", "02:00:00:00:00:02"}}) {
    sluice::Status st = MgmtCall(ctl_, "fdb/add", args, 10, &t);
    EXPECT_FALSE(st.ok()) << args[1] << " " << args[2];
  }
  Call("fdb/del", {"br0", "0", "02:00:00:00:00:02"});
  sluice::Status st = MgmtCall(ctl_, "fdb/del", {"br0", "0", "02:00:00:00:00:02"}, 10, &t);
  EXPECT_NE(st.message().find("no entry"), std::string::npos) << st.message();
}

TEST_F(SwitchdDemo, SluicectlBinary) {
  int rc;
  std::string ctl = BuildDir() + "/tools/sluicectl --ctl " + ctl_;
  std::string out = Shell(ctl + " pmd-stats", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("pmd 0"), std::string::npos) << out;
  out = Shell(ctl + " dump-flows br0", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("n_packets="), std::string::npos) << out;
  out = Shell(ctl + " --format json dump-flows", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(nlohmann::json::parse(out, nullptr, false).is_array()) << out;
  out = Shell(ctl + " frobnicate", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("unknown command"), std::string::npos) << out;
  out = Shell(BuildDir() + "/tools/sluicectl --ctl " + (dir_ / "nope.ctl").string() + " pmd-stats", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("cannot reach sluice-switchd"), std::string::npos) << out;
}

TEST(Binaries, HelpOnEveryBinary) {
  for (const char* bin : {"sluice-switchd", "sluicectl"}) {
    int rc;
    std::string out = Shell(BuildDir() + "/tools/" + bin + " --help", &rc);
    EXPECT_EQ(rc, 0) << bin;
    EXPECT_NE(out.find("--help"), std::string::npos) << out;
  }
}

TEST(Binaries, SwitchdRejectsBadArgumentsClearly) {
  int rc;
  std::string out = Shell(BuildDir() + "/tools/sluice-switchd --flow 'in_port(1) actions:zz' --duration 1", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--flow"), std::string::npos) << out;
  out = Shell(BuildDir() + "/tools/sluice-switchd --pmd-cpu-mask 0xq --duration 1", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("not a hex digit"), std::string::npos) << out;
}

}  // namespace
