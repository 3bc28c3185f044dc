// Targets, TLS contexts and the framed stream; see of_stream.h and
// of_stream_internal.h for the design.
#include "controller/of_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "controller/of_stream_internal.h"

namespace sluice::ctl {

namespace asio = boost::asio;

// ---------------------------------------------------------------------------
// Targets

namespace {

bool ParsePort(std::string_view s, uint16_t* port) {
  if (s.empty() || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// An IP literal, IPv6 optionally in brackets; returns its canonical text.
bool ParseIp(std::string_view s, std::string* out) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
    if (s.find(':') == std::string_view::npos) return false;  // brackets are for IPv6
  }
  boost::system::error_code ec;
  asio::ip::address a = asio::ip::make_address(std::string(s), ec);
  if (ec) return false;
  *out = a.to_string();
  return true;
}

std::string HostForUri(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

}  // namespace

std::optional<Target> ParseTarget(std::string_view text, uint16_t default_port,
                                  std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Target> {
    if (error) *error = "invalid target \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail("expected TYPE:..., TYPE one of tcp, ssl, unix, ptcp, pssl, punix");
  }
  std::string_view type = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  Target t;
  if (type == "unix" || type == "punix") {
    t.kind = Target::Kind::kUnix;
    t.passive = type == "punix";
    if (rest.empty()) return fail("missing socket path");
    t.path = std::string(rest);
    return t;
  }
  if (type == "tcp" || type == "ptcp") {
    t.kind = Target::Kind::kTcp;
  } else if (type == "ssl" || type == "pssl") {
    t.kind = Target::Kind::kSsl;
  } else {
    return fail("unknown type \"" + std::string(type) +
                "\" (expected tcp, ssl, unix, ptcp, pssl or punix)");
  }
  t.passive = type[0] == 'p';
  t.port = default_port;
  if (t.passive) {
    // [PORT][:IP]; the IP may be a bare or bracketed IPv6 literal.
    size_t c = rest.find(':');
    std::string_view port = rest.substr(0, c);
    if (!port.empty() && !ParsePort(port, &t.port))
      return fail("bad port \"" + std::string(port) + "\"");
    if (c != std::string_view::npos) {
      std::string_view ip = rest.substr(c + 1);
      if (ip.empty()) return fail("empty address after ':'");
      if (!ParseIp(ip, &t.host)) return fail("\"" + std::string(ip) + "\" is not an IP address");
    }
    return t;
  }
  // IP[:PORT], IPv6 in brackets.
  std::string_view ip = rest;
  std::string_view port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    ip = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected ':' after ']'");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    size_t c = rest.find(':');
    if (c != std::string_view::npos) {
      if (rest.find(':', c + 1) != std::string_view::npos) {
        return fail("an IPv6 address must be in brackets, e.g. tcp:[::1]:6653");
      }
      ip = rest.substr(0, c);
      port = rest.substr(c + 1);
      has_port = true;
    }
  }
  if (ip.empty()) return fail("missing IP address");
  if (!ParseIp(ip, &t.host)) return fail("\"" + std::string(ip) + "\" is not an IP address");
  if (has_port && !ParsePort(port, &t.port)) return fail("bad port \"" + std::string(port) + "\"");
  if (t.port == 0) return fail("port 0 cannot be connected to");
  return t;
}

std::string Target::ToString() const {
  if (kind == Kind::kUnix) return (passive ? "punix:" : "unix:") + path;
  std::string s = kind == Kind::kSsl ? "ssl:" : "tcp:";
  if (passive) {
    s = "p" + s + std::to_string(port);
    if (!host.empty()) s += ":" + HostForUri(host);
    return s;
  }
  return s + HostForUri(host) + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------
// TLS contexts and endpoint names

namespace internal {

std::shared_ptr<asio::ssl::context> MakeTlsContext(const TlsOptions& tls, bool server,
                                                   std::string* error) {
  auto fail = [&](const std::string& why) -> std::shared_ptr<asio::ssl::context> {
    if (error) *error = why;
    return nullptr;
  };
  if (!tls.configured()) {
    return fail("TLS needs a private key, a certificate and a CA certificate (PEM files)");
  }
  // Say which file is missing rather than relay OpenSSL's "system lib".
  for (const auto& [what, file] :
       {std::pair<const char*, const std::string*>{"private key", &tls.private_key},
        {"certificate", &tls.certificate},
        {"CA certificate", &tls.ca_cert}}) {
    if (::access(file->c_str(), R_OK) != 0) {
      return fail(std::string(what) + " " + *file + ": " + std::strerror(errno));
    }
  }
  auto ctx = std::make_shared<asio::ssl::context>(server ? asio::ssl::context::tls_server
                                                         : asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(tls.certificate, ec);
  if (ec) return fail("certificate " + tls.certificate + ": " + ec.message());
  ctx->use_private_key_file(tls.private_key, asio::ssl::context::pem, ec);
  if ((ec && ec.category() == asio::error::get_ssl_category() &&
       ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) ||
      (!ec && SSL_CTX_check_private_key(native) != 1)) {
    return fail("private key " + tls.private_key + " does not match certificate " +
                tls.certificate);
  }
  if (ec) return fail("private key " + tls.private_key + ": " + ec.message());
  ctx->load_verify_file(tls.ca_cert, ec);
  if (ec) return fail("CA certificate " + tls.ca_cert + ": " + ec.message());
  if (server) {
    // Tell clients which CA we accept, so that one with several can choose.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_cert.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
  }
  // Mutual authentication: the server insists on a client certificate, the
  // client verifies the server's against the CA. Deliberately no host name
  // check: OpenFlow peers are addressed by IP, and certificates are issued
  // per switch or controller by the deployment's own CA (as in Open vSwitch).
  ctx->set_verify_mode(asio::ssl::verify_peer |
                       (server ? asio::ssl::verify_fail_if_no_peer_cert : 0));
  return ctx;
}

bool MakeUnixEndpoint(const std::string& path, asio::local::stream_protocol::endpoint* ep,
                      boost::system::error_code* ec) {
  // sun_path holds the path and its terminating NUL.
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    *ec = make_error_code(boost::system::errc::filename_too_long);
    return false;
  }
  *ep = asio::local::stream_protocol::endpoint(path);
  return true;
}

std::string EndpointString(Target::Kind kind, const asio::ip::tcp::endpoint& ep) {
  return std::string(kind == Target::Kind::kSsl ? "ssl:" : "tcp:") +
         HostForUri(ep.address().to_string()) + ":" + std::to_string(ep.port());
}

// ---------------------------------------------------------------------------
// StreamImpl

template <typename Socket>
StreamImpl<Socket>::StreamImpl(Socket socket, std::string peer, size_t max_queued_bytes,
                               std::shared_ptr<asio::ssl::context> tls)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      peer_(std::move(peer)),
      max_queued_(max_queued_bytes),
      tls_(std::move(tls)) {}

template <typename Socket>
void StreamImpl<Socket>::ArmSetupDeadline(std::chrono::milliseconds timeout, Done done) {
  setup_done_ = std::move(done);
  establishing_ = true;
  timer_.expires_after(timeout);
  timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->establishing_) return;
    self->timed_out_ = true;
    boost::system::error_code ignored;
    self->socket_.lowest_layer().close(ignored);  // fails the pending connect or handshake
  });
}

