// libFuzzer target for the config store's input path: the JSON-RPC stream
// framing (db/jsonrpc.h) and, for every transact request found in it, the
// transaction engine (db/database.h) on a scratch database.
//
// Each input is checked for:
//   - no crash, leak or undefined behaviour (ASan/UBSan), whatever the bytes;
//   - JsonTextSplitter's invariant 1: the stream fed whole and fed in two
//     pieces (split where the first byte says) yields the same texts and the
//     same errors, and a broken splitter stays broken;
//   - a transact's reply is an array with at least one entry per operation
//     that ran, and a committed change set only when nothing failed.
// The scratch database is recreated every 2000 transactions so that rows
// inserted by earlier inputs do not pile up.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db/builtin_schema.h"
#include "db/database.h"
#include "db/jsonrpc.h"

namespace {

using sluice::db::Json;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  sluice::db::JsonTextSplitter::Status status;
  std::string text;  // the text dumped, or the error
  bool broken;
  bool operator==(const Outcome& o) const = default;
};

// Drains every outcome the splitter has now.
void Drain(sluice::db::JsonTextSplitter* s, std::vector<Outcome>* out, std::vector<Json>* texts) {
  for (int guard = 0; guard < 100000; ++guard) {
    Json j;
    std::string error;
    auto st = s->Next(&j, &error);
    if (st == sluice::db::JsonTextSplitter::Status::kNeedMore) return;
    bool broken = s->broken();
    std::string text = st == sluice::db::JsonTextSplitter::Status::kText
                           ? j.dump(-1, ' ', false, Json::error_handler_t::replace)
                           : error;
    out->push_back({st, text, broken});
    if (st == sluice::db::JsonTextSplitter::Status::kText && texts) texts->push_back(std::move(j));
    if (broken) {
      // Once broken, nothing more comes out.
      Check(s->Next(&j, &error) == sluice::db::JsonTextSplitter::Status::kError);
      return;
    }
  }
  std::abort();  // Next() never settled
}

class ScratchDb {
 public:
  sluice::db::Database* Get() {
    if (!db_ || ++uses_ > 2000) {
      db_.reset();
      uses_ = 0;
      unlink(path_.c_str());
      unlink((path_ + "-wal").c_str());
      unlink((path_ + "-shm").c_str());
      std::string error;
      static std::shared_ptr<const sluice::db::Schema> schema =
          sluice::db::ParseSchema(Json::parse(sluice::db::BuiltinSchemaText()), &error);
      Check(schema != nullptr);
      db_ = sluice::db::Database::Open(path_, schema, &error);
      Check(db_ != nullptr);
    }
    return db_.get();
  }
  ~ScratchDb() {
    db_.reset();
    unlink(path_.c_str());
    unlink((path_ + "-wal").c_str());
    unlink((path_ + "-shm").c_str());
  }

 private:
  std::string path_ = "/dev/shm/sluice-jsonrpc-fuzz-" + std::to_string(getpid()) + ".db";
  std::unique_ptr<sluice::db::Database> db_;
  int uses_ = 0;
};

void RunTransact(const Json& text) {
  static ScratchDb scratch;
  sluice::db::JsonRpcMessage m;
  std::string error;
  if (!sluice::db::ParseJsonRpc(text, &m, &error)) {
    Check(!error.empty());
    return;
  }
  if (m.type != sluice::db::JsonRpcMessage::Type::kRequest || m.method != "transact") return;
  if (m.params.empty() || m.params[0] != "Open_vSwitch") return;
  Json ops = Json::array();
  for (size_t i = 1; i < m.params.size(); ++i) ops.push_back(m.params[i]);
  sluice::db::TransactResult r = scratch.Get()->Transact(ops);
  Check(r.reply.is_array());
  if (!r.blocked) {
    bool failed = false;
    for (const auto& e : r.reply) failed |= e.is_object() && e.contains("error");
    Check(!failed || r.changes.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t split = size > 1 ? data[0] % size : 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (split > stream.size()) split = stream.size();

  sluice::db::JsonTextSplitter whole(1 << 16), pieces(1 << 16);
  std::vector<Outcome> a, b;
  std::vector<Json> texts;
  whole.Feed(stream);
  Drain(&whole, &a, &texts);
  pieces.Feed(stream.substr(0, split));
  Drain(&pieces, &b, nullptr);
  if (!pieces.broken()) {
    pieces.Feed(stream.substr(split));
    Drain(&pieces, &b, nullptr);
  }
  Check(a == b);
  for (const auto& t : texts) RunTransact(t);
  return 0;
}
