#pragma once
// What: the sluice-db process around db::Server (tools/sluice_db.cc is its
// command line): logging, the schema (built in, or a file), the database
// file with its Open_vSwitch root row, the listeners, --detach with a
// pidfile, and a clean stop on SIGTERM/SIGINT.
//
// Design:
//   - --detach forks before anything is opened (SQLite handles and sockets
//     must not cross a fork); the parent waits on a pipe until the child has
//     opened the database and every listener, then exits 0, or exits 1 if
//     the child dies first. So `sluice-db --detach ... && ovs-vsctl ...` is
//     race-free. The child starts a session, answers nothing on stdio and
//     runs from "/" (every path is made absolute first).
//   - One sluice-db per database file: an exclusive flock() on
//     ".conf.db.~lock~" beside the file (as ovsdb-server does); a second
//     server on the same file exits with an error instead of serving a
//     diverging copy.
//   - An Open_vSwitch database whose Open_vSwitch table is empty (a new
//     file) gets one row with default values, as `ovs-vsctl init` would
//     insert, so that `ovs-vsctl add-br` works at once.
//
// Thread-safety: RunDbServer runs the server on the calling thread.

#include <string>
#include <vector>

namespace sluice::db {

struct DaemonOptions {
  std::string db_path = "/etc/sluice/conf.db";
  std::vector<std::string> remotes;  // empty: punix:$SLUICE_RUNDIR/db.sock
  std::string schema_path;           // empty: the schema built into the binary
  bool detach = false;
  std::string pidfile;   // empty: none
  std::string log_file;  // empty: stderr only
  std::string log_level = "info";
  std::string private_key, certificate, ca_cert;  // for pssl:
  int inactivity_probe_ms = 5000;                 // tcp/ssl clients; 0: off
};

// $SLUICE_RUNDIR, else /run/sluice.
std::string RunDir();

// Runs sluice-db until SIGTERM or SIGINT; the process exit code.
int RunDbServer(DaemonOptions options);

}  // namespace sluice::db
