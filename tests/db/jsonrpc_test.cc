// JSON-RPC framing and messages (db/jsonrpc.h): texts split at every byte
// boundary, several texts in one chunk, strings that contain brackets and
// escapes, oversized texts, malformed texts (recoverable or not), and the
// classification and serialization of requests, notifications and replies.
#include "db/jsonrpc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::db {
namespace {

// Everything Next() returns after feeding `chunks` in order: the dumped
// texts, and "ERR" for each recoverable error, "BROKEN" for a framing error.
std::vector<std::string> Drain(JsonTextSplitter& s, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    s.Feed(c);
    for (;;) {
      Json j;
      std::string err;
      auto st = s.Next(&j, &err);
      if (st == JsonTextSplitter::Status::kNeedMore) break;
      if (st == JsonTextSplitter::Status::kText) {
        out.push_back(j.dump());
        continue;
      }
      EXPECT_FALSE(err.empty());
      out.push_back(s.broken() ? "BROKEN" : "ERR");
      if (s.broken()) return out;
    }
  }
  return out;
}

const std::string kStream =
    R"({"id":1,"method":"echo","params":["}{][", "a\"}b", "back\\slash\\"]})"
    "\n"
    R"(  {"id":null,"method":"update","params":[null,{"T":{"u":{"new":{"s":"{{{["}}}}]})"
    R"([1,2,{"x":[]}])"
    "\r\n\t"
    R"({"result":{"k":"\u00e9\\\"]"},"error":null,"id":"x"})";

const std::vector<std::string> kExpected = {
    R"({"id":1,"method":"echo","params":["}{][","a\"}b","back\\slash\\"]})",
    R"({"id":null,"method":"update","params":[null,{"T":{"u":{"new":{"s":"{{{["}}}}]})",
    R"([1,2,{"x":[]}])",
    R"({"error":null,"id":"x","result":{"k":"é\\\"]"}})",
};

TEST(JsonTextSplitter, WholeStreamInOneChunk) {
  JsonTextSplitter s;
  EXPECT_EQ(Drain(s, {kStream}), kExpected);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(JsonTextSplitter, OneByteAtATime) {
  JsonTextSplitter s;
  std::vector<std::string> chunks;
  for (char c : kStream) chunks.emplace_back(1, c);
  EXPECT_EQ(Drain(s, chunks), kExpected);
}

TEST(JsonTextSplitter, SplitAtEveryByte) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    for (size_t j = i; j <= kStream.size(); j += 7) {
      JsonTextSplitter s;
      EXPECT_EQ(Drain(s, {kStream.substr(0, i), kStream.substr(i, j - i), kStream.substr(j)}),
                kExpected)
          << "split at " << i << " and " << j;
    }
  }
}

TEST(JsonTextSplitter, IncompleteTextWaits) {
  JsonTextSplitter s;
  EXPECT_TRUE(Drain(s, {R"({"a":"}")"}).empty());
  EXPECT_GT(s.buffered(), 0u);
  EXPECT_EQ(Drain(s, {"}"}), std::vector<std::string>{R"({"a":"}"})"});
}

TEST(JsonTextSplitter, BalancedButInvalidTextIsSkipped) {
  JsonTextSplitter s;
  EXPECT_EQ(Drain(s, {R"({"a":} {"b":tru} [1,] {"ok":1})"}),
            (std::vector<std::string>{"ERR", "ERR", "ERR", R"({"ok":1})"}));
  EXPECT_FALSE(s.broken());
}

TEST(JsonTextSplitter, InvalidUtf8IsARecoverableError) {
  JsonTextSplitter s;
  EXPECT_EQ(Drain(s, {std::string("{\"a\":\"\xff\xfe\"}{\"b\":2}")}),
            (std::vector<std::string>{"ERR", R"({"b":2})"}));
}

TEST(JsonTextSplitter, FramingErrorsBreakTheStream) {
  for (const char* bad : {"x", "}", "]", "\"str\"", "42", "{]", "[}", "{\"a\":[}"}) {
    JsonTextSplitter s;
    auto out = Drain(s, {std::string(bad) + R"( {"ok":1})"});
    ASSERT_FALSE(out.empty()) << bad;
    EXPECT_EQ(out.back(), "BROKEN") << bad;
    EXPECT_TRUE(s.broken());
    Json j;
    std::string err;
    s.Feed(R"({"later":1})");
    EXPECT_EQ(s.Next(&j, &err), JsonTextSplitter::Status::kError) << "stays broken";
  }
}

TEST(JsonTextSplitter, TooDeep) {
  JsonTextSplitter s;
  EXPECT_EQ(Drain(s, {std::string(JsonTextSplitter::kMaxDepth, '[') +
                      std::string(JsonTextSplitter::kMaxDepth, ']')}),
            std::vector<std::string>{Json::parse(std::string(JsonTextSplitter::kMaxDepth, '[') +
                                                 std::string(JsonTextSplitter::kMaxDepth, ']'))
                                         .dump()});
  JsonTextSplitter deeper;
  EXPECT_EQ(Drain(deeper, {std::string(JsonTextSplitter::kMaxDepth + 1, '[')}),
            std::vector<std::string>{"BROKEN"});
}

TEST(JsonTextSplitter, OversizedTextInOneChunk) {
  JsonTextSplitter s(100);
  std::string big = R"({"a":")" + std::string(200, 'x') + R"("})";
  EXPECT_EQ(Drain(s, {big}), std::vector<std::string>{"BROKEN"});
  EXPECT_EQ(s.buffered(), 0u) << "the buffer is released";
}

