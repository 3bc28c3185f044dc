// sluicectl's ovs-vsctl-style configuration commands. See vsctl.h for the
// design. The implementation is split as:
//   - vsctl_value.{h,cc}: value syntax: parsing ovs-vsctl's atom/datum
//     notation, printing it;
//   - vsctl_internal.h: the Model, the in-memory copy of the database a run
//     works on, with read tracking, change tracking, garbage collection and
//     the operations that commit it; Command and Context;
//   - vsctl_bridge_cmds.cc, vsctl_db_cmds.cc: the commands;
//   - this file, laid out as:
//     3. record and name lookup (ovs-vsctl's ways of naming rows): the
//        Context's methods;
//     4. the command table and the parsing of the command line;
//     5. RunVsctl: parse, read, run, commit, retry, wait.
#include "controller/vsctl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/vsctl_internal.h"
#include "controller/vsctl_value.h"
#include "datapath/util/status.h"
#include "db/client.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl {
namespace vsctl_detail {
namespace {

// ---------------------------------------------------------------------------
// 3. Names: tables, columns, records.

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Exact, then case-insensitive, then a unique case-insensitive prefix.
template <class Names>
int MatchName(const Names& names, const std::string& want, bool* ambiguous) {
  *ambiguous = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == want) return static_cast<int>(i);
  }
  std::string lw = Lower(want);
  for (size_t i = 0; i < names.size(); ++i) {
    if (Lower(names[i]) == lw) return static_cast<int>(i);
  }
  int found = -1;
  for (size_t i = 0; i < names.size(); ++i) {
    if (Lower(names[i]).rfind(lw, 0) == 0) {
      if (found >= 0) {
        *ambiguous = true;
        return -1;
      }
      found = static_cast<int>(i);
    }
  }
  return found;
}

// How ovs-vsctl names the records of a table: by a column of a row of
// name_table whose `name_column` equals the name (nullptr: the record is
// "."), then through ref_column of that row when set.
struct IdRule {
  const char* table;
  const char* name_table;
  const char* name_column;
  const char* ref_column;
};
constexpr IdRule kIdRules[] = {
    {"Open_vSwitch", "Open_vSwitch", nullptr, nullptr},
    {"Bridge", "Bridge", "name", nullptr},
    {"Port", "Port", "name", nullptr},
    {"Interface", "Interface", "name", nullptr},
    {"Controller", "Bridge", "name", "controller"},
    {"Manager", "Manager", "target", nullptr},
    {"Mirror", "Mirror", "name", nullptr},
    {"NetFlow", "Bridge", "name", "netflow"},
    {"sFlow", "Bridge", "name", "sflow"},
    {"IPFIX", "Bridge", "name", "ipfix"},
    {"QoS", "Port", "name", "qos"},
    {"SSL", "Open_vSwitch", nullptr, "ssl"},
    {"Flow_Table", "Flow_Table", "name", nullptr},
    {"AutoAttach", "Bridge", "name", "auto_attach"},
};

}  // namespace

Status Context::ResolveTable(const std::string& want, std::string* out) const {
  std::vector<std::string> names;
  for (const auto& t : m->schema().tables()) names.push_back(t.name);
  bool ambiguous;
  int i = MatchName(names, want, &ambiguous);
  if (ambiguous) return Status::Errorf("multiple table names match \"{}\"", want);
  if (i < 0) return Status::Errorf("unknown table \"{}\"", want);
  *out = names[i];
  return Status::Ok();
}

Status Context::ResolveColumn(const std::string& table, const std::string& want,
                              ColumnRef* out) const {
  if (want == "_uuid") {
    out->name = "_uuid";
    out->type = &db::ImplicitColumnType();
    out->is_mutable = false;
    out->is_uuid = true;
    return Status::Ok();
  }
  const TableSchema* ts = m->Table(table);
  std::vector<std::string> names;
  for (const auto& c : ts->columns) names.push_back(c.name);
  bool ambiguous;
  int i = MatchName(names, want, &ambiguous);
  if (ambiguous)
    return Status::Errorf("{} contains more than one column whose name matches \"{}\"", table,
                          want);
  if (i < 0)
    return Status::Errorf("{} does not contain a column whose name matches \"{}\"", table, want);
  out->name = ts->columns[i].name;
  out->type = &ts->columns[i].type;
  out->is_mutable = ts->columns[i].is_mutable;
  out->is_uuid = false;
  return Status::Ok();
}

