// Integration test: the real sluicectl binary configuring the real sluice-db
// (and, for the core commands, Open vSwitch's ovsdb-server), cross-checked
// with the real ovs-vsctl. Every test gets its own server and directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/client.h"
#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sluice::test::BuildDir;
using sluice::test::ChildProcess;
using sluice::test::ReadFile;
using sluice::test::Shell;
using sluice::test::ShellQuote;

namespace {

enum class ServerKind { kSluiceDb, kOvsdbServer };

std::string KindName(ServerKind k) {
  return k == ServerKind::kSluiceDb ? "SluiceDb" : "OvsdbServer";
}

struct Result {
  int rc = -1;
  std::string out, err;
  double seconds = 0;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "rc=" << r.rc << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
}

bool HaveOvs() {
  return fs::exists("/usr/sbin/ovsdb-server") &&
         fs::exists("/usr/share/openvswitch/vswitch.ovsschema") &&
         std::system("command -v ovs-vsctl >/dev/null 2>&1") == 0;
}

class DbFixture {
 public:
  ::testing::AssertionResult Start(ServerKind kind, const std::string& tag) {
    kind_ = kind;
    dir_ = fs::temp_directory_path() / ("sluice-ctl-" + tag + "-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sock_ = (dir_ / "db.sock").string();
    std::string db = (dir_ / "conf.db").string();
    std::vector<std::string> argv;
    if (kind == ServerKind::kSluiceDb) {
      std::string bin = BuildDir() + "/tools/sluice-db";
      if (!fs::exists(bin)) return ::testing::AssertionFailure() << bin << " is not built";
      argv = {bin, "--db=" + db, "--remote=punix:" + sock_, "--log-level=warn"};
    } else {
      int rc;
      std::string out =
          Shell("ovsdb-tool create " + db + " /usr/share/openvswitch/vswitch.ovsschema", &rc);
      if (rc != 0) return ::testing::AssertionFailure() << out;
      argv = {"/usr/sbin/ovsdb-server", db, "--remote=punix:" + sock_,
              "--unixctl=" + (dir_ / "ovsdb.ctl").string(), "--no-chdir"};
    }
    auto started = server_.Start(argv, (dir_ / "server.log").string());
    if (!started) return started;
    bool up = sluice::test::PollUntil(
        [&] {
          std::string error;
          return sluice::db::Client::Connect("unix:" + sock_, 1000, &error) != nullptr ||
                 !server_.Running();
        },
        60);
    if (!up || !server_.Running())
      return ::testing::AssertionFailure() << "server did not start:\n" << server_.Log();
    if (kind == ServerKind::kOvsdbServer) {
      Result r = Ctl("--no-wait init");
      if (r.rc != 0) return ::testing::AssertionFailure() << r;
    }
    return ::testing::AssertionSuccess();
  }

  void Stop(bool remove) {
    server_.Stop();
    if (remove) fs::remove_all(dir_);
  }

  // Runs sluicectl --db=unix:SOCK ARGS (ARGS as shell words).
  Result Ctl(const std::string& args) const {
    return Run(BuildDir() + "/tools/sluicectl --db=unix:" + sock_ + " " + args);
  }
  // The real ovs-vsctl on the same database.
  Result Vsctl(const std::string& args) const {
    return Run("ovs-vsctl --db=unix:" + sock_ + " --no-wait " + args);
  }

  Result Run(const std::string& cmd) const {
    Result r;
    std::string err_file = (dir_ / "stderr.txt").string();
    auto start = std::chrono::steady_clock::now();
    FILE* p = popen((cmd + " 2>" + ShellQuote(err_file)).c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
    int status = pclose(p);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = ReadFile(err_file);
    return r;
  }

  std::string target() const { return "unix:" + sock_; }
  const fs::path& dir() const { return dir_; }
  std::string Log() const { return server_.Log(); }

 private:
  ServerKind kind_ = ServerKind::kSluiceDb;
  fs::path dir_;
  std::string sock_;
  ChildProcess server_;
};

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

// Expects success and returns stdout.
#define CTL_OK(db, args)                                         \
  ([&] {                                                         \
    Result r_ = (db).Ctl(args);                                  \
    EXPECT_EQ(r_.rc, 0) << "sluicectl " << (args) << "\n" << r_; \
    EXPECT_EQ(r_.err, "") << "sluicectl " << (args);             \
    return r_.out;                                               \
  }())

// Expects exit code 1 with exactly one error line containing `what`.
#define CTL_FAILS(db, args, what)                                                            \
  do {                                                                                       \
    Result r_ = (db).Ctl(args);                                                              \
    EXPECT_EQ(r_.rc, 1) << "sluicectl " << (args) << "\n" << r_;                             \
    EXPECT_NE(r_.err.find(what), std::string::npos) << "sluicectl " << (args) << "\n" << r_; \
    EXPECT_EQ(r_.err.rfind("sluicectl: ", 0), 0u) << r_.err;                                 \
    EXPECT_EQ(std::count(r_.err.begin(), r_.err.end(), '\n'), 1) << r_.err;                  \
  } while (0)

class SluicectlDb : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.Start(ServerKind::kSluiceDb, TestName())); }
  void TearDown() override { db_.Stop(!HasFailure()); }
  DbFixture db_;
};

