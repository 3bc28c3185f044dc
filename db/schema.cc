#include "db/schema.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace sluice::db {

bool IsId(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

Type Type::Relaxed() const {
  Type t;
  t.key = BaseType::Of(key.type);
  t.key.ref_table = key.ref_table;
  t.key.ref_table_index = key.ref_table_index;
  t.key.ref_type = key.ref_type;
  if (value) {
    t.value = BaseType::Of(value->type);
    t.value->ref_table = value->ref_table;
    t.value->ref_table_index = value->ref_table_index;
    t.value->ref_type = value->ref_type;
  }
  t.min = 0;
  t.max = kUnlimited;
  return t;
}

const Type& ImplicitColumnType() {
  static const Type type = [] {
    Type t;
    t.key = BaseType::Of(AtomicType::kUuid);
    return t;
  }();
  return type;
}

int TableSchema::ColumnIndex(std::string_view name) const {
  auto it = std::lower_bound(columns.begin(), columns.end(), name,
                             [](const ColumnSchema& c, std::string_view n) { return c.name < n; });
  if (it == columns.end() || it->name != name) return -1;
  return static_cast<int>(it - columns.begin());
}

int Schema::TableIndex(std::string_view name) const {
  auto it = std::lower_bound(tables_.begin(), tables_.end(), name,
                             [](const TableSchema& t, std::string_view n) { return t.name < n; });
  if (it == tables_.end() || it->name != name) return -1;
  return static_cast<int>(it - tables_.begin());
}

namespace {

// A JSON integer >= 0 (parsed text gives unsigned, C++-built JSON signed).
bool GetUnsigned(const Json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

// Parsing state: the first error wins; `where` says where we are
// ("table Bridge column ports key").
class Parser {
 public:
  std::string error;

  bool Fail(const std::string& where, const std::string& what) {
    if (error.empty()) error = where.empty() ? what : where + ": " + what;
    return false;
  }

  bool CheckMembers(const Json& obj, std::initializer_list<std::string_view> allowed,
                    const std::string& where) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
        return Fail(where, "unknown member \"" + it.key() + "\"");
      }
    }
    return true;
  }

  bool Integer(const Json& j, const std::string& where, const char* member, int64_t* out) {
    if (!j.is_number_integer() ||
        (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
      return Fail(where, std::string(member) + " must be a 64-bit integer");
    }
    *out = j.get<int64_t>();
    return true;
  }

  bool Real(const Json& j, const std::string& where, const char* member, double* out) {
    if (!j.is_number()) return Fail(where, std::string(member) + " must be a number");
    *out = j.get<double>();
    return true;
  }

  bool Length(const Json& j, const std::string& where, const char* member, uint64_t* out) {
    if (!GetUnsigned(j, out))
      return Fail(where, std::string(member) + " must be a non-negative integer");
    return true;
  }

  bool ParseBaseType(const Json& j, const std::string& where, BaseType* out) {
    BaseType b;
    if (j.is_string()) {
      auto t = AtomicTypeFromName(j.get<std::string>());
      if (!t) return Fail(where, "unknown atomic type \"" + j.get<std::string>() + "\"");
      b.type = *t;
      *out = b;
      return true;
    }
    if (!j.is_object()) return Fail(where, "a base type must be an atomic type name or an object");
    if (!CheckMembers(j,
                      {"type", "enum", "minInteger", "maxInteger", "minReal", "maxReal",
                       "minLength", "maxLength", "refTable", "refType"},
                      where)) {
      return false;
    }
    auto type = j.find("type");
    if (type == j.end()) return Fail(where, "missing \"type\"");
    if (!type->is_string() || !AtomicTypeFromName(type->get<std::string>())) {
      return Fail(where, "\"type\" must be one of integer, real, boolean, string, uuid");
    }
    b.type = *AtomicTypeFromName(type->get<std::string>());
    const std::string tname(AtomicTypeName(b.type));

    auto only_for = [&](const char* member, AtomicType t) {
      if (j.contains(member) && b.type != t) {
        return Fail(where, std::string(member) + " is not allowed for type " + tname);
      }
      return true;
    };
    if (!only_for("minInteger", AtomicType::kInteger) ||
        !only_for("maxInteger", AtomicType::kInteger) || !only_for("minReal", AtomicType::kReal) ||
        !only_for("maxReal", AtomicType::kReal) || !only_for("minLength", AtomicType::kString) ||
        !only_for("maxLength", AtomicType::kString) || !only_for("refTable", AtomicType::kUuid) ||
        !only_for("refType", AtomicType::kUuid)) {
      return false;
    }
    if (j.contains("minInteger") && !Integer(j["minInteger"], where, "minInteger", &b.min_integer))
      return false;
    if (j.contains("maxInteger") && !Integer(j["maxInteger"], where, "maxInteger", &b.max_integer))
      return false;
    if (b.min_integer > b.max_integer) return Fail(where, "minInteger is greater than maxInteger");
    if (j.contains("minReal") && !Real(j["minReal"], where, "minReal", &b.min_real)) return false;
    if (j.contains("maxReal") && !Real(j["maxReal"], where, "maxReal", &b.max_real)) return false;
    if (b.min_real > b.max_real) return Fail(where, "minReal is greater than maxReal");
    if (j.contains("minLength") && !Length(j["minLength"], where, "minLength", &b.min_length))
      return false;
    if (j.contains("maxLength") && !Length(j["maxLength"], where, "maxLength", &b.max_length))
      return false;
    if (b.min_length > b.max_length) return Fail(where, "minLength is greater than maxLength");
    if (j.contains("refTable")) {
      const Json& r = j["refTable"];
      if (!r.is_string() || !IsId(r.get<std::string>()))
        return Fail(where, "refTable must be a table name");
      b.ref_table = r.get<std::string>();
    }
    if (j.contains("refType")) {
      if (b.ref_table.empty()) return Fail(where, "refType is allowed only with refTable");
      const Json& r = j["refType"];
      if (r == "strong") {
        b.ref_type = RefType::kStrong;
      } else if (r == "weak") {
        b.ref_type = RefType::kWeak;
      } else {
        return Fail(where, "refType must be \"strong\" or \"weak\"");
      }
    }
    if (j.contains("enum")) {
      Type enum_type;
      enum_type.key = BaseType::Of(b.type);
      enum_type.min = 0;
      enum_type.max = kUnlimited;
      Datum values;
      ParseOptions opts;
      opts.check_constraints = false;
      if (auto e = DatumFromJson(j["enum"], enum_type, opts, &values)) {
        return Fail(where, "bad enum: " + e->details);
      }
      if (values.empty()) return Fail(where, "enum must have at least one value");
      // The enum values must satisfy the other constraints.
      BaseType unenum = b;
      for (const Atom& a : values.keys) {
        if (auto e = CheckAtom(a, unenum)) return Fail(where, "enum value " + e->details);
      }
      b.enum_values = std::move(values.keys);
    }
    *out = std::move(b);
    return true;
  }

  bool ParseType(const Json& j, const std::string& where, Type* out) {
    Type t;
    if (j.is_string()) {
      if (!ParseBaseType(j, where, &t.key)) return false;
      *out = t;
      return true;
    }
    if (!j.is_object()) return Fail(where, "a type must be an atomic type name or an object");
    if (!CheckMembers(j, {"key", "value", "min", "max"}, where)) return false;
    if (!j.contains("key")) return Fail(where, "missing \"key\"");
    if (!ParseBaseType(j["key"], where + " key", &t.key)) return false;
    if (j.contains("value")) {
      BaseType v;
      if (!ParseBaseType(j["value"], where + " value", &v)) return false;
      t.value = std::move(v);
    }
    if (j.contains("min")) {
      uint64_t m = 0;
      if (!GetUnsigned(j["min"], &m) || m > 1) return Fail(where, "min must be 0 or 1");
      t.min = static_cast<unsigned>(m);
    }
    if (j.contains("max")) {
      uint64_t m = 0;
      if (j["max"] == "unlimited") {
        t.max = kUnlimited;
      } else if (GetUnsigned(j["max"], &m) && m >= 1 && m < kUnlimited) {
        t.max = static_cast<unsigned>(m);
      } else {
        return Fail(where, "max must be a positive integer or \"unlimited\"");
      }
    }
    if (t.min > t.max) return Fail(where, "min is greater than max");
    *out = std::move(t);
    return true;
  }

  bool ParseColumn(const std::string& name, const Json& j, const std::string& where,
                   ColumnSchema* out) {
    if (!j.is_object()) return Fail(where, "a column schema must be an object");
    if (!CheckMembers(j, {"type", "ephemeral", "mutable"}, where)) return false;
    ColumnSchema c;
    c.name = name;
    if (!j.contains("type")) return Fail(where, "missing \"type\"");
    if (!ParseType(j["type"], where, &c.type)) return false;
    if (j.contains("ephemeral")) {
      if (!j["ephemeral"].is_boolean()) return Fail(where, "ephemeral must be a boolean");
      c.ephemeral = j["ephemeral"].get<bool>();
    }
    if (j.contains("mutable")) {
      if (!j["mutable"].is_boolean()) return Fail(where, "mutable must be a boolean");
      c.is_mutable = j["mutable"].get<bool>();
    }
    *out = std::move(c);
    return true;
  }

  bool ParseTable(const std::string& name, const Json& j, TableSchema* out, bool* says_root) {
    const std::string where = "table " + name;
    if (!j.is_object()) return Fail(where, "a table schema must be an object");
    if (!CheckMembers(j, {"columns", "maxRows", "isRoot", "indexes"}, where)) return false;
    TableSchema t;
    t.name = name;
    if (!j.contains("columns") || !j["columns"].is_object()) {
      return Fail(where, "\"columns\" must be an object");
    }
    if (j["columns"].empty()) return Fail(where, "a table must have at least one column");
    for (auto it = j["columns"].begin(); it != j["columns"].end(); ++it) {
      const std::string& cname = it.key();
      std::string cwhere = where + " column " + cname;
      if (!IsId(cname)) return Fail(cwhere, "a column name must be an <id>");
      if (cname[0] == '_') return Fail(cwhere, "column names starting with \"_\" are reserved");
      ColumnSchema c;
      if (!ParseColumn(cname, it.value(), cwhere, &c)) return false;
      t.columns.push_back(std::move(c));
    }
    std::sort(t.columns.begin(), t.columns.end(),
              [](const ColumnSchema& a, const ColumnSchema& b) { return a.name < b.name; });
    if (j.contains("maxRows")) {
      uint64_t m = 0;
      if (!GetUnsigned(j["maxRows"], &m) || m < 1)
        return Fail(where, "maxRows must be a positive integer");
      t.max_rows = m;
    }
    *says_root = false;
    if (j.contains("isRoot")) {
      if (!j["isRoot"].is_boolean()) return Fail(where, "isRoot must be a boolean");
      *says_root = j["isRoot"].get<bool>();
    }
    if (j.contains("indexes")) {
      const Json& idx = j["indexes"];
      if (!idx.is_array()) return Fail(where, "indexes must be an array of arrays of column names");
      for (const Json& index : idx) {
        if (!index.is_array() || index.empty()) {
          return Fail(where, "each index must be a non-empty array of column names");
        }
        std::vector<size_t> cols;
        for (const Json& c : index) {
          if (!c.is_string()) return Fail(where, "index column names must be strings");
          int ci = t.ColumnIndex(c.get<std::string>());
          if (ci < 0)
            return Fail(where, "index names unknown column \"" + c.get<std::string>() + "\"");
          if (std::find(cols.begin(), cols.end(), static_cast<size_t>(ci)) != cols.end()) {
            return Fail(where, "index names column \"" + c.get<std::string>() + "\" twice");
          }
          cols.push_back(static_cast<size_t>(ci));
        }
        t.indexes.push_back(std::move(cols));
      }
    }
    *out = std::move(t);
    return true;
  }
};

// <x>.<y>.<z>: three decimal numbers without leading zeros.
bool IsVersion(const std::string& v) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    size_t len = i - start;
    if (len == 0 || len > 9 || (len > 1 && v[start] == '0')) return false;
    ++parts;
    if (i == v.size()) return parts == 3;
    if (v[i] != '.' || parts == 3) return false;
    ++i;
  }
}

}  // namespace

