// sluice-db: the config store, an OVSDB server. See db/daemon.h and db/server.h.
#include <CLI/CLI.hpp>

#include "db/daemon.h"

int main(int argc, char** argv) {
  sluice::db::DaemonOptions o;
  const std::string rundir = sluice::db::RunDir();
  CLI::App app{
      "sluice-db: Sluice's configuration database, an OVSDB server (RFC 7047) for sluice-switchd, "
      "sluicectl, "
      "ovs-vsctl and other OVSDB clients"};
  app.add_option("--db", o.db_path, "the database file (SQLite), created if missing")
      ->capture_default_str();
  app.add_option(
      "--remote", o.remotes,
      "where to listen: punix:PATH, ptcp:[PORT][:IP] (port 6640 by default), pssl:[PORT][:IP]; "
      "repeatable (default punix:" +
          rundir + "/db.sock; $SLUICE_RUNDIR defaults to /run/sluice)");
  app.add_option("--schema", o.schema_path,
                 "an OVSDB schema file (default: db/sluice.ovsschema, built in)");
  app.add_flag("--detach", o.detach,
               "run in the background once the database and listeners are open");
  app.add_option("--pidfile", o.pidfile,
                 "write the process id here (without a value: " + rundir + "/sluice-db.pid)")
      ->expected(0, 1)
      ->default_str(rundir + "/sluice-db.pid");
  app.add_option("--log-file", o.log_file,
                 "also log to this file (without a value: " + rundir + "/sluice-db.log)")
      ->expected(0, 1)
      ->default_str(rundir + "/sluice-db.log");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  app.add_option("--private-key", o.private_key, "PEM private key for pssl:");
  app.add_option("--certificate", o.certificate, "PEM certificate for pssl:");
  app.add_option("--ca-cert", o.ca_cert,
                 "PEM CA certificate that clients' certificates must chain to (pssl:)");
  app.add_option("--inactivity-probe", o.inactivity_probe_ms,
                 "ms of silence from a tcp/ssl client before an echo probe, and again before "
                 "disconnecting (0 = off)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return sluice::db::RunDbServer(o);
}