TEST_F(SluicectlDb, BridgesAndPorts) {
  EXPECT_EQ(CTL_OK(db_, "list-br"), "");
  CTL_OK(db_, "--no-wait add-br br0");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
  EXPECT_EQ(db_.Ctl("br-exists br0").rc, 0);
  Result r = db_.Ctl("br-exists br9");
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_EQ(r.err, "");
  Result dup = db_.Ctl("--no-wait add-br br0");
  EXPECT_EQ(dup.rc, 1);
  EXPECT_EQ(
      dup.err,
      "sluicectl: cannot create a bridge named br0 because a bridge named br0 already exists\n");
  CTL_OK(db_, "--no-wait --may-exist add-br br0");

  CTL_OK(db_, "--no-wait add-port br0 p0 tag=10");
  CTL_OK(db_, "--no-wait add-port br0 p1");
  EXPECT_EQ(CTL_OK(db_, "list-ports br0"), "p0\np1\n");
  EXPECT_EQ(CTL_OK(db_, "list-ifaces br0"), "p0\np1\n");
  EXPECT_EQ(CTL_OK(db_, "port-to-br p0"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "iface-to-br p1"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "get Port p0 tag"), "10\n");
  CTL_FAILS(db_, "--no-wait add-port br0 p0",
            "cannot create a port named p0 because a port named p0 already exists on bridge br0");
  CTL_FAILS(db_, "--no-wait add-port br0 br0",
            "cannot create a port named br0 because a bridge named br0 already exists");
  CTL_FAILS(db_, "--no-wait add-port br9 p5", "no bridge named br9");
  CTL_FAILS(db_, "--no-wait add-br p0",
            "cannot create a bridge named p0 because a port named p0 already exists on bridge br0");
  CTL_OK(db_, "--no-wait --may-exist add-port br0 p0");

  CTL_OK(db_, "--no-wait add-br br1");
  CTL_FAILS(db_, "--no-wait --may-exist add-port br1 p0",
            "\"--may-exist add-port br1 p0\" but p0 is actually attached to bridge br0");
  CTL_FAILS(db_, "--no-wait del-port br1 p0", "bridge br1 does not have a port p0");
  CTL_FAILS(db_, "--no-wait del-port br0 br0",
            "cannot delete port br0 because it is the local port for bridge br0");
  CTL_FAILS(db_, "port-to-br p9", "no port named p9");
  CTL_FAILS(db_, "iface-to-br p9", "no interface named p9");
  CTL_FAILS(db_, "list-ports br9", "no bridge named br9");

  CTL_OK(db_, "--no-wait del-port br0 p0");
  CTL_OK(db_, "--no-wait del-port p1");
  EXPECT_EQ(CTL_OK(db_, "list-ports br0"), "");
  CTL_FAILS(db_, "--no-wait del-port p0", "no port named p0");
  CTL_OK(db_, "--no-wait --if-exists del-port p0");
  // Deleting dropped the references; the server collected the rows.
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port name=p0"), "");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Interface name=p1"), "");

  CTL_OK(db_, "--no-wait del-br br1");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
  CTL_FAILS(db_, "--no-wait del-br br9", "no bridge named br9");
  CTL_OK(db_, "--no-wait --if-exists del-br br9");
  CTL_OK(db_, "--no-wait del-br br0");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name list Interface"), "");
  // A bridge can be re-created in the same run that deletes it.
  CTL_OK(db_, "--no-wait add-br br0 -- del-br br0 -- add-br br0");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
}

