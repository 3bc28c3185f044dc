#pragma once
// What: the pieces of sluicectl's configuration commands (vsctl.h) shared by
// their implementation files, and not for use outside them:
//   - vsctl.cc: the command table, parsing, name and record lookup (the
//     Context's methods), and the run: read, run, commit, retry, wait;
//   - vsctl_bridge_cmds.cc: the Open_vSwitch, bridge, port, interface,
//     controller, fail-mode and manager commands, and show;
//   - vsctl_db_cmds.cc: the generic database commands (list, find, get,
//     set, add, remove, clear, create, destroy);
//   - vsctl_value.{h,cc}: the value syntax (printing and parsing datums).
//
// Design: a run (vsctl.cc) reads every table into a Model, the in-memory
// copy of the database, and runs each command as one function
// `Status Cmd...(Context&, Command&)` against it. The Context is all a
// command sees: the Model, the options, the --id symbols, and the lookups
// (tables and columns by unique prefix, records by ovs-vsctl's names) and
// changes (COL[:KEY]=VALUE, references, new rows) the commands share. A
// command reads and changes rows only through the Model, which records what
// was read (for the commit's "wait"s) and tracks every change (for its
// "update", "mutate", "insert" and "delete" operations); it prints only into
// its Command's `output`, which the run prints at the end, with the committed
// UUIDs of new rows. A command that fails returns an error, and the whole run
// fails with nothing committed.
//
// Invariants (of the Model):
//   1. Rows() lists, and Exists() admits, only live rows: neither destroyed
//      nor collected as unreferenced.
//   2. Operations() opens with one "wait" per table read, on every column
//      read through Get(), GetString() or GetRefs(), and on _uuid for those
//      and for Rows() and Exists(); Peek() records no read, for changes that
//      do not depend on the value.
//
// Thread-safety: none; a Model, a Context and a Command belong to one run on
// one thread (RunVsctl keeps no state between calls).
//
// Memory: the Model holds one copy of every table and a snapshot of it as
// read, for one attempt of one run.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/vsctl.h"
#include "controller/vsctl_value.h"
#include "datapath/util/status.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl::vsctl_detail {

using db::ColumnSchema;
using db::Json;
using db::Schema;
using db::TableSchema;

// ---------------------------------------------------------------------------
// The in-memory database of one run.

struct Row {
  std::map<std::string, Datum> cols;  // every column
  bool is_new = false;
  bool pinned = false;            // new by "create": kept until the commit even if unreferenced
  bool deleted = false;           // destroy
  bool collected = false;         // unreferenced: the server will collect it
  std::set<std::string> whole;    // columns written whole ("update")
  std::set<std::string> partial;  // columns changed by key/element ("mutate")
  bool live() const { return !deleted && !collected; }
};

struct TableData {
  const TableSchema* schema = nullptr;
  std::map<Uuid, Row> rows;
};

// A column of a table, or the implicit _uuid.
struct ColumnRef {
  std::string name;
  const Type* type = nullptr;
  bool is_mutable = false;
  bool is_uuid = false;
};

class Model {
 public:
  explicit Model(const Schema& schema) : schema_(schema) {}

  const Schema& schema() const { return schema_; }

  // Builds the copy from one "select" result per table (schema order).
  Status Load(const Json& results) {
    const auto& tables = schema_.tables();
    if (!results.is_array() || results.size() < tables.size())
      return Status::Error("malformed select reply");
    for (size_t i = 0; i < tables.size(); ++i) {
      const TableSchema& ts = tables[i];
      TableData& td = tables_[ts.name];
      td.schema = &ts;
      if (!results[i].is_object() || !results[i].contains("rows") ||
          !results[i]["rows"].is_array()) {
        return Status::Errorf("malformed select reply for table {}", ts.name);
      }
      const Json& rows = results[i]["rows"];
      for (const Json& r : rows) {
        auto uuid = r.contains("_uuid") && r["_uuid"].is_array() && r["_uuid"].size() == 2 &&
                            r["_uuid"][1].is_string()
                        ? Uuid::Parse(r["_uuid"][1].get<std::string>())
                        : std::nullopt;
        if (!uuid) return Status::Errorf("row without _uuid in table {}", ts.name);
        Row row;
        for (const ColumnSchema& c : ts.columns) {
          Datum d = db::DefaultDatum(c.type);
          if (r.contains(c.name)) {
            db::ParseOptions po;
            po.check_constraints = false;
            if (auto e = db::DatumFromJson(r[c.name], c.type, po, &d)) {
              return Status::Errorf("bad value in {} column {}: {}", ts.name, c.name, e->details);
            }
          }
          row.cols.emplace(c.name, std::move(d));
        }
        snapshot_[ts.name][*uuid] = row.cols;
        td.rows.emplace(*uuid, std::move(row));
      }
    }
    return Status::Ok();
  }

