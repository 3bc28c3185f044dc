// The SQLite file behind db/database.h: reopening gives the same rows, a
// failed transaction writes nothing, the file is checked against the schema
// on open, and a commit that was acknowledged survives the process being
// killed (fork + SIGKILL at a random moment).

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "db/database.h"
#include "db/schema.h"

namespace sluice::db {
namespace {

const char* kSchema = R"({
  "name": "Store", "version": "1.0.0",
  "tables": {
    "Item": {"isRoot": true, "indexes": [["i"]], "columns": {
      "i": {"type": "integer"},
      "s": {"type": "string"},
      "tags": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
      "kids": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": "unlimited"}},
      "stat": {"type": {"key": "string", "value": "integer", "min": 0, "max": "unlimited"}, "ephemeral": true}}},
    "Kid": {"columns": {
      "name": {"type": "string"},
      "fan": {"type": {"key": {"type": "uuid", "refTable": "Item", "refType": "weak"}, "min": 0, "max": 1}}}}
  }})";

std::shared_ptr<const Schema> TestSchema() {
  std::string error;
  auto s = ParseSchema(Json::parse(kSchema), &error);
  EXPECT_TRUE(s) << error;
  return s;
}

Json Insert(int64_t i, const std::string& s = "") {
  return Json::array({Json({{"op", "insert"}, {"table", "Item"}, {"row", {{"i", i}, {"s", s}}}})});
}

bool Committed(const TransactResult& r) {
  if (!r.reply.is_array()) return false;
  for (const Json& e : r.reply) {
    if (!e.is_object() || e.contains("error")) return false;
  }
  return true;
}

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        ::testing::TempDir() + "/storage_" + info->name() + "_" + std::to_string(getpid()) + ".db";
    Cleanup();
    schema_ = TestSchema();
  }
  void TearDown() override { Cleanup(); }
  void Cleanup() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path_ + suffix).c_str());
  }
  std::unique_ptr<Database> Open(const DatabaseOptions& options = {}) {
    std::string error;
    auto db = Database::Open(path_, schema_, &error, options);
    EXPECT_TRUE(db) << error;
    return db;
  }
  Json Everything(const Database& db) {
    Json all = Json::object();
    for (const char* t : {"Item", "Kid"}) all[t] = Json(db.Rows(t));
    return all;
  }
  // The file's rows, read with SQLite directly (the database must be closed).
  std::map<std::string, std::string> FileRows() {
    std::map<std::string, std::string> rows;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT tbl, uuid, row FROM rows", -1, &s, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    while (s && sqlite3_step(s) == SQLITE_ROW) {
      rows[std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) + "/" +
           reinterpret_cast<const char*>(sqlite3_column_text(s, 1))] =
          reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
  }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg), SQLITE_OK) << (msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
  }

  std::string path_;
  std::shared_ptr<const Schema> schema_;
};