TEST_F(SluicectlDb, ChainedCommandsAreOneTransaction) {
  CTL_OK(db_,
         "--no-wait add-br br0 -- add-port br0 p0 -- set Interface p0 type=dpdk "
         "options:dpdk-devargs=net_null0");
  EXPECT_EQ(CTL_OK(db_, "get Interface p0 type options:dpdk-devargs"), "dpdk\nnet_null0\n");
  // The string with commas and '=' is one map value.
  CTL_OK(db_,
         "--no-wait set Interface p0 options:dpdk-devargs=net_pcap0,rx_pcap=in.pcap,infinite_rx=1");
  EXPECT_EQ(CTL_OK(db_, "get Interface p0 options"),
            "{dpdk-devargs=\"net_pcap0,rx_pcap=in.pcap,infinite_rx=1\"}\n");

  // A failure in any command: nothing of the run is committed.
  CTL_FAILS(db_, "--no-wait add-br br2 -- add-port br2 p9 -- set Interface nosuch type=dpdk",
            "no row \"nosuch\" in table Interface");
  EXPECT_EQ(db_.Ctl("br-exists br2").rc, 2);
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port name=p9"), "");

  // Commands see what earlier commands of the run did, outputs in order.
  EXPECT_EQ(
      CTL_OK(
          db_,
          "--no-wait add-br br3 -- list-br -- add-port br3 q0 -- list-ports br3 -- port-to-br q0"),
      "br0\nbr3\nq0\nbr3\n");

  EXPECT_EQ(
      CTL_OK(db_, "show"),
      CTL_OK(db_, "get Open_vSwitch . _uuid") +
          "    Bridge br0\n"
          "        Port br0\n"
          "            Interface br0\n"
          "                type: internal\n"
          "        Port p0\n"
          "            Interface p0\n"
          "                type: dpdk\n"
          "                options: {dpdk-devargs=\"net_pcap0,rx_pcap=in.pcap,infinite_rx=1\"}\n"
          "    Bridge br3\n"
          "        Port br3\n"
          "            Interface br3\n"
          "                type: internal\n"
          "        Port q0\n"
          "            Interface q0\n");
}

TEST_F(SluicectlDb, ControllersAndFailMode) {
  CTL_OK(db_, "--no-wait add-br br0");
  CTL_OK(db_, "--no-wait set-controller br0 tcp:127.0.0.1:6653 ptcp:6654");
  EXPECT_EQ(CTL_OK(db_, "get-controller br0"), "ptcp:6654\ntcp:127.0.0.1:6653\n");
  CTL_OK(db_, "--no-wait set-controller br0 ptcp:6653");
  EXPECT_EQ(CTL_OK(db_, "get-controller br0"), "ptcp:6653\n");
  // The replaced controllers were collected: one row left.
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=target list Controller"), "ptcp:6653\n");
  // A Controller record is named by its bridge.
  EXPECT_EQ(CTL_OK(db_, "get Controller br0 target"), "\"ptcp:6653\"\n");
  CTL_OK(db_, "--no-wait set Controller br0 inactivity_probe=3000");
  EXPECT_EQ(CTL_OK(db_, "get Controller br0 inactivity_probe"), "3000\n");
  CTL_OK(db_, "--no-wait del-controller br0");
  EXPECT_EQ(CTL_OK(db_, "get-controller br0"), "");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=target list Controller"), "");

  EXPECT_EQ(CTL_OK(db_, "get-fail-mode br0"), "");
  CTL_OK(db_, "--no-wait set-fail-mode br0 secure");
  EXPECT_EQ(CTL_OK(db_, "get-fail-mode br0"), "secure\n");
  CTL_FAILS(db_, "--no-wait set-fail-mode br0 bogus",
            "fail-mode must be \"standalone\" or \"secure\"");
  CTL_OK(db_, "--no-wait del-fail-mode br0");
  EXPECT_EQ(CTL_OK(db_, "get-fail-mode br0"), "");

  // --id=@name: a row created in the run, referenced before or after.
  std::string out = CTL_OK(db_,
                           "--no-wait -- --id=@c create Controller "
                           "target=\\\"tcp:10.0.0.1:6653\\\" -- set Bridge br0 controller=@c");
  ASSERT_EQ(out.size(), 37u) << out;  // the new row's UUID
  EXPECT_EQ(CTL_OK(db_, "get Bridge br0 controller"), "[" + out.substr(0, 36) + "]\n");
  CTL_OK(db_,
         "--no-wait -- set Bridge br0 controller=@c2 -- --id=@c2 create Controller "
         "target=\\\"ptcp:1\\\"");
  EXPECT_EQ(CTL_OK(db_, "get-controller br0"), "ptcp:1\n");
  CTL_FAILS(
      db_, "--no-wait set Bridge br0 controller=@nope",
      "row id \"@nope\" is referenced but never created (e.g. with \"-- --id=@nope create ...\")");
  CTL_FAILS(db_, "--no-wait -- --id=c create Controller target=x",
            "row id \"c\" does not begin with \"@\"");
}