std::shared_ptr<const Schema> ParseSchema(const Json& json, std::string* error) {
  Parser p;
  auto fail = [&](const std::string& what) -> std::shared_ptr<const Schema> {
    if (error) *error = p.error.empty() ? what : p.error;
    return nullptr;
  };
  if (!json.is_object()) return fail("a database schema must be a JSON object");
  if (!p.CheckMembers(json, {"name", "version", "cksum", "tables"}, "schema")) return fail("");
  auto schema = std::shared_ptr<Schema>(new Schema());
  if (!json.contains("name") || !json["name"].is_string() ||
      !IsId(json["name"].get<std::string>())) {
    return fail("schema: \"name\" must be an <id>");
  }
  schema->name_ = json["name"].get<std::string>();
  if (!json.contains("version") || !json["version"].is_string() ||
      !IsVersion(json["version"].get<std::string>())) {
    return fail("schema: \"version\" must be a string of the form <x>.<y>.<z>");
  }
  schema->version_ = json["version"].get<std::string>();
  if (json.contains("cksum") && !json["cksum"].is_string())
    return fail("schema: \"cksum\" must be a string");
  if (!json.contains("tables") || !json["tables"].is_object())
    return fail("schema: \"tables\" must be an object");

  bool any_root = false;
  std::vector<bool> says_root;
  for (auto it = json["tables"].begin(); it != json["tables"].end(); ++it) {
    if (!IsId(it.key()) || it.key()[0] == '_') {
      return fail("schema: table name \"" + it.key() +
                  "\" must be an <id> not starting with \"_\"");
    }
    TableSchema t;
    bool root = false;
    if (!p.ParseTable(it.key(), it.value(), &t, &root)) return fail("");
    t.is_root = root;
    any_root = any_root || root;
    schema->tables_.push_back(std::move(t));
  }
  // nlohmann objects iterate in key order, so tables_ is already sorted.
  std::sort(schema->tables_.begin(), schema->tables_.end(),
            [](const TableSchema& a, const TableSchema& b) { return a.name < b.name; });

  // Effective isRoot, references, persistence.
  for (TableSchema& t : schema->tables_) {
    if (!any_root) t.is_root = true;
    std::set<size_t> indexed;
    for (const auto& index : t.indexes) indexed.insert(index.begin(), index.end());
    for (size_t ci = 0; ci < t.columns.size(); ++ci) {
      ColumnSchema& c = t.columns[ci];
      for (BaseType* b : {&c.type.key, c.type.value ? &*c.type.value : nullptr}) {
        if (!b || !b->is_ref()) continue;
        b->ref_table_index = schema->TableIndex(b->ref_table);
        if (b->ref_table_index < 0) {
          return fail("table " + t.name + " column " + c.name + ": refTable \"" + b->ref_table +
                      "\" is not a table of this schema");
        }
      }
      c.persistent = !c.ephemeral || c.type.has_refs() || indexed.count(ci) > 0;
    }
  }
  schema->json_ = json;
  return schema;
}

std::shared_ptr<const Schema> LoadSchemaFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = path + ": cannot open";
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Json json = Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    if (error) *error = path + ": not valid JSON";
    return nullptr;
  }
  std::string e;
  auto schema = ParseSchema(json, &e);
  if (!schema && error) *error = path + ": " + e;
  return schema;
}

}  // namespace sluice::db