std::optional<Uuid> Context::Root() {
  if (!m->Table("Open_vSwitch")) return std::nullopt;
  auto rows = m->Rows("Open_vSwitch");
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

Status Context::NeedRoot(Uuid* out) {
  auto r = Root();
  if (!r)
    return Status::Error(
        "database is not initialized: it has no Open_vSwitch row (run \"sluicectl init\")");
  *out = *r;
  return Status::Ok();
}

std::optional<Uuid> Context::FindByName(const std::string& table, const std::string& column,
                                        const std::string& name) {
  if (!m->Table(table) || m->Table(table)->ColumnIndex(column) < 0) return std::nullopt;
  for (const Uuid& u : m->Rows(table)) {
    if (m->GetString(table, u, column) == name) return u;
  }
  return std::nullopt;
}

Status Context::FindRecord(const std::string& table, const std::string& rec,
                           std::optional<Uuid>* out) {
  out->reset();
  if (auto u = Uuid::Parse(rec); u && m->Exists(table, *u)) {
    *out = *u;
    return Status::Ok();
  }
  for (const IdRule& rule : kIdRules) {
    if (table != rule.table || !m->Table(rule.name_table)) continue;
    std::optional<Uuid> named;
    if (!rule.name_column) {
      if (rec == ".") {
        auto rows = m->Rows(rule.name_table);
        if (!rows.empty()) named = rows.front();
      }
    } else {
      named = FindByName(rule.name_table, rule.name_column, rec);
    }
    if (!named) continue;
    if (!rule.ref_column) {
      *out = named;
      return Status::Ok();
    }
    if (m->Table(rule.name_table)->ColumnIndex(rule.ref_column) < 0) continue;
    std::vector<Uuid> refs = m->GetRefs(rule.name_table, *named, rule.ref_column);
    if (refs.size() > 1) return Status::Errorf("multiple rows in {} match \"{}\"", table, rec);
    if (refs.size() == 1 && m->Exists(table, refs[0])) {
      *out = refs[0];
      return Status::Ok();
    }
  }
  // A unique UUID prefix of at least 4 hex digits.
  if (rec.size() >= 4 && rec.size() < 36 && std::all_of(rec.begin(), rec.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == '-';
      })) {
    std::string want = Lower(rec);
    for (const Uuid& u : m->Rows(table)) {
      if (u.ToString().rfind(want, 0) != 0) continue;
      if (*out) return Status::Errorf("multiple rows in {} match \"{}\"", table, rec);
      *out = u;
    }
  }
  return Status::Ok();
}

Status Context::MustFindRecord(const std::string& table, const std::string& rec, Uuid* out) {
  std::optional<Uuid> u;
  SLUICE_RETURN_IF_ERROR(FindRecord(table, rec, &u));
  if (!u) return Status::Errorf("no row \"{}\" in table {}", rec, table);
  *out = *u;
  return Status::Ok();
}

Status Context::MustBridge(const std::string& name, Uuid* out) {
  auto b = Bridge(name);
  if (!b) return Status::Errorf("no bridge named {}", name);
  *out = *b;
  return Status::Ok();
}

std::optional<Uuid> Context::BridgeOfPort(const Uuid& port) {
  for (const Uuid& b : m->Rows("Bridge")) {
    for (const Uuid& p : m->GetRefs("Bridge", b, "ports")) {
      if (p == port) return b;
    }
  }
  return std::nullopt;
}

std::optional<Uuid> Context::PortOfIface(const Uuid& iface) {
  for (const Uuid& p : m->Rows("Port")) {
    for (const Uuid& i : m->GetRefs("Port", p, "interfaces")) {
      if (i == iface) return p;
    }
  }
  return std::nullopt;
}

