#pragma once
// What: an OVSDB database schema (RFC 7047 section 3.2), parsed and checked:
// tables, their columns, column types (base types with constraints, sets,
// maps), root tables, indexes, row limits, mutability and ephemerality.
//
// Design:
//   - ParseSchema (declared in db/database.h) checks everything it can
//     before the database uses the schema: names are <id>s not starting with
//     "_", every member is known and of the right JSON type, constraints fit
//     their atomic type (minInteger only on integers, refTable only on
//     uuids, ...), ranges are not empty, refTable names a table of the
//     schema, index columns exist. Unknown members are errors, so a typo
//     ("maxrows") does not silently drop a constraint.
//   - Tables are kept sorted by name and referred to by index; columns of a
//     table likewise. References are resolved to table indexes once here.
//   - isRoot follows RFC 7047: when no table says "isRoot": true, every table
//     is a root table (no garbage collection); TableSchema::is_root is that
//     effective value.
//   - Ephemeral columns: Sluice does not store them on disk; after a
//     restart they hold their default values. A column marked ephemeral that
//     holds references, or that is part of an index, is stored anyway
//     (ColumnSchema::persistent), because defaults there could break
//     referential integrity or uniqueness on reload.
//   - The implicit columns _uuid and _version (type uuid, immutable) are not
//     in `columns`; ImplicitColumnType() is their type.
//
// Invariants:
//   1. Every BaseType with a ref_table has type kUuid and a valid
//      ref_table_index.
//   2. Type::min is 0 or 1, and min <= max.
//   3. tables() is sorted by name, each table's columns by name.
//
// Thread-safety: immutable after parsing; share freely (shared_ptr<const>).
// Memory: one Schema per database, owned by shared_ptr.

#include <cfloat>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.h"
#include "db/datum.h"

namespace sluice::db {

enum class RefType : uint8_t { kStrong, kWeak };

struct BaseType {
  AtomicType type = AtomicType::kInteger;
  std::optional<std::vector<Atom>> enum_values;  // sorted, unique
  int64_t min_integer = INT64_MIN;
  int64_t max_integer = INT64_MAX;
  double min_real = -DBL_MAX;
  double max_real = DBL_MAX;
  uint64_t min_length = 0;
  uint64_t max_length = UINT64_MAX;
  std::string ref_table;  // empty: not a reference
  int ref_table_index = -1;
  RefType ref_type = RefType::kStrong;

  bool is_ref() const { return !ref_table.empty(); }
  bool is_strong_ref() const { return is_ref() && ref_type == RefType::kStrong; }
  bool is_weak_ref() const { return is_ref() && ref_type == RefType::kWeak; }
  static BaseType Of(AtomicType t) {
    BaseType b;
    b.type = t;
    return b;
  }
};

inline constexpr unsigned kUnlimited = UINT_MAX;

struct Type {
  BaseType key;
  std::optional<BaseType> value;  // present: a map
  unsigned min = 1;
  unsigned max = 1;  // kUnlimited for "unlimited"

  bool is_map() const { return value.has_value(); }
  bool is_scalar() const { return !value && min == 1 && max == 1; }
  bool has_strong_refs() const { return key.is_strong_ref() || (value && value->is_strong_ref()); }
  bool has_weak_refs() const { return key.is_weak_ref() || (value && value->is_weak_ref()); }
  bool has_refs() const { return key.is_ref() || (value && value->is_ref()); }
  // The same key (and value) base types with no size limits and no
  // constraints: what conditions and mutation arguments are parsed as.
  Type Relaxed() const;
};

struct ColumnSchema {
  std::string name;
  Type type;
  bool is_mutable = true;
  bool ephemeral = false;  // as declared
  bool persistent = true;  // stored on disk (see Design)
};

struct TableSchema {
  std::string name;
  std::vector<ColumnSchema> columns;  // sorted by name
  bool is_root = false;               // effective (see Design)
  std::optional<uint64_t> max_rows;
  std::vector<std::vector<size_t>> indexes;  // column indexes

  // Index into columns, or -1.
  int ColumnIndex(std::string_view name) const;
};

class Schema {
 public:
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const Json& json() const { return json_; }
  const std::vector<TableSchema>& tables() const { return tables_; }
  // Index into tables(), or -1.
  int TableIndex(std::string_view name) const;
  const TableSchema* FindTable(std::string_view name) const {
    int i = TableIndex(name);
    return i < 0 ? nullptr : &tables_[i];
  }

 private:
  friend std::shared_ptr<const Schema> ParseSchema(const Json& schema, std::string* error);
  std::string name_;
  std::string version_;
  Json json_;
  std::vector<TableSchema> tables_;
};

// The type of the implicit _uuid and _version columns.
const Type& ImplicitColumnType();

// True for an RFC 7047 <id>: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsId(std::string_view s);

}  // namespace sluice::db
