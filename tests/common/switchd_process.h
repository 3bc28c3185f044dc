// A real sluice-switchd process for integration tests: started with the
// arguments a test gives (plus a private management socket, no hugepages,
// small memory), waited for until its management socket answers, stopped
// with SIGTERM. Header-only.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "controller/mgmt_client.h"

namespace sluice::test {

inline std::string BuildDir() {
  const char* d = std::getenv("SLUICE_BUILD_DIR");
  return d ? d : ".";
}

inline std::string SourceDir() {
  const char* d = std::getenv("SLUICE_SOURCE_DIR");
  return d ? d : SLUICE_SOURCE_DIR_DEFAULT;
}

// Runs a shell command; returns stdout+stderr, sets *rc to the exit code.
inline std::string Shell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A TCP port that was free a moment ago (for ptcp: listeners and
// controllers the test runs).
inline int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

class SwitchdProcess {
 public:
  explicit SwitchdProcess(const std::string& tag) {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-" + tag + "-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    ctl_ = (dir_ / "switchd.ctl").string();
  }
  ~SwitchdProcess() {
    Stop();
    std::error_code ec;
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_, ec);  // kept for a failed test's logs
  }

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& ctl() const { return ctl_; }
  std::string log_path() const { return (dir_ / "switchd.log").string(); }
  std::string Log() const {
    int rc;
    return Shell("cat " + log_path(), &rc);
  }

  ::testing::AssertionResult Start(const std::vector<std::string>& args, const std::string& netns = "") {
    std::vector<std::string> argv;
    if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
    argv.push_back(BuildDir() + "/tools/sluice-switchd");
    for (const char* a : {"--stats-interval", "0", "--dpdk-mem", "512", "--mbufs", "16384",
                          "--hugepages", "no", "--duration", "600"}) {
      argv.push_back(a);
    }
    argv.push_back("--ctl");
    argv.push_back(ctl_);
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
    if (pid_ == 0) {
      setpgid(0, 0);
      std::string log = log_path();
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execvp(cargs[0], cargs.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      ctl::MgmtReply r;
      if (ctl::MgmtCall(ctl_, "help", {}, 2, &r).ok()) return ::testing::AssertionSuccess();
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "sluice-switchd exited early:\n" << Log();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ::testing::AssertionFailure() << "sluice-switchd did not open " << ctl_ << "\n" << Log();
  }

  // SIGTERM and wait; the exit status (-1 if not running).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  ctl::MgmtReply Call(const std::string& method, std::vector<std::string> params = {}) {
    ctl::MgmtReply r;
    Status st = ctl::MgmtCall(ctl_, method, params, 10, &r);
    EXPECT_TRUE(st.ok()) << method << ": " << st.message();
    return r;
  }

  // Polls `method` until pred(reply) holds (bounded by `seconds`).
  template <class Pred>
  ctl::MgmtReply WaitFor(const std::string& method, Pred pred, int seconds = 30) {
    ctl::MgmtReply r;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    do {
      r = Call(method);
      if (pred(r)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
  }

 private:
  std::filesystem::path dir_;
  std::string ctl_;
  pid_t pid_ = -1;
};

}  // namespace sluice::test
