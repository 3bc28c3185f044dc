#pragma once
// The project's OVSDB schema (db/sluice.ovsschema), compiled into the
// library at build time so that sluice-db needs no file at run time.

#include <string>
#include <string_view>

namespace sluice::db {

// The schema file's text, as it was when the library was built.
std::string_view BuiltinSchemaText();
// Where that file was in the source tree (for messages).
const char* BuiltinSchemaSource();

}  // namespace sluice::db
