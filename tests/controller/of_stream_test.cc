// Tests for controller/of_stream.h: target syntax, framing over TCP, unix
// and TLS streams, close and overflow semantics, mutual TLS, and the
// Connector's backoff and reconnection.
//
// Everything on the streams runs on an io_context driven by test-owned
// threads; the test thread waits on condition variables (Recorder) or polls
// an atomic counter with a deadline. The few sleeps shape traffic (dribbling
// bytes, keeping a connection up past max_backoff) and never stand in for a
// synchronisation.
#include "controller/of_stream.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace sluice::ctl {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Kind = Target::Kind;

// ---------------------------------------------------------------------------
// Helpers

// An OpenFlow-shaped message: version 4, `type`, length `len`, xid, and a
// body whose bytes depend on xid and position.
std::vector<uint8_t> Msg(uint16_t len, uint32_t xid, uint8_t type = 2) {
  std::vector<uint8_t> m(len);
  m[0] = 4;
  m[1] = type;
  m[2] = static_cast<uint8_t>(len >> 8);
  m[3] = static_cast<uint8_t>(len);
  for (int i = 0; i < 4; ++i) m[4 + i] = static_cast<uint8_t>(xid >> (24 - 8 * i));
  for (size_t i = 8; i < len; ++i) m[i] = static_cast<uint8_t>(xid * 31 + i);
  return m;
}

uint32_t Xid(const std::vector<uint8_t>& m) {
  return uint32_t{m[4]} << 24 | uint32_t{m[5]} << 16 | uint32_t{m[6]} << 8 | m[7];
}

// Polls `pred` until it holds or `timeout` passes.
template <typename Pred>
bool Poll(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Collects one stream's callbacks.
class Recorder {
 public:
  OfStream::OnMessage OnMessage() {
    return [this](std::vector<uint8_t>&& m) {
      std::function<void(const std::vector<uint8_t>&)> hook;
      {
        std::lock_guard lock(mu_);
        if (!closes_.empty()) after_close_ = true;
        msgs_.push_back(m);
        hook = hook_;
      }
      if (hook) hook(m);
      cv_.notify_all();
    };
  }
  OfStream::OnClose OnClose(std::function<void()> then = nullptr) {
    return [this, then](const std::string& reason) {
      {
        std::lock_guard lock(mu_);
        closes_.push_back(reason);
      }
      if (then) then();
      cv_.notify_all();
    };
  }
  // Called (on the io thread) with each message as it arrives.
  void SetHook(std::function<void(const std::vector<uint8_t>&)> hook) {
    std::lock_guard lock(mu_);
    hook_ = std::move(hook);
  }
  bool WaitMessages(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return msgs_.size() >= n; });
  }
  bool WaitClose(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !closes_.empty(); });
  }
  std::vector<std::vector<uint8_t>> msgs() {
    std::lock_guard lock(mu_);
    return msgs_;
  }
  std::vector<std::string> closes() {
    std::lock_guard lock(mu_);
    return closes_;
  }
  bool message_after_close() {
    std::lock_guard lock(mu_);
    return after_close_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> msgs_;
  std::vector<std::string> closes_;
  bool after_close_ = false;
  std::function<void(const std::vector<uint8_t>&)> hook_;
};

