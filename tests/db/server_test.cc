// The OVSDB server (db/server.h) in process, on a punix socket in a
// temporary directory (and ptcp on 127.0.0.1 for the inactivity probe),
// driven by raw JSON-RPC clients: list_dbs, get_schema, transact (with
// blocked waits, their timeout and cancel), monitor / monitor_cond /
// monitor_cond_since updates for insert, modify and delete (update2 diffs
// of sets and maps), monitor_cond_change, monitor_cancel, the _Server
// database, lock/steal/unlock and their notifications, echo both ways,
// malformed input, unknown methods, a client that stops reading while
// another transacts, and a vanished client's lock.
#include "db/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "db/builtin_schema.h"
#include "db/database.h"
#include "db/jsonrpc.h"

namespace sluice::db {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A blocking JSON-RPC client on a raw socket.
class RawClient {
 public:
  RawClient() = default;
  ~RawClient() { Close(); }

  bool ConnectUnix(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    return connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  bool ConnectTcp(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  void SendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << "send: " << strerror(errno);
      off += n;
    }
  }
  void Send(const Json& j) { SendRaw(j.dump()); }
  // false once the peer is gone.
  bool TrySend(const Json& j) {
    std::string bytes = j.dump();
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  // The next message, or null after `timeout` (or at EOF: then eof()).
  Json Next(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      Json j;
      std::string err;
      auto st = splitter_.Next(&j, &err);
      if (st == JsonTextSplitter::Status::kText) return j;
      if (st == JsonTextSplitter::Status::kError) {
        ADD_FAILURE() << "client parse error: " << err;
        return nullptr;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || eof_) return nullptr;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      splitter_.Feed(std::string_view(buf, n));
    }
  }

  // Sends a request and returns its response; notifications that arrive
  // first are kept for NextNotification().
  Json Call(const std::string& method, Json params, std::chrono::milliseconds timeout = 10s) {
    Json id = next_id_++;
    Send({{"id", id}, {"method", method}, {"params", std::move(params)}});
    return AwaitResponse(id, timeout);
  }
  Json AwaitResponse(const Json& id, std::chrono::milliseconds timeout = 10s) {
    for (;;) {
      Json m = Next(timeout);
      if (m.is_null()) return Json{{"timeout", true}};
      if (m.contains("method")) {
        notifications_.push_back(m);
        continue;
      }
      if (m["id"] == id) return m;
      others_.push_back(m);
    }
  }
  Json Result(const std::string& method, Json params) {
    Json r = Call(method, std::move(params));
    EXPECT_TRUE(r.contains("result") && r["error"].is_null()) << method << " -> " << r.dump();
    return r.value("result", Json());
  }

  // The next notification (queued or arriving within `timeout`), or null.
  Json NextNotification(std::chrono::milliseconds timeout = 5s) {
    if (!notifications_.empty()) {
      Json m = notifications_.front();
      notifications_.pop_front();
      return m;
    }
    for (;;) {
      Json m = Next(timeout);
      if (m.is_null() || m.contains("method")) return m;
      others_.push_back(m);
    }
  }
  // True if no notification is pending once an echo round trip is done.
  bool NoNotification() {
    Json r = Call("echo", Json::array({"sync"}));
    return notifications_.empty();
  }

  std::deque<Json>& notifications() { return notifications_; }
  bool eof() const { return eof_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  int next_id_ = 1;
  JsonTextSplitter splitter_;
  std::deque<Json> notifications_;
  std::deque<Json> others_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }
  void TearDown() override { StopServer(); }

  void StartServer(ServerOptions opt) {
    dir_ = fs::temp_directory_path() /
           ("sluice-dbsrv-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sock_ = (dir_ / "db.sock").string();
    std::string error;
    auto schema = ParseSchema(Json::parse(BuiltinSchemaText()), &error);
    ASSERT_TRUE(schema) << error;
    db_ = Database::Open((dir_ / "conf.db").string(), schema, &error);
    ASSERT_TRUE(db_) << error;
    opt.remotes.insert(opt.remotes.begin(), "punix:" + sock_);
    server_ = std::make_unique<Server>(io_, *db_, opt);
    ASSERT_TRUE(server_->Start(&error)) << error;
    // The root row, as sluice-db inserts it into a new database.
    TransactResult r =
        server_->Transact(Json::parse(R"([{"op":"insert","table":"Open_vSwitch","row":{}}])"));
    ASSERT_FALSE(r.reply[0].contains("error")) << r.reply.dump();
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  void StopServer() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { server_->Stop(); });
    work_.reset();
    thread_.join();
    server_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }

