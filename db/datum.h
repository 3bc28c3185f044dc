#pragma once
// What: OVSDB values (RFC 7047 section 5.1): atoms of the five base types
// (integer, real, boolean, string, uuid) and datums, the value of one column
// of one row: a set of atoms, or a map from atoms to atoms. Also the RFC 7047
// JSON notation in and out, canonical order, comparison and default values,
// and the error object every database failure is reported with.
//
// Design:
//   - An Atom is a std::variant whose alternative order is AtomicType's, so
//     the variant's own ordering (alternative first, then value) is the
//     canonical order: integers and reals numerically, false < true, strings
//     by bytes (UTF-8, so by code point), UUIDs by their 128 bits (which is
//     also the order of their lowercase text).
//   - A Datum keeps its keys sorted and unique, with a map's values in a
//     parallel vector. Equal datums are therefore equal member by member,
//     and the JSON written for a datum is deterministic.
//   - A scalar column is a set with min = max = 1; an optional one a set with
//     min 0, max 1. The notation follows: a set of exactly one element is
//     written as the bare atom, any other set as ["set", [...]], a map always
//     as ["map", [[k, v], ...]]. Either set form is accepted on input.
//   - Parsing is split from checking: DatumFromJson checks the JSON shape and
//     the atom types (a failure is a "syntax error"); with
//     check_constraints it also checks set sizes and the base types'
//     constraints (enum, ranges, lengths; a failure is a "constraint
//     violation"). References are checked at commit, not here.
//   - "named-uuid" atoms are resolved by a caller-supplied function; where
//     none is given (stored rows, schemas) they are a syntax error.
//
// Invariants:
//   1. keys is strictly ascending; values is empty for a set and
//      keys.size() long for a map.
//   2. DatumFromJson(DatumToJson(d, t), t) == d for every d that conforms
//      to t.
//   3. DefaultDatum(t) has t.min elements (0 or 1) and its atoms are the
//      type defaults: 0, 0.0, false, "", the all-zero UUID.
//
// Thread-safety: plain values; the free functions keep no state.
// Memory: strings are owned by their atoms; nothing is shared.

#include <compare>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::db {

using Json = nlohmann::json;

struct BaseType;  // db/schema.h
struct Type;      // db/schema.h

// An RFC 7047 error: {"error": tag, "details": details}. The tags used are
// the RFC's: "syntax error", "constraint violation", "referential integrity
// violation", "resources exhausted", "I/O error", "not owner", "timed out",
// "aborted", "duplicate uuid-name", "domain error", "range error",
// "unknown error".
struct Error {
  std::string tag;
  std::string details;
  Json ToJson() const;
};
std::optional<Error> SyntaxError(std::string details);
std::optional<Error> ConstraintViolation(std::string details);

enum class AtomicType : uint8_t { kInteger = 0, kReal = 1, kBoolean = 2, kString = 3, kUuid = 4 };
std::string_view AtomicTypeName(AtomicType type);
std::optional<AtomicType> AtomicTypeFromName(std::string_view name);

struct Uuid {
  uint64_t hi = 0;
  uint64_t lo = 0;

  // Accepts the 8-4-4-4-12 hex form in either case.
  static std::optional<Uuid> Parse(std::string_view text);
  std::string ToString() const;  // lowercase 8-4-4-4-12
  bool IsZero() const { return hi == 0 && lo == 0; }
  auto operator<=>(const Uuid&) const = default;
};

struct UuidHash {
  size_t operator()(const Uuid& u) const {
    return static_cast<size_t>(u.hi * 0x9e3779b97f4a7c15ULL ^ u.lo);
  }
};

// Random (version 4) UUIDs from a PRNG seeded with getrandom(2).
class UuidGenerator {
 public:
  UuidGenerator();
  Uuid Next();

 private:
  std::mt19937_64 rng_;
};

// Alternatives in AtomicType order (see Design).
using Atom = std::variant<int64_t, double, bool, std::string, Uuid>;
static_assert(std::variant_size_v<Atom> == 5);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<size_t>(AtomicType::kUuid), Atom>, Uuid>);

inline AtomicType TypeOf(const Atom& a) { return static_cast<AtomicType>(a.index()); }
Atom DefaultAtom(AtomicType type);
Json AtomToJson(const Atom& atom);
// The atom written for humans (details of errors): 5, 1.5, true, "br0", 0123...
std::string AtomToString(const Atom& atom);

struct Datum {
  std::vector<Atom> keys;
  std::vector<Atom> values;  // empty for a set; parallel to keys for a map

  size_t size() const { return keys.size(); }
  bool empty() const { return keys.empty(); }
  static Datum Scalar(Atom a) {
    Datum d;
    d.keys.push_back(std::move(a));
    return d;
  }
  bool operator==(const Datum&) const = default;
  // Canonical total order: keys, then values, lexicographically.
  bool operator<(const Datum& other) const;

  // Sorts keys (and values with them). Returns false if two keys are equal,
  // in which case the datum is left sorted with the duplicates still in.
  bool SortUnique();
  // Sorts and drops duplicate keys (the first pair wins).
  void SortDedup();
  // Index of `key`, or -1.
  ptrdiff_t Find(const Atom& key) const;
};

// Resolves ["named-uuid", name] to the UUID of that row (RFC 7047 5.1).
using NamedUuidResolver = std::function<Uuid(const std::string& name)>;

struct ParseOptions {
  const NamedUuidResolver* resolver = nullptr;  // nullptr: named-uuid is a syntax error
  bool check_constraints = true;                // set sizes and base-type constraints
};

// Parses one atom of base type `base` (constraints are not checked).
std::optional<Error> AtomFromJson(const Json& json, AtomicType type,
                                  const NamedUuidResolver* resolver, Atom* out);
// Parses a datum of type `type` (see Design for what is checked).
std::optional<Error> DatumFromJson(const Json& json, const Type& type, const ParseOptions& options,
                                   Datum* out);
Json DatumToJson(const Datum& datum, const Type& type);
Datum DefaultDatum(const Type& type);

// The base type's constraints on one atom (enum, integer/real range,
// string length in code points). References are not checked here.
std::optional<Error> CheckAtom(const Atom& atom, const BaseType& base);
// Set size within [min, max] and every atom within its base type.
std::optional<Error> CheckDatum(const Datum& datum, const Type& type);

}  // namespace sluice::db