  const TableSchema* Table(const std::string& name) const {
    auto it = tables_.find(name);
    return it == tables_.end() ? nullptr : it->second.schema;
  }

  void MarkRead(const std::string& table, const std::string& column) {
    if (!tables_.count(table)) return;
    reads_[table].insert("_uuid");
    if (column != "_uuid") reads_[table].insert(column);
  }

  // The live rows of `table`, in UUID order (reads the table's row set).
  std::vector<Uuid> Rows(const std::string& table) {
    MarkRead(table, "_uuid");
    std::vector<Uuid> out;
    auto it = tables_.find(table);
    if (it == tables_.end()) return out;
    for (const auto& [uuid, row] : it->second.rows) {
      if (row.live()) out.push_back(uuid);
    }
    return out;
  }

  bool Exists(const std::string& table, const Uuid& uuid) {
    MarkRead(table, "_uuid");
    const Row* r = FindRow(table, uuid);
    return r && r->live();
  }

  // The value of a column of a live row (reads it).
  const Datum& Get(const std::string& table, const Uuid& uuid, const std::string& column) {
    MarkRead(table, column);
    if (column == "_uuid") {
      uuid_datum_ = Datum::Scalar(uuid);
      return uuid_datum_;
    }
    return FindRow(table, uuid)->cols.at(column);
  }

  // The value of a column without recording a read: for changes that do not
  // depend on it (a map key set, a reference added or removed by mutation).
  const Datum& Peek(const std::string& table, const Uuid& uuid, const std::string& column) {
    return FindRow(table, uuid)->cols.at(column);
  }

  // The string of a string column (names), "" if empty.
  std::string GetString(const std::string& table, const Uuid& uuid, const std::string& column) {
    const Datum& d = Get(table, uuid, column);
    return d.empty() || db::TypeOf(d.keys[0]) != AtomicType::kString
               ? ""
               : std::get<std::string>(d.keys[0]);
  }

  // The UUIDs in a reference column.
  std::vector<Uuid> GetRefs(const std::string& table, const Uuid& uuid, const std::string& column) {
    std::vector<Uuid> out;
    for (const Atom& a : Get(table, uuid, column).keys) {
      if (db::TypeOf(a) == AtomicType::kUuid) out.push_back(std::get<Uuid>(a));
    }
    return out;
  }

  // Replaces a column's value.
  void SetWhole(const std::string& table, const Uuid& uuid, const std::string& column, Datum d) {
    Row* r = FindRow(table, uuid);
    r->cols[column] = std::move(d);
    if (!r->is_new) r->whole.insert(column);
  }

  // Replaces a column's value, to be committed as a mutation of the keys or
  // elements that differ (sets and maps; a column of at most one value is
  // written whole).
  void SetPartial(const std::string& table, const Uuid& uuid, const std::string& column, Datum d) {
    const Type& t = Column(table, column).type;
    if (!t.is_map() && t.max == 1) return SetWhole(table, uuid, column, std::move(d));
    Row* r = FindRow(table, uuid);
    r->cols[column] = std::move(d);
    if (!r->is_new) r->partial.insert(column);
  }

  // A new row with every column at its default. A pinned row (create) is
  // kept even while nothing refers to it yet (--id=@name may come later).
  void Insert(const std::string& table, const Uuid& uuid, bool pinned) {
    TableData& td = tables_.at(table);
    Row row;
    row.is_new = true;
    row.pinned = pinned;
    for (const ColumnSchema& c : td.schema->columns)
      row.cols.emplace(c.name, db::DefaultDatum(c.type));
    td.rows[uuid] = std::move(row);
    new_rows_[uuid] = table;
  }

  void Destroy(const std::string& table, const Uuid& uuid) {
    TableData& td = tables_.at(table);
    auto it = td.rows.find(uuid);
    if (it == td.rows.end()) return;
    if (it->second.is_new) {
      td.rows.erase(it);
      new_rows_.erase(uuid);
    } else {
      it->second.deleted = true;
    }
  }

