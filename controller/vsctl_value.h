#pragma once
// What: the value syntax of sluicectl's configuration commands (internal to
// controller/vsctl*.cc): ovs-vsctl's way of printing datums and of parsing
// atoms, sets, maps and COLUMN[:KEY]=VALUE arguments, typed by the schema.

#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/util/status.h"
#include "db/datum.h"
#include "db/schema.h"

namespace sluice::ctl::vsctl_detail {

using db::Atom;
using db::AtomicType;
using db::Datum;
using db::Type;
using db::Uuid;

// Named rows of the run (--id=@name).
struct Symbol {
  Uuid uuid;
  bool created = false;     // by create --id, or bound by get --id
  bool referenced = false;  // used in a value
};

class SymbolTable {
 public:
  explicit SymbolTable(db::UuidGenerator* gen) : gen_(gen) {}
  Symbol& Get(const std::string& name) {
    auto it = symbols_.find(name);
    if (it == symbols_.end()) it = symbols_.emplace(name, Symbol{gen_->Next()}).first;
    return it->second;
  }
  const std::map<std::string, Symbol>& all() const { return symbols_; }

 private:
  db::UuidGenerator* gen_;
  std::map<std::string, Symbol> symbols_;
};

struct ColumnArg {
  std::string column;
  std::optional<std::string> key;  // raw key text
  std::string op;
  std::string value;
};

bool NeedsQuotes(const std::string& s);
std::string QuoteString(const std::string& s);
std::string AtomText(const Atom& a, bool bare);
std::string DatumText(const Datum& d, const Type& t, bool bare);
Type SetOf(const db::BaseType& base);
Type Unbounded(const Type& t);
Status ParseWholeAtom(const std::string& text, const db::BaseType& base, SymbolTable* symbols, Atom* out);
Status ParseDatum(const std::string& text, const Type& type, SymbolTable* symbols, bool check, Datum* out);
Status SplitColumnArg(const std::string& arg, const std::vector<std::string>& ops, ColumnArg* out);

}  // namespace sluice::ctl::vsctl_detail