TEST_F(StorageTest, ReopenGivesTheSameRows) {
  Json before;
  {
    auto db = Open();
    ASSERT_TRUE(db);
    TransactResult r = db->Transact(Json::parse(R"([
      {"op": "insert", "table": "Kid", "row": {"name": "k1", "fan": ["named-uuid", "a"]}, "uuid-name": "k1"},
      {"op": "insert", "table": "Item", "uuid-name": "a",
       "row": {"i": 1, "s": "héllo \"quoted\"\n", "tags": ["map", [["x", "1"], ["y", "2"]]],
               "kids": ["named-uuid", "k1"], "stat": ["map", [["rx", 5]]]}},
      {"op": "insert", "table": "Item", "row": {"i": 2}}])"));
    ASSERT_TRUE(Committed(r)) << r.reply.dump();
    ASSERT_TRUE(Committed(db->Transact(Insert(3))));
    std::string item3 =
        db->Transact(
              Json::parse(R"([{"op": "select", "table": "Item", "where": [["i", "==", 3]]}])"))
            .reply[0]["rows"][0]["_uuid"][1];
    ASSERT_TRUE(Committed(db->Transact(Json::parse(
        R"([{"op": "update", "table": "Item", "where": [["i", "==", 2]], "row": {"s": "changed"}},
            {"op": "delete", "table": "Item", "where": [["i", "==", 3]]}])"))));
    before = Everything(*db);
    EXPECT_FALSE(before["Item"].contains(item3));
  }
  auto db = Open();
  ASSERT_TRUE(db);
  Json after = Everything(*db);
  // Ephemeral columns are not stored: after a restart they are empty.
  for (auto& [uuid, row] : before["Item"].items()) {
    if (row["stat"] != Json::parse(R"(["map", []])")) {
      EXPECT_EQ(after["Item"][uuid]["stat"], Json::parse(R"(["map", []])"));
      row["stat"] = after["Item"][uuid]["stat"];
    }
  }
  EXPECT_EQ(after, before);
  EXPECT_EQ(before["Item"].size(), 2u);
  EXPECT_EQ(before["Kid"].size(), 1u);
  // And the index is rebuilt: i = 1 is taken.
  TransactResult r = db->Transact(Insert(1));
  EXPECT_EQ(r.reply.back()["error"], "constraint violation") << r.reply.dump();
}

TEST_F(StorageTest, FailedTransactionsWriteNothing) {
  Json before;
  {
    auto db = Open();
    ASSERT_TRUE(db);
    ASSERT_TRUE(Committed(db->Transact(Insert(1, "one"))));
    before = Everything(*db);
  }
  auto file_before = FileRows();
  ASSERT_EQ(file_before.size(), 1u);
  {
    auto db = Open();
    ASSERT_TRUE(db);
    // An operation error, a commit-time error, an abort, a dry wait.
    EXPECT_FALSE(Committed(db->Transact(Json::parse(
        R"([{"op": "insert", "table": "Item", "row": {"i": 2}}, {"op": "insert", "table": "Item", "row": {"i": "x"}}])"))));
    EXPECT_FALSE(Committed(db->Transact(Insert(1, "duplicate index"))));
    EXPECT_FALSE(Committed(db->Transact(
        Json::parse(R"([{"op": "insert", "table": "Item", "row": {"i": 5}}, {"op": "abort"}])"))));
    EXPECT_FALSE(Committed(db->Transact(Json::parse(
        R"([{"op": "update", "table": "Item", "where": [], "row": {"kids": ["uuid", "2b5e2f3c-1111-4222-8333-444455556666"]}}])"))));
    EXPECT_EQ(Everything(*db), before);
  }
  EXPECT_EQ(FileRows(), file_before);
}

TEST_F(StorageTest, ResourcesExhaustedChangesNothing) {
  DatabaseOptions options;
  options.max_file_bytes = 64 * 1024;
  Json before;
  int64_t committed = 0;
  {
    auto db = Open(options);
    ASSERT_TRUE(db);
    TransactResult r;
    std::string big(2000, 'x');
    for (int64_t i = 0; i < 1000; ++i) {
      r = db->Transact(Insert(i, big));
      if (!Committed(r)) break;
      committed = i + 1;
      before = Everything(*db);
    }
    ASSERT_GT(committed, 0);
    ASSERT_LT(committed, 1000) << "the size limit never hit";
    // One result per operation, then the commit's error.
    ASSERT_EQ(r.reply.size(), 2u) << r.reply.dump();
    EXPECT_TRUE(r.reply[0].contains("uuid"));
    EXPECT_EQ(r.reply[1]["error"], "resources exhausted") << r.reply.dump();
    EXPECT_TRUE(r.changes.empty());
    EXPECT_EQ(Everything(*db), before);
    // Small transactions still fit? Deleting frees room.
    ASSERT_TRUE(Committed(db->Transact(
        Json::parse(R"([{"op": "delete", "table": "Item", "where": [["i", "==", 0]]}])"))));
    before = Everything(*db);
  }
  auto db = Open(options);
  ASSERT_TRUE(db);
  EXPECT_EQ(Everything(*db), before);
  EXPECT_EQ(db->Rows("Item").size(), static_cast<size_t>(committed - 1));
}

TEST_F(StorageTest, EphemeralOnlyChangesStayInMemory) {
  std::string uuid;
  {
    auto db = Open();
    ASSERT_TRUE(db);
    TransactResult r = db->Transact(Insert(1));
    ASSERT_TRUE(Committed(r));
    uuid = r.reply[0]["uuid"][1];
  }
  auto file_before = FileRows();
  {
    auto db = Open();
    ASSERT_TRUE(db);
    TransactResult r = db->Transact(Json::parse(
        R"([{"op": "update", "table": "Item", "where": [], "row": {"stat": ["map", [["rx", 7]]]}}])"));
    ASSERT_TRUE(Committed(r));
    ASSERT_EQ(r.changes["Item"].size(), 1u);  // monitors see it
    EXPECT_EQ(db->Rows("Item")[uuid]["stat"], Json::parse(R"(["map", [["rx", 7]]])"));
  }
  EXPECT_EQ(FileRows(), file_before);  // no disk write
  EXPECT_EQ(file_before.begin()->second.find("stat"), std::string::npos)
      << file_before.begin()->second;
}

TEST_F(StorageTest, OneOwnerAtATime) {
  auto db = Open();
  ASSERT_TRUE(db);
  std::string error;
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  db.reset();
  EXPECT_TRUE(Open());
}

TEST_F(StorageTest, OpenChecksTheFileAgainstTheSchema) {
  { ASSERT_TRUE(Open()); }
  // Another database's schema.
  std::string error;
  Json other = Json::parse(kSchema);
  other["name"] = "Other";
  EXPECT_FALSE(Database::Open(path_, ParseSchema(other, &error), &error));
  EXPECT_NE(error.find("holds database Store"), std::string::npos) << error;

  // A row of a table the schema does not have.
  Sql("INSERT INTO rows VALUES('Nope', '2b5e2f3c-1111-4222-8333-444455556666', '{}')");
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("no table Nope"), std::string::npos) << error;
  Sql("DELETE FROM rows");

  // A value outside its column's type.
  Sql(R"(INSERT INTO rows VALUES('Item', '2b5e2f3c-1111-4222-8333-444455556666', '{"i": "one"}'))");
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("column i"), std::string::npos) << error;
  Sql("DELETE FROM rows");

  // A strong reference to a missing row.
  Sql(R"(INSERT INTO rows VALUES('Item', '2b5e2f3c-1111-4222-8333-444455556666',
         '{"i": 1, "kids": ["uuid", "3b5e2f3c-1111-4222-8333-444455556666"]}'))");
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("referential integrity violation"), std::string::npos) << error;
  Sql("DELETE FROM rows");

  // Duplicate index values.
  Sql(R"(INSERT INTO rows VALUES('Item', '2b5e2f3c-1111-4222-8333-444455556666', '{"i": 1}'),
                                ('Item', '3b5e2f3c-1111-4222-8333-444455556666', '{"i": 1}'))");
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("constraint violation"), std::string::npos) << error;
  Sql("DELETE FROM rows");

  // An unreferenced non-root row and a dangling weak reference are repaired
  // (and the repair written back).
  Sql(R"(INSERT INTO rows VALUES('Kid', '2b5e2f3c-1111-4222-8333-444455556666', '{"name": "orphan"}'),
                                ('Kid', '4b5e2f3c-1111-4222-8333-444455556666',
                                 '{"name": "held", "fan": ["uuid", "5b5e2f3c-1111-4222-8333-444455556666"]}'),
                                ('Item', '3b5e2f3c-1111-4222-8333-444455556666',
                                 '{"i": 1, "kids": ["uuid", "4b5e2f3c-1111-4222-8333-444455556666"]}'))");
  {
    auto db = Open();
    ASSERT_TRUE(db);
    auto kids = db->Rows("Kid");
    ASSERT_EQ(kids.size(), 1u);
    EXPECT_EQ(kids.begin()->second["name"], "held");
    EXPECT_EQ(kids.begin()->second["fan"], Json::parse(R"(["set", []])"));
  }
  auto rows = FileRows();
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.count("Kid/2b5e2f3c-1111-4222-8333-444455556666"), 0u);

  // Not a Sluice file at all.
  Cleanup();
  Sql("CREATE TABLE t(x)");
  EXPECT_FALSE(Database::Open(path_, schema_, &error));
  EXPECT_NE(error.find("not a Sluice database file"), std::string::npos) << error;
}