Status Context::SetColumn(const std::string& table, const Uuid& row, const std::string& arg,
                          bool creating) {
  ColumnArg ca;
  SLUICE_RETURN_IF_ERROR(SplitColumnArg(arg, {"="}, &ca));
  ColumnRef col;
  SLUICE_RETURN_IF_ERROR(ResolveColumn(table, ca.column, &col));
  if (col.is_uuid || (!col.is_mutable && !creating)) {
    return Status::Errorf("cannot modify read-only column {} in table {}", col.name, table);
  }
  const Type& t = *col.type;
  if (ca.key) {
    if (!t.is_map())
      return Status::Errorf("cannot specify key to set for non-map column {}", col.name);
    Atom k, v;
    SLUICE_RETURN_IF_ERROR(ParseWholeAtom(*ca.key, t.key, symbols, &k));
    SLUICE_RETURN_IF_ERROR(ParseWholeAtom(ca.value, *t.value, symbols, &v));
    Datum d = m->Peek(table, row, col.name);
    ptrdiff_t i = d.Find(k);
    if (i >= 0) {
      d.values[i] = v;
    } else {
      d.keys.push_back(k);
      d.values.push_back(v);
      d.SortUnique();
    }
    if (d.size() > t.max) {
      return Status::Errorf(
          "\"set\" operation would put {} values in column {} of table {} but the maximum number "
          "is {}",
          d.size(), col.name, table, t.max);
    }
    m->SetPartial(table, row, col.name, std::move(d));
    return Status::Ok();
  }
  Datum d;
  SLUICE_RETURN_IF_ERROR(ParseDatum(ca.value, t, symbols, true, &d));
  m->SetWhole(table, row, col.name, std::move(d));
  return Status::Ok();
}

Uuid Context::NewRow(const std::string& table, const std::string& id, bool pinned) {
  Uuid u = id.empty() ? gen->Next() : symbols->Get(id).uuid;
  if (!id.empty()) symbols->Get(id).created = true;
  m->Insert(table, u, pinned || !id.empty());
  return u;
}

Datum Context::Strings(const std::vector<std::string>& v) {
  Datum d;
  for (const auto& s : v) d.keys.push_back(s);
  d.SortDedup();
  return d;
}

Datum Context::Refs(const std::vector<Uuid>& v) {
  Datum d;
  for (const auto& u : v) d.keys.push_back(u);
  d.SortDedup();
  return d;
}

void Context::AddRef(const std::string& table, const Uuid& row, const std::string& column,
                     const Uuid& ref) {
  Datum d = m->Peek(table, row, column);
  d.keys.push_back(ref);
  d.SortDedup();
  m->SetPartial(table, row, column, std::move(d));
}

void Context::RemoveRef(const std::string& table, const Uuid& row, const std::string& column,
                        const Uuid& ref) {
  Datum d = m->Peek(table, row, column);
  ptrdiff_t i = d.Find(ref);
  if (i < 0) return;
  d.keys.erase(d.keys.begin() + i);
  m->SetPartial(table, row, column, std::move(d));
}

void Print(Command& c, const std::string& line) { c.output += line + "\n"; }

}  // namespace vsctl_detail

