// Connector: tcp:, ssl:, unix: with reconnect and exponential backoff (see
// of_stream.h).
//
// Design: a State shared with its pending handlers, driven on a strand of
// its own. It is always in one of three phases:
//   waiting     a backoff timer runs; when it fires, an attempt starts;
//   attempting  `pending` holds a stream being set up (connect, then the TLS
//               handshake) under a deadline of max(next backoff, 1 s);
//   connected   the stream went to on_connect; the owner's Disconnected()
//               moves back to waiting.
// Backoff: `next_backoff_ms` is the next wait; each wait doubles it up to
// max_backoff_ms; a connection that stayed up max_backoff_ms or longer
// resets it to initial_backoff_ms. Logging: the first failure after a
// start or a lasting connection is a warning, the ones after it debug
// lines, so that an absent controller costs one warning, not one a second.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller/of_stream.h"
#include "controller/of_stream_internal.h"

namespace sluice::ctl {

namespace {

namespace asio = boost::asio;
using internal::StreamImpl;
using internal::TcpSocket;
using internal::TlsSocket;
using internal::UnixSocket;
using Clock = std::chrono::steady_clock;

struct ConnectorState : std::enable_shared_from_this<ConnectorState> {
  ConnectorState(asio::io_context& io_in, const Target& t)
      : io(io_in), strand(asio::make_strand(io_in)), timer(strand), target(t), name(t.ToString()) {}

  asio::io_context& io;
  asio::any_io_executor strand;
  asio::steady_timer timer;  // strand: the backoff wait
  const Target target;
  const std::string name;
  std::shared_ptr<asio::ssl::context> tls;
  asio::ip::tcp::endpoint tcp_endpoint;
  asio::local::stream_protocol::endpoint unix_endpoint;
  Connector::OnConnect on_connect;
  size_t max_queued = kDefaultMaxQueuedBytes;
  uint32_t initial_backoff_ms = kDefaultInitialBackoffMs;
  uint32_t max_backoff_ms = 8000;

  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::atomic<uint32_t> attempts{0};    // written on the strand
  std::atomic<uint32_t> backoff_ms{0};  // written on the strand

  // Strand only.
  uint32_t next_backoff_ms = 0;
  bool warned = false;  // a failure was logged as a warning since the last lasting connection
  bool connected = false;
  Clock::time_point connected_at;
  std::shared_ptr<OfStream> pending;  // attempting
  std::weak_ptr<OfStream> current;    // connected

  void Attempt() {
    if (stopped.load(std::memory_order_acquire)) return;
    attempts.fetch_add(1, std::memory_order_relaxed);
    auto timeout = std::chrono::milliseconds(std::max<uint32_t>(next_backoff_ms, 1000));
    // `done` runs on the stream's strand; the outcome is handled on ours. The
    // stream keeps `done` until it has run, and we keep the stream in
    // `pending`: weak references, or a stream and this state would keep
    // each other alive if the io_context were destroyed mid-attempt.
    auto make_done = [weak_self = weak_from_this()](const std::shared_ptr<OfStream>& stream) {
      return
          [weak_self, weak = std::weak_ptr<OfStream>(stream)](const boost::system::error_code& ec) {
            auto self = weak_self.lock();
            auto s = weak.lock();
            if (!self || !s) return;
            asio::post(self->strand, [self, s, ec] { self->OnAttemptDone(s, ec); });
          };
    };
    switch (target.kind) {
      case Target::Kind::kTcp: {
        auto s = std::make_shared<StreamImpl<TcpSocket>>(TcpSocket(asio::make_strand(io)), name,
                                                         max_queued);
        pending = s;
        s->Connect(tcp_endpoint, timeout, make_done(s));
        break;
      }
      case Target::Kind::kSsl: {
        auto s = std::make_shared<StreamImpl<TlsSocket>>(
            TlsSocket(TcpSocket(asio::make_strand(io)), *tls), name, max_queued, tls);
        pending = s;
        s->Connect(tcp_endpoint, timeout, make_done(s));
        break;
      }
      case Target::Kind::kUnix: {
        auto s = std::make_shared<StreamImpl<UnixSocket>>(UnixSocket(asio::make_strand(io)), name,
                                                          max_queued);
        pending = s;
        s->Connect(unix_endpoint, timeout, make_done(s));
        break;
      }
    }
  }

