// Monitor logic (db/monitor.h) without a server: datum comparison, update2
// diffs, condition functions, and the monitor invariant checked on random
// change sequences: a client that applies the reported updates (update for
// "monitor", update2 for "monitor_cond" with a condition) holds exactly the
// projection of the rows that match, after every commit.
#include "db/monitor.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice::db {
namespace {

const Json kSchema = Json::parse(R"({"name":"S","tables":{"T":{"columns":{
    "a":{"type":"integer"},
    "s":{"type":{"key":"integer","min":0,"max":"unlimited"}},
    "o":{"type":{"key":"string","min":0,"max":1}},
    "m":{"type":{"key":"integer","value":"integer","min":0,"max":"unlimited"}}}}}})");

TEST(Datum, ElementsAreCanonical) {
  EXPECT_TRUE(DatumEquals(Json(1), Json::parse(R"(["set",[1]])")));
  EXPECT_TRUE(DatumEquals(Json::parse(R"(["set",[3,1,2]])"), Json::parse(R"(["set",[1,2,3]])")));
  EXPECT_TRUE(DatumEquals(Json::parse(R"(["map",[[2,"b"],[1,"a"]]])"),
                          Json::parse(R"(["map",[[1,"a"],[2,"b"]]])")));
  EXPECT_FALSE(DatumEquals(Json::parse(R"(["set",[]])"), Json::parse(R"(["set",[0]])")));
  EXPECT_TRUE(
      DatumEquals(Json::parse(R"(["uuid","x"])"), Json::parse(R"(["set",[["uuid","x"]]])")));
}

TEST(Datum, Update2Diffs) {
  EXPECT_EQ(DatumDiff(ColumnKind::kAtom, 1, 2), 2);
  EXPECT_EQ(DatumDiff(ColumnKind::kSet, Json::parse(R"(["set",[]])"), "x"), "x");
  EXPECT_EQ(DatumDiff(ColumnKind::kSet, "x", Json::parse(R"(["set",[]])")), "x");
  EXPECT_EQ(DatumDiff(ColumnKind::kSet, Json::parse(R"(["set",[1,2,3]])"),
                      Json::parse(R"(["set",[2,3,4]])")),
            Json::parse(R"(["set",[1,4]])"));
  EXPECT_EQ(DatumDiff(ColumnKind::kMap, Json::parse(R"(["map",[[1,10],[2,20],[3,30]]])"),
                      Json::parse(R"(["map",[[2,20],[3,31],[4,40]]])")),
            Json::parse(R"(["map",[[1,10],[3,31],[4,40]]])"));
}

TEST(Condition, Functions) {
  SchemaShape shape(kSchema);
  const auto& cols = *shape.Table("T");
  Json row = Json::parse(R"({"a":3,"s":["set",[1,2]],"o":["set",[]],"m":["map",[[1,10]]]})");
  auto eval = [&](const char* where, Condition::Combine combine = Condition::Combine::kAll) {
    Condition c;
    std::string err;
    EXPECT_TRUE(Condition::Parse(Json::parse(where), cols, combine, &c, &err))
        << where << ": " << err;
    return c.Matches(row);
  };
  EXPECT_TRUE(eval(R"([])"));
  EXPECT_TRUE(
      eval(R"([["a","==",3],["a","<",4],["a","<=",3],["a",">",2],["a",">=",3],["a","!=",1]])"));
  EXPECT_FALSE(eval(R"([["a","==",3],["a","<",3]])"));
  EXPECT_TRUE(eval(
      R"([["s","includes",["set",[2]]],["s","excludes",["set",[3,4]]],["s","==",["set",[2,1]]]])"));
  EXPECT_FALSE(eval(R"([["s","includes",["set",[2,3]]]])"));
  EXPECT_FALSE(eval(R"([["s","excludes",["set",[2,3]]]])"));
  EXPECT_TRUE(eval(R"([["m","includes",["map",[[1,10]]]],["m","excludes",["map",[[1,11]]]]])"));
  EXPECT_FALSE(eval(R"([["o","<","x"]])")) << "ordering on an empty optional is false";
  EXPECT_TRUE(eval(R"([["o","==",["set",[]]]])"));
  // monitor_cond: any clause; booleans; empty is true.
  EXPECT_TRUE(eval(R"([["a","==",1],["a","==",3]])", Condition::Combine::kAny));
  EXPECT_FALSE(eval(R"([false])", Condition::Combine::kAny));
  EXPECT_TRUE(eval(R"([false,true])", Condition::Combine::kAny));
  EXPECT_TRUE(eval(R"([])", Condition::Combine::kAny));

  Condition c;
  std::string err;
  EXPECT_FALSE(Condition::Parse(Json::parse(R"([["zz","==",1]])"), cols, Condition::Combine::kAll,
                                &c, &err));
  EXPECT_FALSE(
      Condition::Parse(Json::parse(R"([["a","~",1]])"), cols, Condition::Combine::kAll, &c, &err));
  EXPECT_FALSE(
      Condition::Parse(Json::parse(R"({"a":1})"), cols, Condition::Combine::kAll, &c, &err));
}

