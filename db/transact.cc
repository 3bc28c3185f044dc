// The RFC 7047 section 5.2 operations, run one after another against a
// TxnView. Each operation first parses and checks all of its arguments, then
// changes the view; a failing operation ends the transaction (the caller
// drops the view, so earlier operations leave nothing behind).
//
// Error tags follow RFC 7047: a malformed operation (unknown member, table or
// column, wrong JSON type) is a "syntax error"; a value outside its column's
// constraints, an update or mutation of an immutable column, or a mutation
// that leaves a bad set size is a "constraint violation"; arithmetic that is
// undefined is a "domain error" and one that overflows a "range error".
//
// Named UUIDs: ["named-uuid", "x"] anywhere in the transaction means the row
// inserted with "uuid-name": "x", before or after the reference (the
// Open vSwitch IDL emits operations in no particular order). The first use
// of a name allocates its UUID; the insert that names it takes that UUID. A
// name no insert defines stays a UUID of no row, which the commit reports as
// a referential integrity violation when it is a strong reference.

#include <algorithm>
#include <cmath>
#include <limits>

#include "db/txn.h"

namespace sluice::db {

namespace {

constexpr int kUuidColumn = -1;
constexpr int kVersionColumn = -2;

struct ColumnRef {
  int index = 0;  // >= 0: TableSchema::columns; kUuidColumn, kVersionColumn
  const Type* type = nullptr;
  std::string name;
};

const Datum& ColumnValue(const Row& row, const ColumnRef& c, Datum* scratch) {
  if (c.index >= 0) return row.columns[static_cast<size_t>(c.index)];
  scratch->keys.assign(1, c.index == kUuidColumn ? row.uuid : row.version);
  scratch->values.clear();
  return *scratch;
}

enum class Func { kLt, kLe, kEq, kNe, kGe, kGt, kIncludes, kExcludes };

struct Condition {
  std::optional<bool> constant;  // a boolean condition (Open vSwitch extension)
  ColumnRef column;
  Func func = Func::kEq;
  Datum arg;
};

enum class Mutator { kAdd, kSub, kMul, kDiv, kMod, kInsert, kDelete };

struct Mutation {
  ColumnRef column;
  Mutator mutator = Mutator::kAdd;
  Atom scalar;             // arithmetic operand
  Datum arg;               // insert/delete operand
  bool keys_only = false;  // delete from a map by key
};

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool IsSubset(const Datum& sub, const Datum& sup, bool is_map) {
  for (size_t i = 0; i < sub.keys.size(); ++i) {
    ptrdiff_t j = sup.Find(sub.keys[i]);
    if (j < 0) return false;
    if (is_map && !(sup.values[static_cast<size_t>(j)] == sub.values[i])) return false;
  }
  return true;
}

bool IsDisjoint(const Datum& a, const Datum& b, bool is_map) {
  for (size_t i = 0; i < a.keys.size(); ++i) {
    ptrdiff_t j = b.Find(a.keys[i]);
    if (j < 0) continue;
    if (!is_map || b.values[static_cast<size_t>(j)] == a.values[i]) return false;
  }
  return true;
}

bool Evaluate(const Condition& c, const Row& row) {
  if (c.constant) return *c.constant;
  Datum scratch;
  const Datum& v = ColumnValue(row, c.column, &scratch);
  const bool is_map = c.column.type->is_map();
  switch (c.func) {
    case Func::kEq:
      return v == c.arg;
    case Func::kNe:
      return !(v == c.arg);
    case Func::kIncludes:
      return IsSubset(c.arg, v, is_map);
    case Func::kExcludes:
      return IsDisjoint(c.arg, v, is_map);
    case Func::kLt:
    case Func::kLe:
    case Func::kGe:
    case Func::kGt: {
      if (v.empty()) return false;  // an empty optional column satisfies no ordering
      const Atom& a = v.keys[0];
      const Atom& b = c.arg.keys[0];
      switch (c.func) {
        case Func::kLt:
          return a < b;
        case Func::kLe:
          return !(b < a);
        case Func::kGe:
          return !(a < b);
        default:
          return b < a;
      }
    }
  }
  return false;
}

// Integer arithmetic with RFC 7047's error cases.
std::optional<Error> ApplyInt(Mutator m, int64_t a, int64_t b, int64_t* out) {
  bool overflow = false;
  switch (m) {
    case Mutator::kAdd:
      overflow = __builtin_add_overflow(a, b, out);
      break;
    case Mutator::kSub:
      overflow = __builtin_sub_overflow(a, b, out);
      break;
    case Mutator::kMul:
      overflow = __builtin_mul_overflow(a, b, out);
      break;
    case Mutator::kDiv:
      if (b == 0) return Error{"domain error", "division by zero"};
      if (a == INT64_MIN && b == -1) {
        overflow = true;
      } else {
        *out = a / b;
      }
      break;
    case Mutator::kMod:
      if (b == 0) return Error{"domain error", "remainder of division by zero"};
      *out = (b == -1) ? 0 : a % b;
      break;
    default:
      break;
  }
  if (overflow) {
    return Error{"range error", "result of " + std::to_string(a) + " and " + std::to_string(b) +
                                    " is outside the 64-bit integer range"};
  }
  return std::nullopt;
}

std::optional<Error> ApplyReal(Mutator m, double a, double b, double* out) {
  switch (m) {
    case Mutator::kAdd:
      *out = a + b;
      break;
    case Mutator::kSub:
      *out = a - b;
      break;
    case Mutator::kMul:
      *out = a * b;
      break;
    case Mutator::kDiv:
      if (b == 0) return Error{"domain error", "division by zero"};
      *out = a / b;
      break;
    default:
      return SyntaxError("%= is not defined for reals");
  }
  if (!std::isfinite(*out)) return Error{"range error", "result is outside the range of a real"};
  return std::nullopt;
}

class Executor {
 public:
  Executor(TxnView& view, const TransactOptions& options) : view_(view), options_(options) {
    resolver_ = [this](const std::string& name) {
      auto [it, inserted] = symbols_.try_emplace(name);
      if (inserted) it->second.uuid = view_.NewUuid();
      return it->second.uuid;
    };
  }