TEST(JsonTextSplitter, OversizedTextDetectedBeforeItEnds) {
  JsonTextSplitter s(100);
  std::vector<std::string> out =
      Drain(s, {R"({"a":")", std::string(60, 'x'), std::string(60, 'x')});
  EXPECT_EQ(out, std::vector<std::string>{"BROKEN"}) << "no closing brace needed to notice";
}

TEST(JsonTextSplitter, TextOfExactlyTheLimitPasses) {
  std::string text = R"({"a":")" + std::string(100 - 8, 'x') + R"("})";
  ASSERT_EQ(text.size(), 100u);
  JsonTextSplitter s(100);
  EXPECT_EQ(Drain(s, {text, text}), (std::vector<std::string>{text, text}));
}

TEST(JsonTextSplitter, ManySmallTextsKeepTheBufferSmall) {
  JsonTextSplitter s(1000);
  for (int i = 0; i < 10000; ++i) {
    std::string t = R"({"id":)" + std::to_string(i) + "}";
    // Each text arrives in two pieces, the second with the next text's start.
    auto out = Drain(s, {t.substr(0, 3), t.substr(3)});
    ASSERT_EQ(out.size(), 1u);
  }
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(JsonRpc, ParsesRequestsNotificationsAndResponses) {
  JsonRpcMessage m;
  std::string err;
  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"id":0,"method":"list_dbs","params":[]})"), &m, &err))
      << err;
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kRequest);
  EXPECT_EQ(m.method, "list_dbs");
  EXPECT_EQ(m.id, 0);

  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"id":null,"method":"cancel","params":[5]})"), &m, &err));
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kNotification);
  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"method":"cancel","params":[5]})"), &m, &err));
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kNotification) << "a missing id is a null id";

  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"id":"echo","method":"get_server_id","params":null})"),
                           &m, &err));
  EXPECT_EQ(m.params, Json::array()) << "null params read as []";

  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"id":3,"result":{"a":1},"error":null})"), &m, &err));
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kReply);
  EXPECT_EQ(m.result, Json::parse(R"({"a":1})"));
  ASSERT_TRUE(ParseJsonRpc(Json::parse(R"({"id":3,"result":null})"), &m, &err));
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kReply);

  ASSERT_TRUE(
      ParseJsonRpc(Json::parse(R"({"id":4,"result":null,"error":"unknown method"})"), &m, &err));
  EXPECT_EQ(m.type, JsonRpcMessage::Type::kError);
  EXPECT_EQ(m.error, "unknown method");
}

TEST(JsonRpc, RejectsWhatIsNotAMessage) {
  JsonRpcMessage m;
  for (const char* bad : {R"([1,2])", R"({"id":1})", R"({"id":1,"method":7,"params":[]})",
                          R"({"id":1,"method":"echo","params":{"a":1}})",
                          R"({"id":1,"method":"echo","params":"x"})"}) {
    std::string err;
    EXPECT_FALSE(ParseJsonRpc(Json::parse(bad), &m, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(JsonRpc, WritesTheFullJsonRpc10Form) {
  EXPECT_EQ(JsonRpcMessage::Request("echo", Json::array({1}), 7).ToJson(),
            Json::parse(R"({"method":"echo","params":[1],"id":7})"));
  EXPECT_EQ(JsonRpcMessage::Notification("update", Json::array({nullptr, Json::object()})).ToJson(),
            Json::parse(R"({"method":"update","params":[null,{}],"id":null})"));
  EXPECT_EQ(JsonRpcMessage::Reply(Json::object(), "x").ToJson(),
            Json::parse(R"({"result":{},"error":null,"id":"x"})"));
  EXPECT_EQ(JsonRpcMessage::Error("unknown method", 2).ToJson(),
            Json::parse(R"({"result":null,"error":"unknown method","id":2})"));
}

TEST(JsonRpc, RoundTripsThroughTheSplitter) {
  std::vector<JsonRpcMessage> sent = {
      JsonRpcMessage::Request("transact",
                              Json::array({"db", {{"op", "comment"}, {"comment", "}{\"["}}}), 1),
      JsonRpcMessage::Notification("locked", Json::array({"L"})),
      JsonRpcMessage::Reply(Json::array({Json::object()}), 1),
      JsonRpcMessage::Error(Json{{"error", "canceled"}}, 9),
  };
  std::string wire;
  for (const auto& m : sent) wire += m.Serialize();
  JsonTextSplitter s;
  s.Feed(wire);
  for (const auto& m : sent) {
    Json j;
    std::string err;
    ASSERT_EQ(s.Next(&j, &err), JsonTextSplitter::Status::kText) << err;
    JsonRpcMessage got;
    ASSERT_TRUE(ParseJsonRpc(j, &got, &err)) << err;
    EXPECT_EQ(got.type, m.type);
    EXPECT_EQ(got.ToJson(), m.ToJson());
  }
}

TEST(JsonRpc, SerializeNeverThrowsOnInvalidUtf8) {
  auto m = JsonRpcMessage::Error(
      Json{{"error", "syntax error"}, {"details", std::string("bad \xff byte")}}, nullptr);
  std::string out;
  EXPECT_NO_THROW(out = m.Serialize());
  EXPECT_NE(out.find("syntax error"), std::string::npos);
}

}  // namespace
}  // namespace sluice::db
