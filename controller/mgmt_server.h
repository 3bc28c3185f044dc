#pragma once
// What: the switch's management socket (ovs-appctl's unixctl, in spirit):
// a unix-domain stream socket at $SLUICE_RUNDIR/sluice-switchd.ctl on which
// `sluicectl` asks for runtime views (pmd-stats, dump-flows, ...).
//
// Design: newline-delimited JSON. A request is {"id":N,"method":"name",
// "params":[strings]}; the reply is {"id":N,"result":{"text":"...",
// "json":...}} or {"id":N,"error":"one line"}. Handlers are registered by
// name before Start(); they run on the server's own thread (Boost.Asio
// io_context), one request at a time, so they must not block for long.
// A request line over kMaxLine bytes, or that is not JSON of that shape,
// gets an error reply; the connection stays usable. A client that vanishes
// costs nothing but its socket.
//
// Thread-safety: Register() before Start(); Start()/Stop() from one thread.

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "datapath/util/status.h"

namespace sluice::ctl {

struct MgmtReply {
  std::string text;       // what sluicectl prints by default
  nlohmann::json json;    // what it prints with --format=json
  std::string error;      // non-empty: the request failed
};

using MgmtHandler = std::function<MgmtReply(const std::vector<std::string>& params)>;

class MgmtServer {
 public:
  static constexpr size_t kMaxLine = 1 << 20;

  MgmtServer();
  ~MgmtServer();

  void Register(const std::string& method, std::string help, MgmtHandler handler);
  Status Start(const std::string& path);
  void Stop();
  const std::string& path() const { return path_; }

  // Handles one request line (also used by tests without a socket).
  std::string HandleLine(const std::string& line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  struct Entry {
    std::string help;
    MgmtHandler handler;
  };
  std::map<std::string, Entry> handlers_;
  std::string path_;
  std::thread thread_;
};

// $SLUICE_RUNDIR, else /run/sluice.
std::string RunDir();

}  // namespace sluice::ctl