  ExecOutcome Run(const Json& operations) {
    ExecOutcome out;
    for (const Json& op : operations) {
      Json result = Json::object();
      bool blocked = false;
      uint64_t timeout = 0;
      std::optional<Error> e = Execute(op, &result, &blocked, &timeout);
      if (blocked) {
        out.blocked = true;
        out.failed = true;
        out.blocked_timeout_ms = timeout;
        out.results.push_back(
            Error{"timed out", "\"wait\" condition not satisfied within its timeout"}.ToJson());
        break;
      }
      if (e) {
        out.failed = true;
        out.results.push_back(e->ToJson());
        break;
      }
      out.results.push_back(std::move(result));
    }
    for (const auto& [name, sym] : symbols_) {
      if (!sym.created) out.undefined_names[sym.uuid] = name;
    }
    return out;
  }

 private:
  struct Symbol {
    Uuid uuid;
    bool created = false;
  };

  std::optional<Error> Execute(const Json& op, Json* result, bool* blocked, uint64_t* timeout) {
    if (!op.is_object()) return SyntaxError("an operation must be a JSON object, got " + Dump(op));
    auto it = op.find("op");
    if (it == op.end() || !it->is_string())
      return SyntaxError("an operation must have a string \"op\" member");
    const std::string& name = it->get_ref<const std::string&>();
    if (name == "insert") return Insert(op, result);
    if (name == "select") return Select(op, result);
    if (name == "update") return Update(op, result);
    if (name == "mutate") return Mutate(op, result);
    if (name == "delete") return Delete(op, result);
    if (name == "wait") return Wait(op, blocked, timeout);
    if (name == "commit") return Commit(op);
    if (name == "abort") return Abort(op);
    if (name == "comment") return Comment(op);
    if (name == "assert") return Assert(op);
    return SyntaxError("unknown operation \"" + name + "\"");
  }

  // --- argument parsing ---

