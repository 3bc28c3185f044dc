// The OVSDB client library (db/client.h) against real servers: sluice-db
// ($SLUICE_BUILD_DIR/tools/sluice-db) and, when installed, Open vSwitch's
// ovsdb-server with its own vswitch.ovsschema. Plus a scripted fake server
// for what a real one does not do on demand (echo requests in the middle of
// a call, a reply that never comes).
#include "db/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/jsonrpc.h"

namespace fs = std::filesystem;
using sluice::db::Client;
using sluice::db::Json;
using sluice::db::JsonRpcMessage;
using sluice::db::JsonTextSplitter;
using sluice::db::Replica;
using sluice::db::ReplicaOptions;

namespace {

std::string BuildDir() {
  const char* d = std::getenv("SLUICE_BUILD_DIR");
  return d ? d : ".";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunQuiet(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

enum class ServerKind { kSluiceDb, kOvsdbServer };

std::string KindName(ServerKind k) {
  return k == ServerKind::kSluiceDb ? "SluiceDb" : "OvsdbServer";
}

// A real OVSDB server in the foreground of a child process (own process
// group), serving a database file in `dir` on a unix socket.
class DbServer {
 public:
  DbServer(ServerKind kind, fs::path dir) : kind_(kind), dir_(std::move(dir)) {
    sock_ = (dir_ / "db.sock").string();
    db_ = (dir_ / "conf.db").string();
  }
  ~DbServer() { Kill(SIGKILL); }

  std::string target() const { return "unix:" + sock_; }
  const std::string& sock() const { return sock_; }

  static bool Available(ServerKind kind, std::string* why) {
    if (kind == ServerKind::kSluiceDb) {
      if (fs::exists(BuildDir() + "/tools/sluice-db")) return true;
      *why = BuildDir() + "/tools/sluice-db is not built";
      return false;
    }
    if (fs::exists("/usr/sbin/ovsdb-server") &&
        fs::exists("/usr/share/openvswitch/vswitch.ovsschema"))
      return true;
    *why = "Open vSwitch's ovsdb-server is not installed";
    return false;
  }

  // Starts the server on `sock` (default: its usual socket) and waits until
  // it accepts connections.
  ::testing::AssertionResult Start(const std::string& sock = "") {
    std::string path = sock.empty() ? sock_ : sock;
    fs::remove(path);
    std::vector<std::string> argv;
    if (kind_ == ServerKind::kSluiceDb) {
      argv = {BuildDir() + "/tools/sluice-db", "--db=" + db_, "--remote=punix:" + path,
              "--log-level=warn"};
    } else {
      if (!fs::exists(db_) &&
          RunQuiet("ovsdb-tool create " + db_ + " /usr/share/openvswitch/vswitch.ovsschema") != 0) {
        return ::testing::AssertionFailure() << "ovsdb-tool create failed";
      }
      argv = {"/usr/sbin/ovsdb-server",
              db_,
              "--remote=punix:" + path,
              "--unixctl=" + (dir_ / "ovsdb.ctl").string(),
              "--no-chdir",
              "--log-file=" + (dir_ / "ovsdb.log").string()};
    }
    log_ = (dir_ / "server.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      if (!freopen(log_.c_str(), "a", stdout) || !freopen(log_.c_str(), "a", stderr)) _exit(126);
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execv(cargs[0], cargs.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      std::string error;
      if (Client::Connect("unix:" + path, 1000, &error)) break;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "the server exited:\n" << ReadFile(log_);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return ::testing::AssertionFailure() << "the server does not answer on " << path << ":\n"
                                             << ReadFile(log_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (kind_ == ServerKind::kOvsdbServer && !initialized_) {
      // ovsdb-tool creates an empty database; sluice-db inserts the root row itself.
      if (RunQuiet("ovs-vsctl --db=unix:" + path + " --no-wait init") != 0) {
        return ::testing::AssertionFailure() << "ovs-vsctl init failed";
      }
      initialized_ = true;
    }
    return ::testing::AssertionSuccess();
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(-pid_, sig);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string Log() const { return ReadFile(log_); }

 private:
  ServerKind kind_;
  fs::path dir_;
  std::string sock_, db_, log_;
  pid_t pid_ = -1;
  bool initialized_ = false;
};

fs::path TempDir(std::string tag) {
  std::replace(tag.begin(), tag.end(), '/', '_');  // parameterized test names
  fs::path dir =
      fs::temp_directory_path() / ("sluice-dbclient-" + tag + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Json Where(const std::string& uuid) {
  return Json::array({Json::array({"_uuid", "==", Json::array({"uuid", uuid})})});
}

// The uuid of the Open_vSwitch root row.
std::string RootUuid(Client& c) {
  Json result;
  std::string error;
  Json ops = Json::array({{{"op", "select"},
                           {"table", "Open_vSwitch"},
                           {"where", Json::array()},
                           {"columns", {"_uuid"}}}});
  if (!c.Transact(ops, &result, &error, 10000) || result[0]["rows"].empty()) return "";
  return result[0]["rows"][0]["_uuid"][1].get<std::string>();
}

// Operations that add a bridge named `name`, referenced from the root row.
Json AddBridgeOps(const std::string& root, const std::string& name) {
  return Json::array(
      {{{"op", "insert"}, {"table", "Bridge"}, {"uuid-name", "br"}, {"row", {{"name", name}}}},
       {{"op", "mutate"},
        {"table", "Open_vSwitch"},
        {"where", Where(root)},
        {"mutations",
         Json::array({Json::array({"bridges", "insert", Json::array({"named-uuid", "br"})})})}}});
}

// What the tests see of a Replica: every on_change, in order.
class ReplicaLog {
 public:
  struct Entry {
    Replica::Tables tables;
    uint64_t snapshot;  // Replica::snapshots() when it was called
  };

  std::function<void(const Replica::Tables&)> Callback(Replica** replica) {
    return [this, replica](const Replica::Tables& t) {
      std::lock_guard lock(mu_);
      entries_.push_back({t, (*replica)->snapshots()});
      cv_.notify_all();
    };
  }

  // Waits (bounded) until pred holds for the latest tables.
  bool WaitFor(const std::function<bool(const Replica::Tables&)>& pred, int seconds = 30) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds),
                        [&] { return !entries_.empty() && pred(entries_.back().tables); });
  }

  std::vector<Entry> entries() {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

bool HasBridge(const Replica::Tables& t, const std::string& name) {
  auto it = t.find("Bridge");
  if (it == t.end()) return false;
  for (const auto& [uuid, row] : it->second) {
    if (row.value("name", "") == name) return true;
  }
  return false;
}

const Json* FindBridge(const Replica::Tables& t, const std::string& name) {
  for (const auto& [uuid, row] : t.at("Bridge")) {
    if (row.value("name", "") == name) return &row;
  }
  return nullptr;
}

// A `done` callback the test can wait for.
struct DoneLatch {
  std::mutex mu;
  std::condition_variable cv;
  bool called = false;
  Json result;
  std::string error;

  Replica::TransactDone Callback() {
    return [this](const Json& r, const std::string& e) {
      std::lock_guard lock(mu);
      called = true;
      result = r;
      error = e;
      cv.notify_all();
    };
  }
  bool Wait(int seconds = 30) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(seconds), [&] { return called; });
  }
};

class ClientTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    std::string why;
    if (!DbServer::Available(GetParam(), &why)) {
      FAIL() << why;
    }
    dir_ = TempDir(KindName(GetParam()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    server_ = std::make_unique<DbServer>(GetParam(), dir_);
    ASSERT_TRUE(server_->Start());
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::unique_ptr<Client> Connect() {
    std::string error;
    auto c = Client::Connect(server_->target(), 10000, &error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  fs::path dir_;
  std::unique_ptr<DbServer> server_;
};

TEST_P(ClientTest, CallsAndTransactions) {
  auto c = Connect();
  ASSERT_TRUE(c);
  Json result;
  std::string error;
  ASSERT_TRUE(c->Call("list_dbs", Json::array(), &result, &error, 10000)) << error;
  EXPECT_NE(std::find(result.begin(), result.end(), Json("Open_vSwitch")), result.end())
      << result.dump();

  ASSERT_TRUE(c->Call("echo", Json::array({"hello", 1}), &result, &error, 10000)) << error;
  EXPECT_EQ(result, Json::array({"hello", 1}));

  ASSERT_TRUE(c->Call("get_schema", Json::array({"Open_vSwitch"}), &result, &error, 10000))
      << error;
  EXPECT_EQ(result["name"], "Open_vSwitch");
  EXPECT_FALSE(c->Call("get_schema", Json::array({"NoSuchDb"}), &result, &error, 10000));
  EXPECT_FALSE(error.empty());
  EXPECT_TRUE(c->connected()) << "an error reply does not break the connection";

  std::string root = RootUuid(*c);
  ASSERT_FALSE(root.empty());
  ASSERT_TRUE(c->Transact(AddBridgeOps(root, "br0"), &result, &error, 10000)) << error;
  ASSERT_TRUE(result.is_array());
  ASSERT_TRUE(result[0].contains("uuid")) << result.dump();

  // A failing operation: false, the first failure as text, the results kept.
  Json bad = Json::array({{{"op", "insert"}, {"table", "Bridge"}, {"row", {{"name", 5}}}}});
  EXPECT_FALSE(c->Transact(bad, &result, &error, 10000));
  EXPECT_NE(error.find("syntax error"), std::string::npos) << error;
  EXPECT_TRUE(result.is_array()) << result.dump();
  // A commit-time failure (a duplicate in the name index).
  EXPECT_FALSE(c->Transact(AddBridgeOps(root, "br0"), &result, &error, 10000));
  EXPECT_NE(error.find("constraint violation"), std::string::npos) << error;

  Json sel = Json::array(
      {{{"op", "select"}, {"table", "Bridge"}, {"where", Json::array()}, {"columns", {"name"}}}});
  ASSERT_TRUE(c->Transact(sel, &result, &error, 10000)) << error;
  EXPECT_EQ(result[0]["rows"], Json::array({{{"name", "br0"}}}));
}

TEST_P(ClientTest, ConnectFailsClearly) {
  std::string error;
  EXPECT_FALSE(Client::Connect("unix:" + (dir_ / "nope.sock").string(), 1000, &error));
  EXPECT_NE(error.find("nope.sock: connection failed (No such file or directory)"),
            std::string::npos)
      << error;
  EXPECT_FALSE(Client::Connect("bogus:x", 1000, &error));
  EXPECT_NE(error.find("unsupported target"), std::string::npos) << error;
  EXPECT_FALSE(Client::Connect("tcp:127.0.0.1", 1000, &error));
  EXPECT_NE(error.find("tcp:HOST:PORT"), std::string::npos) << error;
}

TEST_P(ClientTest, MonitorNotificationsAreQueued) {
  auto watcher = Connect();
  auto writer = Connect();
  ASSERT_TRUE(watcher && writer);
  Json result;
  std::string error;
  Json req = Json::array({"Open_vSwitch", "m1", {{"Bridge", {{"columns", {"name"}}}}}});
  ASSERT_TRUE(watcher->Call("monitor", req, &result, &error, 10000)) << error;
  std::string root = RootUuid(*writer);
  ASSERT_TRUE(writer->Transact(AddBridgeOps(root, "brA"), &result, &error, 10000)) << error;

  Json note;
  ASSERT_TRUE(watcher->WaitNotification(&note, 20000));
  EXPECT_EQ(note["method"], "update");
  EXPECT_EQ(note["params"][0], "m1");
  EXPECT_NE(note["params"][1].dump().find("brA"), std::string::npos) << note.dump();

  // A notification that arrives during a call is queued, not lost.
  ASSERT_TRUE(writer->Transact(AddBridgeOps(root, "brB"), &result, &error, 10000)) << error;
  ASSERT_TRUE(watcher->Call("echo", Json::array({"x"}), &result, &error, 10000)) << error;
  // The update for brB was sent before the writer got its reply, and the
  // echo after that, so it is queued by now.
  std::vector<Json> queued = watcher->TakeNotifications();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_NE(queued[0].dump().find("brB"), std::string::npos) << queued[0].dump();
  EXPECT_TRUE(watcher->TakeNotifications().empty());
  EXPECT_FALSE(watcher->WaitNotification(&note, 100)) << "nothing more to come: " << note.dump();
}

TEST_P(ClientTest, ReplicaFollowsInsertsUpdatesDeletes) {
  Replica* self = nullptr;
  ReplicaLog log;
  ReplicaOptions o;
  o.target = server_->target();
  o.tables = {"Open_vSwitch", "Bridge"};
  Replica replica(o, log.Callback(&self));
  self = &replica;
  replica.Start();
  ASSERT_TRUE(
      log.WaitFor([](const Replica::Tables& t) { return t.at("Open_vSwitch").size() == 1; }));
  EXPECT_TRUE(replica.connected());
  EXPECT_EQ(replica.snapshots(), 1u);
  EXPECT_TRUE(log.entries().front().tables.at("Bridge").empty());
  // Every column is present, with its default when the server left it out.
  const Json& root_row = log.entries().front().tables.at("Open_vSwitch").begin()->second;
  EXPECT_TRUE(root_row.contains("next_cfg") && root_row.contains("cur_cfg") &&
              root_row.contains("other_config"))
      << root_row.dump();

  auto c = Connect();
  ASSERT_TRUE(c);
  Json result;
  std::string error;
  std::string root = RootUuid(*c);
  ASSERT_TRUE(c->Transact(AddBridgeOps(root, "br0"), &result, &error, 10000)) << error;
  std::string br = result[0]["uuid"][1];
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) { return HasBridge(t, "br0"); }));
  Replica::Tables snap = replica.Snapshot();
  const Json* row = FindBridge(snap, "br0");
  ASSERT_TRUE(row);
  for (const char* col :
       {"name", "ports", "controller", "fail_mode", "other_config", "datapath_type"}) {
    EXPECT_TRUE(row->contains(col)) << col << " missing in " << row->dump();
  }
  EXPECT_EQ(snap.at("Bridge").begin()->first, br);

  Json update = Json::array(
      {{{"op", "update"},
        {"table", "Bridge"},
        {"where", Where(br)},
        {"row",
         {{"fail_mode", "secure"},
          {"other_config", Json::array({"map", Json::array({Json::array({"a", "b"})})})}}}}});
  ASSERT_TRUE(c->Transact(update, &result, &error, 10000)) << error;
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) {
    const Json* b = FindBridge(t, "br0");
    return b && (*b)["fail_mode"] == "secure";
  }));
  snap = replica.Snapshot();
  row = FindBridge(snap, "br0");
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)["other_config"], Json::array({"map", Json::array({Json::array({"a", "b"})})}));
  EXPECT_EQ((*row)["name"], "br0") << "columns not in the update are kept";

  // Dropping the reference deletes the bridge (garbage collection).
  Json del = Json::array(
      {{{"op", "mutate"},
        {"table", "Open_vSwitch"},
        {"where", Where(root)},
        {"mutations",
         Json::array({Json::array({"bridges", "delete", Json::array({"uuid", br})})})}}});
  ASSERT_TRUE(c->Transact(del, &result, &error, 10000)) << error;
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) { return t.at("Bridge").empty(); }));
  EXPECT_EQ(replica.snapshots(), 1u) << "no reconnection happened";
  replica.Stop();
  EXPECT_FALSE(replica.connected());
}

