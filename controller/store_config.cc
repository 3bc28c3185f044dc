// The config store's rows as the switch's configuration, and the runtime
// columns written back. See store_config.h.
#include "controller/store_config.h"

#include <algorithm>

namespace sluice::ctl {

using db::Json;

namespace {

// RFC 7047 datums: an atom, ["set", [atoms]], ["map", [[k, v]...]],
// ["uuid", "..."].
std::vector<Json> SetElems(const Json& d) {
  if (d.is_array() && d.size() == 2 && d[0] == "set") return d[1].get<std::vector<Json>>();
  return {d};
}

std::string UuidOf(const Json& atom) {
  if (atom.is_array() && atom.size() == 2 && atom[0] == "uuid" && atom[1].is_string()) {
    return atom[1].get<std::string>();
  }
  return "";
}

std::vector<std::string> Uuids(const Json& row, const char* column) {
  std::vector<std::string> out;
  if (!row.contains(column)) return out;
  for (const auto& e : SetElems(row[column])) {
    std::string u = UuidOf(e);
    if (!u.empty()) out.push_back(u);
  }
  return out;
}

std::map<std::string, std::string> MapOf(const Json& row, const char* column) {
  std::map<std::string, std::string> out;
  if (!row.contains(column)) return out;
  const Json& d = row[column];
  if (!(d.is_array() && d.size() == 2 && d[0] == "map")) return out;
  for (const auto& kv : d[1]) {
    if (kv.is_array() && kv.size() == 2 && kv[0].is_string() && kv[1].is_string()) {
      out[kv[0].get<std::string>()] = kv[1].get<std::string>();
    }
  }
  return out;
}

// A column holding 0 or 1 atom of the given JSON kind.
template <class T>
std::optional<T> Optional(const Json& row, const char* column) {
  if (!row.contains(column)) return std::nullopt;
  const Json& d = row[column];
  if (d.is_array()) {
    auto elems = SetElems(d);
    if (elems.size() != 1 || elems[0].is_array()) return std::nullopt;
    return elems[0].get<T>();
  }
  return d.get<T>();
}

std::string String(const Json& row, const char* column) {
  return Optional<std::string>(row, column).value_or("");
}

const Json* Row(const db::Replica::Tables& t, const std::string& table, const std::string& uuid) {
  auto it = t.find(table);
  if (it == t.end()) return nullptr;
  auto r = it->second.find(uuid);
  return r == it->second.end() ? nullptr : &r->second;
}

Json UpdateOp(const std::string& table, const std::string& uuid, Json row) {
  return Json{{"op", "update"},
              {"table", table},
              {"where", Json::array({Json::array({"_uuid", "==", Json::array({"uuid", uuid})})})},
              {"row", std::move(row)}};
}

}  // namespace

StoreConfig ParseStoreConfig(const db::Replica::Tables& tables) {
  StoreConfig c;
  auto root = tables.find("Open_vSwitch");
  if (root == tables.end() || root->second.empty()) return c;
  const auto& [root_uuid, r] = *root->second.begin();
  c.root_uuid = root_uuid;
  c.next_cfg = Optional<int64_t>(r, "next_cfg").value_or(0);
  auto oc = MapOf(r, "other_config");
  c.pmd_cpu_mask = oc.count("pmd-cpu-mask") ? oc["pmd-cpu-mask"] : "";
  c.dpdk_extra = oc.count("dpdk-extra") ? oc["dpdk-extra"] : "";
  c.vhost_sock_dir = oc.count("vhost-sock-dir") ? oc["vhost-sock-dir"] : "";
  c.vhost_sock_mode = oc.count("vhost-sock-mode") ? oc["vhost-sock-mode"] : "";
  c.other_config = oc;
  for (const auto& bu : Uuids(r, "bridges")) {
    const Json* b = Row(tables, "Bridge", bu);
    if (!b) continue;
    StoreBridge sb;
    sb.uuid = bu;
    sb.name = String(*b, "name");
    std::string fm = String(*b, "fail_mode");
    if (!fm.empty()) sb.fail_mode = fm;
    for (const auto& cu : Uuids(*b, "controller")) {
      const Json* ctrl = Row(tables, "Controller", cu);
      if (!ctrl) continue;
      ControllerConfig cc;
      cc.target = String(*ctrl, "target");
      if (auto p = Optional<int64_t>(*ctrl, "inactivity_probe")) cc.inactivity_probe_ms = static_cast<uint32_t>(*p);
      if (auto m = Optional<int64_t>(*ctrl, "max_backoff")) cc.max_backoff_ms = static_cast<uint32_t>(*m);
      sb.controller_uuids[cc.target] = cu;
      sb.controllers.push_back(cc);
    }
    for (const auto& pu : Uuids(*b, "ports")) {
      const Json* p = Row(tables, "Port", pu);
      if (!p) continue;
      uint16_t tag = static_cast<uint16_t>(Optional<int64_t>(*p, "tag").value_or(0));
      std::vector<uint16_t> trunks;
      if (p->contains("trunks")) {
        for (const auto& t : SetElems((*p)["trunks"])) {
          if (t.is_number_integer()) trunks.push_back(static_cast<uint16_t>(t.get<int64_t>()));
        }
      }
      for (const auto& iu : Uuids(*p, "interfaces")) {
        const Json* i = Row(tables, "Interface", iu);
        if (!i) continue;
        StoreInterface si;
        si.uuid = iu;
        si.port_uuid = pu;
        si.name = String(*i, "name");
        si.type = String(*i, "type");
        auto opts = MapOf(*i, "options");
        si.devargs = opts.count("dpdk-devargs") ? opts["dpdk-devargs"] : "";
        si.options = std::move(opts);
        si.ofport_request = static_cast<uint32_t>(Optional<int64_t>(*i, "ofport_request").value_or(0));
        si.mtu_request = static_cast<uint32_t>(Optional<int64_t>(*i, "mtu_request").value_or(0));
        si.tag = tag;
        si.trunks = trunks;
        sb.interfaces.push_back(std::move(si));
      }
    }
    std::sort(sb.interfaces.begin(), sb.interfaces.end(),
              [](const StoreInterface& a, const StoreInterface& b) { return a.name < b.name; });
    c.bridges.push_back(std::move(sb));
  }
  std::sort(c.bridges.begin(), c.bridges.end(),
            [](const StoreBridge& a, const StoreBridge& b) { return a.name < b.name; });
  return c;
}

Json RuntimeWriter::Update(const std::map<std::string, InterfaceState>& interfaces,
                           const std::map<std::string, ControllerState>& controllers,
                           const std::string& root_uuid, std::optional<int64_t> cur_cfg) {
  Json ops = Json::array();
  auto emit = [&](const std::string& table, const std::string& uuid, Json row) {
    std::string key = table + "/" + uuid;
    auto it = written_.find(key);
    if (it != written_.end() && it->second == row) return;
    written_[key] = row;
    ops.push_back(UpdateOp(table, uuid, std::move(row)));
  };
  for (const auto& [uuid, s] : interfaces) {
    Json row;
    row["ofport"] = s.ofport ? Json(static_cast<int64_t>(*s.ofport)) : Json::array({"set", Json::array()});
    row["mtu"] = s.ofport && s.mtu ? Json(static_cast<int64_t>(s.mtu)) : Json::array({"set", Json::array()});
    row["link_state"] = s.ofport ? Json(s.link_up ? "up" : "down") : Json::array({"set", Json::array()});
    row["error"] = s.error.empty() ? Json::array({"set", Json::array()}) : Json(s.error);
    Json stats = Json::array();
    for (const auto& [k, v] : s.statistics) stats.push_back(Json::array({k, v}));
    row["statistics"] = Json::array({"map", stats});
    emit("Interface", uuid, std::move(row));
  }
  for (const auto& [uuid, s] : controllers) {
    Json row;
    row["is_connected"] = s.connected;
    row["role"] = s.role.empty() ? Json::array({"set", Json::array()}) : Json(s.role);
    emit("Controller", uuid, std::move(row));
  }
  if (cur_cfg && !root_uuid.empty()) emit("Open_vSwitch", root_uuid, Json{{"cur_cfg", *cur_cfg}});
  return ops;
}

void RuntimeWriter::Reset() { written_.clear(); }

}  // namespace sluice::ctl
