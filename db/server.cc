#include "db/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <deque>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <random>
#include <utility>

#include "db/monitor.h"

namespace sluice::db {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kZeroUuid = "00000000-0000-0000-0000-000000000000";
constexpr const char* kServerDbName = "_Server";
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kDefaultOvsdbPort = 6640;

std::string NewUuid() {
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~uint64_t{0xf000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xc} << 60)) | (uint64_t{0x8} << 60);  // variant 10
  char buf[40];
  snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
           static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
           static_cast<unsigned>(lo >> 48),
           static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

Json ErrorObject(const std::string& error, const std::string& details = "") {
  Json j = {{"error", error}};
  if (!details.empty()) j["details"] = details;
  return j;
}

// The _Server database's schema, as ovsdb-server(5) documents it.
Json ServerDbSchema() {
  auto optional = [](const char* key) { return Json{{"type", {{"key", key}, {"min", 0}}}}; };
  return Json{
      {"name", kServerDbName},
      {"version", "1.2.0"},
      {"tables",
       {{"Database",
         {{"columns",
           {{"name", {{"type", "string"}}},
            {"model",
             {{"type",
               {{"key",
                 {{"type", "string"},
                  {"enum", Json::array({"set", {"clustered", "relay", "standalone"}})}}}}}}},
            {"connected", {{"type", "boolean"}}},
            {"leader", {{"type", "boolean"}}},
            {"schema", optional("string")},
            {"cid", optional("uuid")},
            {"sid", optional("uuid")},
            {"index", optional("integer")}}},
          {"isRoot", true}}}}}};
}

// ---------------------------------------------------------------------------
// Byte streams: a unix or tcp socket, or TLS over tcp.

class Stream {
 public:
  using IoHandler = std::function<void(const error_code&, size_t)>;
  virtual ~Stream() = default;
  virtual void Handshake(std::function<void(const error_code&)> done) { done({}); }
  virtual void ReadSome(asio::mutable_buffer buf, IoHandler h) = 0;
  virtual void Write(std::vector<asio::const_buffer> bufs, IoHandler h) = 0;
  virtual void Close() = 0;
};

template <class Socket>
class SocketStream final : public Stream {
 public:
  explicit SocketStream(Socket s) : s_(std::move(s)) {}
  void ReadSome(asio::mutable_buffer buf, IoHandler h) override {
    s_.async_read_some(buf, std::move(h));
  }
  void Write(std::vector<asio::const_buffer> bufs, IoHandler h) override {
    bufs_ = std::move(bufs);
    asio::async_write(s_, bufs_, std::move(h));
  }
  void Close() override {
    error_code ec;
    s_.shutdown(Socket::shutdown_both, ec);
    s_.close(ec);
  }

 private:
  Socket s_;
  std::vector<asio::const_buffer> bufs_;
};

class SslStream final : public Stream {
 public:
  SslStream(asio::ip::tcp::socket s, asio::ssl::context& ctx) : s_(std::move(s), ctx) {}
  void Handshake(std::function<void(const error_code&)> done) override {
    s_.async_handshake(asio::ssl::stream_base::server, std::move(done));
  }
  void ReadSome(asio::mutable_buffer buf, IoHandler h) override {
    s_.async_read_some(buf, std::move(h));
  }
  void Write(std::vector<asio::const_buffer> bufs, IoHandler h) override {
    bufs_ = std::move(bufs);
    asio::async_write(s_, bufs_, std::move(h));
  }
  void Close() override {
    error_code ec;
    s_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    s_.lowest_layer().close(ec);
  }

 private:
  asio::ssl::stream<asio::ip::tcp::socket> s_;
  std::vector<asio::const_buffer> bufs_;
};

// A database as the server serves it: the engine's, or the virtual _Server.
struct ServedDb {
  std::string name;
  Json schema;
  std::unique_ptr<SchemaShape> shape;
  Database* engine = nullptr;                               // nullptr: _Server
  std::map<std::string, std::map<std::string, Json>> rows;  // _Server's rows

  std::map<std::string, Json> Rows(const std::string& table) const {
    if (engine) return engine->Rows(table);
    auto it = rows.find(table);
    return it == rows.end() ? std::map<std::string, Json>{} : it->second;
  }
};

struct MonitorEntry {
  Json id;
  ServedDb* db = nullptr;
  std::unique_ptr<Monitor> monitor;
};

