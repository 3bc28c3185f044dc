// Helpers for integration tests that run third-party programs beside
// sluice-switchd: a background child process (osken-manager, dumpcap,
// ovs-ofctl monitor) with its own log file and process group, and a capture
// of one TCP port on the loopback interface that tshark reads back with its
// OpenFlow dissector. Header-only.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/switchd_process.h"

namespace sluice::test {

// Single-quotes `s` for /bin/sh.
inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `cmd`; success when it exits 0, else a failure carrying its output.
inline ::testing::AssertionResult ShellOk(const std::string& cmd) {
  int rc;
  std::string out = Shell(cmd, &rc);
  if (rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << cmd << " -> exit " << rc << "\n" << out;
}

// Fails, naming what to install, when a program a test drives is missing:
// integration tests do not skip.
inline ::testing::AssertionResult HaveTools(const std::vector<std::string>& tools) {
  std::string missing;
  for (const auto& t : tools) {
    int rc;
    Shell("command -v " + t, &rc);
    if (rc != 0) missing += " " + t;
  }
  if (missing.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "missing programs:" << missing << " (run scripts/install-deps.sh)";
}

// Whether something listens on TCP `port` in this network namespace.
inline bool ListeningOn(int port) {
  return static_cast<bool>(
      ShellOk("ss -Hltn 'sport = :" + std::to_string(port) + "' | grep -q LISTEN"));
}

// Polls `pred` every 100 ms until it holds or `seconds` pass.
template <class Pred>
bool PollUntil(Pred pred, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// A program running in the background in its own process group, stdout and
// stderr to `log`. Stopped (SIGTERM, then SIGKILL after 5 s) by Stop() or the
// destructor.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ::testing::AssertionResult Start(const std::vector<std::string>& argv, const std::string& log) {
    log_ = log;
    pid_ = fork();
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
    if (pid_ == 0) {
      setpgid(0, 0);
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      std::vector<std::string> args = argv;
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execvp(cargs[0], cargs.data());
      fprintf(stderr, "exec %s failed: %s\n", cargs[0], strerror(errno));
      _exit(127);
    }
    setpgid(pid_, pid_);
    return ::testing::AssertionSuccess();
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      return false;
    }
    return true;
  }

  // Sends `sig` to the process group and waits (bounded) for the leader;
  // returns its wait status (-1 if it was never started).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return exit_status_;
    kill(-pid_, sig);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    exit_status_ = status;
    return status;
  }

  std::string Log() const { return ReadFile(log_); }
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_;
};

// A tshark capture of one TCP port on `lo`, written to a pcapng file, then
// read back with that port decoded as OpenFlow.
class TsharkCapture {
 public:
  TsharkCapture(std::filesystem::path dir, int port) : dir_(std::move(dir)), port_(port) {
    file_ = (dir_ / ("of-" + std::to_string(port) + ".pcapng")).string();
  }

  // Starts the capture and waits until it is running. The capture engine
  // is dumpcap, the program tshark itself runs for `tshark -i lo -w FILE`:
  // called directly it starts in well under a second, where tshark first
  // spends seconds loading every dissector it will not use here.
  ::testing::AssertionResult Start() {
    auto tools = HaveTools({"dumpcap", "tshark", "tcpdump"});
    if (!tools) return tools;
    auto started = proc_.Start(
        {"dumpcap", "-q", "-i", "lo", "-w", file_, "-f", "tcp port " + std::to_string(port_)},
        (dir_ / ("dumpcap-" + std::to_string(port_) + ".log")).string());
    if (!started) return started;
    bool capturing = PollUntil(
        [&] { return proc_.Log().find("Capturing on") != std::string::npos || !proc_.Running(); },
        60);
    if (!capturing || !proc_.Running()) {
      return ::testing::AssertionFailure() << "dumpcap did not start capturing:\n" << proc_.Log();
    }
    return ::testing::AssertionSuccess();
  }

  // Stops the capture once it holds everything sent so far. dumpcap reads
  // the kernel's capture ring in blocks and drops what it has not read yet
  // when interrupted, so a fence comes first: a TCP connection attempt to
  // the port from a known source port, which the capture must contain
  // before SIGINT (everything sent earlier on lo is in the file by then).
  void Stop() {
    if (!proc_.Running()) return;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    // Refused or accepted, the SYN is on the wire.
    (void)connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    close(fd);
    std::string fence = "tcpdump -n -r " + ShellQuote(file_) + " 'tcp src port " +
                        std::to_string(ntohs(local.sin_port)) + "' 2>/dev/null | grep -q .";
    int rc;
    bool seen = PollUntil(
        [&] {
          Shell(fence, &rc);
          return rc == 0;
        },
        20);
    EXPECT_TRUE(seen) << "the capture " << file_ << " never showed its fence packet";
    proc_.Stop(SIGINT);
  }

  // tshark -r FILE with the port decoded as OpenFlow, plus `args`.
  std::string Read(const std::string& args, int* rc) const {
    // tshark's stderr (its warning about running as root, errors) goes to a
    // file of its own, kept out of the answer.
    std::string err = (dir_ / "tshark-read.err").string();
    std::string out =
        Shell("{ tshark -n -r " + ShellQuote(file_) + " -d tcp.port==" + std::to_string(port_) +
                  ",openflow " + args + " 2>" + ShellQuote(err) + "; }",
              rc);
    if (*rc != 0) out += ReadFile(err);
    return out;
  }

  // The frames tshark flags as malformed or with an error-level expert item,
  // one summary line each; empty when the capture is clean.
  std::string Malformed() const {
    int rc;
    std::string out = Read("-Y '_ws.malformed || _ws.expert.severity == error'", &rc);
    if (rc != 0) return "tshark -r failed (" + std::to_string(rc) + "): " + out;
    return out;
  }

  // How many times each message type occurs, by `field` (openflow_v4.type or
  // openflow_1_0.type); a frame may carry several messages.
  std::map<int, int> TypeCounts(const std::string& field) const {
    int rc;
    std::string out = Read("-T fields -e " + field, &rc);
    EXPECT_EQ(rc, 0) << "tshark -r " << file_ << " failed:\n" << out;
    std::map<int, int> counts;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      for (std::string t; std::getline(fields, t, ',');) {
        if (!t.empty() && std::isdigit(static_cast<unsigned char>(t[0]))) ++counts[std::stoi(t)];
      }
    }
    return counts;
  }

  const std::string& file() const { return file_; }
  std::string Log() const { return proc_.Log(); }

 private:
  std::filesystem::path dir_;
  int port_;
  std::string file_;
  ChildProcess proc_;
};

inline std::string FormatCounts(const std::map<int, int>& counts) {
  std::string s;
  for (auto [type, n] : counts) s += std::to_string(type) + "x" + std::to_string(n) + " ";
  return s;
}

}  // namespace sluice::test
