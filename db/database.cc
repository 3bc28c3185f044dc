// Database: the committed state, the commit-time checks and the storage.
//
// A commit (PrepareCommit) runs these steps over the transaction's view, in
// this order, and fails at the first violation:
//   1. Strong references written by this transaction (inserted rows, and
//      changed columns of updated rows) must name existing rows.
//   2. Garbage collection, when the transaction deleted a row, inserted a
//      non-root row or changed a strong reference: mark every row reachable
//      from the root tables through strong references (checking on the way
//      that each of them exists, which catches deletions of rows still
//      referenced), then delete every unmarked non-root row.
//   3. Weak references to rows that no longer exist (deleted explicitly or
//      collected) are removed from the rows that hold them.
//   4. Every changed row satisfies its columns' types (set sizes may have
//      shrunk in step 3).
//   5. maxRows, 6. index uniqueness.
// Then the rows whose final content equals the committed one are dropped
// from the change (their new _version with them), the rest is written to
// SQLite in one SQL transaction, and only after that applied to memory.
//
// Opening a file is the same commit with every stored row "inserted" into
// an empty database, so a file that does not satisfy the schema is refused
// (dangling strong reference, duplicate index, bad value) and what steps 2
// and 3 change (rows a schema change made unreachable, weak references) is
// written back.

#include "db/database.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <new>
#include <unordered_set>

#include "db/schema.h"
#include "db/storage.h"
#include "db/txn.h"

namespace sluice::db {

// --- rows and views -----------------------------------------------------------

Json RowToJson(const TableSchema& table, const Row& row) {
  Json obj = Json::object();
  obj["_uuid"] = AtomToJson(row.uuid);
  obj["_version"] = AtomToJson(row.version);
  for (size_t i = 0; i < table.columns.size(); ++i) {
    obj[table.columns[i].name] = DatumToJson(row.columns[i], table.columns[i].type);
  }
  return obj;
}

RowPtr TxnView::Find(size_t table, const Uuid& uuid) const {
  const auto& ch = changes_[table];
  auto c = ch.find(uuid);
  if (c != ch.end()) return c->second;
  return FindBase(table, uuid);
}

RowPtr TxnView::FindBase(size_t table, const Uuid& uuid) const {
  const auto& rows = base_[table].rows;
  auto it = rows.find(uuid);
  return it == rows.end() ? nullptr : it->second;
}

void TxnView::Put(size_t table, RowPtr row) {
  Uuid u = row->uuid;
  changes_[table][u] = std::move(row);
}

void TxnView::Erase(size_t table, const Uuid& uuid) {
  if (base_[table].rows.count(uuid)) {
    changes_[table][uuid] = nullptr;
  } else {
    changes_[table].erase(uuid);
  }
}

size_t TxnView::Count(size_t table) const {
  size_t n = base_[table].rows.size();
  for (const auto& [u, r] : changes_[table]) {
    bool in_base = base_[table].rows.count(u) > 0;
    if (!r && in_base) --n;
    if (r && !in_base) ++n;
  }
  return n;
}

bool TxnView::HasChanges() const {
  return std::any_of(changes_.begin(), changes_.end(), [](const auto& c) { return !c.empty(); });
}

// --- the database ---------------------------------------------------------------

namespace {

// A column holding references, and the tables its keys/values refer to.
struct RefColumn {
  size_t column = 0;
  int key_table = -1;    // -1: keys are not references of this kind
  int value_table = -1;  // -1: values are not references of this kind
};

struct FinalChange {
  size_t table = 0;
  Uuid uuid;
  RowPtr old_row;  // nullptr: inserted
  RowPtr new_row;  // nullptr: deleted
};

std::vector<Datum> Project(const Row& row, const std::vector<size_t>& columns) {
  std::vector<Datum> key;
  key.reserve(columns.size());
  for (size_t c : columns) key.push_back(row.columns[c]);
  return key;
}

// The row as stored: persistent columns and _version.
std::string StoredRowText(const TableSchema& table, const Row& row) {
  Json obj = Json::object();
  obj["_version"] = AtomToJson(row.version);
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (table.columns[i].persistent)
      obj[table.columns[i].name] = DatumToJson(row.columns[i], table.columns[i].type);
  }
  return obj.dump();
}

bool PersistentDiffers(const TableSchema& table, const Row& a, const Row& b) {
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (table.columns[i].persistent && !(a.columns[i] == b.columns[i])) return true;
  }
  return false;
}

