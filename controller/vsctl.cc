// sluicectl's ovs-vsctl-style configuration commands. See vsctl.h for the
// design; this file is laid out as:
//   1. value syntax: parsing ovs-vsctl's atom/datum notation, printing it;
//   2. Model: the in-memory copy of the database a run works on, with read
//      tracking, change tracking, garbage collection and the operations
//      that commit it;
//   3. record and name lookup (ovs-vsctl's ways of naming rows);
//   4. the commands;
//   5. RunVsctl: parse, read, run, commit, retry, wait.
#include "controller/vsctl.h"
#include "controller/vsctl_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "datapath/util/status.h"
#include "db/client.h"
#include "db/database.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl {
namespace {

using db::Atom;
using db::AtomicType;
using db::ColumnSchema;
using db::Datum;
using db::Json;
using db::Schema;
using db::TableSchema;
using db::Type;
using db::Uuid;

// How often a run is redone when a concurrent change invalidated what it read.
constexpr int kMaxAttempts = 20;
// Exit code for an expired --timeout (ovs-vsctl dies of SIGALRM: 128 + 14).
constexpr int kTimeoutExit = 142;

using namespace vsctl_detail;

// ---------------------------------------------------------------------------
// 2. The in-memory database of one run.

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

// ---------------------------------------------------------------------------
// 4. Commands.

struct Command {
  std::string name;
  std::vector<std::string> args;
  std::set<std::string> options;     // "--if-exists", "--may-exist", "--all", "--with-iface"
  std::string id;                    // --id=@name
  std::vector<std::string> columns;  // --columns=
  std::string output;
};

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
  Status ResolveTable(const std::string& want, std::string* out) const {
    std::vector<std::string> names;
    for (const auto& t : m->schema().tables()) names.push_back(t.name);
    bool ambiguous;
    int i = MatchName(names, want, &ambiguous);
    if (ambiguous) return Status::Errorf("multiple table names match \"{}\"", want);
    if (i < 0) return Status::Errorf("unknown table \"{}\"", want);
    *out = names[i];
    return Status::Ok();
  }

