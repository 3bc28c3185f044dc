// RFC 7047 transactions against db/database.h: every operation and its error
// cases, named UUIDs, rollback, constraints checked at commit (references,
// weak references, indexes, maxRows), garbage collection, change sets and
// _version.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "db/database.h"
#include "db/schema.h"

namespace sluice::db {
namespace {

const char* kSchema = R"({
  "name": "Test", "version": "1.0.0",
  "tables": {
    "Root": {"isRoot": true, "maxRows": 2, "columns": {
      "name": {"type": "string"},
      "kids": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": "unlimited"}},
      "fans": {"type": {"key": {"type": "uuid", "refTable": "Kid", "refType": "weak"}, "min": 0, "max": "unlimited"}},
      "byname": {"type": {"key": "string", "value": {"type": "uuid", "refTable": "Kid", "refType": "weak"},
                          "min": 0, "max": "unlimited"}},
      "n": {"type": "integer"}}},
    "Kid": {"indexes": [["name"]], "columns": {
      "name": {"type": "string", "mutable": false},
      "n": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 10}}},
      "r": {"type": "real"},
      "b": {"type": "boolean"},
      "e": {"type": {"key": {"type": "string", "enum": ["set", ["a", "b", "c"]]}, "min": 0, "max": 1}},
      "s": {"type": {"key": {"type": "string", "maxLength": 4}}},
      "set3": {"type": {"key": "integer", "min": 0, "max": 3}},
      "reals": {"type": {"key": "real", "min": 0, "max": "unlimited"}},
      "m": {"type": {"key": "string", "value": "integer", "min": 0, "max": "unlimited"}},
      "opt": {"type": {"key": "integer", "min": 0, "max": 1}},
      "kid": {"type": {"key": {"type": "uuid", "refTable": "Kid"}, "min": 0, "max": 1}},
      "eph": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}, "ephemeral": true}}},
    "Watch": {"isRoot": true, "columns": {
      "target": {"type": {"key": {"type": "uuid", "refTable": "Kid", "refType": "weak"}}}}},
    "Strict": {"isRoot": true, "columns": {
      "mode": {"type": {"key": {"type": "string", "enum": ["set", ["x", "y"]]}}}}}
  }})";

// JSON builders for operations.
Json U(const std::string& u) { return Json::array({"uuid", u}); }
Json NU(const std::string& name) { return Json::array({"named-uuid", name}); }
// (Vectors, not Json initializer lists: nlohmann would turn a list of
// ["uuid", ...] pairs into an object.)
Json Set(const std::vector<Json>& elems) {
  Json a = Json::array();
  for (const Json& e : elems) a.push_back(e);
  return Json::array({"set", std::move(a)});
}
Json EmptySet() { return Json::array({"set", Json::array()}); }
Json Map(const std::vector<std::pair<std::string, Json>>& pairs) {
  Json a = Json::array();
  for (const auto& [k, v] : pairs) a.push_back(Json::array({k, v}));
  return Json::array({"map", std::move(a)});
}
Json EmptyMap() { return Json::array({"map", Json::array()}); }
Json ByUuid(const std::string& u) { return Json::array({Json::array({"_uuid", "==", U(u)})}); }
Json All() { return Json::array(); }

Json Ins(const std::string& table, Json row, const std::string& uuid_name = "") {
  Json op = {{"op", "insert"}, {"table", table}, {"row", std::move(row)}};
  if (!uuid_name.empty()) op["uuid-name"] = uuid_name;
  return op;
}
Json Sel(const std::string& table, Json where, Json columns = nullptr) {
  Json op = {{"op", "select"}, {"table", table}, {"where", std::move(where)}};
  if (!columns.is_null()) op["columns"] = std::move(columns);
  return op;
}
Json Upd(const std::string& table, Json where, Json row) {
  return {{"op", "update"}, {"table", table}, {"where", std::move(where)}, {"row", std::move(row)}};
}
Json Mut(const std::string& table, Json where, Json mutations) {
  return {{"op", "mutate"},
          {"table", table},
          {"where", std::move(where)},
          {"mutations", std::move(mutations)}};
}
Json Del(const std::string& table, Json where) {
  return {{"op", "delete"}, {"table", table}, {"where", std::move(where)}};
}

bool IsError(const Json& entry, const std::string& tag) {
  return entry.is_object() && entry.contains("error") && entry["error"] == tag;
}

class TransactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        ::testing::TempDir() + "/transact_" + info->name() + "_" + std::to_string(getpid()) + ".db";
    Cleanup();
    std::string error;
    schema_ = ParseSchema(Json::parse(kSchema), &error);
    ASSERT_TRUE(schema_) << error;
    db_ = Database::Open(path_, schema_, &error);
    ASSERT_TRUE(db_) << error;
    Json r = Ok(Json::array({Ins("Root", {{"name", "root"}})}));
    root_ = r[0]["uuid"][1];
  }
  void TearDown() override {
    db_.reset();
    Cleanup();
  }
  void Cleanup() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path_ + suffix).c_str());
  }

  Json Tx(const Json& ops, const TransactOptions& options = {}) {
    last_ = db_->Transact(ops, options);
    return last_.reply;
  }
  // Runs ops that must all succeed.
  Json Ok(const Json& ops) {
    Json r = Tx(ops);
    EXPECT_EQ(r.size(), ops.size()) << r.dump();
    for (const Json& e : r) EXPECT_FALSE(e.is_object() && e.contains("error")) << r.dump();
    return r;
  }
  // Inserts a Kid held by the root row; returns its UUID.
  std::string AddKid(const std::string& name, Json row = Json::object()) {
    row["name"] = name;
    Json r = Ok(Json::array({Ins("Kid", row, "k"),
                             Mut("Root", ByUuid(root_),
                                 Json::array({Json::array({"kids", "insert", Set({NU("k")})})}))}));
    return r[0]["uuid"][1];
  }
  Json Row(const std::string& table, const std::string& uuid) {
    auto rows = db_->Rows(table);
    auto it = rows.find(uuid);
    return it == rows.end() ? Json() : it->second;
  }
  size_t Count(const std::string& table) { return db_->Rows(table).size(); }

  std::string path_;
  std::shared_ptr<const Schema> schema_;
  std::unique_ptr<Database> db_;
  TransactResult last_;
  std::string root_;
};

