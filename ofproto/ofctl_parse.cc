#include "ofproto/ofctl_parse.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "datapath/flow/flow_format.h"

namespace sluice::ofproto {
namespace {

using F = FieldId;
using std::string_view;

constexpr int32_t kDefaultPriority = 0x8000;
constexpr uint32_t kGroupMaxId = 0xffffff00;
constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthRarp = 0x8035;

// ---------------------------------------------------------------------------
// Lexical helpers.

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSep(char c) { return c == ',' || IsSpace(c); }
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

string_view Trim(string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEq(string_view a, string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string ToLower(string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
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

struct PortName {
  const char* name;
  uint32_t port;
};
constexpr PortName kPortNames[] = {
    {"IN_PORT", kPortInPort}, {"TABLE", kPortTable}, {"NORMAL", kPortNormal},
    {"FLOOD", kPortFlood},    {"ALL", kPortAll},     {"CONTROLLER", kPortController},
    {"LOCAL", kPortLocal},    {"ANY", kPortAny},     {"NONE", kPortAny},
};

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

// A port an output action may use: a physical port or a named reserved one.
bool IsOutputPort(uint32_t port) {
  return port <= kPortMax || (port >= kPortInPort && port <= kPortLocal);
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

// The L4 port field a tp_src/tp_dst means under `match` (tcp when unknown).
FieldId TpField(const OfMatch* match, bool src) {
  uint64_t et, proto;
  if (match && ExactUint(*match, F::kEthType, &et) && (et == kEthIpv4 || et == kEthIpv6) &&
      ExactUint(*match, F::kIpProto, &proto)) {
    if (proto == 17) return src ? F::kUdpSrc : F::kUdpDst;
    if (proto == 132) return src ? F::kSctpSrc : F::kSctpDst;
  }
  return src ? F::kTcpSrc : F::kTcpDst;
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

// Builds a match item by item, refusing fields given twice and
// contradictions, and checks prerequisites once everything is in.
class MatchBuilder {
 public:
  MatchBuilder() { explicit_.Clear(); }

  // One match item (FIELD=VALUE or a shorthand).
  Status ParseItem(string_view item, string_view key, string_view value, bool has_value);
  // Checks prerequisites and hands out the match.
  Status Finish(OfMatch* out) const;

 private:
  struct Item {
    std::string text;               // the item, for messages
    std::string name;               // the field name as written
    std::vector<FieldId> need_any;  // prerequisites: those of one of these
    std::string requires_text;      // what to tell the user when unmet
  };

  // Adds id=v/m. `implied` bits (from a shorthand, or the VLAN present bit
  // that a priority needs) may be repeated consistently; explicit ones not.
  Status Add(string_view item, string_view name, FieldId id, FieldValue v, const FieldValue& m,
             bool implied);
  void Need(string_view item, string_view name, std::vector<FieldId> any, std::string text = "");

  OfMatch match_ = OfMatch::CatchAll();
  OfMask explicit_;
  std::vector<Item> items_;
};

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

// ---------------------------------------------------------------------------
// Actions and instructions.

enum Inst : int { kInstMeter, kInstApply, kInstClear, kInstWrite, kInstWriteMeta, kInstGoto };
constexpr const char* kInstNames[] = {"meter",         "apply_actions",  "clear_actions",
                                      "write_actions", "write_metadata", "goto_table"};

int InstructionOf(string_view lname) {
  for (int i = 0; i < 6; ++i) {
    if (lname == kInstNames[i]) return i;
  }
  return -1;
}

// A set-field action for `id` = v (no mask), checked for writability and,
// when the flow's match is known, for prerequisites.
Status MakeSetField(string_view item, FieldId id, FieldValue v, const OfMatch* match,
                    OfAction* out) {
  const FieldInfo& f = Field(id);
  if (!f.writable) return Status::Errorf("'{}': field {} cannot be set", Q(item), f.name);
  if (id == F::kVlanVid && v.ToUint() < dp::kVlanPresent) {
    v = FieldValue::FromUint(id, v.ToUint() | dp::kVlanPresent);
  }
  // A VLAN field's tag may come from an earlier push_vlan: not checked.
  if (match && id != F::kVlanVid && id != F::kVlanPcp && !FieldPrereqGuaranteed(id, *match)) {
    return Status::Errorf("'{}': setting {} requires {} in the match", Q(item), f.name,
                          PrereqText(f.prereq));
  }
  *out = OfAction::SetField(id, v);
  return Status::Ok();
}

// One action (not an instruction). *wants_tag is set for mod_vlan_vid and
// mod_vlan_pcp, which push a tag first on an untagged packet.
Status ParseAction(string_view item, const OfMatch* match, OfAction* out, bool* wants_tag) {
  *wants_tag = false;
  string_view name, arg;
  bool has_arg, parens;
  if (!SplitAction(item, &name, &arg, &has_arg, &parens)) {
    return Status::Errorf("'{}': bad action syntax (want NAME, NAME:ARG or NAME(ARGS))", Q(item));
  }
  auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
  std::string lname = ToLower(name);
  auto no_arg = [&]() -> Status {
    if (has_arg) return bad(fmt::format("{} takes no argument", lname));
    return Status::Ok();
  };
  auto need_arg = [&]() -> Status {
    if (!has_arg || Trim(arg).empty()) return bad(fmt::format("{} needs an argument", lname));
    return Status::Ok();
  };
  auto output = [&](uint32_t port) -> Status {
    if (!IsOutputPort(port))
      return bad(fmt::format("{} is not a port to output to", FormatPort(port)));
    *out = OfAction::Output(port, port == kPortController ? kControllerMaxLenNoBuffer : 0);
    return Status::Ok();
  };
  uint64_t n;

  // A bare port number or reserved port name is an output.
  if (!has_arg && ParseU64(name, &n)) {
    if (n > 0xffffffff) return bad("port number out of range");
    return output(static_cast<uint32_t>(n));
  }
  if (lname == "output") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    uint32_t port;
    if (!ParsePort(Trim(arg), &port)) return bad("bad port (want a number or a reserved name)");
    return output(port);
  }
  if (lname == "controller") {
    *out = OfAction::Output(kPortController, kControllerMaxLenNoBuffer);
    if (!has_arg) return Status::Ok();
    if (!parens) {
      if (!ParseBounded(Trim(arg), 0xffff, &n)) return bad("controller max_len must be 0-65535");
      out->max_len = static_cast<uint16_t>(n);
      return Status::Ok();
    }
    std::vector<string_view> kvs;
    SLUICE_RETURN_IF_ERROR(SplitItems(arg, &kvs));
    for (string_view kv : kvs) {
      string_view k, v;
      bool hv;
      SplitKv(kv, &k, &v, &hv);
      if (k != "max_len" || !hv) {
        return bad(fmt::format("unsupported controller option '{}' (only max_len=N)", Q(kv)));
      }
      if (!ParseBounded(v, 0xffff, &n)) return bad("controller max_len must be 0-65535");
      out->max_len = static_cast<uint16_t>(n);
    }
    return Status::Ok();
  }
  if (!has_arg) {
    for (const auto& p : kPortNames) {
      if (IEq(name, p.name) && p.port != kPortAny) return output(p.port);
    }
  }
  if (lname == "group") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), kGroupMaxId, &n)) return bad("group id must be 0-0xffffff00");
    *out = OfAction::Group(static_cast<uint32_t>(n));
    return Status::Ok();
  }
  if (lname == "set_queue") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xffffffff, &n)) return bad("queue id must be a 32-bit number");
    *out = OfAction::SetQueue(static_cast<uint32_t>(n));
    return Status::Ok();
  }
  if (lname == "push_vlan") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseU64(Trim(arg), &n) || (n != 0x8100 && n != 0x88a8)) {
      return bad("push_vlan ethertype must be 0x8100 or 0x88a8");
    }
    *out = OfAction::PushVlan(static_cast<uint16_t>(n));
    return Status::Ok();
  }
  if (lname == "pop_vlan" || lname == "strip_vlan") {
    SLUICE_RETURN_IF_ERROR(no_arg());
    *out = OfAction::PopVlan();
    return Status::Ok();
  }
  if (lname == "dec_ttl") {
    SLUICE_RETURN_IF_ERROR(no_arg());
    *out = OfAction::DecTtl();
    return Status::Ok();
  }
  if (lname == "set_field") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    size_t arrow = arg.find("->");
    if (arrow == string_view::npos) return bad("set_field wants VALUE->FIELD");
    string_view value = Trim(arg.substr(0, arrow));
    string_view fname = Trim(arg.substr(arrow + 2));
    if (fname == "nw_tos") {
      if (!ParseBounded(value, 0xff, &n) || (n & 3)) {
        return bad("nw_tos must be a DS byte with the ECN bits clear (a multiple of 4, 0-252)");
      }
      return MakeSetField(item, F::kIpDscp, FieldValue::FromUint(F::kIpDscp, n >> 2), match, out);
    }
    FieldId id;
    if (fname == "tp_src" || fname == "tp_dst") {
      id = TpField(match, fname == "tp_src");
    } else {
      if (fname == "ip_src") fname = "ipv4_src";
      if (fname == "ip_dst") fname = "ipv4_dst";
      const FieldInfo* f = FieldByName(fname);
      if (!f) return bad(fmt::format("unknown field '{}'", Q(fname)));
      id = f->id;
    }
    FieldValue v, m;
    bool has_mask;
    std::string err = ParseValueMask(id, value, &v, &m, &has_mask);
    if (!err.empty()) return bad(err);
    if (has_mask) return bad("set_field with a mask is not supported");
    return MakeSetField(item, id, v, match, out);
  }
  // The OpenFlow 1.0 modify actions, as set-field.
  struct ModAction {
    const char* name;
    FieldId field;
  };
  static constexpr ModAction kMods[] = {
      {"mod_dl_src", F::kEthSrc},    {"mod_dl_dst", F::kEthDst}, {"mod_nw_src", F::kIpv4Src},
      {"mod_nw_dst", F::kIpv4Dst},   {"mod_nw_ecn", F::kIpEcn},  {"mod_nw_ttl", F::kIpTtl},
      {"mod_vlan_pcp", F::kVlanPcp},
  };
  for (const auto& mod : kMods) {
    if (lname != mod.name) continue;
    SLUICE_RETURN_IF_ERROR(need_arg());
    FieldValue v, m;
    bool has_mask;
    std::string err = ParseValueMask(mod.field, Trim(arg), &v, &m, &has_mask);
    if (!err.empty()) return bad(err);
    if (has_mask) return bad(fmt::format("{} takes no mask", lname));
    *wants_tag = mod.field == F::kVlanPcp;
    return MakeSetField(item, mod.field, v, match, out);
  }
  if (lname == "mod_nw_tos") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xff, &n) || (n & 3)) {
      return bad("mod_nw_tos wants a DS byte with the ECN bits clear (a multiple of 4, 0-252)");
    }
    return MakeSetField(item, F::kIpDscp, FieldValue::FromUint(F::kIpDscp, n >> 2), match, out);
  }
  if (lname == "mod_vlan_vid") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xfff, &n)) return bad("VLAN id must be 0-4095");
    *wants_tag = true;
    return MakeSetField(item, F::kVlanVid, FieldValue::FromUint(F::kVlanVid, dp::kVlanPresent | n),
                        match, out);
  }
  if (lname == "mod_tp_src" || lname == "mod_tp_dst") {
    SLUICE_RETURN_IF_ERROR(need_arg());
    if (!ParseBounded(Trim(arg), 0xffff, &n)) return bad("L4 port must be 0-65535");
    FieldId id = TpField(match, lname == "mod_tp_src");
    if (match && !FieldPrereqGuaranteed(id, *match)) {
      return bad(fmt::format("{} requires tcp, udp or sctp (nw_proto) in the match", lname));
    }
    return MakeSetField(item, id, FieldValue::FromUint(id, n), match, out);
  }
  if (lname == "drop")
    return bad("'drop' must not be accompanied by any other action or instruction");
  if (InstructionOf(lname) >= 0)
    return bad(fmt::format("instruction {} is not allowed here", lname));
  return bad(fmt::format("unknown action '{}'", Q(name)));
}

