#pragma once
// What: the client side of OVSDB (RFC 7047) over a unix or TCP socket:
//   - Client: synchronous calls with deadlines, for sluicectl (one process,
//     one short conversation);
//   - Replica: an asynchronous, always up-to-date copy of chosen tables
//     (RFC 7047 4.1.5 "monitor"), kept on its own thread across server
//     restarts, with a queue of transactions on the same connection, for
//     sluice-switchd's live reconfiguration and its writes of runtime
//     columns and cur_cfg.
// Both speak to sluice-db and to Open vSwitch's ovsdb-server alike.
//
// Design:
//   - Targets are "unix:PATH" or "tcp:HOST:PORT" (HOST may be a name, an
//     IPv4 address or a bracketed IPv6 address: tcp:[::1]:6640).
//   - Framing is db/jsonrpc.h's JsonTextSplitter; messages are
//     JsonRpcMessage. Sockets are non-blocking and every wait is a poll()
//     with a deadline, so no call blocks longer than its timeout.
//   - Requests carry integer ids from 1 up. The server's "echo" requests are
//     answered whenever a Client or Replica is reading (RFC 7047 4.1.11), so
//     a client that is busy waiting is never dropped by an inactivity probe.
//   - Client keeps the notifications ("update", "locked", ...) that arrive
//     while it waits for a reply, in arrival order, for TakeNotifications()
//     and WaitNotification(); a reply whose id is not the awaited one (a
//     call that timed out earlier) is dropped.
//   - Replica, on its thread: connect -> get_schema -> monitor every column
//     of the chosen tables -> apply "update" notifications -> on_change.
//     On any failure (connection refused or lost, a monitor error, the
//     server's "monitor_canceled") it closes, waits a backoff delay that
//     starts at min_backoff_ms and doubles up to max_backoff_ms (reset
//     after each successful monitor), and starts again with a fresh
//     snapshot. Rows are the monitor's "new" objects merged over the old
//     row and completed with the schema's default value of every missing
//     column, so a row always holds every column of its table (not _uuid).
//   - Replica::Transact queues; the thread sends queued transactions only
//     while monitoring (after the snapshot), on the monitor's connection, in
//     order. One queued during a connection attempt waits for its outcome;
//     one queued while the Replica waits to reconnect fails at once ("not
//     connected to T: why"); one whose reply cannot arrive (the connection
//     dropped after it was sent: it may or may not have committed) fails
//     with "connection to T lost ...". Nothing is ever resent: the next
//     snapshot tells the caller what the database holds.
//
// Invariants:
//   1. Client: Call() returns within timeout_ms (plus one poll slice) and
//      consumes exactly one reply, the one to its own request.
//   2. Replica: every on_change() sees the complete contents of the chosen
//      tables as of one committed transaction; the first one after each
//      (re)connection is the monitor's full snapshot, so a row deleted while
//      the Replica was disconnected is gone from it.
//   3. Replica: every `done` passed to Transact() is called exactly once.
//
// Thread-safety:
//   - Client: none; one thread uses it.
//   - Replica: Start(), Stop(), Transact(), connected(), Snapshot(),
//     last_error() and the counters may be called from any thread.
//     on_change and every `done` run on the Replica's thread, one at a time;
//     they may call Transact(), connected() and Snapshot(), but not Stop()
//     or the destructor (which join that thread). A Transact() after Stop()
//     completes at once, on the caller's thread, with the error "stopped".
//
// Memory: Client: the unparsed tail of the input and the queued
// notifications. Replica: one copy of the monitored tables (plus one more
// per Snapshot() call), the queue of unsent transactions and the callbacks
// of sent ones.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "db/jsonrpc.h"

namespace sluice::db {

namespace client_internal {
class RpcConnection;
}  // namespace client_internal

class Client {
 public:
  // Connects to `target` (unix:PATH | tcp:HOST:PORT) within timeout_ms
  // (< 0: no limit). nullptr + *error ("unix:/x.sock: connection failed
  // (No such file or directory)") on failure.
  static std::unique_ptr<Client> Connect(const std::string& target, int timeout_ms,
                                         std::string* error);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request `method` with `params` (a JSON array) and waits up to
  // timeout_ms (< 0: no limit) for its reply. true + *result on a reply;
  // false + *error on an error reply (the error object dumped, or the
  // string itself when the server sent a string), a timeout ("timeout
  // after N ms waiting for the reply to METHOD") or a broken connection.
  // After a timeout or a broken connection the Client is still usable for
  // nothing but destruction (connected() says which).
  bool Call(const std::string& method, const Json& params, Json* result, std::string* error,
            int timeout_ms);