TEST_P(ClientTest, ReplicaQueuedTransactions) {
  Replica* self = nullptr;
  ReplicaLog log;
  ReplicaOptions o;
  o.target = server_->target();
  o.tables = {"Open_vSwitch", "Bridge"};
  Replica replica(o, log.Callback(&self));
  self = &replica;

  // Queued before Start(): sent once the snapshot is in.
  auto c = Connect();
  ASSERT_TRUE(c);
  std::string root = RootUuid(*c);
  DoneLatch first;
  replica.Transact(AddBridgeOps(root, "q0"), first.Callback());
  replica.Start();
  ASSERT_TRUE(first.Wait());
  EXPECT_EQ(first.error, "");
  ASSERT_TRUE(first.result.is_array());
  EXPECT_TRUE(first.result[0].contains("uuid")) << first.result.dump();
  // The replica sees its own write.
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) { return HasBridge(t, "q0"); }));

  // A failing transaction reports the server's error.
  DoneLatch dup;
  replica.Transact(AddBridgeOps(root, "q0"), dup.Callback());
  ASSERT_TRUE(dup.Wait());
  EXPECT_NE(dup.error.find("constraint violation"), std::string::npos) << dup.error;

  // Several in a row complete in order, each once.
  std::mutex mu;
  std::vector<int> order;
  DoneLatch last;
  for (int i = 0; i < 5; ++i) {
    Json ops = Json::array({{{"op", "mutate"},
                             {"table", "Open_vSwitch"},
                             {"where", Where(root)},
                             {"mutations", Json::array({Json::array({"next_cfg", "+=", 1})})}}});
    replica.Transact(ops, [&, i](const Json&, const std::string& e) {
      EXPECT_EQ(e, "");
      std::lock_guard lock(mu);
      order.push_back(i);
    });
  }
  replica.Transact(Json::array(), last.Callback());
  ASSERT_TRUE(last.Wait());
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  }
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) {
    return t.at("Open_vSwitch").begin()->second["next_cfg"] == 5;
  }));

  replica.Stop();
  DoneLatch after;
  replica.Transact(Json::array(), after.Callback());
  ASSERT_TRUE(after.Wait(1));
  EXPECT_EQ(after.error, "stopped");
}

