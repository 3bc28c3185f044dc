#include "controller/mgmt_client.h"

#include <boost/asio.hpp>
#include <chrono>

namespace sluice::ctl {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;

std::string DefaultCtlPath() { return RunDir() + "/sluice-switchd.ctl"; }

Status MgmtCall(const std::string& path, const std::string& method,
                const std::vector<std::string>& params, double timeout_s, MgmtReply* reply) {
  asio::io_context io;
  Local::socket socket(io);
  boost::system::error_code ec;
  socket.connect(Local::endpoint(path), ec);
  if (ec) {
    return Status::Errorf("cannot reach sluice-switchd at {}: {} (is it running? --ctl sets the path)",
                          path, ec.message());
  }
  std::string request = nlohmann::json{{"id", 1}, {"method", method}, {"params", params}}.dump() + "\n";
  std::string response;
  bool done = false;
  asio::async_write(socket, asio::buffer(request), [&](boost::system::error_code wec, size_t) {
    if (wec) {
      ec = wec;
      done = true;
      return;
    }
    asio::async_read_until(socket, asio::dynamic_buffer(response), '\n',
                           [&](boost::system::error_code rec, size_t) {
                             ec = rec;
                             done = true;
                           });
  });
  io.run_for(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  if (!done) return Status::Errorf("sluice-switchd did not answer '{}' within {} s", method, timeout_s);
  if (ec) return Status::Errorf("talking to sluice-switchd: {}", ec.message());
  nlohmann::json j = nlohmann::json::parse(response, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("sluice-switchd sent a malformed reply");
  if (j.contains("error")) return Status::Error(j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump());
  if (!j.contains("result")) return Status::Error("sluice-switchd sent a reply without a result");
  const auto& r = j["result"];
  reply->text = r.value("text", "");
  reply->json = r.contains("json") ? r["json"] : nlohmann::json();
  return Status::Ok();
}

}  // namespace sluice::ctl