  // Runs `f` on the io thread and returns its result.
  template <class F>
  auto OnIo(F f) {
    std::packaged_task<decltype(f())()> task(f);
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->ConnectUnix(sock_)) << strerror(errno);
    return c;
  }

  // Adds a bridge (referenced from the root row); returns the transact result.
  static Json AddBridge(RawClient& c, const std::string& name) {
    return c.Result("transact", Json::parse(R"(["Open_vSwitch",
        {"op":"insert","table":"Bridge","row":{"name":")" +
                                            name + R"("},"uuid-name":"b"},
        {"op":"mutate","table":"Open_vSwitch","where":[],
         "mutations":[["bridges","insert",["set",[["named-uuid","b"]]]]]}])"));
  }
  static Json Update(RawClient& c, const std::string& name, const Json& row) {
    return c.Result("transact",
                    Json::array({"Open_vSwitch",
                                 {{"op", "update"},
                                  {"table", "Bridge"},
                                  {"where", Json::parse(R"([["name","==",")" + name + R"("]])")},
                                  {"row", row}}}));
  }
  static Json FindBridge(RawClient& c, const std::string& name) {
    return c.Result("transact", Json::parse(R"(["Open_vSwitch",
        {"op":"select","table":"Bridge","where":[["name","==",")" +
                                            name + R"("]],"columns":["_uuid"]}])"));
  }
  // Deletes by dropping the root row's reference (garbage collection removes the row).
  static void DropBridge(RawClient& c, const std::string& name) {
    Json sel = FindBridge(c, name);
    ASSERT_EQ(sel[0]["rows"].size(), 1u) << sel.dump();
    Json uuid = sel[0]["rows"][0]["_uuid"];
    Json r = c.Result(
        "transact",
        Json::array({"Open_vSwitch",
                     {{"op", "mutate"},
                      {"table", "Open_vSwitch"},
                      {"where", Json::array()},
                      {"mutations", Json::array({Json::array({"bridges", "delete", uuid})})}}}));
    ASSERT_FALSE(r[0].contains("error")) << r.dump();
  }

  fs::path dir_;
  std::string sock_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Server> server_;
};

bool HasError(const Json& transact_result) {
  for (const auto& r : transact_result) {
    if (r.is_object() && r.contains("error")) return true;
  }
  return false;
}

TEST_F(ServerTest, ListDbsGetSchemaServerIdAndChangeAware) {
  auto c = Connect();
  EXPECT_EQ(c->Result("list_dbs", Json::array()), Json::parse(R"(["Open_vSwitch","_Server"])"));
  Json schema = c->Result("get_schema", Json::array({"Open_vSwitch"}));
  EXPECT_EQ(schema["name"], "Open_vSwitch");
  EXPECT_TRUE(schema["tables"].contains("Bridge"));
  EXPECT_EQ(c->Result("get_schema", Json::array({"_Server"}))["name"], "_Server");
  Json bad = c->Call("get_schema", Json::array({"nope"}));
  EXPECT_EQ(bad["error"]["error"], "unknown database") << bad.dump();
  Json id = c->Result("get_server_id", Json::array());
  EXPECT_TRUE(id.is_string() && id.get<std::string>().size() == 36) << id.dump();
  EXPECT_EQ(c->Result("set_db_change_aware", Json::array({true})), Json::object());
}

TEST_F(ServerTest, TransactInsertSelectAndErrors) {
  auto c = Connect();
  Json r = AddBridge(*c, "br0");
  ASSERT_FALSE(HasError(r)) << r.dump();
  Json sel = c->Result("transact", Json::parse(R"(["Open_vSwitch",
      {"op":"select","table":"Bridge","where":[],"columns":["name"]}])"));
  EXPECT_EQ(sel[0]["rows"], Json::parse(R"([{"name":"br0"}])"));
  // A duplicate name violates the index: an error entry, nothing changes.
  r = AddBridge(*c, "br0");
  EXPECT_TRUE(HasError(r)) << r.dump();
  Json bad = c->Call("transact", Json::array({"nope", {{"op", "comment"}, {"comment", "x"}}}));
  EXPECT_EQ(bad["error"]["error"], "unknown database");
  bad = c->Call("transact", Json::array());
  EXPECT_FALSE(bad["error"].is_null());
}

