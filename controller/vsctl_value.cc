// ovs-vsctl's value syntax for sluicectl. See vsctl_value.h.
#include "controller/vsctl_value.h"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "datapath/util/status.h"
#include "db/client.h"
#include "db/database.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl::vsctl_detail {

using db::Json;

// ---------------------------------------------------------------------------
// 1. Value syntax.

// ovs-vsctl prints a string bare when it reads back as the same string: it
// starts with a letter or '_', holds only letters, digits, '_', '-', '.',
// and is not a boolean word.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (!std::isalpha(c0) && c0 != '_') return true;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return true;
  }
  return s == "true" || s == "false";
}

std::string QuoteString(const std::string& s) {
  return NeedsQuotes(s) ? Json(s).dump(-1, ' ', false, Json::error_handler_t::replace) : s;
}

std::string AtomText(const Atom& a, bool bare) {
  switch (db::TypeOf(a)) {
    case AtomicType::kInteger:
      return std::to_string(std::get<int64_t>(a));
    case AtomicType::kReal:
      return fmt::format("{}", std::get<double>(a));
    case AtomicType::kBoolean:
      return std::get<bool>(a) ? "true" : "false";
    case AtomicType::kString:
      return bare ? std::get<std::string>(a) : QuoteString(std::get<std::string>(a));
    case AtomicType::kUuid:
      return std::get<Uuid>(a).ToString();
  }
  return "";
}

// A datum as ovs-vsctl prints it: an optional or scalar value as its atom
// ("[]" when empty), a set as [a, b], a map as {k=v, k2=v2}; `bare` drops
// brackets and quotes and separates elements with spaces.
std::string DatumText(const Datum& d, const Type& t, bool bare) {
  std::string s;
  if (t.is_map()) {
    for (size_t i = 0; i < d.size(); ++i) {
      if (i) s += bare ? " " : ", ";
      s += AtomText(d.keys[i], bare) + "=" + AtomText(d.values[i], bare);
    }
    return bare ? s : "{" + s + "}";
  }
  if (t.max == 1) {
    if (d.empty()) return bare ? "" : "[]";
    return AtomText(d.keys[0], bare);
  }
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += bare ? " " : ", ";
    s += AtomText(d.keys[i], bare);
  }
  return bare ? s : "[" + s + "]";
}

// A set of `base` atoms of any size: what mutation arguments and the key sets
// of map deletions are written as.
Type SetOf(const db::BaseType& base) {
  Type t;
  t.key = base;
  t.min = 0;
  t.max = db::kUnlimited;
  return t;
}

Type Unbounded(const Type& t) {
  Type u = t.Relaxed();
  u.min = 0;
  u.max = db::kUnlimited;
  return u;
}


// Parses a double-quoted string at s[*pos] (JSON/C escapes); *pos ends after
// the closing quote.
Status ParseQuoted(std::string_view s, size_t* pos, std::string* out) {
  std::string text(s.substr(*pos));
  size_t i = *pos + 1;
  std::string raw = "\"";
  bool escape = false;
  for (; i < s.size(); ++i) {
    raw += s[i];
    if (escape) {
      escape = false;
    } else if (s[i] == '\\') {
      escape = true;
    } else if (s[i] == '"') {
      break;
    }
  }
  if (i >= s.size()) return Status::Errorf("{}: quoted string extends past end of argument", text);
  Json j = Json::parse(raw, nullptr, false);
  if (!j.is_string()) return Status::Errorf("{}: bad escape in quoted string", text);
  *out = j.get<std::string>();
  *pos = i + 1;
  return Status::Ok();
}

bool IsDelimiter(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '=' || c == ':' ||
         c == '[' || c == ']' || c == '{' || c == '}' || c == '"';
}

void SkipSpace(std::string_view s, size_t* pos) {
  while (*pos < s.size() && std::isspace(static_cast<unsigned char>(s[*pos]))) ++*pos;
}

// One atom token of a datum: quoted, or a bare run up to a delimiter.
Status NextToken(std::string_view s, size_t* pos, std::string* token, bool* quoted) {
  SkipSpace(s, pos);
  *quoted = false;
  if (*pos < s.size() && s[*pos] == '"') {
    *quoted = true;
    return ParseQuoted(s, pos, token);
  }
  size_t start = *pos;
  while (*pos < s.size() && !IsDelimiter(s[*pos])) ++*pos;
  if (*pos == start) {
    if (start >= s.size()) return Status::Errorf("{}: missing value", std::string(s));
    return Status::Errorf("{}: syntax error at \"{}\"", std::string(s),
                          std::string(s.substr(start)));
  }
  *token = std::string(s.substr(start, *pos - start));
  return Status::Ok();
}