TEST_F(SluicectlDb, DatabaseCommands) {
  CTL_OK(db_, "--no-wait add-br br0 -- add-port br0 p0");
  // set: whole columns, map keys, quoting.
  CTL_OK(db_,
         "--no-wait set Bridge br0 other_config:a=b 'other_config:dpdk-extra=--no-huge -m 1024' "
         "protocols=OpenFlow13,OpenFlow10");
  EXPECT_EQ(
      CTL_OK(db_, "get Bridge br0 other_config protocols other_config:dpdk-extra"),
      "{a=b, dpdk-extra=\"--no-huge -m 1024\"}\n[OpenFlow10, OpenFlow13]\n\"--no-huge -m 1024\"\n");
  CTL_OK(db_, "--no-wait set Bridge br0 'external_ids={x=\"1 2\", y=z}'");
  EXPECT_EQ(CTL_OK(db_, "get Bridge br0 external_ids"), "{x=\"1 2\", y=z}\n");
  CTL_OK(db_, "--no-wait set Open_vSwitch . other_config:pmd-cpu-mask=0x2");
  EXPECT_EQ(CTL_OK(db_, "get Open_vSwitch . other_config:pmd-cpu-mask"), "\"0x2\"\n");
  // Abbreviated and case-insensitive table and column names; UUID records.
  EXPECT_EQ(CTL_OK(db_, "get bridge br0 fail"), "[]\n");
  std::string uuid = CTL_OK(db_, "get Bridge br0 _uuid");
  ASSERT_EQ(uuid.size(), 37u);
  EXPECT_EQ(CTL_OK(db_, "get Bridge " + uuid.substr(0, 36) + " name"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "get Bridge " + uuid.substr(0, 8) + " name"), "br0\n");
  CTL_FAILS(db_, "get Bridge br0 other_config:zz",
            "no key \"zz\" in Bridge record \"br0\" column other_config");
  EXPECT_EQ(CTL_OK(db_, "--if-exists get Bridge br0 other_config:zz"), "\n");

  // add, remove, clear.
  CTL_OK(
      db_,
      "--no-wait add Bridge br0 protocols OpenFlow14 -- add Bridge br0 other_config a=changed c=d");
  EXPECT_EQ(CTL_OK(db_, "get Bridge br0 protocols other_config:a other_config:c"),
            "[OpenFlow10, OpenFlow13, OpenFlow14]\nb\nd\n");  // add keeps an existing key's value
  CTL_OK(db_,
         "--no-wait remove Bridge br0 protocols OpenFlow10 -- remove Bridge br0 other_config a=zz "
         "c -- remove Bridge br0 other_config dpdk-extra");
  EXPECT_EQ(CTL_OK(db_, "get Bridge br0 protocols other_config"),
            "[OpenFlow13, OpenFlow14]\n{a=b}\n");
  CTL_FAILS(db_, "--no-wait add Port p0 tag 7 -- add Port p0 tag 8",
            "\"add\" operation would put 2 values in column tag of table Port but the maximum "
            "number is 1");
  CTL_FAILS(
      db_,
      "--no-wait remove Port p0 interfaces " + CTL_OK(db_, "get Interface p0 _uuid").substr(0, 36),
      "\"remove\" operation would put 0 values in column interfaces of table Port but the minimum "
      "number is 1");
  CTL_OK(db_, "--no-wait clear Bridge br0 protocols other_config");
  EXPECT_EQ(CTL_OK(db_, "get Bridge br0 protocols other_config"), "[]\n{}\n");
  CTL_FAILS(db_, "--no-wait clear Port p0 interfaces",
            "\"clear\" operation cannot be applied to column interfaces of table Port, which is "
            "not allowed to be empty");

  // find and list.
  CTL_OK(db_, "--no-wait set Port p0 tag=5 trunks=1-3,7");
  EXPECT_EQ(CTL_OK(db_, "get Port p0 trunks"), "[1, 2, 3, 7]\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port tag=5"), "p0\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port tag!=5"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port 'trunks{>=}[2,7]'"), "p0\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port 'trunks{<=}[2,7]'"),
            "br0\n");  // [] is a subset
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Interface type=internal"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "--columns=name,tag list Port p0"),
            "name                : p0\ntag                 : 5\n");
  EXPECT_EQ(CTL_OK(db_, "--columns=name,tag list Port"),
            "name                : br0\ntag                 : []\n\nname                : p0\ntag  "
            "               : 5\n");
  std::string all = CTL_OK(db_, "list Bridge br0");
  EXPECT_EQ(all.rfind("_uuid               : " + uuid, 0), 0u) << all;
  EXPECT_NE(all.find("\nname                : br0\n"), std::string::npos) << all;
  EXPECT_NE(all.find("\nfail_mode           : []\n"), std::string::npos) << all;

  // create and destroy.
  std::string mgr = CTL_OK(db_,
                           "--no-wait -- --id=@m create Manager target=\\\"ptcp:6640\\\" -- add "
                           "Open_vSwitch . manager_options @m");
  ASSERT_EQ(mgr.size(), 37u) << mgr;
  EXPECT_EQ(CTL_OK(db_, "get-manager"), "ptcp:6640\n");
  EXPECT_EQ(CTL_OK(db_, "get Manager ptcp:6640 _uuid"), mgr);
  Result r = db_.Ctl("--no-wait create Manager target=x");
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_NE(r.err.find("without --id option will have no effect"), std::string::npos) << r;
  CTL_OK(db_, "--no-wait del-manager");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=target list Manager"), "");
  CTL_FAILS(db_, "--no-wait destroy Bridge br9", "no row \"br9\" in table Bridge");
  CTL_OK(db_, "--no-wait --if-exists destroy Bridge br9");

  // Errors in names and values.
  CTL_FAILS(db_, "get Nosuch x y", "unknown table \"Nosuch\"");
  CTL_FAILS(db_, "get Bridge br0 nosuch",
            "Bridge does not contain a column whose name matches \"nosuch\"");
  CTL_FAILS(db_, "--no-wait set Bridge br9 fail_mode=secure", "no row \"br9\" in table Bridge");
  CTL_FAILS(db_, "--no-wait set Port p0 tag=abc", "\"abc\" is not a valid integer");
  CTL_FAILS(db_, "--no-wait set Bridge br0 name=x",
            "cannot modify read-only column name in table Bridge");
  CTL_FAILS(db_, "--no-wait set Bridge br0 other_config:x",
            "other_config:x: argument does not end in \"=\" followed by a value.");
  CTL_FAILS(db_, "--no-wait set Bridge br0 protocols=OpenFlow99", "constraint violation");
  CTL_FAILS(db_, "--no-wait set Bridge br0 datapath_type=a=b", "unexpected \"=\"");
  CTL_FAILS(db_, "--no-wait add-br brz -- frobnicate",
            "unknown command 'frobnicate'; use --help for help");
  CTL_FAILS(db_, "add-br", "'add-br' command requires at least 1 arguments");
  CTL_FAILS(db_, "list-br extra", "'list-br' command takes at most 0 arguments");
  CTL_FAILS(db_, "--may-exist list-br", "'list-br' command has no '--may-exist' option");
}