// The io_context the code under test runs on, with its threads.
class IoThreads {
 public:
  explicit IoThreads(int n = 1) { AddThreads(n); }
  void AddThreads(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io.run(); });
  }
  ~IoThreads() { Stop(); }
  void Stop() {
    work_.reset();
    io.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Returns once everything posted before the call has run (exact with one
  // thread; tests that add threads do not rely on it).
  void Drain() {
    for (int i = 0; i < 3; ++i) {
      std::promise<void> p;
      asio::post(io, [&] { p.set_value(); });
      p.get_future().wait();
    }
  }
  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_{io.get_executor()};
  std::vector<std::thread> threads_;
};

// Captures log lines so that tests can see what the Listener reported.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(lines_mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& l : lines_) {
        if (l.find(needle) != std::string::npos) return true;
      }
      return false;
    });
  }
  void Clear() {
    std::lock_guard lock(lines_mu_);
    lines_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    {
      std::lock_guard lock(lines_mu_);
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    cv_.notify_all();
  }
  void flush_() override {}

 private:
  std::mutex lines_mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

// Installed before any io thread starts (first use is in a fixture's
// constructor, when no io thread of an earlier test is left).
CaptureSink& Logs() {
  static std::shared_ptr<CaptureSink> sink = [] {
    auto s = std::make_shared<CaptureSink>();
    spdlog::default_logger()->sinks().push_back(s);
    return s;
  }();
  return *sink;
}

std::string Shell(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return rc == 0 ? "" : "failed (" + std::to_string(rc) + "): " + cmd;
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/of_stream_XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "";
}

// A CA with a server and a client certificate, and an untrusted CA with a
// client certificate of its own; made once with the openssl command line.
struct Certs {
  std::string dir;
  std::string error;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  TlsOptions Server() const { return {Path("server.key"), Path("server.pem"), Path("ca.pem")}; }
  TlsOptions Client() const { return {Path("client.key"), Path("client.pem"), Path("ca.pem")}; }
  // Presents a certificate from the other CA (but trusts the server).
  TlsOptions UntrustedClient() const {
    return {Path("evilclient.key"), Path("evilclient.pem"), Path("ca.pem")};
  }
  // Presents a good certificate but does not trust the server's CA.
  TlsOptions DistrustingClient() const {
    return {Path("client.key"), Path("client.pem"), Path("evil.pem")};
  }

  Certs() {
    dir = MakeTempDir();
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto ca = [&](const std::string& n) {
      return Shell("cd " + dir + " && openssl req -x509 " + key + " -keyout " + n + ".key -out " +
                   n + ".pem -subj /CN=" + n + " -days 2");
    };
    auto cert = [&](const std::string& n, const std::string& by) {
      std::string e = Shell("cd " + dir + " && openssl req " + key + " -keyout " + n +
                            ".key -out " + n + ".csr -subj /CN=" + n);
      if (!e.empty()) return e;
      return Shell("cd " + dir + " && openssl x509 -req -in " + n + ".csr -CA " + by +
                   ".pem -CAkey " + by + ".key -CAcreateserial -out " + n + ".pem -days 2");
    };
    for (const std::string& e : {ca("ca"), cert("server", "ca"), cert("client", "ca"), ca("evil"),
                                 cert("evilclient", "evil")}) {
      if (!e.empty() && error.empty()) error = e;
    }
  }
  ~Certs() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const Certs& TestCerts() {
  static Certs certs;
  return certs;
}

// A port nobody listens on (bound, read and released).
uint16_t FreePort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

Target MustParse(const std::string& s) {
  std::string error;
  auto t = ParseTarget(s, 6653, &error);
  EXPECT_TRUE(t) << s << ": " << error;
  return t.value_or(Target{});
}

// ---------------------------------------------------------------------------
// ParseTarget / ToString

TEST(ParseTargetTest, ActiveForms) {
  struct Case {
    const char* text;
    Kind kind;
    std::string host;
    uint16_t port;
    const char* canonical;
  } cases[] = {
      {"tcp:1.2.3.4", Kind::kTcp, "1.2.3.4", 6653, "tcp:1.2.3.4:6653"},
      {"tcp:1.2.3.4:6633", Kind::kTcp, "1.2.3.4", 6633, "tcp:1.2.3.4:6633"},
      {"ssl:10.0.0.1", Kind::kSsl, "10.0.0.1", 6653, "ssl:10.0.0.1:6653"},
      {"ssl:10.0.0.1:1", Kind::kSsl, "10.0.0.1", 1, "ssl:10.0.0.1:1"},
      {"tcp:[::1]", Kind::kTcp, "::1", 6653, "tcp:[::1]:6653"},
      {"tcp:[::1]:65535", Kind::kTcp, "::1", 65535, "tcp:[::1]:65535"},
      {"ssl:[fe80:0::0001]:6653", Kind::kSsl, "fe80::1", 6653, "ssl:[fe80::1]:6653"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    Target t = MustParse(c.text);
    EXPECT_EQ(t.kind, c.kind);
    EXPECT_FALSE(t.passive);
    EXPECT_EQ(t.host, c.host);
    EXPECT_EQ(t.port, c.port);
    EXPECT_EQ(t.ToString(), c.canonical);
  }
}

TEST(ParseTargetTest, PassiveForms) {
  struct Case {
    const char* text;
    Kind kind;
    std::string host;
    uint16_t port;
    const char* canonical;
  } cases[] = {
      {"ptcp:", Kind::kTcp, "", 6653, "ptcp:6653"},
      {"ptcp:0", Kind::kTcp, "", 0, "ptcp:0"},
      {"ptcp:6633", Kind::kTcp, "", 6633, "ptcp:6633"},
      {"ptcp:6653:127.0.0.1", Kind::kTcp, "127.0.0.1", 6653, "ptcp:6653:127.0.0.1"},
      {"ptcp::127.0.0.1", Kind::kTcp, "127.0.0.1", 6653, "ptcp:6653:127.0.0.1"},
      {"ptcp:0:[::1]", Kind::kTcp, "::1", 0, "ptcp:0:[::1]"},
      {"ptcp:6653:::", Kind::kTcp, "::", 6653, "ptcp:6653:[::]"},
      {"pssl:", Kind::kSsl, "", 6653, "pssl:6653"},
      {"pssl:1234:0.0.0.0", Kind::kSsl, "0.0.0.0", 1234, "pssl:1234:0.0.0.0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    Target t = MustParse(c.text);
    EXPECT_EQ(t.kind, c.kind);
    EXPECT_TRUE(t.passive);
    EXPECT_EQ(t.host, c.host);
    EXPECT_EQ(t.port, c.port);
    EXPECT_EQ(t.ToString(), c.canonical);
  }
}

TEST(ParseTargetTest, UnixForms) {
  Target a = MustParse("unix:/run/sluice/ctl.sock");
  EXPECT_EQ(a.kind, Kind::kUnix);
  EXPECT_FALSE(a.passive);
  EXPECT_EQ(a.path, "/run/sluice/ctl.sock");
  EXPECT_EQ(a.ToString(), "unix:/run/sluice/ctl.sock");
  Target p = MustParse("punix:relative/path:with:colons");
  EXPECT_EQ(p.kind, Kind::kUnix);
  EXPECT_TRUE(p.passive);
  EXPECT_EQ(p.path, "relative/path:with:colons");
  EXPECT_EQ(p.ToString(), "punix:relative/path:with:colons");
}

TEST(ParseTargetTest, DefaultPortIsTheCallers) {
  std::string error;
  auto t = ParseTarget("tcp:1.2.3.4", 6633, &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->port, 6633);
}

TEST(ParseTargetTest, RoundTrips) {
  for (const char* s : {"tcp:1.2.3.4:6653", "ssl:[::1]:1", "ptcp:0", "pssl:6653:[::1]",
                        "ptcp:7:10.1.2.3", "unix:/x", "punix:/y"}) {
    SCOPED_TRACE(s);
    Target t = MustParse(s);
    EXPECT_EQ(t.ToString(), s);
    Target again = MustParse(t.ToString());
    EXPECT_EQ(again.ToString(), s);
  }
}

TEST(ParseTargetTest, Errors) {
  for (const char* s : {"",
                        "tcp",
                        "1.2.3.4:6653",
                        "udp:1.2.3.4",
                        "TCP:1.2.3.4",
                        "tcp:",
                        "tcp::6653",
                        "tcp:1.2.3.4:",
                        "tcp:1.2.3.4:0",
                        "tcp:1.2.3.4:65536",
                        "tcp:1.2.3.4:99999999",
                        "tcp:1.2.3.4:66x",
                        "tcp:1.2.3.4:-1",
                        "tcp:1.2.3.4:+80",
                        "tcp:example.com",
                        "tcp:1.2.3",
                        "tcp:256.1.1.1",
                        "tcp:::1",
                        "tcp:[::1",
                        "tcp:[::1]x",
                        "tcp:[::1]:",
                        "tcp:[1.2.3.4]",
                        "tcp:[]:6653",
                        "ssl:1.2.3.4:6653:7",
                        "ptcp:x",
                        "ptcp:70000",
                        "ptcp:6653:",
                        "ptcp:6653:localhost",
                        "ptcp:6653:1.2.3.4:5",
                        "pssl:-1",
                        "unix:",
                        "punix:"}) {
    SCOPED_TRACE(s);
    std::string error;
    EXPECT_FALSE(ParseTarget(s, 6653, &error));
    EXPECT_NE(error.find("invalid target"), std::string::npos) << error;
  }
  EXPECT_FALSE(ParseTarget("bogus", 6653, nullptr));  // *error is optional
}

// ---------------------------------------------------------------------------
// A Listener and a Connector on one io_context.

class StreamTest : public ::testing::Test {
 protected:
  StreamTest() { Logs(); }

  void TearDown() override {
    io_.Stop();
    for (auto& t : temp_dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(t, ec);
    }
  }

  std::string TempDir() {
    temp_dirs_.push_back(MakeTempDir());
    return temp_dirs_.back();
  }

  // Opens a listener for `kind` on loopback; returns the active target
  // that reaches it.
  Target Listen(Kind kind, const TlsOptions& tls = {}, bool start_accepted = true,
                uint16_t port = 0) {
    std::string text;
    if (kind == Kind::kUnix) {
      unix_path_ = TempDir() + "/of.sock";
      text = "punix:" + unix_path_;
    } else {
      text =
          std::string(kind == Kind::kSsl ? "pssl:" : "ptcp:") + std::to_string(port) + ":127.0.0.1";
    }
    std::string error;
    listener_ = Listener::Open(
        io_.io, MustParse(text), tls,
        [this, start_accepted](std::shared_ptr<OfStream> s) {
          {
            std::lock_guard lock(mu_);
            accepted_.push_back(s);
          }
          if (start_accepted) {
            s->Start(server_rec_.OnMessage(), server_rec_.OnClose());
          }
          cv_.notify_all();
        },
        &error);
    EXPECT_TRUE(listener_) << error;
    if (!listener_) return {};
    if (kind == Kind::kUnix) return MustParse("unix:" + unix_path_);
    return MustParse(std::string(kind == Kind::kSsl ? "ssl:" : "tcp:") +
                     "127.0.0.1:" + std::to_string(listener_->port()));
  }

  // Creates and starts a connector whose streams report to client_rec_
  // and which calls Disconnected() from on_close.
  void ConnectTo(const Target& target, const TlsOptions& tls = {},
                 size_t max_queued = kDefaultMaxQueuedBytes, uint32_t max_backoff_ms = 8000,
                 uint32_t initial_backoff_ms = kDefaultInitialBackoffMs) {
    std::string error;
    connector_ = Connector::Create(
        io_.io, target, tls, max_backoff_ms,
        [this](std::shared_ptr<OfStream> s) {
          {
            std::lock_guard lock(mu_);
            connected_.push_back(s);
          }
          s->Start(client_rec_.OnMessage(),
                   client_rec_.OnClose([this] { connector_raw_->Disconnected(); }));
          cv_.notify_all();
        },
        &error, max_queued, initial_backoff_ms);
    ASSERT_TRUE(connector_) << error;
    connector_raw_ = connector_.get();
    connector_->Start();
  }

  std::shared_ptr<OfStream> WaitAccepted(size_t i = 0, std::chrono::milliseconds t = 10s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, t, [&] { return accepted_.size() > i; })) return nullptr;
    return accepted_[i];
  }
  std::shared_ptr<OfStream> WaitConnected(size_t i = 0, std::chrono::milliseconds t = 10s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, t, [&] { return connected_.size() > i; })) return nullptr;
    return connected_[i];
  }
  size_t n_accepted() {
    std::lock_guard lock(mu_);
    return accepted_.size();
  }
  size_t n_connected() {
    std::lock_guard lock(mu_);
    return connected_.size();
  }

  // Declaration order matters: the recorders outlive the io threads that
  // call into them, and the io_context outlives every object on it.
  Recorder server_rec_;
  Recorder client_rec_;
  std::vector<std::string> temp_dirs_;
  IoThreads io_{1};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<OfStream>> accepted_;
  std::vector<std::shared_ptr<OfStream>> connected_;
  std::string unix_path_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Connector> connector_;
  Connector* connector_raw_ = nullptr;
};