Error Riv(std::string details) {
  return Error{"referential integrity violation", std::move(details)};
}

}  // namespace

struct Database::Impl {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<Storage> storage;
  std::vector<TableData> tables;
  UuidGenerator uuids;
  std::vector<std::vector<RefColumn>> strong_cols;  // per table
  std::vector<std::vector<RefColumn>> weak_cols;    // per table

  explicit Impl(std::shared_ptr<const Schema> s) : schema(std::move(s)) {
    const auto& ts = schema->tables();
    tables.resize(ts.size());
    strong_cols.resize(ts.size());
    weak_cols.resize(ts.size());
    for (size_t t = 0; t < ts.size(); ++t) {
      tables[t].indexes.resize(ts[t].indexes.size());
      for (size_t c = 0; c < ts[t].columns.size(); ++c) {
        const Type& type = ts[t].columns[c].type;
        if (type.has_strong_refs()) {
          strong_cols[t].push_back(
              {c, type.key.is_strong_ref() ? type.key.ref_table_index : -1,
               type.value && type.value->is_strong_ref() ? type.value->ref_table_index : -1});
        }
        if (type.has_weak_refs()) {
          weak_cols[t].push_back(
              {c, type.key.is_weak_ref() ? type.key.ref_table_index : -1,
               type.value && type.value->is_weak_ref() ? type.value->ref_table_index : -1});
        }
      }
    }
  }

  const TableSchema& Table(size_t t) const { return schema->tables()[t]; }

  std::string RowName(size_t t, const Uuid& u) const {
    return Table(t).name + " row " + u.ToString();
  }

  // Calls f(table, uuid) for every reference in `rc` of `row`.
  template <class F>
  static void ForEachRef(const Row& row, const RefColumn& rc, F&& f) {
    const Datum& d = row.columns[rc.column];
    if (rc.key_table >= 0) {
      for (const Atom& a : d.keys) f(static_cast<size_t>(rc.key_table), std::get<Uuid>(a));
    }
    if (rc.value_table >= 0) {
      for (const Atom& a : d.values) f(static_cast<size_t>(rc.value_table), std::get<Uuid>(a));
    }
  }

  std::string MissingTarget(const TxnView& view, size_t t, const Uuid& u,
                            const std::map<Uuid, std::string>& undefined) const {
    auto it = undefined.find(u);
    if (it != undefined.end()) {
      return "named-uuid \"" + it->second + "\", which no insert in this transaction defines";
    }
    if (view.FindBase(t, u)) return RowName(t, u) + ", which this transaction deletes";
    return RowName(t, u) + ", which does not exist";
  }

