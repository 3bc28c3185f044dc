#pragma once
// What: the config store's engine: an OVSDB database (RFC 7047) held in
// memory and persisted in a SQLite file, with transactions executed exactly
// as RFC 7047 section 5.2 defines them (insert, select, update, mutate,
// delete, wait, commit, abort, comment, assert), schema constraints checked
// at commit (types, enums, min/max, set sizes, references, indexes),
// garbage collection of unreferenced non-root rows, and the changes each
// committed transaction made (what monitors report).
//
// Design:
//   - JSON is nlohmann::json throughout, in RFC 7047's notation ("set",
//     "map", "uuid", "named-uuid" arrays).
//   - A transaction runs against a private copy-on-write view; on success
//     the changes are written to SQLite in one SQL transaction
//     (journal_mode=WAL, synchronous=FULL) and only then applied to memory.
//     So a reply that says "committed" is on disk, and a failure of any
//     operation, constraint or the disk write changes nothing.
//   - Row UUIDs are random (v4). _uuid and _version are implicit columns of
//     every table; _version changes with every modification of the row.
//   - Pieces: db/datum.h (values, RFC 7047 notation), db/schema.h (schema
//     parsing), db/transact.cc (the operations), db/database.cc (commit
//     checks, garbage collection, indexes), db/storage.h (the SQLite file).
//   - Reply shape (RFC 7047 4.1.3): one entry per operation; after a failed
//     operation the remaining entries are null; a failure at commit
//     (references, constraints, indexes, maxRows, the disk) adds one more
//     entry, the error. wait/commit/comment/assert succeed with {} (as
//     ovsdb-server(7) says Open vSwitch does).
//   - Named UUIDs may be used before the "insert" that defines them (the
//     Open vSwitch IDL orders operations freely); one no insert defines is
//     a UUID of no row. The Open vSwitch "uuid" member of "insert" is
//     refused ("syntax error"); "columns" of "wait" may be omitted (every
//     column), as Open vSwitch's IDL does.
//   - Conditions also accept the Open vSwitch extensions: a boolean
//     condition, and <, <=, >=, > on an optional integer or real column.
//   - Ephemeral columns are not written to the file (after a restart they
//     hold their defaults), so a transaction that changes only ephemeral
//     columns costs no disk write; it still yields a change set. Ephemeral
//     columns holding references or in an index are stored anyway.
//
// Invariants:
//   1. Memory and the SQLite file hold the same rows after every Transact.
//   2. After a commit no strong reference dangles, no non-root row is
//      unreferenced, and every index is unique.
//
// Thread-safety: not thread-safe; the server runs every transaction on its
// one io thread.
//
// Memory: every row is held in memory (immutable rows shared between the
// committed state and a running transaction); a transaction costs one copy
// per row it changes. The SQLite file holds one exclusive lock for the
// Database's lifetime.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::db {

using Json = nlohmann::json;

class Schema;  // defined in db/schema.h

// Parses and checks an OVSDB schema (RFC 7047 3.2). nullptr + *error if bad.
std::shared_ptr<const Schema> ParseSchema(const Json& schema, std::string* error);
// Loads a schema file (db/sluice.ovsschema is the project's).
std::shared_ptr<const Schema> LoadSchemaFile(const std::string& path, std::string* error);

// One row's change in a committed transaction. Rows are JSON objects of
// column -> datum (RFC 7047 notation), every column present, _uuid and
// _version included.
struct RowChange {
  std::optional<Json> old_row;  // nullopt: inserted
  std::optional<Json> new_row;  // nullopt: deleted
};
// table -> row uuid (text) -> change.
using ChangeSet = std::map<std::string, std::map<std::string, RowChange>>;

struct TransactOptions {
  // For the "assert" operation: does the calling session own lock `name`?
  std::function<bool(const std::string& name)> has_lock;
};

struct TransactResult {
  Json reply;          // the "result" array of RFC 7047 4.1.3 (one entry per operation, plus an error entry when a commit-time check failed)
  ChangeSet changes;   // empty unless committed with changes
  // A "wait" with a non-zero timeout was not satisfied: nothing was done;
  // the server retries the whole transaction after later commits until the
  // wait's timeout (ms) expires, then replies with the "timed out" error.
  // When blocked, `reply` already is that reply (results of the operations
  // before the wait, {"error": "timed out"} for it, null for the rest), and
  // blocked_timeout_ms is UINT64_MAX for a wait without "timeout" (forever).
  bool blocked = false;
  uint64_t blocked_timeout_ms = 0;
};

struct DatabaseOptions {
  // Limit on the SQLite file's size: a commit that would grow the file
  // beyond it fails with "resources exhausted" and changes nothing.
  // 0: no limit.
  uint64_t max_file_bytes = 0;
};

class Database {
 public:
  // Opens (creating if needed) the SQLite file at `path` for `schema`.
  // An existing file's rows are loaded and checked against the schema.
  static std::unique_ptr<Database> Open(const std::string& path, std::shared_ptr<const Schema> schema,
                                        std::string* error);
  static std::unique_ptr<Database> Open(const std::string& path, std::shared_ptr<const Schema> schema,
                                        std::string* error, const DatabaseOptions& options);
  ~Database();

  const Schema& schema() const;
  const std::string& name() const;  // the schema's name ("Open_vSwitch")
  const Json& schema_json() const;  // for get_schema

  // Runs the operations (the "transact" params after the database name).
  TransactResult Transact(const Json& operations, const TransactOptions& options = {});

  // Every row of `table` (uuid -> row object with every column), for
  // monitors' initial contents. Empty map for an unknown table.
  std::map<std::string, Json> Rows(const std::string& table) const;

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::db