// "ptcp:6640:127.0.0.1" -> port, address. Empty port: 6640; no address:
// every IPv4 address; IPv6 addresses in brackets.
bool ParseTcpRemote(const std::string& rest, uint16_t* port, asio::ip::address* addr,
                    std::string* error) {
  std::string port_str = rest, host;
  if (auto colon = rest.find(':'); colon != std::string::npos) {
    port_str = rest.substr(0, colon);
    host = rest.substr(colon + 1);
  }
  if (port_str.empty()) {
    *port = kDefaultOvsdbPort;
  } else {
    if (port_str.find_first_not_of("0123456789") != std::string::npos || port_str.size() > 5 ||
        std::stoul(port_str) > 65535) {
      *error = "bad port \"" + port_str + "\"";
      return false;
    }
    *port = static_cast<uint16_t>(std::stoul(port_str));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  error_code ec;
  *addr = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "bad address \"" + host + "\"";
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Session

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::weak_ptr<Server::Impl> server, asio::io_context& io, std::unique_ptr<Stream> stream,
          std::string name, const ServerOptions& opt, std::chrono::milliseconds probe)
      : server_(std::move(server)),
        stream_(std::move(stream)),
        name_(std::move(name)),
        splitter_(opt.max_message_bytes),
        max_output_bytes_(opt.max_output_bytes),
        probe_(probe),
        probe_timer_(io),
        rbuf_(kReadChunk) {}

  void Start();
  void Send(const JsonRpcMessage& m);
  void Close(const std::string& why);
  bool closed() const { return closed_; }
  const std::string& name() const { return name_; }

  std::map<std::string, MonitorEntry> monitors;  // by id.dump()
  std::set<std::string> locks;                   // lock names held or queued for

 private:
  void StartRead();
  void OnRead(const error_code& ec, size_t n);
  void HandleText(const Json& text);
  void StartWrite();
  void OnWrite(const error_code& ec);
  void ArmProbe();
  void OnProbe();

  std::weak_ptr<Server::Impl> server_;
  std::unique_ptr<Stream> stream_;
  std::string name_;
  JsonTextSplitter splitter_;
  size_t max_output_bytes_;
  std::chrono::milliseconds probe_;
  asio::steady_timer probe_timer_;
  Clock::time_point last_rx_ = Clock::now();
  bool echo_outstanding_ = false;
  std::vector<char> rbuf_;
  std::deque<std::string> outq_;
  size_t out_bytes_ = 0;
  size_t writing_ = 0;  // messages of outq_ in the write in flight
  bool closed_ = false;
  bool close_after_flush_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------
// Server::Impl

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_, Database& db_, ServerOptions opt_)
      : io(io_), db(db_), opt(std::move(opt_)), parked_timer(io_), server_id(NewUuid()) {}

  struct Listener {
    std::string remote;     // as given
    std::string unix_path;  // punix: the socket file to remove at Stop()
    bool ssl = false;
    std::unique_ptr<asio::local::stream_protocol::acceptor> unix_acceptor;
    std::unique_ptr<asio::ip::tcp::acceptor> tcp_acceptor;
  };

  // A transaction waiting for its "wait" operations.
  struct Parked {
    std::weak_ptr<Session> session;
    Json id;
    Json operations;
    Json timed_out_reply;  // TransactResult::reply of the last blocked run
    Clock::time_point deadline;
  };

  using Method = void (Impl::*)(const std::shared_ptr<Session>&, const JsonRpcMessage&);

  void InitDbs();
  bool Open(const std::string& remote, std::string* error);
  void Accept(size_t index);
  void AddSession(std::unique_ptr<Stream> stream, std::string name, bool tcp);
  void Stop();

  void OnSessionClosed(Session* s);
  void HandleRequest(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void HandleNotification(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  ServedDb* FindDb(const Json& name);

  // Methods.
  void ListDbs(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void GetSchema(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void Transact(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void CancelRequest(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void MonitorV1(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
    StartMonitor(s, m, MonitorVersion::kV1);
  }
  void MonitorV2(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
    StartMonitor(s, m, MonitorVersion::kV2);
  }
  void MonitorV3(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
    StartMonitor(s, m, MonitorVersion::kV3);
  }
  void MonitorCondChange(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void MonitorCancel(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void Lock(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
    LockOrSteal(s, m, false);
  }
  void Steal(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
    LockOrSteal(s, m, true);
  }
  void Unlock(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void Echo(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void SetDbChangeAware(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);
  void GetServerId(const std::shared_ptr<Session>& s, const JsonRpcMessage& m);

  void StartMonitor(const std::shared_ptr<Session>& s, const JsonRpcMessage& m, MonitorVersion v);
  void LockOrSteal(const std::shared_ptr<Session>& s, const JsonRpcMessage& m, bool steal);
  void ReleaseLock(Session* s, const std::string& name);
  bool Owns(const Session* s, const std::string& name) const;
  void Cancel(const std::shared_ptr<Session>& s, const Json& id);

  // Transactions.
  TransactResult RunEngine(const Json& operations, const std::shared_ptr<Session>& s);
  void Finish(const std::shared_ptr<Session>& s, const Json& id, const TransactResult& r);
  void RetryParked();
  void ArmParkedTimer();
  void OnParkedTimer();
  Json ServerDbTransact(const Json& operations);
  void Publish(ServedDb& sdb, const ChangeSet& changes);
  void SendUpdate(Session& s, const MonitorEntry& e, Json update);

  asio::io_context& io;
  Database& db;
  ServerOptions opt;
  std::vector<std::unique_ptr<ServedDb>> dbs;  // the engine's, then _Server
  std::vector<Listener> listeners;
  std::unique_ptr<asio::ssl::context> ssl_ctx;
  std::map<Session*, std::shared_ptr<Session>> sessions;
  std::map<std::string, std::deque<Session*>> lock_queues;  // front: owner
  std::list<Parked> parked;
  asio::steady_timer parked_timer;
  std::string server_id;
  uint64_t next_session = 0;
  bool stopped = false;
};

// ---------------------------------------------------------------------------
// Session implementation

void Session::Start() {
  auto self = shared_from_this();
  stream_->Handshake([self](const error_code& ec) {
    if (self->closed_) return;
    if (ec) {
      self->Close("handshake failed: " + ec.message());
      return;
    }
    self->last_rx_ = Clock::now();
    self->ArmProbe();
    self->StartRead();
  });
}

void Session::StartRead() {
  auto self = shared_from_this();
  stream_->ReadSome(asio::buffer(rbuf_),
                    [self](const error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void Session::OnRead(const error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    Close(ec == asio::error::eof ? "connection closed by peer" : "read error: " + ec.message());
    return;
  }
  last_rx_ = Clock::now();
  echo_outstanding_ = false;
  splitter_.Feed(std::string_view(rbuf_.data(), n));
  auto self = shared_from_this();  // a handler below may close us
  for (;;) {
    Json text;
    std::string error;
    auto status = splitter_.Next(&text, &error);
    if (status == JsonTextSplitter::Status::kNeedMore) break;
    if (status == JsonTextSplitter::Status::kError) {
      spdlog::info("{}: {}", name_, error);
      Send(JsonRpcMessage::Error(ErrorObject("syntax error", error), nullptr));
      if (splitter_.broken()) {
        close_after_flush_ = true;
        if (outq_.empty() && !closed_) Close("protocol error");
        return;
      }
      continue;
    }
    HandleText(text);
    if (closed_) return;
  }
  StartRead();
}

void Session::HandleText(const Json& text) {
  JsonRpcMessage m;
  std::string error;
  if (!ParseJsonRpc(text, &m, &error)) {
    Json id = text.is_object() && text.contains("id") ? text["id"] : Json();
    Send(JsonRpcMessage::Error(ErrorObject("syntax error", error), id));
    return;
  }
  auto server = server_.lock();
  if (!server) return;
  spdlog::trace("{}: received {}", name_,
                text.dump(-1, ' ', false, Json::error_handler_t::replace));
  switch (m.type) {
    case JsonRpcMessage::Type::kRequest:
      server->HandleRequest(shared_from_this(), m);
      break;
    case JsonRpcMessage::Type::kNotification:
      server->HandleNotification(shared_from_this(), m);
      break;
    case JsonRpcMessage::Type::kReply:
    case JsonRpcMessage::Type::kError:
      break;  // our echo's answer; receiving it was the point
  }
}

void Session::Send(const JsonRpcMessage& m) {
  if (closed_) return;
  std::string bytes = m.Serialize();
  out_bytes_ += bytes.size();
  outq_.push_back(std::move(bytes));
  if (out_bytes_ > max_output_bytes_) {
    Close("output queue over " + std::to_string(max_output_bytes_) + " bytes (client not reading)");
    return;
  }
  StartWrite();
}

void Session::StartWrite() {
  if (writing_ || outq_.empty() || closed_) return;
  std::vector<asio::const_buffer> bufs;
  for (size_t i = 0; i < outq_.size() && i < 64; ++i) bufs.push_back(asio::buffer(outq_[i]));
  writing_ = bufs.size();
  auto self = shared_from_this();
  stream_->Write(std::move(bufs), [self](const error_code& ec, size_t) { self->OnWrite(ec); });
}

void Session::OnWrite(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    Close("write error: " + ec.message());
    return;
  }
  for (; writing_ > 0; --writing_) {
    out_bytes_ -= outq_.front().size();
    outq_.pop_front();
  }
  if (close_after_flush_ && outq_.empty()) {
    Close("protocol error");
    return;
  }
  StartWrite();
}

void Session::ArmProbe() {
  if (probe_.count() <= 0 || closed_) return;
  probe_timer_.expires_after(probe_);
  auto self = shared_from_this();
  probe_timer_.async_wait([self](const error_code& ec) {
    if (!ec) self->OnProbe();
  });
}

void Session::OnProbe() {
  if (closed_) return;
  if (Clock::now() - last_rx_ >= probe_) {
    if (echo_outstanding_) {
      Close("no answer to the inactivity probe");
      return;
    }
    echo_outstanding_ = true;
    Send(JsonRpcMessage::Request("echo", Json::array(), "echo"));
  }
  ArmProbe();
}

void Session::Close(const std::string& why) {
  if (closed_) return;
  auto self = shared_from_this();
  closed_ = true;
  spdlog::debug("{}: closing: {}", name_, why);
  if (why != "connection closed by peer" && why != "server stopping")
    spdlog::info("{}: disconnected: {}", name_, why);
  probe_timer_.cancel();
  stream_->Close();
  // The output queue (a write in flight may point into it) and the monitors
  // (Publish() may be iterating them) go with the object.
  if (auto server = server_.lock()) server->OnSessionClosed(this);
}

// ---------------------------------------------------------------------------
// Server::Impl implementation

void Server::Impl::InitDbs() {
  auto main = std::make_unique<ServedDb>();
  main->name = db.name();
  main->schema = db.schema_json();
  main->shape = std::make_unique<SchemaShape>(main->schema);
  main->engine = &db;
  auto server = std::make_unique<ServedDb>();
  server->name = kServerDbName;
  server->schema = ServerDbSchema();
  server->shape = std::make_unique<SchemaShape>(server->schema);
  for (const ServedDb* d : {main.get(), server.get()}) {
    std::string uuid = NewUuid();
    Json empty_set = Json::array({"set", Json::array()});
    server->rows["Database"][uuid] = Json{{"_uuid", Json::array({"uuid", uuid})},
                                          {"_version", Json::array({"uuid", NewUuid()})},
                                          {"name", d->name},
                                          {"model", "standalone"},
                                          {"connected", true},
                                          {"leader", true},
                                          {"schema", d->schema.dump()},
                                          {"cid", empty_set},
                                          {"sid", empty_set},
                                          {"index", empty_set}};
  }
  dbs.push_back(std::move(main));
  dbs.push_back(std::move(server));
}

ServedDb* Server::Impl::FindDb(const Json& name) {
  if (!name.is_string()) return nullptr;
  for (auto& d : dbs) {
    if (d->name == name.get_ref<const std::string&>()) return d.get();
  }
  return nullptr;
}

bool Server::Impl::Open(const std::string& remote, std::string* error) {
  Listener l;
  l.remote = remote;
  error_code ec;
  if (remote.rfind("punix:", 0) == 0) {
    std::string path = remote.substr(6);
    if (path.empty()) {
      *error = remote + ": empty path";
      return false;
    }
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    ::unlink(path.c_str());  // a stale socket from an earlier run
    l.unix_acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(io);
    asio::local::stream_protocol::endpoint ep(path);
    l.unix_acceptor->open(ep.protocol(), ec);
    if (!ec) l.unix_acceptor->bind(ep, ec);
    if (!ec) l.unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = remote + ": " + ec.message();
      return false;
    }
    l.unix_path = path;
  } else if (remote.rfind("ptcp:", 0) == 0 || remote.rfind("pssl:", 0) == 0) {
    l.ssl = remote[1] == 's';
    uint16_t port;
    asio::ip::address addr;
    if (!ParseTcpRemote(remote.substr(5), &port, &addr, error)) {
      *error = remote + ": " + *error;
      return false;
    }
    if (l.ssl && !ssl_ctx) {
      if (opt.private_key.empty() || opt.certificate.empty() || opt.ca_cert.empty()) {
        *error = remote + ": pssl: needs a private key, a certificate and a CA certificate";
        return false;
      }
      auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      ctx->use_private_key_file(opt.private_key, asio::ssl::context::pem, ec);
      if (!ec) ctx->use_certificate_chain_file(opt.certificate, ec);
      if (!ec) ctx->load_verify_file(opt.ca_cert, ec);
      if (ec) {
        *error = remote + ": TLS setup: " + ec.message();
        return false;
      }
      ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      ssl_ctx = std::move(ctx);
    }
    l.tcp_acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
    asio::ip::tcp::endpoint ep(addr, port);
    l.tcp_acceptor->open(ep.protocol(), ec);
    if (!ec) l.tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) l.tcp_acceptor->bind(ep, ec);
    if (!ec) l.tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = remote + ": " + ec.message();
      return false;
    }
  } else {
    *error =
        remote + ": unknown remote (expected punix:PATH, ptcp:[PORT][:IP] or pssl:[PORT][:IP])";
    return false;
  }
  listeners.push_back(std::move(l));
  return true;
}

void Server::Impl::Accept(size_t index) {
  Listener& l = listeners[index];
  std::weak_ptr<Impl> weak = weak_from_this();
  if (l.unix_acceptor) {
    l.unix_acceptor->async_accept([weak, index](const error_code& ec,
                                                asio::local::stream_protocol::socket sock) {
      auto self = weak.lock();
      if (!self || self->stopped || ec == asio::error::operation_aborted) return;
      if (!ec) {
        std::string name = "unix#" + std::to_string(++self->next_session);
        self->AddSession(
            std::make_unique<SocketStream<asio::local::stream_protocol::socket>>(std::move(sock)),
            name, false);
      } else {
        spdlog::warn("{}: accept: {}", self->listeners[index].remote, ec.message());
      }
      self->Accept(index);
    });
  } else {
    l.tcp_acceptor->async_accept([weak, index](const error_code& ec, asio::ip::tcp::socket sock) {
      auto self = weak.lock();
      if (!self || self->stopped || ec == asio::error::operation_aborted) return;
      if (!ec) {
        error_code ep_ec;
        auto ep = sock.remote_endpoint(ep_ec);
        bool ssl = self->listeners[index].ssl;
        std::string name = std::string(ssl ? "ssl:" : "tcp:") + ep.address().to_string() + ":" +
                           std::to_string(ep.port());
        std::unique_ptr<Stream> stream;
        if (ssl) {
          stream = std::make_unique<SslStream>(std::move(sock), *self->ssl_ctx);
        } else {
          sock.set_option(asio::ip::tcp::no_delay(true), ep_ec);
          stream = std::make_unique<SocketStream<asio::ip::tcp::socket>>(std::move(sock));
        }
        self->AddSession(std::move(stream), name, true);
      } else {
        spdlog::warn("{}: accept: {}", self->listeners[index].remote, ec.message());
      }
      self->Accept(index);
    });
  }
}

void Server::Impl::AddSession(std::unique_ptr<Stream> stream, std::string name, bool tcp) {
  auto s = std::make_shared<Session>(weak_from_this(), io, std::move(stream), std::move(name), opt,
                                     tcp ? opt.inactivity_probe : std::chrono::milliseconds(0));
  sessions.emplace(s.get(), s);
  spdlog::debug("{}: connected", s->name());
  s->Start();
}

void Server::Impl::Stop() {
  if (stopped) return;
  stopped = true;
  for (auto& l : listeners) {
    error_code ec;
    if (l.unix_acceptor) l.unix_acceptor->close(ec);
    if (l.tcp_acceptor) l.tcp_acceptor->close(ec);
    if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  }
  std::vector<std::shared_ptr<Session>> all;
  for (auto& [p, s] : sessions) all.push_back(s);
  for (auto& s : all) s->Close("server stopping");
  sessions.clear();
  parked.clear();
  parked_timer.cancel();
}

void Server::Impl::OnSessionClosed(Session* s) {
  std::vector<std::string> names(s->locks.begin(), s->locks.end());
  for (const auto& name : names) ReleaseLock(s, name);
  // Parked transactions of `s` are dropped lazily (their session is closed).
  sessions.erase(s);
}

void Server::Impl::HandleRequest(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  static const std::map<std::string, Method, std::less<>> kMethods = {
      {"list_dbs", &Impl::ListDbs},
      {"get_schema", &Impl::GetSchema},
      {"transact", &Impl::Transact},
      {"cancel", &Impl::CancelRequest},
      {"monitor", &Impl::MonitorV1},
      {"monitor_cond", &Impl::MonitorV2},
      {"monitor_cond_since", &Impl::MonitorV3},
      {"monitor_cond_change", &Impl::MonitorCondChange},
      {"monitor_cancel", &Impl::MonitorCancel},
      {"lock", &Impl::Lock},
      {"steal", &Impl::Steal},
      {"unlock", &Impl::Unlock},
      {"echo", &Impl::Echo},
      {"set_db_change_aware", &Impl::SetDbChangeAware},
      {"get_server_id", &Impl::GetServerId},
  };
  auto it = kMethods.find(m.method);
  if (it == kMethods.end() || opt.disabled_methods.count(m.method)) {
    s->Send(JsonRpcMessage::Error("unknown method", m.id));
    return;
  }
  try {
    (this->*(it->second))(s, m);
  } catch (const std::exception& e) {
    // A bug or an unexpected shape the handler did not check: answer it, keep serving.
    spdlog::error("{}: {} failed: {}", s->name(), m.method, e.what());
    s->Send(JsonRpcMessage::Error(ErrorObject("internal error", e.what()), m.id));
  }
}

void Server::Impl::HandleNotification(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  if (m.method == "cancel" && !m.params.empty()) Cancel(s, m.params[0]);
  // Other notifications (an "echo" without id, ...) need nothing.
}

void Server::Impl::ListDbs(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  Json names = Json::array();
  for (auto& d : dbs) names.push_back(d->name);
  s->Send(JsonRpcMessage::Reply(names, m.id));
}

void Server::Impl::GetSchema(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  ServedDb* d = m.params.empty() ? nullptr : FindDb(m.params[0]);
  if (!d) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("unknown database", m.params.empty() ? "" : m.params[0].dump()), m.id));
    return;
  }
  s->Send(JsonRpcMessage::Reply(d->schema, m.id));
}

void Server::Impl::Echo(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  s->Send(JsonRpcMessage::Reply(m.params, m.id));
}

void Server::Impl::SetDbChangeAware(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  // Databases are never added, removed or converted while running: nothing
  // to be aware of.
  s->Send(JsonRpcMessage::Reply(Json::object(), m.id));
}

void Server::Impl::GetServerId(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  s->Send(JsonRpcMessage::Reply(server_id, m.id));
}

// --- transactions -----------------------------------------------------------

namespace {

// When a wait of `timeout_ms` started now expires; UINT64_MAX (no
// "timeout") and anything beyond a year never do.
Clock::time_point Deadline(uint64_t timeout_ms) {
  constexpr uint64_t kYearMs = uint64_t{365} * 24 * 3600 * 1000;
  if (timeout_ms > kYearMs) return Clock::time_point::max();
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

}  // namespace

TransactResult Server::Impl::RunEngine(const Json& operations, const std::shared_ptr<Session>& s) {
  TransactOptions o;
  Session* raw = s.get();
  o.has_lock = [this, raw](const std::string& name) { return raw && Owns(raw, name); };
  try {
    return db.Transact(operations, o);
  } catch (const std::exception& e) {
    // Not expected from the engine; answered like a failed commit.
    spdlog::error("transaction failed: {}", e.what());
    TransactResult r;
    r.reply = Json::array({ErrorObject("internal error", e.what())});
    return r;
  }
}

void Server::Impl::Transact(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  if (m.params.empty() || !m.params[0].is_string()) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("syntax error", "transact params must be [db-name, operation...]"), m.id));
    return;
  }
  ServedDb* d = FindDb(m.params[0]);
  if (!d) {
    s->Send(JsonRpcMessage::Error(ErrorObject("unknown database", m.params[0].dump()), m.id));
    return;
  }
  Json operations(m.params.begin() + 1, m.params.end());
  if (!d->engine) {
    s->Send(JsonRpcMessage::Reply(ServerDbTransact(operations), m.id));
    return;
  }
  TransactResult r = RunEngine(operations, s);
  if (r.blocked) {
    parked.push_back(
        {s, m.id, std::move(operations), std::move(r.reply), Deadline(r.blocked_timeout_ms)});
    ArmParkedTimer();
    return;
  }
  Finish(s, m.id, r);
  if (!r.changes.empty()) RetryParked();
}

void Server::Impl::Finish(const std::shared_ptr<Session>& s, const Json& id,
                          const TransactResult& r) {
  if (!r.changes.empty()) Publish(*dbs[0], r.changes);
  if (s) s->Send(JsonRpcMessage::Reply(r.reply, id));
}

void Server::Impl::RetryParked() {
  for (bool progress = true; progress;) {
    progress = false;
    for (auto it = parked.begin(); it != parked.end();) {
      auto s = it->session.lock();
      if (!s || s->closed()) {
        it = parked.erase(it);
        continue;
      }
      TransactResult r = RunEngine(it->operations, s);
      if (r.blocked) {
        it->timed_out_reply = std::move(r.reply);
        ++it;
        continue;
      }
      Json id = std::move(it->id);
      it = parked.erase(it);
      Finish(s, id, r);
      progress |= !r.changes.empty();
    }
  }
  ArmParkedTimer();
}

void Server::Impl::ArmParkedTimer() {
  if (parked.empty() || stopped) {
    parked_timer.cancel();
    return;
  }
  Clock::time_point first = Clock::time_point::max();
  for (const auto& p : parked) first = std::min(first, p.deadline);
  if (first == Clock::time_point::max()) {  // every wait is without timeout
    parked_timer.cancel();
    return;
  }
  parked_timer.expires_at(first);
  std::weak_ptr<Impl> weak = weak_from_this();
  parked_timer.async_wait([weak](const error_code& ec) {
    auto self = weak.lock();
    if (self && !ec) self->OnParkedTimer();
  });
}

void Server::Impl::OnParkedTimer() {
  // Nothing was committed since each transaction's last run (that would
  // have retried it), so its last blocked reply is the answer.
  auto now = Clock::now();
  for (auto it = parked.begin(); it != parked.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    Parked p = std::move(*it);
    it = parked.erase(it);
    auto s = p.session.lock();
    if (s && !s->closed()) s->Send(JsonRpcMessage::Reply(std::move(p.timed_out_reply), p.id));
  }
  ArmParkedTimer();
}

void Server::Impl::Cancel(const std::shared_ptr<Session>& s, const Json& id) {
  for (auto it = parked.begin(); it != parked.end(); ++it) {
    if (it->session.lock() == s && it->id == id) {
      parked.erase(it);
      s->Send(JsonRpcMessage::Error("canceled", id));
      ArmParkedTimer();
      return;
    }
  }
}

void Server::Impl::CancelRequest(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  // RFC 7047 makes "cancel" a notification; sent as a request it is
  // acknowledged as well.
  if (!m.params.empty()) Cancel(s, m.params[0]);
  s->Send(JsonRpcMessage::Reply(Json::object(), m.id));
}

Json Server::Impl::ServerDbTransact(const Json& operations) {
  ServedDb& sdb = *dbs[1];
  Json results = Json::array();
  for (const auto& op : operations) {
    std::string kind = op.is_object() ? op.value("op", "") : "";
    if (kind == "comment") {
      results.push_back(Json::object());
      continue;
    }
    if (kind != "select") {
      results.push_back(ErrorObject("not allowed", "the _Server database is read-only"));
      break;
    }
    std::string table = op.value("table", "");
    const SchemaShape::Columns* shape = sdb.shape->Table(table);
    Condition where;
    std::string error;
    if (!shape) {
      results.push_back(ErrorObject("syntax error", "unknown table " + table));
      break;
    }
    if (!Condition::Parse(op.value("where", Json::array()), *shape, Condition::Combine::kAll,
                          &where, &error)) {
      results.push_back(ErrorObject("syntax error", error));
      break;
    }
    std::set<std::string> columns;
    if (auto c = op.find("columns"); c != op.end() && c->is_array()) {
      for (const auto& name : *c) {
        if (name.is_string()) columns.insert(name.get<std::string>());
      }
    } else {
      for (const auto& [name, kind] : *shape) columns.insert(name);
    }
    Json rows = Json::array();
    for (const auto& [uuid, row] : sdb.Rows(table)) {
      if (where.Matches(row)) rows.push_back(ProjectRow(row, columns));
    }
    results.push_back({{"rows", std::move(rows)}});
  }
  return results;
}

void Server::Impl::Publish(ServedDb& sdb, const ChangeSet& changes) {
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(sessions.size());
  for (auto& [p, s] : sessions) all.push_back(s);
  for (auto& s : all) {
    for (auto& [key, e] : s->monitors) {
      if (s->closed()) break;
      if (e.db != &sdb) continue;
      Json update = e.monitor->Update(changes);
      if (!update.empty()) SendUpdate(*s, e, std::move(update));
    }
  }
}

void Server::Impl::SendUpdate(Session& s, const MonitorEntry& e, Json update) {
  switch (e.monitor->version()) {
    case MonitorVersion::kV1:
      s.Send(JsonRpcMessage::Notification("update", Json::array({e.id, std::move(update)})));
      break;
    case MonitorVersion::kV2:
      s.Send(JsonRpcMessage::Notification("update2", Json::array({e.id, std::move(update)})));
      break;
    case MonitorVersion::kV3:
      s.Send(JsonRpcMessage::Notification("update3",
                                          Json::array({e.id, kZeroUuid, std::move(update)})));
      break;
  }
}

// --- monitors ---------------------------------------------------------------

void Server::Impl::StartMonitor(const std::shared_ptr<Session>& s, const JsonRpcMessage& m,
                                MonitorVersion v) {
  const size_t want = v == MonitorVersion::kV3 ? 4 : 3;
  if (m.params.size() < 3 || m.params.size() > want) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("syntax error", m.method + " params must be [db-name, monitor-id, requests" +
                                        (v == MonitorVersion::kV3 ? ", last-txn-id]" : "]")),
        m.id));
    return;
  }
  ServedDb* d = FindDb(m.params[0]);
  if (!d) {
    s->Send(JsonRpcMessage::Error(ErrorObject("unknown database", m.params[0].dump()), m.id));
    return;
  }
  std::string key = m.params[1].dump();
  if (s->monitors.count(key)) {
    s->Send(JsonRpcMessage::Error(ErrorObject("duplicate monitor ID", key), m.id));
    return;
  }
  std::string error;
  auto monitor = Monitor::Parse(m.params[2], *d->shape, v, &error);
  if (!monitor) {
    s->Send(JsonRpcMessage::Error(ErrorObject("syntax error", error), m.id));
    return;
  }
  Json initial = monitor->Initial([d](const std::string& table) { return d->Rows(table); });
  s->monitors[key] = MonitorEntry{m.params[1], d, std::move(monitor)};
  if (v == MonitorVersion::kV3) {
    s->Send(JsonRpcMessage::Reply(Json::array({false, kZeroUuid, std::move(initial)}), m.id));
  } else {
    s->Send(JsonRpcMessage::Reply(std::move(initial), m.id));
  }
}

