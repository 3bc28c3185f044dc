#include "db/monitor.h"

#include <algorithm>
#include <utility>

namespace sluice::db {

namespace {

ColumnKind KindOfType(const Json& type) {
  if (!type.is_object()) return ColumnKind::kAtom;  // "integer", "string", ...
  if (type.contains("value")) return ColumnKind::kMap;
  int64_t min = 1;
  if (auto it = type.find("min"); it != type.end() && it->is_number_integer())
    min = it->get<int64_t>();
  bool max_one = true;
  if (auto it = type.find("max"); it != type.end()) {
    max_one = it->is_number_integer() && it->get<int64_t>() == 1;
  }
  return min == 1 && max_one ? ColumnKind::kAtom : ColumnKind::kSet;
}

// A set datum from canonical elements: one element stands for itself.
Json MakeSet(std::vector<Json> elems) {
  if (elems.size() == 1) return std::move(elems[0]);
  return Json::array({"set", Json(std::move(elems))});
}

bool IsTagged(const Json& d, const char* tag) {
  return d.is_array() && d.size() == 2 && d[0].is_string() &&
         d[0].get_ref<const std::string&>() == tag;
}

}  // namespace

// ---------------------------------------------------------------------------
// SchemaShape

SchemaShape::SchemaShape(const Json& schema) {
  auto tables = schema.find("tables");
  if (tables == schema.end() || !tables->is_object()) return;
  for (const auto& [name, table] : tables->items()) {
    Columns& cols = tables_[name];
    cols["_uuid"] = ColumnKind::kAtom;
    cols["_version"] = ColumnKind::kAtom;
    auto columns = table.find("columns");
    if (columns == table.end() || !columns->is_object()) continue;
    for (const auto& [cname, column] : columns->items()) {
      auto type = column.find("type");
      cols[cname] = type == column.end() ? ColumnKind::kAtom : KindOfType(*type);
    }
  }
}

const SchemaShape::Columns* SchemaShape::Table(const std::string& name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------
// Datums

std::vector<Json> DatumElements(const Json& datum) {
  std::vector<Json> elems;
  if ((IsTagged(datum, "set") || IsTagged(datum, "map")) && datum[1].is_array()) {
    elems.assign(datum[1].begin(), datum[1].end());
  } else {
    elems.push_back(datum);
  }
  std::sort(elems.begin(), elems.end());
  elems.erase(std::unique(elems.begin(), elems.end()), elems.end());
  return elems;
}

bool DatumEquals(const Json& a, const Json& b) {
  if (a == b) return true;
  return DatumElements(a) == DatumElements(b);
}

Json DatumDiff(ColumnKind kind, const Json& old_value, const Json& new_value) {
  switch (kind) {
    case ColumnKind::kAtom:
      return new_value;
    case ColumnKind::kSet: {
      std::vector<Json> o = DatumElements(old_value), n = DatumElements(new_value), d;
      std::set_symmetric_difference(o.begin(), o.end(), n.begin(), n.end(), std::back_inserter(d));
      return MakeSet(std::move(d));
    }
    case ColumnKind::kMap: {
      std::map<Json, Json> o, n;
      for (auto& p : DatumElements(old_value)) {
        if (p.is_array() && p.size() == 2) o.emplace(p[0], p[1]);
      }
      for (auto& p : DatumElements(new_value)) {
        if (p.is_array() && p.size() == 2) n.emplace(p[0], p[1]);
      }
      Json pairs = Json::array();
      for (const auto& [k, v] : o) {
        auto it = n.find(k);
        if (it == n.end()) {
          pairs.push_back(Json::array({k, v}));
        } else if (it->second != v) {
          pairs.push_back(Json::array({k, it->second}));
        }
      }
      for (const auto& [k, v] : n) {
        if (!o.count(k)) pairs.push_back(Json::array({k, v}));
      }
      std::sort(pairs.begin(), pairs.end());
      return Json::array({"map", std::move(pairs)});
    }
  }
  return new_value;
}

Json ProjectRow(const Json& row, const std::set<std::string>& columns) {
  Json out = Json::object();
  for (const auto& c : columns) {
    auto it = row.find(c);
    if (it != row.end()) out[c] = *it;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Condition

bool Condition::Parse(const Json& where, const SchemaShape::Columns& columns, Combine combine,
                      Condition* out, std::string* error) {
  static const std::map<std::string, Fn> kFns = {{"<", Fn::kLt},
                                                 {"<=", Fn::kLe},
                                                 {"==", Fn::kEq},
                                                 {"!=", Fn::kNe},
                                                 {">=", Fn::kGe},
                                                 {">", Fn::kGt},
                                                 {"includes", Fn::kIncludes},
                                                 {"excludes", Fn::kExcludes}};
  if (!where.is_array()) {
    *error = "\"where\" must be an array of conditions";
    return false;
  }
  Condition c;
  c.combine_ = combine;
  for (const auto& term : where) {
    ++c.terms_;
    if (term.is_boolean()) {
      (term.get<bool>() ? c.has_true_ : c.has_false_) = true;
      continue;
    }
    if (!term.is_array() || term.size() != 3 || !term[0].is_string() || !term[1].is_string()) {
      *error = "a condition must be [column, function, value] or a boolean, not " + term.dump();
      return false;
    }
    const auto& column = term[0].get_ref<const std::string&>();
    if (!columns.count(column)) {
      *error = "unknown column " + column;
      return false;
    }
    auto fn = kFns.find(term[1].get_ref<const std::string&>());
    if (fn == kFns.end()) {
      *error = "unknown function " + term[1].dump();
      return false;
    }
    c.clauses_.push_back({column, fn->second, DatumElements(term[2])});
  }
  *out = std::move(c);
  return true;
}

bool Condition::always_true() const {
  if (combine_ == Combine::kAll) return clauses_.empty() && !has_false_;
  return terms_ == 0 || has_true_;
}

void Condition::Or(const Condition& other) {
  if (always_true()) return;
  if (other.always_true()) {
    combine_ = Combine::kAny;
    clauses_.clear();
    has_true_ = true;
    ++terms_;
    return;
  }
  combine_ = Combine::kAny;
  clauses_.insert(clauses_.end(), other.clauses_.begin(), other.clauses_.end());
  has_true_ |= other.has_true_;
  has_false_ |= other.has_false_;
  terms_ += other.terms_;
}

bool Condition::Eval(const Clause& c, const Json& row) const {
  auto it = row.find(c.column);
  if (it == row.end()) return false;
  std::vector<Json> col = DatumElements(*it);
  switch (c.fn) {
    case Fn::kEq:
      return col == c.arg;
    case Fn::kNe:
      return col != c.arg;
    case Fn::kIncludes:
      return std::includes(col.begin(), col.end(), c.arg.begin(), c.arg.end());
    case Fn::kExcludes:
      for (const auto& a : c.arg) {
        if (std::binary_search(col.begin(), col.end(), a)) return false;
      }
      return true;
    case Fn::kLt:
    case Fn::kLe:
    case Fn::kGe:
    case Fn::kGt: {
      // Ordering applies to integers and reals; an empty optional column
      // makes it false (ovsdb-server(7) 5.1).
      if (col.size() != 1 || c.arg.size() != 1 || !col[0].is_number() || !c.arg[0].is_number())
        return false;
      const Json &a = col[0], &b = c.arg[0];
      switch (c.fn) {
        case Fn::kLt:
          return a < b;
        case Fn::kLe:
          return a <= b;
        case Fn::kGe:
          return a >= b;
        default:
          return a > b;
      }
    }
  }
  return false;
}

bool Condition::Matches(const Json& row) const {
  if (combine_ == Combine::kAll) {
    if (has_false_) return false;
    for (const auto& c : clauses_) {
      if (!Eval(c, row)) return false;
    }
    return true;
  }
  if (terms_ == 0 || has_true_) return true;
  for (const auto& c : clauses_) {
    if (Eval(c, row)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Monitor

namespace {

// The "where" of a list of monitor-cond requests: any request's condition.
bool ParseWhereList(const std::vector<const Json*>& requests, const SchemaShape::Columns& columns,
                    Condition* out, std::string* error) {
  bool first = true;
  Condition combined;
  for (const Json* r : requests) {
    Condition c;
    auto where = r->find("where");
    if (where != r->end() &&
        !Condition::Parse(*where, columns, Condition::Combine::kAny, &c, error)) {
      return false;
    }
    if (where == r->end())
      Condition::Parse(Json::array(), columns, Condition::Combine::kAny, &c, error);
    if (first) {
      combined = std::move(c);
      first = false;
    } else {
      combined.Or(c);
    }
  }
  *out = std::move(combined);
  return true;
}

// A request value is one object or an array of them.
bool RequestList(const Json& value, std::vector<const Json*>* out, std::string* error) {
  if (value.is_object()) {
    out->push_back(&value);
    return true;
  }
  if (!value.is_array()) {
    *error = "a monitor request must be an object or an array of objects";
    return false;
  }
  for (const auto& r : value) {
    if (!r.is_object()) {
      *error = "a monitor request must be an object";
      return false;
    }
    out->push_back(&r);
  }
  return true;
}

bool ParseColumns(const Json& request, const std::string& table, const SchemaShape::Columns& shape,
                  std::set<std::string>* out, std::string* error) {
  auto columns = request.find("columns");
  if (columns == request.end()) {
    // RFC 7047 4.1.5: every column except _uuid.
    for (const auto& [name, kind] : shape) {
      if (name != "_uuid") out->insert(name);
    }
    return true;
  }
  if (!columns->is_array()) {
    *error = "\"columns\" must be an array";
    return false;
  }
  for (const auto& c : *columns) {
    if (!c.is_string() || !shape.count(c.get<std::string>())) {
      *error = "unknown column " + c.dump() + " in table " + table;
      return false;
    }
    out->insert(c.get<std::string>());
  }
  return true;
}

}  // namespace

std::unique_ptr<Monitor> Monitor::Parse(const Json& requests, const SchemaShape& shape,
                                        MonitorVersion version, std::string* error) {
  if (!requests.is_object()) {
    *error = "monitor requests must be an object of table names";
    return nullptr;
  }
  auto m = std::make_unique<Monitor>();
  m->version_ = version;
  for (const auto& [table, value] : requests.items()) {
    const SchemaShape::Columns* cols = shape.Table(table);
    if (!cols) {
      *error = "unknown table " + table;
      return nullptr;
    }
    std::vector<const Json*> list;
    if (!RequestList(value, &list, error)) return nullptr;
    TableMonitor t;
    t.shape = cols;
    for (const Json* r : list) {
      std::set<std::string> columns;
      if (!ParseColumns(*r, table, *cols, &columns, error)) return nullptr;
      std::array<bool, 4> select = {true, true, true, true};
      if (auto sel = r->find("select"); sel != r->end()) {
        if (!sel->is_object()) {
          *error = "\"select\" must be an object";
          return nullptr;
        }
        static const char* kNames[] = {"initial", "insert", "delete", "modify"};
        for (int a = 0; a < 4; ++a) {
          auto it = sel->find(kNames[a]);
          if (it == sel->end()) continue;
          if (!it->is_boolean()) {
            *error = std::string("\"select\" member \"") + kNames[a] + "\" must be a boolean";
            return nullptr;
          }
          select[a] = it->get<bool>();
        }
      }
      for (int a = 0; a < 4; ++a) {
        if (!select[a]) continue;
        t.selected[a] = true;
        t.columns[a].insert(columns.begin(), columns.end());
      }
      t.all_columns.insert(columns.begin(), columns.end());
    }
    if (version != MonitorVersion::kV1 && !ParseWhereList(list, *cols, &t.where, error))
      return nullptr;
    m->tables_[table] = std::move(t);
  }
  return m;
}

Json Monitor::Initial(const RowsFn& rows) const {
  Json out = Json::object();
  for (const auto& [table, t] : tables_) {
    if (!t.selected[kInitial]) continue;
    Json tu = Json::object();
    for (const auto& [uuid, row] : rows(table)) {
      if (version_ == MonitorVersion::kV1) {
        tu[uuid] = {{"new", ProjectRow(row, t.columns[kInitial])}};
      } else if (t.where.Matches(row)) {
        tu[uuid] = {{"initial", ProjectRow(row, t.columns[kInitial])}};
      }
    }
    if (!tu.empty()) out[table] = std::move(tu);
  }
  return out;
}

Json Monitor::RowUpdate1(const TableMonitor& t, const RowChange& ch) const {
  if (!ch.old_row && ch.new_row) {
    if (!t.selected[kInsert]) return nullptr;
    return {{"new", ProjectRow(*ch.new_row, t.columns[kInsert])}};
  }
  if (ch.old_row && !ch.new_row) {
    if (!t.selected[kDelete]) return nullptr;
    return {{"old", ProjectRow(*ch.old_row, t.columns[kDelete])}};
  }
  if (!ch.old_row || !t.selected[kModify]) return nullptr;
  std::set<std::string> changed;
  for (const auto& c : t.columns[kModify]) {
    auto o = ch.old_row->find(c);
    auto n = ch.new_row->find(c);
    if (o == ch.old_row->end() || n == ch.new_row->end() || !DatumEquals(*o, *n)) changed.insert(c);
  }
  if (changed.empty()) return nullptr;
  return {{"old", ProjectRow(*ch.old_row, changed)},
          {"new", ProjectRow(*ch.new_row, t.columns[kModify])}};
}

Json Monitor::RowUpdate2(const TableMonitor& t, const RowChange& ch) const {
  bool old_match = ch.old_row && t.where.Matches(*ch.old_row);
  bool new_match = ch.new_row && t.where.Matches(*ch.new_row);
  if (!old_match && new_match) {
    if (!t.selected[kInsert]) return nullptr;
    return {{"insert", ProjectRow(*ch.new_row, t.columns[kInsert])}};
  }
  if (old_match && !new_match) {
    if (!t.selected[kDelete]) return nullptr;
    return {{"delete", nullptr}};
  }
  if (!old_match || !t.selected[kModify]) return nullptr;
  Json diff = Json::object();
  for (const auto& c : t.columns[kModify]) {
    auto o = ch.old_row->find(c);
    auto n = ch.new_row->find(c);
    if (o == ch.old_row->end() || n == ch.new_row->end() || DatumEquals(*o, *n)) continue;
    auto kind = t.shape->find(c);
    diff[c] = DatumDiff(kind == t.shape->end() ? ColumnKind::kAtom : kind->second, *o, *n);
  }
  if (diff.empty()) return nullptr;
  return {{"modify", std::move(diff)}};
}

Json Monitor::Update(const ChangeSet& changes) const {
  Json out = Json::object();
  for (const auto& [table, rows] : changes) {
    auto t = tables_.find(table);
    if (t == tables_.end()) continue;
    Json tu = Json::object();
    for (const auto& [uuid, change] : rows) {
      Json ru = version_ == MonitorVersion::kV1 ? RowUpdate1(t->second, change)
                                                : RowUpdate2(t->second, change);
      if (!ru.is_null()) tu[uuid] = std::move(ru);
    }
    if (!tu.empty()) out[table] = std::move(tu);
  }
  return out;
}

bool Monitor::ChangeConditions(const Json& requests, const RowsFn& rows, Json* update,
                               std::string* error) {
  if (version_ == MonitorVersion::kV1) {
    *error = "monitor_cond_change applies to monitor_cond and monitor_cond_since monitors only";
    return false;
  }
  if (!requests.is_object()) {
    *error = "monitor-cond-update requests must be an object of table names";
    return false;
  }
  std::map<std::string, Condition> next;
  for (const auto& [table, value] : requests.items()) {
    auto t = tables_.find(table);
    if (t == tables_.end()) {
      *error = "table " + table + " is not monitored";
      return false;
    }
    std::vector<const Json*> list;
    if (!RequestList(value, &list, error)) return false;
    for (const Json* r : list) {
      if (!r->contains("columns")) continue;
      std::set<std::string> columns;
      if (!ParseColumns(*r, table, *t->second.shape, &columns, error)) return false;
      if (columns != t->second.all_columns) {
        *error = "changing the monitored columns is not supported";
        return false;
      }
    }
    if (!ParseWhereList(list, *t->second.shape, &next[table], error)) return false;
  }
  *update = Json::object();
  for (auto& [table, cond] : next) {
    TableMonitor& t = tables_[table];
    Json tu = Json::object();
    for (const auto& [uuid, row] : rows(table)) {
      bool was = t.where.Matches(row), is = cond.Matches(row);
      if (was && !is && t.selected[kDelete]) {
        tu[uuid] = {{"delete", nullptr}};
      } else if (!was && is && t.selected[kInsert]) {
        tu[uuid] = {{"insert", ProjectRow(row, t.columns[kInsert])}};
      }
    }
    if (!tu.empty()) (*update)[table] = std::move(tu);
    t.where = std::move(cond);
  }
  return true;
}

}  // namespace sluice::db
