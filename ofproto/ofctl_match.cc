#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "datapath/flow/flow_format.h"
#include "ofproto/ofctl_internal.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofproto {
namespace {

using F = FieldId;
using ofctl_internal::ExactUint;
using ofctl_internal::FormatScalar;
using ofctl_internal::IEq;
using ofctl_internal::IsSpace;
using ofctl_internal::kEthIpv4;
using ofctl_internal::kEthIpv6;
using ofctl_internal::MatchBuilder;
using ofctl_internal::NextItem;
using ofctl_internal::Q;
using ofctl_internal::SplitKv;
using std::string_view;

constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthRarp = 0x8035;

// ---------------------------------------------------------------------------
// Lexical helpers.

bool IsSep(char c) { return c == ',' || IsSpace(c); }
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// ---------------------------------------------------------------------------
// Field values.

enum class Kind : uint8_t { kMac, kIpv4, kIpv6, kPort, kTcpFlags, kDec, kHex };

Kind KindOf(FieldId id) {
  switch (id) {
    case F::kEthDst:
    case F::kEthSrc:
    case F::kArpSha:
    case F::kArpTha:
    case F::kIpv6NdSll:
    case F::kIpv6NdTll:
      return Kind::kMac;
    case F::kIpv4Src:
    case F::kIpv4Dst:
    case F::kArpSpa:
    case F::kArpTpa:
      return Kind::kIpv4;
    case F::kIpv6Src:
    case F::kIpv6Dst:
    case F::kIpv6NdTarget:
      return Kind::kIpv6;
    case F::kInPort:
      return Kind::kPort;
    case F::kTcpFlags:
      return Kind::kTcpFlags;
    case F::kMetadata:
    case F::kTunId:
    case F::kEthType:
    case F::kIpv6Flabel:
    case F::kReg0:
    case F::kReg1:
    case F::kReg2:
    case F::kReg3:
    case F::kReg4:
    case F::kReg5:
    case F::kReg6:
    case F::kReg7:
      return Kind::kHex;
    default:
      return Kind::kDec;
  }
}

void PrefixToMask(int len, uint8_t* m, int n) {
  for (int i = 0; i < n; ++i) {
    int bits = len - 8 * i;
    m[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
}

// The prefix length of a CIDR mask, or -1.
int MaskToPrefix(const uint8_t* m, int n) {
  int len = 0;
  int i = 0;
  while (i < n && m[i] == 0xff) {
    len += 8;
    ++i;
  }
  if (i < n) {
    uint8_t b = m[i];
    while (b & 0x80) {
      ++len;
      b = static_cast<uint8_t>(b << 1);
    }
    if (b) return -1;
    for (++i; i < n; ++i) {
      if (m[i]) return -1;
    }
  }
  return len;
}

struct TcpFlagName {
  const char* name;
  uint16_t bit;
};
constexpr TcpFlagName kTcpFlagNames[] = {
    {"fin", 0x001}, {"syn", 0x002}, {"rst", 0x004}, {"psh", 0x008}, {"ack", 0x010},
    {"urg", 0x020}, {"ece", 0x040}, {"cwr", 0x080}, {"ns", 0x100},
};
constexpr uint16_t kNamedTcpFlags = 0x1ff;

// "+syn-ack": value and mask. Returns "" or the problem.
std::string ParseTcpFlags(string_view s, uint16_t* value, uint16_t* mask) {
  *value = *mask = 0;
  size_t i = 0;
  while (i < s.size()) {
    char sign = s[i++];
    if (sign != '+' && sign != '-')
      return "want +flag or -flag (fin syn rst psh ack urg ece cwr ns)";
    size_t start = i;
    while (i < s.size() && s[i] != '+' && s[i] != '-') ++i;
    string_view name = s.substr(start, i - start);
    const TcpFlagName* found = nullptr;
    for (const auto& f : kTcpFlagNames) {
      if (IEq(name, f.name)) found = &f;
    }
    if (!found) return fmt::format("unknown TCP flag '{}'", Q(name));
    if (*mask & found->bit) return fmt::format("TCP flag '{}' given twice", found->name);
    *mask |= found->bit;
    if (sign == '+') *value |= found->bit;
  }
  return "";
}

std::string FormatTcpFlags(uint16_t value, uint16_t mask) {
  std::string s;
  for (const auto& f : kTcpFlagNames) {
    if (mask & f.bit) s += fmt::format("{}{}", (value & f.bit) ? '+' : '-', f.name);
  }
  return s;
}

std::string FormatIpv4Bytes(const uint8_t* p) {
  be32 a;
  std::memcpy(&a.raw, p, 4);
  return dp::FormatIpv4(a);
}

std::string FormatMacBytes(const uint8_t* p) {
  dp::EthAddr a;
  std::memcpy(a.b, p, 6);
  return dp::FormatEthAddr(a);
}

// "VALUE" when the mask is the whole field, else "VALUE/MASK".
std::string FormatValueMask(FieldId id, const FieldValue& v, const FieldValue& m) {
  if (m.IsAllOnes(id)) return FormatScalar(id, v);
  switch (KindOf(id)) {
    case Kind::kMac:
      return FormatMacBytes(v.b.data()) + "/" + FormatMacBytes(m.b.data());
    case Kind::kIpv4: {
      int len = MaskToPrefix(m.b.data(), 4);
      if (len >= 0) return fmt::format("{}/{}", FormatIpv4Bytes(v.b.data()), len);
      return FormatIpv4Bytes(v.b.data()) + "/" + FormatIpv4Bytes(m.b.data());
    }
    case Kind::kIpv6: {
      int len = MaskToPrefix(m.b.data(), 16);
      if (len >= 0) return fmt::format("{}/{}", dp::FormatIpv6(v.b.data()), len);
      return dp::FormatIpv6(v.b.data()) + "/" + dp::FormatIpv6(m.b.data());
    }
    case Kind::kTcpFlags: {
      uint64_t mm = m.ToUint();
      if ((mm & ~uint64_t{kNamedTcpFlags}) == 0) {
        return FormatTcpFlags(static_cast<uint16_t>(v.ToUint()), static_cast<uint16_t>(mm));
      }
      return fmt::format("{:#05x}/{:#05x}", v.ToUint(), mm);
    }
    default:
      return fmt::format("{:#x}/{:#x}", v.ToUint(), m.ToUint());
  }
}

// ---------------------------------------------------------------------------
// Matches.

struct Shorthand {
  const char* name;
  uint16_t eth_type;
  int proto;  // -1: none
};
constexpr Shorthand kShorthands[] = {
    {"ip", kEthIpv4, -1},     {"ipv6", kEthIpv6, -1}, {"icmp", kEthIpv4, 1},
    {"icmp6", kEthIpv6, 58},  {"tcp", kEthIpv4, 6},   {"tcp6", kEthIpv6, 6},
    {"udp", kEthIpv4, 17},    {"udp6", kEthIpv6, 17}, {"sctp", kEthIpv4, 132},
    {"sctp6", kEthIpv6, 132}, {"arp", kEthArp, -1},   {"rarp", kEthRarp, -1},
};

const Shorthand* FindShorthand(string_view name) {
  for (const auto& s : kShorthands) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace

namespace ofctl_internal {

// ---------------------------------------------------------------------------
// Lexical helpers.

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEq(string_view a, string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// The text of an item for an error message, shortened when huge (garbage).
std::string Q(string_view s) {
  constexpr size_t kMax = 80;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

// The next item of `s` at or after *pos: separators (commas, white space)
// are skipped, and do not split inside parentheses. An empty *item means the
// end of the text.
Status NextItem(string_view s, size_t* pos, string_view* item) {
  size_t i = *pos;
  while (i < s.size() && IsSep(s[i])) ++i;
  size_t start = i;
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth == 0) {
        return Status::Errorf("'{}': unexpected ')'", Q(s.substr(start, i + 1 - start)));
      }
      --depth;
    } else if (depth == 0 && IsSep(c)) {
      break;
    }
  }
  if (depth > 0) return Status::Errorf("'{}': missing ')'", Q(s.substr(start)));
  *item = s.substr(start, i - start);
  *pos = i;
  return Status::Ok();
}

Status SplitItems(string_view s, std::vector<string_view>* items) {
  items->clear();
  size_t pos = 0;
  for (;;) {
    string_view item;
    SLUICE_RETURN_IF_ERROR(NextItem(s, &pos, &item));
    if (item.empty()) return Status::Ok();
    items->push_back(item);
  }
}

// "key=value" or "key".
void SplitKv(string_view item, string_view* key, string_view* value, bool* has_value) {
  size_t eq = item.find('=');
  *has_value = eq != string_view::npos;
  *key = *has_value ? item.substr(0, eq) : item;
  *value = *has_value ? item.substr(eq + 1) : string_view();
}

// An action or bucket item: "name:arg", "name=arg", "name(arg)" or "name".
bool SplitAction(string_view item, string_view* name, string_view* arg, bool* has_arg,
                 bool* parens) {
  size_t i = 0;
  while (i < item.size() && IsNameChar(item[i])) ++i;
  if (i == 0) return false;
  *name = item.substr(0, i);
  *arg = {};
  *has_arg = false;
  *parens = false;
  if (i == item.size()) return true;
  char c = item[i];
  if (c == ':' || c == '=') {
    *arg = item.substr(i + 1);
    *has_arg = true;
    return true;
  }
  if (c != '(' || item.back() != ')') return false;
  int depth = 0;
  for (size_t j = i; j < item.size(); ++j) {
    if (item[j] == '(') ++depth;
    if (item[j] == ')' && --depth == 0 && j != item.size() - 1) return false;
  }
  *arg = item.substr(i + 1, item.size() - i - 2);
  *has_arg = true;
  *parens = true;
  return true;
}

// A decimal or 0x-hex unsigned integer (the whole text).
bool ParseU64(string_view s, uint64_t* out) { return dp::text::ParseUint(s, out); }

bool ParseBounded(string_view s, uint64_t max, uint64_t* out) {
  return ParseU64(s, out) && *out <= max;
}

// ---------------------------------------------------------------------------
// Ports.

// A port number or reserved name (case-insensitive).
bool ParsePort(string_view s, uint32_t* port) {
  for (const auto& p : kPortNames) {
    if (IEq(s, p.name)) {
      *port = p.port;
      return true;
    }
  }
  uint64_t v;
  if (!ParseBounded(s, 0xffffffff, &v)) return false;
  *port = static_cast<uint32_t>(v);
  return true;
}

// ---------------------------------------------------------------------------
// Field values.

// Parses "VALUE[/MASK]" for field `id` into wire-form value and mask (all
// ones without a mask). Returns "" or the problem.
std::string ParseValueMask(FieldId id, string_view text, FieldValue* v, FieldValue* m,
                           bool* has_mask) {
  const FieldInfo& f = Field(id);
  *v = FieldValue::Of(id);
  *m = FieldValue::AllOnes(id);
  string_view value = text, mask;
  size_t slash = text.find('/');
  *has_mask = slash != string_view::npos;
  if (*has_mask) {
    value = text.substr(0, slash);
    mask = text.substr(slash + 1);
  }
  if (value.empty()) return "missing value";
  if (*has_mask && mask.empty()) return "missing mask after '/'";
  switch (KindOf(id)) {
    case Kind::kMac: {
      dp::EthAddr a;
      if (!dp::ParseEthAddr(value, &a)) return "bad Ethernet address";
      std::memcpy(v->b.data(), a.b, 6);
      if (*has_mask) {
        if (!dp::ParseEthAddr(mask, &a)) return "bad Ethernet mask";
        std::memcpy(m->b.data(), a.b, 6);
      }
      break;
    }
    case Kind::kIpv4: {
      be32 a;
      if (!dp::ParseIpv4(value, &a)) return "bad IPv4 address";
      std::memcpy(v->b.data(), &a.raw, 4);
      if (*has_mask) {
        uint64_t len;
        if (mask.find('.') != string_view::npos) {
          if (!dp::ParseIpv4(mask, &a)) return "bad IPv4 mask";
          std::memcpy(m->b.data(), &a.raw, 4);
        } else if (ParseBounded(mask, 32, &len)) {
          PrefixToMask(static_cast<int>(len), m->b.data(), 4);
        } else {
          return "bad IPv4 mask (want /N with N 0-32, or a dotted mask)";
        }
      }
      break;
    }
    case Kind::kIpv6: {
      uint8_t a[16];
      if (!dp::ParseIpv6(value, a)) return "bad IPv6 address";
      std::memcpy(v->b.data(), a, 16);
      if (*has_mask) {
        uint64_t len;
        if (mask.find(':') != string_view::npos) {
          if (!dp::ParseIpv6(mask, a)) return "bad IPv6 mask";
          std::memcpy(m->b.data(), a, 16);
        } else if (ParseBounded(mask, 128, &len)) {
          PrefixToMask(static_cast<int>(len), m->b.data(), 16);
        } else {
          return "bad IPv6 mask (want /N with N 0-128, or an address)";
        }
      }
      break;
    }
    case Kind::kPort: {
      uint32_t p;
      if (!ParsePort(value, &p)) return "bad port (want a number or LOCAL, CONTROLLER, ...)";
      *v = FieldValue::FromUint(id, p);
      if (*has_mask) return "in_port cannot be masked";
      break;
    }
    case Kind::kTcpFlags:
      if (value[0] == '+' || value[0] == '-') {
        if (*has_mask) return "flag syntax (+syn-ack) takes no mask";
        uint16_t fv, fm;
        std::string err = ParseTcpFlags(value, &fv, &fm);
        if (!err.empty()) return err;
        *v = FieldValue::FromUint(id, fv);
        *m = FieldValue::FromUint(id, fm);
        *has_mask = true;
        break;
      }
      [[fallthrough]];
    case Kind::kDec:
    case Kind::kHex: {
      uint64_t max = FieldValue::AllOnes(id).ToUint();
      uint64_t x;
      if (!ParseU64(value, &x)) return fmt::format("bad number '{}'", Q(value));
      if (x > max) return fmt::format("value {} out of range (0-{})", Q(value), max);
      *v = FieldValue::FromUint(id, x);
      if (*has_mask) {
        if (!ParseU64(mask, &x)) return fmt::format("bad mask '{}'", Q(mask));
        if (x > max) return fmt::format("mask {} has bits outside the field ({:#x})", Q(mask), max);
        *m = FieldValue::FromUint(id, x);
      }
      break;
    }
  }
  if (*has_mask && !f.maskable && !m->IsAllOnes(id)) return "this field cannot be masked";
  return "";
}

// A field's value alone.
std::string FormatScalar(FieldId id, const FieldValue& v) {
  switch (KindOf(id)) {
    case Kind::kMac:
      return FormatMacBytes(v.b.data());
    case Kind::kIpv4:
      return FormatIpv4Bytes(v.b.data());
    case Kind::kIpv6:
      return dp::FormatIpv6(v.b.data());
    case Kind::kPort:
      return FormatPort(static_cast<uint32_t>(v.ToUint()));
    case Kind::kTcpFlags:
      return fmt::format("{:#05x}", v.ToUint());
    case Kind::kHex:
      if (id == F::kEthType) return fmt::format("{:#06x}", v.ToUint());
      if (id == F::kIpv6Flabel) return fmt::format("{:#07x}", v.ToUint());
      return fmt::format("{:#x}", v.ToUint());
    case Kind::kDec:
      return fmt::format("{}", v.ToUint());
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Prerequisites.

const char* PrereqText(Prereq p) {
  switch (p) {
    case Prereq::kNone:
      return "nothing";
    case Prereq::kVlan:
      return "a VLAN tag (dl_vlan=VID or vlan_tci=0x1000/0x1000)";
    case Prereq::kIp:
      return "ip or ipv6 (dl_type=0x0800 or 0x86dd)";
    case Prereq::kIpv4:
      return "ip (dl_type=0x0800)";
    case Prereq::kIpv6:
      return "ipv6 (dl_type=0x86dd)";
    case Prereq::kArp:
      return "arp (dl_type=0x0806)";
    case Prereq::kTcp:
      return "tcp (nw_proto=6)";
    case Prereq::kUdp:
      return "udp (nw_proto=17)";
    case Prereq::kSctp:
      return "sctp (nw_proto=132)";
    case Prereq::kIcmpv4:
      return "icmp (ip,nw_proto=1)";
    case Prereq::kIcmpv6:
      return "icmp6 (ipv6,nw_proto=58)";
    case Prereq::kNdSll:
      return "icmp6 with icmp_type=135 (neighbour solicitation)";
    case Prereq::kNdTll:
      return "icmp6 with icmp_type=136 (neighbour advertisement)";
    case Prereq::kNd:
      return "icmp6 with icmp_type=135 or 136";
  }
  return "?";
}

bool ExactUint(const OfMatch& m, FieldId id, uint64_t* v) {
  if (!GetFieldMask(m.mask, id).IsAllOnes(id)) return false;
  *v = GetField(m.value, id).ToUint();
  return true;
}

// ---------------------------------------------------------------------------
// Matches.

Status MatchBuilder::Add(string_view item, string_view name, FieldId id, FieldValue v,
                         const FieldValue& m, bool implied) {
  for (int i = 0; i < v.n; ++i) v.b[i] &= m.b[i];
  OfFlow val;
  val.Clear();
  SetField(&val, id, v);
  OfMask bits;
  bits.Clear();
  SetFieldMask(&bits, id, m);
  for (int w = 0; w < kOfFlowWords; ++w) {
    uint64_t b = bits.words()[w];
    if (!implied && (b & explicit_.words()[w])) {
      return Status::Errorf("'{}': {} is already matched by an earlier item", Q(item), name);
    }
    if ((val.words()[w] ^ match_.value.words()[w]) & b & match_.mask.words()[w]) {
      return Status::Errorf("'{}': contradicts an earlier item", Q(item));
    }
  }
  for (int w = 0; w < kOfFlowWords; ++w) {
    match_.value.words()[w] |= val.words()[w];
    match_.mask.words()[w] |= bits.words()[w];
    if (!implied) explicit_.words()[w] |= bits.words()[w];
  }
  return Status::Ok();
}

void MatchBuilder::Need(string_view item, string_view name, std::vector<FieldId> any,
                        std::string text) {
  if (any.empty()) return;
  if (text.empty()) text = PrereqText(Field(any[0]).prereq);
  items_.push_back({std::string(item), std::string(name), std::move(any), std::move(text)});
}

Status MatchBuilder::ParseItem(string_view item, string_view key, string_view value,
                               bool has_value) {
  if (!has_value) {
    const Shorthand* s = FindShorthand(key);
    if (!s) return Status::Errorf("'{}': unknown keyword or protocol", Q(item));
    SLUICE_RETURN_IF_ERROR(Add(item, key, F::kEthType,
                               FieldValue::FromUint(F::kEthType, s->eth_type),
                               FieldValue::AllOnes(F::kEthType), true));
    if (s->proto >= 0) {
      SLUICE_RETURN_IF_ERROR(Add(item, key, F::kIpProto,
                                 FieldValue::FromUint(F::kIpProto, static_cast<uint64_t>(s->proto)),
                                 FieldValue::AllOnes(F::kIpProto), true));
    }
    return Status::Ok();
  }
  auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
  if (FindShorthand(key)) return bad(fmt::format("{} takes no value", key));

  // OF1.0-style VLAN id.
  if (key == "dl_vlan") {
    uint64_t vid;
    if (!ParseU64(value, &vid) || (vid > 0xfff && vid != 0xffff)) {
      return bad("VLAN id must be 0-4095, or 0xffff for no VLAN tag");
    }
    uint64_t tci = vid == 0xffff ? 0 : (dp::kVlanPresent | vid);
    return Add(item, key, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, tci),
               FieldValue::AllOnes(F::kVlanVid), false);
  }
  // The raw TCI: VID (with the present bit) and priority.
  if (key == "vlan_tci") {
    string_view vt = value, mt;
    size_t slash = value.find('/');
    if (slash != string_view::npos) {
      vt = value.substr(0, slash);
      mt = value.substr(slash + 1);
    }
    uint64_t v, m = 0xffff;
    if (!ParseBounded(vt, 0xffff, &v)) return bad("bad TCI value (want a 16-bit number)");
    if (slash != string_view::npos && !ParseBounded(mt, 0xffff, &m)) {
      return bad("bad TCI mask (want a 16-bit number)");
    }
    if ((m & dp::kVlanPresent) && !(v & dp::kVlanPresent)) {
      // "No tag": an untagged packet has no priority bits to match.
      if (v & m & 0xe000) return bad("a VLAN priority needs the present bit (0x1000) set");
      m &= 0x1fff;
    }
    if (m & 0x1fff) {
      SLUICE_RETURN_IF_ERROR(Add(item, key, F::kVlanVid,
                                 FieldValue::FromUint(F::kVlanVid, v & 0x1fff),
                                 FieldValue::FromUint(F::kVlanVid, m & 0x1fff), false));
    }
    if (m & 0xe000) {
      SLUICE_RETURN_IF_ERROR(Add(item, key, F::kVlanPcp, FieldValue::FromUint(F::kVlanPcp, v >> 13),
                                 FieldValue::FromUint(F::kVlanPcp, m >> 13), false));
      Need(item, key, {F::kVlanPcp});
    }
    return Status::Ok();
  }
  // A VLAN priority: also "a tag is present".
  if (key == "dl_vlan_pcp" || key == "vlan_pcp") {
    uint64_t pcp;
    if (!ParseBounded(value, 7, &pcp)) return bad("VLAN priority must be 0-7");
    SLUICE_RETURN_IF_ERROR(Add(item, key, F::kVlanPcp, FieldValue::FromUint(F::kVlanPcp, pcp),
                               FieldValue::AllOnes(F::kVlanPcp), false));
    return Add(item, key, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, dp::kVlanPresent),
               FieldValue::FromUint(F::kVlanVid, dp::kVlanPresent), true);
  }
  // The DS byte; its ECN bits are ignored, as ovs-ofctl does.
  if (key == "nw_tos") {
    uint64_t tos;
    if (!ParseBounded(value, 0xff, &tos)) return bad("nw_tos must be 0-255 (the DS byte)");
    SLUICE_RETURN_IF_ERROR(Add(item, key, F::kIpDscp, FieldValue::FromUint(F::kIpDscp, tos >> 2),
                               FieldValue::AllOnes(F::kIpDscp), false));
    Need(item, key, {F::kIpDscp});
    return Status::Ok();
  }

  FieldId id;
  std::vector<FieldId> need;
  std::string need_text;
  if (key == "tp_src" || key == "tp_dst") {
    bool src = key == "tp_src";
    id = src ? F::kTcpSrc : F::kTcpDst;
    need = src ? std::vector<FieldId>{F::kTcpSrc, F::kUdpSrc, F::kSctpSrc}
               : std::vector<FieldId>{F::kTcpDst, F::kUdpDst, F::kSctpDst};
    need_text = "tcp, udp or sctp (nw_proto)";
  } else {
    string_view name = key;
    if (key == "ip_src") name = "ipv4_src";
    if (key == "ip_dst") name = "ipv4_dst";
    const FieldInfo* f = FieldByName(name);
    if (!f) return bad(fmt::format("unknown field '{}'", Q(key)));
    id = f->id;
    need = {id};
    // ovs-ofctl leniencies: fields that share storage with their ARP or
    // ICMPv6 counterparts accept those protocols too.
    if (key == "nw_src" || key == "nw_dst") {
      need = {id, id == F::kIpv4Src ? F::kArpSpa : F::kArpTpa};
      need_text = "ip or arp (dl_type=0x0800 or 0x0806)";
    } else if (key == "nw_proto") {
      need = {F::kIpProto, F::kArpOp};
      need_text = "ip, ipv6 or arp (dl_type=0x0800, 0x86dd or 0x0806)";
    } else if (id == F::kIcmpv4Type || id == F::kIcmpv4Code) {
      need = {id, id == F::kIcmpv4Type ? F::kIcmpv6Type : F::kIcmpv6Code};
      need_text = "icmp or icmp6 (nw_proto=1 or 58)";
    }
  }
  FieldValue v, m;
  bool has_mask;
  std::string err = ParseValueMask(id, value, &v, &m, &has_mask);
  if (!err.empty()) return bad(err);
  SLUICE_RETURN_IF_ERROR(Add(item, key, id, v, m, false));
  if (Field(id).prereq != Prereq::kNone) Need(item, key, std::move(need), std::move(need_text));
  return Status::Ok();
}

Status MatchBuilder::Finish(OfMatch* out) const {
  for (const Item& it : items_) {
    bool ok = false;
    for (FieldId f : it.need_any) ok = ok || FieldPrereqGuaranteed(f, match_);
    if (!ok) {
      return Status::Errorf("'{}': {} requires {}", Q(it.text), it.name, it.requires_text);
    }
  }
  if (auto bad = CheckPrerequisites(match_)) {
    return Status::Errorf("{} requires {}", Field(*bad).name, PrereqText(Field(*bad).prereq));
  }
  *out = match_;
  return Status::Ok();
}

}  // namespace ofctl_internal

// ---------------------------------------------------------------------------
// Public API.

Status ParseOfMatch(string_view text, OfMatch* match) {
  MatchBuilder mb;
  size_t pos = 0;
  for (;;) {
    string_view item, key, value;
    bool has_value;
    SLUICE_RETURN_IF_ERROR(NextItem(text, &pos, &item));
    if (item.empty()) break;
    SplitKv(item, &key, &value, &has_value);
    SLUICE_RETURN_IF_ERROR(mb.ParseItem(item, key, value, has_value));
  }
  return mb.Finish(match);
}

std::string FormatOfMatch(const OfMatch& in) {
  OfMatch m = in;
  MaskFlow(m.value, m.mask, &m.value);
  std::vector<std::string> parts;
  auto add = [&](string_view name, FieldId id) {
    FieldValue mask = GetFieldMask(m.mask, id);
    if (mask.IsZero()) return;
    parts.push_back(fmt::format("{}={}", name, FormatValueMask(id, GetField(m.value, id), mask)));
  };

  uint64_t et = 0, proto = 0;
  bool et_exact = ExactUint(m, F::kEthType, &et);
  bool proto_exact = ExactUint(m, F::kIpProto, &proto);
  const Shorthand* sh = nullptr;
  if (et_exact) {
    for (const auto& s : kShorthands) {
      if (s.eth_type != et) continue;
      if (s.proto < 0 && !sh) sh = &s;
      if (s.proto >= 0 && proto_exact && static_cast<uint64_t>(s.proto) == proto) {
        sh = &s;
        break;
      }
    }
  }
  bool is_arp = et_exact && (et == kEthArp || et == kEthRarp);
  bool is_v6 = et_exact && et == kEthIpv6;
  bool is_v4 = et_exact && et == kEthIpv4;
  if (sh) parts.push_back(sh->name);

  for (int r = 0; r < 8; ++r) {
    FieldId id = static_cast<FieldId>(static_cast<int>(F::kReg0) + r);
    add(Field(id).name, id);
  }
  add("tun_id", F::kTunId);
  add("metadata", F::kMetadata);
  add("in_port", F::kInPort);

  uint16_t tv = m.value.dp.vlan[0].tci.host(), tm = m.mask.dp.vlan[0].tci.host();
  bool present = (tm & dp::kVlanPresent) && (tv & dp::kVlanPresent);
  if (present && (tm == 0x1fff || tm == 0xffff)) {
    parts.push_back(fmt::format("dl_vlan={}", tv & dp::kVlanVidMask));
    if (tm == 0xffff) parts.push_back(fmt::format("dl_vlan_pcp={}", tv >> 13));
  } else if (present && tm == 0xf000) {
    parts.push_back(fmt::format("dl_vlan_pcp={}", tv >> 13));
  } else if (tm == 0xffff) {
    parts.push_back(fmt::format("vlan_tci={:#06x}", tv));
  } else if (tm) {
    parts.push_back(fmt::format("vlan_tci={:#06x}/{:#06x}", tv, tm));
  }

  add("dl_src", F::kEthSrc);
  add("dl_dst", F::kEthDst);
  if (!sh) add("dl_type", F::kEthType);
  add(is_arp ? "arp_spa" : "nw_src", F::kIpv4Src);
  add(is_arp ? "arp_tpa" : "nw_dst", F::kIpv4Dst);
  add("ipv6_src", F::kIpv6Src);
  add("ipv6_dst", F::kIpv6Dst);
  add("ipv6_label", F::kIpv6Flabel);
  if (!(sh && sh->proto >= 0)) add(is_arp ? "arp_op" : "nw_proto", F::kIpProto);
  FieldValue dscp_mask = GetFieldMask(m.mask, F::kIpDscp);
  if (dscp_mask.IsAllOnes(F::kIpDscp)) {
    parts.push_back(fmt::format("nw_tos={}", GetField(m.value, F::kIpDscp).ToUint() << 2));
  } else {
    add("ip_dscp", F::kIpDscp);
  }
  add("nw_ecn", F::kIpEcn);
  add("nw_ttl", F::kIpTtl);
  bool icmp = proto_exact && ((is_v4 && proto == 1) || (is_v6 && proto == 58));
  bool src_icmp = icmp && (GetFieldMask(m.mask, F::kTcpSrc).ToUint() & 0xff00) == 0;
  bool dst_icmp = icmp && (GetFieldMask(m.mask, F::kTcpDst).ToUint() & 0xff00) == 0;
  if (src_icmp) {
    add("icmp_type", F::kIcmpv4Type);
  } else {
    add("tp_src", F::kTcpSrc);
  }
  if (dst_icmp) {
    add("icmp_code", F::kIcmpv4Code);
  } else {
    add("tp_dst", F::kTcpDst);
  }
  add("tcp_flags", F::kTcpFlags);
  add("nd_target", F::kIpv6NdTarget);
  add(is_v6 ? "nd_sll" : "arp_sha", F::kArpSha);
  add(is_v6 ? "nd_tll" : "arp_tha", F::kArpTha);

  std::string s;
  for (const auto& p : parts) {
    if (!s.empty()) s += ',';
    s += p;
  }
  return s;
}

}  // namespace sluice::ofproto
