#include "db/storage.h"

#include <sqlite3.h>

namespace sluice::db {

namespace {

// RAII for a statement used once.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

std::string Storage::LastError() const { return db_ ? sqlite3_errmsg(db_) : "out of memory"; }

bool Storage::Exec(const char* sql, std::string* error) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    if (error) *error = std::string(sql) + ": " + (msg ? msg : LastError());
    sqlite3_free(msg);
    return false;
  }
  return true;
}

std::unique_ptr<Storage> Storage::Open(const std::string& path, uint64_t max_bytes,
                                       std::string* error) {
  std::unique_ptr<Storage> st(new Storage());
  auto fail = [&](const std::string& what) -> std::unique_ptr<Storage> {
    int code = st->db_ ? sqlite3_extended_errcode(st->db_) & 0xff : SQLITE_OK;
    bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    if (error)
      *error = path + ": " + (busy ? std::string("the file is in use by another process") : what);
    return nullptr;
  };
  int rc =
      sqlite3_open_v2(path.c_str(), &st->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return fail(st->LastError());
  sqlite3_extended_result_codes(st->db_, 1);
  std::string e;
  // EXCLUSIVE before WAL: the WAL index then lives in heap memory (no -shm
  // file) and the lock taken below is held until close.
  if (!st->Exec("PRAGMA locking_mode=EXCLUSIVE", &e)) return fail(e);
  {
    Stmt s;
    if (sqlite3_prepare_v2(st->db_, "PRAGMA journal_mode=WAL", -1, &s.s, nullptr) != SQLITE_OK) {
      return fail(st->LastError());
    }
    if (sqlite3_step(s.s) != SQLITE_ROW) return fail(st->LastError());
    std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0));
    if (mode != "wal") return fail("cannot switch to journal_mode=WAL (got " + mode + ")");
  }
  if (!st->Exec("PRAGMA synchronous=FULL", &e)) return fail(e);
  // Take the exclusive lock now, so a second opener fails here.
  rc = sqlite3_exec(st->db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(st->LastError());
  auto int_pragma = [&](const char* sql, int64_t* out) {
    Stmt s;
    if (sqlite3_prepare_v2(st->db_, sql, -1, &s.s, nullptr) != SQLITE_OK) return false;
    if (sqlite3_step(s.s) != SQLITE_ROW) return false;
    *out = sqlite3_column_int64(s.s, 0);
    return true;
  };
  int64_t app_id = 0, user_version = 0, tables = 0;
  if (!int_pragma("PRAGMA application_id", &app_id) ||
      !int_pragma("PRAGMA user_version", &user_version) ||
      !int_pragma("SELECT count(*) FROM sqlite_master", &tables)) {
    std::string err = st->LastError();
    st->Exec("ROLLBACK", nullptr);
    return fail(err);
  }
  if (tables == 0 && app_id == 0) {
    // A new file.
    std::string sql =
        "PRAGMA application_id=" + std::to_string(kApplicationId) +
        "; PRAGMA user_version=" + std::to_string(kFormatVersion) +
        "; CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
        "; CREATE TABLE rows(tbl TEXT NOT NULL, uuid TEXT NOT NULL, row TEXT NOT NULL,"
        " PRIMARY KEY(tbl, uuid)) WITHOUT ROWID";
    if (!st->Exec(sql.c_str(), &e)) {
      st->Exec("ROLLBACK", nullptr);
      return fail(e);
    }
  } else if (app_id != kApplicationId) {
    st->Exec("ROLLBACK", nullptr);
    return fail("not a Sluice database file (SQLite application_id " + std::to_string(app_id) +
                ")");
  } else if (user_version != kFormatVersion) {
    st->Exec("ROLLBACK", nullptr);
    return fail("unsupported storage format " + std::to_string(user_version) +
                " (this build reads " + std::to_string(kFormatVersion) + ")");
  }
  if (!st->Exec("COMMIT", &e)) return fail(e);

  if (max_bytes > 0) {
    int64_t page_size = 4096;
    int_pragma("PRAGMA page_size", &page_size);
    int64_t pages = static_cast<int64_t>(max_bytes / static_cast<uint64_t>(page_size));
    if (pages < 2) pages = 2;
    std::string sql = "PRAGMA max_page_count=" + std::to_string(pages);
    if (!st->Exec(sql.c_str(), &e)) return fail(e);
  }

  if (sqlite3_prepare_v3(st->db_, "INSERT OR REPLACE INTO rows(tbl, uuid, row) VALUES(?1, ?2, ?3)",
                         -1, SQLITE_PREPARE_PERSISTENT, &st->put_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v3(st->db_, "DELETE FROM rows WHERE tbl = ?1 AND uuid = ?2", -1,
                         SQLITE_PREPARE_PERSISTENT, &st->del_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v3(st->db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1,
                         SQLITE_PREPARE_PERSISTENT, &st->meta_put_, nullptr) != SQLITE_OK) {
    return fail(st->LastError());
  }
  return st;
}

Storage::~Storage() {
  sqlite3_finalize(put_);
  sqlite3_finalize(del_);
  sqlite3_finalize(meta_put_);
  sqlite3_close(db_);
}

std::optional<std::string> Storage::GetMeta(const std::string& key, std::string* error) {
  Stmt s;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?1", -1, &s.s, nullptr) !=
      SQLITE_OK) {
    if (error) *error = LastError();
    return std::nullopt;
  }
  sqlite3_bind_text(s.s, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(s.s);
  if (rc == SQLITE_ROW) {
    const unsigned char* v = sqlite3_column_text(s.s, 0);
    return std::string(v ? reinterpret_cast<const char*>(v) : "");
  }
  if (rc != SQLITE_DONE && error) *error = LastError();
  return std::nullopt;
}

bool Storage::Load(const std::function<bool(const std::string&, const std::string&,
                                            const std::string&, std::string*)>& row,
                   std::string* error) {
  Stmt s;
  if (sqlite3_prepare_v2(db_, "SELECT tbl, uuid, row FROM rows", -1, &s.s, nullptr) != SQLITE_OK) {
    if (error) *error = LastError();
    return false;
  }
  auto text = [&](int col) {
    const unsigned char* v = sqlite3_column_text(s.s, col);
    return std::string(v ? reinterpret_cast<const char*>(v) : "");
  };
  for (;;) {
    int rc = sqlite3_step(s.s);
    if (rc == SQLITE_DONE) return true;
    if (rc != SQLITE_ROW) {
      if (error) *error = LastError();
      return false;
    }
    if (!row(text(0), text(1), text(2), error)) return false;
  }
}

Storage::Status Storage::Commit(const std::vector<Write>& writes,
                                const std::vector<std::pair<std::string, std::string>>& meta,
                                std::string* error) {
  auto status_of = [&](int rc) {
    int primary = rc & 0xff;
    return primary == SQLITE_FULL || primary == SQLITE_NOMEM ? Status::kResourcesExhausted
                                                             : Status::kIoError;
  };
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    if (error) *error = "BEGIN: " + LastError();
    return status_of(rc);
  }
  auto fail = [&](int code, const char* what) {
    if (error) *error = std::string(what) + ": " + LastError();
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return status_of(code);
  };
  for (const Write& w : writes) {
    sqlite3_stmt* s = w.row ? put_ : del_;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, w.table.data(), static_cast<int>(w.table.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 2, w.uuid.data(), static_cast<int>(w.uuid.size()), SQLITE_STATIC);
    if (w.row)
      sqlite3_bind_text(s, 3, w.row->data(), static_cast<int>(w.row->size()), SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return fail(rc, w.row ? "writing a row" : "deleting a row");
  }
  for (const auto& [key, value] : meta) {
    sqlite3_reset(meta_put_);
    sqlite3_bind_text(meta_put_, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(meta_put_, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    rc = sqlite3_step(meta_put_);
    sqlite3_reset(meta_put_);
    sqlite3_clear_bindings(meta_put_);
    if (rc != SQLITE_DONE) return fail(rc, "writing meta");
  }
  rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, "COMMIT");
  return Status::kOk;
}

}  // namespace sluice::db