// ---------------------------------------------------------------------------
// The same exchange over each kind of stream.

class ExchangeTest : public StreamTest, public ::testing::WithParamInterface<Kind> {
 protected:
  TlsOptions ServerTls() { return GetParam() == Kind::kSsl ? TestCerts().Server() : TlsOptions{}; }
  TlsOptions ClientTls() { return GetParam() == Kind::kSsl ? TestCerts().Client() : TlsOptions{}; }
  void SetUp() override {
    if (GetParam() == Kind::kSsl) {
      ASSERT_EQ(TestCerts().error, "");
    }
  }
};

TEST_P(ExchangeTest, MessagesBothWays) {
  Target t = Listen(GetParam(), ServerTls());
  ConnectTo(t, ClientTls());
  auto client = WaitConnected();
  auto server = WaitAccepted();
  ASSERT_TRUE(client && server);
  EXPECT_EQ(client->peer(), t.ToString());
  const char* prefix = GetParam() == Kind::kUnix  ? "unix:"
                       : GetParam() == Kind::kSsl ? "ssl:127.0.0.1:"
                                                  : "tcp:127.0.0.1:";
  EXPECT_EQ(server->peer().rfind(prefix, 0), 0u) << server->peer();

  // Client to server, then server to client, a few sizes.
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t len : {8, 9, 64, 1500, 4096}) sent.push_back(Msg(len, len));
  for (const auto& m : sent) client->Send(m);
  ASSERT_TRUE(server_rec_.WaitMessages(sent.size()));
  EXPECT_EQ(server_rec_.msgs(), sent);
  for (const auto& m : sent) server->Send(m);
  ASSERT_TRUE(client_rec_.WaitMessages(sent.size()));
  EXPECT_EQ(client_rec_.msgs(), sent);
}

