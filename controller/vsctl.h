#pragma once
// What: sluicectl's configuration commands, in ovs-vsctl's syntax and with
// its output: bridges, ports, interfaces, controllers, fail mode, and the
// generic database commands (list, find, get, set, add, remove, clear,
// create, destroy) over any table of the config store's schema, all the
// commands of one invocation ("cmd1 -- cmd2 -- ...") run as ONE OVSDB
// transaction against sluice-db (or any OVSDB server with an
// Open_vSwitch database).
//
// Design:
//   - One run: parse every command (syntax, options, argument counts) ->
//     connect -> get_schema (once) -> read every table with one "select"
//     transaction -> run the commands in order against that in-memory
//     copy, each seeing the changes of the ones before it -> commit the
//     difference -> (unless --no-wait) wait until sluice-switchd has applied
//     it -> print. Values are typed by the schema (db/schema.h, db/datum.h).
//   - Consistency is optimistic: while the commands run, every column they
//     read is recorded per table (row lookups by name or UUID read the
//     table's _uuid and the name column). The commit starts with one "wait"
//     per such table, "until": "==" on those columns of ALL the table's rows
//     as they were read, timeout 0. If one of them fails (someone changed
//     what a decision depended on), the whole run is redone from a fresh
//     read, at most kMaxAttempts times. Nothing is committed by a run that
//     changes nothing, and then nothing is verified either: its one select
//     transaction was a consistent snapshot.
//   - Changes are written as precisely as they were asked: a whole column
//     ("set T R col=v", "clear") as an "update"; a map key or set element
//     ("set T R col:k=v", "add", "remove", add-br's reference from
//     Open_vSwitch.bridges) as "mutate" insert/delete of just those keys, so
//     concurrent writers of other keys do not conflict. New rows are
//     inserted with "uuid-name"s and referred to as "named-uuid"s.
//   - Deletion is ovs-vsctl's: del-br, del-port, del-controller and
//     set-controller only drop references; the server garbage-collects the
//     unreferenced rows (the in-memory copy collects them too, so later
//     commands of the same run do not see them). "destroy" deletes rows.
//   - Waiting: with changes and without --no-wait, the transaction also
//     mutates Open_vSwitch.next_cfg by +1 and selects it back; after the
//     commit the run monitors Open_vSwitch.cur_cfg until it reaches that
//     value (sluice-switchd copies next_cfg to cur_cfg once it has applied
//     the configuration), bounded by --timeout.
//   - Records are named as ovs-vsctl names them: Bridge, Port, Interface,
//     Mirror, Flow_Table by name; Manager by target; Controller, NetFlow,
//     sFlow, IPFIX by their bridge's name; QoS by its port's name; SSL and
//     Open_vSwitch by "."; any record by UUID or a unique UUID prefix (4+
//     hex digits). Table and column names may be abbreviated to a unique
//     case-insensitive prefix.
//   - Exit codes: 0 success; 1 error (one line on *err: "sluicectl: ...");
//     2 for br-exists of a missing bridge; 142 (ovs-vsctl's SIGALRM exit)
//     when --timeout expires, also when the change was committed but not yet
//     applied by the switch (the line says so).
//
// Invariants:
//   1. Either every command of a run takes effect, in one transaction, or
//      none does.
//   2. A run that fails (bad syntax, a missing record, a constraint, a
//      server-side error) leaves the database unchanged.
//   3. A committed run's decisions were taken on data that was still
//      current at commit (the waits), or it was redone.
//
// Thread-safety: RunVsctl keeps no state between calls; concurrent calls
// are independent.
//
// Memory: one copy of every table per attempt (a configuration database is
// small: bridges, ports, interfaces, controllers), freed when the run ends.

#include <string>
#include <vector>

namespace sluice::ctl {

struct VsctlOptions {
  std::string db;        // unix:PATH | tcp:HOST:PORT; empty: DefaultDbTarget()
  double timeout_s = 0;  // the whole run; 0: no limit
  bool no_wait = false;  // do not wait for sluice-switchd to apply the change
  std::string format;    // list (default) | table | json, for list and find (json also for get)
  bool bare = false;     // ovs-vsctl --bare: values only, no headings, no quotes
  bool dry_run = false;  // run the commands but do not commit
};

// "unix:$SLUICE_RUNDIR/db.sock" ($SLUICE_RUNDIR defaults to /run/sluice).
std::string DefaultDbTarget();

// Runs `args`: command words after the global options, possibly several
// commands separated by "--", each optionally preceded by its own options
// (--if-exists, --may-exist, --id=@name, --all, --columns=C1,C2,
// --with-iface). Output goes to *out, an error line to *err; returns the
// exit code (see Design).
int RunVsctl(const std::vector<std::string>& args, const VsctlOptions& options, std::string* out,
             std::string* err);

// True if `word` is one of the configuration commands above (or one of the
// per-command options that may precede the first command).
bool IsVsctlCommand(const std::string& word);

// The configuration commands' part of `sluicectl --help`.
std::string VsctlHelp();

}  // namespace sluice::ctl
