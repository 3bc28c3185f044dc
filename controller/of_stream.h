#pragma once
// What: the transport under OpenFlow channels, over Boost.Asio: targets
// ("tcp:IP[:PORT]", "ssl:IP[:PORT]", "unix:PATH" to connect out;
// "ptcp:[PORT][:IP]", "pssl:[PORT][:IP]", "punix:PATH" to listen, as
// ovs-vsctl set-controller and ovs-ofctl spell them), framed message streams
// over a connected TCP, TLS or unix socket, a Listener for passive targets
// and a Connector for active ones (reconnect with exponential backoff).
//
// Design:
//   - OfStream frames by the OpenFlow header's length field: on_message gets
//     exactly one whole message (header included). A header whose length is
//     below 8 cannot be framed past: the 8 bytes are delivered as they are
//     (so that the protocol layer can send BAD_LEN) and the stream closes
//     once what is queued has been written. Messages are at most 65535
//     bytes by construction.
//   - Send() may be called from any thread; it posts to the stream's strand.
//     A peer that does not read is not allowed to make the switch hoard
//     memory: past max_queued_bytes of unsent data the stream closes with a
//     reason ("send queue overflow").
//   - TLS (ssl:/pssl:) is mutual: both ends present a certificate signed by
//     a CA the other trusts (TlsOptions.ca_cert). A handshake that fails
//     (untrusted certificate, no certificate) never reaches on_message; the
//     reason is logged and, for a Connector, counts as a failed attempt.
//   - Connector: first attempt at once; after a failed attempt or a closed
//     connection, waits backoff (1 s, doubling up to max_backoff_ms) before
//     the next; a connection that stayed up at least max_backoff_ms resets
//     the backoff to 1 s.
//   - Callbacks run on the io_context's thread(s), never concurrently for
//     one stream (a strand per stream).
//
// Invariants (tested in tests/controller/of_stream_test.cc):
//   1. on_message gets whole messages, in order, whatever the read sizes;
//      a message is never split or merged.
//   2. on_close is called exactly once per started stream; no callback of
//      that stream runs after it.
//   3. A Send() that would take queued_bytes() (accepted, not yet written)
//      past max_queued_bytes drops that message and closes the stream with
//      "send queue overflow".
//   4. After Close() (or a bad length), on_message is not called again; what
//      was queued before is written first, for at most 1 s.
//   5. Connector: waits are initial_backoff_ms, 2x, 4x, ... capped at
//      max_backoff_ms; attempts() counts every attempt started.
//
// Details the protocol layer relies on:
//   - Nothing is read before Start(); Send() before Start() is allowed.
//   - on_accept / on_connect run on the Listener's / Connector's own strand,
//     the stream's callbacks on the stream's strand: with one io_context
//     thread, everything runs on that thread, one callback at a time.
//   - Calling Send() or Close() from inside a callback is allowed (they
//     post); a Send() made in on_message is written before the close that a
//     bad length causes.
//   - The owner of a stream handed out by a Connector calls Disconnected()
//     once that stream has ended (typically from its on_close). The
//     connection then counts as a failure for the backoff unless it stayed
//     up at least max_backoff_ms.
//   - TLS 1.3: a client learns that the server refused its certificate only
//     after its own handshake has completed, so on the Connector side such a
//     rejection shows up as on_connect followed at once by on_close (with
//     the TLS alert as the reason), never on_message; the backoff treats it
//     as a failed attempt since the connection did not stay up. The server
//     side never hands such a connection to on_accept.
//   - TLS peers are not checked against a host name: OpenFlow peers are
//     addressed by IP, and trust comes from the CA (as in Open vSwitch).
//
// Thread-safety: OfStream::Send/Close are thread-safe; Listener and
// Connector are driven from the io_context thread (Start/Stop may be called
// from any thread; they post). No on_connect / on_accept call starts after
// Stop() / Close() has returned; destroying a Listener or Connector
// closes or stops it. To be sure no callback is running while its owner is
// destroyed, destroy from an io_context thread or after the io_context has
// stopped.
//
// Memory: a stream holds a 128 KiB read buffer once started, plus at most
// max_queued_bytes of unsent messages.

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::ctl {

struct TlsOptions {
  std::string private_key;  // PEM files
  std::string certificate;
  std::string ca_cert;
  bool configured() const { return !private_key.empty() && !certificate.empty() && !ca_cert.empty(); }
};

struct Target {
  enum class Kind : uint8_t { kTcp, kSsl, kUnix };
  Kind kind = Kind::kTcp;
  bool passive = false;
  std::string host;   // IP literal; for passive, the address to bind ("" = 0.0.0.0)
  uint16_t port = 0;  // 0 for passive = pick any free port
  std::string path;   // kUnix
  std::string ToString() const;
};

// Parses a target; default_port is used when a tcp/ssl target names none
// (6653 for OpenFlow). Returns nullopt and sets *error on bad syntax.
std::optional<Target> ParseTarget(std::string_view text, uint16_t default_port, std::string* error);

class OfStream {
 public:
  using OnMessage = std::function<void(std::vector<uint8_t>&& msg)>;
  using OnClose = std::function<void(const std::string& reason)>;
  virtual ~OfStream() = default;
  // Starts reading. on_close is called exactly once, when the stream ends
  // for any reason (peer closed, error, Close(), overflow).
  virtual void Start(OnMessage on_message, OnClose on_close) = 0;
  virtual void Send(std::vector<uint8_t> msg) = 0;
  // Closes after what was already queued is written (bounded by 1 s).
  virtual void Close() = 0;
  virtual std::string peer() const = 0;  // "tcp:127.0.0.1:40312", "unix:/path", "ssl:..."
  virtual size_t queued_bytes() const = 0;
};

inline constexpr size_t kDefaultMaxQueuedBytes = 16u << 20;
inline constexpr uint32_t kDefaultInitialBackoffMs = 1000;

class Listener {
 public:
  using OnAccept = std::function<void(std::shared_ptr<OfStream>)>;
  // Binds and starts accepting (a stale unix socket file is replaced).
  // nullptr and *error on failure (address in use, bad TLS files, ...).
  static std::unique_ptr<Listener> Open(boost::asio::io_context& io, const Target& target,
                                        const TlsOptions& tls, OnAccept on_accept,
                                        std::string* error,
                                        size_t max_queued_bytes = kDefaultMaxQueuedBytes);
  virtual ~Listener() = default;
  virtual void Close() = 0;
  virtual uint16_t port() const = 0;  // the bound TCP port (useful with ptcp:0)
  virtual std::string ToString() const = 0;
};

class Connector {
 public:
  using OnConnect = std::function<void(std::shared_ptr<OfStream>)>;
  // nullptr and *error when the TLS files cannot be loaded. initial_backoff_ms
  // is the first wait after a failure (tests shorten it); max_backoff_ms of 0
  // is taken as 1 ms.
  static std::unique_ptr<Connector> Create(boost::asio::io_context& io, const Target& target,
                                           const TlsOptions& tls, uint32_t max_backoff_ms,
                                           OnConnect on_connect, std::string* error,
                                           size_t max_queued_bytes = kDefaultMaxQueuedBytes,
                                           uint32_t initial_backoff_ms = kDefaultInitialBackoffMs);
  virtual ~Connector() = default;
  // Starts connecting (and keeps doing so after failures). Once only; a
  // stopped Connector does not restart.
  virtual void Start() = 0;
  // The connection handed to on_connect has ended: schedule the next
  // attempt after the backoff.
  virtual void Disconnected() = 0;
  // Cancels a pending attempt or wait; a stream already handed to
  // on_connect belongs to its owner and stays open.
  virtual void Stop() = 0;
  virtual uint32_t attempts() const = 0;            // attempts started so far
  virtual uint32_t current_backoff_ms() const = 0;  // the latest wait (0 before any)
  virtual std::string ToString() const = 0;
};

}  // namespace sluice::ctl