TEST_P(ExchangeTest, ManySmallMessagesInOneWrite) {
  Target t = Listen(GetParam(), ServerTls());
  ConnectTo(t, ClientTls());
  auto client = WaitConnected();
  ASSERT_TRUE(client && WaitAccepted());
  // One Send() of 2000 messages back to back: the transport does not care
  // where one buffer ends, the receiver must split them.
  std::vector<std::vector<uint8_t>> msgs;
  std::vector<uint8_t> blob;
  for (uint32_t i = 0; i < 2000; ++i) {
    msgs.push_back(Msg(static_cast<uint16_t>(8 + i % 40), i));
    blob.insert(blob.end(), msgs.back().begin(), msgs.back().end());
  }
  client->Send(blob);
  ASSERT_TRUE(server_rec_.WaitMessages(msgs.size()));
  EXPECT_EQ(server_rec_.msgs(), msgs);
}

TEST_P(ExchangeTest, LargestMessageBothWays) {
  Target t = Listen(GetParam(), ServerTls());
  ConnectTo(t, ClientTls());
  auto client = WaitConnected();
  auto server = WaitAccepted();
  ASSERT_TRUE(client && server);
  // Twice, so that the second starts mid-buffer.
  std::vector<std::vector<uint8_t>> big = {Msg(65535, 1), Msg(100, 2), Msg(65535, 3)};
  for (const auto& m : big) client->Send(m);
  ASSERT_TRUE(server_rec_.WaitMessages(big.size()));
  EXPECT_EQ(server_rec_.msgs(), big);
  for (const auto& m : big) server->Send(m);
  ASSERT_TRUE(client_rec_.WaitMessages(big.size()));
  EXPECT_EQ(client_rec_.msgs(), big);
}