void Server::Impl::MonitorCondChange(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  if (m.params.size() != 3) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("syntax error",
                    "monitor_cond_change params must be [monitor-id, new-monitor-id, requests]"),
        m.id));
    return;
  }
  std::string key = m.params[0].dump(), new_key = m.params[1].dump();
  auto it = s->monitors.find(key);
  if (it == s->monitors.end()) {
    s->Send(JsonRpcMessage::Error(ErrorObject("unknown monitor", key), m.id));
    return;
  }
  if (new_key != key && s->monitors.count(new_key)) {
    s->Send(JsonRpcMessage::Error(ErrorObject("duplicate monitor ID", new_key), m.id));
    return;
  }
  Json update;
  std::string error;
  ServedDb* d = it->second.db;
  if (!it->second.monitor->ChangeConditions(
          m.params[2], [d](const std::string& table) { return d->Rows(table); }, &update, &error)) {
    s->Send(JsonRpcMessage::Error(ErrorObject("syntax error", error), m.id));
    return;
  }
  if (new_key != key) {
    MonitorEntry e = std::move(it->second);
    s->monitors.erase(it);
    e.id = m.params[1];
    it = s->monitors.emplace(new_key, std::move(e)).first;
  }
  if (!update.empty()) SendUpdate(*s, it->second, std::move(update));
  s->Send(JsonRpcMessage::Reply(Json::object(), m.id));
}

