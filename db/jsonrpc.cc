#include "db/jsonrpc.h"

#include <cstdio>
#include <utility>

namespace sluice::db {

namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

void JsonTextSplitter::Feed(std::string_view bytes) {
  if (broken_) return;
  // Drop what was returned already before growing the buffer.
  if (start_ > 0 && (start_ == buf_.size() || start_ >= buf_.size() / 2)) {
    buf_.erase(0, start_);
    scan_ -= start_;
    if (in_text_) text_begin_ -= start_;
    start_ = 0;
  }
  buf_.append(bytes);
}

JsonTextSplitter::Status JsonTextSplitter::Fail(std::string* error, std::string message) {
  broken_ = true;
  buf_.clear();
  start_ = scan_ = text_begin_ = 0;
  brackets_.clear();
  if (error) *error = std::move(message);
  return Status::kError;
}

JsonTextSplitter::Status JsonTextSplitter::Next(Json* out, std::string* error) {
  if (broken_) {
    if (error) *error = "stream is broken";
    return Status::kError;
  }
  const size_t end = buf_.size();
  while (scan_ < end) {
    char c = buf_[scan_];
    if (!in_text_) {
      if (IsJsonSpace(c)) {
        start_ = ++scan_;
        continue;
      }
      if (c != '{' && c != '[') {
        char hex[8];
        snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(c));
        return Fail(
            error,
            std::string("syntax error: a JSON text must begin with '{' or '[', not byte ") + hex);
      }
      in_text_ = true;
      text_begin_ = scan_;
      brackets_.assign(1, c);
      ++scan_;
      continue;
    }
    if (++scan_ - text_begin_ > max_text_bytes_) {
      return Fail(error,
                  "message too long: more than " + std::to_string(max_text_bytes_) + " bytes");
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (brackets_.size() >= kMaxDepth) {
          return Fail(error, "syntax error: nesting deeper than " + std::to_string(kMaxDepth));
        }
        brackets_.push_back(c);
        break;
      case '}':
      case ']': {
        char open = c == '}' ? '{' : '[';
        if (brackets_.back() != open) {
          return Fail(error,
                      std::string("syntax error: '") + c + "' closes '" + brackets_.back() + "'");
        }
        brackets_.pop_back();
        if (brackets_.empty()) {
          in_text_ = false;
          const char* first = buf_.data() + text_begin_;
          const char* last = buf_.data() + scan_;
          start_ = scan_;
          try {
            *out = Json::parse(first, last);
          } catch (const Json::exception& e) {
            if (error) *error = std::string("syntax error: ") + e.what();
            return Status::kError;
          }
          return Status::kText;
        }
        break;
      }
      default:
        break;
    }
  }
  return Status::kNeedMore;
}

JsonRpcMessage JsonRpcMessage::Request(std::string method, Json params, Json id) {
  JsonRpcMessage m;
  m.type = Type::kRequest;
  m.method = std::move(method);
  m.params = std::move(params);
  m.id = std::move(id);
  return m;
}

JsonRpcMessage JsonRpcMessage::Notification(std::string method, Json params) {
  JsonRpcMessage m;
  m.type = Type::kNotification;
  m.method = std::move(method);
  m.params = std::move(params);
  return m;
}

JsonRpcMessage JsonRpcMessage::Reply(Json result, Json id) {
  JsonRpcMessage m;
  m.type = Type::kReply;
  m.result = std::move(result);
  m.id = std::move(id);
  return m;
}

JsonRpcMessage JsonRpcMessage::Error(Json error, Json id) {
  JsonRpcMessage m;
  m.type = Type::kError;
  m.error = std::move(error);
  m.id = std::move(id);
  return m;
}

Json JsonRpcMessage::ToJson() const {
  Json j = Json::object();
  switch (type) {
    case Type::kRequest:
    case Type::kNotification:
      j["method"] = method;
      j["params"] = params.is_null() ? Json::array() : params;
      j["id"] = type == Type::kRequest ? id : Json();
      break;
    case Type::kReply:
      j["result"] = result;
      j["error"] = nullptr;
      j["id"] = id;
      break;
    case Type::kError:
      j["result"] = nullptr;
      j["error"] = error;
      j["id"] = id;
      break;
  }
  return j;
}

bool ParseJsonRpc(const Json& text, JsonRpcMessage* out, std::string* error) {
  if (!text.is_object()) {
    *error = "a JSON-RPC message must be a JSON object";
    return false;
  }
  auto member = [&](const char* name) -> const Json* {
    auto it = text.find(name);
    return it == text.end() ? nullptr : &*it;
  };
  const Json* method = member("method");
  const Json* params = member("params");
  const Json* id = member("id");
  const Json* result = member("result");
  const Json* err = member("error");
  JsonRpcMessage m;
  m.id = id ? *id : Json();
  if (method) {
    if (!method->is_string()) {
      *error = "\"method\" is not a string";
      return false;
    }
    if (params && !params->is_null() && !params->is_array()) {
      *error = "\"params\" is not an array";
      return false;
    }
    m.method = method->get<std::string>();
    m.params = params && params->is_array() ? *params : Json::array();
    m.type = m.id.is_null() ? JsonRpcMessage::Type::kNotification : JsonRpcMessage::Type::kRequest;
  } else if (result || err) {
    if (err && !err->is_null()) {
      m.type = JsonRpcMessage::Type::kError;
      m.error = *err;
    } else {
      m.type = JsonRpcMessage::Type::kReply;
      m.result = result ? *result : Json();
    }
  } else {
    *error = "message has neither \"method\" nor \"result\" nor \"error\"";
    return false;
  }
  *out = std::move(m);
  return true;
}

}  // namespace sluice::db