// True when `match` guarantees a VLAN tag.
bool MatchTagged(const OfMatch* match) {
  return match && FieldPrereqGuaranteed(F::kVlanPcp, *match);
}

// Parses one action onto the end of *list. *tagged says whether the packet
// has a VLAN tag at this point (when the match is known): mod_vlan_vid and
// mod_vlan_pcp on an untagged packet push a tag first, as ovs-ofctl does.
Status AppendAction(string_view item, const OfMatch* match, bool* tagged, OfActionList* list) {
  OfAction a;
  bool wants_tag;
  SLUICE_RETURN_IF_ERROR(ParseAction(item, match, &a, &wants_tag));
  if (match && wants_tag && !*tagged) {
    list->push_back(OfAction::PushVlan(0x8100));
    *tagged = true;
  }
  if (a.type == OfActionType::kPushVlan) *tagged = true;
  if (a.type == OfActionType::kPopVlan) *tagged = false;
  list->push_back(a);
  return Status::Ok();
}

// The kind of an action for action-set duplicate checks.
std::string ActionKind(const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      return "output";
    case OfActionType::kGroup:
      return "group";
    case OfActionType::kSetField:
      return fmt::format("set_field for {}", Field(a.field).name);
    case OfActionType::kPushVlan:
      return "push_vlan";
    case OfActionType::kPopVlan:
      return "pop_vlan";
    case OfActionType::kDecTtl:
      return "dec_ttl";
    case OfActionType::kSetQueue:
      return "set_queue";
  }
  return "?";
}

