#include "db/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <utility>

#include "db/database.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::db {
namespace client_internal {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A deadline on NowMs()'s clock; -1 means none.
int64_t DeadlineAfter(int64_t timeout_ms) { return timeout_ms < 0 ? -1 : NowMs() + timeout_ms; }

int PollTimeout(int64_t deadline_ms) {
  if (deadline_ms < 0) return -1;
  int64_t left = deadline_ms - NowMs();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

bool Expired(int64_t deadline_ms) { return deadline_ms >= 0 && NowMs() >= deadline_ms; }

// One JSON-RPC connection on a non-blocking socket. Every wait is a poll()
// bounded by a deadline and optionally interrupted by `wake_fd` becoming
// readable.
class RpcConnection {
 public:
  enum class Rx { kMessage, kTimeout, kWoken, kClosed };

  // Connects to unix:PATH or tcp:HOST:PORT. nullptr + *error on failure,
  // on timeout, or (with *woken set) when wake_fd became readable.
  static std::unique_ptr<RpcConnection> Open(const std::string& target, int64_t deadline_ms,
                                             int wake_fd, bool* woken, std::string* error);

  ~RpcConnection() {
    if (fd_ >= 0) close(fd_);
  }

  bool ok() const { return fd_ >= 0 && !failed_; }

  bool Send(const JsonRpcMessage& msg, int64_t deadline_ms, std::string* error) {
    if (!ok()) {
      *error = "connection closed";
      return false;
    }
    std::string bytes = msg.Serialize();
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        int r = poll(&p, 1, PollTimeout(deadline_ms));
        if (r == 0) {
          // A partial message cannot be taken back: the stream is unusable.
          failed_ = true;
          *error = "timeout while sending";
          return false;
        }
        continue;
      }
      failed_ = true;
      *error = std::string("send failed (") + std::strerror(errno) + ")";
      return false;
    }
    return true;
  }

  Rx Receive(JsonRpcMessage* msg, int64_t deadline_ms, int wake_fd, std::string* error) {
    for (;;) {
      if (!splitter_.broken()) {
        Json text;
        std::string why;
        switch (splitter_.Next(&text, &why)) {
          case JsonTextSplitter::Status::kText:
            if (ParseJsonRpc(text, msg, &why)) return Rx::kMessage;
            spdlog::debug("ovsdb client: ignoring a message from the server: {}", why);
            continue;
          case JsonTextSplitter::Status::kError:
            if (splitter_.broken()) {
              failed_ = true;
              *error = "bad data from the server: " + why;
              return Rx::kClosed;
            }
            continue;
          case JsonTextSplitter::Status::kNeedMore:
            break;
        }
      }
      if (!ok()) {
        *error = eof_ ? "connection closed by the server" : "connection closed";
        return Rx::kClosed;
      }
      pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      int r = poll(p, wake_fd >= 0 ? 2 : 1, PollTimeout(deadline_ms));
      if (r < 0) {
        if (errno == EINTR) continue;
        failed_ = true;
        *error = std::string("poll failed (") + std::strerror(errno) + ")";
        return Rx::kClosed;
      }
      if (r == 0) return Rx::kTimeout;
      if (wake_fd >= 0 && (p[1].revents & POLLIN)) return Rx::kWoken;
      if (p[0].revents == 0) continue;
      char buf[64 * 1024];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n > 0) {
        splitter_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0) {
        eof_ = true;
        failed_ = true;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        failed_ = true;
        *error = std::string("read failed (") + std::strerror(errno) + ")";
        return Rx::kClosed;
      }
    }
  }

 private:
  explicit RpcConnection(int fd) : fd_(fd) {}

  int fd_;
  JsonTextSplitter splitter_;
  bool failed_ = false;
  bool eof_ = false;
};