  static std::optional<Error> CheckMembers(const Json& op,
                                           std::initializer_list<std::string_view> allowed) {
    for (auto it = op.begin(); it != op.end(); ++it) {
      if (it.key() == "op") continue;
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
        return SyntaxError("\"" + op["op"].get<std::string>() +
                           "\" operation has unknown member \"" + it.key() + "\"");
      }
    }
    return std::nullopt;
  }

  static const Json* Member(const Json& op, const char* name) {
    auto it = op.find(name);
    return it == op.end() ? nullptr : &*it;
  }

  std::optional<Error> Required(const Json& op, const char* name, const Json** out) {
    *out = Member(op, name);
    if (!*out)
      return SyntaxError("\"" + op["op"].get<std::string>() + "\" operation lacks member \"" +
                         name + "\"");
    return std::nullopt;
  }

  std::optional<Error> ParseTable(const Json& op, size_t* table) {
    const Json* t = nullptr;
    if (auto e = Required(op, "table", &t)) return e;
    if (!t->is_string()) return SyntaxError("\"table\" must be a string");
    int i = view_.schema().TableIndex(t->get<std::string>());
    if (i < 0) return SyntaxError("unknown table \"" + t->get<std::string>() + "\"");
    *table = static_cast<size_t>(i);
    return std::nullopt;
  }

  const TableSchema& Table(size_t t) const { return view_.schema().tables()[t]; }

  std::optional<Error> ResolveColumn(size_t t, const Json& name, ColumnRef* out) {
    if (!name.is_string()) return SyntaxError("a column name must be a string, got " + Dump(name));
    const std::string& n = name.get_ref<const std::string&>();
    out->name = n;
    if (n == "_uuid" || n == "_version") {
      out->index = n == "_uuid" ? kUuidColumn : kVersionColumn;
      out->type = &ImplicitColumnType();
      return std::nullopt;
    }
    int i = Table(t).ColumnIndex(n);
    if (i < 0) return SyntaxError("table " + Table(t).name + " has no column \"" + n + "\"");
    out->index = i;
    out->type = &Table(t).columns[static_cast<size_t>(i)].type;
    return std::nullopt;
  }

  std::optional<Error> ParseColumns(size_t t, const Json& json, std::vector<ColumnRef>* out) {
    if (!json.is_array()) return SyntaxError("\"columns\" must be an array of column names");
    for (const Json& name : json) {
      ColumnRef c;
      if (auto e = ResolveColumn(t, name, &c)) return e;
      if (std::none_of(out->begin(), out->end(),
                       [&](const ColumnRef& o) { return o.index == c.index; })) {
        out->push_back(std::move(c));
      }
    }
    return std::nullopt;
  }

  std::optional<Error> ParseCondition(size_t t, const Json& json, Condition* out) {
    if (json.is_boolean()) {
      out->constant = json.get<bool>();
      return std::nullopt;
    }
    if (!json.is_array() || json.size() != 3 || !json[1].is_string()) {
      return SyntaxError("a condition must be [column, function, value], got " + Dump(json));
    }
    if (auto e = ResolveColumn(t, json[0], &out->column)) return e;
    const Type& type = *out->column.type;
    const std::string& f = json[1].get_ref<const std::string&>();
    static const std::pair<const char*, Func> kFuncs[] = {{"<", Func::kLt},
                                                          {"<=", Func::kLe},
                                                          {"==", Func::kEq},
                                                          {"!=", Func::kNe},
                                                          {">=", Func::kGe},
                                                          {">", Func::kGt},
                                                          {"includes", Func::kIncludes},
                                                          {"excludes", Func::kExcludes}};
    auto fit = std::find_if(std::begin(kFuncs), std::end(kFuncs),
                            [&](const auto& p) { return f == p.first; });
    if (fit == std::end(kFuncs)) return SyntaxError("unknown condition function \"" + f + "\"");
    out->func = fit->second;
    ParseOptions opts;
    opts.resolver = &resolver_;
    opts.check_constraints = false;
    bool ordering = out->func == Func::kLt || out->func == Func::kLe || out->func == Func::kGe ||
                    out->func == Func::kGt;
    if (ordering) {
      bool numeric = type.key.type == AtomicType::kInteger || type.key.type == AtomicType::kReal;
      if (!numeric || type.is_map() || type.max > 1) {
        return SyntaxError("function \"" + f + "\" is not defined for column " + out->column.name +
                           " (only for an integer or real column holding at most one value)");
      }
      Atom a;
      if (auto e = AtomFromJson(json[2], type.key.type, &resolver_, &a)) {
        return SyntaxError("condition on " + out->column.name + ": " + e->details);
      }
      out->arg = Datum::Scalar(std::move(a));
      return std::nullopt;
    }
    if (auto e = DatumFromJson(json[2], type.Relaxed(), opts, &out->arg)) {
      return SyntaxError("condition on " + out->column.name + ": " + e->details);
    }
    return std::nullopt;
  }