TEST_F(SluicectlDb, FormatsForScripts) {
  CTL_OK(db_, "--no-wait add-br br0 -- add-port br0 p0 tag=7 -- set Bridge br0 other_config:k=v");
  json j = json::parse(CTL_OK(db_, "--format=json list Bridge br0"));
  ASSERT_TRUE(j.contains("headings") && j.contains("data")) << j.dump();
  auto headings = j["headings"].get<std::vector<std::string>>();
  EXPECT_EQ(headings.front(), "_uuid");
  auto col = [&](const std::string& name) {
    return static_cast<size_t>(std::find(headings.begin(), headings.end(), name) -
                               headings.begin());
  };
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0][col("name")], "br0");
  EXPECT_EQ(j["data"][0][col("other_config")], json::parse(R"(["map",[["k","v"]]])"));
  EXPECT_EQ(j["data"][0][col("fail_mode")], json::parse(R"(["set",[]])"));
  EXPECT_EQ(j["data"][0][col("_uuid")][0], "uuid");

  j = json::parse(CTL_OK(db_, "-f json --columns=name,tag find Port tag=7"));
  EXPECT_EQ(j, json::parse(R"({"data":[["p0",7]],"headings":["name","tag"]})"));
  j = json::parse(CTL_OK(db_, "--format json --columns=name list Port"));
  EXPECT_EQ(j["data"], json::parse(R"([["br0"],["p0"]])"));
  EXPECT_EQ(CTL_OK(db_, "--format=json get Bridge br0 other_config other_config:k name"),
            "[\"map\",[[\"k\",\"v\"]]]\n\"v\"\n\"br0\"\n");

  EXPECT_EQ(CTL_OK(db_, "--format=table --columns=name,tag list Port"),
            "name tag\n"
            "---- ---\n"
            "br0  []\n"
            "p0   7\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name,other_config list Bridge"), "br0\nk=v\n");
}