namespace {

// Waits for a non-blocking connect() on fd; 0 or an errno value (ETIMEDOUT,
// EINTR when woken).
int FinishConnect(int fd, int64_t deadline_ms, int wake_fd, bool* woken) {
  for (;;) {
    pollfd p[2] = {{fd, POLLOUT, 0}, {wake_fd, POLLIN, 0}};
    int r = poll(p, wake_fd >= 0 ? 2 : 1, PollTimeout(deadline_ms));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return ETIMEDOUT;
    if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
      *woken = true;
      return EINTR;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
  }
}

// Connects fd to addr; 0 or an errno value.
int ConnectFd(int fd, const sockaddr* addr, socklen_t len, int64_t deadline_ms, int wake_fd,
              bool* woken) {
  if (connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  return FinishConnect(fd, deadline_ms, wake_fd, woken);
}

}  // namespace

std::unique_ptr<RpcConnection> RpcConnection::Open(const std::string& target, int64_t deadline_ms,
                                                   int wake_fd, bool* woken, std::string* error) {
  *woken = false;
  auto fail = [&](const std::string& why) {
    *error = target + ": connection failed (" + why + ")";
    return nullptr;
  };
  if (target.rfind("unix:", 0) == 0) {
    std::string path = target.substr(5);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) return fail("bad socket path");
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::strerror(errno));
    int err = ConnectFd(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr), deadline_ms,
                        wake_fd, woken);
    if (err != 0) {
      close(fd);
      return fail(std::strerror(err));
    }
    return std::unique_ptr<RpcConnection>(new RpcConnection(fd));
  }
  if (target.rfind("tcp:", 0) == 0) {
    std::string rest = target.substr(4);
    std::string host, port;
    if (!rest.empty() && rest[0] == '[') {
      size_t close_bracket = rest.find(']');
      if (close_bracket == std::string::npos || close_bracket + 1 >= rest.size() ||
          rest[close_bracket + 1] != ':') {
        return fail("expected tcp:[IPv6]:PORT");
      }
      host = rest.substr(1, close_bracket - 1);
      port = rest.substr(close_bracket + 2);
    } else {
      size_t colon = rest.rfind(':');
      if (colon == std::string::npos) return fail("expected tcp:HOST:PORT");
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    if (host.empty() || port.empty()) return fail("expected tcp:HOST:PORT");
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0) return fail(gai_strerror(gai));
    int last_err = ECONNREFUSED;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        last_err = errno;
        continue;
      }
      int err = ConnectFd(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms, wake_fd, woken);
      if (err == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        freeaddrinfo(res);
        return std::unique_ptr<RpcConnection>(new RpcConnection(fd));
      }
      close(fd);
      last_err = err;
      if (*woken || err == ETIMEDOUT) break;
    }
    freeaddrinfo(res);
    return fail(std::strerror(last_err));
  }
  *error = target + ": unsupported target (expected unix:PATH or tcp:HOST:PORT)";
  return nullptr;
}

// The text of a JSON-RPC or OVSDB error: a string as is, an object as
// "<error>: <details>" (or "<error>"), anything else dumped.
std::string ErrorText(const Json& error) {
  if (error.is_string()) return error.get<std::string>();
  if (error.is_object() && error.contains("error") && error["error"].is_string()) {
    std::string s = error["error"].get<std::string>();
    if (error.contains("details") && error["details"].is_string())
      s += ": " + error["details"].get<std::string>();
    return s;
  }
  return error.dump();
}

// The first failure in a "transact" result array, or "".
std::string TransactError(const Json& result) {
  if (!result.is_array()) return "malformed transact reply: " + result.dump();
  for (const Json& r : result) {
    if (r.is_object() && r.contains("error") && !r["error"].is_null()) return ErrorText(r);
  }
  return "";
}

}  // namespace client_internal

using client_internal::DeadlineAfter;
using client_internal::ErrorText;
using client_internal::RpcConnection;

// ---------------------------------------------------------------------------
// Client

Client::Client(std::string target, std::unique_ptr<RpcConnection> conn)
    : target_(std::move(target)), conn_(std::move(conn)) {}

Client::~Client() = default;

std::unique_ptr<Client> Client::Connect(const std::string& target, int timeout_ms,
                                        std::string* error) {
  bool woken;
  auto conn = RpcConnection::Open(target, DeadlineAfter(timeout_ms), -1, &woken, error);
  if (!conn) return nullptr;
  return std::unique_ptr<Client>(new Client(target, std::move(conn)));
}

bool Client::connected() const { return conn_ && conn_->ok(); }

bool Client::ReadOne(JsonRpcMessage* msg, int64_t deadline_ms, std::string* error) {
  for (;;) {
    switch (conn_->Receive(msg, deadline_ms, -1, error)) {
      case RpcConnection::Rx::kMessage:
        break;
      case RpcConnection::Rx::kTimeout:
        *error = "timeout";
        return false;
      case RpcConnection::Rx::kWoken:
        continue;
      case RpcConnection::Rx::kClosed:
        return false;
    }
    if (msg->type != JsonRpcMessage::Type::kRequest) return true;
    // The server asks: only "echo" is defined (RFC 7047 4.1.11).
    JsonRpcMessage answer = msg->method == "echo"
                                ? JsonRpcMessage::Reply(msg->params, msg->id)
                                : JsonRpcMessage::Error(Json("unknown method"), msg->id);
    if (!conn_->Send(answer, deadline_ms, error)) return false;
  }
}