// Converts one token to an atom of `type` (symbols "@name" for UUIDs).
Status TokenToAtom(const std::string& token, bool quoted, AtomicType type, SymbolTable* symbols,
                   Atom* out) {
  auto bad = [&](const char* what) {
    return Status::Errorf("\"{}\" is not a valid {}", token, what);
  };
  switch (type) {
    case AtomicType::kInteger: {
      if (quoted || token.empty()) return bad("integer");
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(token.c_str(), &end, 10);
      if (*end != '\0' || errno == ERANGE) return bad("integer");
      *out = static_cast<int64_t>(v);
      return Status::Ok();
    }
    case AtomicType::kReal: {
      if (quoted || token.empty()) return bad("real number");
      char* end = nullptr;
      double v = std::strtod(token.c_str(), &end);
      if (*end != '\0') return bad("real number");
      *out = v;
      return Status::Ok();
    }
    case AtomicType::kBoolean:
      if (!quoted && (token == "true" || token == "yes" || token == "on" || token == "1")) {
        *out = true;
      } else if (!quoted && (token == "false" || token == "no" || token == "off" || token == "0")) {
        *out = false;
      } else {
        return Status::Errorf("\"{}\" is not a valid boolean (use \"true\" or \"false\")", token);
      }
      return Status::Ok();
    case AtomicType::kString:
      *out = token;
      return Status::Ok();
    case AtomicType::kUuid: {
      if (!quoted && token.size() > 1 && token[0] == '@') {
        if (!symbols) return Status::Errorf("row id \"{}\" cannot be used here", token);
        Symbol& sym = symbols->Get(token);
        sym.referenced = true;
        *out = sym.uuid;
        return Status::Ok();
      }
      auto u = Uuid::Parse(token);
      if (!u) return bad("UUID");
      *out = *u;
      return Status::Ok();
    }
  }
  return bad("value");
}

// A whole argument as one atom (the KEY and VALUE of COL:KEY=VALUE): a
// string is the text itself unless it starts with a double quote.
Status ParseWholeAtom(const std::string& text, const db::BaseType& base, SymbolTable* symbols,
                      Atom* out) {
  if (base.type == AtomicType::kString && !text.empty() && text[0] == '"') {
    size_t pos = 0;
    std::string s;
    SLUICE_RETURN_IF_ERROR(ParseQuoted(text, &pos, &s));
    if (pos != text.size())
      return Status::Errorf("{}: trailing characters after quoted string", text);
    *out = s;
    return Status::Ok();
  }
  if (text.empty() && base.type != AtomicType::kString) return Status::Errorf("missing value");
  SLUICE_RETURN_IF_ERROR(TokenToAtom(text, false, base.type, symbols, out));
  if (auto e = db::CheckAtom(*out, base))
    return Status::Errorf("constraint violation: {}", e->details);
  return Status::Ok();
}

// Adds `token` to a set, expanding an integer range "A-B" when allowed.
Status AddSetElement(const std::string& token, bool quoted, const Type& type, SymbolTable* symbols,
                     Datum* d) {
  if (type.key.type == AtomicType::kInteger && !quoted && type.max > 1) {
    size_t dash = token.find('-', 1);
    if (dash != std::string::npos) {
      Atom lo, hi;
      if (TokenToAtom(token.substr(0, dash), false, AtomicType::kInteger, nullptr, &lo).ok() &&
          TokenToAtom(token.substr(dash + 1), false, AtomicType::kInteger, nullptr, &hi).ok()) {
        int64_t a = std::get<int64_t>(lo), b = std::get<int64_t>(hi);
        if (a > b || b - a >= 65536)
          return Status::Errorf("\"{}\" is not a valid integer range", token);
        for (int64_t v = a; v <= b; ++v) d->keys.push_back(v);
        return Status::Ok();
      }
      return Status::Errorf("\"{}\" is not a valid integer or range", token);
    }
  }
  Atom a;
  SLUICE_RETURN_IF_ERROR(TokenToAtom(token, quoted, type.key.type, symbols, &a));
  d->keys.push_back(std::move(a));
  return Status::Ok();
}