// --- insert / select ---

TEST_F(TransactTest, InsertGivesUuidAndDefaults) {
  std::string k = AddKid("a");
  Json row = Row("Kid", k);
  ASSERT_TRUE(row.is_object());
  EXPECT_EQ(row["_uuid"], U(k));
  EXPECT_EQ(row["_version"][0], "uuid");
  EXPECT_EQ(row["name"], "a");
  EXPECT_EQ(row["n"], 0);
  EXPECT_EQ(row["r"], 0.0);
  EXPECT_EQ(row["b"], false);
  EXPECT_EQ(row["e"], EmptySet());
  EXPECT_EQ(row["s"], "");
  EXPECT_EQ(row["m"], EmptyMap());
  EXPECT_EQ(db_->name(), "Test");
  EXPECT_EQ(db_->schema_json(), Json::parse(kSchema));
  EXPECT_TRUE(db_->Rows("Nope").empty());
}

TEST_F(TransactTest, SelectReturnsRequestedColumns) {
  std::string a = AddKid("a", {{"n", 1}, {"m", Map({{"x", 1}})}});
  AddKid("b", {{"n", 2}});
  Json r = Ok(Json::array({Sel("Kid", Json::array({Json::array({"name", "==", "a"})}),
                               Json::array({"name", "m", "_uuid"}))}));
  ASSERT_EQ(r[0]["rows"].size(), 1u);
  EXPECT_EQ(r[0]["rows"][0], Json({{"name", "a"}, {"m", Map({{"x", 1}})}, {"_uuid", U(a)}}));
  r = Ok(Json::array({Sel("Kid", All())}));
  EXPECT_EQ(r[0]["rows"].size(), 2u);
  EXPECT_EQ(r[0]["rows"][0].size(), 12u + 2u);  // every column, _uuid and _version
}

TEST_F(TransactTest, SetsUseCanonicalNotation) {
  std::string k = AddKid("a", {{"set3", Set({3, 1, 2})}, {"opt", 5}});
  Json row = Row("Kid", k);
  EXPECT_EQ(row["set3"], Set({1, 2, 3}));  // sorted
  EXPECT_EQ(row["opt"], 5);                // one element: the bare atom
  Ok(Json::array({Upd("Kid", ByUuid(k), {{"set3", EmptySet()}, {"opt", Set({7})}})}));
  row = Row("Kid", k);
  EXPECT_EQ(row["set3"], EmptySet());
  EXPECT_EQ(row["opt"], 7);
}

TEST_F(TransactTest, NamedUuidsResolveForwardAndBackward) {
  // The mutate names "k2" before the insert that defines it.
  Json r = Ok(Json::array(
      {Mut("Root", ByUuid(root_),
           Json::array({Json::array({"kids", "insert", Set({NU("k1"), NU("k2")})})})),
       Ins("Kid", {{"name", "one"}, {"kid", NU("k2")}}, "k1"), Ins("Kid", {{"name", "two"}}, "k2"),
       Sel("Kid", Json::array({Json::array({"_uuid", "==", NU("k2")})}), Json::array({"name"}))}));
  std::string k1 = r[1]["uuid"][1], k2 = r[2]["uuid"][1];
  EXPECT_EQ(Row("Kid", k1)["kid"], U(k2));
  EXPECT_EQ(r[3]["rows"], Json::array({{{"name", "two"}}}));
  Json kids = Row("Root", root_)["kids"];
  EXPECT_EQ(kids[1].size(), 2u);
}

TEST_F(TransactTest, DuplicateUuidNameFailsTheInsert) {
  Json r = Tx(Json::array(
      {Ins("Kid", {{"name", "a"}}, "x"), Ins("Kid", {{"name", "b"}}, "x"), Sel("Kid", All())}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].contains("uuid"));
  EXPECT_TRUE(IsError(r[1], "duplicate uuid-name")) << r.dump();
  EXPECT_TRUE(r[2].is_null());  // not attempted
  EXPECT_EQ(Count("Kid"), 0u);
}

TEST_F(TransactTest, InsertRefusesUuidMemberAndBadRows) {
  struct Case {
    Json op;
    const char* tag;
  } cases[] = {
      {Json({{"op", "insert"},
             {"table", "Kid"},
             {"row", {{"name", "a"}}},
             {"uuid", "2b5e2f3c-1111-4222-8333-444455556666"}}),
       "syntax error"},
      {Ins("Nope", Json::object()), "syntax error"},
      {Ins("Kid", {{"nope", 1}}), "syntax error"},
      {Ins("Kid", {{"_uuid", U("2b5e2f3c-1111-4222-8333-444455556666")}}), "syntax error"},
      {Ins("Kid", {{"name", 5}}), "syntax error"},
      {Ins("Kid", {{"name", "a"}, {"n", 1.5}}), "syntax error"},
      {Ins("Kid", {{"name", "a"}, {"kid", U("not-a-uuid")}}), "syntax error"},
      {Ins("Kid", {{"name", "a"}}, "bad-name"), "syntax error"},
      {Ins("Kid", {{"name", "a"}, {"n", 11}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"n", -1}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"e", "d"}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"s", "toolong"}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"set3", Set({1, 2, 3, 4})}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"set3", Set({1, 1})}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"m", Map({{"x", 1}, {"x", 2}})}}), "constraint violation"},
      {Ins("Kid", {{"name", "a"}, {"m", EmptySet()}}), "syntax error"},
      // RFC 7047 5.2.1: a default value that violates the column fails too.
      {Ins("Strict", Json::object()), "constraint violation"},
      {Json({{"op", "insert"}, {"table", "Kid"}, {"row", {{"name", "a"}}}, {"extra", 1}}),
       "syntax error"},
      {Json({{"op", "insert"}, {"row", Json::object()}}), "syntax error"},
  };
  for (const Case& c : cases) {
    Json r = Tx(Json::array({c.op}));
    ASSERT_EQ(r.size(), 1u) << c.op.dump();
    EXPECT_TRUE(IsError(r[0], c.tag)) << c.op.dump() << " -> " << r.dump();
    EXPECT_TRUE(r[0].contains("details")) << r.dump();
  }
  EXPECT_EQ(Count("Kid"), 0u);
  Ok(Json::array({Ins("Strict", {{"mode", "y"}})}));
}