bool Client::Call(const std::string& method, const Json& params, Json* result, std::string* error,
                  int timeout_ms) {
  int64_t deadline = DeadlineAfter(timeout_ms);
  int64_t id = next_id_++;
  std::string why;
  if (!conn_->Send(JsonRpcMessage::Request(method, params, id), deadline, &why)) {
    *error = target_ + ": " + why;
    return false;
  }
  for (;;) {
    JsonRpcMessage msg;
    if (!ReadOne(&msg, deadline, &why)) {
      if (why == "timeout") {
        *error = target_ + ": timeout after " + std::to_string(timeout_ms) +
                 " ms waiting for the reply to " + method;
      } else {
        *error = target_ + ": " + why;
      }
      return false;
    }
    if (msg.type == JsonRpcMessage::Type::kNotification) {
      notifications_.push_back(Json{{"method", msg.method}, {"params", msg.params}});
      continue;
    }
    if (msg.id != Json(id)) continue;  // the reply to an abandoned call
    if (msg.type == JsonRpcMessage::Type::kError) {
      *error = ErrorText(msg.error);
      return false;
    }
    *result = std::move(msg.result);
    return true;
  }
}

bool Client::Transact(const Json& ops, Json* result, std::string* error, int timeout_ms) {
  Json params = Json::array({database_});
  for (const Json& op : ops) params.push_back(op);
  Json reply;
  if (!Call("transact", params, &reply, error, timeout_ms)) return false;
  *result = reply;
  std::string failure = client_internal::TransactError(reply);
  if (!failure.empty()) {
    *error = failure;
    return false;
  }
  return true;
}

std::vector<Json> Client::TakeNotifications() {
  std::vector<Json> out(std::make_move_iterator(notifications_.begin()),
                        std::make_move_iterator(notifications_.end()));
  notifications_.clear();
  return out;
}

bool Client::WaitNotification(Json* out, int timeout_ms) {
  int64_t deadline = DeadlineAfter(timeout_ms);
  while (notifications_.empty()) {
    JsonRpcMessage msg;
    std::string why;
    if (!ReadOne(&msg, deadline, &why)) return false;
    if (msg.type == JsonRpcMessage::Type::kNotification) {
      notifications_.push_back(Json{{"method", msg.method}, {"params", msg.params}});
    }
  }
  *out = std::move(notifications_.front());
  notifications_.pop_front();
  return true;
}

// ---------------------------------------------------------------------------
// Replica
//
// Cross-thread protocol (callers of Transact()/Stop() vs the Replica thread):
//   1. Transact() takes mu_, and unless Stop() has finished (stopped_),
//      appends {ops, done} to queue_; then it writes 1 to the eventfd.
//   2. The thread polls the socket and the eventfd together. Woken, it reads
//      the eventfd (which resets it) and, if it is monitoring, swaps queue_
//      out under mu_ and sends every transaction; their `done`s wait in
//      `pending` (thread-local) for the replies. If it is not monitoring
//      (backoff sleep), it swaps queue_ out and fails them. During a
//      connection attempt it leaves queue_ alone: the snapshot, or the
//      failure, decides.
//   3. tables_ is written only by the thread, with mu_ held; on_change gets
//      a reference to it without the lock (only the thread writes it), and
//      Snapshot() copies it under mu_.
//   4. Stop() sets stop_, wakes the thread and joins it; the thread fails
//      what it still holds with "stopped". Then Stop() sets stopped_ under
//      mu_ and fails whatever was queued in between, so no `done` is lost
//      (step 1 checks stopped_ under the same lock).

namespace {

constexpr const char* kMonitorId = "sluice-replica";

// Applies a monitor's <table-updates> to `tables`: "new" members merged over
// the old row (or the table's default row), no "new" means deleted.
void ApplyTableUpdates(const Json& updates, const std::map<std::string, Json>& default_rows,
                       Replica::Tables* tables) {
  if (!updates.is_object()) return;
  for (auto& [table, rows] : updates.items()) {
    auto def = default_rows.find(table);
    if (def == default_rows.end() || !rows.is_object()) continue;
    auto& dest = (*tables)[table];
    for (auto& [uuid, change] : rows.items()) {
      const Json* new_row = change.is_object() && change.contains("new") ? &change["new"] : nullptr;
      if (!new_row || !new_row->is_object()) {
        dest.erase(uuid);
        continue;
      }
      auto it = dest.find(uuid);
      if (it == dest.end()) it = dest.emplace(uuid, def->second).first;
      for (auto& [column, value] : new_row->items()) {
        if (!column.empty() && column[0] != '_') it->second[column] = value;
      }
    }
  }
}

}  // namespace