// A list of actions (no instructions). `where` names the list in messages;
// `action_set` refuses two actions of a kind (write_actions).
Status ParseActionItems(const std::vector<string_view>& items, const OfMatch* match,
                        bool action_set, string_view where, OfActionList* out) {
  OfActionList list;
  if (items.size() == 1 && IEq(items[0], "drop")) {
    *out = list;
    return Status::Ok();
  }
  bool tagged = MatchTagged(match);
  for (string_view item : items) {
    string_view name, arg;
    bool has_arg, parens;
    if (SplitAction(item, &name, &arg, &has_arg, &parens) && InstructionOf(ToLower(name)) >= 0) {
      return Status::Errorf("'{}': instruction {} is not allowed inside {}", Q(item), ToLower(name),
                            where);
    }
    size_t before = list.size();
    SLUICE_RETURN_IF_ERROR(AppendAction(item, match, &tagged, &list));
    if (!action_set) continue;
    for (size_t i = before; i < list.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (ActionKind(list[i]) == ActionKind(list[j])) {
          return Status::Errorf(
              "'{}': {} already has a {} action (an action set holds one of "
              "each kind)",
              Q(item), where, ActionKind(list[i]));
        }
      }
    }
  }
  *out = std::move(list);
  return Status::Ok();
}

Status ParseActionText(string_view text, const OfMatch* match, bool action_set, string_view where,
                       OfActionList* out) {
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  return ParseActionItems(items, match, action_set, where, out);
}

