// Integration test: the real Open vSwitch clients against sluice-db.
//
//   - ovsdb-client list-dbs, get-schema, transact, and monitor (running in
//     the background, it sees an insert made by ovs-vsctl);
//   - ovs-vsctl --no-wait (no sluice-switchd bumps cur_cfg here): add-br,
//     add-port with a dpdk Interface, list-br, list-ports, show, set/get,
//     del-port, set-controller/get-controller, del-br, and the errors of a
//     duplicate bridge and a missing one;
//   - a restart after SIGKILL on the same file keeps the bridges and the
//     single root row;
//   - --detach returns once the socket answers, writes the pidfile, and
//     SIGTERM removes it;
//   - ptcp: and pssl: (mutual certificates made with the openssl CLI; a
//     TLS client without a certificate is refused);
//   - no ovs-vsctl command warns "database needs upgrade": the schema has
//     every table and column Open vSwitch's IDL asks for; the ones Sluice
//     ignores (Mirror, NetFlow, ...) are stored and collected as in OVS;
//   - a file written under schema 1.0.0 is served, upgraded, by the current
//     schema;
//   - ovs-vsctl's fallbacks, with an in-process server that pretends not to
//     know monitor_cond_since (and monitor_cond): ovs-vsctl still works.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/builtin_schema.h"
#include "db/database.h"
#include "db/server.h"

