#pragma once
// What: JSON-RPC 1.0 as OVSDB (RFC 7047 section 4) runs it over a byte
// stream: a sequence of JSON texts with no delimiter between them, each one
// a request, a notification or a response.
//
// Design:
//   - JsonTextSplitter finds where each JSON text ends without parsing it:
//     it scans the bytes once, tracking string/escape state and a stack of
//     open brackets, and hands every complete text to nlohmann::json. The
//     scan resumes where the previous Feed() stopped, so a text that arrives
//     one byte at a time costs O(length), not O(length^2).
//   - A text must be an object or an array (RFC 4627 JSON texts; OVSDB sends
//     only objects). Whitespace between texts is skipped.
//   - Two kinds of failure:
//       * a complete, bracket-balanced text that nlohmann rejects (a bad
//         literal, a trailing comma, invalid UTF-8): reported, and the
//         stream goes on with the next text;
//       * a framing failure (a byte that cannot start a text, a closing
//         bracket that does not match, nesting deeper than kMaxDepth, a text
//         longer than the maximum): the splitter is broken() from then on;
//         the caller answers with an error and closes the connection.
//   - JsonRpcMessage is the decoded message; ToJson() writes the complete
//     JSON-RPC 1.0 form Open vSwitch writes (a reply carries "error": null,
//     an error "result": null, a notification "id": null); the parser
//     accepts a missing member as null.
//
// Invariants:
//   1. Feeding the same bytes in any split yields the same texts and errors.
//   2. No text longer than max_text_bytes is ever buffered beyond that size
//      plus one Feed() chunk: the splitter breaks first.
//   3. A text's nesting depth never exceeds kMaxDepth, so recursion over a
//      parsed value (dump, compare) is bounded.
//
// Thread-safety: none; one splitter per connection.
// Memory: the unconsumed tail of the input (at most one partial text).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sluice::db {

using Json = nlohmann::json;

// The largest JSON text accepted from a peer (and the default output queue
// limit of a server session).
inline constexpr size_t kDefaultMaxMessageBytes = size_t{64} << 20;

class JsonTextSplitter {
 public:
  static constexpr size_t kMaxDepth = 1000;

  explicit JsonTextSplitter(size_t max_text_bytes = kDefaultMaxMessageBytes)
      : max_text_bytes_(max_text_bytes) {}

  // Appends received bytes.
  void Feed(std::string_view bytes);

  enum class Status {
    kText,      // *out holds the next text
    kNeedMore,  // no complete text buffered
    kError,     // *error says why; broken() tells whether the stream can go on
  };
  // The next complete text, parsed.
  Status Next(Json* out, std::string* error);

  // After a framing error: nothing more will be returned.
  bool broken() const { return broken_; }
  // Bytes buffered and not yet returned.
  size_t buffered() const { return buf_.size() - start_; }

 private:
  Status Fail(std::string* error, std::string message);

  size_t max_text_bytes_;
  std::string buf_;
  size_t start_ = 0;       // first byte not yet returned
  size_t scan_ = 0;        // next byte to scan
  size_t text_begin_ = 0;  // first byte of the text being scanned (in_text_)
  bool in_text_ = false;
  bool in_string_ = false;
  bool escape_ = false;
  std::string brackets_;  // open '{' / '[' of the text being scanned
  bool broken_ = false;
};

struct JsonRpcMessage {
  enum class Type { kRequest, kNotification, kReply, kError };

  Type type = Type::kNotification;
  std::string method;  // kRequest, kNotification
  Json params;         // kRequest, kNotification: an array
  Json result;         // kReply
  Json error;          // kError: non-null
  Json id;             // kRequest, kReply, kError (may be null for an error)

  static JsonRpcMessage Request(std::string method, Json params, Json id);
  static JsonRpcMessage Notification(std::string method, Json params);
  static JsonRpcMessage Reply(Json result, Json id);
  static JsonRpcMessage Error(Json error, Json id);

  Json ToJson() const;
  // Compact JSON; invalid UTF-8 in strings is replaced, never thrown on.
  std::string Serialize() const {
    return ToJson().dump(-1, ' ', false, Json::error_handler_t::replace);
  }
};

// Classifies a received JSON text: with a "method" it is a request (non-null
// "id") or a notification; else with "result" or "error" a response (an
// error when "error" is not null). false + *error if it is none of these or
// a member has the wrong type ("method" not a string, "params" not an array).
bool ParseJsonRpc(const Json& text, JsonRpcMessage* out, std::string* error);

}  // namespace sluice::db