void Server::Impl::MonitorCancel(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  std::string key = m.params.empty() ? "" : m.params[0].dump();
  if (!s->monitors.erase(key)) {
    s->Send(JsonRpcMessage::Error(ErrorObject("unknown monitor", key), m.id));
    return;
  }
  s->Send(JsonRpcMessage::Reply(Json::object(), m.id));
}

// --- locks ------------------------------------------------------------------

bool Server::Impl::Owns(const Session* s, const std::string& name) const {
  auto it = lock_queues.find(name);
  return it != lock_queues.end() && !it->second.empty() && it->second.front() == s;
}

void Server::Impl::LockOrSteal(const std::shared_ptr<Session>& s, const JsonRpcMessage& m,
                               bool steal) {
  if (m.params.size() != 1 || !m.params[0].is_string() ||
      m.params[0].get_ref<const std::string&>().empty()) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("syntax error", m.method + " params must be [lock-name]"), m.id));
    return;
  }
  const std::string name = m.params[0].get<std::string>();
  auto& q = lock_queues[name];
  if (!steal) {
    if (s->locks.count(name)) {
      s->Send(JsonRpcMessage::Error(
          ErrorObject("duplicate lock", "already locked or waiting for " + name), m.id));
      return;
    }
    q.push_back(s.get());
    s->locks.insert(name);
    s->Send(JsonRpcMessage::Reply({{"locked", q.front() == s.get()}}, m.id));
    return;
  }
  Session* victim = q.empty() ? nullptr : q.front();
  if (victim != s.get()) {
    std::erase(q, s.get());
    q.push_front(s.get());
    s->locks.insert(name);
  }
  s->Send(JsonRpcMessage::Reply({{"locked", true}}, m.id));
  // The victim stays queued and gets "locked" when the lock comes back.
  if (victim && victim != s.get())
    victim->Send(JsonRpcMessage::Notification("stolen", Json::array({name})));
}