// --- conditions ---

TEST_F(TransactTest, EveryConditionFunction) {
  AddKid("a", {{"n", 1},
               {"r", 1.5},
               {"set3", Set({1, 2})},
               {"m", Map({{"x", 1}, {"y", 2}})},
               {"opt", 5},
               {"e", "a"}});
  AddKid("b", {{"n", 2}, {"r", 2.5}, {"set3", Set({2, 3})}, {"m", Map({{"x", 2}})}});
  AddKid("c", {{"n", 3}, {"r", 3.5}, {"e", "c"}});
  auto names = [&](Json where) {
    Json r = Tx(Json::array({Sel("Kid", std::move(where), Json::array({"name"}))}));
    std::vector<std::string> out;
    if (!r[0].contains("rows")) return std::vector<std::string>{"ERROR " + r.dump()};
    for (const Json& row : r[0]["rows"]) out.push_back(row["name"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  auto c = [](const char* col, const char* f, Json v) {
    return Json::array({Json::array({col, f, std::move(v)})});
  };
  EXPECT_EQ(names(c("n", "<", 2)), V({"a"}));
  EXPECT_EQ(names(c("n", "<=", 2)), V({"a", "b"}));
  EXPECT_EQ(names(c("n", "==", 2)), V({"b"}));
  EXPECT_EQ(names(c("n", "!=", 2)), V({"a", "c"}));
  EXPECT_EQ(names(c("n", ">=", 2)), V({"b", "c"}));
  EXPECT_EQ(names(c("n", ">", 2)), V({"c"}));
  EXPECT_EQ(names(c("r", ">", 2)), V({"b", "c"}));  // an integer operand for a real column
  EXPECT_EQ(names(c("r", "<=", 1.5)), V({"a"}));
  EXPECT_EQ(names(c("name", "includes", "a")), V({"a"}));
  EXPECT_EQ(names(c("name", "excludes", "a")), V({"b", "c"}));
  EXPECT_EQ(names(c("set3", "includes", 2)), V({"a", "b"}));
  EXPECT_EQ(names(c("set3", "includes", Set({1, 2}))), V({"a"}));
  EXPECT_EQ(names(c("set3", "includes", EmptySet())), V({"a", "b", "c"}));
  EXPECT_EQ(names(c("set3", "excludes", Set({1, 3}))), V({"c"}));
  EXPECT_EQ(names(c("set3", "==", Set({3, 2}))), V({"b"}));
  EXPECT_EQ(names(c("set3", "!=", EmptySet())), V({"a", "b"}));
  EXPECT_EQ(names(c("m", "includes", Map({{"x", 1}}))), V({"a"}));
  EXPECT_EQ(names(c("m", "excludes", Map({{"x", 1}}))), V({"b", "c"}));  // pairs, not keys
  EXPECT_EQ(names(c("m", "==", Map({{"x", 2}}))), V({"b"}));
  EXPECT_EQ(names(c("e", "==", "a")), V({"a"}));
  EXPECT_EQ(names(c("e", "==", EmptySet())), V({"b"}));
  // Ordering on an optional integer: an empty column matches nothing.
  EXPECT_EQ(names(c("opt", ">", 0)), V({"a"}));
  EXPECT_EQ(names(c("opt", "<", 100)), V({"a"}));
  // Several conditions are a conjunction; boolean conditions.
  EXPECT_EQ(names(Json::array({Json::array({"n", ">", 1}), Json::array({"n", "<", 3})})), V({"b"}));
  EXPECT_EQ(names(Json::array({true})), V({"a", "b", "c"}));
  EXPECT_EQ(names(Json::array({false})), V({}));
  EXPECT_EQ(names(Json::array(
                {Json::array({"_version", "!=", U("00000000-0000-0000-0000-000000000000")})})),
            V({"a", "b", "c"}));

  for (Json bad :
       {c("name", "<", "a"), c("set3", "<", 1), c("m", ">", 1), c("n", "~", 1), c("nope", "==", 1),
        c("n", "==", "x"), Json::array({Json::array({"n", "=="})}), Json("where")}) {
    Json r = Tx(Json::array({Sel("Kid", bad)}));
    EXPECT_TRUE(IsError(r[0], "syntax error")) << bad.dump() << " -> " << r.dump();
  }
}

// --- update ---

TEST_F(TransactTest, UpdateChangesMatchingRows) {
  std::string a = AddKid("a", {{"n", 1}});
  std::string b = AddKid("b", {{"n", 1}});
  AddKid("c", {{"n", 5}});
  Json r = Ok(Json::array(
      {Upd("Kid", Json::array({Json::array({"n", "==", 1})}), {{"n", 2}, {"s", "hey"}})}));
  EXPECT_EQ(r[0]["count"], 2);
  EXPECT_EQ(Row("Kid", a)["n"], 2);
  EXPECT_EQ(Row("Kid", b)["s"], "hey");
  EXPECT_EQ(last_.changes["Kid"].size(), 2u);
  r = Ok(Json::array({Upd("Kid", Json::array({Json::array({"n", "==", 9})}), {{"n", 3}})}));
  EXPECT_EQ(r[0]["count"], 0);

  struct Case {
    Json row;
    const char* tag;
  } cases[] = {
      {{{"name", "z"}}, "constraint violation"},  // immutable
      {{{"_uuid", U(a)}}, "constraint violation"},
      {{{"_version", U(a)}}, "constraint violation"},
      {{{"n", 99}}, "constraint violation"},
      {{{"nope", 1}}, "syntax error"},
      {{{"n", "x"}}, "syntax error"},
  };
  for (const Case& c : cases) {
    r = Tx(Json::array({Upd("Kid", ByUuid(a), c.row)}));
    EXPECT_TRUE(IsError(r[0], c.tag)) << c.row.dump() << " -> " << r.dump();
  }
  EXPECT_EQ(Row("Kid", a)["n"], 2);
}

TEST_F(TransactTest, VersionChangesExactlyWhenContentDoes) {
  std::string a = AddKid("a", {{"n", 1}});
  Json v1 = Row("Kid", a)["_version"];
  Ok(Json::array({Upd("Kid", ByUuid(a), {{"n", 1}})}));  // same value
  EXPECT_EQ(Row("Kid", a)["_version"], v1);
  EXPECT_TRUE(last_.changes.empty());
  Ok(Json::array(
      {Upd("Kid", ByUuid(a), {{"n", 2}}), Upd("Kid", ByUuid(a), {{"n", 1}})}));  // and back
  EXPECT_EQ(Row("Kid", a)["_version"], v1);
  Ok(Json::array({Upd("Kid", ByUuid(a), {{"n", 3}})}));
  Json v2 = Row("Kid", a)["_version"];
  EXPECT_NE(v2, v1);
  Ok(Json::array({Mut("Kid", ByUuid(a), Json::array({Json::array({"n", "+=", 1})}))}));
  EXPECT_NE(Row("Kid", a)["_version"], v2);
  EXPECT_EQ(last_.changes["Kid"][a].old_row->at("_version"), v2);
}

// --- mutate ---

TEST_F(TransactTest, MutateArithmetic) {
  std::string a =
      AddKid("a", {{"n", 5}, {"r", 1.5}, {"set3", Set({1, 2})}, {"reals", Set({0.5, 1.0})}});
  auto mut = [&](const char* col, const char* m, Json v) {
    return Tx(
        Json::array({Mut("Kid", ByUuid(a), Json::array({Json::array({col, m, std::move(v)})}))}));
  };
  EXPECT_EQ(mut("n", "+=", 3)[0]["count"], 1);
  EXPECT_EQ(Row("Kid", a)["n"], 8);
  mut("n", "-=", 2);
  EXPECT_EQ(Row("Kid", a)["n"], 6);
  mut("n", "*=", 1);
  mut("n", "/=", 4);
  EXPECT_EQ(Row("Kid", a)["n"], 1);
  mut("n", "+=", 6);
  mut("n", "%=", 4);
  EXPECT_EQ(Row("Kid", a)["n"], 3);
  mut("r", "*=", 2);
  EXPECT_EQ(Row("Kid", a)["r"], 3.0);
  mut("r", "/=", 4);
  EXPECT_EQ(Row("Kid", a)["r"], 0.75);
  mut("r", "-=", 1);
  EXPECT_EQ(Row("Kid", a)["r"], -0.25);
  mut("set3", "+=", 10);  // every element of a set
  EXPECT_EQ(Row("Kid", a)["set3"], Set({11, 12}));
  mut("reals", "*=", 2);
  EXPECT_EQ(Row("Kid", a)["reals"], Set({1.0, 2.0}));

  // Error cases (RFC 7047 5.2.4).
  EXPECT_TRUE(IsError(mut("n", "/=", 0)[0], "domain error"));
  EXPECT_TRUE(IsError(mut("n", "%=", 0)[0], "domain error"));
  EXPECT_TRUE(IsError(mut("r", "/=", 0)[0], "domain error"));
  EXPECT_TRUE(IsError(mut("n", "+=", 8)[0], "constraint violation"));     // 11 > maxInteger 10
  EXPECT_TRUE(IsError(mut("n", "-=", 4)[0], "constraint violation"));     // < minInteger 0
  EXPECT_TRUE(IsError(mut("set3", "*=", 0)[0], "constraint violation"));  // {0, 0}: duplicates
  EXPECT_TRUE(IsError(mut("r", "%=", 2)[0], "syntax error"));
  EXPECT_TRUE(IsError(mut("s", "+=", 1)[0], "syntax error"));
  EXPECT_TRUE(IsError(mut("m", "+=", 1)[0], "syntax error"));
  EXPECT_TRUE(IsError(mut("n", "+=", "x")[0], "syntax error"));
  EXPECT_TRUE(IsError(mut("n", "^=", 1)[0], "syntax error"));
  EXPECT_TRUE(IsError(mut("name", "insert", "x")[0], "constraint violation"));  // immutable
  EXPECT_TRUE(IsError(mut("_uuid", "insert", U(a))[0], "constraint violation"));
  EXPECT_EQ(Row("Kid", a)["n"], 3);

  // Integer overflow is a range error.
  Ok(Json::array({Upd("Root", ByUuid(root_), {{"n", INT64_MAX - 1}})}));
  Json r =
      Tx(Json::array({Mut("Root", ByUuid(root_), Json::array({Json::array({"n", "+=", 2})}))}));
  EXPECT_TRUE(IsError(r[0], "range error")) << r.dump();
  r = Tx(Json::array({Mut("Root", ByUuid(root_), Json::array({Json::array({"n", "*=", 2})}))}));
  EXPECT_TRUE(IsError(r[0], "range error")) << r.dump();
  Ok(Json::array({Upd("Root", ByUuid(root_), {{"n", INT64_MIN}})}));
  r = Tx(Json::array({Mut("Root", ByUuid(root_), Json::array({Json::array({"n", "/=", -1})}))}));
  EXPECT_TRUE(IsError(r[0], "range error")) << r.dump();
}

TEST_F(TransactTest, MutateInsertAndDeleteOnSetsAndMaps) {
  std::string a = AddKid("a", {{"set3", Set({1})}, {"m", Map({{"x", 1}, {"y", 2}})}});
  auto mut = [&](const char* col, const char* m, Json v) {
    return Tx(
        Json::array({Mut("Kid", ByUuid(a), Json::array({Json::array({col, m, std::move(v)})}))}));
  };
  mut("set3", "insert", Set({2, 1}));
  EXPECT_EQ(Row("Kid", a)["set3"], Set({1, 2}));
  mut("set3", "insert", 3);
  EXPECT_EQ(Row("Kid", a)["set3"], Set({1, 2, 3}));
  EXPECT_TRUE(IsError(mut("set3", "insert", 4)[0], "constraint violation"));  // max 3
  mut("set3", "delete", Set({1, 7}));
  EXPECT_EQ(Row("Kid", a)["set3"], Set({2, 3}));

  mut("m", "insert", Map({{"x", 9}, {"z", 3}}));  // existing key "x" keeps its value
  EXPECT_EQ(Row("Kid", a)["m"], Map({{"x", 1}, {"y", 2}, {"z", 3}}));
  mut("m", "delete", Map({{"x", 9}, {"y", 2}}));  // pairs: only y=2 matches
  EXPECT_EQ(Row("Kid", a)["m"], Map({{"x", 1}, {"z", 3}}));
  mut("m", "delete", Set({"x"}));  // keys
  EXPECT_EQ(Row("Kid", a)["m"], Map({{"z", 3}}));
  mut("m", "delete", "z");
  EXPECT_EQ(Row("Kid", a)["m"], EmptyMap());
  EXPECT_TRUE(IsError(mut("m", "insert", Map({{"x", "str"}}))[0], "syntax error"));
  // Optional column: insert into empty, then a second value is too many.
  mut("opt", "insert", 4);
  EXPECT_EQ(Row("Kid", a)["opt"], 4);
  EXPECT_TRUE(IsError(mut("opt", "insert", 5)[0], "constraint violation"));
  // Enum constraint applies to inserted values.
  EXPECT_TRUE(IsError(mut("e", "insert", "zz")[0], "constraint violation"));
}

// --- delete, references, garbage collection ---

TEST_F(TransactTest, DeleteAndStrongReferences) {
  std::string a = AddKid("a");
  // a is still in Root.kids: deleting it is a referential integrity
  // violation, reported as an extra entry after the operations' results.
  Json r = Tx(Json::array({Del("Kid", ByUuid(a))}));
  ASSERT_EQ(r.size(), 2u) << r.dump();
  EXPECT_EQ(r[0]["count"], 1);
  EXPECT_TRUE(IsError(r[1], "referential integrity violation")) << r.dump();
  EXPECT_NE(r[1]["details"].get<std::string>().find(a), std::string::npos);
  EXPECT_TRUE(Row("Kid", a).is_object());

  // Deleting it and dropping the reference in one transaction works.
  r = Ok(
      Json::array({Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "delete", U(a)})})),
                   Del("Kid", ByUuid(a))}));
  EXPECT_FALSE(Row("Kid", a).is_object());
  EXPECT_FALSE(last_.changes["Kid"][a].new_row);

  // A strong reference to a row that does not exist.
  r = Tx(Json::array(
      {Upd("Root", ByUuid(root_), {{"kids", U("2b5e2f3c-1111-4222-8333-444455556666")}})}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(IsError(r[1], "referential integrity violation")) << r.dump();
  // A named-uuid no insert defines.
  r = Tx(Json::array({Upd("Root", ByUuid(root_), {{"kids", NU("ghost")}})}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(IsError(r[1], "referential integrity violation")) << r.dump();
  EXPECT_NE(r[1]["details"].get<std::string>().find("ghost"), std::string::npos) << r.dump();
  EXPECT_EQ(Row("Root", root_)["kids"], EmptySet());
}

TEST_F(TransactTest, GarbageCollection) {
  // An unreferenced non-root row does not survive its own insert.
  Json r = Ok(Json::array({Ins("Kid", {{"name", "orphan"}})}));
  std::string orphan = r[0]["uuid"][1];
  EXPECT_EQ(Count("Kid"), 0u);
  EXPECT_TRUE(last_.changes.count("Kid") == 0 || last_.changes["Kid"].count(orphan) == 0);

  // A chain root -> a -> b; dropping a from the root collects both.
  r = Ok(Json::array(
      {Ins("Kid", {{"name", "a"}, {"kid", NU("b")}}, "a"), Ins("Kid", {{"name", "b"}}, "b"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("a")})}))}));
  std::string a = r[0]["uuid"][1], b = r[1]["uuid"][1];
  EXPECT_EQ(Count("Kid"), 2u);
  Ok(Json::array(
      {Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "delete", U(a)})}))}));
  EXPECT_EQ(Count("Kid"), 0u);
  EXPECT_TRUE(last_.changes["Kid"].count(a) && !last_.changes["Kid"][a].new_row);
  EXPECT_TRUE(last_.changes["Kid"].count(b) && !last_.changes["Kid"][b].new_row);

  // A cycle reachable from no root is collected too.
  r = Ok(Json::array(
      {Ins("Kid", {{"name", "c1"}, {"kid", NU("c2")}}, "c1"),
       Ins("Kid", {{"name", "c2"}, {"kid", NU("c1")}}, "c2"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("c1")})}))}));
  EXPECT_EQ(Count("Kid"), 2u);
  Ok(Json::array({Upd("Root", ByUuid(root_), {{"kids", EmptySet()}})}));
  EXPECT_EQ(Count("Kid"), 0u);

  // Root rows stay when nothing refers to them; deleting a root row
  // collects what only it held.
  std::string k = AddKid("k");
  EXPECT_EQ(Count("Root"), 1u);
  Ok(Json::array({Del("Root", ByUuid(root_))}));
  EXPECT_EQ(Count("Root"), 0u);
  EXPECT_EQ(Count("Kid"), 0u);
}