// --- the monitor invariant on random changes ---------------------------------

struct Model {
  std::mt19937 rng;
  std::map<std::string, Json> rows;
  int next = 0;

  explicit Model(uint32_t seed) : rng(seed) {}
  int R(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

  Json Set() {
    std::vector<Json> e;
    for (int i = R(4); i > 0; --i) e.push_back(R(6));
    if (e.size() == 1 && R(2)) return e[0];  // the one-element shorthand
    return Json::array({"set", e});
  }
  Json Map() {
    std::map<int, int> m;
    for (int i = R(4); i > 0; --i) m[R(5)] = R(3);
    Json pairs = Json::array();
    for (auto [k, v] : m) pairs.push_back({k, v});
    return Json::array({"map", pairs});
  }
  Json Optional() { return R(2) ? Json("x" + std::to_string(R(3))) : Json::parse(R"(["set",[]])"); }

  // One random commit.
  ChangeSet Step() {
    ChangeSet cs;
    int action = rows.empty() ? 0 : R(3);
    if (action == 0) {
      std::string uuid = "u" + std::to_string(next++);
      Json row = {{"_uuid", Json::array({"uuid", uuid})},
                  {"_version", Json::array({"uuid", "v0"})},
                  {"a", R(8)},
                  {"s", Set()},
                  {"o", Optional()},
                  {"m", Map()}};
      rows[uuid] = row;
      cs["T"][uuid] = {std::nullopt, row};
    } else {
      auto it = std::next(rows.begin(), R(static_cast<int>(rows.size())));
      if (action == 1) {
        cs["T"][it->first] = {it->second, std::nullopt};
        rows.erase(it);
      } else {
        Json old = it->second;
        Json& row = it->second;
        switch (R(4)) {
          case 0:
            row["a"] = R(8);
            break;
          case 1:
            row["s"] = Set();
            break;
          case 2:
            row["o"] = Optional();
            break;
          default:
            row["m"] = Map();
            break;
        }
        row["_version"] = Json::array({"uuid", "v" + std::to_string(next++)});
        cs["T"][it->first] = {old, row};
      }
    }
    return cs;
  }
};

// Applies one row's update2 to a client view.
void Apply2(std::map<std::string, Json>& view, const SchemaShape::Columns& shape,
            const std::string& uuid, const Json& ru) {
  if (ru.contains("insert") || ru.contains("initial")) {
    view[uuid] = ru.contains("insert") ? ru["insert"] : ru["initial"];
  } else if (ru.contains("delete")) {
    view.erase(uuid);
  } else {
    Json& row = view.at(uuid);
    for (auto& [col, diff] : ru["modify"].items()) {
      switch (shape.at(col)) {
        case ColumnKind::kAtom:
          row[col] = diff;
          break;
        case ColumnKind::kSet: {
          std::vector<Json> cur = DatumElements(row[col]), d = DatumElements(diff), out;
          std::set_symmetric_difference(cur.begin(), cur.end(), d.begin(), d.end(),
                                        std::back_inserter(out));
          row[col] = Json::array({"set", out});
          break;
        }
        case ColumnKind::kMap: {
          std::map<Json, Json> cur;
          for (auto& p : DatumElements(row[col])) cur[p[0]] = p[1];
          for (auto& p : DatumElements(diff)) {
            auto it = cur.find(p[0]);
            if (it == cur.end()) {
              cur[p[0]] = p[1];
            } else if (it->second == p[1]) {
              cur.erase(it);
            } else {
              it->second = p[1];
            }
          }
          Json pairs = Json::array();
          for (auto& [k, v] : cur) pairs.push_back({k, v});
          row[col] = Json::array({"map", pairs});
          break;
        }
      }
    }
  }
}

bool SameView(const std::map<std::string, Json>& view, const std::map<std::string, Json>& expect,
              std::string* why) {
  if (view.size() != expect.size()) {
    *why = "row count " + std::to_string(view.size()) + " != " + std::to_string(expect.size());
    return false;
  }
  for (const auto& [uuid, row] : expect) {
    auto it = view.find(uuid);
    if (it == view.end()) {
      *why = "missing " + uuid;
      return false;
    }
    for (auto& [col, v] : row.items()) {
      if (!it->second.contains(col) || !DatumEquals(it->second[col], v)) {
        *why = uuid + "." + col + ": " + it->second.value(col, Json()).dump() + " != " + v.dump();
        return false;
      }
    }
  }
  return true;
}

TEST(MonitorInvariant, RandomChangesUpdate2WithCondition) {
  SchemaShape shape(kSchema);
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Model model(seed);
    for (int i = 0; i < 5; ++i) model.Step();
    std::string err;
    auto mon = Monitor::Parse(Json::parse(R"({"T":[{"columns":["a","s","o","m"],
        "where":[["a","<",4],["s","includes",["set",[5]]],["m","includes",["map",[[0,0]]]]]}]})"),
                              shape, MonitorVersion::kV2, &err);
    ASSERT_TRUE(mon) << err;
    std::map<std::string, Json> view;
    Json initial = mon->Initial([&](const std::string&) { return model.rows; });
    if (initial.contains("T")) {
      for (auto& [uuid, ru] : initial["T"].items()) Apply2(view, *shape.Table("T"), uuid, ru);
    }
    Condition cond;
    Condition::Parse(
        Json::parse(
            R"([["a","<",4],["s","includes",["set",[5]]],["m","includes",["map",[[0,0]]]]])"),
        *shape.Table("T"), Condition::Combine::kAny, &cond, &err);
    for (int step = 0; step < 200; ++step) {
      ChangeSet cs = model.Step();
      Json upd = mon->Update(cs);
      if (upd.contains("T")) {
        for (auto& [uuid, ru] : upd["T"].items()) Apply2(view, *shape.Table("T"), uuid, ru);
      }
      std::map<std::string, Json> expect;
      for (const auto& [uuid, row] : model.rows) {
        if (cond.Matches(row)) expect[uuid] = ProjectRow(row, {"a", "s", "o", "m"});
      }
      std::string why;
      ASSERT_TRUE(SameView(view, expect, &why))
          << "seed " << seed << " step " << step << ": " << why;
    }
  }
}