std::string FormatOneAction(const OfAction& a) {
  switch (a.type) {
    case OfActionType::kOutput:
      if (a.port == kPortController) return fmt::format("CONTROLLER:{}", a.max_len);
      if (a.port > kPortMax && IsOutputPort(a.port)) return FormatPort(a.port);
      return fmt::format("output:{}", a.port);
    case OfActionType::kGroup:
      return fmt::format("group:{}", a.group_id);
    case OfActionType::kSetField:
      if (a.field >= F::kCount) return "set_field:?";
      return fmt::format("set_field:{}->{}", FormatScalar(a.field, a.value), Field(a.field).name);
    case OfActionType::kPushVlan:
      return fmt::format("push_vlan:{:#06x}", a.ethertype);
    case OfActionType::kPopVlan:
      return "pop_vlan";
    case OfActionType::kDecTtl:
      return "dec_ttl";
    case OfActionType::kSetQueue:
      return fmt::format("set_queue:{}", a.queue_id);
  }
  return "?";
}

std::string JoinActions(const OfActionList& actions) {
  std::string s;
  for (const auto& a : actions) {
    if (!s.empty()) s += ',';
    s += FormatOneAction(a);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Flows.

struct FlagName {
  const char* name;
  uint16_t flag;
};
constexpr FlagName kFlagNames[] = {
    {"send_flow_rem", kFlagSendFlowRem},  {"check_overlap", kFlagCheckOverlap},
    {"reset_counts", kFlagResetCounts},   {"no_packet_counts", kFlagNoPktCounts},
    {"no_byte_counts", kFlagNoBytCounts},
};

// "head, head, priority=N,match actions=insts" (dump-flows layout).
std::string ComposeFlow(const std::vector<std::string>& head, int32_t priority,
                        const OfMatch& match, const Instructions* insts) {
  std::string s;
  for (const auto& h : head) {
    if (!s.empty()) s += ", ";
    s += h;
  }
  std::string m;
  if (priority != kDefaultPriority) m = fmt::format("priority={}", priority);
  std::string fields = FormatOfMatch(match);
  if (!fields.empty()) {
    if (!m.empty()) m += ',';
    m += fields;
  }
  if (!m.empty()) {
    if (!s.empty()) s += ", ";
    s += m;
  }
  if (insts) {
    if (!s.empty()) s += ' ';
    s += "actions=" + FormatOfInstructions(*insts);
  }
  return s;
}

void AppendFlags(uint16_t flags, std::vector<std::string>* head) {
  for (const auto& f : kFlagNames) {
    if (flags & f.flag) head->push_back(f.name);
  }
}

// ---------------------------------------------------------------------------
// Groups.

struct GroupTypeName {
  const char* name;
  GroupType type;
};
constexpr GroupTypeName kGroupTypes[] = {
    {"all", GroupType::kAll},
    {"select", GroupType::kSelect},
    {"indirect", GroupType::kIndirect},
    {"ff", GroupType::kFastFailover},
    {"fast_failover", GroupType::kFastFailover},
};

const char* GroupTypeText(GroupType t) {
  for (const auto& g : kGroupTypes) {
    if (g.type == t) return g.name;
  }
  return "?";
}

Status ParseBucket(const std::vector<string_view>& pieces, GroupType type, Bucket* out) {
  Bucket b;
  bool weight_given = false;
  std::vector<string_view> actions;
  bool in_actions = false;
  string_view first = pieces.empty() ? string_view() : pieces[0];
  for (string_view piece : pieces) {
    if (piece.empty()) continue;
    if (in_actions) {
      actions.push_back(piece);
      continue;
    }
    string_view name, arg;
    bool has_arg, parens;
    bool split = SplitAction(piece, &name, &arg, &has_arg, &parens) && has_arg && !parens;
    auto bad = [&](std::string_view why) {
      return Status::Errorf("'bucket={}': '{}': {}", Q(first), Q(piece), why);
    };
    uint64_t n;
    if (split && name == "weight") {
      if (weight_given) return bad("weight given twice");
      if (type != GroupType::kSelect) return bad("weight is only valid in select groups");
      if (!ParseBounded(arg, 0xffff, &n)) return bad("weight must be 0-65535");
      b.weight = static_cast<uint16_t>(n);
      weight_given = true;
    } else if (split && name == "watch_port") {
      uint32_t port;
      if (!ParsePort(arg, &port)) return bad("bad watch_port");
      b.watch_port = port;
    } else if (split && name == "watch_group") {
      if (IEq(arg, "any")) {
        b.watch_group = kGroupAny;
      } else if (ParseBounded(arg, kGroupMaxId, &n)) {
        b.watch_group = static_cast<uint32_t>(n);
      } else {
        return bad("bad watch_group");
      }
    } else if (split && name == "bucket_id") {
      if (!ParseBounded(arg, 0xffffffff, &n)) return bad("bad bucket_id");
    } else if (split && name == "actions") {
      in_actions = true;
      if (!arg.empty()) actions.push_back(arg);
    } else {
      in_actions = true;
      actions.push_back(piece);
    }
  }
  if (type == GroupType::kSelect && !weight_given) b.weight = 1;
  if (type == GroupType::kFastFailover && b.watch_port == kPortAny && b.watch_group == kGroupAny) {
    return Status::Errorf("'bucket={}': a fast-failover bucket needs watch_port or watch_group",
                          Q(first));
  }
  SLUICE_RETURN_IF_ERROR(ParseActionItems(actions, nullptr, false, "a bucket", &b.actions));
  *out = std::move(b);
  return Status::Ok();
}

std::string FormatBuckets(GroupType type, const std::vector<Bucket>& buckets) {
  std::string s;
  for (const Bucket& b : buckets) {
    s += ",bucket=";
    if (type == GroupType::kSelect) s += fmt::format("weight:{},", b.weight);
    if (b.watch_port != kPortAny) s += fmt::format("watch_port:{},", FormatPort(b.watch_port));
    if (b.watch_group != kGroupAny) s += fmt::format("watch_group:{},", b.watch_group);
    s += "actions=" + FormatOfActions(b.actions);
  }
  return s;
}

}  // namespace

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

Status ParseOfInstructions(string_view text, const OfMatch* match, Instructions* out) {
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  Instructions insts;
  bool seen[6] = {};
  int last = -1;
  bool plain_apply = false;  // apply-actions came from plain actions
  bool tagged = MatchTagged(match);
  for (string_view item : items) {
    string_view name, arg;
    bool has_arg, parens;
    if (!SplitAction(item, &name, &arg, &has_arg, &parens)) {
      return Status::Errorf("'{}': bad action syntax (want NAME, NAME:ARG or NAME(ARGS))", Q(item));
    }
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    std::string lname = ToLower(name);
    if (lname == "drop" && !has_arg) {
      if (items.size() != 1) {
        return bad("'drop' must not be accompanied by any other action or instruction");
      }
      continue;
    }
    int inst = InstructionOf(lname);
    bool plain = inst < 0;
    if (plain) inst = kInstApply;
    if (inst < last) {
      return bad(
          fmt::format("{} must come before {} (instructions go in the order meter, "
                      "apply_actions, clear_actions, write_actions, write_metadata, "
                      "goto_table)",
                      plain ? "actions to apply" : kInstNames[inst], kInstNames[last]));
    }
    if (seen[inst] && !(plain && plain_apply)) {
      return bad(fmt::format("duplicate {} instruction", kInstNames[inst]));
    }
    seen[inst] = true;
    last = inst;
    uint64_t n;
    switch (inst) {
      case kInstMeter:
        if (!has_arg || !ParseBounded(Trim(arg), 0xffff0000, &n) || n == 0) {
          return bad("meter wants a meter id 1-0xffff0000 (meter:N)");
        }
        insts.meter = static_cast<uint32_t>(n);
        break;
      case kInstApply:
        if (plain) {
          SLUICE_RETURN_IF_ERROR(AppendAction(item, match, &tagged, &insts.apply));
          insts.has_apply = true;
          plain_apply = true;
        } else {
          if (!parens) return bad("apply_actions wants a list in parentheses");
          SLUICE_RETURN_IF_ERROR(ParseActionText(arg, match, false, "apply_actions", &insts.apply));
          insts.has_apply = !insts.apply.empty();
        }
        break;
      case kInstClear:
        if (has_arg) return bad("clear_actions takes no argument");
        insts.clear_actions = true;
        break;
      case kInstWrite: {
        if (!parens) return bad("write_actions wants a list in parentheses");
        OfActionList list;
        SLUICE_RETURN_IF_ERROR(ParseActionText(arg, match, true, "write_actions", &list));
        insts.write = std::move(list);
        break;
      }
      case kInstWriteMeta: {
        if (!has_arg) return bad("write_metadata wants VALUE[/MASK]");
        string_view v = Trim(arg), m;
        size_t slash = v.find('/');
        uint64_t value, mask = ~uint64_t{0};
        if (slash != string_view::npos) {
          m = v.substr(slash + 1);
          v = v.substr(0, slash);
          if (!ParseU64(m, &mask)) return bad("bad write_metadata mask");
        }
        if (!ParseU64(v, &value)) return bad("bad write_metadata value");
        insts.has_write_metadata = true;
        insts.metadata = value & mask;
        insts.metadata_mask = mask;
        break;
      }
      case kInstGoto:
        if (!has_arg || !ParseBounded(Trim(arg), kNumTables - 1, &n)) {
          return bad(fmt::format("goto_table wants a table 0-{}", kNumTables - 1));
        }
        insts.goto_table = static_cast<uint8_t>(n);
        break;
    }
  }
  *out = std::move(insts);
  return Status::Ok();
}

std::string FormatOfInstructions(const Instructions& i) {
  std::vector<std::string> parts;
  if (i.meter) parts.push_back(fmt::format("meter:{}", *i.meter));
  if (i.has_apply && !i.apply.empty()) parts.push_back(JoinActions(i.apply));
  if (i.clear_actions) parts.push_back("clear_actions");
  if (i.write) parts.push_back("write_actions(" + JoinActions(*i.write) + ")");
  if (i.has_write_metadata) {
    if (i.metadata_mask == ~uint64_t{0}) {
      parts.push_back(fmt::format("write_metadata:{:#x}", i.metadata));
    } else {
      parts.push_back(fmt::format("write_metadata:{:#x}/{:#x}", i.metadata, i.metadata_mask));
    }
  }
  if (i.goto_table) parts.push_back(fmt::format("goto_table:{}", *i.goto_table));
  if (parts.empty()) return "drop";
  std::string s;
  for (const auto& p : parts) {
    if (!s.empty()) s += ',';
    s += p;
  }
  return s;
}

Status ParseOfActions(string_view text, OfActionList* out) {
  return ParseActionText(text, nullptr, false, "an action list", out);
}

std::string FormatOfActions(const OfActionList& actions) {
  return actions.empty() ? std::string("drop") : JoinActions(actions);
}

Status ParseFlowMod(string_view text, FlowMod::Command command, FlowMod* out) {
  using C = FlowMod::Command;
  bool is_add = command == C::kAdd;
  bool is_delete = command == C::kDelete || command == C::kDeleteStrict;
  FlowMod fm;
  fm.command = command;
  fm.table_id = is_delete ? kAllTables : 0;
  MatchBuilder mb;
  std::optional<string_view> actions;
  std::vector<std::string> seen;  // keywords given

  size_t pos = 0;
  for (;;) {
    string_view item, key, value;
    bool has_value;
    SLUICE_RETURN_IF_ERROR(NextItem(text, &pos, &item));
    if (item.empty()) break;
    SplitKv(item, &key, &value, &has_value);
    if (key == "actions" && has_value) {
      size_t start = static_cast<size_t>(value.data() - text.data());
      actions = text.substr(start);
      break;
    }
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    bool is_flag = false;
    for (const auto& f : kFlagNames) {
      if (key == f.name) {
        if (has_value) return bad(fmt::format("{} takes no value", f.name));
        fm.flags |= f.flag;
        is_flag = true;
      }
    }
    if (is_flag) continue;
    static constexpr const char* kKeywords[] = {
        "table", "priority", "cookie", "idle_timeout", "hard_timeout", "out_port", "out_group"};
    bool keyword = false;
    for (const char* k : kKeywords) keyword = keyword || key == k;
    if (keyword) {
      if (!has_value) return bad(fmt::format("{} needs a value ({}=...)", key, key));
      for (const auto& s : seen) {
        if (s == key) return bad(fmt::format("{} given twice", key));
      }
      seen.emplace_back(key);
    }
    uint64_t n;
    if (key == "duration" || key == "n_packets" || key == "n_bytes" || key == "idle_age" ||
        key == "hard_age") {
      // Statistics in dump-flows output: ignored so that dumps parse back.
    } else if (key == "table") {
      if (!ParseBounded(value, 255, &n)) return bad("table must be 0-254 (255: all, for deletes)");
      if (n == kAllTables && !is_delete) return bad("table=255 (all tables) is only for deletes");
      fm.table_id = static_cast<uint8_t>(n);
    } else if (key == "priority") {
      if (!ParseBounded(value, 0xffff, &n)) return bad("priority must be 0-65535");
      fm.priority = static_cast<int32_t>(n);
    } else if (key == "cookie") {
      size_t slash = value.find('/');
      string_view v = value.substr(0, slash);
      if (!ParseU64(v, &fm.cookie)) return bad("bad cookie value");
      if (slash != string_view::npos) {
        string_view m = value.substr(slash + 1);
        if (m == "-1") {
          fm.cookie_mask = ~uint64_t{0};
        } else if (!ParseU64(m, &fm.cookie_mask)) {
          return bad("bad cookie mask (a number, or -1 for all bits)");
        }
      } else if (is_delete) {
        return bad("a delete selects by cookie with cookie=VALUE/MASK (e.g. /-1)");
      }
    } else if (key == "idle_timeout" || key == "hard_timeout") {
      if (!ParseBounded(value, 0xffff, &n)) return bad("timeout must be 0-65535 seconds");
      (key == "idle_timeout" ? fm.idle_timeout : fm.hard_timeout) = static_cast<uint16_t>(n);
    } else if (key == "out_port") {
      if (is_add) return bad("out_port is a filter of mod-flows and del-flows only");
      uint32_t port;
      if (!ParsePort(value, &port)) return bad("bad port (want a number or a reserved name)");
      fm.out_port = port;
    } else if (key == "out_group") {
      if (is_add) return bad("out_group is a filter of mod-flows and del-flows only");
      if (IEq(value, "any")) {
        fm.out_group = kGroupAny;
      } else if (ParseBounded(value, 0xffffffff, &n)) {
        fm.out_group = static_cast<uint32_t>(n);
      } else {
        return bad("bad group id");
      }
    } else if (key == "actions") {
      return bad("actions needs a value (actions=...)");
    } else {
      SLUICE_RETURN_IF_ERROR(mb.ParseItem(item, key, value, has_value));
    }
  }
  SLUICE_RETURN_IF_ERROR(mb.Finish(&fm.match));
  if (is_delete) {
    if (actions) return Status::Error("'actions=' is not allowed in a delete");
  } else {
    if (!actions) return Status::Error("missing 'actions=' (actions=drop for a flow that drops)");
    SLUICE_RETURN_IF_ERROR(ParseOfInstructions(*actions, &fm.match, &fm.insts));
    if (fm.insts.goto_table && *fm.insts.goto_table <= fm.table_id) {
      return Status::Errorf("goto_table:{} from table {}: goto_table must go to a later table",
                            *fm.insts.goto_table, fm.table_id);
    }
  }
  *out = std::move(fm);
  return Status::Ok();
}

std::string FormatFlowMod(const FlowMod& fm) {
  using C = FlowMod::Command;
  bool is_delete = fm.command == C::kDelete || fm.command == C::kDeleteStrict;
  std::vector<std::string> head;
  if (fm.cookie_mask || (is_delete && fm.cookie)) {
    head.push_back(fmt::format("cookie={:#x}/{:#x}", fm.cookie, fm.cookie_mask));
  } else if (fm.cookie && !is_delete) {
    head.push_back(fmt::format("cookie={:#x}", fm.cookie));
  }
  if (fm.table_id != (is_delete ? kAllTables : 0))
    head.push_back(fmt::format("table={}", fm.table_id));
  if (fm.idle_timeout) head.push_back(fmt::format("idle_timeout={}", fm.idle_timeout));
  if (fm.hard_timeout) head.push_back(fmt::format("hard_timeout={}", fm.hard_timeout));
  AppendFlags(fm.flags, &head);
  if (fm.out_port != kPortAny) head.push_back("out_port=" + FormatPort(fm.out_port));
  if (fm.out_group != kGroupAny) head.push_back(fmt::format("out_group={}", fm.out_group));
  return ComposeFlow(head, fm.priority, fm.match, is_delete ? nullptr : &fm.insts);
}

std::string FormatFlow(const OfRule& rule) {
  std::vector<std::string> head;
  if (rule.cookie) head.push_back(fmt::format("cookie={:#x}", rule.cookie));
  if (rule.table_id) head.push_back(fmt::format("table={}", rule.table_id));
  if (rule.idle_timeout) head.push_back(fmt::format("idle_timeout={}", rule.idle_timeout));
  if (rule.hard_timeout) head.push_back(fmt::format("hard_timeout={}", rule.hard_timeout));
  AppendFlags(rule.flags, &head);
  return ComposeFlow(head, rule.priority(), rule.match(), &rule.insts);
}

Status ParseGroupMod(string_view text, GroupMod::Command command, GroupMod* out) {
  bool is_delete = command == GroupMod::Command::kDelete;
  GroupMod gm;
  gm.command = command;
  std::vector<string_view> items;
  SLUICE_RETURN_IF_ERROR(SplitItems(text, &items));
  bool have_id = false, have_type = false;
  size_t i = 0;
  for (; i < items.size(); ++i) {
    string_view item = items[i], key, value;
    bool has_value;
    SplitKv(item, &key, &value, &has_value);
    if (key == "bucket" && has_value) break;
    auto bad = [&](std::string_view why) { return Status::Errorf("'{}': {}", Q(item), why); };
    if (key == "group_id" && has_value) {
      if (have_id) return bad("group_id given twice");
      have_id = true;
      uint64_t n;
      if (IEq(value, "all") || IEq(value, "any")) {
        if (!is_delete) return bad("group_id=all/any is only for deletes");
        gm.group_id = kGroupAny;
      } else if (ParseBounded(value, kGroupMaxId, &n)) {
        gm.group_id = static_cast<uint32_t>(n);
      } else {
        return bad("group id must be 0-4294967040 (0xffffff00)");
      }
    } else if (key == "type" && has_value) {
      if (have_type) return bad("type given twice");
      have_type = true;
      bool found = false;
      for (const auto& t : kGroupTypes) {
        if (value == t.name) {
          gm.type = t.type;
          found = true;
        }
      }
      if (!found) return bad("group type must be all, select, indirect or ff");
    } else {
      return bad("unknown group keyword (want group_id=, type= or bucket=)");
    }
  }
  if (!have_id) {
    if (!is_delete) return Status::Error("missing group_id=");
    gm.group_id = kGroupAny;
  }
  if (!is_delete && !have_type) {
    return Status::Error("missing type= (all, select, indirect or ff)");
  }
  while (i < items.size()) {
    if (is_delete) return Status::Errorf("'{}': a delete takes no buckets", Q(items[i]));
    // items[i] is "bucket=..."; the bucket runs to the next "bucket=".
    std::vector<string_view> pieces;
    pieces.push_back(items[i].substr(std::string_view("bucket=").size()));
    for (++i; i < items.size(); ++i) {
      string_view key, value;
      bool has_value;
      SplitKv(items[i], &key, &value, &has_value);
      if (key == "bucket" && has_value) break;
      pieces.push_back(items[i]);
    }
    Bucket b;
    SLUICE_RETURN_IF_ERROR(ParseBucket(pieces, gm.type, &b));
    gm.buckets.push_back(std::move(b));
  }
  if (!is_delete && gm.type == GroupType::kIndirect && gm.buckets.size() != 1) {
    return Status::Errorf("an indirect group has exactly one bucket (got {})", gm.buckets.size());
  }
  *out = std::move(gm);
  return Status::Ok();
}

std::string FormatGroupMod(const GroupMod& gm) {
  if (gm.command == GroupMod::Command::kDelete) {
    return gm.group_id == kGroupAny ? std::string("group_id=all")
                                    : fmt::format("group_id={}", gm.group_id);
  }
  return fmt::format("group_id={},type={}", gm.group_id, GroupTypeText(gm.type)) +
         FormatBuckets(gm.type, gm.buckets);
}

std::string FormatGroup(const Group& g) {
  return fmt::format("group_id={},type={}", g.id, GroupTypeText(g.type)) +
         FormatBuckets(g.type, g.buckets);
}

}  // namespace sluice::ofproto