  std::optional<Error> ParseWhere(size_t t, const Json& op, std::vector<Condition>* out) {
    const Json* where = nullptr;
    if (auto e = Required(op, "where", &where)) return e;
    if (!where->is_array()) return SyntaxError("\"where\" must be an array of conditions");
    for (const Json& c : *where) {
      Condition cond;
      if (auto e = ParseCondition(t, c, &cond)) return e;
      out->push_back(std::move(cond));
    }
    return std::nullopt;
  }

  std::vector<RowPtr> Match(size_t t, const std::vector<Condition>& conds) {
    std::vector<RowPtr> rows;
    auto matches = [&](const Row& r) {
      return std::all_of(conds.begin(), conds.end(),
                         [&](const Condition& c) { return Evaluate(c, r); });
    };
    // [_uuid, ==, U] is what clients send most: look the row up directly.
    for (const Condition& c : conds) {
      if (!c.constant && c.column.index == kUuidColumn && c.func == Func::kEq) {
        if (c.arg.size() == 1) {
          RowPtr r = view_.Find(t, std::get<Uuid>(c.arg.keys[0]));
          if (r && matches(*r)) rows.push_back(r);
        }
        return rows;
      }
    }
    view_.ForEach(t, [&](const RowPtr& r) {
      if (matches(*r)) rows.push_back(r);
      return true;
    });
    return rows;
  }

  // Parses an insert's or update's "row": column index -> value.
  std::optional<Error> ParseRow(size_t t, const Json& row, bool for_update,
                                std::vector<std::pair<size_t, Datum>>* out) {
    if (!row.is_object()) return SyntaxError("\"row\" must be a JSON object");
    const TableSchema& ts = Table(t);
    for (auto it = row.begin(); it != row.end(); ++it) {
      const std::string& name = it.key();
      if (name == "_uuid" || name == "_version") {
        if (for_update)
          return ConstraintViolation("column " + name + " of table " + ts.name + " is read-only");
        return SyntaxError("column " + name + " cannot be set by \"insert\"");
      }
      int ci = ts.ColumnIndex(name);
      if (ci < 0) return SyntaxError("table " + ts.name + " has no column \"" + name + "\"");
      const ColumnSchema& col = ts.columns[static_cast<size_t>(ci)];
      if (for_update && !col.is_mutable) {
        return ConstraintViolation("column " + name + " of table " + ts.name + " is not mutable");
      }
      ParseOptions opts;
      opts.resolver = &resolver_;
      Datum d;
      if (auto e = DatumFromJson(it.value(), col.type, opts, &d)) {
        e->details = ts.name + "." + name + ": " + e->details;
        return e;
      }
      out->emplace_back(static_cast<size_t>(ci), std::move(d));
    }
    return std::nullopt;
  }

  // --- operations ---