Replica::Replica(ReplicaOptions options, ChangeCallback on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Replica::~Replica() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Replica::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stopped_.load()) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Replica::Stop() {
  stop_.store(true, std::memory_order_release);
  Wake();
  if (thread_.joinable()) thread_.join();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mu_);
    stopped_.store(true);
    left.swap(queue_);
  }
  for (auto& p : left) {
    if (p.done) p.done(Json(), "stopped");
  }
}

void Replica::Transact(Json ops, TransactDone done) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_.load()) {
      queue_.push_back(Pending{std::move(ops), std::move(done)});
      done = nullptr;
    }
  }
  if (done) {
    done(Json(), "stopped");
    return;
  }
  Wake();
}

Replica::Tables Replica::Snapshot() const {
  std::lock_guard lock(mu_);
  return tables_;
}

std::string Replica::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Replica::SetError(std::string error) {
  std::lock_guard lock(mu_);
  last_error_ = std::move(error);
}

void Replica::Wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;
}

void Replica::FailQueued(const std::string& error) {
  std::deque<Pending> failed;
  {
    std::lock_guard lock(mu_);
    failed.swap(queue_);
  }
  for (auto& p : failed) {
    if (p.done) p.done(Json(), error);
  }
}

bool Replica::Sleep(uint32_t ms) {
  int64_t deadline = DeadlineAfter(ms);
  while (!stopping()) {
    pollfd p{wake_fd_, POLLIN, 0};
    int r = poll(&p, 1, client_internal::PollTimeout(deadline));
    if (r == 0) return true;
    if (r > 0) {
      uint64_t v;
      ssize_t n = read(wake_fd_, &v, sizeof(v));
      (void)n;
      // Not monitoring: whatever was queued meanwhile cannot be sent.
      if (!stopping()) FailQueued("not connected to " + options_.target + ": " + last_error());
    }
  }
  return false;
}

void Replica::Run() {
  uint32_t backoff = std::max<uint32_t>(options_.min_backoff_ms, 1);
  while (!stopping()) {
    uint64_t before = snapshots_.load();
    RunConnection();
    connected_.store(false, std::memory_order_release);
    if (stopping()) break;
    if (snapshots_.load() != before) backoff = std::max<uint32_t>(options_.min_backoff_ms, 1);
    if (!Sleep(backoff)) break;
    backoff =
        std::min<uint32_t>(backoff * 2, std::max(options_.max_backoff_ms, options_.min_backoff_ms));
  }
  FailQueued("stopped");
}