template <typename Socket>
void StreamImpl<Socket>::Connect(const Endpoint& ep, std::chrono::milliseconds timeout, Done done) {
  asio::post(
      executor(), [self = this->shared_from_this(), ep, timeout, done = std::move(done)]() mutable {
        self->ArmSetupDeadline(timeout, std::move(done));
        self->socket_.lowest_layer().async_connect(ep, [self](const boost::system::error_code& ec) {
          if (ec || self->closed_ || self->timed_out_) return self->FinishSetup(ec);
          if constexpr (!std::is_same_v<Socket, UnixSocket>) {
            boost::system::error_code ignored;
            self->socket_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
          }
          if constexpr (kTls) {
            self->Handshake(asio::ssl::stream_base::client);
          } else {
            self->FinishSetup({});
          }
        });
      });
}

template <typename Socket>
void StreamImpl<Socket>::Accepted(std::chrono::milliseconds timeout, Done done) {
  asio::post(executor(),
             [self = this->shared_from_this(), timeout, done = std::move(done)]() mutable {
               if constexpr (!std::is_same_v<Socket, UnixSocket>) {
                 boost::system::error_code ignored;
                 self->socket_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
               }
               if constexpr (kTls) {
                 self->ArmSetupDeadline(timeout, std::move(done));
                 self->Handshake(asio::ssl::stream_base::server);
               } else {
                 done({});  // nothing to set up
               }
             });
}

template <typename Socket>
void StreamImpl<Socket>::Handshake(asio::ssl::stream_base::handshake_type type) {
  if constexpr (kTls) {
    socket_.async_handshake(type,
                            [self = this->shared_from_this()](const boost::system::error_code& ec) {
                              self->FinishSetup(ec);
                            });
  }
}

