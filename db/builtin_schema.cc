#include "db/builtin_schema.h"

namespace sluice::db {

namespace {
constexpr char kSchemaText[] =
#include "db/sluice_ovsschema.inc"
    ;
}  // namespace

std::string_view BuiltinSchemaText() { return {kSchemaText, sizeof(kSchemaText) - 1}; }

const char* BuiltinSchemaSource() { return SLUICE_SCHEMA_PATH; }

}  // namespace sluice::db
