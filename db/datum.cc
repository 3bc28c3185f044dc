#include "db/datum.h"

#include <sys/random.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "db/schema.h"

namespace sluice::db {

Json Error::ToJson() const {
  Json j = Json::object();
  j["error"] = tag;
  if (!details.empty()) j["details"] = details;
  return j;
}

std::optional<Error> SyntaxError(std::string details) {
  return Error{"syntax error", std::move(details)};
}

std::optional<Error> ConstraintViolation(std::string details) {
  return Error{"constraint violation", std::move(details)};
}

std::string_view AtomicTypeName(AtomicType type) {
  switch (type) {
    case AtomicType::kInteger:
      return "integer";
    case AtomicType::kReal:
      return "real";
    case AtomicType::kBoolean:
      return "boolean";
    case AtomicType::kString:
      return "string";
    case AtomicType::kUuid:
      return "uuid";
  }
  return "?";
}

std::optional<AtomicType> AtomicTypeFromName(std::string_view name) {
  if (name == "integer") return AtomicType::kInteger;
  if (name == "real") return AtomicType::kReal;
  if (name == "boolean") return AtomicType::kBoolean;
  if (name == "string") return AtomicType::kString;
  if (name == "uuid") return AtomicType::kUuid;
  return std::nullopt;
}

// --- Uuid -------------------------------------------------------------------

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  uint64_t words[2] = {0, 0};
  int nibbles = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = HexValue(text[i]);
    if (v < 0) return std::nullopt;
    uint64_t& w = words[nibbles / 16];
    w = (w << 4) | static_cast<uint64_t>(v);
    ++nibbles;
  }
  return Uuid{words[0], words[1]};
}

std::string Uuid::ToString() const {
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%04x%08x", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned>((lo >> 32) & 0xffff),
                static_cast<unsigned>(lo & 0xffffffff));
  return std::string(buf, 36);
}

