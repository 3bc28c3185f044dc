#pragma once
// What: sluice-db's OVSDB server: JSON-RPC sessions (db/jsonrpc.h) on
// `punix:PATH`, `ptcp:[PORT][:IP]` and `pssl:[PORT][:IP]` listeners over
// one Database (db/database.h), speaking RFC 7047 and the extensions Open
// vSwitch clients use, so that ovs-vsctl, ovsdb-client and IDL-based
// clients work unchanged:
//   list_dbs, get_schema, transact, cancel, monitor, monitor_cond,
//   monitor_cond_since, monitor_cond_change, monitor_cancel, lock, steal,
//   unlock, echo, set_db_change_aware, get_server_id.
// Besides the engine's database it serves "_Server" (ovsdb-server(5)): one
// Database table with a row per database (name, model "standalone",
// connected, leader, schema), which Open vSwitch 2.9+ clients monitor
// before anything else. _Server is read-only ("select" only).
//
// Design:
//   - One io thread (the caller's boost::asio::io_context) runs every
//     session, every transaction and every notification; nothing is locked.
//   - Transactions run in arrival order, each to completion. One whose
//     "wait" is not yet satisfied (TransactResult::blocked) is parked and
//     retried, in arrival order, after every later commit that changed
//     something, until its deadline; then it gets the "timed out" reply the
//     engine produced on its last run (nothing was committed since, or it
//     would have been retried). A wait without "timeout" parks until the
//     client cancels or leaves. "cancel" drops a parked transaction and
//     answers it with the error "canceled".
//   - After a commit, every monitor of every session gets its update
//     before the committing client gets its reply (ovsdb-server(7) 4.1.5).
//   - monitor_cond_since is answered as a standalone ovsdb-server does: no
//     transaction history, so <found> is false, the last transaction id is
//     the zero UUID, and all matching rows come as "initial".
//   - Output: each session has its own queue of serialized messages, written
//     asynchronously; a session whose queue exceeds max_output_bytes is
//     dropped, so a client that stops reading costs memory up to that limit
//     and never delays anyone else.
//   - Input: a JSON text that is well-framed but not valid JSON, or not a
//     JSON-RPC message, gets an error reply with a null id and the session
//     goes on; a framing error (see JsonTextSplitter) or a message longer
//     than max_message_bytes gets the same error and the session is closed
//     once it has been sent. An unknown method gets the error "unknown
//     method" (a JSON string, as Open vSwitch's fallbacks expect).
//   - Locks (RFC 7047 4.1.8-4.1.10): one queue of sessions per lock name,
//     its head is the owner. "steal" puts the stealer at the head and
//     sends "stolen" to the previous owner, who stays queued and gets
//     "locked" again when the lock comes back to it.
//   - Inactivity probes: on tcp/ssl sessions (not unix ones, as in Open
//     vSwitch) the server sends an "echo" request after inactivity_probe of
//     silence and closes the session after another one without an answer.
//
// Invariants:
//   1. A closed session holds no lock, is in no lock queue, has no parked
//      transaction and receives no notification.
//   2. Every request gets exactly one response, unless its session closed.
//   3. A client's own update for a transaction precedes the reply to it.
//
// Thread-safety: construct, Start() and Stop() on the io thread, or while
// the io_context is not running; nothing else may touch the Database while
// the server runs. Destroy the Server before its io_context and Database
// (handlers that run after the Server is gone find it gone and do nothing).
//
// Memory: per session a 64 KiB read buffer, the partial input text (at
// most max_message_bytes) and the output queue (at most max_output_bytes).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "db/database.h"
#include "db/jsonrpc.h"

namespace sluice::db {

struct ServerOptions {
  // punix:PATH, ptcp:[PORT][:IP] (default port 6640, all addresses),
  // pssl:[PORT][:IP]. Port 0 picks a free port (see listening()).
  std::vector<std::string> remotes;
  // PEM files for pssl: (the client must present a certificate that chains
  // to ca_cert).
  std::string private_key, certificate, ca_cert;
  size_t max_message_bytes = kDefaultMaxMessageBytes;
  size_t max_output_bytes = kDefaultMaxMessageBytes;
  // tcp/ssl sessions; zero disables.
  std::chrono::milliseconds inactivity_probe{5000};
  // Methods answered "unknown method" as if this server did not have them
  // (to test clients' fallbacks, e.g. monitor_cond_since -> monitor_cond).
  std::set<std::string> disabled_methods;
};

class Server {
 public:
  Server(boost::asio::io_context& io, Database& db, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens every listener and starts accepting. false + *error if a remote is
  // malformed or cannot be opened (then nothing is listening).
  bool Start(std::string* error);
  // Closes the listeners (removing punix socket files) and every session.
  void Stop();

  // The listeners as remotes, with the bound port: "punix:/run/x.sock",
  // "ptcp:43121:127.0.0.1".
  std::vector<std::string> listening() const;
  size_t session_count() const;

  // Runs a transaction as if a client had sent it (no lock), notifying
  // monitors: for the server's own startup writes.
  TransactResult Transact(const Json& operations);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::db