namespace sluice::db {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string BuildDir() {
  const char* d = std::getenv("SLUICE_BUILD_DIR");
  return d ? d : ".";
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ShResult {
  int rc = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `cmd` with /bin/sh (bounded by `timeout` seconds).
ShResult Sh(const std::string& cmd, const fs::path& dir, int timeout = 30) {
  fs::path err_file = dir / "stderr.txt";
  std::string full =
      "timeout " + std::to_string(timeout) + " " + cmd + " 2>" + Quote(err_file.string());
  ShResult r;
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err_file);
  return r;
}

::testing::AssertionResult Ok(const ShResult& r, const std::string& what) {
  if (r.rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << " -> exit " << r.rc << "\nstdout: " << r.out << "\nstderr: " << r.err;
}

bool UnixSocketAnswers(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

bool TcpPortAnswers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

template <class Pred>
bool PollUntil(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A program in the background, its stdout and stderr in `log`.
class Child {
 public:
  ~Child() { Stop(SIGKILL); }
  bool Start(const std::vector<std::string>& argv, const fs::path& log,
             const std::vector<std::string>& env = {}) {
    log_ = log;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      setpgid(0, 0);
      if (!freopen(log.c_str(), "a", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    return true;
  }
  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  // Sends `sig` and waits (bounded) for the exit.
  void Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_); }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

// What Open vSwitch's IDL logs when the server's schema lacks a table or a
// column it knows.
constexpr char kNeedsUpgrade[] = "database needs upgrade";

class OvsToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-ovs-tools-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sock_ = (dir_ / "db.sock").string();
    db_ = unix_db();
    binary_ = BuildDir() + "/tools/sluice-db";
    ASSERT_TRUE(fs::exists(binary_)) << binary_ << " not built";
  }
  void TearDown() override {
    server_.Stop();
    if (HasFailure()) std::cerr << "sluice-db log:\n" << ReadFile(dir_ / "sluice-db.log") << "\n";
    fs::remove_all(dir_);
  }

  std::string unix_db() const { return "unix:" + sock_; }

  // Starts sluice-db in the foreground (a child of the test) and waits for its socket.
  ::testing::AssertionResult StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {binary_, "--db=" + (dir_ / "conf.db").string(),
                                     "--remote=punix:" + sock_, "--log-level=debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    fs::remove(sock_);
    if (!server_.Start(argv, dir_ / "sluice-db.log", {"SLUICE_RUNDIR=" + dir_.string()})) {
      return ::testing::AssertionFailure() << "fork failed";
    }
    if (!PollUntil([&] { return UnixSocketAnswers(sock_) || !server_.Running(); }, 20s) ||
        !server_.Running()) {
      return ::testing::AssertionFailure() << "sluice-db did not start:\n" << server_.Log();
    }
    return ::testing::AssertionSuccess();
  }

  ShResult Vsctl(const std::string& args, const std::string& db = "") {
    return Sh("ovs-vsctl --db=" + (db.empty() ? unix_db() : db) + " --timeout=20 --no-wait " + args,
              dir_);
  }
  std::string VsctlOut(const std::string& args) {
    ShResult r = Vsctl(args);
    EXPECT_TRUE(Ok(r, "ovs-vsctl " + args));
    return r.out;
  }
  ShResult Client(const std::string& args) { return Sh("ovsdb-client " + args, dir_); }
  // Expects `args` to succeed without the IDL's warning that the database
  // lacks a table or column it knows.
  void ExpectVsctlClean(const std::string& args) {
    ShResult r = Vsctl(args);
    EXPECT_TRUE(Ok(r, "ovs-vsctl " + args));
    EXPECT_EQ((r.out + r.err).find(kNeedsUpgrade), std::string::npos)
        << "ovs-vsctl " << args << "\nstdout: " << r.out << "\nstderr: " << r.err;
  }

  fs::path dir_;
  std::string sock_, db_, binary_;
  Child server_;
};

TEST_F(OvsToolsTest, OvsdbClientListDbsGetSchemaTransactMonitor) {
  ASSERT_TRUE(StartServer());
  ShResult r = Client("list-dbs " + db_);
  ASSERT_TRUE(Ok(r, "list-dbs"));
  EXPECT_EQ(r.out, "Open_vSwitch\n_Server\n");

  r = Client("get-schema " + db_ + " Open_vSwitch");
  ASSERT_TRUE(Ok(r, "get-schema"));
  nlohmann::json schema = nlohmann::json::parse(r.out);
  EXPECT_EQ(schema["name"], "Open_vSwitch");
  // The built-in schema is served (in the engine's normalized form).
  nlohmann::json builtin = nlohmann::json::parse(BuiltinSchemaText());
  for (auto& [table, t] : builtin["tables"].items()) {
    ASSERT_TRUE(schema["tables"].contains(table)) << table;
    for (auto& [column, c] : t["columns"].items())
      EXPECT_TRUE(schema["tables"][table]["columns"].contains(column));
  }

  // A new database has exactly one root row.
  r = Client(
      "transact " + db_ + " " +
      Quote(
          R"(["Open_vSwitch",{"op":"select","table":"Open_vSwitch","where":[],"columns":["bridges"]}])"));
  ASSERT_TRUE(Ok(r, "transact select"));
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::parse(R"([{"rows":[{"bridges":["set",[]]}]}])"))
      << r.out;

  // An operation's error is part of the result.
  r = Client("transact " + db_ + " " +
             Quote(R"(["Open_vSwitch",{"op":"select","table":"Nope","where":[]}])"));
  EXPECT_NE(r.out.find("\"error\""), std::string::npos) << r.out << r.err;

  // monitor in the background: wait for the initial row, then insert.
  ASSERT_TRUE(Ok(Vsctl("add-br br0"), "add-br br0"));
  Child monitor;
  fs::path mon_log = dir_ / "monitor.log";
  ASSERT_TRUE(monitor.Start(
      {"ovsdb-client", "monitor", db_, "Open_vSwitch", "Bridge", "name", "fail_mode"}, mon_log));
  ASSERT_TRUE(
      PollUntil([&] { return ReadFile(mon_log).find("initial") != std::string::npos; }, 15s))
      << ReadFile(mon_log);
  ASSERT_TRUE(Ok(Vsctl("add-br br1 -- set Bridge br1 fail_mode=secure"), "add-br br1"));
  EXPECT_TRUE(PollUntil(
      [&] {
        std::string log = ReadFile(mon_log);
        return log.find("insert") != std::string::npos && log.find("br1") != std::string::npos;
      },
      15s))
      << ReadFile(mon_log);
  ASSERT_TRUE(Ok(Vsctl("del-br br1"), "del-br br1"));
  EXPECT_TRUE(PollUntil([&] { return ReadFile(mon_log).find("delete") != std::string::npos; }, 15s))
      << ReadFile(mon_log);
  EXPECT_TRUE(monitor.Running()) << ReadFile(mon_log);
  monitor.Stop();
}

TEST_F(OvsToolsTest, OvsVsctlConfiguresBridgesPortsAndControllers) {
  ASSERT_TRUE(StartServer());
  ASSERT_TRUE(Ok(Vsctl("add-br br0"), "add-br"));
  ASSERT_TRUE(
      Ok(Vsctl("add-port br0 p0 -- set Interface p0 type=dpdk options:dpdk-devargs=net_null0"),
         "add-port"));
  EXPECT_EQ(VsctlOut("list-br"), "br0\n");
  EXPECT_EQ(VsctlOut("list-ports br0"), "p0\n");
  EXPECT_EQ(VsctlOut("port-to-br p0"), "br0\n");

  std::string show = VsctlOut("show");
  for (const char* want : {"Bridge br0", "Port br0", "type: internal", "Port p0", "Interface p0",
                           "type: dpdk", "options: {dpdk-devargs=net_null0}"}) {
    EXPECT_NE(show.find(want), std::string::npos) << want << " not in:\n" << show;
  }

  ASSERT_TRUE(Ok(Vsctl("set Bridge br0 fail_mode=secure"), "set fail_mode"));
  EXPECT_EQ(VsctlOut("get Bridge br0 fail_mode"), "secure\n");
  EXPECT_EQ(VsctlOut("get Interface p0 type"), "dpdk\n");
  EXPECT_EQ(VsctlOut("get Interface p0 options:dpdk-devargs"), "net_null0\n");

  ASSERT_TRUE(Ok(Vsctl("set-controller br0 tcp:127.0.0.1:6653"), "set-controller"));
  EXPECT_EQ(VsctlOut("get-controller br0"), "tcp:127.0.0.1:6653\n");

  ASSERT_TRUE(Ok(Vsctl("del-port br0 p0"), "del-port"));
  EXPECT_EQ(VsctlOut("list-ports br0"), "");
  EXPECT_EQ(VsctlOut("--columns=name find Interface name=p0"), "")
      << "the Interface row was collected";

  // Errors come from ovs-vsctl itself, after reading the database.
  ShResult dup = Vsctl("add-br br0");
  EXPECT_NE(dup.rc, 0);
  EXPECT_NE(
      dup.err.find("cannot create a bridge named br0 because a bridge named br0 already exists"),
      std::string::npos)
      << dup.err;
  ShResult missing = Vsctl("del-br nope");
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("no bridge named nope"), std::string::npos) << missing.err;

  ASSERT_TRUE(Ok(Vsctl("del-controller br0"), "del-controller"));
  EXPECT_EQ(VsctlOut("get-controller br0"), "");
  ASSERT_TRUE(Ok(Vsctl("del-br br0"), "del-br"));
  EXPECT_EQ(VsctlOut("list-br"), "");
  // Several commands in one transaction, and the Open_vSwitch table.
  ASSERT_TRUE(
      Ok(Vsctl("add-br brA -- add-br brB -- set Open_vSwitch . other_config:pmd-cpu-mask=0x2"),
         "multi"));
  EXPECT_EQ(VsctlOut("list-br"), "brA\nbrB\n");
  EXPECT_EQ(VsctlOut("get Open_vSwitch . other_config:pmd-cpu-mask"), "\"0x2\"\n");
}

TEST_F(OvsToolsTest, OvsVsctlFindsEveryTableAndColumnItKnows) {
  ASSERT_TRUE(StartServer());
  ExpectVsctlClean("add-br br0");
  ExpectVsctlClean("add-port br0 p1 -- set Interface p1 type=dpdk options:dpdk-devargs=net_null0");
  for (const char* table :
       {"Open_vSwitch", "Bridge", "Port", "Interface", "Controller", "Manager", "SSL", "Mirror",
        "NetFlow", "sFlow", "IPFIX", "QoS", "Queue", "Flow_Table", "AutoAttach", "Datapath",
        "Flow_Sample_Collector_Set", "CT_Zone", "CT_Timeout_Policy"}) {
    ExpectVsctlClean(std::string("list ") + table);
  }
  ExpectVsctlClean("show");
  ExpectVsctlClean("set-controller br0 tcp:127.0.0.1:6653");
  ExpectVsctlClean("set-fail-mode br0 secure");
  ExpectVsctlClean("set-manager ptcp:6640");
  ExpectVsctlClean("get Bridge br0 fail_mode");
  ExpectVsctlClean("set Bridge br0 other_config:k=v");
  ExpectVsctlClean("find Interface type=dpdk");
  ExpectVsctlClean("clear Bridge br0 protocols");

  // Features Sluice ignores are still stored, and garbage-collected as in
  // Open vSwitch: a Mirror or NetFlow row goes with its bridge, a mirror's
  // weak reference to a port goes with the port.
  ExpectVsctlClean(
      "-- --id=@p get Port p1 -- --id=@m create Mirror name=m0 select_src_port=@p "
      "-- add Bridge br0 mirrors @m");
  ExpectVsctlClean(
      "-- set Bridge br0 netflow=@nf stp_enable=true "
      "-- --id=@nf create NetFlow targets=\\\"192.0.2.1:5566\\\"");
  EXPECT_EQ(VsctlOut("get Bridge br0 stp_enable"), "true\n");
  EXPECT_EQ(VsctlOut("--bare --columns=name list Mirror"), "m0\n");
  EXPECT_NE(VsctlOut("--bare --columns=select_src_port list Mirror"), "\n");
  ExpectVsctlClean("del-port br0 p1");
  EXPECT_EQ(VsctlOut("--bare --columns=select_src_port list Mirror"), "\n")
      << "the weak reference to the deleted port is removed";
  ExpectVsctlClean("del-br br0");
  EXPECT_EQ(VsctlOut("--bare --columns=_uuid list Mirror"), "");
  EXPECT_EQ(VsctlOut("--bare --columns=_uuid list NetFlow"), "");
  ExpectVsctlClean("del-manager");

  ShResult dump = Client("dump " + db_);
  ASSERT_TRUE(Ok(dump, "ovsdb-client dump"));
  EXPECT_NE(dump.out.find("AutoAttach table"), std::string::npos) << dump.out;
  EXPECT_EQ((dump.out + dump.err).find(kNeedsUpgrade), std::string::npos) << dump.err;
}

// A file written by a sluice-db that served schema 1.0.0 (the first one,
// kept in tests/db/data/) is served by the current schema: the rows are
// there, the new columns hold their defaults, and ovs-vsctl is content.
TEST_F(OvsToolsTest, FileOfSchema100IsServedByTheCurrentSchema) {
  const char* src = std::getenv("SLUICE_SOURCE_DIR");
  std::string old_schema =
      std::string(src ? src : SLUICE_SOURCE_DIR_DEFAULT) + "/tests/db/data/sluice-1.0.0.ovsschema";
  ASSERT_TRUE(StartServer({"--schema=" + old_schema}));
  ASSERT_TRUE(Ok(Vsctl("add-br br0 -- add-port br0 p0 -- set Interface p0 type=dpdk "
                       "options:dpdk-devargs=net_null0 -- set-controller br0 tcp:127.0.0.1:6653"),
                 "add with the old schema"));
  server_.Stop();
  ASSERT_TRUE(StartServer());
  EXPECT_EQ(VsctlOut("list-ports br0"), "p0\n");
  EXPECT_EQ(VsctlOut("get Interface p0 options:dpdk-devargs"), "net_null0\n");
  EXPECT_EQ(VsctlOut("get-controller br0"), "tcp:127.0.0.1:6653\n");
  EXPECT_EQ(VsctlOut("get Bridge br0 stp_enable mirrors"), "false\n[]\n");
  ExpectVsctlClean("list Bridge");
  ExpectVsctlClean("show");
  ExpectVsctlClean("del-br br0");
}

TEST_F(OvsToolsTest, BridgesSurviveSigkillAndRestart) {
  ASSERT_TRUE(StartServer());
  ASSERT_TRUE(Ok(Vsctl("add-br br0 -- add-port br0 p0 -- set Interface p0 type=dpdk"), "add"));
  ASSERT_TRUE(Ok(Vsctl("add-br br1"), "add br1"));
  server_.Stop(SIGKILL);
  ASSERT_TRUE(StartServer());
  EXPECT_EQ(VsctlOut("list-br"), "br0\nbr1\n");
  EXPECT_EQ(VsctlOut("list-ports br0"), "p0\n");
  EXPECT_EQ(VsctlOut("get Interface p0 type"), "dpdk\n");
  ShResult r = Client(
      "transact " + db_ + " " +
      Quote(
          R"(["Open_vSwitch",{"op":"select","table":"Open_vSwitch","where":[],"columns":["_uuid"]}])"));
  ASSERT_TRUE(Ok(r, "select root"));
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["rows"].size(), 1u)
      << "no second root row after the restart";
}

TEST_F(OvsToolsTest, SecondServerOnTheSameFileIsRefused) {
  ASSERT_TRUE(StartServer());
  ShResult r = Sh(binary_ + " --db=" + (dir_ / "conf.db").string() +
                      " --remote=punix:" + (dir_ / "other.sock").string(),
                  dir_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("in use by another sluice-db"), std::string::npos) << r.err;
  EXPECT_TRUE(Ok(Vsctl("list-br"), "the first one still serves"));
}

TEST_F(OvsToolsTest, HelpAndSchemaFile) {
  ShResult r = Sh(binary_ + " --help", dir_);
  ASSERT_TRUE(Ok(r, "--help"));
  for (const char* opt :
       {"--db", "--remote", "--schema", "--detach", "--pidfile", "--log-file", "--log-level"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  const char* src = std::getenv("SLUICE_SOURCE_DIR");
  std::string schema = std::string(src ? src : SLUICE_SOURCE_DIR_DEFAULT) + "/db/sluice.ovsschema";
  ASSERT_TRUE(StartServer({"--schema=" + schema}));
  EXPECT_TRUE(Ok(Vsctl("add-br br0"), "add-br with --schema"));
  // A schema that is not one is refused.
  std::ofstream(dir_ / "bad.ovsschema") << "{\"name\": 1}";
  r = Sh(binary_ + " --db=" + (dir_ / "x.db").string() + " --remote=punix:" +
             (dir_ / "x.sock").string() + " --schema=" + (dir_ / "bad.ovsschema").string(),
         dir_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("bad.ovsschema"), std::string::npos) << r.err;
}

TEST_F(OvsToolsTest, DetachPidfileAndCleanStop) {
  fs::path pidfile = dir_ / "sluice-db.pid";
  ShResult r = Sh("env SLUICE_RUNDIR=" + Quote(dir_.string()) + " " + binary_ +
                      " --db=" + (dir_ / "conf.db").string() + " --remote=punix:" + sock_ +
                      " --detach --pidfile --log-file",
                  dir_);
  ASSERT_TRUE(Ok(r, "sluice-db --detach"));
  // Ready when --detach returns: no polling.
  ASSERT_TRUE(Ok(Client("list-dbs " + db_), "list-dbs right after --detach"));
  ASSERT_TRUE(fs::exists(pidfile));
  pid_t pid = std::stoi(ReadFile(pidfile));
  ASSERT_GT(pid, 1);
  EXPECT_TRUE(Ok(Vsctl("add-br br0"), "add-br"));
  EXPECT_NE(ReadFile(dir_ / "sluice-db.log").find("listening on punix:"), std::string::npos)
      << "--log-file";
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_TRUE(PollUntil([&] { return !fs::exists(pidfile); }, 10s))
      << "the pidfile is removed on a clean stop";
  EXPECT_TRUE(PollUntil([&] { return !fs::exists(sock_); }, 10s)) << "and the socket";
}

TEST_F(OvsToolsTest, TcpAndSslRemotes) {
  int tcp = FreeTcpPort(), ssl = FreeTcpPort();
  ASSERT_GT(tcp, 0);
  ASSERT_GT(ssl, 0);
  // A CA and two leaves (server, client) with the openssl command line.
  auto pem = [&](const std::string& n) { return (dir_ / (n + ".pem")).string(); };
  auto key = [&](const std::string& n) { return (dir_ / (n + ".key")).string(); };
  const std::string newkey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  ASSERT_TRUE(
      Ok(Sh("openssl req -x509 " + newkey + " -days 2 -subj /CN=sluice-db-test-ca -keyout " +
                key("ca") + " -out " + pem("ca"),
            dir_),
         "make CA"));
  for (const char* leaf : {"server", "client"}) {
    std::string csr = (dir_ / (std::string(leaf) + ".csr")).string();
    ASSERT_TRUE(Ok(Sh("openssl req -new " + newkey + " -subj /CN=" + leaf + " -keyout " +
                          key(leaf) + " -out " + csr,
                      dir_),
                   "make csr"));
    ASSERT_TRUE(Ok(Sh("openssl x509 -req -in " + csr + " -CA " + pem("ca") + " -CAkey " +
                          key("ca") + " -CAcreateserial -days 2 -out " + pem(leaf),
                      dir_),
                   "sign"));
  }
  ASSERT_TRUE(StartServer({"--remote=ptcp:" + std::to_string(tcp) + ":127.0.0.1",
                           "--remote=pssl:" + std::to_string(ssl) + ":127.0.0.1",
                           "--private-key=" + key("server"), "--certificate=" + pem("server"),
                           "--ca-cert=" + pem("ca")}));
  ASSERT_TRUE(PollUntil([&] { return TcpPortAnswers(tcp) && TcpPortAnswers(ssl); }, 10s));

  const std::string tcp_db = "tcp:127.0.0.1:" + std::to_string(tcp);
  ASSERT_TRUE(Ok(Vsctl("add-br brtcp", tcp_db), "add-br over tcp"));
  ShResult r = Vsctl("list-br", tcp_db);
  EXPECT_EQ(r.out, "brtcp\n") << r.err;

  const std::string ssl_db = "ssl:127.0.0.1:" + std::to_string(ssl);
  const std::string pki = " --private-key=" + key("client") + " --certificate=" + pem("client") +
                          " --ca-cert=" + pem("ca") + " ";
  r = Sh("ovs-vsctl --db=" + ssl_db + pki + "--timeout=20 --no-wait add-br brssl", dir_);
  ASSERT_TRUE(Ok(r, "add-br over ssl"));
  r = Sh("ovsdb-client" + pki + "list-dbs " + ssl_db, dir_);
  ASSERT_TRUE(Ok(r, "list-dbs over ssl"));
  EXPECT_EQ(r.out, "Open_vSwitch\n_Server\n");
  EXPECT_EQ(VsctlOut("list-br"), "brssl\nbrtcp\n");

  // A TLS client without a certificate is refused; the server goes on.
  Sh("openssl s_client -connect 127.0.0.1:" + std::to_string(ssl) + " -CAfile " + pem("ca") +
         " </dev/null",
     dir_, 10);
  EXPECT_TRUE(
      PollUntil([&] { return server_.Log().find("handshake failed") != std::string::npos; }, 10s))
      << server_.Log();
  r = Sh("ovsdb-client" + pki + "list-dbs " + ssl_db, dir_);
  EXPECT_TRUE(Ok(r, "list-dbs over ssl after a refused client"));
  EXPECT_TRUE(Ok(Client("list-dbs " + db_), "still serving"));
}

// ovs-vsctl asks for monitor_cond_since first; on an "unknown method" error
// it falls back to monitor_cond, then to monitor. The server runs in process
// here, with those methods disabled.
class OvsVsctlFallbackTest : public OvsToolsTest {
 protected:
  void StartInProcess(std::set<std::string> disabled) {
    std::string error;
    auto schema = ParseSchema(nlohmann::json::parse(BuiltinSchemaText()), &error);
    ASSERT_TRUE(schema) << error;
    db_engine_ = Database::Open((dir_ / "conf.db").string(), schema, &error);
    ASSERT_TRUE(db_engine_) << error;
    ServerOptions o;
    o.remotes = {"punix:" + sock_};
    o.disabled_methods = std::move(disabled);
    server_obj_ = std::make_unique<Server>(io_, *db_engine_, o);
    ASSERT_TRUE(server_obj_->Start(&error)) << error;
    server_obj_->Transact(
        nlohmann::json::parse(R"([{"op":"insert","table":"Open_vSwitch","row":{}}])"));
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      boost::asio::post(io_, [this] { server_obj_->Stop(); });
      work_.reset();
      thread_.join();
    }
    server_obj_.reset();
    db_engine_.reset();
    OvsToolsTest::TearDown();
  }

  void ExpectVsctlWorks(const std::string& expect_method) {
    ShResult r = Sh(
        "ovs-vsctl --db=" + unix_db() + " --timeout=20 --no-wait -vjsonrpc:dbg add-br br0", dir_);
    ASSERT_TRUE(Ok(r, "add-br"));
    EXPECT_NE(r.err.find("method=\"" + expect_method + "\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("error=\"unknown method\""), std::string::npos) << r.err;
    EXPECT_EQ(VsctlOut("list-br"), "br0\n");
    EXPECT_EQ(VsctlOut("get Bridge br0 name"), "br0\n");
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<Database> db_engine_;
  std::unique_ptr<Server> server_obj_;
};

TEST_F(OvsVsctlFallbackTest, FromMonitorCondSinceToMonitorCond) {
  StartInProcess({"monitor_cond_since"});
  ExpectVsctlWorks("monitor_cond");
}

TEST_F(OvsVsctlFallbackTest, FromMonitorCondSinceToMonitor) {
  StartInProcess({"monitor_cond_since", "monitor_cond"});
  ExpectVsctlWorks("monitor");
}

}  // namespace
}  // namespace sluice::db