UuidGenerator::UuidGenerator() {
  uint32_t seed[8];
  size_t got = 0;
  while (got < sizeof seed) {
    ssize_t n = getrandom(reinterpret_cast<char*>(seed) + got, sizeof seed - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof seed) {  // no getrandom: fall back to random_device
    std::random_device rd;
    for (auto& s : seed) s = rd();
  }
  std::seed_seq seq(std::begin(seed), std::end(seed));
  rng_.seed(seq);
}

Uuid UuidGenerator::Next() {
  Uuid u{rng_(), rng_()};
  u.hi = (u.hi & ~uint64_t{0xf000}) | 0x4000;                    // version 4
  u.lo = (u.lo & ~(uint64_t{0xc} << 60)) | (uint64_t{8} << 60);  // variant 10
  return u;
}

// --- Atoms ------------------------------------------------------------------

Atom DefaultAtom(AtomicType type) {
  switch (type) {
    case AtomicType::kInteger:
      return int64_t{0};
    case AtomicType::kReal:
      return 0.0;
    case AtomicType::kBoolean:
      return false;
    case AtomicType::kString:
      return std::string();
    case AtomicType::kUuid:
      return Uuid{};
  }
  return int64_t{0};
}

Json AtomToJson(const Atom& atom) {
  switch (TypeOf(atom)) {
    case AtomicType::kInteger:
      return std::get<int64_t>(atom);
    case AtomicType::kReal:
      return std::get<double>(atom);
    case AtomicType::kBoolean:
      return std::get<bool>(atom);
    case AtomicType::kString:
      return std::get<std::string>(atom);
    case AtomicType::kUuid:
      return Json::array({"uuid", std::get<Uuid>(atom).ToString()});
  }
  return nullptr;
}

std::string AtomToString(const Atom& atom) {
  switch (TypeOf(atom)) {
    case AtomicType::kInteger:
      return std::to_string(std::get<int64_t>(atom));
    case AtomicType::kReal:
      return Json(std::get<double>(atom)).dump();
    case AtomicType::kBoolean:
      return std::get<bool>(atom) ? "true" : "false";
    case AtomicType::kString:
      return Json(std::get<std::string>(atom)).dump(-1, ' ', false, Json::error_handler_t::replace);
    case AtomicType::kUuid:
      return std::get<Uuid>(atom).ToString();
  }
  return "?";
}

std::optional<Error> AtomFromJson(const Json& json, AtomicType type,
                                  const NamedUuidResolver* resolver, Atom* out) {
  auto mismatch = [&] {
    return SyntaxError("expected " + std::string(AtomicTypeName(type)) + ", got " +
                       json.dump(-1, ' ', false, Json::error_handler_t::replace));
  };
  switch (type) {
    case AtomicType::kInteger:
      if (json.is_number_integer()) {
        if (json.is_number_unsigned() && json.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
          return SyntaxError("integer " + json.dump() + " is out of the 64-bit signed range");
        }
        *out = json.get<int64_t>();
        return std::nullopt;
      }
      return mismatch();
    case AtomicType::kReal:
      if (json.is_number()) {
        double d = json.get<double>();
        if (!std::isfinite(d)) return SyntaxError("real " + json.dump() + " is not finite");
        *out = d;
        return std::nullopt;
      }
      return mismatch();
    case AtomicType::kBoolean:
      if (json.is_boolean()) {
        *out = json.get<bool>();
        return std::nullopt;
      }
      return mismatch();
    case AtomicType::kString:
      if (json.is_string()) {
        *out = json.get<std::string>();
        return std::nullopt;
      }
      return mismatch();
    case AtomicType::kUuid:
      if (json.is_array() && json.size() == 2 && json[0].is_string() && json[1].is_string()) {
        const std::string& tag = json[0].get_ref<const std::string&>();
        const std::string& text = json[1].get_ref<const std::string&>();
        if (tag == "uuid") {
          auto u = Uuid::Parse(text);
          if (!u) return SyntaxError("\"" + text + "\" is not a valid UUID");
          *out = *u;
          return std::nullopt;
        }
        if (tag == "named-uuid") {
          if (!resolver) return SyntaxError("named-uuid \"" + text + "\" is not allowed here");
          if (!IsId(text)) return SyntaxError("named-uuid \"" + text + "\" is not an <id>");
          *out = (*resolver)(text);
          return std::nullopt;
        }
      }
      return mismatch();
  }
  return mismatch();
}

// --- Datums -----------------------------------------------------------------

bool Datum::operator<(const Datum& other) const {
  if (keys != other.keys) return keys < other.keys;
  return values < other.values;
}

namespace {

// Sorts keys with values; returns the permutation-applied datum.
void SortPairs(Datum* d) {
  if (d->values.empty()) {
    std::sort(d->keys.begin(), d->keys.end());
    return;
  }
  std::vector<size_t> order(d->keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return d->keys[a] < d->keys[b]; });
  std::vector<Atom> keys, values;
  keys.reserve(order.size());
  values.reserve(order.size());
  for (size_t i : order) {
    keys.push_back(std::move(d->keys[i]));
    values.push_back(std::move(d->values[i]));
  }
  d->keys = std::move(keys);
  d->values = std::move(values);
}

}  // namespace

bool Datum::SortUnique() {
  SortPairs(this);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i - 1] == keys[i]) return false;
  }
  return true;
}

void Datum::SortDedup() {
  SortPairs(this);
  size_t out = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (out > 0 && keys[out - 1] == keys[i]) continue;
    if (out != i) {
      keys[out] = std::move(keys[i]);
      if (!values.empty()) values[out] = std::move(values[i]);
    }
    ++out;
  }
  keys.resize(out);
  if (!values.empty()) values.resize(out);
}

ptrdiff_t Datum::Find(const Atom& key) const {
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || !(*it == key)) return -1;
  return it - keys.begin();
}

