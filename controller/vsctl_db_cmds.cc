// sluicectl's generic database commands: list, find, get, set, add, remove,
// clear, create and destroy over any table of the schema, in ovs-vsctl's
// syntax and with its output. See vsctl.h for the design, vsctl_internal.h
// for the Context they run in.
#include <fmt/format.h>

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

// --- generic database commands ---

// The columns a list/find prints: --columns, else _uuid and every column.
static Status OutputColumns(Context& x, const std::string& table, const Command& c,
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
static void PrintRows(Context& x, Command& c, const std::string& table,
                      const std::vector<ColumnRef>& cols, const std::vector<Uuid>& rows) {
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
static std::vector<Uuid> SortRows(Context& x, const std::string& table, std::vector<Uuid> rows) {
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

static bool IsSubset(const Datum& a, const Datum& b, bool is_map) {
  for (size_t i = 0; i < a.size(); ++i) {
    ptrdiff_t j = b.Find(a.keys[i]);
    if (j < 0 || (is_map && b.values[j] != a.values[i])) return false;
  }
  return true;
}

static bool Compare(const std::string& op, const Datum& have, const Datum& want, bool is_map) {
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
static Status RecordColumn(Context& x, Command& c, std::string* table, std::optional<Uuid>* row,
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

}  // namespace sluice::ctl::vsctl_detail