  std::optional<Error> Insert(const Json& op, Json* result) {
    if (Member(op, "uuid")) {
      return SyntaxError(
          "\"insert\" with a \"uuid\" member (an Open vSwitch extension to RFC 7047) is not "
          "supported; "
          "use \"uuid-name\"");
    }
    if (auto e = CheckMembers(op, {"table", "row", "uuid-name"})) return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    const TableSchema& ts = Table(t);
    std::vector<std::pair<size_t, Datum>> values;
    if (const Json* row = Member(op, "row")) {
      if (auto e = ParseRow(t, *row, false, &values)) return e;
    }
    Uuid uuid;
    if (const Json* name = Member(op, "uuid-name")) {
      if (!name->is_string() || !IsId(name->get<std::string>())) {
        return SyntaxError("\"uuid-name\" must be an <id>, got " + Dump(*name));
      }
      auto [it, inserted] = symbols_.try_emplace(name->get<std::string>());
      if (inserted) it->second.uuid = view_.NewUuid();
      if (it->second.created) {
        return Error{"duplicate uuid-name",
                     "uuid-name \"" + it->first + "\" is used by an earlier insert"};
      }
      it->second.created = true;
      uuid = it->second.uuid;
    } else {
      uuid = view_.NewUuid();
    }
    if (view_.Find(t, uuid) || view_.FindBase(t, uuid)) {
      return Error{"unknown error", "generated UUID " + uuid.ToString() + " is already in use"};
    }
    auto row = std::make_shared<Row>();
    row->uuid = uuid;
    row->version = view_.NewUuid();
    row->columns.resize(ts.columns.size());
    std::vector<bool> set(ts.columns.size(), false);
    for (auto& [ci, d] : values) {
      row->columns[ci] = std::move(d);
      set[ci] = true;
    }
    for (size_t ci = 0; ci < ts.columns.size(); ++ci) {
      if (set[ci]) continue;
      row->columns[ci] = DefaultDatum(ts.columns[ci].type);
      // RFC 7047 5.2.1: a default that violates the column's constraints
      // fails the insert.
      if (auto e = CheckDatum(row->columns[ci], ts.columns[ci].type)) {
        e->details = ts.name + "." + ts.columns[ci].name + " (default value): " + e->details;
        return e;
      }
    }
    view_.Put(t, std::move(row));
    (*result)["uuid"] = Json::array({"uuid", uuid.ToString()});
    return std::nullopt;
  }

  std::optional<Error> Select(const Json& op, Json* result) {
    if (auto e = CheckMembers(op, {"table", "where", "columns"})) return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    std::vector<Condition> conds;
    if (auto e = ParseWhere(t, op, &conds)) return e;
    const TableSchema& ts = Table(t);
    std::vector<ColumnRef> columns;
    const Json* cols = Member(op, "columns");
    if (cols) {
      if (auto e = ParseColumns(t, *cols, &columns)) return e;
    }
    Json rows = Json::array();
    for (const RowPtr& r : Match(t, conds)) {
      if (!cols) {
        rows.push_back(RowToJson(ts, *r));
        continue;
      }
      Json obj = Json::object();
      Datum scratch;
      for (const ColumnRef& c : columns)
        obj[c.name] = DatumToJson(ColumnValue(*r, c, &scratch), *c.type);
      rows.push_back(std::move(obj));
    }
    (*result)["rows"] = std::move(rows);
    return std::nullopt;
  }

  std::optional<Error> Update(const Json& op, Json* result) {
    if (auto e = CheckMembers(op, {"table", "where", "row"})) return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    std::vector<Condition> conds;
    if (auto e = ParseWhere(t, op, &conds)) return e;
    const Json* row = nullptr;
    if (auto e = Required(op, "row", &row)) return e;
    std::vector<std::pair<size_t, Datum>> values;
    if (auto e = ParseRow(t, *row, true, &values)) return e;
    std::vector<RowPtr> rows = Match(t, conds);
    for (const RowPtr& r : rows) {
      auto copy = view_.Modify(*r);
      for (const auto& [ci, d] : values) copy->columns[ci] = d;
      view_.Put(t, std::move(copy));
    }
    (*result)["count"] = rows.size();
    return std::nullopt;
  }

