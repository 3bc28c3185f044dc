#pragma once
// Test helper: an OfMatch with the given fields matched exactly, e.g.
//   OfMatchOf({{FieldId::kInPort, 1}, {FieldId::kEthType, 0x0800}})
#include <initializer_list>
#include <utility>

#include "ofproto/meta_flow.h"

namespace sluice::testing {

inline ofproto::OfMatch OfMatchOf(std::initializer_list<std::pair<ofproto::FieldId, uint64_t>> fields) {
  ofproto::OfMatch m = ofproto::OfMatch::CatchAll();
  for (auto [id, v] : fields) {
    ofproto::MatchField(&m, id, ofproto::FieldValue::FromUint(id, v), ofproto::FieldValue::AllOnes(id));
  }
  return m;
}

}  // namespace sluice::testing