  Status ResolveColumn(const std::string& table, const std::string& want, ColumnRef* out) const {
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

  // -- records --
  std::optional<Uuid> Root() {
    if (!m->Table("Open_vSwitch")) return std::nullopt;
    auto rows = m->Rows("Open_vSwitch");
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  Status NeedRoot(Uuid* out) {
    auto r = Root();
    if (!r)
      return Status::Error(
          "database is not initialized: it has no Open_vSwitch row (run \"sluicectl init\")");
    *out = *r;
    return Status::Ok();
  }

  // The live row of `table` whose string column `column` is `name`.
  std::optional<Uuid> FindByName(const std::string& table, const std::string& column,
                                 const std::string& name) {
    if (!m->Table(table) || m->Table(table)->ColumnIndex(column) < 0) return std::nullopt;
    for (const Uuid& u : m->Rows(table)) {
      if (m->GetString(table, u, column) == name) return u;
    }
    return std::nullopt;
  }

  // Finds the record `rec` of `table` (see vsctl.h). nullopt + ok: none.
  Status FindRecord(const std::string& table, const std::string& rec, std::optional<Uuid>* out) {
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

  Status MustFindRecord(const std::string& table, const std::string& rec, Uuid* out) {
    std::optional<Uuid> u;
    SLUICE_RETURN_IF_ERROR(FindRecord(table, rec, &u));
    if (!u) return Status::Errorf("no row \"{}\" in table {}", rec, table);
    *out = *u;
    return Status::Ok();
  }

  // -- bridges, ports, interfaces --
  std::optional<Uuid> Bridge(const std::string& name) { return FindByName("Bridge", "name", name); }
  std::optional<Uuid> Port(const std::string& name) { return FindByName("Port", "name", name); }
  std::optional<Uuid> Iface(const std::string& name) {
    return FindByName("Interface", "name", name);
  }

  Status MustBridge(const std::string& name, Uuid* out) {
    auto b = Bridge(name);
    if (!b) return Status::Errorf("no bridge named {}", name);
    *out = *b;
    return Status::Ok();
  }

  std::optional<Uuid> BridgeOfPort(const Uuid& port) {
    for (const Uuid& b : m->Rows("Bridge")) {
      for (const Uuid& p : m->GetRefs("Bridge", b, "ports")) {
        if (p == port) return b;
      }
    }
    return std::nullopt;
  }

  std::optional<Uuid> PortOfIface(const Uuid& iface) {
    for (const Uuid& p : m->Rows("Port")) {
      for (const Uuid& i : m->GetRefs("Port", p, "interfaces")) {
        if (i == iface) return p;
      }
    }
    return std::nullopt;
  }

  std::string Name(const std::string& table, const Uuid& u) {
    return m->GetString(table, u, "name");
  }

  // -- values --
  // Applies "COL[:KEY]=VALUE" to a row (set, create, add-port).
  Status SetColumn(const std::string& table, const Uuid& row, const std::string& arg,
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

  // Creates a row (with a symbol's UUID when named). Rows the commands
  // create for their own structure (add-br's port and interface, ...) go
  // away when unreferenced; `pinned` ones (create) stay until the commit.
  Uuid NewRow(const std::string& table, const std::string& id, bool pinned = false) {
    Uuid u = id.empty() ? gen->Next() : symbols->Get(id).uuid;
    if (!id.empty()) symbols->Get(id).created = true;
    m->Insert(table, u, pinned || !id.empty());
    return u;
  }

  static Datum Strings(const std::vector<std::string>& v) {
    Datum d;
    for (const auto& s : v) d.keys.push_back(s);
    d.SortDedup();
    return d;
  }
  static Datum Refs(const std::vector<Uuid>& v) {
    Datum d;
    for (const auto& u : v) d.keys.push_back(u);
    d.SortDedup();
    return d;
  }

  // Adds or removes one UUID in a reference set, as a mutation.
  void AddRef(const std::string& table, const Uuid& row, const std::string& column,
              const Uuid& ref) {
    Datum d = m->Peek(table, row, column);
    d.keys.push_back(ref);
    d.SortDedup();
    m->SetPartial(table, row, column, std::move(d));
  }
  void RemoveRef(const std::string& table, const Uuid& row, const std::string& column,
                 const Uuid& ref) {
    Datum d = m->Peek(table, row, column);
    ptrdiff_t i = d.Find(ref);
    if (i < 0) return;
    d.keys.erase(d.keys.begin() + i);
    m->SetPartial(table, row, column, std::move(d));
  }
};

void Print(Command& c, const std::string& line) { c.output += line + "\n"; }

// The local port of a bridge is the port named as the bridge.
bool IsLocalPort(Context& x, const Uuid& bridge, const Uuid& port) {
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

// --- generic database commands ---

// The columns a list/find prints: --columns, else _uuid and every column.
Status OutputColumns(Context& x, const std::string& table, const Command& c,
                     std::vector<ColumnRef>* out) {
  if (c.columns.empty()) {
    ColumnRef u;
    SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, "_uuid", &u));
    out->push_back(u);
    for (const auto& col : x.m->Table(table)->columns) {
      ColumnRef r;
      SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, col.name, &r));
      out->push_back(r);
    }
    return Status::Ok();
  }
  for (const auto& name : c.columns) {
    ColumnRef r;
    SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, name, &r));
    out->push_back(r);
  }
  return Status::Ok();
}

