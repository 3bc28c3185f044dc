#pragma once
// What: what an OVSDB monitor reports (RFC 7047 4.1.5 "monitor"/"update",
// and Open vSwitch's extensions "monitor_cond"/"update2",
// "monitor_cond_since"/"update3", "monitor_cond_change" as ovsdb-server(7)
// documents them): parsing monitor requests and conditions, a table's
// initial contents, and the notification for each committed ChangeSet.
// Plain functions over JSON rows; the server (db/server.h) owns sessions
// and sends what this computes.
//
// Design:
//   - Datums are compared as canonical element lists: a set becomes its
//     sorted, de-duplicated atoms, a map its sorted [key, value] pairs, an
//     atom a one-element list. So `1`, ["set",[1]] are equal, and neither
//     order nor the one-element shorthand matters. This needs no schema.
//   - The schema is needed only to tell an atomic column from a set or map
//     column (SchemaShape), because update2's "modify" diff differs: the new
//     value for an atom, the symmetric difference for a set, the changed
//     pairs for a map (added, removed with the old value, changed with the
//     new value).
//   - A table may have several monitor requests (each with columns and
//     "select"); per action (initial, insert, delete, modify) the reported
//     columns are the union over the requests that select that action.
//     monitor_cond "where" clauses of all requests of a table are combined
//     into one condition: a row matches if any clause holds (ovsdb-server's
//     semantics; an empty or absent "where" is true). Transact-style
//     conditions (every clause must hold) use the same Condition class.
//   - Rows that move in or out of a condition by a modification are
//     reported as update2 "insert" / "delete" (never as "modify").
//
// Invariants:
//   1. Applying Update()'s update2 to the client's view (insert/initial
//      sets the row, delete removes it, modify XORs sets and maps and
//      replaces atoms) gives exactly the projection of the rows matching
//      the condition after the commit.
//   2. Update() never reports a table or row with nothing in it: a modify
//      of unmonitored columns produces no entry; an empty object means
//      "send nothing".
//
// Thread-safety: none needed; values only.

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/database.h"

namespace sluice::db {

enum class ColumnKind { kAtom, kSet, kMap };

// Column kinds of every table of a schema (RFC 7047 <database-schema>),
// with the implicit _uuid and _version columns.
class SchemaShape {
 public:
  using Columns = std::map<std::string, ColumnKind>;
  explicit SchemaShape(const Json& schema);
  // nullptr for an unknown table.
  const Columns* Table(const std::string& name) const;
  const std::map<std::string, Columns>& tables() const { return tables_; }

 private:
  std::map<std::string, Columns> tables_;
};

// The sorted, de-duplicated elements of a datum (see Design).
std::vector<Json> DatumElements(const Json& datum);
bool DatumEquals(const Json& a, const Json& b);
// update2's difference between two values of a column of kind `kind`.
Json DatumDiff(ColumnKind kind, const Json& old_value, const Json& new_value);

// A parsed RFC 7047 <condition> list over one table.
class Condition {
 public:
  enum class Combine { kAll, kAny };
  Condition() = default;  // true
  // `where` is an array of [column, function, value] clauses (and, with
  // kAny, booleans). false + *error for an unknown column or function.
  static bool Parse(const Json& where, const SchemaShape::Columns& columns, Combine combine,
                    Condition* out, std::string* error);
  bool Matches(const Json& row) const;
  bool always_true() const;

  // The clauses of `other` joined to this one's (for kAny: either matches).
  void Or(const Condition& other);

 private:
  enum class Fn { kLt, kLe, kEq, kNe, kGe, kGt, kIncludes, kExcludes };
  struct Clause {
    std::string column;
    Fn fn;
    std::vector<Json> arg;  // canonical elements
  };
  bool Eval(const Clause& c, const Json& row) const;

  Combine combine_ = Combine::kAll;
  std::vector<Clause> clauses_;
  size_t terms_ = 0;        // clauses and literals parsed
  bool has_true_ = false;   // a literal true term
  bool has_false_ = false;  // a literal false term
};

// Keeps the columns in `columns` (and only those) of a row object.
Json ProjectRow(const Json& row, const std::set<std::string>& columns);

enum class MonitorVersion {
  kV1,  // "monitor": replies and "update" notifications with {"old","new"}
  kV2,  // "monitor_cond": "update2" with initial/insert/delete/modify
  kV3,  // "monitor_cond_since": as kV2, notifications are "update3"
};

class Monitor {
 public:
  enum Action { kInitial = 0, kInsert, kDelete, kModify };

  // Parses <monitor-requests> (kV1) or <monitor-cond-requests> (kV2, kV3).
  // nullptr + *error ("unknown table Foo", ...) if malformed.
  static std::unique_ptr<Monitor> Parse(const Json& requests, const SchemaShape& shape,
                                        MonitorVersion version, std::string* error);

  MonitorVersion version() const { return version_; }

  using RowsFn = std::function<std::map<std::string, Json>(const std::string& table)>;
  // <table-updates> (kV1: {"new": row}) or <table-updates2> ({"initial":
  // row}) of the current rows, for the tables whose requests select
  // "initial".
  Json Initial(const RowsFn& rows) const;

  // What to report for a committed change; an empty object if nothing.
  Json Update(const ChangeSet& changes) const;

  // monitor_cond_change: replaces the conditions of the tables named in
  // `requests` (table -> [{"columns"?, "where"?}]). *update gets the
  // <table-updates2> that moves the client from the old view to the new
  // one (rows leaving: delete; entering: insert). false + *error if
  // malformed or if it would change the columns (not supported, like
  // ovsdb-server).
  bool ChangeConditions(const Json& requests, const RowsFn& rows, Json* update, std::string* error);

 private:
  struct TableMonitor {
    const SchemaShape::Columns* shape = nullptr;
    std::array<bool, 4> selected{};                // per Action
    std::array<std::set<std::string>, 4> columns;  // per Action
    std::set<std::string> all_columns;             // union of the requests' columns
    Condition where;                               // kV2/kV3 only
  };

  Json RowUpdate1(const TableMonitor& t, const RowChange& change) const;
  Json RowUpdate2(const TableMonitor& t, const RowChange& change) const;

  MonitorVersion version_ = MonitorVersion::kV1;
  std::map<std::string, TableMonitor> tables_;
};

}  // namespace sluice::db