  std::optional<Error> ParseMutation(size_t t, const Json& json, Mutation* out) {
    if (!json.is_array() || json.size() != 3 || !json[1].is_string()) {
      return SyntaxError("a mutation must be [column, mutator, value], got " + Dump(json));
    }
    if (auto e = ResolveColumn(t, json[0], &out->column)) return e;
    const TableSchema& ts = Table(t);
    if (out->column.index < 0) {
      return ConstraintViolation("column " + out->column.name + " of table " + ts.name +
                                 " is read-only");
    }
    if (!ts.columns[static_cast<size_t>(out->column.index)].is_mutable) {
      return ConstraintViolation("column " + out->column.name + " of table " + ts.name +
                                 " is not mutable");
    }
    const Type& type = *out->column.type;
    const std::string& m = json[1].get_ref<const std::string&>();
    static const std::pair<const char*, Mutator> kMutators[] = {
        {"+=", Mutator::kAdd},       {"-=", Mutator::kSub}, {"*=", Mutator::kMul},
        {"/=", Mutator::kDiv},       {"%=", Mutator::kMod}, {"insert", Mutator::kInsert},
        {"delete", Mutator::kDelete}};
    auto it = std::find_if(std::begin(kMutators), std::end(kMutators),
                           [&](const auto& p) { return m == p.first; });
    if (it == std::end(kMutators)) return SyntaxError("unknown mutator \"" + m + "\"");
    out->mutator = it->second;
    ParseOptions opts;
    opts.resolver = &resolver_;
    opts.check_constraints = false;
    auto wrap = [&](std::optional<Error> e) {
      e->details = "mutation of " + ts.name + "." + out->column.name + ": " + e->details;
      return e;
    };
    switch (out->mutator) {
      case Mutator::kInsert:
        if (auto e = DatumFromJson(json[2], type.Relaxed(), opts, &out->arg)) return wrap(e);
        return std::nullopt;
      case Mutator::kDelete:
        if (type.is_map() && !(json[2].is_array() && json[2].size() == 2 && json[2][0] == "map")) {
          Type keys = type.Relaxed();
          keys.value.reset();
          out->keys_only = true;
          if (auto e = DatumFromJson(json[2], keys, opts, &out->arg)) return wrap(e);
          return std::nullopt;
        }
        if (auto e = DatumFromJson(json[2], type.Relaxed(), opts, &out->arg)) return wrap(e);
        return std::nullopt;
      default: {
        AtomicType kt = type.key.type;
        if (type.is_map() || (kt != AtomicType::kInteger && kt != AtomicType::kReal) ||
            (out->mutator == Mutator::kMod && kt != AtomicType::kInteger)) {
          return wrap(SyntaxError("mutator \"" + m + "\" is not defined for this column's type"));
        }
        if (auto e = AtomFromJson(json[2], kt, &resolver_, &out->scalar)) return wrap(e);
        return std::nullopt;
      }
    }
  }

  std::optional<Error> ApplyMutation(const TableSchema& ts, const Mutation& mu, Datum* d) {
    const Type& type = *mu.column.type;
    const bool is_map = type.is_map();
    switch (mu.mutator) {
      case Mutator::kInsert: {
        // mu.arg's keys are unique; only keys absent from *d are added (for
        // a map, an existing key keeps its value).
        Datum added;
        for (size_t i = 0; i < mu.arg.keys.size(); ++i) {
          if (d->Find(mu.arg.keys[i]) >= 0) continue;
          added.keys.push_back(mu.arg.keys[i]);
          if (is_map) added.values.push_back(mu.arg.values[i]);
        }
        for (size_t i = 0; i < added.keys.size(); ++i) {
          d->keys.push_back(std::move(added.keys[i]));
          if (is_map) d->values.push_back(std::move(added.values[i]));
        }
        d->SortUnique();
        break;
      }
      case Mutator::kDelete: {
        Datum kept;
        for (size_t i = 0; i < d->keys.size(); ++i) {
          ptrdiff_t j = mu.arg.Find(d->keys[i]);
          bool remove = j >= 0 && (!is_map || mu.keys_only ||
                                   mu.arg.values[static_cast<size_t>(j)] == d->values[i]);
          if (remove) continue;
          kept.keys.push_back(std::move(d->keys[i]));
          if (is_map) kept.values.push_back(std::move(d->values[i]));
        }
        *d = std::move(kept);
        break;
      }
      default:
        for (Atom& a : d->keys) {
          if (type.key.type == AtomicType::kInteger) {
            int64_t r = 0;
            if (auto e =
                    ApplyInt(mu.mutator, std::get<int64_t>(a), std::get<int64_t>(mu.scalar), &r))
              return e;
            a = r;
          } else {
            double r = 0;
            if (auto e =
                    ApplyReal(mu.mutator, std::get<double>(a), std::get<double>(mu.scalar), &r))
              return e;
            a = r;
          }
        }
        if (!d->SortUnique()) {
          return ConstraintViolation("mutation of " + ts.name + "." + mu.column.name +
                                     " made two elements of the set equal");
        }
        break;
    }
    if (auto e = CheckDatum(*d, type)) {
      e->details = "mutation of " + ts.name + "." + mu.column.name + ": " + e->details;
      if (e->tag == "syntax error") e->tag = "constraint violation";
      return e;
    }
    return std::nullopt;
  }