// Prints rows as --format/--bare ask (ovs-vsctl's list, table and json).
void PrintRows(Context& x, Command& c, const std::string& table, const std::vector<ColumnRef>& cols,
               const std::vector<Uuid>& rows) {
  Model& m = *x.m;
  if (x.format == "json" && !x.o->bare) {
    Json data = Json::array();
    for (const Uuid& u : rows) {
      Json row = Json::array();
      for (const auto& col : cols)
        row.push_back(db::DatumToJson(m.Get(table, u, col.name), *col.type));
      data.push_back(std::move(row));
    }
    Json headings = Json::array();
    for (const auto& col : cols) headings.push_back(col.name);
    Print(c, Json{{"data", data}, {"headings", headings}}.dump(-1, ' ', false,
                                                               Json::error_handler_t::replace));
    return;
  }
  if (x.format == "table" && !x.o->bare) {
    std::vector<std::vector<std::string>> cells;
    std::vector<size_t> width;
    for (const auto& col : cols) width.push_back(col.name.size());
    for (const Uuid& u : rows) {
      std::vector<std::string> line;
      for (size_t i = 0; i < cols.size(); ++i) {
        line.push_back(DatumText(m.Get(table, u, cols[i].name), *cols[i].type, false));
        width[i] = std::max(width[i], line.back().size());
      }
      cells.push_back(std::move(line));
    }
    auto emit = [&](const std::vector<std::string>& line) {
      std::string s;
      for (size_t i = 0; i < line.size(); ++i) {
        if (i) s += ' ';
        s += line[i];
        if (i + 1 < line.size()) s.append(width[i] - line[i].size(), ' ');
      }
      Print(c, s);
    };
    std::vector<std::string> head, dashes;
    for (size_t i = 0; i < cols.size(); ++i) {
      head.push_back(cols[i].name);
      dashes.push_back(std::string(width[i], '-'));
    }
    emit(head);
    emit(dashes);
    for (const auto& line : cells) emit(line);
    return;
  }
  bool first = true;
  for (const Uuid& u : rows) {
    if (!first) Print(c, "");
    first = false;
    for (const auto& col : cols) {
      std::string value = DatumText(m.Get(table, u, col.name), *col.type, x.o->bare);
      if (x.o->bare) {
        Print(c, value);
      } else {
        Print(c, fmt::format("{:<20}: {}", col.name, value));
      }
    }
  }
}

// Rows in a stable order: by name when the table has one, else by UUID.
std::vector<Uuid> SortRows(Context& x, const std::string& table, std::vector<Uuid> rows) {
  const TableSchema* ts = x.m->Table(table);
  int name = ts->ColumnIndex("name");
  if (name < 0 || ts->columns[name].type.key.type != AtomicType::kString) return rows;
  std::vector<std::pair<std::string, Uuid>> v;
  for (const Uuid& u : rows) v.emplace_back(x.m->GetString(table, u, "name"), u);
  std::sort(v.begin(), v.end());
  rows.clear();
  for (auto& [n, u] : v) rows.push_back(u);
  return rows;
}

Status CmdList(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  std::vector<ColumnRef> cols;
  SLUICE_RETURN_IF_ERROR(OutputColumns(x, table, c, &cols));
  std::vector<Uuid> rows;
  if (c.args.size() == 1) {
    rows = SortRows(x, table, x.m->Rows(table));
  } else {
    for (size_t i = 1; i < c.args.size(); ++i) {
      std::optional<Uuid> u;
      SLUICE_RETURN_IF_ERROR(x.FindRecord(table, c.args[i], &u));
      if (!u) {
        if (x.has(c, "--if-exists")) continue;
        return Status::Errorf("no row \"{}\" in table {}", c.args[i], table);
      }
      rows.push_back(*u);
    }
  }
  PrintRows(x, c, table, cols, rows);
  return Status::Ok();
}

bool IsSubset(const Datum& a, const Datum& b, bool is_map) {
  for (size_t i = 0; i < a.size(); ++i) {
    ptrdiff_t j = b.Find(a.keys[i]);
    if (j < 0 || (is_map && b.values[j] != a.values[i])) return false;
  }
  return true;
}

