// sluicectl's commands on the Open_vSwitch record, bridges, ports,
// interfaces, controllers, fail mode and managers, and show: ovs-vsctl's
// syntax and output. See vsctl.h for the design, vsctl_internal.h for the
// Context they run in.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/vsctl_internal.h"
#include "controller/vsctl_value.h"
#include "datapath/util/status.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl::vsctl_detail {

// The local port of a bridge is the port named as the bridge.
static bool IsLocalPort(Context& x, const Uuid& bridge, const Uuid& port) {
  return x.Name("Port", port) == x.Name("Bridge", bridge);
}

// --- Open_vSwitch ---

Status CmdInit(Context& x, Command&) {
  if (!x.m->Table("Open_vSwitch")) return Status::Error("the database has no Open_vSwitch table");
  if (!x.Root()) x.NewRow("Open_vSwitch", "");
  return Status::Ok();
}

// --- bridges ---

Status CmdAddBr(Context& x, Command& c) {
  if (c.args.size() != 1) {
    return Status::Error(
        "fake bridges (add-br BRIDGE PARENT VLAN) are not supported; use add-br BRIDGE");
  }
  const std::string& name = c.args[0];
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  if (x.Bridge(name)) {
    if (x.has(c, "--may-exist")) return Status::Ok();
    return Status::Errorf(
        "cannot create a bridge named {} because a bridge named {} already exists", name, name);
  }
  if (auto p = x.Port(name)) {
    auto b = x.BridgeOfPort(*p);
    return Status::Errorf(
        "cannot create a bridge named {} because a port named {} already exists{}", name, name,
        b ? " on bridge " + x.Name("Bridge", *b) : "");
  }
  if (auto i = x.Iface(name)) {
    auto p = x.PortOfIface(*i);
    auto b = p ? x.BridgeOfPort(*p) : std::nullopt;
    return Status::Errorf(
        "cannot create a bridge named {} because an interface named {} already exists{}", name,
        name, b ? " on bridge " + x.Name("Bridge", *b) : "");
  }
  Uuid iface = x.NewRow("Interface", "");
  x.m->SetWhole("Interface", iface, "name", Datum::Scalar(name));
  x.m->SetWhole("Interface", iface, "type", Datum::Scalar(std::string("internal")));
  Uuid port = x.NewRow("Port", "");
  x.m->SetWhole("Port", port, "name", Datum::Scalar(name));
  x.m->SetWhole("Port", port, "interfaces", Datum::Scalar(iface));
  Uuid br = x.NewRow("Bridge", c.id);
  x.m->SetWhole("Bridge", br, "name", Datum::Scalar(name));
  x.m->SetWhole("Bridge", br, "ports", Datum::Scalar(port));
  x.AddRef("Open_vSwitch", root, "bridges", br);
  return Status::Ok();
}

Status CmdDelBr(Context& x, Command& c) {
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  auto b = x.Bridge(c.args[0]);
  if (!b)
    return x.has(c, "--if-exists") ? Status::Ok() : Status::Errorf("no bridge named {}", c.args[0]);
  x.RemoveRef("Open_vSwitch", root, "bridges", *b);
  return Status::Ok();
}

Status CmdListBr(Context& x, Command& c) {
  std::vector<std::string> names;
  for (const Uuid& b : x.m->Rows("Bridge")) names.push_back(x.Name("Bridge", b));
  std::sort(names.begin(), names.end());
  for (const auto& n : names) Print(c, n);
  return Status::Ok();
}

Status CmdBrExists(Context& x, Command& c) {
  if (!x.Bridge(c.args[0])) x.exit_code = 2;
  return Status::Ok();
}