  // "transact" on database() with `ops`, the array of operations WITHOUT
  // the database name (the Client puts database() first). *result gets the
  // server's result array whenever a reply arrived. Returns true only if
  // every operation succeeded and the commit did; otherwise false and
  // *error is "<error>: <details>" of the first failure (or the call's
  // error).
  bool Transact(const Json& ops, Json* result, std::string* error, int timeout_ms);

  // Notifications received so far (each {"method": M, "params": P}), oldest
  // first; the queue is emptied.
  std::vector<Json> TakeNotifications();
  // The oldest queued notification, or the next one to arrive within
  // timeout_ms (< 0: no limit). false on timeout or a broken connection.
  bool WaitNotification(Json* out, int timeout_ms);

  bool connected() const;
  const std::string& target() const { return target_; }
  // The database Transact() addresses; "Open_vSwitch" unless changed.
  const std::string& database() const { return database_; }
  void set_database(std::string name) { database_ = std::move(name); }

 private:
  Client(std::string target, std::unique_ptr<client_internal::RpcConnection> conn);
  // Reads one message (answering echo, queueing notifications); false on
  // timeout or a broken connection (*error says which).
  bool ReadOne(JsonRpcMessage* msg, int64_t deadline_ms, std::string* error);

  std::string target_;
  std::string database_ = "Open_vSwitch";
  std::unique_ptr<client_internal::RpcConnection> conn_;
  std::deque<Json> notifications_;
  int64_t next_id_ = 1;
};

struct ReplicaOptions {
  std::string target;               // unix:PATH | tcp:HOST:PORT
  std::vector<std::string> tables;  // monitored, every column
  std::string database = "Open_vSwitch";
  uint32_t min_backoff_ms = 1000;
  uint32_t max_backoff_ms = 8000;
  uint32_t connect_timeout_ms = 5000;
};

class Replica {
 public:
  // table -> row uuid (text) -> row object (column -> RFC 7047 datum, every
  // column of the table; no _uuid/_version).
  using Tables = std::map<std::string, std::map<std::string, Json>>;
  using ChangeCallback = std::function<void(const Tables&)>;
  // result: the server's result array (null if no reply arrived); error:
  // empty iff every operation and the commit succeeded, else
  // "<error>: <details>" of the first failure, "not connected to T: why",
  // "connection to T lost (the transaction may have committed)" or
  // "stopped".
  using TransactDone = std::function<void(const Json& result, const std::string& error)>;

  Replica(ReplicaOptions options, ChangeCallback on_change);
  ~Replica();  // Stop()
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Starts the thread (once). Returns at once; the first on_change comes
  // when the snapshot has arrived.
  void Start();
  // Stops and joins the thread; pending transactions complete with
  // "stopped". Idempotent.
  void Stop();

  // Queues a transaction: `ops` is the operations array without the
  // database name.
  void Transact(Json ops, TransactDone done = nullptr);

  // Monitoring: connected, snapshot received.
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // A copy of the current tables (empty before the first snapshot).
  Tables Snapshot() const;
  // Why the last connection attempt or connection failed ("" if none did).
  std::string last_error() const;
  // Snapshots received (1 after the first connection, +1 per reconnection).
  uint64_t snapshots() const { return snapshots_.load(std::memory_order_relaxed); }
  const ReplicaOptions& options() const { return options_; }

 private:
  struct Pending {
    Json ops;
    TransactDone done;
  };
  void Run();
  // One connection's life: returns when it fails or Stop() is asked.
  void RunConnection();
  // Waits `ms` or until Stop(); false if stopping.
  bool Sleep(uint32_t ms);
  void FailQueued(const std::string& error);
  void SetError(std::string error);
  void Wake();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  const ReplicaOptions options_;
  const ChangeCallback on_change_;
  int wake_fd_ = -1;  // eventfd: Transact() and Stop() wake the thread

  // Written by the Replica thread with mu_ held; read by it without the
  // lock, by Snapshot() with it.
  Tables tables_;
  mutable std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  std::string last_error_;     // guarded by mu_
  bool started_ = false;       // guarded by mu_

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stopped_{false};  // Stop() has run: Transact() fails at once
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> snapshots_{0};
};

}  // namespace sluice::db