  std::optional<Error> PrepareCommit(TxnView& view, const std::map<Uuid, std::string>& undefined,
                                     std::vector<FinalChange>* out) {
    const size_t n = schema->tables().size();

    // 1. Strong references written by this transaction.
    bool needs_gc = false;
    for (size_t t = 0; t < n; ++t) {
      for (const auto& change : view.changes(t)) {
        const Uuid& u = change.first;  // named, not bound: lambdas below use it
        const auto& r = change.second;
        RowPtr old = view.FindBase(t, u);
        if (!r) {
          needs_gc = needs_gc || old != nullptr;
          continue;
        }
        if (!old && !Table(t).is_root) needs_gc = true;
        for (const RefColumn& rc : strong_cols[t]) {
          if (old && old->columns[rc.column] == r->columns[rc.column]) continue;
          if (old) needs_gc = true;
          std::optional<Error> err;
          ForEachRef(*r, rc, [&](size_t rt, const Uuid& target) {
            if (!err && !view.Find(rt, target)) {
              err = Riv(RowName(t, u) + " column " + Table(t).columns[rc.column].name +
                        " refers to " + MissingTarget(view, rt, target, undefined));
            }
          });
          if (err) return err;
        }
      }
    }

    // 2. Garbage collection (mark from the roots, sweep the rest).
    if (needs_gc) {
      std::vector<std::unordered_set<Uuid, UuidHash>> marked(n);
      std::vector<std::pair<size_t, RowPtr>> stack;
      for (size_t t = 0; t < n; ++t) {
        if (!Table(t).is_root) continue;
        view.ForEach(t, [&](const RowPtr& r) {
          marked[t].insert(r->uuid);
          stack.emplace_back(t, r);
          return true;
        });
      }
      while (!stack.empty()) {
        const size_t t = stack.back().first;  // named, not bound: lambdas below use them
        const RowPtr r = stack.back().second;
        stack.pop_back();
        for (const RefColumn& rc : strong_cols[t]) {
          std::optional<Error> err;
          ForEachRef(*r, rc, [&](size_t rt, const Uuid& target) {
            if (err || marked[rt].count(target)) return;
            RowPtr tr = view.Find(rt, target);
            if (!tr) {
              err = view.FindBase(rt, target)
                        ? Riv("cannot delete " + RowName(rt, target) + ": " + RowName(t, r->uuid) +
                              " column " + Table(t).columns[rc.column].name + " still refers to it")
                        : Riv(RowName(t, r->uuid) + " column " + Table(t).columns[rc.column].name +
                              " refers to " + MissingTarget(view, rt, target, undefined));
              return;
            }
            marked[rt].insert(target);
            stack.emplace_back(rt, std::move(tr));
          });
          if (err) return err;
        }
      }
      for (size_t t = 0; t < n; ++t) {
        if (Table(t).is_root) continue;
        std::vector<Uuid> garbage;
        view.ForEach(t, [&](const RowPtr& r) {
          if (!marked[t].count(r->uuid)) garbage.push_back(r->uuid);
          return true;
        });
        for (const Uuid& u : garbage) view.Erase(t, u);
      }
    }

    // 3. Weak references to rows that are gone.
    std::vector<bool> lost_rows(n, false);
    for (size_t t = 0; t < n; ++t) {
      for (const auto& [u, r] : view.changes(t)) {
        if (!r) lost_rows[t] = true;
      }
    }
    std::set<std::pair<size_t, Uuid>> weak_changed;
    for (size_t t = 0; t < n; ++t) {
      if (weak_cols[t].empty()) continue;
      bool scan_all =
          std::any_of(weak_cols[t].begin(), weak_cols[t].end(), [&](const RefColumn& rc) {
            return (rc.key_table >= 0 && lost_rows[static_cast<size_t>(rc.key_table)]) ||
                   (rc.value_table >= 0 && lost_rows[static_cast<size_t>(rc.value_table)]);
          });
      std::vector<std::shared_ptr<Row>> fixed;
      auto fix = [&](const RowPtr& r) {
        std::shared_ptr<Row> copy;
        for (const RefColumn& rc : weak_cols[t]) {
          const Datum& d = r->columns[rc.column];
          const bool is_map = Table(t).columns[rc.column].type.is_map();
          Datum kept;
          bool dropped = false;
          for (size_t i = 0; i < d.keys.size(); ++i) {
            bool gone = (rc.key_table >= 0 && !view.Find(static_cast<size_t>(rc.key_table),
                                                         std::get<Uuid>(d.keys[i]))) ||
                        (rc.value_table >= 0 && !view.Find(static_cast<size_t>(rc.value_table),
                                                           std::get<Uuid>(d.values[i])));
            if (gone) {
              dropped = true;
              continue;
            }
            kept.keys.push_back(d.keys[i]);
            if (is_map) kept.values.push_back(d.values[i]);
          }
          if (!dropped) continue;
          if (!copy) copy = view.Modify(*r);
          copy->columns[rc.column] = std::move(kept);
        }
        if (copy) fixed.push_back(std::move(copy));
        return true;
      };
      if (scan_all) {
        view.ForEach(t, fix);
      } else {
        for (const auto& [u, r] : view.changes(t)) {
          if (r) fix(r);
        }
      }
      for (auto& row : fixed) {
        weak_changed.emplace(t, row->uuid);
        view.Put(t, std::move(row));
      }
    }

    // 4. Types and set sizes of changed rows.
    for (size_t t = 0; t < n; ++t) {
      const TableSchema& ts = Table(t);
      for (const auto& [u, r] : view.changes(t)) {
        if (!r) continue;
        RowPtr old = view.FindBase(t, u);
        for (size_t c = 0; c < ts.columns.size(); ++c) {
          if (old && old->columns[c] == r->columns[c]) continue;
          if (auto e = CheckDatum(r->columns[c], ts.columns[c].type)) {
            e->tag = "constraint violation";
            e->details = RowName(t, u) + " column " + ts.columns[c].name + ": " + e->details;
            if (weak_changed.count({t, u}))
              e->details += " (after removing weak references to deleted rows)";
            return e;
          }
        }
      }
    }

    // 5. maxRows.
    for (size_t t = 0; t < n; ++t) {
      const TableSchema& ts = Table(t);
      if (!ts.max_rows || view.changes(t).empty()) continue;
      size_t count = view.Count(t);
      if (count > *ts.max_rows) {
        return Error{"constraint violation",
                     "table " + ts.name + " would have " + std::to_string(count) +
                         " rows, more than its maxRows of " + std::to_string(*ts.max_rows)};
      }
    }

    // 6. Indexes.
    for (size_t t = 0; t < n; ++t) {
      const TableSchema& ts = Table(t);
      const auto& changes = view.changes(t);
      if (ts.indexes.empty() || changes.empty()) continue;
      for (size_t i = 0; i < ts.indexes.size(); ++i) {
        const auto& cols = ts.indexes[i];
        auto describe = [&](const std::vector<Datum>& key) {
          std::string s;
          for (size_t k = 0; k < cols.size(); ++k) {
            if (k) s += ", ";
            s += ts.columns[cols[k]].name + " = " +
                 DatumToJson(key[k], ts.columns[cols[k]].type).dump();
          }
          return s;
        };
        std::map<std::vector<Datum>, Uuid> seen;
        for (const auto& [u, r] : changes) {
          if (!r) continue;
          auto key = Project(*r, cols);
          auto [it, inserted] = seen.emplace(std::move(key), u);
          if (!inserted) {
            return Error{"constraint violation",
                         "rows " + it->second.ToString() + " and " + u.ToString() + " of table " +
                             ts.name + " both have " + describe(it->first) +
                             ", which an index of the table requires to be unique"};
          }
        }
        const auto& committed = tables[t].indexes[i];
        for (const auto& [key, u] : seen) {
          auto it = committed.find(key);
          if (it == committed.end() || it->second == u || changes.count(it->second)) continue;
          return Error{"constraint violation",
                       "row " + u.ToString() + " of table " + ts.name + " has " + describe(key) +
                           ", like existing row " + it->second.ToString() +
                           ", but an index of the table requires it to be unique"};
        }
      }
    }

    // The net change.
    for (size_t t = 0; t < n; ++t) {
      for (const auto& change : view.changes(t)) {
        const Uuid& u = change.first;  // named, not bound: lambdas below use it
        const auto& r = change.second;
        RowPtr old = view.FindBase(t, u);
        if (!old && !r) continue;
        if (old && r && old->columns == r->columns) continue;
        out->push_back({t, u, old, r});
      }
    }
    return std::nullopt;
  }

