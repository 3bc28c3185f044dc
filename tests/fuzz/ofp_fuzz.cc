// libFuzzer target for the OpenFlow message codec (controller/ofp/ofp_msgs.h).
//
// libFuzzer hands over an exactly sized heap buffer, so with ASan any read
// past `size` aborts. On top of that each input checks:
//   - a refused message names an error: a non-empty explanation and a
//     type other than HELLO_FAILED (which only the handshake produces; a
//     0/0 error would be one nobody set);
//   - a decoded message encodes (one message, or several for a long
//     multipart reply), every encoded message has a header whose length is
//     its size (8..65535) and decodes again;
//   - encoding is a fixed point after one round: decoding what Encode()
//     produced and encoding that again gives the same bytes.
// The input is tried as it is and, when its header length disagrees with its
// size, once more with the length fixed, so that mutations of the seed
// corpus (tests/fuzz/corpus/ofp/, messages captured from ovs-ofctl and
// encoded by Sluice) reach the body decoders.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "controller/ofp/ofp_msgs.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void RoundTrip(const uint8_t* data, size_t size) {
  using namespace sluice::ofp;
  Decoded d = Decode(data, size);
  if (!d.ok()) {
    Check(!d.error.message.empty());
    Check(d.error.type != sluice::ofp::err::kHelloFailed);
    return;
  }
  const std::vector<std::vector<uint8_t>> msgs = Encode(*d.msg);
  Check(!msgs.empty());
  for (const std::vector<uint8_t>& m : msgs) {
    Check(m.size() >= kHeaderLen && m.size() <= 0xffff);
    Check(PeekHeader(m.data()).length == m.size());
    Decoded again = Decode(m.data(), m.size());
    Check(again.ok());
    const std::vector<std::vector<uint8_t>> twice = Encode(*again.msg);
    Check(twice.size() >= 1);
    if (msgs.size() == 1) Check(twice.size() == 1 && twice[0] == m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RoundTrip(data, size);
  if (size >= sluice::ofp::kHeaderLen && size <= 0xffff &&
      sluice::ofp::PeekHeader(data).length != size) {
    std::vector<uint8_t> fixed(data, data + size);
    fixed[2] = static_cast<uint8_t>(size >> 8);
    fixed[3] = static_cast<uint8_t>(size);
    RoundTrip(fixed.data(), fixed.size());
  }
  return 0;
}