TEST_P(ClientTest, ReplicaReconnectsWithAFreshSnapshot) {
  Replica* self = nullptr;
  ReplicaLog log;
  ReplicaOptions o;
  o.target = server_->target();
  o.tables = {"Open_vSwitch", "Bridge"};
  o.min_backoff_ms = 200;
  o.max_backoff_ms = 400;
  Replica replica(o, log.Callback(&self));
  self = &replica;
  std::string root;
  {
    auto c = Connect();
    ASSERT_TRUE(c);
    root = RootUuid(*c);
    Json result;
    std::string error;
    ASSERT_TRUE(c->Transact(AddBridgeOps(root, "old"), &result, &error, 10000)) << error;
  }
  replica.Start();
  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) { return HasBridge(t, "old"); }));

  server_->Kill(SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (replica.connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(replica.connected());
  // While disconnected, transactions fail at once instead of waiting.
  DoneLatch offline;
  replica.Transact(Json::array(), offline.Callback());
  ASSERT_TRUE(offline.Wait());
  EXPECT_NE(offline.error.find("not connected"), std::string::npos) << offline.error;
  EXPECT_NE(replica.last_error().find("connection"), std::string::npos) << replica.last_error();

  // Change the database where the replica cannot see it: the same file
  // served on another socket. "old" goes, "new" comes.
  ASSERT_TRUE(server_->Start((dir_ / "side.sock").string()));
  {
    std::string error;
    auto c = Client::Connect("unix:" + (dir_ / "side.sock").string(), 10000, &error);
    ASSERT_TRUE(c) << error;
    Json result;
    ASSERT_TRUE(
        c->Transact(Json::array({{{"op", "update"},
                                  {"table", "Open_vSwitch"},
                                  {"where", Where(root)},
                                  {"row", {{"bridges", Json::array({"set", Json::array()})}}}}}),
                    &result, &error, 10000))
        << error;
    ASSERT_TRUE(c->Transact(AddBridgeOps(root, "new"), &result, &error, 10000)) << error;
  }
  server_->Kill(SIGTERM);
  size_t before = log.entries().size();
  ASSERT_TRUE(server_->Start());

  ASSERT_TRUE(log.WaitFor([](const Replica::Tables& t) { return HasBridge(t, "new"); }));
  EXPECT_TRUE(replica.connected());
  EXPECT_EQ(replica.snapshots(), 2u);
  // The first call after reconnecting is the fresh snapshot itself.
  auto entries = log.entries();
  ASSERT_GT(entries.size(), before);
  EXPECT_EQ(entries[before].snapshot, 2u);
  EXPECT_TRUE(HasBridge(entries[before].tables, "new"));
  EXPECT_FALSE(HasBridge(entries[before].tables, "old"));
  EXPECT_EQ(entries[before].tables.at("Bridge").size(), 1u);

  // And it writes again.
  DoneLatch online;
  replica.Transact(Json::array(), online.Callback());
  ASSERT_TRUE(online.Wait());
  EXPECT_EQ(online.error, "");
}

TEST_P(ClientTest, ReplicaReportsAMissingTable) {
  ReplicaOptions o;
  o.target = server_->target();
  o.tables = {"Bridge", "No_Such_Table"};
  o.min_backoff_ms = 100;
  Replica replica(o, [](const Replica::Tables&) { ADD_FAILURE() << "no snapshot expected"; });
  replica.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (replica.last_error().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(replica.last_error().find("has no table No_Such_Table"), std::string::npos)
      << replica.last_error();
  EXPECT_FALSE(replica.connected());
}

INSTANTIATE_TEST_SUITE_P(Servers, ClientTest,
                         ::testing::Values(ServerKind::kSluiceDb, ServerKind::kOvsdbServer),
                         [](const auto& info) { return KindName(info.param); });

// sluice-db probes idle tcp clients with "echo" and drops the ones that do
// not answer; a Client waiting for a notification answers them.
TEST(ClientSluiceDb, AnswersInactivityProbes) {
  std::string why;
  ASSERT_TRUE(DbServer::Available(ServerKind::kSluiceDb, &why)) << why;
  fs::path dir = TempDir("probe");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int port = ntohs(a.sin_port);
  close(fd);

  std::string log = (dir / "server.log").string();
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    if (!freopen(log.c_str(), "a", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
    std::string bin = BuildDir() + "/tools/sluice-db";
    std::string db = "--db=" + (dir / "conf.db").string();
    std::string remote = "--remote=ptcp:" + std::to_string(port) + ":127.0.0.1";
    execl(bin.c_str(), bin.c_str(), db.c_str(), remote.c_str(), "--inactivity-probe=200",
          "--log-level=warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string target = "tcp:127.0.0.1:" + std::to_string(port);
  std::unique_ptr<Client> c;
  for (int i = 0; i < 600 && !c; ++i) {
    c = Client::Connect(target, 1000, &why);
    if (!c) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(c) << why << "\n" << ReadFile(log);
  Json note;
  EXPECT_FALSE(c->WaitNotification(&note, 1500));  // several probe periods
  Json result;
  EXPECT_TRUE(c->Call("list_dbs", Json::array(), &result, &why, 10000)) << why;
  EXPECT_TRUE(c->connected());
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
}

// A scripted server on a unix socket: answers the first request only after
// sending an echo request (and checking the reply) and a notification;
// never answers the second.
TEST(ClientFakeServer, EchoDuringCallAndTimeout) {
  fs::path dir = TempDir("fake");
  std::string path = (dir / "fake.sock").string();
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 1), 0);

  Json echo_reply;
  std::thread server([&] {
    int fd = accept(lfd, nullptr, nullptr);
    JsonTextSplitter splitter;
    auto next = [&](Json* out) {
      std::string error;
      for (;;) {
        if (splitter.Next(out, &error) == JsonTextSplitter::Status::kText) return true;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) return false;
        splitter.Feed(std::string_view(buf, static_cast<size_t>(n)));
      }
    };
    auto send_text = [&](const Json& j) {
      std::string s = j.dump();
      EXPECT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    };
    Json req;
    if (!next(&req)) return;
    send_text(JsonRpcMessage::Request("echo", Json::array({"ping"}), "e1").ToJson());
    if (!next(&echo_reply)) return;
    send_text(JsonRpcMessage::Notification("update", Json::array({"m", {{"T", {}}}})).ToJson());
    send_text(JsonRpcMessage::Reply(Json::array({"stale"}), 999).ToJson());  // not ours: dropped
    send_text(JsonRpcMessage::Reply(Json::array({"ok"}), req["id"]).ToJson());
    Json second;
    next(&second);  // never answered
    Json eof;
    next(&eof);  // until the client closes
    close(fd);
  });

  std::string error;
  auto c = Client::Connect("unix:" + path, 5000, &error);
  ASSERT_TRUE(c) << error;
  Json result;
  ASSERT_TRUE(c->Call("list_dbs", Json::array(), &result, &error, 10000)) << error;
  EXPECT_EQ(result, Json::array({"ok"}));
  EXPECT_EQ(echo_reply["id"], "e1");
  EXPECT_EQ(echo_reply["result"], Json::array({"ping"}));
  EXPECT_TRUE(echo_reply["error"].is_null());
  auto notes = c->TakeNotifications();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0]["method"], "update");

  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c->Call("list_dbs", Json::array(), &result, &error, 300));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(error.find("timeout after 300 ms waiting for the reply to list_dbs"), std::string::npos)
      << error;
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::seconds(5));
  c.reset();
  server.join();
  close(lfd);
  fs::remove_all(dir);
}

}  // namespace