bool Compare(const std::string& op, const Datum& have, const Datum& want, bool is_map) {
  if (op == "=" || op == "{=}") return have == want;
  if (op == "!=" || op == "{!=}") return have != want;
  if (op == "<") return have < want;
  if (op == "<=") return !(want < have);
  if (op == ">") return want < have;
  if (op == ">=") return !(have < want);
  if (op == "{<=}") return IsSubset(have, want, is_map);
  if (op == "{<}") return IsSubset(have, want, is_map) && have != want;
  if (op == "{>=}") return IsSubset(want, have, is_map);
  if (op == "{>}") return IsSubset(want, have, is_map) && have != want;
  return false;
}

Status CmdFind(Context& x, Command& c) {
  static const std::vector<std::string> kOps = {"{>=}", "{<=}", "{!=}", "{=}", "{<}", "{>}",
                                                "!=",   "<=",   ">=",   "=",   "<",   ">"};
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  struct Cond {
    ColumnRef col;
    std::optional<Atom> key;
    std::string op;
    Datum value;
    bool is_map;  // compare as map pairs
  };
  std::vector<Cond> conds;
  for (size_t i = 1; i < c.args.size(); ++i) {
    ColumnArg ca;
    SLUICE_RETURN_IF_ERROR(SplitColumnArg(c.args[i], kOps, &ca));
    Cond cond;
    SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, ca.column, &cond.col));
    cond.op = ca.op;
    const Type& t = *cond.col.type;
    cond.is_map = t.is_map() && !ca.key;
    if (ca.key) {
      if (!t.is_map())
        return Status::Errorf("cannot specify key to check for non-map column {}", cond.col.name);
      Atom k, v;
      SLUICE_RETURN_IF_ERROR(ParseWholeAtom(*ca.key, db::BaseType::Of(t.key.type), x.symbols, &k));
      SLUICE_RETURN_IF_ERROR(
          ParseWholeAtom(ca.value, db::BaseType::Of(t.value->type), x.symbols, &v));
      cond.key = k;
      cond.value = Datum::Scalar(v);
    } else {
      SLUICE_RETURN_IF_ERROR(ParseDatum(ca.value, t, x.symbols, false, &cond.value));
    }
    conds.push_back(std::move(cond));
  }
  std::vector<ColumnRef> cols;
  SLUICE_RETURN_IF_ERROR(OutputColumns(x, table, c, &cols));
  std::vector<Uuid> rows;
  for (const Uuid& u : SortRows(x, table, x.m->Rows(table))) {
    bool match = true;
    for (const Cond& cond : conds) {
      Datum have = x.m->Get(table, u, cond.col.name);
      if (cond.key) {
        ptrdiff_t j = have.Find(*cond.key);
        if (j < 0) {
          match = false;
          break;
        }
        have = Datum::Scalar(have.values[j]);
      }
      if (!Compare(cond.op, have, cond.value, cond.is_map)) {
        match = false;
        break;
      }
    }
    if (match) rows.push_back(u);
  }
  PrintRows(x, c, table, cols, rows);
  return Status::Ok();
}

Status CmdGet(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  std::optional<Uuid> row;
  SLUICE_RETURN_IF_ERROR(x.FindRecord(table, c.args[1], &row));
  if (!row) {
    if (x.has(c, "--if-exists")) return Status::Ok();
    return Status::Errorf("no row \"{}\" in table {}", c.args[1], table);
  }
  if (!c.id.empty()) {
    Symbol& sym = x.symbols->Get(c.id);
    if (sym.created)
      return Status::Errorf("row id \"{}\" may only be specified on one --id option", c.id);
    sym.created = true;
    sym.uuid = *row;
  }
  bool json = x.format == "json";
  for (size_t i = 2; i < c.args.size(); ++i) {
    ColumnArg ca;
    SLUICE_RETURN_IF_ERROR(SplitColumnArg(c.args[i], {}, &ca));
    ColumnRef col;
    SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, ca.column, &col));
    const Datum& d = x.m->Get(table, *row, col.name);
    const Type& t = *col.type;
    if (ca.key) {
      if (!t.is_map())
        return Status::Errorf("cannot specify key to get for non-map column {}", col.name);
      Atom k;
      SLUICE_RETURN_IF_ERROR(ParseWholeAtom(*ca.key, db::BaseType::Of(t.key.type), x.symbols, &k));
      ptrdiff_t j = d.Find(k);
      if (j < 0) {
        if (x.has(c, "--if-exists")) {
          Print(c, "");
          continue;
        }
        return Status::Errorf("no key \"{}\" in {} record \"{}\" column {}", *ca.key, table,
                              c.args[1], col.name);
      }
      Print(c, json ? db::AtomToJson(d.values[j]).dump() : AtomText(d.values[j], false));
    } else {
      Print(c, json ? db::DatumToJson(d, t).dump() : DatumText(d, t, false));
    }
  }
  return Status::Ok();
}