TEST(MonitorInvariant, RandomChangesUpdateV1) {
  SchemaShape shape(kSchema);
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    Model model(seed);
    std::string err;
    auto mon = Monitor::Parse(Json::parse(R"({"T":{"columns":["a","s","m"]}})"), shape,
                              MonitorVersion::kV1, &err);
    ASSERT_TRUE(mon) << err;
    std::map<std::string, Json> view;
    for (int step = 0; step < 200; ++step) {
      ChangeSet cs = model.Step();
      Json upd = mon->Update(cs);
      if (!upd.contains("T")) continue;
      for (auto& [uuid, ru] : upd["T"].items()) {
        if (ru.contains("new")) {
          view[uuid] = ru["new"];
          if (ru.contains("old")) {
            // "old" holds exactly the changed columns.
            for (auto& [col, v] : ru["old"].items())
              EXPECT_FALSE(DatumEquals(v, ru["new"][col])) << col;
          }
        } else {
          view.erase(uuid);
        }
      }
      std::map<std::string, Json> expect;
      for (const auto& [uuid, row] : model.rows) expect[uuid] = ProjectRow(row, {"a", "s", "m"});
      std::string why;
      ASSERT_TRUE(SameView(view, expect, &why))
          << "seed " << seed << " step " << step << ": " << why;
    }
  }
}

TEST(Monitor, SelectAndColumnsPerRequest) {
  SchemaShape shape(kSchema);
  std::string err;
  // Two requests: "a" for every action, "m" for inserts only.
  auto mon = Monitor::Parse(Json::parse(R"({"T":[{"columns":["a"]},
      {"columns":["m"],"select":{"initial":false,"delete":false,"modify":false}}]})"),
                            shape, MonitorVersion::kV1, &err);
  ASSERT_TRUE(mon) << err;
  Json row = {{"_uuid", Json::array({"uuid", "u"})},
              {"a", 1},
              {"s", 1},
              {"o", "x"},
              {"m", Json::parse(R"(["map",[]])")}};
  ChangeSet ins;
  ins["T"]["u"] = {std::nullopt, row};
  EXPECT_EQ(mon->Update(ins)["T"]["u"], Json::parse(R"({"new":{"a":1,"m":["map",[]]}})"));
  EXPECT_EQ(mon->Initial([&](const std::string&) {
    return std::map<std::string, Json>{{"u", row}};
  }),
            Json::parse(R"({"T":{"u":{"new":{"a":1}}}})"));
  Json row2 = row;
  row2["m"] = Json::parse(R"(["map",[[1,1]]])");
  ChangeSet mod;
  mod["T"]["u"] = {row, row2};
  EXPECT_EQ(mon->Update(mod), Json::object()) << "m is monitored for inserts only";
  // Unknown tables and columns are errors.
  EXPECT_FALSE(Monitor::Parse(Json::parse(R"({"X":{}})"), shape, MonitorVersion::kV1, &err));
  EXPECT_FALSE(
      Monitor::Parse(Json::parse(R"({"T":{"columns":["zz"]}})"), shape, MonitorVersion::kV1, &err));
}

}  // namespace
}  // namespace sluice::db