TEST_F(SluicectlDb, RejectedTransactionLeavesTheStoreUnchanged) {
  CTL_OK(db_, "--no-wait add-br br0 -- add-port br0 p0 tag=10");
  // Checked before committing (the schema's range).
  CTL_FAILS(db_, "--no-wait set Port p0 tag=5000", "constraint violation");
  CTL_FAILS(db_, "--no-wait set Port p0 tag=20 -- add-port br0 p1 -- set Port p0 tag=5000",
            "constraint violation");
  EXPECT_EQ(CTL_OK(db_, "get Port p0 tag"), "10\n");
  EXPECT_EQ(CTL_OK(db_, "list-ports br0"), "p0\n");
  // Refused by the server at commit (the bridge is still referenced).
  CTL_FAILS(db_, "--no-wait set Port p0 tag=30 -- destroy Bridge br0", "transaction error");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "get Port p0 tag"), "10\n");
  // --dry-run commits nothing either.
  CTL_OK(db_, "--no-wait --dry-run set Port p0 tag=40");
  EXPECT_EQ(CTL_OK(db_, "get Port p0 tag"), "10\n");
}

TEST_F(SluicectlDb, WaitsForTheSwitchUnlessNoWait) {
  // No switch: the change commits, the wait for cur_cfg times out and says so.
  Result r = db_.Ctl("--timeout=1 add-br br0");
  EXPECT_EQ(r.rc, 142) << r;
  EXPECT_NE(r.err.find("sluicectl: timeout after 1 seconds waiting for sluice-switchd to apply the "
                       "change (cur_cfg 0, next_cfg 1); the change is committed"),
            std::string::npos)
      << r;
  EXPECT_LT(r.seconds, 15) << r;
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "get Open_vSwitch . next_cfg cur_cfg"), "1\n0\n");

  r = db_.Ctl("--no-wait add-br br1");
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_LT(r.seconds, 10) << r;  // no wait (generous: the machine is shared)
  EXPECT_EQ(CTL_OK(db_, "get Open_vSwitch . next_cfg"), "1\n")
      << "--no-wait does not bump next_cfg";
  // Read-only commands never wait.
  r = db_.Ctl("--timeout=1 list-br");
  EXPECT_EQ(r.rc, 0) << r;

  // A stand-in for sluice-switchd: a Replica that copies next_cfg to cur_cfg
  // after every change, as the switch does once it has applied one.
  sluice::db::ReplicaOptions o;
  o.target = db_.target();
  o.tables = {"Open_vSwitch"};
  sluice::db::Replica* self = nullptr;
  std::atomic<int> applied{0};
  sluice::db::Replica sw(o, [&](const sluice::db::Replica::Tables& t) {
    for (const auto& [uuid, row] : t.at("Open_vSwitch")) {
      if (row["cur_cfg"] == row["next_cfg"]) continue;
      json ops = json::array(
          {{{"op", "update"},
            {"table", "Open_vSwitch"},
            {"where", json::array({json::array({"_uuid", "==", json::array({"uuid", uuid})})})},
            {"row", {{"cur_cfg", row["next_cfg"]}}}}});
      self->Transact(ops, [&](const json&, const std::string& e) {
        EXPECT_EQ(e, "");
        ++applied;
      });
    }
  });
  self = &sw;
  sw.Start();
  ASSERT_TRUE(sluice::test::PollUntil([&] { return applied.load() >= 1; }, 60));
  r = db_.Ctl("--timeout=60 add-br br2");
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_EQ(CTL_OK(db_, "get Open_vSwitch . next_cfg cur_cfg"), "2\n2\n");
  r = db_.Ctl(
      "add-port br2 p0 -- set Interface p0 type=dpdk");  // no --timeout: waits as long as needed
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_EQ(CTL_OK(db_, "get Open_vSwitch . cur_cfg"), "3\n");
  sw.Stop();
}