Status CmdSet(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  std::optional<Uuid> row;
  SLUICE_RETURN_IF_ERROR(x.FindRecord(table, c.args[1], &row));
  if (!row) {
    if (x.has(c, "--if-exists")) return Status::Ok();
    return Status::Errorf("no row \"{}\" in table {}", c.args[1], table);
  }
  for (size_t i = 2; i < c.args.size(); ++i)
    SLUICE_RETURN_IF_ERROR(x.SetColumn(table, *row, c.args[i], false));
  return Status::Ok();
}

// Resolves "TBL REC COL" for add, remove and clear. *row unset + ok: a
// missing record with --if-exists.
Status RecordColumn(Context& x, Command& c, std::string* table, std::optional<Uuid>* row,
                    ColumnRef* col) {
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], table));
  SLUICE_RETURN_IF_ERROR(x.FindRecord(*table, c.args[1], row));
  if (!*row && !x.has(c, "--if-exists"))
    return Status::Errorf("no row \"{}\" in table {}", c.args[1], *table);
  SLUICE_RETURN_IF_ERROR(x.ResolveColumn(*table, c.args[2], col));
  if (col->is_uuid || !col->is_mutable) {
    return Status::Errorf("cannot modify read-only column {} in table {}", col->name, *table);
  }
  return Status::Ok();
}

Status CmdAdd(Context& x, Command& c) {
  std::string table;
  std::optional<Uuid> row;
  ColumnRef col;
  SLUICE_RETURN_IF_ERROR(RecordColumn(x, c, &table, &row, &col));
  if (!row) return Status::Ok();
  const Type& t = *col.type;
  Datum d = x.m->Get(table, *row, col.name);
  for (size_t i = 3; i < c.args.size(); ++i) {
    Datum add;
    SLUICE_RETURN_IF_ERROR(ParseDatum(c.args[i], Unbounded(t), x.symbols, false, &add));
    for (size_t j = 0; j < add.size(); ++j) {
      if (d.Find(add.keys[j]) >= 0) continue;  // a map keeps its value; a set has it
      d.keys.push_back(add.keys[j]);
      if (t.is_map()) d.values.push_back(add.values[j]);
      d.SortUnique();
    }
  }
  if (d.size() > t.max) {
    return Status::Errorf(
        "\"add\" operation would put {} values in column {} of table {} but the maximum number is "
        "{}",
        d.size(), col.name, table, t.max);
  }
  if (auto e = db::CheckDatum(d, t)) return Status::Errorf("constraint violation: {}", e->details);
  x.m->SetPartial(table, *row, col.name, std::move(d));
  return Status::Ok();
}

