#pragma once
// What: the pieces of of_stream.h's implementation shared by of_stream.cc
// (targets, TLS contexts, the framed stream), of_listener.cc and
// of_connector.cc. Not for use outside those three files.
//
// Design: one stream class, StreamImpl<Socket>, for the three socket kinds
// (TCP, TLS over TCP, unix). Its socket is created on a strand of its own,
// so every completion handler, its timer and everything posted by Send(),
// Close() and Start() run on that strand: the members marked "strand" below
// need no lock. The few members read from other threads are atomics.
//
// Life of a stream:
//   1. Setup, before anyone outside sees it: Connect() (connect, then the
//      TLS client handshake) or Accepted() (the TLS server handshake), both
//      under one deadline; `done` gets the outcome on the stream's strand.
//   2. Start(): reading begins; whole messages go to on_message.
//   3. Shutdown(reason), reached once from an error, the peer closing,
//      an overflow, Close() after the flush, or a bad length after the
//      flush: the socket is closed and on_close(reason) runs; both
//      callbacks are then dropped (which breaks any cycle through them).
//
// Write protocol (strand): wq_ holds messages in order; while writing_,
// the first inflight_count_ of them (plain sockets: gathered into one
// async_write) or a copy of them in tls_out_ (TLS: one contiguous buffer, so
// that each async_write_some makes full records) are being written, and are
// popped only when that write completes: the kernel may still read them
// until then, so Shutdown() never frees them.
//
// Byte accounting: queued_ is raised by Send() before it posts (so an
// overflow is caught before the memory piles up in posted handlers) and
// lowered exactly once per byte: when its write completes, or when the
// message is dropped because the stream has closed.

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "controller/of_stream.h"

namespace sluice::ctl::internal {

namespace asio = boost::asio;
using TcpSocket = asio::ip::tcp::socket;
using TlsSocket = asio::ssl::stream<TcpSocket>;
using UnixSocket = asio::local::stream_protocol::socket;

// How long a TLS handshake (and, for a Connector, the connect before it)
// may take before the attempt is abandoned, unless a caller says otherwise.
inline constexpr std::chrono::milliseconds kSetupTimeout{10000};
// Close() flushes for at most this long.
inline constexpr std::chrono::milliseconds kCloseFlushTimeout{1000};

// Loads key, certificate and CA for one side of a mutually authenticated
// TLS 1.2+ channel. nullptr and *error (naming the file) on failure.
std::shared_ptr<asio::ssl::context> MakeTlsContext(const TlsOptions& tls, bool server,
                                                   std::string* error);

// A unix socket address; false and *ec (name too long) instead of asio's
// exception.
bool MakeUnixEndpoint(const std::string& path, asio::local::stream_protocol::endpoint* ep,
                      boost::system::error_code* ec);

// "tcp:1.2.3.4:5", "ssl:[::1]:5".
std::string EndpointString(Target::Kind kind, const asio::ip::tcp::endpoint& ep);

template <typename Socket>
class StreamImpl final : public OfStream, public std::enable_shared_from_this<StreamImpl<Socket>> {
 public:
  static constexpr bool kTls = std::is_same_v<Socket, TlsSocket>;
  using Endpoint = typename Socket::lowest_layer_type::endpoint_type;
  // Setup outcome; runs on the stream's strand.
  using Done = std::function<void(const boost::system::error_code&)>;

  // `socket` must have been created on a strand of its own. `tls` keeps the
  // context of a TLS socket alive as long as the stream.
  StreamImpl(Socket socket, std::string peer, size_t max_queued_bytes,
             std::shared_ptr<asio::ssl::context> tls = nullptr);
  ~StreamImpl() override = default;

  // Setup (step 1 above); each at most once, before Start().
  void Connect(const Endpoint& ep, std::chrono::milliseconds timeout, Done done);
  void Accepted(std::chrono::milliseconds timeout, Done done);

  void Start(OnMessage on_message, OnClose on_close) override;
  void Send(std::vector<uint8_t> msg) override;
  void Close() override;
  std::string peer() const override { return peer_; }
  size_t queued_bytes() const override { return queued_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kHeaderLen = 8;
  // Room for the largest message (65535) after any partial one.
  static constexpr size_t kReadBufferSize = 128 * 1024;
  static constexpr size_t kMaxGather = 64;                // buffers per async_write
  static constexpr size_t kMaxWriteBytes = 256 * 1024;    // bytes per async_write
  static constexpr size_t kTlsCoalesceBytes = 64 * 1024;  // TLS: bytes per async_write

  asio::any_io_executor executor() { return socket_.get_executor(); }
  void ArmSetupDeadline(std::chrono::milliseconds timeout, Done done);
  void Handshake(asio::ssl::stream_base::handshake_type type);
  void FinishSetup(boost::system::error_code ec);
  void DoRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  std::string ReadErrorReason(const boost::system::error_code& ec) const;
  void Enqueue(std::vector<uint8_t> msg);
  void DoWrite();
  void OnWrite(const boost::system::error_code& ec);
  void BeginClose(std::string reason);
  void Shutdown(std::string reason);

  Socket socket_;
  asio::steady_timer timer_;  // strand: the setup deadline, then the close flush deadline
  const std::string peer_;
  const size_t max_queued_;
  const std::shared_ptr<asio::ssl::context> tls_;

  // Written by any thread (Send, Close), read by any thread.
  std::atomic<size_t> queued_{0};
  std::atomic<bool> close_requested_{false};  // no more Sends accepted, no more deliveries

  // Strand only.
  Done setup_done_;
  bool establishing_ = false;
  bool timed_out_ = false;
  bool started_ = false;
  bool closing_ = false;  // flushing before Shutdown
  bool closed_ = false;
  bool received_any_ = false;
  std::string closing_reason_;
  std::string close_reason_;  // kept for a Start() that comes after the close
  OnMessage on_message_;
  OnClose on_close_;
  std::vector<uint8_t> rbuf_;
  size_t rlen_ = 0;  // bytes of rbuf_ in use, from 0 (a partial message is kept at the front)
  std::deque<std::vector<uint8_t>> wq_;
  bool writing_ = false;
  size_t inflight_count_ = 0;  // plain sockets: wq_ entries being written
  size_t inflight_bytes_ = 0;
  std::vector<asio::const_buffer> gather_;
  std::vector<uint8_t> tls_out_;
};

extern template class StreamImpl<TcpSocket>;
extern template class StreamImpl<TlsSocket>;
extern template class StreamImpl<UnixSocket>;

}  // namespace sluice::ctl::internal