TEST_F(TransactTest, WeakReferencesToDeletedRowsAreRemoved) {
  std::string a = AddKid("a");
  std::string b = AddKid("b");
  Ok(Json::array(
      {Upd("Root", ByUuid(root_),
           {{"fans", Set({U(a), U(b)})}, {"byname", Map({{"a", U(a)}, {"b", U(b)}})}})}));
  // Dropping a from kids collects it, and the weak references to it go.
  Ok(Json::array(
      {Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "delete", U(a)})}))}));
  Json root = Row("Root", root_);
  EXPECT_EQ(root["fans"], U(b));
  EXPECT_EQ(root["byname"], Map({{"b", U(b)}}));
  ASSERT_TRUE(last_.changes["Root"][root_].new_row);
  EXPECT_EQ((*last_.changes["Root"][root_].new_row)["fans"], U(b));
  // A weak reference to a row that never existed is dropped silently.
  Ok(Json::array({Mut(
      "Root", ByUuid(root_),
      Json::array({Json::array({"fans", "insert", U("2b5e2f3c-1111-4222-8333-444455556666")})}))}));
  EXPECT_EQ(Row("Root", root_)["fans"], U(b));
}

TEST_F(TransactTest, WeakReferenceRemovalRechecksMinimumSize) {
  std::string a = AddKid("a");
  Ok(Json::array({Ins("Watch", {{"target", U(a)}})}));
  // Watch.target needs exactly one value: losing it fails the commit.
  Json r = Tx(Json::array({Upd("Root", ByUuid(root_), {{"kids", EmptySet()}})}));
  ASSERT_EQ(r.size(), 2u) << r.dump();
  EXPECT_TRUE(IsError(r[1], "constraint violation")) << r.dump();
  EXPECT_NE(r[1]["details"].get<std::string>().find("weak"), std::string::npos) << r.dump();
  EXPECT_TRUE(Row("Kid", a).is_object());
}