  // Collects the non-root rows no strong reference reaches from a root row
  // or a pinned row, as the server will at commit: existing ones are marked
  // collected (their changes are moot), new ones are dropped.
  void CollectGarbage() {
    std::set<std::pair<std::string, Uuid>> reached;
    std::vector<std::pair<std::string, Uuid>> stack;
    for (auto& [name, td] : tables_) {
      for (auto& [uuid, row] : td.rows) {
        if (row.live() && (td.schema->is_root || row.pinned)) stack.emplace_back(name, uuid);
      }
    }
    while (!stack.empty()) {
      auto [name, uuid] = stack.back();
      stack.pop_back();
      if (!reached.insert({name, uuid}).second) continue;
      TableData& td = tables_.at(name);
      const Row& row = td.rows.at(uuid);
      for (const ColumnSchema& c : td.schema->columns) {
        const Datum& d = row.cols.at(c.name);
        auto follow = [&](const db::BaseType& base, const std::vector<Atom>& atoms) {
          if (!base.is_strong_ref()) return;
          auto target = tables_.find(base.ref_table);
          if (target == tables_.end()) return;
          for (const Atom& a : atoms) {
            const Uuid& u = std::get<Uuid>(a);
            auto r = target->second.rows.find(u);
            if (r != target->second.rows.end() && r->second.live())
              stack.emplace_back(base.ref_table, u);
          }
        };
        follow(c.type.key, d.keys);
        if (c.type.value) follow(*c.type.value, d.values);
      }
    }
    for (auto& [name, td] : tables_) {
      if (td.schema->is_root) continue;
      for (auto it = td.rows.begin(); it != td.rows.end();) {
        Row& row = it->second;
        if (!row.live() || reached.count({name, it->first})) {
          ++it;
        } else if (row.is_new) {
          new_rows_.erase(it->first);
          it = td.rows.erase(it);
        } else {
          row.collected = true;
          ++it;
        }
      }
    }
  }

  bool Changed() const {
    if (!new_rows_.empty()) return true;
    for (const auto& [name, td] : tables_) {
      for (const auto& [uuid, row] : td.rows) {
        if (row.deleted) return true;
        if (row.collected) continue;
        for (const auto& c : row.whole) {
          if (row.cols.at(c) != snapshot_.at(name).at(uuid).at(c)) return true;
        }
        for (const auto& c : row.partial) {
          if (row.cols.at(c) != snapshot_.at(name).at(uuid).at(c)) return true;
        }
      }
    }
    return false;
  }

  // The "wait" operations that check every column read is as it was read,
  // then the operations that make the changes. *inserts gets, for each
  // insert operation, its index in the returned array and its row's
  // temporary UUID.
  Json Operations(std::vector<std::pair<size_t, Uuid>>* inserts, size_t* n_waits) const {
    Json ops = Json::array();
    for (const auto& [name, cols] : reads_) {
      const TableData& td = tables_.at(name);
      Json rows = Json::array();
      auto snap = snapshot_.find(name);
      if (snap != snapshot_.end()) {
        for (const auto& [uuid, values] : snap->second) {
          Json row = Json::object();
          for (const auto& c : cols) {
            if (c == "_uuid") {
              row[c] = Json::array({"uuid", uuid.ToString()});
            } else {
              row[c] =
                  db::DatumToJson(values.at(c), td.schema->columns[td.schema->ColumnIndex(c)].type);
            }
          }
          rows.push_back(std::move(row));
        }
      }
      ops.push_back(Json{{"op", "wait"},
                         {"table", name},
                         {"where", Json::array()},
                         {"columns", Json(std::vector<std::string>(cols.begin(), cols.end()))},
                         {"until", "=="},
                         {"rows", std::move(rows)},
                         {"timeout", 0}});
    }
    *n_waits = ops.size();
    for (const auto& [name, td] : tables_) {
      for (const auto& [uuid, row] : td.rows) {
        if (row.is_new) {
          Json values = Json::object();
          for (const ColumnSchema& c : td.schema->columns) {
            const Datum& d = row.cols.at(c.name);
            if (d != db::DefaultDatum(c.type)) values[c.name] = Named(db::DatumToJson(d, c.type));
          }
          inserts->emplace_back(ops.size(), uuid);
          ops.push_back(Json{
              {"op", "insert"}, {"table", name}, {"uuid-name", NameOf(uuid)}, {"row", values}});
          continue;
        }
        Json where =
            Json::array({Json::array({"_uuid", "==", Json::array({"uuid", uuid.ToString()})})});
        if (row.deleted) {
          ops.push_back(Json{{"op", "delete"}, {"table", name}, {"where", where}});
          continue;
        }
        if (row.collected) continue;  // the server deletes it
        const auto& before = snapshot_.at(name).at(uuid);
        Json update = Json::object();
        Json mutations = Json::array();
        for (const ColumnSchema& c : td.schema->columns) {
          const Datum& now = row.cols.at(c.name);
          const Datum& was = before.at(c.name);
          if (now == was) continue;
          if (row.whole.count(c.name)) {
            update[c.name] = Named(db::DatumToJson(now, c.type));
          } else if (row.partial.count(c.name)) {
            AddMutations(c, was, now, &mutations);
          }
        }
        if (!update.empty())
          ops.push_back(Json{{"op", "update"}, {"table", name}, {"where", where}, {"row", update}});
        if (!mutations.empty()) {
          ops.push_back(
              Json{{"op", "mutate"}, {"table", name}, {"where", where}, {"mutations", mutations}});
        }
      }
    }
    return ops;
  }

