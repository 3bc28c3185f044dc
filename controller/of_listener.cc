// Listener: ptcp:, pssl:, punix: (see of_stream.h).
//
// Design: the acceptor lives in a State shared with its pending handlers, on
// a strand of its own; each accepted socket gets a new strand (its stream's).
// A TLS connection is handed to on_accept only after its handshake has
// succeeded; the handshake runs on the stream's strand and its outcome is
// posted back to the listener's strand. `closed` is set by Close() before it
// posts, and every path to on_accept checks it on the listener's strand, so
// no on_accept starts after Close() has returned.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controller/of_stream.h"
#include "controller/of_stream_internal.h"

namespace sluice::ctl {

namespace {

namespace asio = boost::asio;
using internal::StreamImpl;
using internal::TcpSocket;
using internal::TlsSocket;
using internal::UnixSocket;

// After an accept error other than the listener closing (EMFILE, ENOBUFS),
// wait this long before accepting again rather than spin.
constexpr std::chrono::milliseconds kAcceptRetry{100};

struct ListenerState : std::enable_shared_from_this<ListenerState> {
  ListenerState(asio::io_context& io_in, const Target& t)
      : io(io_in), strand(asio::make_strand(io_in)), retry(strand), target(t) {}

  asio::io_context& io;
  asio::any_io_executor strand;
  asio::steady_timer retry;  // strand
  Target target;             // port filled in once bound
  std::shared_ptr<asio::ssl::context> tls;
  Listener::OnAccept on_accept;
  size_t max_queued = kDefaultMaxQueuedBytes;
  std::optional<asio::ip::tcp::acceptor> tcp;                   // strand
  std::optional<asio::local::stream_protocol::acceptor> local;  // strand
  std::atomic<bool> closed{false};

  void Accept() {
    if (closed.load(std::memory_order_acquire)) return;
    // Each accepted socket on a strand of its own.
    asio::any_io_executor ex = asio::make_strand(io);
    auto self = shared_from_this();
    if (tcp) {
      tcp->async_accept(ex, [self](const boost::system::error_code& ec, TcpSocket socket) {
        self->OnTcpAccept(ec, std::move(socket));
      });
    } else {
      local->async_accept(ex, [self](const boost::system::error_code& ec, UnixSocket socket) {
        self->OnUnixAccept(ec, std::move(socket));
      });
    }
  }

  // Common to every accept: false to stop (closed), handles errors.
  bool AcceptOk(const boost::system::error_code& ec) {
    if (closed.load(std::memory_order_acquire) || ec == asio::error::operation_aborted)
      return false;
    if (ec) {
      spdlog::warn("{}: accept failed: {}", target.ToString(), ec.message());
      retry.expires_after(kAcceptRetry);
      retry.async_wait([self = shared_from_this()](const boost::system::error_code& wec) {
        if (!wec) self->Accept();
      });
      return false;
    }
    return true;
  }

  void OnTcpAccept(const boost::system::error_code& ec, TcpSocket socket) {
    if (!AcceptOk(ec)) return;
    boost::system::error_code pec;
    asio::ip::tcp::endpoint remote = socket.remote_endpoint(pec);
    std::string peer = pec ? std::string("tcp:?") : internal::EndpointString(target.kind, remote);
    if (target.kind == Target::Kind::kSsl) {
      auto s = std::make_shared<StreamImpl<TlsSocket>>(TlsSocket(std::move(socket), *tls), peer,
                                                       max_queued, tls);
      // The stream keeps `done` until it has run: a weak reference to the
      // stream, or the two would keep each other alive if the io_context
      // were destroyed mid-handshake.
      s->Accepted(internal::kSetupTimeout,
                  [self = shared_from_this(),
                   weak = std::weak_ptr<OfStream>(s)](const boost::system::error_code& hec) {
                    auto s = weak.lock();
                    if (!s) return;
                    if (hec) {
                      spdlog::warn("{}: TLS handshake with {} failed: {}", self->target.ToString(),
                                   s->peer(), hec.message());
                      return;
                    }
                    asio::post(self->strand, [self, s] { self->Deliver(s); });
                  });
    } else {
      auto s = std::make_shared<StreamImpl<TcpSocket>>(std::move(socket), peer, max_queued);
      s->Accepted(internal::kSetupTimeout, [](const boost::system::error_code&) {});
      Deliver(s);
    }
    Accept();
  }