  void Apply(const std::vector<FinalChange>& changes) {
    for (const FinalChange& c : changes) {
      if (!c.old_row) continue;
      TableData& td = tables[c.table];
      const TableSchema& ts = Table(c.table);
      for (size_t i = 0; i < ts.indexes.size(); ++i) {
        auto it = td.indexes[i].find(Project(*c.old_row, ts.indexes[i]));
        if (it != td.indexes[i].end() && it->second == c.uuid) td.indexes[i].erase(it);
      }
    }
    for (const FinalChange& c : changes) {
      TableData& td = tables[c.table];
      const TableSchema& ts = Table(c.table);
      if (!c.new_row) {
        td.rows.erase(c.uuid);
        continue;
      }
      td.rows[c.uuid] = c.new_row;
      for (size_t i = 0; i < ts.indexes.size(); ++i)
        td.indexes[i][Project(*c.new_row, ts.indexes[i])] = c.uuid;
    }
  }

  ChangeSet MakeChangeSet(const std::vector<FinalChange>& changes) const {
    ChangeSet cs;
    for (const FinalChange& c : changes) {
      const TableSchema& ts = Table(c.table);
      RowChange rc;
      if (c.old_row) rc.old_row = RowToJson(ts, *c.old_row);
      if (c.new_row) rc.new_row = RowToJson(ts, *c.new_row);
      cs[ts.name][c.uuid.ToString()] = std::move(rc);
    }
    return cs;
  }