TEST_F(SluicectlDb, ConcurrentRunsRetryAndAllSucceed) {
  CTL_OK(db_, "--no-wait add-br br0");
  // Each run reads br0's ports (for the name checks) and adds one: they
  // conflict, the losers are redone from a fresh read.
  std::string script;
  for (int i = 0; i < 6; ++i) {
    script += BuildDir() + "/tools/sluicectl --db=" + db_.target() + " --no-wait add-port br0 c" +
              std::to_string(i) + " -- set Interface c" + std::to_string(i) + " type=dpdk & ";
  }
  Result r = db_.Run("{ " + script + "wait; }");
  EXPECT_EQ(r.err, "") << r;
  EXPECT_EQ(CTL_OK(db_, "list-ports br0"), "c0\nc1\nc2\nc3\nc4\nc5\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Interface type=dpdk"),
            "c0\n\nc1\n\nc2\n\nc3\n\nc4\n\nc5\n");
}

TEST_F(SluicectlDb, ConcurrentRunsDecideOnCurrentData) {
  // Six runs race to add a port named "dup", each to its own bridge: one
  // wins; every loser, redone after the winner's commit changed the Port
  // names it had read, reports the conflict itself (not as the server's
  // index violation).
  std::string script = BuildDir() + "/tools/sluicectl --db=" + db_.target() + " --no-wait";
  CTL_OK(db_, "--no-wait add-br b0 -- add-br b1 -- add-br b2 -- add-br b3 -- add-br b4 -- add-br b5");
  std::string cmd = "{ ";
  for (int i = 0; i < 6; ++i) cmd += script + " add-port b" + std::to_string(i) + " dup & ";
  Result r = db_.Run(cmd + "wait; }");
  int conflicts = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.find("cannot create a port named dup because a port named dup already exists on bridge b"),
              std::string::npos)
        << r;
    ++conflicts;
  }
  EXPECT_EQ(conflicts, 5) << r;
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port name=dup"), "dup\n");
}