TEST_F(ServerTest, MonitorReportsInsertModifyDeleteBeforeTheReply) {
  auto watcher = Connect();
  auto writer = Connect();
  ASSERT_FALSE(HasError(AddBridge(*writer, "br0")));
  Json initial = watcher->Result("monitor", Json::parse(R"(["Open_vSwitch","m1",
      {"Bridge":{"columns":["name","fail_mode","other_config"]}}])"));
  ASSERT_EQ(initial["Bridge"].size(), 1u) << initial.dump();
  EXPECT_EQ(initial["Bridge"].begin().value()["new"]["name"], "br0");

  // The writer monitors too: its own update must precede its reply.
  writer->Result("monitor",
                 Json::parse(R"(["Open_vSwitch",{"any":"json"},{"Bridge":{"columns":["name"],
      "select":{"initial":false,"modify":false}}}])"));
  Json r = AddBridge(*writer, "br1");
  ASSERT_EQ(writer->notifications().size(), 1u) << "update before the transact reply";
  Json wn = writer->NextNotification();
  EXPECT_EQ(wn["method"], "update");
  EXPECT_EQ(wn["params"][0], Json::parse(R"({"any":"json"})"));

  Json n = watcher->NextNotification();
  ASSERT_EQ(n["method"], "update") << n.dump();
  EXPECT_EQ(n["params"][0], "m1");
  std::string br1 = r[0]["uuid"][1];
  Json row = n["params"][1]["Bridge"][br1];
  EXPECT_EQ(row["new"]["name"], "br1");
  EXPECT_FALSE(row.contains("old"));

  ASSERT_FALSE(HasError(Update(*writer, "br1", Json::parse(R"({"fail_mode":"secure"})"))));
  n = watcher->NextNotification();
  row = n["params"][1]["Bridge"][br1];
  EXPECT_EQ(row["old"], Json::parse(R"({"fail_mode":["set",[]]})"))
      << "old: only the changed column";
  EXPECT_EQ(row["new"]["name"], "br1");
  EXPECT_EQ(row["new"]["fail_mode"], "secure");
  EXPECT_TRUE(writer->NoNotification()) << "the writer did not select modify";

  // A change to an unmonitored column sends nothing.
  ASSERT_FALSE(HasError(Update(*writer, "br1", Json::parse(R"({"datapath_type":"netdev"})"))));
  EXPECT_TRUE(watcher->NoNotification());

  DropBridge(*writer, "br1");
  n = watcher->NextNotification();
  row = n["params"][1]["Bridge"][br1];
  EXPECT_EQ(row["old"]["name"], "br1");
  EXPECT_FALSE(row.contains("new"));

  // monitor_cancel: no more updates; an unknown id is an error.
  EXPECT_EQ(watcher->Result("monitor_cancel", Json::array({"m1"})), Json::object());
  EXPECT_FALSE(watcher->Call("monitor_cancel", Json::array({"m1"}))["error"].is_null());
  ASSERT_FALSE(HasError(AddBridge(*writer, "br2")));
  EXPECT_TRUE(watcher->NoNotification());
}

TEST_F(ServerTest, MonitorErrors) {
  auto c = Connect();
  c->Result("monitor", Json::parse(R"(["Open_vSwitch","m",{"Bridge":{}}])"));
  Json dup = c->Call("monitor", Json::parse(R"(["Open_vSwitch","m",{"Bridge":{}}])"));
  EXPECT_EQ(dup["error"]["error"], "duplicate monitor ID") << dup.dump();
  for (const char* bad : {R"(["Open_vSwitch","x",{"Nope":{}}])",
                          R"(["Open_vSwitch","y",{"Bridge":{"columns":["nope"]}}])",
                          R"(["Open_vSwitch","z",{"Bridge":{"select":{"insert":1}}}])",
                          R"(["Nope","w",{}])", R"(["Open_vSwitch"])"}) {
    Json r = c->Call("monitor", Json::parse(bad));
    EXPECT_FALSE(r["error"].is_null()) << bad;
  }
  Json r = c->Call("monitor_cond",
                   Json::parse(R"(["Open_vSwitch","c",{"Bridge":[{"where":[["nope","==",1]]}]}])"));
  EXPECT_FALSE(r["error"].is_null());
}