// A datum in ovs-vsctl's notation: a set "a,b", "[a, b]", "[]"; a map
// "k=v,k2=v2", "{k=v}", "{}"; atoms bare or double-quoted. Sizes and (with
// check) the type's constraints are checked.
Status ParseDatum(const std::string& text, const Type& type, SymbolTable* symbols, bool check,
                  Datum* out) {
  std::string_view s = text;
  size_t pos = 0;
  Datum d;
  SkipSpace(s, &pos);
  char open = type.is_map() ? '{' : '[';
  char close = type.is_map() ? '}' : ']';
  bool braced = pos < s.size() && s[pos] == open;
  if (braced) ++pos;
  for (;;) {
    SkipSpace(s, &pos);
    if (braced && pos < s.size() && s[pos] == close) {
      ++pos;
      braced = false;
      break;
    }
    if (pos >= s.size()) break;
    std::string token;
    bool quoted;
    SLUICE_RETURN_IF_ERROR(NextToken(s, &pos, &token, &quoted));
    if (type.is_map()) {
      SkipSpace(s, &pos);
      if (pos >= s.size() || s[pos] != '=') {
        return Status::Errorf("{}: syntax error at \"{}\" expecting \"=\"", text,
                              std::string(s.substr(pos)));
      }
      ++pos;
      Atom k, v;
      SLUICE_RETURN_IF_ERROR(TokenToAtom(token, quoted, type.key.type, symbols, &k));
      SLUICE_RETURN_IF_ERROR(NextToken(s, &pos, &token, &quoted));
      SLUICE_RETURN_IF_ERROR(TokenToAtom(token, quoted, type.value->type, symbols, &v));
      d.keys.push_back(std::move(k));
      d.values.push_back(std::move(v));
    } else {
      SLUICE_RETURN_IF_ERROR(AddSetElement(token, quoted, type, symbols, &d));
    }
    SkipSpace(s, &pos);
    if (pos < s.size() && s[pos] == ',') ++pos;
    if (pos < s.size() && (s[pos] == '=' || s[pos] == ':' || s[pos] == '{' || s[pos] == '[')) {
      return Status::Errorf("{}: unexpected \"{}\" parsing {}", text, s[pos],
                            type.is_map() ? "map" : std::string(db::AtomicTypeName(type.key.type)));
    }
  }
  if (braced) return Status::Errorf("{}: missing \"{}\"", text, close);
  if (pos != s.size())
    return Status::Errorf("{}: syntax error at \"{}\"", text, std::string(s.substr(pos)));
  if (type.is_map()) {
    if (!d.SortUnique()) return Status::Errorf("{}: map contains duplicate key", text);
  } else {
    d.SortDedup();
  }
  if (d.size() > type.max) {
    return Status::Errorf("{}: {} value(s) specified but the maximum number is {}", text, d.size(),
                          type.max);
  }
  if (d.size() < type.min) {
    return Status::Errorf("{}: {} value(s) specified but the minimum number is {}", text, d.size(),
                          type.min);
  }
  if (check) {
    if (auto e = db::CheckDatum(d, type))
      return Status::Errorf("constraint violation: {}", e->details);
  }
  *out = std::move(d);
  return Status::Ok();
}

// "COL[:KEY]<op>VALUE" split into its parts. `ops` are the operators
// accepted, longest first; without ops the argument is just "COL[:KEY]".

Status SplitColumnArg(const std::string& arg, const std::vector<std::string>& ops, ColumnArg* out) {
  size_t pos = 0;
  while (pos < arg.size() &&
         (std::isalnum(static_cast<unsigned char>(arg[pos])) || arg[pos] == '_'))
    ++pos;
  out->column = arg.substr(0, pos);
  if (out->column.empty()) return Status::Errorf("{}: missing column name", arg);
  out->key.reset();
  if (pos < arg.size() && arg[pos] == ':') {
    ++pos;
    std::string key;
    if (pos < arg.size() && arg[pos] == '"') {
      size_t start = pos;
      std::string unquoted;
      SLUICE_RETURN_IF_ERROR(ParseQuoted(arg, &pos, &unquoted));
      key = arg.substr(start, pos - start);
    } else {
      size_t start = pos;
      while (pos < arg.size()) {
        bool at_op = false;
        for (const auto& op : ops) at_op |= arg.compare(pos, op.size(), op) == 0;
        if (at_op) break;
        ++pos;
      }
      key = arg.substr(start, pos - start);
    }
    if (key.empty()) return Status::Errorf("{}: missing map key", arg);
    out->key = key;
  }
  if (ops.empty()) {
    if (pos != arg.size())
      return Status::Errorf("{}: trailing garbage in argument at \"{}\"", arg, arg.substr(pos));
    return Status::Ok();
  }
  for (const auto& op : ops) {
    if (arg.compare(pos, op.size(), op) == 0) {
      out->op = op;
      out->value = arg.substr(pos + op.size());
      if (out->value.empty()) break;
      return Status::Ok();
    }
  }
  return Status::Errorf("{}: argument does not end in \"{}\" followed by a value.", arg,
                        ops.size() == 1 ? ops[0] : "=");
}

}  // namespace sluice::ctl::vsctl_detail
