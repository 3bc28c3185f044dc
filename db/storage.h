#pragma once
// What: the config store's file: a SQLite database holding the rows of one
// OVSDB database, written once per committed OVSDB transaction.
//
// Design:
//   - Layout (storage format 1, PRAGMA user_version = 1, application_id
//     kApplicationId so a stranger's SQLite file is refused):
//       meta(key TEXT PRIMARY KEY, value TEXT)       -- "name", "version", "schema"
//       rows(tbl TEXT, uuid TEXT, row TEXT,          -- row: JSON object of the
//            PRIMARY KEY(tbl, uuid)) WITHOUT ROWID  --   stored columns + "_version"
//     Row JSON uses RFC 7047 notation, so the file can be read with the
//     sqlite3 shell and any JSON tool.
//   - journal_mode=WAL, synchronous=FULL: a COMMIT has reached the disk when
//     it returns. locking_mode=EXCLUSIVE and an exclusive transaction at
//     open: one process owns the file; a second Open fails instead of
//     interleaving writes.
//   - Commit() is one SQL transaction (BEGIN IMMEDIATE ... COMMIT) for all
//     the rows an OVSDB transaction changed; on any failure it rolls back,
//     so the file holds the previous state.
//   - An optional size limit (PRAGMA max_page_count) turns an oversized
//     write into kResourcesExhausted, like a full disk.
//
// Invariants:
//   1. After Commit() returns kOk the writes are durable; after any other
//      status the file is unchanged.
//
// Thread-safety: none; one owner (the database's io thread).
// Memory: prepared statements live as long as the Storage.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::db {

class Storage {
 public:
  static constexpr int32_t kApplicationId = 0x534c4442;  // "SLDB"
  static constexpr int kFormatVersion = 1;

  // Opens or creates the file. max_bytes > 0 limits the file's size.
  static std::unique_ptr<Storage> Open(const std::string& path, uint64_t max_bytes,
                                       std::string* error);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // meta table value, nullopt if absent.
  std::optional<std::string> GetMeta(const std::string& key, std::string* error);

  // Calls `row(table, uuid, row_json)` for every stored row; stops and
  // returns false when it returns false (having set *error) or on a read
  // error.
  bool Load(const std::function<bool(const std::string& table, const std::string& uuid,
                                     const std::string& row, std::string* error)>& row,
            std::string* error);

  struct Write {
    std::string table;
    std::string uuid;
    std::optional<std::string> row;  // nullopt: delete
  };
  enum class Status { kOk, kResourcesExhausted, kIoError };
  // One SQL transaction: the writes plus the meta values.
  Status Commit(const std::vector<Write>& writes,
                const std::vector<std::pair<std::string, std::string>>& meta, std::string* error);

 private:
  Storage() = default;
  bool Exec(const char* sql, std::string* error);
  std::string LastError() const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* del_ = nullptr;
  sqlite3_stmt* meta_put_ = nullptr;
};

}  // namespace sluice::db