  std::optional<Error> Mutate(const Json& op, Json* result) {
    if (auto e = CheckMembers(op, {"table", "where", "mutations"})) return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    std::vector<Condition> conds;
    if (auto e = ParseWhere(t, op, &conds)) return e;
    const Json* mj = nullptr;
    if (auto e = Required(op, "mutations", &mj)) return e;
    if (!mj->is_array()) return SyntaxError("\"mutations\" must be an array");
    std::vector<Mutation> mutations;
    for (const Json& m : *mj) {
      Mutation mu;
      if (auto e = ParseMutation(t, m, &mu)) return e;
      mutations.push_back(std::move(mu));
    }
    const TableSchema& ts = Table(t);
    std::vector<RowPtr> rows = Match(t, conds);
    for (const RowPtr& r : rows) {
      auto copy = view_.Modify(*r);
      for (const Mutation& mu : mutations) {
        if (auto e = ApplyMutation(ts, mu, &copy->columns[static_cast<size_t>(mu.column.index)]))
          return e;
      }
      view_.Put(t, std::move(copy));
    }
    (*result)["count"] = rows.size();
    return std::nullopt;
  }

  std::optional<Error> Delete(const Json& op, Json* result) {
    if (auto e = CheckMembers(op, {"table", "where"})) return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    std::vector<Condition> conds;
    if (auto e = ParseWhere(t, op, &conds)) return e;
    std::vector<RowPtr> rows = Match(t, conds);
    for (const RowPtr& r : rows) view_.Erase(t, r->uuid);
    (*result)["count"] = rows.size();
    return std::nullopt;
  }