TEST_F(ServerTest, MonitorCondUpdate2WithConditionsAndDiffs) {
  auto watcher = Connect();
  auto writer = Connect();
  Json initial = watcher->Result("monitor_cond", Json::parse(R"(["Open_vSwitch",["monid","x"],
      {"Bridge":[{"columns":["name","fail_mode","other_config","protocols"],"where":[["name","==","br1"]]}]}])"));
  EXPECT_EQ(initial, Json::object());

  ASSERT_FALSE(HasError(AddBridge(*writer, "br0")));
  EXPECT_TRUE(watcher->NoNotification()) << "br0 does not match the condition";
  Json r = AddBridge(*writer, "br1");
  std::string br1 = r[0]["uuid"][1];
  Json n = watcher->NextNotification();
  ASSERT_EQ(n["method"], "update2") << n.dump();
  EXPECT_EQ(n["params"][0], Json::parse(R"(["monid","x"])"));
  EXPECT_EQ(n["params"][1]["Bridge"][br1]["insert"]["name"], "br1");

  // Optional column (a set of at most one): the diff is the symmetric difference.
  ASSERT_FALSE(HasError(Update(*writer, "br1", Json::parse(R"({"fail_mode":"secure"})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1], Json::parse(R"({"modify":{"fail_mode":"secure"}})"))
      << n.dump();
  ASSERT_FALSE(HasError(Update(*writer, "br1", Json::parse(R"({"fail_mode":"standalone"})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1],
            Json::parse(R"({"modify":{"fail_mode":["set",["secure","standalone"]]}})"))
      << n.dump();

  // Set: elements added or removed.
  ASSERT_FALSE(HasError(
      Update(*writer, "br1", Json::parse(R"({"protocols":["set",["OpenFlow10","OpenFlow13"]]})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1]["modify"]["protocols"],
            Json::parse(R"(["set",["OpenFlow10","OpenFlow13"]])"));
  ASSERT_FALSE(HasError(
      Update(*writer, "br1", Json::parse(R"({"protocols":["set",["OpenFlow13","OpenFlow14"]]})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1]["modify"]["protocols"],
            Json::parse(R"(["set",["OpenFlow10","OpenFlow14"]])"));

  // Map: added pairs, removed pairs (old value), changed pairs (new value).
  ASSERT_FALSE(HasError(
      Update(*writer, "br1", Json::parse(R"({"other_config":["map",[["a","1"],["b","2"]]]})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1]["modify"]["other_config"],
            Json::parse(R"(["map",[["a","1"],["b","2"]]])"));
  ASSERT_FALSE(HasError(
      Update(*writer, "br1", Json::parse(R"({"other_config":["map",[["b","3"],["c","4"]]]})"))));
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][1]["Bridge"][br1]["modify"]["other_config"],
            Json::parse(R"(["map",[["a","1"],["b","3"],["c","4"]]])"));

  // Leaving the condition by a modification is a delete; a deletion of a row
  // outside the condition is nothing.
  ASSERT_FALSE(HasError(Update(*writer, "br0", Json::parse(R"({"fail_mode":"secure"})"))));
  EXPECT_TRUE(watcher->NoNotification());

  // monitor_cond_change to name == br0: br1 leaves, br0 enters, before the reply.
  Json reply = watcher->Call("monitor_cond_change", Json::parse(R"([["monid","x"],["monid","y"],
      {"Bridge":[{"where":[["name","==","br0"]]}]}])"));
  EXPECT_EQ(reply["result"], Json::object()) << reply.dump();
  ASSERT_EQ(watcher->notifications().size(), 1u);
  n = watcher->NextNotification();
  EXPECT_EQ(n["params"][0], Json::parse(R"(["monid","y"])")) << "the new monitor id";
  EXPECT_EQ(n["params"][1]["Bridge"][br1], Json::parse(R"({"delete":null})"));
  ASSERT_EQ(n["params"][1]["Bridge"].size(), 2u);
  for (auto& [uuid, ru] : n["params"][1]["Bridge"].items()) {
    if (uuid != br1) {
      EXPECT_EQ(ru["insert"]["name"], "br0");
    }
  }
  Json bad = watcher->Call("monitor_cond_change", Json::parse(R"([["monid","y"],["monid","y"],
      {"Bridge":[{"columns":["name"],"where":[]}]}])"));
  EXPECT_FALSE(bad["error"].is_null()) << "changing the columns is not supported";

  DropBridge(*writer, "br0");
  n = watcher->NextNotification();
  EXPECT_EQ(n["method"], "update2");
  EXPECT_EQ(n["params"][1]["Bridge"].begin().value(), Json::parse(R"({"delete":null})"));
}

TEST_F(ServerTest, MonitorCondSinceAnswersLikeAStandaloneServer) {
  auto c = Connect();
  auto writer = Connect();
  ASSERT_FALSE(HasError(AddBridge(*writer, "br0")));
  Json r = c->Result("monitor_cond_since", Json::parse(R"(["Open_vSwitch",["monid","Open_vSwitch"],
      {"Bridge":[{"columns":["name"]}],"Open_vSwitch":[{"columns":["bridges"]}]},
      "00000000-0000-0000-0000-000000000000"])"));
  ASSERT_TRUE(r.is_array() && r.size() == 3) << r.dump();
  EXPECT_EQ(r[0], false);
  EXPECT_EQ(r[1], "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(r[2]["Bridge"].begin().value()["initial"]["name"], "br0");
  EXPECT_EQ(r[2]["Open_vSwitch"].size(), 1u);
  ASSERT_FALSE(HasError(AddBridge(*writer, "br1")));
  Json n = c->NextNotification();
  EXPECT_EQ(n["method"], "update3");
  EXPECT_EQ(n["params"][1], "00000000-0000-0000-0000-000000000000");
  EXPECT_TRUE(n["params"][2].contains("Bridge"));
  EXPECT_TRUE(n["params"][2]["Open_vSwitch"].begin().value().contains("modify"));
}

TEST_F(ServerTest, ServerDatabaseDescribesTheDatabase) {
  auto c = Connect();
  Json r = c->Result("monitor_cond", Json::parse(R"(["_Server",["monid","_Server"],
      {"Database":[{"columns":["name","model","connected","leader","schema","cid","index"]}]}])"));
  bool found = false;
  for (auto& [uuid, ru] : r["Database"].items()) {
    const Json& row = ru["initial"];
    if (row["name"] != "Open_vSwitch") continue;
    found = true;
    EXPECT_EQ(row["model"], "standalone");
    EXPECT_EQ(row["connected"], true);
    EXPECT_EQ(row["leader"], true);
    EXPECT_EQ(Json::parse(row["schema"].get<std::string>())["name"], "Open_vSwitch");
  }
  EXPECT_TRUE(found) << r.dump();
  Json sel = c->Result("transact", Json::parse(R"(["_Server",
      {"op":"select","table":"Database","where":[["name","==","Open_vSwitch"]],"columns":["name","model"]}])"));
  EXPECT_EQ(sel[0]["rows"], Json::parse(R"([{"name":"Open_vSwitch","model":"standalone"}])"));
  Json ins = c->Result("transact",
                       Json::parse(R"(["_Server",{"op":"insert","table":"Database","row":{}}])"));
  EXPECT_TRUE(HasError(ins)) << "read-only";
}

TEST_F(ServerTest, BlockedWaitCompletesAfterACommitTimesOutOrIsCanceled) {
  auto waiter = Connect();
  auto writer = Connect();
  const Json wait_op = Json::parse(R"({"op":"wait","table":"Bridge","where":[["name","==","brW"]],
      "columns":["name"],"until":"==","rows":[{"name":"brW"}],"timeout":20000})");
  waiter->Send(
      {{"id", "w1"}, {"method", "transact"}, {"params", Json::array({"Open_vSwitch", wait_op})}});
  EXPECT_EQ(waiter->Call("echo", Json::array({1}))["result"], Json::array({1}))
      << "the session goes on";
  ASSERT_FALSE(HasError(AddBridge(*writer, "brW")));
  Json done = waiter->AwaitResponse("w1");
  EXPECT_TRUE(done["result"].is_array()) << done.dump();
  EXPECT_FALSE(HasError(done["result"])) << done.dump();

  // A short timeout: the "timed out" error.
  Json short_wait = wait_op;
  short_wait["where"] = Json::parse(R"([["name","==","never"]])");
  short_wait["rows"] = Json::parse(R"([{"name":"never"}])");
  short_wait["timeout"] = 300;
  auto t0 = std::chrono::steady_clock::now();
  Json to = waiter->Call("transact", Json::array({"Open_vSwitch", short_wait}));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  ASSERT_TRUE(to["result"].is_array()) << to.dump();
  EXPECT_EQ(to["result"][0]["error"], "timed out") << to.dump();

  // cancel (a notification): the error "canceled".
  short_wait["timeout"] = 30000;
  waiter->Send({{"id", "w2"},
                {"method", "transact"},
                {"params", Json::array({"Open_vSwitch", short_wait})}});
  waiter->Send({{"id", nullptr}, {"method", "cancel"}, {"params", Json::array({"w2"})}});
  Json canceled = waiter->AwaitResponse("w2", 5s);
  EXPECT_EQ(canceled["error"], "canceled") << canceled.dump();
}

TEST_F(ServerTest, LockStealUnlock) {
  auto a = Connect();
  auto b = Connect();
  EXPECT_EQ(a->Result("lock", Json::array({"L"})), Json::parse(R"({"locked":true})"));
  EXPECT_EQ(b->Result("lock", Json::array({"L"})), Json::parse(R"({"locked":false})"));
  EXPECT_FALSE(a->Call("lock", Json::array({"L"}))["error"].is_null()) << "duplicate lock";

  // The owner's "assert" succeeds, the waiter's fails.
  Json assert_op = Json::array({"Open_vSwitch", {{"op", "assert"}, {"lock", "L"}}});
  EXPECT_FALSE(HasError(a->Result("transact", assert_op)));
  EXPECT_TRUE(HasError(b->Result("transact", assert_op)));

  EXPECT_EQ(b->Result("steal", Json::array({"L"})), Json::parse(R"({"locked":true})"));
  Json n = a->NextNotification();
  EXPECT_EQ(n["method"], "stolen");
  EXPECT_EQ(n["params"], Json::array({"L"}));
  EXPECT_TRUE(HasError(a->Result("transact", assert_op)));

  EXPECT_EQ(b->Result("unlock", Json::array({"L"})), Json::object());
  n = a->NextNotification();
  EXPECT_EQ(n["method"], "locked") << "the robbed owner was still queued";
  EXPECT_EQ(n["params"], Json::array({"L"}));
  EXPECT_EQ(a->Result("unlock", Json::array({"L"})), Json::object());
  EXPECT_FALSE(a->Call("unlock", Json::array({"L"}))["error"].is_null()) << "not locked";
  EXPECT_FALSE(a->Call("lock", Json::array({1}))["error"].is_null());
}

TEST_F(ServerTest, VanishedClientsLockIsReleasedAndMonitorsDropped) {
  auto a = Connect();
  auto b = Connect();
  EXPECT_EQ(a->Result("lock", Json::array({"L"})), Json::parse(R"({"locked":true})"));
  a->Result("monitor", Json::parse(R"(["Open_vSwitch","m",{"Bridge":{}}])"));
  EXPECT_EQ(b->Result("lock", Json::array({"L"})), Json::parse(R"({"locked":false})"));
  a->Close();
  Json n = b->NextNotification();
  EXPECT_EQ(n["method"], "locked") << n.dump();
  ASSERT_FALSE(HasError(AddBridge(*b, "br0"))) << "publishing skips the gone session";
  EXPECT_EQ(OnIo([this] { return server_->session_count(); }), 1u);
}

TEST_F(ServerTest, EchoAndUnknownMethods) {
  auto c = Connect();
  EXPECT_EQ(c->Result("echo", Json::parse(R"(["a",{"b":[1]}])")),
            Json::parse(R"(["a",{"b":[1]}])"));
  Json r = c->Call("frobnicate", Json::array());
  EXPECT_EQ(r["error"], "unknown method") << r.dump();
  EXPECT_TRUE(r["result"].is_null());
  // A notification with an unknown method is ignored.
  c->Send({{"id", nullptr}, {"method", "frobnicate"}, {"params", Json::array()}});
  EXPECT_EQ(c->Result("echo", Json::array()), Json::array());
}

TEST_F(ServerTest, MalformedJsonGetsAnErrorAndTheSessionGoesOn) {
  auto c = Connect();
  c->SendRaw(R"({"id":1,"method":})");
  Json e = c->Next();
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_EQ(e["error"]["error"], "syntax error") << e.dump();
  c->SendRaw(R"({"id":2,"params":[]})");  // no method
  e = c->Next();
  EXPECT_EQ(e["id"], 2);
  EXPECT_FALSE(e["error"].is_null());
  EXPECT_EQ(c->Result("list_dbs", Json::array()).size(), 2u);
}

TEST_F(ServerTest, FramingErrorGetsAnErrorThenClose) {
  auto c = Connect();
  auto other = Connect();
  c->SendRaw("} garbage");
  Json e = c->Next();
  EXPECT_EQ(e["error"]["error"], "syntax error") << e.dump();
  EXPECT_TRUE(c->Next(5s).is_null());
  EXPECT_TRUE(c->eof()) << "closed after the error";
  EXPECT_EQ(other->Result("list_dbs", Json::array()).size(), 2u) << "the server is fine";
}

class SmallLimitsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.max_message_bytes = 64 * 1024;
    o.max_output_bytes = 1 << 20;
    o.remotes = {"ptcp:0:127.0.0.1"};
    o.inactivity_probe = 200ms;
    StartServer(o);
  }
  int TcpPort() {
    for (const auto& l : OnIo([this] { return server_->listening(); })) {
      if (l.rfind("ptcp:", 0) == 0) return std::stoi(l.substr(5));
    }
    return -1;
  }
};

TEST_F(SmallLimitsTest, OversizedMessageIsRefusedAndClosed) {
  auto c = Connect();
  c->SendRaw(R"({"id":1,"method":"echo","params":[")" + std::string(100 * 1024, 'x') + R"("]})");
  Json e = c->Next();
  EXPECT_EQ(e["error"]["error"], "syntax error") << e.dump().substr(0, 200);
  EXPECT_NE(e["error"]["details"].get<std::string>().find("too long"), std::string::npos);
  EXPECT_TRUE(c->Next(5s).is_null());
  EXPECT_TRUE(c->eof());
}

TEST_F(SmallLimitsTest, AClientThatStopsReadingBlocksNobodyAndIsDropped) {
  auto slow = Connect();
  auto fast = Connect();
  slow->Result("monitor", Json::parse(R"(["Open_vSwitch","m",{"Bridge":{}}])"));
  // The slow client asks for ~6 MiB of echo replies and never reads them.
  std::string big(48 * 1024, 'y');
  for (int i = 0; i < 128; ++i) {
    if (!slow->TrySend({{"id", i}, {"method", "echo"}, {"params", Json::array({big})}}))
      break;  // dropped
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    Json r = AddBridge(*fast, "br" + std::to_string(i));
    ASSERT_FALSE(HasError(r)) << r.dump();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  // Over its 1 MiB output limit, the slow client was dropped.
  bool dropped = false;
  for (int i = 0; i < 100 && !dropped; ++i) {
    dropped = OnIo([this] { return server_->session_count(); }) == 1;
    if (!dropped) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(dropped);
}

TEST_F(SmallLimitsTest, InactivityProbeOnTcp) {
  RawClient c;
  ASSERT_TRUE(c.ConnectTcp(TcpPort()));
  // Silent client: an echo request arrives.
  Json probe = c.Next(3s);
  ASSERT_EQ(probe["method"], "echo") << probe.dump();
  EXPECT_FALSE(probe["id"].is_null());
  c.Send({{"id", probe["id"]}, {"result", probe["params"]}, {"error", nullptr}});
  probe = c.Next(3s);
  ASSERT_EQ(probe["method"], "echo") << "probed again after more silence";
  // No answer this time: disconnected.
  EXPECT_TRUE(c.Next(3s).is_null());
  EXPECT_TRUE(c.eof());
  // Unix sessions are not probed.
  auto u = Connect();
  EXPECT_TRUE(u->Next(700ms).is_null());
  EXPECT_FALSE(u->eof());
}

class FallbackTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.disabled_methods = {"monitor_cond_since"};
    StartServer(o);
  }
};

TEST_F(FallbackTest, DisabledMethodIsUnknown) {
  auto c = Connect();
  Json r = c->Call("monitor_cond_since", Json::parse(R"(["Open_vSwitch","m",{"Bridge":[{}]},
      "00000000-0000-0000-0000-000000000000"])"));
  EXPECT_EQ(r["error"], "unknown method");
}

}  // namespace
}  // namespace sluice::db