  void OnUnixAccept(const boost::system::error_code& ec, UnixSocket socket) {
    if (!AcceptOk(ec)) return;
    auto s = std::make_shared<StreamImpl<UnixSocket>>(std::move(socket), "unix:" + target.path,
                                                      max_queued);
    s->Accepted(internal::kSetupTimeout, [](const boost::system::error_code&) {});
    Deliver(s);
    Accept();
  }

  // Strand.
  void Deliver(const std::shared_ptr<OfStream>& s) {
    if (closed.load(std::memory_order_acquire)) {
      s->Close();
      return;
    }
    spdlog::debug("{}: accepted {}", target.ToString(), s->peer());
    on_accept(s);
  }

  // Strand.
  void DoClose() {
    boost::system::error_code ignored;
    retry.cancel();
    if (tcp) tcp->close(ignored);
    if (local && local->is_open()) {
      local->close(ignored);
      ::unlink(target.path.c_str());
    }
    on_accept = nullptr;
  }
};

class ListenerImpl final : public Listener {
 public:
  explicit ListenerImpl(std::shared_ptr<ListenerState> state) : state_(std::move(state)) {}
  ~ListenerImpl() override { Close(); }

  void Close() override {
    if (state_->closed.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(state_->strand, [s = state_] { s->DoClose(); });
  }
  uint16_t port() const override { return state_->target.port; }
  std::string ToString() const override { return state_->target.ToString(); }

 private:
  std::shared_ptr<ListenerState> state_;
};

}  // namespace

std::unique_ptr<Listener> Listener::Open(boost::asio::io_context& io, const Target& target,
                                         const TlsOptions& tls, OnAccept on_accept,
                                         std::string* error, size_t max_queued_bytes) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<Listener> {
    if (error) *error = target.ToString() + ": " + why;
    return nullptr;
  };
  if (!target.passive) return fail("not a passive target (ptcp:, pssl:, punix:)");
  auto state = std::make_shared<ListenerState>(io, target);
  state->on_accept = std::move(on_accept);
  state->max_queued = max_queued_bytes;
  boost::system::error_code ec;
  if (target.kind == Target::Kind::kUnix) {
    if (target.path.empty()) return fail("missing socket path");
    asio::local::stream_protocol::endpoint ep;
    if (!internal::MakeUnixEndpoint(target.path, &ep, &ec)) return fail(ec.message());
    // Replace a stale socket (left by a process that died), but never a
    // file of another kind.
    struct stat st;
    if (::lstat(target.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return fail("exists and is not a socket");
      if (::unlink(target.path.c_str()) != 0) {
        return fail(std::string("cannot remove stale socket: ") + std::strerror(errno));
      }
    }
    auto& a = state->local.emplace(state->strand);
    a.open(asio::local::stream_protocol(), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(ec.message());
  } else {
    if (target.kind == Target::Kind::kSsl) {
      std::string why;
      state->tls = internal::MakeTlsContext(tls, /*server=*/true, &why);
      if (!state->tls) return fail(why);
    }
    asio::ip::address addr = asio::ip::address_v4::any();
    if (!target.host.empty()) {
      addr = asio::ip::make_address(target.host, ec);
      if (ec) return fail("\"" + target.host + "\" is not an IP address");
    }
    asio::ip::tcp::endpoint ep(addr, target.port);
    auto& a = state->tcp.emplace(state->strand);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) state->target.port = a.local_endpoint(ec).port();
    if (ec) return fail(ec.message());
  }
  spdlog::info("{}: listening", state->target.ToString());
  asio::post(state->strand, [state] { state->Accept(); });
  return std::make_unique<ListenerImpl>(std::move(state));
}

}  // namespace sluice::ctl