  TransactResult Transact(const Json& operations, const TransactOptions& options) {
    TransactResult result;
    if (!operations.is_array()) {
      result.reply =
          Json::array({Error{"syntax error", "the operations must be a JSON array"}.ToJson()});
      return result;
    }
    TxnView view(*schema, tables, uuids);
    ExecOutcome out = ExecuteOperations(view, operations, options);
    Json reply = std::move(out.results);
    auto finish = [&]() -> TransactResult& {
      // RFC 7047 4.1.3: operations not attempted after a failure are null.
      while (reply.size() < operations.size()) reply.push_back(nullptr);
      result.reply = std::move(reply);
      return result;
    };
    if (out.blocked) {
      result.blocked = true;
      result.blocked_timeout_ms = out.blocked_timeout_ms;
      return finish();
    }
    if (out.failed || !view.HasChanges()) return finish();

    std::vector<FinalChange> changes;
    if (auto e = PrepareCommit(view, out.undefined_names, &changes)) {
      reply.push_back(e->ToJson());
      return finish();
    }
    if (changes.empty()) return finish();

    std::vector<Storage::Write> writes;
    for (const FinalChange& c : changes) {
      const TableSchema& ts = Table(c.table);
      if (!c.new_row) {
        writes.push_back({ts.name, c.uuid.ToString(), std::nullopt});
      } else if (!c.old_row || PersistentDiffers(ts, *c.old_row, *c.new_row)) {
        writes.push_back({ts.name, c.uuid.ToString(), StoredRowText(ts, *c.new_row)});
      }
    }
    if (!writes.empty()) {
      std::string err;
      Storage::Status st = storage->Commit(writes, {}, &err);
      if (st != Storage::Status::kOk) {
        reply.push_back(Error{
            st == Storage::Status::kResourcesExhausted ? "resources exhausted" : "I/O error", err}
                            .ToJson());
        return finish();
      }
    }
    Apply(changes);
    result.changes = MakeChangeSet(changes);
    return finish();
  }

  // Loads the stored rows (see the top of this file).
  bool Load(std::string* error) {
    std::vector<TableData> empty(schema->tables().size());
    for (size_t t = 0; t < empty.size(); ++t) empty[t].indexes.resize(Table(t).indexes.size());
    TxnView view(*schema, empty, uuids);
    std::map<std::pair<size_t, Uuid>, RowPtr> loaded;
    bool ok = storage->Load(
        [&](const std::string& tbl, const std::string& uuid_text, const std::string& text,
            std::string* err) {
          auto fail = [&](const std::string& what) {
            *err = "stored row " + tbl + " " + uuid_text + ": " + what;
            return false;
          };
          int t = schema->TableIndex(tbl);
          if (t < 0) return fail("the schema has no table " + tbl);
          const TableSchema& ts = Table(static_cast<size_t>(t));
          auto u = Uuid::Parse(uuid_text);
          if (!u) return fail("bad UUID");
          Json obj = Json::parse(text, nullptr, false);
          if (!obj.is_object()) return fail("not a JSON object");
          auto row = std::make_shared<Row>();
          row->uuid = *u;
          row->columns.resize(ts.columns.size());
          for (size_t c = 0; c < ts.columns.size(); ++c)
            row->columns[c] = DefaultDatum(ts.columns[c].type);
          row->version = uuids.Next();
          for (auto it = obj.begin(); it != obj.end(); ++it) {
            if (it.key() == "_version") {
              Atom v;
              if (!AtomFromJson(it.value(), AtomicType::kUuid, nullptr, &v))
                row->version = std::get<Uuid>(v);
              continue;
            }
            int c = ts.ColumnIndex(it.key());
            if (c < 0) return fail("the schema has no column " + ts.name + "." + it.key());
            const ColumnSchema& col = ts.columns[static_cast<size_t>(c)];
            if (!col.persistent) continue;
            ParseOptions opts;
            if (auto e = DatumFromJson(it.value(), col.type, opts,
                                       &row->columns[static_cast<size_t>(c)])) {
              return fail("column " + col.name + ": " + e->details);
            }
          }
          loaded[{static_cast<size_t>(t), *u}] = row;
          view.Put(static_cast<size_t>(t), std::move(row));
          return true;
        },
        error);
    if (!ok) return false;

    std::vector<FinalChange> changes;
    if (auto e = PrepareCommit(view, {}, &changes)) {
      *error = "the stored rows do not satisfy the schema: " + e->tag + ": " + e->details;
      return false;
    }
    // Write back what the checks changed, and the schema this file now has.
    std::vector<Storage::Write> writes;
    size_t collected = 0, weakened = 0;
    for (const auto& [key, row] : loaded) {
      RowPtr final_row = view.Find(key.first, key.second);
      const TableSchema& ts = Table(key.first);
      if (!final_row) {
        ++collected;
        writes.push_back({ts.name, key.second.ToString(), std::nullopt});
      } else if (final_row != row) {
        ++weakened;
        writes.push_back({ts.name, key.second.ToString(), StoredRowText(ts, *final_row)});
      }
    }
    if (collected || weakened) {
      spdlog::warn(
          "db: loading {}: dropped {} unreferenced row(s), removed dangling weak references from "
          "{} row(s)",
          schema->name(), collected, weakened);
    }
    std::vector<std::pair<std::string, std::string>> meta;
    std::string merr;
    if (storage->GetMeta("version", &merr) != schema->version())
      meta.emplace_back("version", schema->version());
    if (storage->GetMeta("name", &merr) != schema->name())
      meta.emplace_back("name", schema->name());
    std::string schema_text = schema->json().dump();
    if (storage->GetMeta("schema", &merr) != schema_text)
      meta.emplace_back("schema", std::move(schema_text));
    if (!writes.empty() || !meta.empty()) {
      if (storage->Commit(writes, meta, error) != Storage::Status::kOk) return false;
    }
    Apply(changes);
    return true;
  }
};