TEST_P(ExchangeTest, CloseFlushesAndPeerSeesClose) {
  Target t = Listen(GetParam(), ServerTls());
  ConnectTo(t, ClientTls(), kDefaultMaxQueuedBytes, 60000, 60000);  // no reconnect during the test
  auto client = WaitConnected();
  auto server = WaitAccepted();
  ASSERT_TRUE(client && server);
  // Queue a lot, then Close() at once: all of it arrives before the close.
  std::vector<std::vector<uint8_t>> msgs;
  for (uint32_t i = 0; i < 200; ++i) msgs.push_back(Msg(static_cast<uint16_t>(1000 + i), i));
  for (const auto& m : msgs) server->Send(m);
  server->Close();
  server->Send(Msg(8, 999));  // after Close(): dropped
  ASSERT_TRUE(client_rec_.WaitClose());
  EXPECT_EQ(client_rec_.msgs(), msgs);
  EXPECT_EQ(client_rec_.closes(), std::vector<std::string>{"connection closed by peer"});
  ASSERT_TRUE(server_rec_.WaitClose());
  EXPECT_EQ(server_rec_.closes(), std::vector<std::string>{"closed"});
  EXPECT_EQ(server->queued_bytes(), 0u);
  // Exactly once, whatever is called afterwards.
  server->Close();
  client->Close();
  client->Send(Msg(8, 1));
  io_.Drain();
  EXPECT_EQ(server_rec_.closes().size(), 1u);
  EXPECT_EQ(client_rec_.closes().size(), 1u);
  EXPECT_FALSE(client_rec_.message_after_close());
}

INSTANTIATE_TEST_SUITE_P(Kinds, ExchangeTest,
                         ::testing::Values(Kind::kTcp, Kind::kUnix, Kind::kSsl),
                         [](const auto& info) {
                           return info.param == Kind::kTcp    ? "Tcp"
                                  : info.param == Kind::kUnix ? "Unix"
                                                              : "Tls";
                         });

// ---------------------------------------------------------------------------
// Framing against a raw peer.

// A plain blocking client socket for `t` (TCP or unix).
struct RawClient {
  asio::io_context io;
  asio::ip::tcp::socket tcp{io};
  asio::local::stream_protocol::socket local{io};
  bool is_unix = false;

  explicit RawClient(const Target& t) {
    if (t.kind == Kind::kUnix) {
      is_unix = true;
      local.connect(asio::local::stream_protocol::endpoint(t.path));
    } else {
      tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address(t.host), t.port));
      tcp.set_option(asio::ip::tcp::no_delay(true));
    }
  }
  void Write(const std::vector<uint8_t>& b) {
    if (is_unix) {
      asio::write(local, asio::buffer(b));
    } else {
      asio::write(tcp, asio::buffer(b));
    }
  }
  // Reads until EOF or error; returns what came.
  std::vector<uint8_t> ReadAll() {
    std::vector<uint8_t> out;
    boost::system::error_code ec;
    uint8_t buf[4096];
    for (;;) {
      size_t n =
          is_unix ? local.read_some(asio::buffer(buf), ec) : tcp.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.insert(out.end(), buf, buf + n);
    }
    return out;
  }
  void Close() {
    boost::system::error_code ec;
    if (is_unix) {
      local.close(ec);
    } else {
      tcp.close(ec);
    }
  }
};

class RawPeerTest : public StreamTest, public ::testing::WithParamInterface<Kind> {};

TEST_P(RawPeerTest, MessageDribbledOneByteAtATime) {
  Target t = Listen(GetParam());
  RawClient c(t);
  std::vector<std::vector<uint8_t>> msgs = {Msg(8, 1), Msg(9, 2), Msg(100, 3), Msg(1000, 4)};
  std::vector<uint8_t> bytes;
  for (const auto& m : msgs) bytes.insert(bytes.end(), m.begin(), m.end());
  // All of the first message but its last byte: nothing may be delivered.
  for (size_t i = 0; i < 7; ++i) c.Write({bytes[i]});
  ASSERT_TRUE(WaitAccepted());
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(server_rec_.msgs().empty());
  for (size_t i = 7; i < bytes.size(); ++i) {
    c.Write({bytes[i]});
    if (i % 4 == 0) std::this_thread::sleep_for(100us);  // let reads see single bytes
  }
  ASSERT_TRUE(server_rec_.WaitMessages(msgs.size()));
  EXPECT_EQ(server_rec_.msgs(), msgs);
}

TEST_P(RawPeerTest, ShortLengthIsDeliveredThenClosedAfterTheReply) {
  for (uint16_t bad : {0, 4, 7}) {
    SCOPED_TRACE(bad);
    Recorder rec;
    std::shared_ptr<OfStream> server;
    {
      std::lock_guard lock(mu_);
      accepted_.clear();
    }
    Target t = Listen(GetParam(), {}, /*start_accepted=*/false);
    RawClient c(t);
    server = WaitAccepted();
    ASSERT_TRUE(server);
    // The "protocol layer" answers the bad header, as it would with BAD_LEN.
    OfStream* raw = server.get();
    std::vector<uint8_t> reply = Msg(12, 77, /*type=*/1);
    rec.SetHook([raw, reply](const std::vector<uint8_t>& m) {
      if (m.size() == 8 && (m[2] << 8 | m[3]) < 8) raw->Send(reply);
    });
    server->Start(rec.OnMessage(), rec.OnClose());
    std::vector<uint8_t> good = Msg(16, 5);
    std::vector<uint8_t> bytes = good;
    std::vector<uint8_t> header = Msg(8, 6);
    header[2] = 0;
    header[3] = static_cast<uint8_t>(bad);
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.insert(bytes.end(), 20, 0xab);  // junk after it, never framed
    c.Write(bytes);
    EXPECT_EQ(c.ReadAll(), reply);  // the reply, then EOF
    ASSERT_TRUE(rec.WaitClose());
    EXPECT_EQ(rec.msgs(), (std::vector<std::vector<uint8_t>>{good, header}));
    EXPECT_EQ(rec.closes(),
              std::vector<std::string>{"bad OpenFlow message length " + std::to_string(bad)});
    io_.Drain();
    EXPECT_EQ(rec.closes().size(), 1u);
    listener_.reset();
    server.reset();
    io_.Drain();  // nothing may call into `rec` after this scope
  }
}