Status CmdRemove(Context& x, Command& c) {
  std::string table;
  std::optional<Uuid> row;
  ColumnRef col;
  SLUICE_RETURN_IF_ERROR(RecordColumn(x, c, &table, &row, &col));
  if (!row) return Status::Ok();
  const Type& t = *col.type;
  Datum d = x.m->Get(table, *row, col.name);
  for (size_t i = 3; i < c.args.size(); ++i) {
    Datum pairs, keys;
    if (t.is_map() && ParseDatum(c.args[i], Unbounded(t), x.symbols, false, &pairs).ok()) {
      for (size_t j = 0; j < pairs.size(); ++j) {
        ptrdiff_t k = d.Find(pairs.keys[j]);
        if (k >= 0 && d.values[k] == pairs.values[j]) {
          d.keys.erase(d.keys.begin() + k);
          d.values.erase(d.values.begin() + k);
        }
      }
      continue;
    }
    SLUICE_RETURN_IF_ERROR(
        ParseDatum(c.args[i], SetOf(db::BaseType::Of(t.key.type)), x.symbols, false, &keys));
    for (const Atom& a : keys.keys) {
      ptrdiff_t k = d.Find(a);
      if (k < 0) continue;
      d.keys.erase(d.keys.begin() + k);
      if (t.is_map()) d.values.erase(d.values.begin() + k);
    }
  }
  if (d.size() < t.min) {
    return Status::Errorf(
        "\"remove\" operation would put {} values in column {} of table {} but the minimum number "
        "is {}",
        d.size(), col.name, table, t.min);
  }
  x.m->SetPartial(table, *row, col.name, std::move(d));
  return Status::Ok();
}

Status CmdClear(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  std::optional<Uuid> row;
  SLUICE_RETURN_IF_ERROR(x.FindRecord(table, c.args[1], &row));
  if (!row) {
    if (x.has(c, "--if-exists")) return Status::Ok();
    return Status::Errorf("no row \"{}\" in table {}", c.args[1], table);
  }
  for (size_t i = 2; i < c.args.size(); ++i) {
    ColumnRef col;
    SLUICE_RETURN_IF_ERROR(x.ResolveColumn(table, c.args[i], &col));
    if (col.is_uuid || !col.is_mutable) {
      return Status::Errorf("cannot modify read-only column {} in table {}", col.name, table);
    }
    if (col.type->min > 0) {
      return Status::Errorf(
          "\"clear\" operation cannot be applied to column {} of table {}, which is not allowed to "
          "be empty",
          col.name, table);
    }
    x.m->SetWhole(table, *row, col.name, Datum());
  }
  return Status::Ok();
}

Status CmdCreate(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  if (!c.id.empty() && x.symbols->Get(c.id).created) {
    return Status::Errorf("row id \"{}\" may only be specified on one --id option", c.id);
  }
  if (c.id.empty() && !x.m->Table(table)->is_root) {
    x.warnings += fmt::format(
        "sluicectl: warning: applying \"create\" command to table {} without --id option will have "
        "no effect\n",
        table);
  }
  Uuid u = x.NewRow(table, c.id, true);
  for (size_t i = 1; i < c.args.size(); ++i)
    SLUICE_RETURN_IF_ERROR(x.SetColumn(table, u, c.args[i], true));
  Print(c, u.ToString());
  return Status::Ok();
}

Status CmdDestroy(Context& x, Command& c) {
  std::string table;
  SLUICE_RETURN_IF_ERROR(x.ResolveTable(c.args[0], &table));
  if (x.has(c, "--all")) {
    if (c.args.size() > 1)
      return Status::Error("--all and records argument should not be specified together");
    for (const Uuid& u : x.m->Rows(table)) x.m->Destroy(table, u);
    return Status::Ok();
  }
  if (c.args.size() < 2)
    return Status::Error("either --all or records argument should be specified");
  for (size_t i = 1; i < c.args.size(); ++i) {
    std::optional<Uuid> u;
    SLUICE_RETURN_IF_ERROR(x.FindRecord(table, c.args[i], &u));
    if (!u) {
      if (x.has(c, "--if-exists")) continue;
      return Status::Errorf("no row \"{}\" in table {}", c.args[i], table);
    }
    x.m->Destroy(table, *u);
  }
  return Status::Ok();
}

// --- the command table ---

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