TEST_F(SluicectlDb, OvsVsctlReadsBackWhatSluicectlWrites) {
  if (!HaveOvs()) FAIL() << "ovs-vsctl is not installed (scripts/install-deps.sh installs it)";
  CTL_OK(db_,
         "--no-wait add-br br0 -- add-port br0 p0 tag=5 -- set Interface p0 type=dpdk "
         "options:dpdk-devargs=net_null0 "
         "-- add-port br0 p1 -- set-fail-mode br0 secure -- set-controller br0 tcp:127.0.0.1:6653 "
         "-- set Bridge br0 other_config:k=v -- add-br br1");
  for (const char* q : {"list-br", "list-ports br0", "get Interface p0 type options",
                        "get Port p0 tag", "get Bridge br0 fail_mode other_config",
                        "get-controller br0", "port-to-br p1", "iface-to-br p0"}) {
    Result theirs = db_.Vsctl(q);
    EXPECT_EQ(theirs.rc, 0) << q << "\n" << theirs;
    EXPECT_EQ(theirs.out, CTL_OK(db_, q)) << q;
  }
  // And the other way round.
  Result w = db_.Vsctl("add-port br1 v0 -- set Interface v0 type=internal -- set Port v0 tag=9");
  ASSERT_EQ(w.rc, 0) << w;
  EXPECT_EQ(CTL_OK(db_, "list-ports br1"), "v0\n");
  EXPECT_EQ(CTL_OK(db_, "get Port v0 tag"), "9\n");
}

TEST(SluicectlCli, HelpListsBothGroups) {
  int rc;
  std::string out = Shell(BuildDir() + "/tools/sluicectl --help", &rc);
  EXPECT_EQ(rc, 0) << out;
  for (const char* word : {"add-br BRIDGE", "set-controller", "find TBL", "--no-wait", "--db",
                           "pmd-stats", "dump-flows"}) {
    EXPECT_NE(out.find(word), std::string::npos) << word << " missing in:\n" << out;
  }
}

TEST(SluicectlCli, UnreachableDatabase) {
  int rc;
  std::string out = Shell(
      BuildDir() + "/tools/sluicectl --db=unix:/nonexistent/db.sock --no-wait add-br br0", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(
      out, "sluicectl: unix:/nonexistent/db.sock: connection failed (No such file or directory)\n");
}

// The core commands against both real servers: sluice-db and Open vSwitch's
// ovsdb-server (its full vswitch schema), with ovs-vsctl reading back.
class SluicectlBothServers : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    if (GetParam() == ServerKind::kOvsdbServer && !HaveOvs())
      FAIL() << "Open vSwitch is not installed (scripts/install-deps.sh installs it)";
    ASSERT_TRUE(db_.Start(GetParam(), "both-" + KindName(GetParam())));
  }
  void TearDown() override { db_.Stop(!HasFailure()); }
  DbFixture db_;
};

TEST_P(SluicectlBothServers, CoreCommands) {
  CTL_OK(db_,
         "--no-wait add-br br0 -- add-port br0 p0 -- set Interface p0 type=dpdk "
         "options:dpdk-devargs=net_null0");
  CTL_OK(db_,
         "--no-wait add-port br0 p1 tag=3 -- set-controller br0 ptcp:6653 -- set-fail-mode br0 "
         "standalone");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "br0\n");
  EXPECT_EQ(CTL_OK(db_, "list-ports br0"), "p0\np1\n");
  EXPECT_EQ(CTL_OK(db_, "get Interface p0 type options:dpdk-devargs"), "dpdk\nnet_null0\n");
  EXPECT_EQ(CTL_OK(db_, "get-controller br0"), "ptcp:6653\n");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name find Port tag=3"), "p1\n");
  CTL_FAILS(db_, "--no-wait set Port p1 tag=5000", "constraint violation");
  EXPECT_EQ(CTL_OK(db_, "get Port p1 tag"), "3\n");
  if (HaveOvs()) {
    for (const char* q : {"list-br", "list-ports br0", "get Interface p0 type options",
                          "get Port p1 tag", "get-controller br0", "get-fail-mode br0"}) {
      Result theirs = db_.Vsctl(q);
      EXPECT_EQ(theirs.rc, 0) << q << "\n" << theirs;
      EXPECT_EQ(theirs.out, CTL_OK(db_, q)) << q;
    }
  }
  CTL_OK(db_, "--no-wait del-port p0 -- del-br br0");
  EXPECT_EQ(CTL_OK(db_, "list-br"), "");
  EXPECT_EQ(CTL_OK(db_, "--bare --columns=name list Interface"), "");
}

INSTANTIATE_TEST_SUITE_P(Servers, SluicectlBothServers,
                         ::testing::Values(ServerKind::kSluiceDb, ServerKind::kOvsdbServer),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