template <typename Socket>
void StreamImpl<Socket>::FinishSetup(boost::system::error_code ec) {
  if (!establishing_) return;
  establishing_ = false;
  timer_.cancel();
  if (timed_out_) {
    ec = asio::error::timed_out;
  } else if (closed_ && !ec) {
    ec = asio::error::operation_aborted;
  }
  if (ec) {
    Shutdown("setup failed: " + ec.message());
  } else if (!wq_.empty() && !writing_) {
    DoWrite();
  }
  Done done = std::move(setup_done_);
  setup_done_ = nullptr;
  done(ec);
}

template <typename Socket>
void StreamImpl<Socket>::Start(OnMessage on_message, OnClose on_close) {
  asio::post(executor(), [self = this->shared_from_this(), m = std::move(on_message),
                          c = std::move(on_close)]() mutable {
    if (self->started_) return;
    self->started_ = true;
    if (self->closed_) {  // closed before anyone listened: report it now
      if (c) c(self->close_reason_);
      return;
    }
    self->on_message_ = std::move(m);
    self->on_close_ = std::move(c);
    self->rbuf_.resize(kReadBufferSize);
    self->DoRead();
  });
}

template <typename Socket>
void StreamImpl<Socket>::DoRead() {
  socket_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                          [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                            size_t n) { self->OnRead(ec, n); });
}

template <typename Socket>
std::string StreamImpl<Socket>::ReadErrorReason(const boost::system::error_code& ec) const {
  if (ec == asio::error::eof) return "connection closed by peer";
  if constexpr (kTls) {
    // We close without close_notify ourselves, and so may the peer.
    if (ec == asio::ssl::error::stream_truncated) return "connection closed by peer";
    if (ec.category() == asio::error::get_ssl_category()) {
      std::string reason = "TLS error: " + ec.message();
      if (!received_any_) {
        // A TLS 1.3 server refuses our certificate only after our side of the
        // handshake has completed; this is where that shows up.
        spdlog::warn("{}: TLS session refused by the peer before any data: {}", peer_,
                     ec.message());
      }
      return reason;
    }
  }
  return ec.message();
}

template <typename Socket>
void StreamImpl<Socket>::OnRead(const boost::system::error_code& ec, size_t n) {
  if (closed_) {
    std::vector<uint8_t>().swap(rbuf_);  // the last read is over: nothing refers to it now
    return;
  }
  if (ec) {
    Shutdown(ReadErrorReason(ec));
    return;
  }
  received_any_ = true;
  if (close_requested_.load(std::memory_order_acquire)) {
    // Flushing before a close: what arrives now is not delivered, but keep
    // reading so that a peer that goes away is noticed.
    rlen_ = 0;
    DoRead();
    return;
  }
  rlen_ += n;
  size_t head = 0;
  while (rlen_ - head >= kHeaderLen) {
    const uint8_t* p = rbuf_.data() + head;
    size_t len = static_cast<size_t>(p[2]) << 8 | p[3];
    if (len < kHeaderLen) {
      // Cannot frame past this. Deliver the header so that the protocol
      // layer can answer BAD_LEN, then close once that answer is written:
      // posting the close puts it behind any Send() made in on_message.
      if (on_message_) on_message_(std::vector<uint8_t>(p, p + kHeaderLen));
      asio::post(executor(), [self = this->shared_from_this(), len] {
        self->BeginClose("bad OpenFlow message length " + std::to_string(len));
      });
      return;  // no more reads
    }
    if (rlen_ - head < len) break;
    if (on_message_) on_message_(std::vector<uint8_t>(p, p + len));
    head += len;
    if (close_requested_.load(std::memory_order_acquire)) {  // Close() from on_message
      rlen_ = 0;
      DoRead();
      return;
    }
  }
  // Keep the partial message (less than 64 KiB) at the front; the rest of
  // the buffer always has room for the largest message.
  if (head > 0 && head < rlen_) std::memmove(rbuf_.data(), rbuf_.data() + head, rlen_ - head);
  rlen_ -= head;
  DoRead();
}

template <typename Socket>
void StreamImpl<Socket>::Send(std::vector<uint8_t> msg) {
  if (msg.empty() || close_requested_.load(std::memory_order_acquire)) return;
  size_t n = msg.size();
  if (queued_.fetch_add(n, std::memory_order_relaxed) + n > max_queued_) {
    queued_.fetch_sub(n, std::memory_order_relaxed);
    close_requested_.store(true, std::memory_order_release);
    asio::post(executor(),
               [self = this->shared_from_this()] { self->Shutdown("send queue overflow"); });
    return;
  }
  asio::post(executor(), [self = this->shared_from_this(), m = std::move(msg)]() mutable {
    self->Enqueue(std::move(m));
  });
}