TEST_F(TransactTest, IndexesAreUnique) {
  std::string a = AddKid("a");
  // Against a committed row.
  Json r = Tx(Json::array(
      {Ins("Kid", {{"name", "a"}}, "x"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("x")})}))}));
  ASSERT_EQ(r.size(), 3u) << r.dump();
  EXPECT_TRUE(IsError(r[2], "constraint violation")) << r.dump();
  // Within one transaction.
  r = Tx(
      Json::array({Ins("Kid", {{"name", "z"}}, "x"), Ins("Kid", {{"name", "z"}}, "y"),
                   Mut("Root", ByUuid(root_),
                       Json::array({Json::array({"kids", "insert", Set({NU("x"), NU("y")})})}))}));
  ASSERT_EQ(r.size(), 4u) << r.dump();
  EXPECT_TRUE(IsError(r[3], "constraint violation")) << r.dump();
  EXPECT_EQ(Count("Kid"), 1u);
  // Deleting a row frees its name for an insert in the same transaction.
  r = Ok(Json::array(
      {Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "delete", U(a)})})),
       Ins("Kid", {{"name", "a"}}, "x"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("x")})}))}));
  EXPECT_EQ(Count("Kid"), 1u);
  std::string a2 = r[1]["uuid"][1];
  // And the index follows: "a" is taken again.
  r = Tx(Json::array(
      {Ins("Kid", {{"name", "a"}}, "x"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("x")})}))}));
  EXPECT_TRUE(IsError(r.back(), "constraint violation")) << r.dump();
  EXPECT_TRUE(Row("Kid", a2).is_object());
}

