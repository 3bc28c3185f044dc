#pragma once
// What: the engine's internals shared by db/database.cc (commit, storage)
// and db/transact.cc (the RFC 7047 operations): committed rows, the
// copy-on-write view a transaction runs against, and the executor.
//
// Design:
//   - A Row is immutable once published (shared_ptr<const Row>); a change
//     makes a new Row. The committed state is one std::map<Uuid, RowPtr>
//     per table, plus one map per index from the indexed columns' values to
//     the row.
//   - TxnView layers a per-table map of changed rows over the committed
//     maps (nullptr marks a deletion). Reads look at the changes first;
//     iteration merges both in UUID order. Nothing committed is touched
//     until the database applies a finished transaction, so dropping the
//     view is the rollback.
//   - Every modification of a row in a view gives it a fresh _version; the
//     commit puts back the committed row where the final content is equal,
//     so _version changes exactly when content did.
//
// Invariants:
//   1. TxnView::changes(t) holds only rows that differ in pointer from the
//      committed row of the same UUID (or are absent from it).
//   2. A RowPtr's columns has one datum per column of its table's schema.
//
// Thread-safety: none; the database's io thread only.
// Memory: a view costs one map node per changed row; unchanged rows are
// shared with the committed state.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "db/database.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::db {

struct Row {
  Uuid uuid;
  Uuid version;
  std::vector<Datum> columns;  // by TableSchema::columns index
};
using RowPtr = std::shared_ptr<const Row>;

// The row as RFC 7047 <row>: every column (or only `columns`, by index;
// -1 = _uuid, -2 = _version), _uuid and _version included.
Json RowToJson(const TableSchema& table, const Row& row);

struct TableData {
  std::map<Uuid, RowPtr> rows;
  // One per TableSchema::indexes entry: indexed values -> row.
  std::vector<std::map<std::vector<Datum>, Uuid>> indexes;
};

class TxnView {
 public:
  TxnView(const Schema& schema, const std::vector<TableData>& base, UuidGenerator& uuids)
      : schema_(schema), base_(base), changes_(base.size()), uuids_(uuids) {}

  const Schema& schema() const { return schema_; }
  RowPtr Find(size_t table, const Uuid& uuid) const;
  RowPtr FindBase(size_t table, const Uuid& uuid) const;
  void Put(size_t table, RowPtr row);
  void Erase(size_t table, const Uuid& uuid);
  // Calls f(const RowPtr&) for every live row in UUID order; stops early
  // when f returns false.
  template <class F>
  void ForEach(size_t table, F&& f) const;
  size_t Count(size_t table) const;

  const std::map<Uuid, RowPtr>& changes(size_t table) const { return changes_[table]; }
  const std::map<Uuid, RowPtr>& base(size_t table) const { return base_[table].rows; }
  bool HasChanges() const;
  Uuid NewUuid() { return uuids_.Next(); }
  // A copy of `row` with a fresh _version, for modification.
  std::shared_ptr<Row> Modify(const Row& row) {
    auto copy = std::make_shared<Row>(row);
    copy->version = uuids_.Next();
    return copy;
  }

 private:
  const Schema& schema_;
  const std::vector<TableData>& base_;
  std::vector<std::map<Uuid, RowPtr>> changes_;
  UuidGenerator& uuids_;
};

template <class F>
void TxnView::ForEach(size_t table, F&& f) const {
  const auto& base = base_[table].rows;
  const auto& ch = changes_[table];
  auto b = base.begin();
  auto c = ch.begin();
  while (b != base.end() || c != ch.end()) {
    if (c == ch.end() || (b != base.end() && b->first < c->first)) {
      if (!f(b->second)) return;
      ++b;
    } else {
      if (b != base.end() && b->first == c->first) ++b;
      if (c->second && !f(c->second)) return;
      ++c;
    }
  }
}

// What running the operations produced.
struct ExecOutcome {
  Json results = Json::array();  // one entry per attempted operation
  bool failed = false;           // the last entry is an error
  bool blocked = false;          // a "wait" with a timeout was not satisfied
  uint64_t blocked_timeout_ms = 0;
  // UUIDs that "named-uuid" references invented for names no "insert"
  // defined, for error details.
  std::map<Uuid, std::string> undefined_names;
};

// Runs RFC 7047 operations against `view` (db/transact.cc).
ExecOutcome ExecuteOperations(TxnView& view, const Json& operations,
                              const TransactOptions& options);

}  // namespace sluice::db
