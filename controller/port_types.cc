#include "controller/port_types.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace sluice::ctl {
namespace {

const std::string* Option(const PortTypeRequest& r, const char* key) {
  auto it = r.options.find(key);
  return it == r.options.end() ? nullptr : &it->second;
}

// An unsigned decimal in [lo, hi] into *out.
bool ParseRange(const std::string& s, unsigned lo, unsigned hi, unsigned* out) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

bool ParseBool(const std::string& s, bool* out) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") {
    *out = true;
  } else if (s == "false" || s == "0" || s == "no" || s == "off") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// options:n_rxq (Open vSwitch's name) or options:queues; both must agree.
Status QueueCount(const PortTypeRequest& r, unsigned hi, unsigned* out) {
  const std::string* n_rxq = Option(r, "n_rxq");
  const std::string* queues = Option(r, "queues");
  if (n_rxq && queues && *n_rxq != *queues) {
    return Status::Errorf("interface {}: options:n_rxq={} and options:queues={} disagree", r.name,
                          *n_rxq, *queues);
  }
  const std::string* v = n_rxq ? n_rxq : queues;
  if (v == nullptr) return Status::Ok();
  if (!ParseRange(*v, 1, hi, out)) {
    return Status::Errorf("interface {}: options:{}={} is not a queue count from 1 to {}", r.name,
                          n_rxq ? "n_rxq" : "queues", *v, hi);
  }
  return Status::Ok();
}

Status SocketPath(const PortTypeRequest& r, const std::string& path, const char* what) {
  if (path.empty() || path[0] != '/') {
    return Status::Errorf("interface {}: {} '{}' is not an absolute path", r.name, what, path);
  }
  if (path.find_first_of(",=") != std::string::npos) {
    return Status::Errorf(
        "interface {}: {} '{}' contains ',' or '=', which DPDK devargs cannot carry", r.name, what,
        path);
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::Errorf(
        "interface {}: {} '{}' is longer than a unix socket path may be ({} bytes)", r.name, what,
        path, sizeof(sockaddr_un::sun_path) - 1);
  }
  return Status::Ok();
}

Status VhostSpec(const PortTypeRequest& r, bool server, PortSpec* out) {
  if (Option(r, "dpdk-devargs")) {
    return Status::Errorf(
        "interface {}: type {} takes no options:dpdk-devargs (the socket names the "
        "device)",
        r.name, r.type);
  }
  PortSpec s;
  s.vhost = true;
  s.vhost_server = server;
  if (server) {
    if (Option(r, "vhost-server-path")) {
      return Status::Errorf(
          "interface {}: options:vhost-server-path is for type dpdkvhostuserclient; "
          "a dpdkvhostuser socket is <vhost-sock-dir>/{}",
          r.name, r.name);
    }
    if (r.name.empty() || r.name.find('/') != std::string::npos || r.name == "." ||
        r.name == "..") {
      return Status::Errorf(
          "interface '{}': a dpdkvhostuser interface's name is its socket's file "
          "name and cannot contain '/'",
          r.name);
    }
    std::filesystem::path dir = r.vhost_sock_dir.empty() ? std::filesystem::path(r.run_dir)
                                                         : std::filesystem::path(r.vhost_sock_dir);
    if (dir.is_relative()) dir = std::filesystem::path(r.run_dir) / dir;
    s.vhost_socket = (dir / r.name).lexically_normal().string();
    SLUICE_RETURN_IF_ERROR(SocketPath(r, s.vhost_socket, "socket"));
    if (!r.vhost_sock_mode.empty()) {
      unsigned mode = 0;
      const std::string& m = r.vhost_sock_mode;
      auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), mode, 8);
      if (ec != std::errc() || end != m.data() + m.size() || mode > 0777) {
        return Status::Errorf(
            "other_config:vhost-sock-mode={} is not an octal file mode (e.g. 0660)", m);
      }
      s.vhost_sock_mode = mode;
    }
  } else {
    const std::string* path = Option(r, "vhost-server-path");
    if (path == nullptr || path->empty()) {
      return Status::Errorf(
          "interface {}: type dpdkvhostuserclient needs options:vhost-server-path "
          "(the socket the VM serves)",
          r.name);
    }
    s.vhost_socket = *path;
    SLUICE_RETURN_IF_ERROR(SocketPath(r, s.vhost_socket, "options:vhost-server-path"));
  }
  unsigned queues = 1;
  SLUICE_RETURN_IF_ERROR(QueueCount(r, kMaxVhostQueuePairs, &queues));
  s.n_rxq = static_cast<uint16_t>(queues);
  bool tso = false;
  if (const std::string* v = Option(r, "tso"); v && !ParseBool(*v, &tso)) {
    return Status::Errorf("interface {}: options:tso={} is not true or false", r.name, *v);
  }
  if (const std::string* v = Option(r, "tx-retries-max")) {
    unsigned retries = 0;
    if (!ParseRange(*v, 0, 32, &retries)) {
      return Status::Errorf("interface {}: options:tx-retries-max={} is not a number from 0 to 32",
                            r.name, *v);
    }
    s.tx_retries = static_cast<int>(retries);
  }
  s.devargs = "net_vhost" + std::to_string(r.index) + ",iface=" + s.vhost_socket +
              ",queues=" + std::to_string(queues) + ",client=" + (server ? "0" : "1") +
              ",tso=" + (tso ? "1" : "0");
  *out = std::move(s);
  return Status::Ok();
}

}  // namespace

