#include "offload/eswitch_devices.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

namespace sluice::offload {
namespace {

bool ParseUint(const std::string& s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

bool ParseBool(const std::string& s, bool* out) {
  if (s == "1" || s == "true" || s == "yes")
    *out = true;
  else if (s == "0" || s == "false" || s == "no")
    *out = false;
  else
    return false;
  return true;
}

// "vf3" -> single 3; "vf[0-3]" -> range 0..3.
bool ParseRepresentor(const std::string& s, bool* single, uint16_t* first, uint16_t* last) {
  if (s.rfind("vf", 0) != 0) return false;
  std::string r = s.substr(2);
  uint64_t a = 0, b = 0;
  if (!r.empty() && r.front() == '[' && r.back() == ']') {
    r = r.substr(1, r.size() - 2);
    size_t dash = r.find('-');
    if (dash == std::string::npos) {
      if (!ParseUint(r, 4095, &a)) return false;
      b = a;
    } else if (!ParseUint(r.substr(0, dash), 4095, &a) ||
               !ParseUint(r.substr(dash + 1), 4095, &b) || b < a) {
      return false;
    }
    *single = false;
  } else {
    if (!ParseUint(r, 4095, &a)) return false;
    b = a;
    *single = true;
  }
  *first = static_cast<uint16_t>(a);
  *last = static_cast<uint16_t>(b);
  return true;
}

}  // namespace

bool IsEswitchDevargs(const std::string& devargs) {
  return devargs.rfind(kEswitchDevicePrefix, 0) == 0;
}

Status ParseEswitchDevargs(const std::string& devargs, EswitchDevargs* out) {
  EswitchDevargs a;
  size_t comma = devargs.find(',');
  a.device = devargs.substr(0, comma);
  const std::string prefix = kEswitchDevicePrefix;
  uint64_t n = 0;
  if (a.device.size() <= prefix.size() || a.device.rfind(prefix, 0) != 0 ||
      !ParseUint(a.device.substr(prefix.size()), 999, &n)) {
    return Status::Errorf("eswitch devargs '{}': the device must be named {}<N> (N 0..999)",
                          devargs, prefix);
  }
  bool have_vfs = false;
  while (comma != std::string::npos) {
    size_t next = devargs.find(',', comma + 1);
    std::string kv =
        devargs.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1);
    comma = next;
    size_t eq = kv.find('=');
    if (eq == std::string::npos)
      return Status::Errorf("eswitch devargs '{}': '{}' is not key=value", devargs, kv);
    std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    uint64_t v = 0;
    if (key == "representor") {
      bool single = false;
      uint16_t first = 0, last = 0;
      if (!ParseRepresentor(value, &single, &first, &last)) {
        return Status::Errorf(
            "eswitch devargs '{}': representor must be vf<K> or vf[A-B], not '{}'", devargs, value);
      }
      if (single) {
        a.representor = true;
        a.vf = first;
      } else if (!have_vfs) {
        a.n_vfs = static_cast<uint16_t>(last + 1);
        have_vfs = true;
      }
    } else if (key == "vfs") {
      if (!ParseUint(value, 4096, &v) || v == 0)
        return Status::Errorf("eswitch devargs '{}': vfs must be 1..4096, not '{}'", devargs,
                              value);
      a.n_vfs = static_cast<uint16_t>(v);
      have_vfs = true;
    } else if (key == "unified") {
      if (!ParseBool(value, &a.unified))
        return Status::Errorf("eswitch devargs '{}': unified must be 0 or 1, not '{}'", devargs,
                              value);
    } else if (key == "wire") {
      if (value != "none" && value != "tap")
        return Status::Errorf("eswitch devargs '{}': wire must be none or tap, not '{}'", devargs,
                              value);
      a.wire_tap = value == "tap";
    } else if (key == "wire-prefix") {
      if (value.empty() || value.size() > 10 || value.find_first_of("/ \t") != std::string::npos)
        return Status::Errorf(
            "eswitch devargs '{}': wire-prefix must be 1..10 characters, no '/' or blanks",
            devargs);
      a.wire_prefix = value;
    } else if (key == "max-rules") {
      if (!ParseUint(value, 1u << 24, &v) || v == 0)
        return Status::Errorf("eswitch devargs '{}': max-rules must be 1..16777216, not '{}'",
                              devargs, value);
      a.max_rules = static_cast<uint32_t>(v);
    } else {
      return Status::Errorf("eswitch devargs '{}': unknown key '{}'", devargs, key);
    }
  }
  if (!a.representor && a.n_vfs == 0) {
    return Status::Errorf("eswitch devargs '{}': a PF port needs representor=vf[A-B] or vfs=N",
                          devargs);
  }
  if (a.representor && (a.unified || a.wire_tap || !a.wire_prefix.empty() || have_vfs)) {
    return Status::Errorf(
        "eswitch devargs '{}': a representor port takes no device settings "
        "(they belong on the PF port)",
        devargs);
  }
  if (a.wire_prefix.empty()) a.wire_prefix = "esw" + std::to_string(n);
  *out = a;
  return Status::Ok();
}

EswitchDevices::EswitchDevices(rte_mempool* pool) : pool_(pool) {}

EswitchDevices::~EswitchDevices() {
  std::lock_guard lock(mu_);
  while (!devices_.empty()) DestroyLocked(devices_.begin());
}

Status EswitchDevices::Prepare(const std::string& devargs, dp::PortConfig* config) {
  EswitchDevargs a;
  SLUICE_RETURN_IF_ERROR(ParseEswitchDevargs(devargs, &a));
  std::lock_guard lock(mu_);
  auto it = devices_.find(a.device);
  if (!a.representor) {
    if (it != devices_.end()) {
      return Status::Errorf("port {}: {} already has its PF port {}", config->name, a.device,
                            it->second->pf_port);
    }
    EswitchConfig ec;
    ec.n_vfs = a.n_vfs;
    ec.unified = a.unified;
    ec.max_rules = a.max_rules;
    ec.outside_ethdevs = false;  // the outside is the wire (taps) or plain rings
    ec.start_ethdevs = false;    // DpdkPort configures the Sluice-side ethdevs
    ec.pool = pool_;
    ec.domain_id = static_cast<uint32_t>(
        std::stoul(a.device.substr(std::string(kEswitchDevicePrefix).size())) + 1);
    if (a.wire_tap) {
      ec.wire_devargs.resize(1 + a.n_vfs);
      for (uint16_t v = 0; v <= a.n_vfs; ++v) {
        std::string iface =
            v == 0 ? a.wire_prefix + "u" : a.wire_prefix + "v" + std::to_string(v - 1);
        // Short vdev names: net_tap names its GSO mempool after the device,
        // and mempool names are limited to 25 characters.
        ec.wire_devargs[v] = fmt::format("net_tap_x{}_{},iface={}", ec.domain_id - 1, v, iface);
      }
    }
    Status st;
    auto esw = Eswitch::Create(ec, &st);
    if (!esw) return Status::Errorf("port {}: {}", config->name, st.message());
    auto dev = std::make_unique<Device>();
    dev->args = a;
    dev->pf_port = config->name;
    dev->esw = std::move(esw);
    Device* d = dev.get();
    d->poller = std::thread([d] {
      uint32_t idle = 0;
      while (!d->stop.load(std::memory_order_relaxed)) {
        if (d->esw->Poll() != 0) {
          idle = 0;
        } else if (++idle > 64) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
      }
    });
    config->devargs = d->esw->devargs(d->esw->proxy_port_id());
    config->rx_metadata = true;
    d->ports[config->name] = 0;
    port_device_[config->name] = a.device;
    it = devices_.emplace(a.device, std::move(dev)).first;
    spdlog::info("eswitch {}: {} VF(s), {} mode, wire {}", a.device, a.n_vfs,
                 a.unified ? "unified" : "per-representor",
                 a.wire_tap ? "tap (" + a.wire_prefix + "*)" : "rings");
    if (on_create_) on_create_(d->esw.get());
    return Status::Ok();
  }
  if (it == devices_.end() || it->second->pf_port_no == 0) {
    return Status::Errorf(
        "port {}: {} has no PF port yet (add the port whose devargs create it first)", config->name,
        a.device);
  }
  Device& d = *it->second;
  if (a.vf >= d.args.n_vfs) {
    return Status::Errorf("port {}: {} has VFs 0..{}, not vf{}", config->name, a.device,
                          d.args.n_vfs - 1, a.vf);
  }
  auto taken = d.vf_ports.find(a.vf);
  if (taken != d.vf_ports.end() && taken->second != config->name) {
    return Status::Errorf("port {}: vf{} of {} is already port {}", config->name, a.vf, a.device,
                          taken->second);
  }
  const uint16_t vport = Eswitch::VfVport(a.vf);
  config->rx_metadata = true;
  if (d.args.unified) {
    config->devargs = d.esw->devargs(d.esw->proxy_port_id());
    config->unified_proxy = d.pf_port_no;
    config->unified_source_id = d.esw->flow_port_id(vport);
  } else {
    config->devargs = d.esw->devargs(d.esw->representor_port_id(vport));
  }
  d.ports[config->name] = 0;
  d.vf_ports[a.vf] = config->name;
  port_device_[config->name] = a.device;
  return Status::Ok();
}

void EswitchDevices::Added(const std::string& port_name, uint32_t port_no) {
  std::lock_guard lock(mu_);
  auto pd = port_device_.find(port_name);
  if (pd == port_device_.end()) return;
  Device& d = *devices_.at(pd->second);
  d.ports[port_name] = port_no;
  if (port_name == d.pf_port) d.pf_port_no = port_no;
}

void EswitchDevices::Removed(const std::string& port_name) {
  std::lock_guard lock(mu_);
  auto pd = port_device_.find(port_name);
  if (pd == port_device_.end()) return;
  auto it = devices_.find(pd->second);
  port_device_.erase(pd);
  Device& d = *it->second;
  d.ports.erase(port_name);
  for (auto v = d.vf_ports.begin(); v != d.vf_ports.end();) {
    v = v->second == port_name ? d.vf_ports.erase(v) : std::next(v);
  }
  if (port_name == d.pf_port) d.pf_port_no = 0;
  if (d.ports.empty()) DestroyLocked(it);
}

void EswitchDevices::DestroyLocked(std::map<std::string, std::unique_ptr<Device>>::iterator it) {
  Device& d = *it->second;
  d.stop.store(true);
  if (d.poller.joinable()) d.poller.join();
  if (on_destroy_) on_destroy_(d.esw.get());
  for (const auto& [name, no] : d.ports) {
    (void)no;
    port_device_.erase(name);
  }
  spdlog::info("eswitch {} destroyed", it->first);
  devices_.erase(it);
}

std::vector<std::string> EswitchDevices::DevicePorts(const std::string& port_name) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto pd = port_device_.find(port_name);
  if (pd == port_device_.end()) return out;
  const Device& d = *devices_.at(pd->second);
  out.push_back(d.pf_port);
  for (const auto& [name, no] : d.ports) {
    (void)no;
    if (name != d.pf_port) out.push_back(name);
  }
  return out;
}

bool EswitchDevices::IsPf(const std::string& port_name) const {
  std::lock_guard lock(mu_);
  auto pd = port_device_.find(port_name);
  return pd != port_device_.end() && devices_.at(pd->second)->pf_port == port_name;
}

void EswitchDevices::SetListener(std::function<void(Eswitch*)> on_create,
                                 std::function<void(Eswitch*)> on_destroy) {
  std::lock_guard lock(mu_);
  on_create_ = std::move(on_create);
  on_destroy_ = std::move(on_destroy);
  if (on_create_) {
    for (auto& [name, d] : devices_) on_create_(d->esw.get());
  }
}

std::vector<EswitchDevices::DeviceInfo> EswitchDevices::Describe() const {
  std::lock_guard lock(mu_);
  std::vector<DeviceInfo> out;
  for (const auto& [name, d] : devices_) {
    DeviceInfo i;
    i.device = name;
    i.n_vfs = d->args.n_vfs;
    i.unified = d->args.unified;
    i.rules = d->esw->rule_count();
    i.stats = d->esw->stats();
    i.ports.push_back(d->pf_port);
    for (const auto& [p, no] : d->ports) {
      (void)no;
      if (p != d->pf_port) i.ports.push_back(p);
    }
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace sluice::offload