Status CmdBrSetExternalId(Context& x, Command& c) {
  Uuid b;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &b));
  Datum d = x.m->Peek("Bridge", b, "external_ids");
  ptrdiff_t i = d.Find(c.args[1]);
  if (i >= 0) {
    d.keys.erase(d.keys.begin() + i);
    d.values.erase(d.values.begin() + i);
  }
  if (c.args.size() == 3) {
    d.keys.push_back(c.args[1]);
    d.values.push_back(c.args[2]);
    d.SortUnique();
  }
  x.m->SetPartial("Bridge", b, "external_ids", std::move(d));
  return Status::Ok();
}

Status CmdBrGetExternalId(Context& x, Command& c) {
  Uuid b;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &b));
  const Datum& d = x.m->Get("Bridge", b, "external_ids");
  for (size_t i = 0; i < d.size(); ++i) {
    const std::string& k = std::get<std::string>(d.keys[i]);
    const std::string& v = std::get<std::string>(d.values[i]);
    if (c.args.size() == 1) {
      Print(c, k + "=" + v);
    } else if (k == c.args[1]) {
      Print(c, v);
    }
  }
  return Status::Ok();
}

// --- ports and interfaces ---

Status CmdAddPort(Context& x, Command& c) {
  const std::string& br_name = c.args[0];
  const std::string& name = c.args[1];
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(br_name, &br));
  if (auto p = x.Port(name)) {
    auto owner = x.BridgeOfPort(*p);
    if (x.has(c, "--may-exist")) {
      if (owner && *owner == br) return Status::Ok();
      return Status::Errorf(
          "\"--may-exist add-port {} {}\" but {} is actually attached to bridge {}", br_name, name,
          name, owner ? x.Name("Bridge", *owner) : std::string("(none)"));
    }
    if (x.Bridge(name)) {
      return Status::Errorf(
          "cannot create a port named {} because a bridge named {} already exists", name, name);
    }
    return Status::Errorf("cannot create a port named {} because a port named {} already exists{}",
                          name, name, owner ? " on bridge " + x.Name("Bridge", *owner) : "");
  }
  if (x.Bridge(name)) {
    return Status::Errorf("cannot create a port named {} because a bridge named {} already exists",
                          name, name);
  }
  if (auto i = x.Iface(name)) {
    auto p = x.PortOfIface(*i);
    auto b = p ? x.BridgeOfPort(*p) : std::nullopt;
    return Status::Errorf(
        "cannot create an interface named {} because an interface named {} already exists{}", name,
        name, b ? " on bridge " + x.Name("Bridge", *b) : "");
  }
  Uuid iface = x.NewRow("Interface", "");
  x.m->SetWhole("Interface", iface, "name", Datum::Scalar(name));
  Uuid port = x.NewRow("Port", c.id);
  x.m->SetWhole("Port", port, "name", Datum::Scalar(name));
  x.m->SetWhole("Port", port, "interfaces", Datum::Scalar(iface));
  for (size_t i = 2; i < c.args.size(); ++i)
    SLUICE_RETURN_IF_ERROR(x.SetColumn("Port", port, c.args[i], true));
  x.AddRef("Bridge", br, "ports", port);
  return Status::Ok();
}

Status CmdDelPort(Context& x, Command& c) {
  std::optional<Uuid> br;
  if (c.args.size() == 2) {
    Uuid b;
    SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &b));
    br = b;
  }
  const std::string& name = c.args.back();
  bool with_iface = x.has(c, "--with-iface");
  auto port = x.Port(name);
  if (!port && with_iface) {
    if (auto i = x.Iface(name)) port = x.PortOfIface(*i);
  }
  if (!port) {
    if (x.has(c, "--if-exists")) return Status::Ok();
    return Status::Errorf("no port {}named {}", with_iface ? "or interface " : "", name);
  }
  auto owner = x.BridgeOfPort(*port);
  if (owner && IsLocalPort(x, *owner, *port)) {
    return Status::Errorf(
        "cannot delete port {} because it is the local port for bridge {} (deleting this port "
        "requires deleting the "
        "entire bridge)",
        name, x.Name("Bridge", *owner));
  }
  if (br && owner != br) {
    if (x.has(c, "--if-exists")) return Status::Ok();
    return Status::Errorf("bridge {} does not have a port {}", c.args[0], name);
  }
  if (owner) x.RemoveRef("Bridge", *owner, "ports", *port);
  return Status::Ok();
}