void Server::Impl::Unlock(const std::shared_ptr<Session>& s, const JsonRpcMessage& m) {
  if (m.params.size() != 1 || !m.params[0].is_string()) {
    s->Send(JsonRpcMessage::Error(ErrorObject("syntax error", "unlock params must be [lock-name]"),
                                  m.id));
    return;
  }
  const std::string name = m.params[0].get<std::string>();
  if (!s->locks.count(name)) {
    s->Send(JsonRpcMessage::Error(
        ErrorObject("not locked", "unlock without lock or steal of " + name), m.id));
    return;
  }
  ReleaseLock(s.get(), name);
  s->Send(JsonRpcMessage::Reply(Json::object(), m.id));
}

void Server::Impl::ReleaseLock(Session* s, const std::string& name) {
  s->locks.erase(name);
  auto it = lock_queues.find(name);
  if (it == lock_queues.end()) return;
  auto& q = it->second;
  bool was_owner = !q.empty() && q.front() == s;
  std::erase(q, s);
  if (q.empty()) {
    lock_queues.erase(it);
    return;
  }
  if (was_owner) {
    Session* next = q.front();  // Send may close `next`, which edits the queue: nothing after it
    next->Send(JsonRpcMessage::Notification("locked", Json::array({name})));
  }
}

// ---------------------------------------------------------------------------
// Server