Status InterfacePortSpec(const PortTypeRequest& r, PortSpec* spec) {
  if (r.type == "dpdkvhostuser") return VhostSpec(r, true, spec);
  if (r.type == "dpdkvhostuserclient") return VhostSpec(r, false, spec);
  if (r.type == "dpdk") {
    const std::string* devargs = Option(r, "dpdk-devargs");
    if (devargs == nullptr || devargs->empty()) {
      return Status::Errorf(
          "interface {}: type dpdk needs options:dpdk-devargs (e.g. a PCI address, "
          "or net_pcap0,rx_pcap=in.pcap)",
          r.name);
    }
    PortSpec s;
    unsigned n_rxq = 0;
    SLUICE_RETURN_IF_ERROR(QueueCount(r, 1024, &n_rxq));
    s.n_rxq = static_cast<uint16_t>(n_rxq);
    s.devargs = *devargs;
    *spec = std::move(s);
    return Status::Ok();
  }
  if (r.type == "internal") {
    return Status::Errorf(
        "interface {}: internal ports are not supported yet (Sluice bridges have no "
        "local port)",
        r.name);
  }
  if (r.type.empty() || r.type == "system") {
    return Status::Errorf(
        "interface {}: type \"{}\" (a kernel interface) is not supported: use type=dpdk "
        "with options:dpdk-devargs (e.g. net_af_packet0,iface={})",
        r.name, r.type, r.name);
  }
  return Status::Errorf(
      "interface {}: type {} is not supported (supported: dpdk, dpdkvhostuser, "
      "dpdkvhostuserclient)",
      r.name, r.type);
}

Status InterfaceDevargs(const PortTypeRequest& request, std::string* devargs) {
  PortSpec spec;
  SLUICE_RETURN_IF_ERROR(InterfacePortSpec(request, &spec));
  *devargs = spec.devargs;
  return Status::Ok();
}

Status PrepareVhostSocket(const PortSpec& spec) {
  if (!spec.vhost || !spec.vhost_server) return Status::Ok();
  std::filesystem::path path(spec.vhost_socket);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return Status::Errorf("cannot create the vhost socket directory {}: {}",
                          path.parent_path().string(), ec.message());
  }
  struct stat st;
  if (lstat(spec.vhost_socket.c_str(), &st) != 0) return Status::Ok();  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Errorf(
        "{} exists and is not a socket: not replacing it with a vhost-user socket",
        spec.vhost_socket);
  }
  if (unlink(spec.vhost_socket.c_str()) != 0) {
    return Status::Errorf("cannot remove the stale socket {}: {}", spec.vhost_socket,
                          strerror(errno));
  }
  return Status::Ok();
}

Status FinishVhostSocket(const PortSpec& spec) {
  if (!spec.vhost || !spec.vhost_server) return Status::Ok();
  if (chmod(spec.vhost_socket.c_str(), static_cast<mode_t>(spec.vhost_sock_mode)) != 0) {
    return Status::Errorf("cannot set mode {:04o} on {}: {}", spec.vhost_sock_mode,
                          spec.vhost_socket, strerror(errno));
  }
  return Status::Ok();
}

}  // namespace sluice::ctl