std::unique_ptr<Database> Database::Open(const std::string& path,
                                         std::shared_ptr<const Schema> schema, std::string* error) {
  return Open(path, std::move(schema), error, DatabaseOptions{});
}

std::unique_ptr<Database> Database::Open(const std::string& path,
                                         std::shared_ptr<const Schema> schema, std::string* error,
                                         const DatabaseOptions& options) {
  std::string local;
  std::string* err = error ? error : &local;
  if (!schema) {
    *err = "no schema";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(std::move(schema));
  impl->storage = Storage::Open(path, options.max_file_bytes, err);
  if (!impl->storage) return nullptr;
  std::string meta_err;
  auto stored_name = impl->storage->GetMeta("name", &meta_err);
  if (!meta_err.empty()) {
    *err = path + ": " + meta_err;
    return nullptr;
  }
  if (stored_name && *stored_name != impl->schema->name()) {
    *err = path + ": the file holds database " + *stored_name + ", not " + impl->schema->name();
    return nullptr;
  }
  std::string load_err;
  if (!impl->Load(&load_err)) {
    *err = path + ": " + load_err;
    return nullptr;
  }
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

const Schema& Database::schema() const { return *impl_->schema; }
const std::string& Database::name() const { return impl_->schema->name(); }
const Json& Database::schema_json() const { return impl_->schema->json(); }

TransactResult Database::Transact(const Json& operations, const TransactOptions& options) {
  // The view is private to the call, so an exception leaves the database as
  // it was; it becomes the error of the first operation.
  auto error_reply = [&](const Error& e) {
    TransactResult r;
    r.reply = Json::array({e.ToJson()});
    if (operations.is_array()) {
      while (r.reply.size() < operations.size()) r.reply.push_back(nullptr);
    }
    return r;
  };
  try {
    return impl_->Transact(operations, options);
  } catch (const std::bad_alloc&) {
    return error_reply(Error{"resources exhausted", "out of memory"});
  } catch (const std::exception& e) {
    return error_reply(Error{"unknown error", e.what()});
  }
}

std::map<std::string, Json> Database::Rows(const std::string& table) const {
  std::map<std::string, Json> rows;
  int t = impl_->schema->TableIndex(table);
  if (t < 0) return rows;
  const TableSchema& ts = impl_->Table(static_cast<size_t>(t));
  for (const auto& [u, r] : impl_->tables[static_cast<size_t>(t)].rows)
    rows[u.ToString()] = RowToJson(ts, *r);
  return rows;
}

}  // namespace sluice::db
