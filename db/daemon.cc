#include "db/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "db/builtin_schema.h"
#include "db/database.h"
#include "db/server.h"

namespace sluice::db {

namespace fs = std::filesystem;

namespace {

std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

bool SetUpLogging(const DaemonOptions& o, std::string* error) {
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") {
    *error = "unknown log level \"" + o.log_level + "\"";
    return false;
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!o.log_file.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(o.log_file).parent_path(), ec);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file));
    } catch (const spdlog::spdlog_ex& e) {
      *error = e.what();
      return false;
    }
  }
  auto logger = std::make_shared<spdlog::logger>("sluice-db", sinks.begin(), sinks.end());
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ sluice-db[%P]: %v");
  spdlog::set_default_logger(logger);
  return true;
}

// --detach: the parent waits for the child's NotifyReady() (see daemon.h).
int g_ready_fd = -1;

bool Detach() {
  int p[2];
  if (pipe(p) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) {
    close(p[1]);
    char c;
    ssize_t n;
    do {
      n = read(p[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) _exit(0);
    int status = 0;
    waitpid(pid, &status, 0);
    _exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
  }
  close(p[0]);
  setsid();
  g_ready_fd = p[1];
  return true;
}

void NotifyReady() {
  if (g_ready_fd < 0) return;
  if (chdir("/") != 0) spdlog::warn("chdir /: {}", strerror(errno));
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  char c = 1;
  ssize_t n = write(g_ready_fd, &c, 1);
  (void)n;
  close(g_ready_fd);
  g_ready_fd = -1;
}

// One server per database file: an exclusive flock on ".NAME.~lock~" beside
// it, held (fd left open) for the life of the process and released by the
// kernel however it ends.
bool LockDatabase(const std::string& db_path, std::string* error) {
  fs::path p(db_path);
  fs::path lock = p.parent_path() / ("." + p.filename().string() + ".~lock~");
  int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = lock.string() + ": " + strerror(errno);
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *error = errno == EWOULDBLOCK ? "in use by another sluice-db (" + lock.string() + " is locked)"
                                  : lock.string() + ": " + strerror(errno);
    close(fd);
    return false;
  }
  return true;
}

// A new Open_vSwitch database gets its root row (see daemon.h).
bool EnsureRootRow(Database& db, std::string* error) {
  if (db.name() != "Open_vSwitch" || !db.schema_json()["tables"].contains("Open_vSwitch"))
    return true;
  if (!db.Rows("Open_vSwitch").empty()) return true;
  Json ops = Json::array({{{"op", "insert"}, {"table", "Open_vSwitch"}, {"row", Json::object()}},
                          {{"op", "comment"}, {"comment", "sluice-db: initial Open_vSwitch row"}}});
  TransactResult r = db.Transact(ops);
  for (const auto& result : r.reply) {
    if (result.is_object() && result.contains("error")) {
      *error = "cannot insert the Open_vSwitch row: " + r.reply.dump();
      return false;
    }
  }
  spdlog::info("new database: inserted the Open_vSwitch root row");
  return true;
}

}  // namespace

std::string RunDir() {
  const char* d = std::getenv("SLUICE_RUNDIR");
  return d && *d ? d : "/run/sluice";
}

int RunDbServer(DaemonOptions o) {
  std::string error;
  if (!SetUpLogging(o, &error)) {
    fprintf(stderr, "sluice-db: %s\n", error.c_str());
    return 1;
  }
  if (o.remotes.empty()) o.remotes.push_back("punix:" + RunDir() + "/db.sock");
  o.db_path = Absolute(o.db_path);
  o.schema_path = Absolute(o.schema_path);
  o.pidfile = Absolute(o.pidfile);
  o.private_key = Absolute(o.private_key);
  o.certificate = Absolute(o.certificate);
  o.ca_cert = Absolute(o.ca_cert);
  for (auto& r : o.remotes) {
    if (r.rfind("punix:", 0) == 0) r = "punix:" + Absolute(r.substr(6));
  }
  std::error_code ec;
  fs::create_directories(RunDir(), ec);
  if (fs::path(o.db_path).has_parent_path())
    fs::create_directories(fs::path(o.db_path).parent_path(), ec);

  std::shared_ptr<const Schema> schema;
  if (o.schema_path.empty()) {
    Json text = Json::parse(BuiltinSchemaText(), nullptr, false);
    if (text.is_discarded()) {
      spdlog::error("the built-in schema ({}) is not valid JSON", BuiltinSchemaSource());
      return 1;
    }
    schema = ParseSchema(text, &error);
  } else {
    schema = LoadSchemaFile(o.schema_path, &error);
  }
  if (!schema) {
    spdlog::error("schema {}: {}", o.schema_path.empty() ? BuiltinSchemaSource() : o.schema_path,
                  error);
    return 1;
  }

  if (o.detach && !Detach()) {
    spdlog::error("--detach: {}", strerror(errno));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  if (!LockDatabase(o.db_path, &error)) {
    spdlog::error("{}: {}", o.db_path, error);
    return 1;
  }
  auto db = Database::Open(o.db_path, schema, &error);
  if (!db) {
    spdlog::error("{}: {}", o.db_path, error);
    return 1;
  }
  if (!EnsureRootRow(*db, &error)) {
    spdlog::error("{}: {}", o.db_path, error);
    return 1;
  }

  boost::asio::io_context io;
  ServerOptions so;
  so.remotes = o.remotes;
  so.private_key = o.private_key;
  so.certificate = o.certificate;
  so.ca_cert = o.ca_cert;
  so.inactivity_probe = std::chrono::milliseconds(o.inactivity_probe_ms);
  Server server(io, *db, so);
  if (!server.Start(&error)) {
    spdlog::error("{}", error);
    return 1;
  }
  if (!o.pidfile.empty()) {
    fs::create_directories(fs::path(o.pidfile).parent_path(), ec);
    std::ofstream(o.pidfile) << getpid() << "\n";
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int signo) {
    if (e) return;
    spdlog::info("signal {}: stopping", signo);
    server.Stop();
  });
  spdlog::info("serving {} ({}) from {}", db->name(),
               o.schema_path.empty() ? "built-in schema" : o.schema_path, o.db_path);
  NotifyReady();
  io.run();
  if (!o.pidfile.empty()) fs::remove(o.pidfile, ec);
  spdlog::info("exiting");
  return 0;
}

}  // namespace sluice::db