Status CmdListPorts(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  std::vector<std::string> names;
  for (const Uuid& p : x.m->GetRefs("Bridge", br, "ports")) {
    if (x.m->Exists("Port", p) && !IsLocalPort(x, br, p)) names.push_back(x.Name("Port", p));
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) Print(c, n);
  return Status::Ok();
}

Status CmdListIfaces(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  std::vector<std::string> names;
  for (const Uuid& p : x.m->GetRefs("Bridge", br, "ports")) {
    if (!x.m->Exists("Port", p) || IsLocalPort(x, br, p)) continue;
    for (const Uuid& i : x.m->GetRefs("Port", p, "interfaces")) {
      if (x.m->Exists("Interface", i)) names.push_back(x.Name("Interface", i));
    }
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) Print(c, n);
  return Status::Ok();
}

Status CmdPortToBr(Context& x, Command& c) {
  auto p = x.Port(c.args[0]);
  auto b = p ? x.BridgeOfPort(*p) : std::nullopt;
  if (!b) return Status::Errorf("no port named {}", c.args[0]);
  Print(c, x.Name("Bridge", *b));
  return Status::Ok();
}

Status CmdIfaceToBr(Context& x, Command& c) {
  auto i = x.Iface(c.args[0]);
  auto p = i ? x.PortOfIface(*i) : std::nullopt;
  auto b = p ? x.BridgeOfPort(*p) : std::nullopt;
  if (!b) return Status::Errorf("no interface named {}", c.args[0]);
  Print(c, x.Name("Bridge", *b));
  return Status::Ok();
}

// --- controllers, fail mode, managers ---

Status CmdSetController(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  std::vector<Uuid> rows;
  for (size_t i = 1; i < c.args.size(); ++i) {
    Uuid ctl = x.NewRow("Controller", "");
    x.m->SetWhole("Controller", ctl, "target", Datum::Scalar(c.args[i]));
    rows.push_back(ctl);
  }
  x.m->SetWhole("Bridge", br, "controller", Context::Refs(rows));
  return Status::Ok();
}

Status CmdDelController(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  x.m->SetWhole("Bridge", br, "controller", Datum());
  return Status::Ok();
}

Status CmdGetController(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  std::vector<std::string> targets;
  for (const Uuid& u : x.m->GetRefs("Bridge", br, "controller")) {
    if (x.m->Exists("Controller", u)) targets.push_back(x.m->GetString("Controller", u, "target"));
  }
  std::sort(targets.begin(), targets.end());
  for (const auto& t : targets) Print(c, t);
  return Status::Ok();
}

Status CmdSetFailMode(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  if (c.args[1] != "standalone" && c.args[1] != "secure") {
    return Status::Error("fail-mode must be \"standalone\" or \"secure\"");
  }
  x.m->SetWhole("Bridge", br, "fail_mode", Datum::Scalar(c.args[1]));
  return Status::Ok();
}

Status CmdGetFailMode(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  std::string mode = x.m->GetString("Bridge", br, "fail_mode");
  if (!mode.empty()) Print(c, mode);
  return Status::Ok();
}

Status CmdDelFailMode(Context& x, Command& c) {
  Uuid br;
  SLUICE_RETURN_IF_ERROR(x.MustBridge(c.args[0], &br));
  x.m->SetWhole("Bridge", br, "fail_mode", Datum());
  return Status::Ok();
}

Status CmdSetManager(Context& x, Command& c) {
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  std::vector<Uuid> rows;
  for (const auto& target : c.args) {
    Uuid mgr = x.NewRow("Manager", "");
    x.m->SetWhole("Manager", mgr, "target", Datum::Scalar(target));
    rows.push_back(mgr);
  }
  x.m->SetWhole("Open_vSwitch", root, "manager_options", Context::Refs(rows));
  return Status::Ok();
}