  void OnAttemptDone(const std::shared_ptr<OfStream>& s, const boost::system::error_code& ec) {
    if (pending == s) pending.reset();
    if (stopped.load(std::memory_order_acquire)) {
      s->Close();
      return;
    }
    if (ec) {
      uint32_t wait = Wait();
      if (!warned) {
        spdlog::warn("{}: connection failed ({}), retrying in {} ms", name, ec.message(), wait);
        warned = true;
      } else {
        spdlog::debug("{}: connection failed ({}), retrying in {} ms", name, ec.message(), wait);
      }
      return;
    }
    spdlog::info("{}: connected", name);
    connected = true;
    connected_at = Clock::now();
    current = s;
    on_connect(s);
  }

  void OnDisconnected() {
    if (!connected) return;  // a second call for the same connection
    connected = false;
    if (auto s = current.lock()) s->Close();
    current.reset();
    if (Clock::now() - connected_at >= std::chrono::milliseconds(max_backoff_ms)) {
      next_backoff_ms = initial_backoff_ms;
      warned = false;
    }
    if (stopped.load(std::memory_order_acquire)) return;
    uint32_t wait = Wait();
    spdlog::debug("{}: disconnected, reconnecting in {} ms", name, wait);
  }

  // Starts the backoff wait; returns its length.
  uint32_t Wait() {
    uint32_t wait = next_backoff_ms;
    backoff_ms.store(wait, std::memory_order_relaxed);
    next_backoff_ms =
        static_cast<uint32_t>(std::min<uint64_t>(uint64_t{wait} * 2, uint64_t{max_backoff_ms}));
    timer.expires_after(std::chrono::milliseconds(wait));
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Attempt();
    });
    return wait;
  }

  void DoStop() {
    timer.cancel();
    if (pending) pending->Close();  // its setup fails; OnAttemptDone sees `stopped`
    pending.reset();
    on_connect = nullptr;
  }
};

class ConnectorImpl final : public Connector {
 public:
  explicit ConnectorImpl(std::shared_ptr<ConnectorState> state) : state_(std::move(state)) {}
  ~ConnectorImpl() override { Stop(); }

  void Start() override {
    if (state_->started.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(state_->strand, [s = state_] { s->Attempt(); });
  }
  void Disconnected() override {
    asio::post(state_->strand, [s = state_] { s->OnDisconnected(); });
  }
  void Stop() override {
    if (state_->stopped.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(state_->strand, [s = state_] { s->DoStop(); });
  }
  uint32_t attempts() const override { return state_->attempts.load(std::memory_order_relaxed); }
  uint32_t current_backoff_ms() const override {
    return state_->backoff_ms.load(std::memory_order_relaxed);
  }
  std::string ToString() const override { return state_->name; }

 private:
  std::shared_ptr<ConnectorState> state_;
};

}  // namespace

std::unique_ptr<Connector> Connector::Create(boost::asio::io_context& io, const Target& target,
                                             const TlsOptions& tls, uint32_t max_backoff_ms,
                                             OnConnect on_connect, std::string* error,
                                             size_t max_queued_bytes, uint32_t initial_backoff_ms) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<Connector> {
    if (error) *error = target.ToString() + ": " + why;
    return nullptr;
  };
  if (target.passive) return fail("not an active target (tcp:, ssl:, unix:)");
  auto state = std::make_shared<ConnectorState>(io, target);
  if (target.kind == Target::Kind::kUnix) {
    if (target.path.empty()) return fail("missing socket path");
    boost::system::error_code ec;
    if (!internal::MakeUnixEndpoint(target.path, &state->unix_endpoint, &ec)) {
      return fail(ec.message());
    }
  } else {
    boost::system::error_code ec;
    asio::ip::address addr = asio::ip::make_address(target.host, ec);
    if (ec) return fail("\"" + target.host + "\" is not an IP address");
    if (target.port == 0) return fail("port 0 cannot be connected to");
    state->tcp_endpoint = asio::ip::tcp::endpoint(addr, target.port);
    if (target.kind == Target::Kind::kSsl) {
      std::string why;
      state->tls = internal::MakeTlsContext(tls, /*server=*/false, &why);
      if (!state->tls) return fail(why);
    }
  }
  state->on_connect = std::move(on_connect);
  state->max_queued = max_queued_bytes;
  state->max_backoff_ms = std::max<uint32_t>(max_backoff_ms, 1);
  state->initial_backoff_ms = std::clamp<uint32_t>(initial_backoff_ms, 1, state->max_backoff_ms);
  state->next_backoff_ms = state->initial_backoff_ms;
  return std::make_unique<ConnectorImpl>(std::move(state));
}

}  // namespace sluice::ctl