  bool IsNew(const Uuid& uuid) const { return new_rows_.count(uuid) != 0; }

  const ColumnSchema& Column(const std::string& table, const std::string& column) const {
    const TableSchema* ts = tables_.at(table).schema;
    return ts->columns[ts->ColumnIndex(column)];
  }

 private:
  Row* FindRow(const std::string& table, const Uuid& uuid) {
    auto t = tables_.find(table);
    if (t == tables_.end()) return nullptr;
    auto r = t->second.rows.find(uuid);
    return r == t->second.rows.end() ? nullptr : &r->second;
  }

  static std::string NameOf(const Uuid& uuid) {
    std::string s = uuid.ToString();
    s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
    return "row" + s;
  }

  // Replaces references to rows created in this run by "named-uuid"s.
  Json Named(Json j) const {
    if (j.is_array()) {
      if (j.size() == 2 && j[0] == "uuid" && j[1].is_string()) {
        auto u = Uuid::Parse(j[1].get<std::string>());
        if (u && IsNew(*u)) return Json::array({"named-uuid", NameOf(*u)});
        return j;
      }
      for (auto& e : j) e = Named(std::move(e));
    }
    return j;
  }

  // Mutations turning `was` into `now` for a set or map column.
  void AddMutations(const ColumnSchema& c, const Datum& was, const Datum& now,
                    Json* mutations) const {
    Type keys = SetOf(c.type.key);
    Datum removed, added;
    for (size_t i = 0; i < was.size(); ++i) {
      ptrdiff_t j = now.Find(was.keys[i]);
      if (j < 0 || (c.type.is_map() && now.values[j] != was.values[i]))
        removed.keys.push_back(was.keys[i]);
    }
    for (size_t i = 0; i < now.size(); ++i) {
      ptrdiff_t j = was.Find(now.keys[i]);
      if (j < 0 || (c.type.is_map() && was.values[j] != now.values[i])) {
        added.keys.push_back(now.keys[i]);
        if (c.type.is_map()) added.values.push_back(now.values[i]);
      }
    }
    if (!removed.empty())
      mutations->push_back(Json::array({c.name, "delete", Named(db::DatumToJson(removed, keys))}));
    if (!added.empty()) {
      Type t = Unbounded(c.type);
      mutations->push_back(Json::array({c.name, "insert", Named(db::DatumToJson(added, t))}));
    }
  }

  const Schema& schema_;
  std::map<std::string, TableData> tables_;
  std::map<std::string, std::map<Uuid, std::map<std::string, Datum>>> snapshot_;
  std::map<std::string, std::set<std::string>> reads_;  // table -> columns read
  std::map<Uuid, std::string> new_rows_;                // uuid -> table
  Datum uuid_datum_;
};

// ---------------------------------------------------------------------------
// Commands.

struct Command {
  std::string name;
  std::vector<std::string> args;
  std::set<std::string> options;     // "--if-exists", "--may-exist", "--all", "--with-iface"
  std::string id;                    // --id=@name
  std::vector<std::string> columns;  // --columns=
  std::string output;
};

// What a command works with: the run's Model, options and --id symbols, and
// the lookups and changes the commands share (defined in vsctl.cc).
struct Context {
  Model* m;
  const VsctlOptions* o;
  SymbolTable* symbols;
  db::UuidGenerator* gen;
  std::string format;  // list | table | json
  std::string warnings;
  int exit_code = 0;  // set by br-exists (2)