TEST_F(TransactTest, MaxRows) {
  Ok(Json::array({Ins("Root", {{"name", "second"}})}));
  Json r = Tx(Json::array({Ins("Root", {{"name", "third"}})}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(IsError(r[1], "constraint violation")) << r.dump();
  EXPECT_EQ(Count("Root"), 2u);
  // Delete one and insert one in the same transaction: fine.
  Ok(Json::array({Del("Root", Json::array({Json::array({"name", "==", "second"})})),
                  Ins("Root", {{"name", "third"}})}));
  EXPECT_EQ(Count("Root"), 2u);
}

// --- wait, commit, abort, comment, assert ---

TEST_F(TransactTest, WaitWithZeroTimeoutChecksImmediately) {
  std::string a = AddKid("a", {{"n", 1}});
  auto wait = [&](const char* until, Json rows, Json timeout = 0) {
    Json op = {{"op", "wait"},       {"table", "Kid"},
               {"where", ByUuid(a)}, {"columns", Json::array({"name", "n"})},
               {"until", until},     {"rows", std::move(rows)}};
    if (!timeout.is_null()) op["timeout"] = timeout;
    return op;
  };
  Json match = Json::array({{{"name", "a"}, {"n", 1}}});
  Json other = Json::array({{{"name", "a"}, {"n", 2}}});
  Json r = Ok(Json::array({wait("==", match), wait("!=", other), wait("!=", Json::array())}));
  EXPECT_EQ(r[0], Json::object());
  r = Tx(Json::array({Upd("Kid", ByUuid(a), {{"n", 5}}), wait("==", other), Sel("Kid", All())}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["count"], 1);
  EXPECT_TRUE(IsError(r[1], "timed out")) << r.dump();
  EXPECT_TRUE(r[2].is_null());
  EXPECT_FALSE(last_.blocked);
  EXPECT_EQ(Row("Kid", a)["n"], 1);  // the update was rolled back
  // Sees the transaction's own earlier changes.
  Ok(Json::array({Upd("Kid", ByUuid(a), {{"n", 2}}), wait("==", other)}));
  EXPECT_EQ(Row("Kid", a)["n"], 2);

  // Without "columns" (what Open vSwitch's IDL sends to check that a table
  // is empty): every column; row members left out compare as defaults.
  Json empty_check = {{"op", "wait"},  {"table", "Watch"},      {"where", All()},
                      {"until", "=="}, {"rows", Json::array()}, {"timeout", 0}};
  Ok(Json::array({empty_check}));
  empty_check["table"] = "Kid";
  r = Tx(Json::array({empty_check}));
  EXPECT_TRUE(IsError(r[0], "timed out")) << r.dump();
  Json default_row = {{"op", "wait"},
                      {"table", "Kid"},
                      {"where", ByUuid(a)},
                      {"until", "=="},
                      {"timeout", 0},
                      {"columns", Json::array({"name", "s"})},
                      {"rows", Json::array({{{"name", "a"}}})}};
  Ok(Json::array({default_row}));  // s is "", its default

  // Malformed waits.
  for (Json bad :
       {Json({{"op", "wait"},
              {"table", "Kid"},
              {"where", All()},
              {"columns", Json::array({"n"})},
              {"until", "<"},
              {"rows", Json::array()}}),
        Json({{"op", "wait"},
              {"table", "Kid"},
              {"where", All()},
              {"columns", Json::array({"n"})},
              {"until", "=="},
              {"rows", Json::array({{{"nope", 1}}})}}),
        Json({{"op", "wait"}, {"table", "Kid"}, {"where", All()}, {"until", "=="}, {"rows", "x"}}),
        Json({{"op", "wait"}, {"table", "Kid"}, {"where", All()}, {"until", "=="}}),
        Json({{"op", "wait"},
              {"table", "Kid"},
              {"where", All()},
              {"columns", Json::array()},
              {"until", "=="},
              {"rows", Json::array()},
              {"timeout", -1}})}) {
    r = Tx(Json::array({bad}));
    EXPECT_TRUE(IsError(r[0], "syntax error")) << bad.dump() << " -> " << r.dump();
  }
}

TEST_F(TransactTest, WaitWithTimeoutBlocks) {
  std::string a = AddKid("a", {{"n", 1}});
  Json wait = {{"op", "wait"},       {"table", "Kid"},
               {"where", ByUuid(a)}, {"columns", Json::array({"n"})},
               {"until", "=="},      {"rows", Json::array({{{"n", 7}}})},
               {"timeout", 250}};
  Json r = Tx(Json::array({Ins("Root", {{"name", "x"}}), wait, Ins("Root", {{"name", "y"}})}));
  EXPECT_TRUE(last_.blocked);
  EXPECT_EQ(last_.blocked_timeout_ms, 250u);
  EXPECT_TRUE(last_.changes.empty());
  EXPECT_EQ(Count("Root"), 1u);  // nothing was done
  // The reply to send if the timeout expires.
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].contains("uuid"));
  EXPECT_TRUE(IsError(r[1], "timed out"));
  EXPECT_TRUE(r[2].is_null());

  wait.erase("timeout");  // no timeout: wait forever
  Tx(Json::array({wait}));
  EXPECT_TRUE(last_.blocked);
  EXPECT_EQ(last_.blocked_timeout_ms, UINT64_MAX);

  // Once the condition holds, the same transaction goes through.
  Ok(Json::array({Upd("Kid", ByUuid(a), {{"n", 7}})}));
  Ok(Json::array({wait}));
  EXPECT_FALSE(last_.blocked);
}

TEST_F(TransactTest, CommitCommentAbort) {
  Json r = Ok(Json::array({Json({{"op", "comment"}, {"comment", "hello"}}),
                           Json({{"op", "commit"}, {"durable", true}}),
                           Json({{"op", "commit"}, {"durable", false}})}));
  EXPECT_EQ(r, Json::array({Json::object(), Json::object(), Json::object()}));
  r = Tx(Json::array({Json({{"op", "commit"}})}));
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  r = Tx(Json::array({Json({{"op", "comment"}, {"comment", 5}})}));
  EXPECT_TRUE(IsError(r[0], "syntax error"));

  r = Tx(Json::array(
      {Ins("Root", {{"name", "x"}}), Json({{"op", "abort"}}), Ins("Root", {{"name", "y"}})}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].contains("uuid"));
  EXPECT_TRUE(IsError(r[1], "aborted")) << r.dump();
  EXPECT_TRUE(r[2].is_null());
  EXPECT_EQ(Count("Root"), 1u);
}

TEST_F(TransactTest, AssertNeedsTheLock) {
  Json op = {{"op", "assert"}, {"lock", "mylock"}};
  Json r = Tx(Json::array({op}));
  EXPECT_TRUE(IsError(r[0], "not owner")) << r.dump();
  TransactOptions opts;
  opts.has_lock = [](const std::string& name) { return name == "mylock"; };
  r = Tx(Json::array({op, Ins("Root", {{"name", "x"}})}), opts);
  EXPECT_EQ(r[0], Json::object());
  EXPECT_EQ(Count("Root"), 2u);
  r = Tx(Json::array({Json({{"op", "assert"}, {"lock", "other"}}), Ins("Root", {{"name", "y"}})}),
         opts);
  EXPECT_TRUE(IsError(r[0], "not owner"));
  EXPECT_TRUE(r[1].is_null());
  EXPECT_EQ(Count("Root"), 2u);
}

// --- transaction shape and rollback ---

TEST_F(TransactTest, FailingLaterOperationRollsBackEarlierOnes) {
  std::string a = AddKid("a", {{"n", 1}});
  Json before = Json(db_->Rows("Kid"));
  Json r = Tx(Json::array({Upd("Kid", ByUuid(a), {{"n", 2}}), Ins("Root", {{"name", "x"}}),
                           Mut("Kid", ByUuid(a), Json::array({Json::array({"n", "/=", 0})})),
                           Sel("Kid", All())}));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(IsError(r[2], "domain error"));
  EXPECT_TRUE(r[3].is_null());
  EXPECT_EQ(Json(db_->Rows("Kid")), before);
  EXPECT_EQ(Count("Root"), 1u);
  EXPECT_TRUE(last_.changes.empty());
}

TEST_F(TransactTest, MalformedTransactions) {
  Json r = Tx(Json::object());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  r = Tx(Json::array({5, Ins("Root", {{"name", "x"}})}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  EXPECT_TRUE(r[1].is_null());
  r = Tx(Json::array({Json({{"op", "frobnicate"}})}));
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  r = Tx(Json::array({Json({{"table", "Root"}})}));
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  r = Tx(Json::array({Json({{"op", "select"}, {"table", "Root"}})}));  // no where
  EXPECT_TRUE(IsError(r[0], "syntax error"));
  r = Tx(Json::array());
  EXPECT_EQ(r, Json::array());
  EXPECT_EQ(Count("Root"), 1u);
}

TEST_F(TransactTest, ChangeSets) {
  Json r = Ok(Json::array(
      {Ins("Kid", {{"name", "a"}, {"n", 1}}, "a"),
       Mut("Root", ByUuid(root_), Json::array({Json::array({"kids", "insert", NU("a")})}))}));
  std::string a = r[0]["uuid"][1];
  ASSERT_EQ(last_.changes.size(), 2u);
  const RowChange& ins = last_.changes["Kid"][a];
  EXPECT_FALSE(ins.old_row);
  ASSERT_TRUE(ins.new_row);
  EXPECT_EQ((*ins.new_row)["name"], "a");
  EXPECT_EQ((*ins.new_row)["_uuid"], U(a));
  EXPECT_EQ(ins.new_row->size(), 14u);
  const RowChange& mod = last_.changes["Root"][root_];
  ASSERT_TRUE(mod.old_row && mod.new_row);
  EXPECT_EQ((*mod.old_row)["kids"], EmptySet());
  EXPECT_EQ((*mod.new_row)["kids"], U(a));
  EXPECT_NE((*mod.old_row)["_version"], (*mod.new_row)["_version"]);

  Ok(Json::array({Sel("Kid", All())}));  // read-only: no changes
  EXPECT_TRUE(last_.changes.empty());

  Ok(Json::array(
      {Upd("Kid", ByUuid(a), {{"eph", Map({{"k", "v"}})}})}));  // ephemeral columns change too
  EXPECT_EQ((*last_.changes["Kid"][a].new_row)["eph"], Map({{"k", "v"}}));
}

// The project's schema: what ovs-vsctl relies on.
class OvsSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("SLUICE_SOURCE_DIR");
    std::string src = env && *env ? env : SLUICE_SOURCE_DIR_DEFAULT;
    std::string error;
    auto schema = LoadSchemaFile(src + "/db/sluice.ovsschema", &error);
    ASSERT_TRUE(schema) << error;
    path_ = ::testing::TempDir() + "/ovs_" + std::to_string(getpid()) + ".db";
    for (const char* s : {"", "-wal"}) std::remove((path_ + s).c_str());
    db_ = Database::Open(path_, schema, &error);
    ASSERT_TRUE(db_) << error;
  }
  void TearDown() override {
    db_.reset();
    for (const char* s : {"", "-wal"}) std::remove((path_ + s).c_str());
  }
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(OvsSchemaTest, AddBridgeAddPortDelPortLikeOvsVsctl) {
  // What ovs-vsctl sends for "init" + "add-br br0" on an empty database.
  Json r =
      db_
          ->Transact(Json::array(
              {Ins("Open_vSwitch", Json::object(), "ovs"),
               Ins("Interface", {{"name", "br0"}, {"type", "internal"}}, "i"),
               Ins("Port", {{"name", "br0"}, {"interfaces", NU("i")}, {"bond_fake_iface", false}},
                   "p"),
               Ins("Bridge", {{"name", "br0"}, {"ports", NU("p")}}, "b"),
               Upd("Open_vSwitch", Json::array({Json::array({"_uuid", "==", NU("ovs")})}),
                   {{"bridges", NU("b")}}),
               Mut("Open_vSwitch", Json::array({Json::array({"_uuid", "==", NU("ovs")})}),
                   Json::array({Json::array({"next_cfg", "+=", 1})})),
               Sel("Open_vSwitch", Json::array({Json::array({"_uuid", "==", NU("ovs")})}),
                   Json::array({"next_cfg"})),
               Json({{"op", "comment"}, {"comment", "ovs-vsctl: ovs-vsctl add-br br0"}})}))
          .reply;
  ASSERT_EQ(r.size(), 8u) << r.dump();
  for (const Json& e : r) ASSERT_FALSE(e.contains("error")) << r.dump();
  EXPECT_EQ(r[6]["rows"][0]["next_cfg"], 1);
  std::string ovs = r[0]["uuid"][1], br = r[3]["uuid"][1];

  // add-port br0 p1.
  r = db_->Transact(
             Json::array({Ins("Interface", {{"name", "p1"}}, "i"),
                          Ins("Port", {{"name", "p1"}, {"interfaces", NU("i")}}, "p"),
                          Mut("Bridge", ByUuid(br),
                              Json::array({Json::array({"ports", "insert", Set({NU("p")})})}))}))
          .reply;
  ASSERT_FALSE(r.back().contains("error")) << r.dump();
  std::string p1 = r[1]["uuid"][1];
  EXPECT_EQ(db_->Rows("Port").size(), 2u);
  EXPECT_EQ(db_->Rows("Interface").size(), 2u);

  // A Port needs at least one interface.
  r = db_->Transact(Json::array({Ins("Port", {{"name", "p2"}}, "p"),
                                 Mut("Bridge", ByUuid(br),
                                     Json::array({Json::array({"ports", "insert", NU("p")})}))}))
          .reply;
  EXPECT_TRUE(IsError(r.back(), "referential integrity violation"))
      << r.dump();  // the default is the zero UUID

  // del-port p1: dropping the Port from the Bridge is enough; the Port
  // and its Interface are garbage.
  TransactResult tr = db_->Transact(Json::array(
      {Mut("Bridge", ByUuid(br), Json::array({Json::array({"ports", "delete", U(p1)})}))}));
  ASSERT_FALSE(tr.reply.back().contains("error")) << tr.reply.dump();
  EXPECT_EQ(db_->Rows("Port").size(), 1u);
  EXPECT_EQ(db_->Rows("Interface").size(), 1u);
  EXPECT_EQ(tr.changes["Port"].size(), 1u);
  EXPECT_EQ(tr.changes["Interface"].size(), 1u);

  // A bridge name is unique; the root row stays however little refers to it.
  r = db_->Transact(Json::array({Ins("Interface", {{"name", "x"}}, "i"),
                                 Ins("Port", {{"name", "x"}, {"interfaces", NU("i")}}, "p"),
                                 Ins("Bridge", {{"name", "br0"}, {"ports", NU("p")}}, "b"),
                                 Mut("Open_vSwitch", ByUuid(ovs),
                                     Json::array({Json::array({"bridges", "insert", NU("b")})}))}))
          .reply;
  EXPECT_TRUE(IsError(r.back(), "constraint violation")) << r.dump();
  db_->Transact(Json::array({Upd("Open_vSwitch", ByUuid(ovs), {{"bridges", EmptySet()}})}));
  EXPECT_EQ(db_->Rows("Bridge").size(), 0u);
  EXPECT_EQ(db_->Rows("Port").size(), 0u);
  EXPECT_EQ(db_->Rows("Open_vSwitch").size(), 1u);
  // maxRows 1.
  r = db_->Transact(Json::array({Ins("Open_vSwitch", Json::object())})).reply;
  EXPECT_TRUE(IsError(r.back(), "constraint violation")) << r.dump();
  // The enums ovs-vsctl's set-fail-mode relies on.
  r = db_->Transact(Json::array({Ins("Bridge", {{"name", "b"}, {"fail_mode", "open"}})})).reply;
  EXPECT_TRUE(IsError(r[0], "constraint violation")) << r.dump();
}

}  // namespace
}  // namespace sluice::db