Server::Server(asio::io_context& io, Database& db, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, db, std::move(options))) {
  impl_->InitDbs();
}

Server::~Server() { impl_->Stop(); }

bool Server::Start(std::string* error) {
  for (const auto& remote : impl_->opt.remotes) {
    if (!impl_->Open(remote, error)) {
      impl_->Stop();
      return false;
    }
  }
  for (size_t i = 0; i < impl_->listeners.size(); ++i) {
    spdlog::info("listening on {}", listening()[i]);
    impl_->Accept(i);
  }
  return true;
}

void Server::Stop() { impl_->Stop(); }

std::vector<std::string> Server::listening() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) {
    if (l.unix_acceptor) {
      out.push_back("punix:" + l.unix_path);
    } else {
      error_code ec;
      auto ep = l.tcp_acceptor->local_endpoint(ec);
      std::string addr = ep.address().to_string();
      if (ep.address().is_v6()) addr = "[" + addr + "]";
      out.push_back(std::string(l.ssl ? "pssl:" : "ptcp:") + std::to_string(ep.port()) + ":" +
                    addr);
    }
  }
  return out;
}

size_t Server::session_count() const { return impl_->sessions.size(); }

TransactResult Server::Transact(const Json& operations) {
  TransactResult r = impl_->RunEngine(operations, nullptr);
  if (!r.blocked) {
    impl_->Finish(nullptr, Json(), r);
    if (!r.changes.empty()) impl_->RetryParked();
  }
  return r;
}

}  // namespace sluice::db