namespace {

using db::Json;
using db::Schema;
using db::Uuid;

// How often a run is redone when a concurrent change invalidated what it read.
constexpr int kMaxAttempts = 20;
// Exit code for an expired --timeout (ovs-vsctl dies of SIGALRM: 128 + 14).
constexpr int kTimeoutExit = 142;

using namespace vsctl_detail;

// ---------------------------------------------------------------------------
// 4. The command table.

struct CommandSpec {
  const char* name;
  int min_args;
  int max_args;         // -1: no limit
  const char* options;  // allowed, space-separated
  Status (*run)(Context&, Command&);
  const char* usage;
};

constexpr int kAny = -1;

constexpr CommandSpec kCommands[] = {
    {"init", 0, 0, "", CmdInit,
     "init                          initialize the database, if not yet initialized"},
    {"show", 0, 0, "", CmdShow,
     "show                          print an overview of the configuration"},
    {"add-br", 1, 3, "--may-exist --id", CmdAddBr,
     "add-br BRIDGE                 create a new bridge named BRIDGE"},
    {"del-br", 1, 1, "--if-exists", CmdDelBr,
     "del-br BRIDGE                 delete BRIDGE and all of its ports"},
    {"list-br", 0, 0, "", CmdListBr,
     "list-br                       print the names of all the bridges"},
    {"br-exists", 1, 1, "", CmdBrExists,
     "br-exists BRIDGE              exit 2 if BRIDGE does not exist"},
    {"br-set-external-id", 2, 3, "", CmdBrSetExternalId,
     "br-set-external-id BR KEY [VALUE]  set (or unset) KEY on BR"},
    {"br-get-external-id", 1, 2, "", CmdBrGetExternalId,
     "br-get-external-id BR [KEY]   print KEY's value (or every key=value) on BR"},
    {"list-ports", 1, 1, "", CmdListPorts,
     "list-ports BRIDGE             print the names of the ports on BRIDGE"},
    {"add-port", 2, kAny, "--may-exist --id", CmdAddPort,
     "add-port BRIDGE PORT [COL[:KEY]=VALUE]...  add PORT to BRIDGE (settings apply to the Port)"},
    {"del-port", 1, 2, "--if-exists --with-iface", CmdDelPort,
     "del-port [BRIDGE] PORT        delete PORT (from BRIDGE)"},
    {"port-to-br", 1, 1, "", CmdPortToBr,
     "port-to-br PORT               print the name of the bridge of PORT"},
    {"list-ifaces", 1, 1, "", CmdListIfaces,
     "list-ifaces BRIDGE            print the names of the interfaces on BRIDGE"},
    {"iface-to-br", 1, 1, "", CmdIfaceToBr,
     "iface-to-br IFACE             print the name of the bridge of IFACE"},
    {"get-controller", 1, 1, "", CmdGetController,
     "get-controller BRIDGE         print the controllers of BRIDGE"},
    {"del-controller", 1, 1, "", CmdDelController,
     "del-controller BRIDGE         delete the controllers of BRIDGE"},
    {"set-controller", 2, kAny, "", CmdSetController,
     "set-controller BRIDGE TARGET...  set the controllers of BRIDGE"},
    {"get-fail-mode", 1, 1, "", CmdGetFailMode,
     "get-fail-mode BRIDGE          print the fail mode of BRIDGE"},
    {"del-fail-mode", 1, 1, "", CmdDelFailMode,
     "del-fail-mode BRIDGE          delete the fail mode of BRIDGE"},
    {"set-fail-mode", 2, 2, "", CmdSetFailMode,
     "set-fail-mode BRIDGE MODE     set the fail mode of BRIDGE (standalone or secure)"},
    {"get-manager", 0, 0, "", CmdGetManager, "get-manager                   print the managers"},
    {"del-manager", 0, 0, "", CmdDelManager, "del-manager                   delete the managers"},
    {"set-manager", 1, kAny, "", CmdSetManager, "set-manager TARGET...         set the managers"},
    {"list", 1, kAny, "--if-exists --columns", CmdList,
     "list TBL [REC]                list RECord (or all records) in TBL"},
    {"find", 1, kAny, "--columns", CmdFind,
     "find TBL CONDITION...         list records satisfying CONDITION in TBL"},
    {"get", 2, kAny, "--if-exists --id", CmdGet,
     "get TBL REC COL[:KEY]         print values of COLumns in RECord in TBL"},
    {"set", 3, kAny, "--if-exists", CmdSet,
     "set TBL REC COL[:KEY]=VALUE   set COLumn values in RECord in TBL"},
    {"add", 4, kAny, "--if-exists", CmdAdd,
     "add TBL REC COL [KEY=]VALUE   add (KEY=)VALUE to COLumn in RECord in TBL"},
    {"remove", 4, kAny, "--if-exists", CmdRemove,
     "remove TBL REC COL [KEY=]VALUE  remove (KEY=)VALUE from COLumn"},
    {"clear", 3, kAny, "--if-exists", CmdClear,
     "clear TBL REC COL             clear values from COLumn in RECord in TBL"},
    {"create", 1, kAny, "--id", CmdCreate,
     "create TBL COL[:KEY]=VALUE    create and initialize a new record"},
    {"destroy", 1, kAny, "--if-exists --all", CmdDestroy,
     "destroy TBL REC               delete RECord from TBL"},
};

const CommandSpec* FindSpec(const std::string& name) {
  for (const auto& spec : kCommands) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

bool IsCommandOption(const std::string& word) {
  return word == "--if-exists" || word == "--may-exist" || word == "--all" ||
         word == "--with-iface" || word.rfind("--id=", 0) == 0 || word.rfind("--columns=", 0) == 0;
}

// Splits the words into commands at "--" and checks each one's syntax.
Status ParseCommands(const std::vector<std::string>& args, std::vector<Command>* out) {
  std::vector<std::vector<std::string>> groups(1);
  for (const auto& a : args) {
    if (a == "--") {
      groups.emplace_back();
    } else {
      groups.back().push_back(a);
    }
  }
  for (auto& words : groups) {
    if (words.empty()) continue;
    Command c;
    size_t i = 0;
    std::vector<std::string> opts;
    for (; i < words.size() && words[i].size() > 2 && words[i].rfind("--", 0) == 0; ++i)
      opts.push_back(words[i]);
    if (i == words.size()) return Status::Errorf("missing command name after {}", words.back());
    c.name = words[i];
    c.args.assign(words.begin() + static_cast<ptrdiff_t>(i) + 1, words.end());
    const CommandSpec* spec = FindSpec(c.name);
    if (!spec) return Status::Errorf("unknown command '{}'; use --help for help", c.name);
    std::string allowed = std::string(" ") + spec->options + " ";
    for (const auto& o : opts) {
      std::string key = o.substr(0, o.find('='));
      if (!IsCommandOption(o) && key != "--id" && key != "--columns") {
        return Status::Errorf("'{}' command has no '{}' option", c.name, key);
      }
      if (allowed.find(" " + key + " ") == std::string::npos) {
        return Status::Errorf("'{}' command has no '{}' option", c.name, key);
      }
      if (key == "--id") {
        c.id = o.substr(5);
        if (c.id.size() < 2 || c.id[0] != '@')
          return Status::Errorf("row id \"{}\" does not begin with \"@\"", c.id);
      } else if (key == "--columns") {
        std::string list = o.substr(10);
        size_t start = 0;
        while (start <= list.size()) {
          size_t comma = list.find(',', start);
          std::string name =
              list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!name.empty()) c.columns.push_back(name);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      } else {
        c.options.insert(key);
      }
    }
    int n = static_cast<int>(c.args.size());
    if (n < spec->min_args) {
      return Status::Errorf("'{}' command requires at least {} arguments", c.name, spec->min_args);
    }
    if (spec->max_args != kAny && n > spec->max_args) {
      return Status::Errorf("'{}' command takes at most {} arguments", c.name, spec->max_args);
    }
    out->push_back(std::move(c));
  }
  if (out->empty()) return Status::Error("missing command name (use --help for help)");
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// 5. The run.

// The "error" of one operation's result, or "".
std::string ErrorTag(const Json& r) {
  if (!r.is_object() || !r.contains("error") || !r["error"].is_string()) return "";
  return r["error"].get<std::string>();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Run {
 public:
  Run(const VsctlOptions& o, std::string* out, std::string* err) : o_(o), out_(out), err_(err) {
    deadline_ms_ = o.timeout_s > 0 ? NowMs() + static_cast<int64_t>(o.timeout_s * 1000) : -1;
    format_ = o.format.empty() ? "list" : o.format;
  }

  int Go(const std::vector<std::string>& args) {
    std::vector<Command> commands;
    if (Status st = ParseCommands(args, &commands); !st.ok()) return Fail(st.message());
    if (format_ != "list" && format_ != "table" && format_ != "json") {
      return Fail("unknown output format \"" + format_ + "\" (use list, table or json)");
    }
    std::string target = o_.db.empty() ? DefaultDbTarget() : o_.db;
    std::string error;
    client_ = db::Client::Connect(target, Left(), &error);
    if (!client_) return Timeout() ? TimedOut("connecting to " + target) : Fail(error);
    Json schema_json;
    if (!client_->Call("get_schema", Json::array({client_->database()}), &schema_json, &error,
                       Left())) {
      return Timeout() ? TimedOut("reading the schema")
                       : Fail(target + ": get_schema failed: " + error);
    }
    schema_ = db::ParseSchema(schema_json, &error);
    if (!schema_) return Fail("bad schema from " + target + ": " + error);

    for (int attempt = 1;; ++attempt) {
      Json select = Json::array();
      for (const auto& t : schema_->tables()) {
        select.push_back(Json{{"op", "select"}, {"table", t.name}, {"where", Json::array()}});
      }
      Json rows;
      if (!client_->Transact(select, &rows, &error, Left())) {
        return Timeout() ? TimedOut("reading the database")
                         : Fail("reading the database failed: " + error);
      }
      Model model(*schema_);
      if (Status st = model.Load(rows); !st.ok()) return Fail(st.message());
      db::UuidGenerator gen;
      SymbolTable symbols(&gen);
      Context x{&model, &o_, &symbols, &gen, format_, "", 0};
      for (auto& c : commands) {
        c.output.clear();
        Status st = FindSpec(c.name)->run(x, c);
        if (!st.ok()) return Fail(st.message());
        if (x.exit_code != 0) return x.exit_code;  // br-exists: nothing more to do
        model.CollectGarbage();
      }
      for (const auto& [name, sym] : symbols.all()) {
        if (sym.referenced && !sym.created) {
          return Fail(fmt::format(
              "row id \"{}\" is referenced but never created (e.g. with \"-- --id={} create ...\")",
              name, name));
        }
      }
      warnings_ = x.warnings;
      if (!model.Changed() || o_.dry_run) return Finish(commands, {});

      Uuid root;
      bool wait = !o_.no_wait && x.Root().has_value() &&
                  model.Table("Open_vSwitch")->ColumnIndex("next_cfg") >= 0;
      if (wait) root = *x.Root();
      std::vector<std::pair<size_t, Uuid>> inserts;
      size_t n_waits = 0;
      Json ops = model.Operations(&inserts, &n_waits);
      ops.push_back(Json{{"op", "comment"}, {"comment", "sluicectl: " + Joined(args)}});
      if (wait) {
        Json where =
            Json::array({Json::array({"_uuid", "==", Json::array({"uuid", root.ToString()})})});
        if (!model.IsNew(root)) {
          ops.push_back(Json{{"op", "mutate"},
                             {"table", "Open_vSwitch"},
                             {"where", where},
                             {"mutations", Json::array({Json::array({"next_cfg", "+=", 1})})}});
          ops.push_back(Json{{"op", "select"},
                             {"table", "Open_vSwitch"},
                             {"where", where},
                             {"columns", {"next_cfg"}}});
        } else {
          wait = false;  // a new root row: nothing applies it yet
        }
      }
      Json result;
      bool ok = client_->Transact(ops, &result, &error, Left());
      if (!ok && !result.is_array()) {
        return Timeout()
                   ? TimedOut("waiting for the transaction's result (it may have been committed)")
                   : Fail("transaction failed: " + error);
      }
      if (!ok) {
        bool stale = false;
        for (size_t i = 0; i < n_waits && i < result.size(); ++i) {
          stale |= ErrorTag(result[i]) == "timed out";
        }
        if (stale) {
          if (attempt >= kMaxAttempts) {
            return Fail(
                fmt::format("the database kept changing; gave up after {} attempts", attempt));
          }
          continue;  // someone changed what the commands read: redo them
        }
        Json first;
        for (const Json& r : result) {
          if (!ErrorTag(r).empty()) {
            first = r;
            break;
          }
        }
        return Fail("transaction error: " +
                    first.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
      std::map<std::string, std::string> real;  // temporary -> committed UUID
      for (const auto& [index, temp] : inserts) {
        const Json& r = result[index];
        if (r.is_object() && r.contains("uuid") && r["uuid"].is_array() && r["uuid"].size() == 2) {
          real[temp.ToString()] = r["uuid"][1].get<std::string>();
        }
      }
      int64_t next_cfg = 0;
      if (wait) {
        const Json& sel = result[result.size() - 1];
        if (sel.is_object() && sel.contains("rows") && !sel["rows"].empty()) {
          next_cfg = sel["rows"][0].value("next_cfg", int64_t{0});
        }
      }
      int rc = Finish(commands, real);
      if (wait) return WaitForSwitch(root, next_cfg);
      return rc;
    }
  }

 private:
  static std::string Joined(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
  }

  // Milliseconds left of --timeout (-1: no limit; at least 1 otherwise).
  int Left() const {
    if (deadline_ms_ < 0) return -1;
    return static_cast<int>(std::max<int64_t>(1, deadline_ms_ - NowMs()));
  }
  bool Timeout() const { return deadline_ms_ >= 0 && NowMs() >= deadline_ms_; }

  int Fail(const std::string& message) {
    *err_ += "sluicectl: " + message + "\n";
    return 1;
  }

  int TimedOut(const std::string& doing) {
    *err_ += fmt::format("sluicectl: timeout after {:g} seconds {}\n", o_.timeout_s, doing);
    return kTimeoutExit;
  }

  // Prints every command's output, with committed UUIDs for new rows.
  int Finish(const std::vector<Command>& commands, const std::map<std::string, std::string>& real) {
    *err_ += warnings_;
    for (const auto& c : commands) {
      std::string text = c.output;
      for (const auto& [temp, uuid] : real) {
        for (size_t pos = text.find(temp); pos != std::string::npos;
             pos = text.find(temp, pos + uuid.size())) {
          text.replace(pos, temp.size(), uuid);
        }
      }
      *out_ += text;
    }
    return 0;
  }

  // Waits until Open_vSwitch.cur_cfg >= next_cfg (sluice-switchd has applied
  // the configuration), watching it with a monitor.
  int WaitForSwitch(const Uuid& root, int64_t next_cfg) {
    std::string error;
    Json initial;
    Json request =
        Json::array({client_->database(), "sluicectl-cur-cfg",
                     Json{{"Open_vSwitch", Json{{"columns", Json::array({"cur_cfg"})}}}}});
    if (!client_->Call("monitor", request, &initial, &error, Left())) {
      if (Timeout()) return WaitTimedOut(-1, next_cfg);
      return Fail("cannot watch Open_vSwitch.cur_cfg: " + error);
    }
    int64_t cur_cfg = -1;
    auto apply = [&](const Json& updates) {
      const Json* rows = updates.contains("Open_vSwitch") ? &updates["Open_vSwitch"] : nullptr;
      if (!rows || !rows->is_object()) return;
      auto it = rows->find(root.ToString());
      if (it == rows->end() || !it->is_object() || !it->contains("new")) return;
      const Json& n = (*it)["new"];
      if (n.contains("cur_cfg") && n["cur_cfg"].is_number_integer())
        cur_cfg = n["cur_cfg"].get<int64_t>();
    };
    apply(initial);
    while (cur_cfg < next_cfg) {
      Json note;
      if (!client_->WaitNotification(&note, Left())) {
        if (Timeout()) return WaitTimedOut(cur_cfg, next_cfg);
        return Fail(
            "lost the database connection while waiting for sluice-switchd to apply the change");
      }
      if (note.value("method", "") == "update" && note["params"].is_array() &&
          note["params"].size() == 2) {
        apply(note["params"][1]);
      }
    }
    return 0;
  }

  int WaitTimedOut(int64_t cur_cfg, int64_t next_cfg) {
    *err_ += fmt::format(
        "sluicectl: timeout after {:g} seconds waiting for sluice-switchd to apply the change "
        "(cur_cfg {}, next_cfg "
        "{}); the change is committed (use --no-wait when sluice-switchd is not running)\n",
        o_.timeout_s, cur_cfg, next_cfg);
    return kTimeoutExit;
  }

  const VsctlOptions& o_;
  std::string* out_;
  std::string* err_;
  int64_t deadline_ms_;
  std::string format_;
  std::string warnings_;
  std::unique_ptr<db::Client> client_;
  std::shared_ptr<const Schema> schema_;
};

}  // namespace

std::string DefaultDbTarget() {
  const char* dir = std::getenv("SLUICE_RUNDIR");
  return std::string("unix:") + (dir && *dir ? dir : "/run/sluice") + "/db.sock";
}

int RunVsctl(const std::vector<std::string>& args, const VsctlOptions& options, std::string* out,
             std::string* err) {
  Run run(options, out, err);
  return run.Go(args);
}

bool IsVsctlCommand(const std::string& word) {
  return FindSpec(word) != nullptr || IsCommandOption(word);
}

std::string VsctlHelp() {
  std::string s =
      "Configuration commands (sent to sluice-db; several may be chained with -- and run in one "
      "transaction):\n";
  for (const auto& spec : kCommands) s += std::string("  ") + spec.usage + "\n";
  s += "Per-command options: --if-exists, --may-exist, --id=@NAME (then @NAME is the new row in "
       "other commands),\n"
       "  --all (destroy), --columns=COL,... (list, find), --with-iface (del-port).\n"
       "Records: Bridge/Port/Interface by name, Controller by its bridge's name, Manager by "
       "target,\n"
       "  Open_vSwitch as \".\", any record by UUID or a unique UUID prefix.\n"
       "Values: 5, true, br0, \"quoted string\", [a,b] (sets), {k=v,k2=v2} (maps); COL:KEY=VALUE "
       "sets one map key.\n";
  return s;
}

}  // namespace sluice::ctl