  bool has(const Command& c, const char* option) const { return c.options.count(option) != 0; }

  // -- schema names --
  Status ResolveTable(const std::string& want, std::string* out) const;
  Status ResolveColumn(const std::string& table, const std::string& want, ColumnRef* out) const;

  // -- records --
  std::optional<Uuid> Root();
  Status NeedRoot(Uuid* out);

  // The live row of `table` whose string column `column` is `name`.
  std::optional<Uuid> FindByName(const std::string& table, const std::string& column,
                                 const std::string& name);

  // Finds the record `rec` of `table` (see vsctl.h). nullopt + ok: none.
  Status FindRecord(const std::string& table, const std::string& rec, std::optional<Uuid>* out);
  Status MustFindRecord(const std::string& table, const std::string& rec, Uuid* out);

  // -- bridges, ports, interfaces --
  std::optional<Uuid> Bridge(const std::string& name) { return FindByName("Bridge", "name", name); }
  std::optional<Uuid> Port(const std::string& name) { return FindByName("Port", "name", name); }
  std::optional<Uuid> Iface(const std::string& name) {
    return FindByName("Interface", "name", name);
  }

  Status MustBridge(const std::string& name, Uuid* out);
  std::optional<Uuid> BridgeOfPort(const Uuid& port);
  std::optional<Uuid> PortOfIface(const Uuid& iface);

  std::string Name(const std::string& table, const Uuid& u) {
    return m->GetString(table, u, "name");
  }

  // -- values --
  // Applies "COL[:KEY]=VALUE" to a row (set, create, add-port).
  Status SetColumn(const std::string& table, const Uuid& row, const std::string& arg,
                   bool creating);

  // Creates a row (with a symbol's UUID when named). Rows the commands
  // create for their own structure (add-br's port and interface, ...) go
  // away when unreferenced; `pinned` ones (create) stay until the commit.
  Uuid NewRow(const std::string& table, const std::string& id, bool pinned = false);

  static Datum Strings(const std::vector<std::string>& v);
  static Datum Refs(const std::vector<Uuid>& v);

  // Adds or removes one UUID in a reference set, as a mutation.
  void AddRef(const std::string& table, const Uuid& row, const std::string& column,
              const Uuid& ref);
  void RemoveRef(const std::string& table, const Uuid& row, const std::string& column,
                 const Uuid& ref);
};

// Appends a line to the command's output.
void Print(Command& c, const std::string& line);

// The commands: each runs against x.m, prints into c.output, and returns an
// error that fails the whole run.

// vsctl_bridge_cmds.cc
Status CmdInit(Context& x, Command& c);
Status CmdAddBr(Context& x, Command& c);
Status CmdDelBr(Context& x, Command& c);
Status CmdListBr(Context& x, Command& c);
Status CmdBrExists(Context& x, Command& c);
Status CmdBrSetExternalId(Context& x, Command& c);
Status CmdBrGetExternalId(Context& x, Command& c);
Status CmdAddPort(Context& x, Command& c);
Status CmdDelPort(Context& x, Command& c);
Status CmdListPorts(Context& x, Command& c);
Status CmdListIfaces(Context& x, Command& c);
Status CmdPortToBr(Context& x, Command& c);
Status CmdIfaceToBr(Context& x, Command& c);
Status CmdSetController(Context& x, Command& c);
Status CmdDelController(Context& x, Command& c);
Status CmdGetController(Context& x, Command& c);
Status CmdSetFailMode(Context& x, Command& c);
Status CmdGetFailMode(Context& x, Command& c);
Status CmdDelFailMode(Context& x, Command& c);
Status CmdSetManager(Context& x, Command& c);
Status CmdDelManager(Context& x, Command& c);
Status CmdGetManager(Context& x, Command& c);
Status CmdShow(Context& x, Command& c);

// vsctl_db_cmds.cc
Status CmdList(Context& x, Command& c);
Status CmdFind(Context& x, Command& c);
Status CmdGet(Context& x, Command& c);
Status CmdSet(Context& x, Command& c);
Status CmdAdd(Context& x, Command& c);
Status CmdRemove(Context& x, Command& c);
Status CmdClear(Context& x, Command& c);
Status CmdCreate(Context& x, Command& c);
Status CmdDestroy(Context& x, Command& c);

}  // namespace sluice::ctl::vsctl_detail
