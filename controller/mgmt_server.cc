#include "controller/mgmt_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdlib>

namespace sluice::ctl {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;

std::string RunDir() {
  const char* d = std::getenv("SLUICE_RUNDIR");
  return d && *d ? d : "/run/sluice";
}

struct MgmtServer::Impl {
  asio::io_context io;
  std::unique_ptr<Local::acceptor> acceptor;
};

namespace {

// One client connection: reads lines, answers each.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Local::socket socket, MgmtServer* server) : socket_(std::move(socket)), server_(server) {}
  void Start() { Read(); }

 private:
  void Read() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, asio::dynamic_buffer(in_, MgmtServer::kMaxLine), '\n',
                           [this, self](boost::system::error_code ec, size_t n) {
                             if (ec == asio::error::not_found) {
                               // Line too long: say so, drop what we have, go on.
                               in_.clear();
                               Write(nlohmann::json{{"id", nullptr}, {"error", "request line too long"}}.dump() + "\n");
                               return;
                             }
                             if (ec) return;  // closed or broken: drop the session
                             std::string line = in_.substr(0, n - 1);
                             in_.erase(0, n);
                             Write(server_->HandleLine(line) + "\n");
                           });
  }
  void Write(std::string reply) {
    auto self = shared_from_this();
    out_ = std::move(reply);
    asio::async_write(socket_, asio::buffer(out_), [this, self](boost::system::error_code ec, size_t) {
      if (!ec) Read();
    });
  }

  Local::socket socket_;
  MgmtServer* server_;
  std::string in_, out_;
};

void Accept(Local::acceptor* acceptor, MgmtServer* server) {
  acceptor->async_accept([acceptor, server](boost::system::error_code ec, Local::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), server)->Start();
    Accept(acceptor, server);
  });
}

}  // namespace

MgmtServer::MgmtServer() : impl_(std::make_unique<Impl>()) {
  Register("help", "list the commands", [this](const std::vector<std::string>&) {
    MgmtReply r;
    r.json = nlohmann::json::object();
    for (const auto& [name, e] : handlers_) {
      r.text += name + ": " + e.help + "\n";
      r.json[name] = e.help;
    }
    return r;
  });
}

MgmtServer::~MgmtServer() { Stop(); }

void MgmtServer::Register(const std::string& method, std::string help, MgmtHandler handler) {
  handlers_[method] = Entry{std::move(help), std::move(handler)};
}

std::string MgmtServer::HandleLine(const std::string& line) {
  nlohmann::json req = nlohmann::json::parse(line, nullptr, false);
  nlohmann::json id = nullptr;
  auto fail = [&](const std::string& why) { return nlohmann::json{{"id", id}, {"error", why}}.dump(); };
  if (req.is_discarded() || !req.is_object()) return fail("request is not a JSON object");
  if (req.contains("id")) id = req["id"];
  if (!req.contains("method") || !req["method"].is_string()) return fail("request has no \"method\" string");
  std::vector<std::string> params;
  if (req.contains("params")) {
    if (!req["params"].is_array()) return fail("\"params\" must be an array of strings");
    for (const auto& p : req["params"]) {
      if (!p.is_string()) return fail("\"params\" must be an array of strings");
      params.push_back(p.get<std::string>());
    }
  }
  std::string method = req["method"].get<std::string>();
  auto it = handlers_.find(method);
  if (it == handlers_.end()) return fail("unknown command '" + method + "' (try 'help')");
  MgmtReply r;
  try {
    r = it->second.handler(params);
  } catch (const std::exception& e) {
    return fail(method + ": " + e.what());
  }
  if (!r.error.empty()) return fail(r.error);
  return nlohmann::json{{"id", id}, {"result", {{"text", r.text}, {"json", r.json}}}}.dump();
}

Status MgmtServer::Start(const std::string& path) {
  path_ = path;
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) mkdir(dir.c_str(), 0755);
  ::unlink(path.c_str());
  boost::system::error_code ec;
  auto acceptor = std::make_unique<Local::acceptor>(impl_->io);
  acceptor->open(Local(), ec);
  if (!ec) acceptor->bind(Local::endpoint(path), ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Errorf("management socket {}: {}", path, ec.message());
  impl_->acceptor = std::move(acceptor);
  Accept(impl_->acceptor.get(), this);
  thread_ = std::thread([this] { impl_->io.run(); });
  spdlog::info("management socket at {}", path);
  return Status::Ok();
}

void MgmtServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->io.stop();
  thread_.join();
  impl_->acceptor.reset();
  ::unlink(path_.c_str());
}

}  // namespace sluice::ctl