void Replica::RunConnection() {
  const std::string& target = options_.target;
  std::string error;
  bool woken = false;
  auto conn = RpcConnection::Open(target, DeadlineAfter(options_.connect_timeout_ms), wake_fd_,
                                  &woken, &error);
  if (!conn) {
    if (stopping()) return;
    if (woken) error = target + ": connection interrupted";
    if (last_error() != error) spdlog::warn("db replica: {}", error);
    SetError(error);
    FailQueued("not connected to " + target + ": " + error);
    return;
  }

  // The conversation: get_schema (id 1) -> monitor (id 2) -> live, with
  // transactions from id 3 up.
  enum class State { kSchema, kMonitor, kLive } state = State::kSchema;
  int64_t next_id = 3;
  std::map<int64_t, TransactDone> pending;
  std::map<std::string, Json> default_rows;  // table -> row of default values
  auto send = [&](const JsonRpcMessage& m) { return conn->Send(m, -1, &error); };
  auto send_queued = [&] {
    std::deque<Pending> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    while (!batch.empty()) {
      Pending p = std::move(batch.front());
      batch.pop_front();
      Json params = Json::array({options_.database});
      for (const Json& op : p.ops) params.push_back(op);
      int64_t id = next_id++;
      if (!send(JsonRpcMessage::Request("transact", params, id))) {
        if (p.done) p.done(Json(), "connection to " + target + " lost: " + error);
        for (auto& q : batch) {
          if (q.done) q.done(Json(), "connection to " + target + " lost: " + error);
        }
        return;
      }
      pending.emplace(id, std::move(p.done));
    }
  };

  if (send(JsonRpcMessage::Request("get_schema", Json::array({options_.database}), 1))) {
    for (;;) {
      JsonRpcMessage msg;
      auto rx = conn->Receive(&msg, -1, wake_fd_, &error);
      if (rx == RpcConnection::Rx::kClosed) break;
      if (rx == RpcConnection::Rx::kWoken) {
        uint64_t v;
        ssize_t n = read(wake_fd_, &v, sizeof(v));
        (void)n;
        if (stopping()) break;
        if (state == State::kLive) send_queued();
        continue;
      }
      if (rx != RpcConnection::Rx::kMessage) continue;

      if (msg.type == JsonRpcMessage::Type::kRequest) {
        JsonRpcMessage answer = msg.method == "echo"
                                    ? JsonRpcMessage::Reply(msg.params, msg.id)
                                    : JsonRpcMessage::Error(Json("unknown method"), msg.id);
        if (!send(answer)) break;
        continue;
      }
      if (msg.type == JsonRpcMessage::Type::kNotification) {
        if (msg.method == "update" && state == State::kLive && msg.params.size() == 2 &&
            msg.params[0] == Json(kMonitorId)) {
          {
            std::lock_guard lock(mu_);
            ApplyTableUpdates(msg.params[1], default_rows, &tables_);
          }
          if (on_change_) on_change_(tables_);
        } else if (msg.method == "monitor_canceled") {
          error = "the server canceled the monitor";
          break;
        }
        continue;
      }
      // A reply or an error.
      if (!msg.id.is_number_integer()) continue;
      int64_t id = msg.id.get<int64_t>();
      bool is_error = msg.type == JsonRpcMessage::Type::kError;
      if (id == 1 && state == State::kSchema) {
        std::string why;
        std::shared_ptr<const Schema> schema = is_error ? nullptr : ParseSchema(msg.result, &why);
        if (!schema) {
          error = "get_schema " + options_.database +
                  " failed: " + (is_error ? client_internal::ErrorText(msg.error) : why);
          break;
        }
        Json requests = Json::object();
        bool tables_ok = true;
        for (const std::string& name : options_.tables) {
          const TableSchema* table = schema->FindTable(name);
          if (!table) {
            error = "database " + options_.database + " has no table " + name;
            tables_ok = false;
            break;
          }
          Json columns = Json::array();
          Json row = Json::object();
          for (const ColumnSchema& c : table->columns) {
            columns.push_back(c.name);
            row[c.name] = DatumToJson(DefaultDatum(c.type), c.type);
          }
          requests[name] = Json{{"columns", columns}};
          default_rows[name] = std::move(row);
        }
        if (!tables_ok) break;
        if (!send(JsonRpcMessage::Request(
                "monitor", Json::array({options_.database, kMonitorId, requests}), 2))) {
          break;
        }
        state = State::kMonitor;
      } else if (id == 2 && state == State::kMonitor) {
        if (is_error) {
          error = "monitor failed: " + client_internal::ErrorText(msg.error);
          break;
        }
        Tables fresh;
        for (const std::string& name : options_.tables) fresh[name];
        ApplyTableUpdates(msg.result, default_rows, &fresh);
        {
          std::lock_guard lock(mu_);
          tables_ = std::move(fresh);
          last_error_.clear();
        }
        state = State::kLive;
        connected_.store(true, std::memory_order_release);
        snapshots_.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("db replica: monitoring {} on {}", options_.database, target);
        if (on_change_) on_change_(tables_);
        send_queued();
      } else {
        auto it = pending.find(id);
        if (it == pending.end()) continue;
        TransactDone done = std::move(it->second);
        pending.erase(it);
        if (!done) continue;
        if (is_error) {
          done(Json(), client_internal::ErrorText(msg.error));
        } else {
          done(msg.result, client_internal::TransactError(msg.result));
        }
      }
    }
  }

  connected_.store(false, std::memory_order_release);
  if (stopping()) {
    for (auto& [id, done] : pending) {
      if (done) done(Json(), "stopped");
    }
    return;
  }
  error = target + ": " + error;
  if (last_error() != error) spdlog::warn("db replica: {}", error);
  SetError(error);
  for (auto& [id, done] : pending) {
    if (done)
      done(Json(),
           "connection to " + target + " lost (the transaction may have committed): " + error);
  }
  FailQueued("not connected to " + target + ": " + error);
}

}  // namespace sluice::db