  std::optional<Error> Wait(const Json& op, bool* blocked, uint64_t* timeout_ms) {
    if (auto e = CheckMembers(op, {"timeout", "table", "where", "columns", "until", "rows"}))
      return e;
    size_t t = 0;
    if (auto e = ParseTable(op, &t)) return e;
    std::optional<uint64_t> timeout;
    if (const Json* tj = Member(op, "timeout")) {
      if (tj->is_number_unsigned()) {
        timeout = tj->get<uint64_t>();
      } else if (tj->is_number_integer() && tj->get<int64_t>() >= 0) {
        timeout = static_cast<uint64_t>(tj->get<int64_t>());
      } else {
        return SyntaxError("\"timeout\" must be a non-negative integer (milliseconds)");
      }
    }
    std::vector<Condition> conds;
    if (auto e = ParseWhere(t, op, &conds)) return e;
    // "columns" may be omitted (as Open vSwitch's IDL does when it checks
    // that a table is empty): then every column, _uuid and _version too.
    std::vector<ColumnRef> columns;
    if (const Json* cj = Member(op, "columns")) {
      if (auto e = ParseColumns(t, *cj, &columns)) return e;
    } else {
      for (const char* implicit : {"_uuid", "_version"}) {
        ColumnRef c;
        ResolveColumn(t, Json(implicit), &c);
        columns.push_back(std::move(c));
      }
      for (const ColumnSchema& col : Table(t).columns) {
        ColumnRef c;
        ResolveColumn(t, Json(col.name), &c);
        columns.push_back(std::move(c));
      }
    }
    const Json* until = nullptr;
    if (auto e = Required(op, "until", &until)) return e;
    if (*until != "==" && *until != "!=") return SyntaxError("\"until\" must be \"==\" or \"!=\"");
    const Json* rj = nullptr;
    if (auto e = Required(op, "rows", &rj)) return e;
    if (!rj->is_array()) return SyntaxError("\"rows\" must be an array of rows");

    // Each of "rows" is compared on `columns`; a column a row leaves out
    // compares as its default value (as in Open vSwitch).
    std::vector<std::vector<Datum>> expected;
    ParseOptions opts;
    opts.resolver = &resolver_;
    opts.check_constraints = false;
    for (const Json& row : *rj) {
      if (!row.is_object()) return SyntaxError("each of \"rows\" must be a JSON object");
      for (auto it = row.begin(); it != row.end(); ++it) {
        ColumnRef c;
        if (auto e = ResolveColumn(t, Json(it.key()), &c)) return e;
      }
      std::vector<Datum> values;
      for (const ColumnRef& c : columns) {
        auto it = row.find(c.name);
        if (it == row.end()) {
          values.push_back(DefaultDatum(*c.type));
          continue;
        }
        Datum d;
        if (auto e = DatumFromJson(*it, *c.type, opts, &d)) {
          e->details = "\"wait\" row column " + c.name + ": " + e->details;
          return e;
        }
        values.push_back(std::move(d));
      }
      expected.push_back(std::move(values));
    }
    std::vector<std::vector<Datum>> actual;
    for (const RowPtr& r : Match(t, conds)) {
      std::vector<Datum> values;
      Datum scratch;
      for (const ColumnRef& c : columns) values.push_back(ColumnValue(*r, c, &scratch));
      actual.push_back(std::move(values));
    }
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    bool equal = expected == actual;
    bool satisfied = (*until == "==") == equal;
    if (satisfied) return std::nullopt;
    if (timeout && *timeout == 0) {
      return Error{"timed out", std::string("\"wait\" condition (until ") +
                                    until->get<std::string>() + ") not satisfied"};
    }
    *blocked = true;
    *timeout_ms = timeout ? *timeout : std::numeric_limits<uint64_t>::max();
    return std::nullopt;
  }

  std::optional<Error> Commit(const Json& op) {
    if (auto e = CheckMembers(op, {"durable"})) return e;
    const Json* durable = nullptr;
    if (auto e = Required(op, "durable", &durable)) return e;
    if (!durable->is_boolean()) return SyntaxError("\"durable\" must be a boolean");
    // Every commit is durable (synchronous=FULL), so both values are met.
    return std::nullopt;
  }

  std::optional<Error> Abort(const Json& op) {
    if (auto e = CheckMembers(op, {})) return e;
    return Error{"aborted", "aborted by request"};
  }

  std::optional<Error> Comment(const Json& op) {
    if (auto e = CheckMembers(op, {"comment"})) return e;
    const Json* c = nullptr;
    if (auto e = Required(op, "comment", &c)) return e;
    if (!c->is_string()) return SyntaxError("\"comment\" must be a string");
    return std::nullopt;
  }

  std::optional<Error> Assert(const Json& op) {
    if (auto e = CheckMembers(op, {"lock"})) return e;
    const Json* lock = nullptr;
    if (auto e = Required(op, "lock", &lock)) return e;
    if (!lock->is_string()) return SyntaxError("\"lock\" must be a string");
    const std::string& name = lock->get_ref<const std::string&>();
    if (!options_.has_lock || !options_.has_lock(name)) {
      return Error{"not owner", "this session does not own lock \"" + name + "\""};
    }
    return std::nullopt;
  }

  TxnView& view_;
  const TransactOptions& options_;
  std::map<std::string, Symbol> symbols_;
  NamedUuidResolver resolver_;
};

}  // namespace

ExecOutcome ExecuteOperations(TxnView& view, const Json& operations,
                              const TransactOptions& options) {
  Executor ex(view, options);
  return ex.Run(operations);
}

}  // namespace sluice::db