// A child process commits transactions in a loop, reporting each one that
// Transact acknowledged; it is SIGKILLed at a random moment. On reopen every
// acknowledged row is there, and nothing beyond the one it may have been
// committing when it died.
TEST_F(StorageTest, AcknowledgedCommitsSurviveSigkill) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  { ASSERT_TRUE(Open()); }  // create the file
  for (int round = 0; round < 4; ++round) {
    const int64_t base = int64_t{round} * 1000000;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      std::string error;
      auto db = Database::Open(path_, schema_, &error);
      if (!db) _exit(2);
      for (int64_t i = base;; ++i) {
        TransactResult r = db->Transact(Insert(i, "payload " + std::to_string(i)));
        if (!Committed(r)) _exit(3);
        if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
      }
    }
    close(fds[1]);
    // Wait for a random number of acknowledgements, then kill it at a
    // random moment (possibly mid-commit).
    const int want = std::uniform_int_distribution<int>(1, 40)(rng);
    int64_t last_ack = base - 1;
    for (int n = 0; n < want; ++n) {
      int64_t i = 0;
      ASSERT_EQ(read(fds[0], &i, sizeof i), static_cast<ssize_t>(sizeof i)) << "child died early";
      ASSERT_EQ(i, last_ack + 1);
      last_ack = i;
    }
    usleep(std::uniform_int_distribution<int>(0, 3000)(rng));
    kill(pid, SIGKILL);
    int64_t i = 0;
    while (read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) last_ack = i;
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

    auto db = Open();
    ASSERT_TRUE(db);
    std::set<int64_t> present;
    for (const auto& [uuid, row] : db->Rows("Item")) {
      int64_t v = row["i"];
      if (v >= base && v < base + 1000000) {
        present.insert(v);
        EXPECT_EQ(row["s"], "payload " + std::to_string(v));
      }
    }
    for (int64_t a = base; a <= last_ack; ++a)
      EXPECT_TRUE(present.count(a)) << "acknowledged " << a << " lost";
    ASSERT_FALSE(present.empty());
    EXPECT_LE(*present.rbegin(), last_ack + 1) << "a row beyond the last attempted transaction";
    EXPECT_EQ(static_cast<int64_t>(present.size()), *present.rbegin() - base + 1) << "a gap";
  }
}

}  // namespace
}  // namespace sluice::db