TEST_P(RawPeerTest, PeerCloseIsReportedOnce) {
  Target t = Listen(GetParam());
  {
    RawClient c(t);
    c.Write(Msg(24, 1));
    c.Write({4, 2, 0});  // and a partial header
    c.Close();
  }
  auto server = WaitAccepted();
  ASSERT_TRUE(server);
  ASSERT_TRUE(server_rec_.WaitClose());
  EXPECT_EQ(server_rec_.msgs(), std::vector<std::vector<uint8_t>>{Msg(24, 1)});
  EXPECT_EQ(server_rec_.closes(), std::vector<std::string>{"connection closed by peer"});
  server->Send(Msg(8, 2));
  server->Close();
  io_.Drain();
  EXPECT_EQ(server_rec_.closes().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, RawPeerTest, ::testing::Values(Kind::kTcp, Kind::kUnix),
                         [](const auto& info) {
                           return info.param == Kind::kTcp ? "Tcp" : "Unix";
                         });

// ---------------------------------------------------------------------------
// Send() from several threads, with the io_context on two threads.

class MultiThreadTest : public StreamTest {};

TEST_F(MultiThreadTest, SendFromSeveralThreads) {
  io_.AddThreads(1);  // two io threads: strands, not luck, keep each stream serial
  Target t = Listen(Kind::kTcp);
  ConnectTo(t);
  auto client = WaitConnected();
  ASSERT_TRUE(client && WaitAccepted());
  constexpr uint32_t kThreads = 4, kPerThread = 2000;
  std::vector<std::thread> senders;
  for (uint32_t th = 0; th < kThreads; ++th) {
    senders.emplace_back([&, th] {
      for (uint32_t i = 0; i < kPerThread; ++i) {
        client->Send(Msg(static_cast<uint16_t>(8 + (i % 7) * 8), th << 24 | i));
      }
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_TRUE(server_rec_.WaitMessages(kThreads * kPerThread));
  auto msgs = server_rec_.msgs();
  EXPECT_EQ(msgs.size(), kThreads * kPerThread);
  // Each thread's messages arrive whole and in its order.
  std::vector<uint32_t> next(kThreads, 0);
  for (const auto& m : msgs) {
    uint32_t th = Xid(m) >> 24, i = Xid(m) & 0xffffff;
    ASSERT_LT(th, kThreads);
    EXPECT_EQ(i, next[th]);
    EXPECT_EQ(m, Msg(static_cast<uint16_t>(8 + (i % 7) * 8), Xid(m)));
    next[th] = i + 1;
  }
}

// ---------------------------------------------------------------------------
// A peer that never reads.

TEST_F(StreamTest, SendQueueOverflowCloses) {
  // The accepted stream is never started, so nothing is ever read from the
  // connection: the kernel's buffers fill, then the client's queue.
  Target t = Listen(Kind::kTcp, {}, /*start_accepted=*/false);
  constexpr size_t kMax = 256 * 1024;
  ConnectTo(t, {}, kMax, 60000, 60000);
  auto client = WaitConnected();
  ASSERT_TRUE(client && WaitAccepted());
  size_t sent = 0;
  for (uint32_t i = 0; i < 20000 && client_rec_.closes().empty(); ++i) {
    client->Send(Msg(65535, i));
    sent += 65535;
    EXPECT_LE(client->queued_bytes(), kMax);
  }
  ASSERT_TRUE(client_rec_.WaitClose());
  EXPECT_EQ(client_rec_.closes(), std::vector<std::string>{"send queue overflow"});
  EXPECT_GT(sent, kMax);
  EXPECT_TRUE(Poll([&] { return client->queued_bytes() == 0; }));
  io_.Drain();
  EXPECT_EQ(client_rec_.closes().size(), 1u);
}

TEST_F(StreamTest, OversizedSingleSendOverflows) {
  Target t = Listen(Kind::kUnix);
  ConnectTo(t, {}, /*max_queued=*/1000, 60000, 60000);
  auto client = WaitConnected();
  ASSERT_TRUE(client);
  client->Send(Msg(1001, 1));
  ASSERT_TRUE(client_rec_.WaitClose());
  EXPECT_EQ(client_rec_.closes(), std::vector<std::string>{"send queue overflow"});
}

// ---------------------------------------------------------------------------
// Listener details.

TEST_F(StreamTest, PunixReplacesAStaleSocketButNotAFile) {
  std::string dir = TempDir();
  std::string path = dir + "/stale.sock";
  {
    // A socket file left behind by a process that is gone.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::is_socket(path));
  std::string error;
  auto l = Listener::Open(
      io_.io, MustParse("punix:" + path), {}, [](auto) {}, &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->ToString(), "punix:" + path);
  RawClient c(MustParse("unix:" + path));  // it listens
  l->Close();
  io_.Drain();
  EXPECT_FALSE(std::filesystem::exists(path));  // removed on close

  std::string file = dir + "/regular";
  std::ofstream(file) << "keep me";
  EXPECT_FALSE(Listener::Open(
      io_.io, MustParse("punix:" + file), {}, [](auto) {}, &error));
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST_F(StreamTest, ListenerErrors) {
  std::string error;
  auto a = Listener::Open(
      io_.io, MustParse("ptcp:0:127.0.0.1"), {}, [](auto) {}, &error);
  ASSERT_TRUE(a) << error;
  EXPECT_NE(a->port(), 0);
  EXPECT_EQ(a->ToString(), "ptcp:" + std::to_string(a->port()) + ":127.0.0.1");
  // The same port again: in use.
  EXPECT_FALSE(Listener::Open(
      io_.io, MustParse("ptcp:" + std::to_string(a->port()) + ":127.0.0.1"), {}, [](auto) {},
      &error));
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  // An active target.
  EXPECT_FALSE(Listener::Open(
      io_.io, MustParse("tcp:127.0.0.1"), {}, [](auto) {}, &error));
  EXPECT_NE(error.find("not a passive target"), std::string::npos) << error;
  EXPECT_FALSE(Connector::Create(
      io_.io, MustParse("ptcp:0"), {}, 1000, [](auto) {}, &error));
  EXPECT_NE(error.find("not an active target"), std::string::npos) << error;
  // A unix path longer than sockaddr_un allows.
  std::string long_path = "/tmp/" + std::string(200, 'x');
  EXPECT_FALSE(Listener::Open(
      io_.io, MustParse("punix:" + long_path), {}, [](auto) {}, &error));
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
  EXPECT_FALSE(Connector::Create(
      io_.io, MustParse("unix:" + long_path), {}, 1000, [](auto) {}, &error));
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
}

// ---------------------------------------------------------------------------
// Connector backoff and reconnection.

TEST_F(StreamTest, ConnectorBacksOffThenConnectsAndReconnects) {
  constexpr uint32_t kInitial = 25, kMax = 200;
  uint16_t port = FreePort();
  ConnectTo(MustParse("tcp:127.0.0.1:" + std::to_string(port)), {}, kDefaultMaxQueuedBytes, kMax,
            kInitial);
  // Nobody listens: waits of 25, 50, 100, 200, 200, ...
  std::vector<uint32_t> seen;
  ASSERT_TRUE(Poll([&] {
    uint32_t b = connector_->current_backoff_ms();
    if (b != 0 && (seen.empty() || seen.back() != b)) seen.push_back(b);
    return connector_->attempts() >= 7;
  }));
  EXPECT_EQ(connector_->current_backoff_ms(), kMax);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_LE(seen[i], kMax);
    EXPECT_TRUE(seen[i] == kInitial || seen[i] == 2 * kInitial || seen[i] == 4 * kInitial ||
                seen[i] == kMax)
        << seen[i];
    if (i > 0) {
      EXPECT_GT(seen[i], seen[i - 1]);
    }
  }
  EXPECT_EQ(n_connected(), 0u);

  // A listener appears: the next attempt connects.
  auto listen_time = std::chrono::steady_clock::now();
  Listen(Kind::kTcp, {}, true, port);
  auto client = WaitConnected();
  auto server = WaitAccepted();
  ASSERT_TRUE(client && server);
  client->Send(Msg(8, 1));
  ASSERT_TRUE(server_rec_.WaitMessages(1));

  // The listener side closes at once: the connector reconnects after a
  // wait that keeps growing (the connection did not last max_backoff).
  server->Close();
  auto server2 = WaitAccepted(1);
  ASSERT_TRUE(server2);
  ASSERT_TRUE(WaitConnected(1));
  // (Unless this thread was descheduled long enough for the first
  // connection to count as lasting.)
  if (std::chrono::steady_clock::now() - listen_time < std::chrono::milliseconds(kMax)) {
    EXPECT_EQ(connector_->current_backoff_ms(), kMax);
  }

  // A connection that lasts longer than max_backoff resets the backoff.
  std::this_thread::sleep_for(std::chrono::milliseconds(kMax + 100));
  uint32_t before = connector_->attempts();
  server2->Close();
  ASSERT_TRUE(WaitAccepted(2));
  EXPECT_EQ(connector_->current_backoff_ms(), kInitial);
  EXPECT_EQ(connector_->attempts(), before + 1);
  EXPECT_EQ(client_rec_.closes().size(), 2u);
}

TEST_F(StreamTest, ConnectorStopEndsAttempts) {
  ConnectTo(MustParse("tcp:127.0.0.1:" + std::to_string(FreePort())), {}, kDefaultMaxQueuedBytes,
            40, 10);
  ASSERT_TRUE(Poll([&] { return connector_->attempts() >= 3; }));
  connector_->Stop();
  io_.Drain();
  uint32_t n = connector_->attempts();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(connector_->attempts(), n);
  EXPECT_EQ(n_connected(), 0u);
}

TEST_F(StreamTest, ConnectorToUnixPathWaitsForTheListener) {
  std::string path = TempDir() + "/later.sock";
  ConnectTo(MustParse("unix:" + path), {}, kDefaultMaxQueuedBytes, 100, 10);
  ASSERT_TRUE(Poll([&] { return connector_->attempts() >= 2; }));
  std::string error;
  listener_ = Listener::Open(
      io_.io, MustParse("punix:" + path), {},
      [this](std::shared_ptr<OfStream> s) {
        std::lock_guard lock(mu_);
        accepted_.push_back(s);
        cv_.notify_all();
      },
      &error);
  ASSERT_TRUE(listener_) << error;
  auto client = WaitConnected();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->peer(), "unix:" + path);
}

// ---------------------------------------------------------------------------
// TLS.

class TlsTest : public StreamTest {
 protected:
  void SetUp() override { ASSERT_EQ(TestCerts().error, ""); }
};

TEST_F(TlsTest, UntrustedClientCertificateIsRejected) {
  Logs().Clear();
  Target t = Listen(Kind::kSsl, TestCerts().Server());
  ConnectTo(t, TestCerts().UntrustedClient(), kDefaultMaxQueuedBytes, 1000, 20);
  // The server reports the failed handshakes; the connector keeps trying.
  EXPECT_TRUE(Logs().WaitFor("TLS handshake with ssl:127.0.0.1:"));
  ASSERT_TRUE(Poll([&] { return connector_->attempts() >= 3; }));
  {
    // Under TLS 1.3 the client may see its handshake complete before the
    // server's refusal; it must then see the refusal, and nothing else.
    std::lock_guard lock(mu_);
    for (auto& s : connected_) s->Send(Msg(8, 1));
  }
  io_.Drain();
  EXPECT_EQ(n_accepted(), 0u);
  EXPECT_TRUE(server_rec_.msgs().empty());
  EXPECT_TRUE(client_rec_.msgs().empty());
  EXPECT_GE(connector_->current_backoff_ms(), 40u);
}

TEST_F(TlsTest, ClientThatDistrustsTheServerNeverConnects) {
  Target t = Listen(Kind::kSsl, TestCerts().Server());
  ConnectTo(t, TestCerts().DistrustingClient(), kDefaultMaxQueuedBytes, 80, 20);
  ASSERT_TRUE(Poll([&] { return connector_->attempts() >= 3; }));
  EXPECT_EQ(n_connected(), 0u);  // the client's own verification fails the handshake
  EXPECT_EQ(n_accepted(), 0u);
}

TEST_F(TlsTest, ClientWithoutCertificateIsRejected) {
  Logs().Clear();
  Target t = Listen(Kind::kSsl, TestCerts().Server());
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(TestCerts().Path("ca.pem"));
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> s(io, ctx);
  s.lowest_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address(t.host), t.port));
  boost::system::error_code ec;
  s.handshake(asio::ssl::stream_base::client, ec);  // TLS 1.3: completes on our side
  if (!ec) {
    std::vector<uint8_t> m = Msg(8, 1);
    asio::write(s, asio::buffer(m), ec);
    uint8_t buf[64];
    s.read_some(asio::buffer(buf), ec);  // the server's alert, or EOF
  }
  EXPECT_TRUE(ec);
  EXPECT_TRUE(Logs().WaitFor("TLS handshake with ssl:127.0.0.1:"));
  io_.Drain();
  EXPECT_EQ(n_accepted(), 0u);
  EXPECT_TRUE(server_rec_.msgs().empty());
}

TEST_F(TlsTest, BadFilesAreReported) {
  const Certs& c = TestCerts();
  std::string error;
  auto listen = [&](const TlsOptions& tls) {
    return Listener::Open(
        io_.io, MustParse("pssl:0:127.0.0.1"), tls, [](auto) {}, &error);
  };
  auto connect = [&](const TlsOptions& tls) {
    return Connector::Create(
        io_.io, MustParse("ssl:127.0.0.1"), tls, 1000, [](auto) {}, &error);
  };
  EXPECT_FALSE(listen({}));
  EXPECT_NE(error.find("private key"), std::string::npos) << error;
  EXPECT_FALSE(connect({}));

  TlsOptions missing = c.Server();
  missing.private_key = c.Path("nope.key");
  EXPECT_FALSE(listen(missing));
  EXPECT_NE(error.find("nope.key"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  TlsOptions mismatched = c.Client();
  mismatched.private_key = c.Path("server.key");
  EXPECT_FALSE(connect(mismatched));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;

  std::ofstream(c.Path("garbage.pem")) << "not a certificate\n";
  TlsOptions bad_ca = c.Client();
  bad_ca.ca_cert = c.Path("garbage.pem");
  EXPECT_FALSE(connect(bad_ca));
  EXPECT_NE(error.find("CA certificate"), std::string::npos) << error;
  TlsOptions bad_cert = c.Server();
  bad_cert.certificate = c.Path("garbage.pem");
  EXPECT_FALSE(listen(bad_cert));
  EXPECT_NE(error.find("certificate " + c.Path("garbage.pem")), std::string::npos) << error;

  EXPECT_TRUE(listen(c.Server())) << error;
  EXPECT_TRUE(connect(c.Client())) << error;
}

}  // namespace
}  // namespace sluice::ctl