Status CmdDelManager(Context& x, Command&) {
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  x.m->SetWhole("Open_vSwitch", root, "manager_options", Datum());
  return Status::Ok();
}

Status CmdGetManager(Context& x, Command& c) {
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  std::vector<std::string> targets;
  for (const Uuid& u : x.m->GetRefs("Open_vSwitch", root, "manager_options")) {
    if (x.m->Exists("Manager", u)) targets.push_back(x.m->GetString("Manager", u, "target"));
  }
  std::sort(targets.begin(), targets.end());
  for (const auto& t : targets) Print(c, t);
  return Status::Ok();
}

// --- show ---

Status CmdShow(Context& x, Command& c) {
  Uuid root;
  SLUICE_RETURN_IF_ERROR(x.NeedRoot(&root));
  Model& m = *x.m;
  auto has_column = [&](const std::string& table, const char* col) {
    return m.Table(table) && m.Table(table)->ColumnIndex(col) >= 0;
  };
  // "name: value" for a column that is not empty (or not its default).
  auto field = [&](const std::string& table, const Uuid& u, const char* col, int indent) {
    if (!has_column(table, col)) return;
    const ColumnSchema& cs = m.Column(table, col);
    const Datum& d = m.Get(table, u, col);
    if (d == db::DefaultDatum(cs.type)) return;
    Print(c, std::string(indent, ' ') + col + ": " + DatumText(d, cs.type, false));
  };
  auto connected = [&](const std::string& table, const Uuid& u, int indent) {
    if (!has_column(table, "is_connected")) return;
    const Datum& d = m.Get(table, u, "is_connected");
    if (!d.empty() && std::get<bool>(d.keys[0]))
      Print(c, std::string(indent, ' ') + "is_connected: true");
  };
  auto sorted_by = [&](const std::string& table, std::vector<Uuid> rows, const char* col) {
    std::vector<std::pair<std::string, Uuid>> v;
    for (const Uuid& u : rows) {
      if (m.Exists(table, u)) v.emplace_back(m.GetString(table, u, col), u);
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  Print(c, root.ToString());
  if (has_column("Open_vSwitch", "manager_options") && m.Table("Manager")) {
    for (const auto& [target, u] :
         sorted_by("Manager", m.GetRefs("Open_vSwitch", root, "manager_options"), "target")) {
      Print(c, "    Manager " + QuoteString(target));
      connected("Manager", u, 8);
    }
  }
  for (const auto& [name, br] :
       sorted_by("Bridge", m.GetRefs("Open_vSwitch", root, "bridges"), "name")) {
    Print(c, "    Bridge " + QuoteString(name));
    if (m.Table("Controller")) {
      for (const auto& [target, u] :
           sorted_by("Controller", m.GetRefs("Bridge", br, "controller"), "target")) {
        Print(c, "        Controller " + QuoteString(target));
        connected("Controller", u, 12);
      }
    }
    field("Bridge", br, "fail_mode", 8);
    field("Bridge", br, "datapath_type", 8);
    for (const auto& [pname, port] : sorted_by("Port", m.GetRefs("Bridge", br, "ports"), "name")) {
      Print(c, "        Port " + QuoteString(pname));
      field("Port", port, "tag", 12);
      field("Port", port, "trunks", 12);
      field("Port", port, "vlan_mode", 12);
      for (const auto& [iname, iface] :
           sorted_by("Interface", m.GetRefs("Port", port, "interfaces"), "name")) {
        Print(c, "            Interface " + QuoteString(iname));
        field("Interface", iface, "type", 16);
        field("Interface", iface, "options", 16);
        field("Interface", iface, "error", 16);
      }
    }
  }
  field("Open_vSwitch", root, "ovs_version", 4);
  return Status::Ok();
}

}  // namespace sluice::ctl::vsctl_detail