template <typename Socket>
void StreamImpl<Socket>::Enqueue(std::vector<uint8_t> msg) {
  if (closed_) {
    queued_.fetch_sub(msg.size(), std::memory_order_relaxed);
    return;
  }
  wq_.push_back(std::move(msg));
  if (!writing_ && !establishing_) DoWrite();
}

template <typename Socket>
void StreamImpl<Socket>::DoWrite() {
  writing_ = true;
  inflight_bytes_ = 0;
  auto handler = [self = this->shared_from_this()](const boost::system::error_code& ec, size_t) {
    self->OnWrite(ec);
  };
  if constexpr (kTls) {
    // One contiguous buffer: the TLS stream writes one buffer per record.
    tls_out_.clear();
    while (!wq_.empty() &&
           (tls_out_.empty() || tls_out_.size() + wq_.front().size() <= kTlsCoalesceBytes)) {
      tls_out_.insert(tls_out_.end(), wq_.front().begin(), wq_.front().end());
      wq_.pop_front();
    }
    inflight_bytes_ = tls_out_.size();
    asio::async_write(socket_, asio::buffer(tls_out_), std::move(handler));
  } else {
    gather_.clear();
    for (inflight_count_ = 0; inflight_count_ < wq_.size() && inflight_count_ < kMaxGather &&
                              inflight_bytes_ < kMaxWriteBytes;
         ++inflight_count_) {
      gather_.push_back(asio::buffer(wq_[inflight_count_]));
      inflight_bytes_ += wq_[inflight_count_].size();
    }
    asio::async_write(socket_, gather_, std::move(handler));
  }
}

template <typename Socket>
void StreamImpl<Socket>::OnWrite(const boost::system::error_code& ec) {
  writing_ = false;
  queued_.fetch_sub(inflight_bytes_, std::memory_order_relaxed);
  inflight_bytes_ = 0;
  if constexpr (!kTls) {
    wq_.erase(wq_.begin(), wq_.begin() + static_cast<std::ptrdiff_t>(inflight_count_));
    inflight_count_ = 0;
  }
  if (closed_) {
    // Shutdown() left only the in-flight messages; they are gone now.
    return;
  }
  if (ec) {
    Shutdown(ec == asio::error::eof ? "connection closed by peer" : ec.message());
    return;
  }
  if (!wq_.empty()) {
    DoWrite();
  } else if (closing_) {
    Shutdown(closing_reason_);
  }
}

template <typename Socket>
void StreamImpl<Socket>::Close() {
  close_requested_.store(true, std::memory_order_release);
  asio::post(executor(), [self = this->shared_from_this()] { self->BeginClose("closed"); });
}

template <typename Socket>
void StreamImpl<Socket>::BeginClose(std::string reason) {
  close_requested_.store(true, std::memory_order_release);
  if (closed_ || closing_) return;
  if (establishing_ || (!writing_ && wq_.empty())) {
    Shutdown(std::move(reason));
    return;
  }
  closing_ = true;
  closing_reason_ = std::move(reason);
  timer_.expires_after(kCloseFlushTimeout);
  timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    self->Shutdown(self->closing_reason_ + " (unsent data dropped after 1 s)");
  });
}

template <typename Socket>
void StreamImpl<Socket>::Shutdown(std::string reason) {
  if (closed_) return;
  closed_ = true;
  close_requested_.store(true, std::memory_order_release);
  timer_.cancel();
  boost::system::error_code ignored;
  socket_.lowest_layer().shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.lowest_layer().close(ignored);
  // Drop what was never handed to a write; in-flight buffers stay until
  // their write completes (OnWrite).
  size_t keep = writing_ ? inflight_count_ : 0;
  size_t dropped = 0;
  for (size_t i = keep; i < wq_.size(); ++i) dropped += wq_[i].size();
  wq_.erase(wq_.begin() + static_cast<std::ptrdiff_t>(keep), wq_.end());
  queued_.fetch_sub(dropped, std::memory_order_relaxed);
  close_reason_ = reason;
  OnClose on_close = std::move(on_close_);
  on_close_ = nullptr;
  on_message_ = nullptr;
  if (on_close) on_close(reason);
}

template class StreamImpl<TcpSocket>;
template class StreamImpl<TlsSocket>;
template class StreamImpl<UnixSocket>;

}  // namespace internal
}  // namespace sluice::ctl
