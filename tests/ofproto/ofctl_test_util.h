// Shared helpers for the ofctl_*_test.cc files (header-only).
#pragma once

#include "ofproto/ofctl_parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::ofproto::ofctl_test {

using C = FlowMod::Command;
using F = FieldId;

inline bool MatchEq(const OfMatch& a, const OfMatch& b) {
  return a.value == b.value && a.mask == b.mask;
}

inline bool FlowModEq(const FlowMod& a, const FlowMod& b) {
  return a.command == b.command && a.table_id == b.table_id && MatchEq(a.match, b.match) &&
         a.priority == b.priority && a.cookie == b.cookie && a.cookie_mask == b.cookie_mask &&
         a.idle_timeout == b.idle_timeout && a.hard_timeout == b.hard_timeout &&
         a.flags == b.flags && a.out_port == b.out_port && a.out_group == b.out_group &&
         a.insts == b.insts;
}

inline bool GroupModEq(const GroupMod& a, const GroupMod& b) {
  return a.command == b.command && a.type == b.type && a.group_id == b.group_id &&
         a.buckets == b.buckets;
}

inline FlowMod Parse(std::string_view text, C command = C::kAdd) {
  FlowMod fm;
  Status st = ParseFlowMod(text, command, &fm);
  EXPECT_TRUE(st.ok()) << text << " -> " << st.message();
  return fm;
}

inline OfMatch Match(std::string_view text) {
  OfMatch m = OfMatch::CatchAll();
  Status st = ParseOfMatch(text, &m);
  EXPECT_TRUE(st.ok()) << text << " -> " << st.message();
  return m;
}

inline std::string FlowError(std::string_view text, C command = C::kAdd) {
  FlowMod fm;
  fm.priority = 1234;  // sentinel: a failed parse leaves *out alone
  Status st = ParseFlowMod(text, command, &fm);
  EXPECT_FALSE(st.ok()) << text << " parsed as " << FormatFlowMod(fm);
  EXPECT_EQ(fm.priority, 1234) << text;
  return st.message();
}

inline std::string GroupError(std::string_view text,
                              GroupMod::Command command = GroupMod::Command::kAdd) {
  GroupMod gm;
  Status st = ParseGroupMod(text, command, &gm);
  EXPECT_FALSE(st.ok()) << text << " parsed as " << FormatGroupMod(gm);
  return st.message();
}

inline uint64_t Get(const OfMatch& m, FieldId id) { return GetField(m.value, id).ToUint(); }
inline uint64_t Mask(const OfMatch& m, FieldId id) { return GetFieldMask(m.mask, id).ToUint(); }

// Invariant 1 for flows: parse, format, parse again: equal values and the
// same text.
inline void ExpectFlowRoundTrip(std::string_view text, C command = C::kAdd) {
  SCOPED_TRACE(std::string(text));
  FlowMod a;
  Status st = ParseFlowMod(text, command, &a);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string formatted = FormatFlowMod(a);
  FlowMod b;
  st = ParseFlowMod(formatted, command, &b);
  ASSERT_TRUE(st.ok()) << formatted << " -> " << st.message();
  EXPECT_TRUE(FlowModEq(a, b)) << formatted << " vs " << FormatFlowMod(b);
  EXPECT_EQ(FormatFlowMod(b), formatted);
}

}  // namespace sluice::ofproto::ofctl_test
