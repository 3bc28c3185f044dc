// OpenFlow 1.3 table features (A.3.5.5): one ofp_table_features entry with
// the properties Sluice's pipeline supports, generated here so that the
// channel code only names the tables.
//
// What Sluice advertises, for the table and its table-miss entry alike:
//   - instructions: goto-table (when a later table exists), write-metadata,
//     write-actions, apply-actions, clear-actions, meter;
//   - next tables: every later table of the reply;
//   - actions (write and apply): output, push/pop VLAN, set-queue, group,
//     dec-nw-ttl, set-field (ofproto::OfActionType);
//   - match: every field of the registry that has an OXM identity, with the
//     has-mask bit where the field may be masked; wildcards: all of them;
//   - set-field (write and apply): the registry's writable fields.
// Properties are padded to 8 bytes; the length field excludes the padding.

#include "controller/ofp/ofp_msgs_internal.h"

namespace sluice::ofp::internal {

namespace {

enum PropType : uint16_t {
  kPropInstructions = 0,
  kPropNextTables = 2,
  kPropWriteActions = 4,
  kPropApplyActions = 6,
  kPropMatch = 8,
  kPropWildcards = 10,
  kPropWriteSetfield = 12,
  kPropApplySetfield = 14,
  // Each _MISS variant is the property's type + 1.
};

constexpr size_t kTableFeaturesLen = 64;  // fixed part, before the properties

// OFPIT_* (GOTO_TABLE first, handled apart).
constexpr uint16_t kInstGotoTable = 1;
constexpr uint16_t kInstructions[] = {2 /* WRITE_METADATA */, 3 /* WRITE_ACTIONS */,
                                      4 /* APPLY_ACTIONS */, 5 /* CLEAR_ACTIONS */, 6 /* METER */};
// OFPAT_*: OUTPUT, PUSH_VLAN, POP_VLAN, SET_QUEUE, GROUP, DEC_NW_TTL, SET_FIELD.
constexpr uint16_t kActions[] = {0, 17, 18, 21, 22, 24, 25};

uint32_t OxmHeader(const ofproto::FieldInfo& f, bool has_mask) {
  const uint32_t len = has_mask ? 2u * f.bytes : f.bytes;
  return static_cast<uint32_t>(f.oxm_class) << 16 | static_cast<uint32_t>(f.oxm_field) << 9 |
         (has_mask ? 1u : 0u) << 8 | len;
}

template <typename F>
void ForOxmFields(F&& f) {
  for (int i = 0; i < static_cast<int>(ofproto::FieldId::kCount); ++i) {
    const ofproto::FieldInfo& info = ofproto::Field(static_cast<ofproto::FieldId>(i));
    if (info.oxm_class != 0) f(info);
  }
}

// Writes one property: type, length, what `body` writes, padding.
template <typename F>
void Prop(Writer& w, uint16_t type, F&& body) {
  const size_t start = w.size();
  w.u16(type);
  w.u16(0);
  body();
  const size_t len = w.size() - start;
  w.put_u16(start + 2, static_cast<uint16_t>(len));
  w.zeros((8 - len % 8) % 8);
}

}  // namespace

void EncodeTableFeatures(Writer& w, const TableFeatures& t,
                         const std::vector<uint8_t>& next_tables) {
  const size_t start = w.size();
  w.u16(0);
  w.u8(t.table_id);
  w.zeros(5);
  w.str(t.name, 32);
  w.u64(t.metadata_match);
  w.u64(t.metadata_write);
  w.u32(t.config);
  w.u32(t.max_entries);

  for (uint16_t miss = 0; miss <= 1; ++miss) {
    Prop(w, kPropInstructions + miss, [&] {
      if (!next_tables.empty()) {
        w.u16(kInstGotoTable);
        w.u16(4);
      }
      for (uint16_t type : kInstructions) {
        w.u16(type);
        w.u16(4);
      }
    });
  }
  for (uint16_t miss = 0; miss <= 1; ++miss) {
    Prop(w, kPropNextTables + miss, [&] { w.bytes(next_tables.data(), next_tables.size()); });
  }
  for (uint16_t prop : {kPropWriteActions, kPropApplyActions}) {
    for (uint16_t miss = 0; miss <= 1; ++miss) {
      Prop(w, prop + miss, [&] {
        for (uint16_t type : kActions) {
          w.u16(type);
          w.u16(4);
        }
      });
    }
  }
  Prop(w, kPropMatch, [&] {
    ForOxmFields([&](const ofproto::FieldInfo& f) { w.u32(OxmHeader(f, f.maskable)); });
  });
  Prop(w, kPropWildcards,
       [&] { ForOxmFields([&](const ofproto::FieldInfo& f) { w.u32(OxmHeader(f, false)); }); });
  for (uint16_t prop : {kPropWriteSetfield, kPropApplySetfield}) {
    for (uint16_t miss = 0; miss <= 1; ++miss) {
      Prop(w, prop + miss, [&] {
        ForOxmFields([&](const ofproto::FieldInfo& f) {
          if (f.writable) w.u32(OxmHeader(f, false));
        });
      });
    }
  }
  w.put_u16(start, static_cast<uint16_t>(w.size() - start));
}

OfpResult DecodeTableFeatures(Reader& r, TableFeatures* t) {
  if (r.remaining() < kTableFeaturesLen) return BadLen("table_features");
  Reader peek = r;
  const uint16_t len = peek.u16();
  if (len < kTableFeaturesLen || len > r.remaining()) return BadLen("table_features");
  Reader e = r.sub(len);
  e.skip(2);
  t->table_id = e.u8();
  e.skip(5);
  t->name = e.str(32);
  t->metadata_match = e.u64();
  t->metadata_write = e.u64();
  t->config = e.u32();
  t->max_entries = e.u32();
  // Properties: checked for framing, not kept (Sluice generates its own).
  while (e.ok() && e.remaining() > 0) {
    if (e.remaining() < 4) return BadLen("table_features property");
    e.skip(2);  // type
    const uint16_t plen = e.u16();
    if (plen < 4 || plen - 4u > e.remaining()) return BadLen("table_features property");
    e.skip(plen - 4u);
    const size_t pad = (8 - plen % 8) % 8;
    e.skip(pad < e.remaining() ? pad : e.remaining());
  }
  return Done(e, "table_features");
}

}  // namespace sluice::ofp::internal