std::optional<Error> DatumFromJson(const Json& json, const Type& type, const ParseOptions& options,
                                   Datum* out) {
  Datum d;
  if (type.is_map()) {
    if (!json.is_array() || json.size() != 2 || json[0] != "map" || !json[1].is_array()) {
      return SyntaxError("expected a map [\"map\", [[key, value], ...]], got " +
                         json.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    for (const Json& pair : json[1]) {
      if (!pair.is_array() || pair.size() != 2) {
        return SyntaxError("a map element must be a [key, value] pair, got " +
                           pair.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
      Atom k, v;
      if (auto e = AtomFromJson(pair[0], type.key.type, options.resolver, &k)) return e;
      if (auto e = AtomFromJson(pair[1], type.value->type, options.resolver, &v)) return e;
      d.keys.push_back(std::move(k));
      d.values.push_back(std::move(v));
    }
  } else if (json.is_array() && json.size() == 2 && json[0] == "set") {
    if (!json[1].is_array()) return SyntaxError("the second element of a \"set\" must be an array");
    for (const Json& e : json[1]) {
      Atom a;
      if (auto err = AtomFromJson(e, type.key.type, options.resolver, &a)) return err;
      d.keys.push_back(std::move(a));
    }
  } else {
    Atom a;
    if (auto err = AtomFromJson(json, type.key.type, options.resolver, &a)) return err;
    d.keys.push_back(std::move(a));
  }

  if (options.check_constraints) {
    if (!d.SortUnique()) {
      return ConstraintViolation(type.is_map() ? "map contains a duplicate key"
                                               : "set contains a duplicate value");
    }
    if (auto e = CheckDatum(d, type)) return e;
  } else {
    d.SortDedup();
  }
  *out = std::move(d);
  return std::nullopt;
}

Json DatumToJson(const Datum& datum, const Type& type) {
  if (type.is_map()) {
    Json pairs = Json::array();
    for (size_t i = 0; i < datum.keys.size(); ++i) {
      pairs.push_back(Json::array({AtomToJson(datum.keys[i]), AtomToJson(datum.values[i])}));
    }
    return Json::array({"map", std::move(pairs)});
  }
  if (datum.keys.size() == 1) return AtomToJson(datum.keys[0]);
  Json elems = Json::array();
  for (const Atom& a : datum.keys) elems.push_back(AtomToJson(a));
  return Json::array({"set", std::move(elems)});
}

Datum DefaultDatum(const Type& type) {
  Datum d;
  if (type.min >= 1) {
    d.keys.push_back(DefaultAtom(type.key.type));
    if (type.value) d.values.push_back(DefaultAtom(type.value->type));
  }
  return d;
}

namespace {

uint64_t Utf8Length(const std::string& s) {
  uint64_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

std::optional<Error> CheckAtom(const Atom& atom, const BaseType& base) {
  if (TypeOf(atom) != base.type) {
    return SyntaxError("expected " + std::string(AtomicTypeName(base.type)) + ", got " +
                       AtomToString(atom));
  }
  if (base.enum_values) {
    if (!std::binary_search(base.enum_values->begin(), base.enum_values->end(), atom)) {
      std::string allowed;
      for (const Atom& a : *base.enum_values) {
        if (!allowed.empty()) allowed += ", ";
        allowed += AtomToString(a);
      }
      return ConstraintViolation(AtomToString(atom) + " is not one of the allowed values [" +
                                 allowed + "]");
    }
    return std::nullopt;
  }
  switch (base.type) {
    case AtomicType::kInteger: {
      int64_t v = std::get<int64_t>(atom);
      if (v < base.min_integer || v > base.max_integer) {
        return ConstraintViolation(std::to_string(v) + " is not in the range " +
                                   std::to_string(base.min_integer) + ".." +
                                   std::to_string(base.max_integer));
      }
      break;
    }
    case AtomicType::kReal: {
      double v = std::get<double>(atom);
      if (v < base.min_real || v > base.max_real) {
        return ConstraintViolation(AtomToString(atom) + " is not in the range " +
                                   Json(base.min_real).dump() + ".." + Json(base.max_real).dump());
      }
      break;
    }
    case AtomicType::kString: {
      uint64_t len = Utf8Length(std::get<std::string>(atom));
      if (len < base.min_length || len > base.max_length) {
        return ConstraintViolation(
            AtomToString(atom) + " has length " + std::to_string(len) +
            ", which is not in the range " + std::to_string(base.min_length) + ".." +
            (base.max_length == UINT64_MAX ? std::string("unlimited")
                                           : std::to_string(base.max_length)));
      }
      break;
    }
    case AtomicType::kBoolean:
    case AtomicType::kUuid:
      break;
  }
  return std::nullopt;
}

std::optional<Error> CheckDatum(const Datum& datum, const Type& type) {
  if (datum.size() < type.min || datum.size() > type.max) {
    return ConstraintViolation(
        std::to_string(datum.size()) + " value(s) where " +
        (type.min == type.max     ? "exactly " + std::to_string(type.min)
         : type.max == kUnlimited ? "at least " + std::to_string(type.min)
                                  : std::to_string(type.min) + " to " + std::to_string(type.max)) +
        " are allowed");
  }
  for (const Atom& a : datum.keys) {
    if (auto e = CheckAtom(a, type.key)) return e;
  }
  if (type.value) {
    for (const Atom& a : datum.values) {
      if (auto e = CheckAtom(a, *type.value)) return e;
    }
  }
  return std::nullopt;
}

}  // namespace sluice::db
