#include "datapath/flow/flow_format.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace sluice::dp {

// ---------------------------------------------------------------------------
// Addresses.

std::string FormatEthAddr(const EthAddr& a) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", a.b[0], a.b[1], a.b[2], a.b[3],
                     a.b[4], a.b[5]);
}

std::string FormatIpv4(be32 addr) {
  uint8_t b[4];
  std::memcpy(b, &addr.raw, 4);
  return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
}

std::string FormatIpv6(const uint8_t addr[16]) {
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(addr[2 * i] << 8 | addr[2 * i + 1]);
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (!w[0] && !w[1] && !w[2] && !w[3] && !w[4] && w[5] == 0xffff) {
    return fmt::format("::ffff:{}.{}.{}.{}", addr[12], addr[13], addr[14], addr[15]);
  }
  // The longest run of two or more zero words (the first on a tie) is "::".
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string s;
  for (int i = 0; i < 8;) {
    if (i == best) {
      s += "::";
      i += best_len;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    s += fmt::format("{:x}", w[i]);
    ++i;
  }
  return s;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool ParseEthAddr(std::string_view text, EthAddr* addr) {
  EthAddr a{};
  size_t i = 0;
  for (int k = 0; k < 6; ++k) {
    if (k > 0) {
      if (i >= text.size() || text[i] != ':') return false;
      ++i;
    }
    int digits = 0, v = 0;
    while (i < text.size() && digits < 2 && HexDigit(text[i]) >= 0) {
      v = v * 16 + HexDigit(text[i]);
      ++i;
      ++digits;
    }
    if (digits == 0) return false;
    a.b[k] = static_cast<uint8_t>(v);
  }
  if (i != text.size()) return false;
  *addr = a;
  return true;
}

bool ParseIpv4(std::string_view text, be32* addr) {
  uint8_t b[4];
  size_t i = 0;
  for (int k = 0; k < 4; ++k) {
    if (k > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    int digits = 0, v = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 4) {
      v = v * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || v > 255) return false;
    b[k] = static_cast<uint8_t>(v);
  }
  if (i != text.size()) return false;
  std::memcpy(&addr->raw, b, 4);
  return true;
}

bool ParseIpv6(std::string_view text, uint8_t addr[16]) {
  // inet_pton wants a C string; the longest valid form is 45 characters.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return false;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t out[16];
  if (inet_pton(AF_INET6, buf, out) != 1) return false;
  std::memcpy(addr, out, 16);
  return true;
}

namespace text {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

Status SplitTopLevel(std::string_view s, std::vector<std::string_view>* items) {
  items->clear();
  if (Trim(s).empty()) return Status::Ok();
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth == 0) return Status::Errorf("'{}': unexpected ')'", Trim(s.substr(start)));
      --depth;
    } else if (c == ',' && depth == 0) {
      items->push_back(Trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0) return Status::Errorf("'{}': missing ')'", Trim(s.substr(start)));
  items->push_back(Trim(s.substr(start)));
  return Status::Ok();
}

Status SplitCall(std::string_view item, std::string_view* name, std::string_view* args,
                 bool* has_args) {
  item = Trim(item);
  size_t i = 0;
  while (i < item.size() && IsNameChar(item[i])) ++i;
  if (i == 0) return Status::Errorf("'{}': expected a name", item);
  *name = item.substr(0, i);
  std::string_view rest = Trim(item.substr(i));
  *args = {};
  *has_args = false;
  if (rest.empty()) return Status::Ok();
  if (rest[0] != '(') return Status::Errorf("'{}': unexpected '{}'", item, rest);
  int depth = 0;
  size_t close = std::string_view::npos;
  for (size_t j = 0; j < rest.size(); ++j) {
    if (rest[j] == '(') ++depth;
    if (rest[j] == ')' && --depth == 0) {
      close = j;
      break;
    }
  }
  if (close == std::string_view::npos) return Status::Errorf("'{}': missing ')'", item);
  if (close != rest.size() - 1) return Status::Errorf("'{}': unexpected text after ')'", item);
  *args = rest.substr(1, close - 1);
  *has_args = true;
  return Status::Ok();
}

bool ParseUint(std::string_view s, uint64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *out = v;
  return true;
}

namespace {

bool IsAddress(FieldKind k) {
  return k == FieldKind::kIpv4 || k == FieldKind::kIpv6 || k == FieldKind::kEth;
}

uint64_t LoadInt(const uint8_t* p, uint8_t size, bool net_order) {
  uint64_t v = 0;
  if (net_order) {
    for (int i = 0; i < size; ++i) v = v << 8 | p[i];
    return v;
  }
  switch (size) {
    case 1:
      return p[0];
    case 2: {
      uint16_t x;
      std::memcpy(&x, p, 2);
      return x;
    }
    case 4: {
      uint32_t x;
      std::memcpy(&x, p, 4);
      return x;
    }
    default: {
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

void StoreInt(uint8_t* p, uint8_t size, bool net_order, uint64_t v) {
  if (net_order) {
    for (int i = size - 1; i >= 0; --i) {
      p[i] = static_cast<uint8_t>(v);
      v >>= 8;
    }
    return;
  }
  switch (size) {
    case 1:
      p[0] = static_cast<uint8_t>(v);
      return;
    case 2: {
      uint16_t x = static_cast<uint16_t>(v);
      std::memcpy(p, &x, 2);
      return;
    }
    case 4: {
      uint32_t x = static_cast<uint32_t>(v);
      std::memcpy(p, &x, 4);
      return;
    }
    default:
      std::memcpy(p, &v, 8);
      return;
  }
}

int Width(const FieldSpec& f) { return f.bits ? f.bits : f.size * 8; }
uint64_t FullMask(const FieldSpec& f) {
  int w = Width(f);
  return w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
}
uint64_t Natural(const FieldSpec& f) { return f.natural ? f.natural : FullMask(f); }

uint64_t GetSub(const FieldSpec& f, const void* base, uint16_t ofs) {
  const uint8_t* p = static_cast<const uint8_t*>(base) + ofs;
  return (LoadInt(p, f.size, f.net_order) >> f.shift) & FullMask(f);
}

void SetSub(const FieldSpec& f, void* base, uint16_t ofs, uint64_t sub) {
  uint8_t* p = static_cast<uint8_t*>(base) + ofs;
  uint64_t full = FullMask(f);
  uint64_t x = LoadInt(p, f.size, f.net_order);
  x = (x & ~(full << f.shift)) | ((sub & full) << f.shift);
  StoreInt(p, f.size, f.net_order, x);
}

// Number of leading one bits if `m` is a prefix mask (1s then 0s), else -1.
int PrefixLen(const uint8_t* m, int n) {
  int len = 0, i = 0;
  while (i < n && m[i] == 0xff) {
    len += 8;
    ++i;
  }
  if (i < n) {
    uint8_t b = m[i];
    int ones = 0;
    while (ones < 8 && (b & (0x80 >> ones))) ++ones;
    if (static_cast<uint8_t>(b << ones) != 0) return -1;
    len += ones;
    for (++i; i < n; ++i) {
      if (m[i] != 0) return -1;
    }
  }
  return len;
}

void PrefixToMask(int len, uint8_t* m, int n) {
  for (int i = 0; i < n; ++i) {
    int bits = len - 8 * i;
    m[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
}

std::string FormatAddr(FieldKind kind, const uint8_t* v) {
  switch (kind) {
    case FieldKind::kIpv4: {
      be32 a;
      std::memcpy(&a.raw, v, 4);
      return FormatIpv4(a);
    }
    case FieldKind::kIpv6:
      return FormatIpv6(v);
    default: {
      EthAddr a;
      std::memcpy(a.b, v, 6);
      return FormatEthAddr(a);
    }
  }
}

// value[/mask] of one field whose mask is non-zero.
std::string FormatValue(const FieldSpec& f, const void* value_base, const void* mask_base) {
  if (IsAddress(f.kind)) {
    uint8_t v[16], m[16];
    std::memcpy(m, static_cast<const uint8_t*>(mask_base) + f.mask_ofs, f.size);
    std::memcpy(v, static_cast<const uint8_t*>(value_base) + f.value_ofs, f.size);
    bool all_ones = true;
    for (int i = 0; i < f.size; ++i) {
      v[i] &= m[i];
      all_ones &= m[i] == 0xff;
    }
    std::string s = FormatAddr(f.kind, v);
    if (all_ones) return s;
    int prefix = f.kind == FieldKind::kIpv6 ? PrefixLen(m, f.size) : -1;
    if (prefix >= 0) return fmt::format("{}/{}", s, prefix);
    return s + "/" + FormatAddr(f.kind, m);
  }
  uint64_t m = GetSub(f, mask_base, f.mask_ofs);
  uint64_t v = GetSub(f, value_base, f.value_ofs) & m;
  std::string s;
  switch (f.kind) {
    case FieldKind::kDec:
      s = fmt::format("{}", v);
      break;
    case FieldKind::kHex16:
      s = fmt::format("{:#06x}", v);
      break;
    case FieldKind::kFrag: {
      // The first name whose value agrees with v under the mask.
      static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
          {"no", 0}, {"first", kFragAny}, {"later", kFragAny | kFragLater}};
      for (const auto& [name, bits] : kNames) {
        if ((bits & m) == v) {
          s = name;
          break;
        }
      }
      if (s.empty()) s = fmt::format("{:#x}", v);
      break;
    }
    case FieldKind::kCfi:
      return m == 0 ? "*" : v ? "1" : "0";
    default:
      s = v ? fmt::format("{:#x}", v) : "0";
      break;
  }
  if (m != Natural(f)) s += fmt::format("/{:#x}", m);
  return s;
}

std::string FieldNames(std::span<const FieldSpec> fields) {
  std::string s;
  for (const FieldSpec& f : fields) {
    if (!s.empty()) s += ", ";
    s += f.name;
  }
  return s;
}

std::string ParseAddrValue(const FieldSpec& f, std::string_view value, std::string_view mask_text,
                           bool has_mask, void* value_base, void* mask_base) {
  uint8_t v[16] = {}, m[16];
  std::memset(m, 0xff, sizeof(m));
  switch (f.kind) {
    case FieldKind::kIpv4: {
      be32 a;
      if (!ParseIpv4(value, &a)) return "bad IPv4 address";
      std::memcpy(v, &a.raw, 4);
      if (has_mask) {
        uint64_t len;
        if (mask_text.find('.') != std::string_view::npos) {
          if (!ParseIpv4(mask_text, &a)) return "bad IPv4 mask";
          std::memcpy(m, &a.raw, 4);
        } else if (ParseUint(mask_text, &len) && len <= 32) {
          PrefixToMask(static_cast<int>(len), m, 4);
        } else {
          return "bad IPv4 mask (want a prefix length 0-32 or a dotted mask)";
        }
      }
      break;
    }
    case FieldKind::kIpv6: {
      if (!ParseIpv6(value, v)) return "bad IPv6 address";
      if (has_mask) {
        uint64_t len;
        if (mask_text.find(':') != std::string_view::npos) {
          if (!ParseIpv6(mask_text, m)) return "bad IPv6 mask";
        } else if (ParseUint(mask_text, &len) && len <= 128) {
          PrefixToMask(static_cast<int>(len), m, 16);
        } else {
          return "bad IPv6 mask (want a prefix length 0-128 or an address)";
        }
      }
      break;
    }
    default: {
      EthAddr a;
      if (!ParseEthAddr(value, &a)) return "bad Ethernet address";
      std::memcpy(v, a.b, 6);
      if (has_mask) {
        if (!ParseEthAddr(mask_text, &a)) return "bad Ethernet mask";
        std::memcpy(m, a.b, 6);
      }
      break;
    }
  }
  uint8_t* vp = static_cast<uint8_t*>(value_base) + f.value_ofs;
  uint8_t* mp = static_cast<uint8_t*>(mask_base) + f.mask_ofs;
  for (int i = 0; i < f.size; ++i) {
    vp[i] = v[i] & m[i];
    mp[i] = m[i];
  }
  return "";
}

}  // namespace

bool FieldMasked(const FieldSpec& f, const void* mask_base) {
  if (IsAddress(f.kind)) {
    const uint8_t* p = static_cast<const uint8_t*>(mask_base) + f.mask_ofs;
    for (int i = 0; i < f.size; ++i) {
      if (p[i]) return true;
    }
    return false;
  }
  return GetSub(f, mask_base, f.mask_ofs) != 0;
}

bool AppendFields(std::string* out, std::span<const FieldSpec> fields, uint32_t include,
                  const void* value_base, const void* mask_base) {
  bool any = false;
  bool first = true;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!(include & (1u << i))) continue;
    const FieldSpec& f = fields[i];
    bool masked = FieldMasked(f, mask_base);
    any |= masked;
    std::string value;
    if (f.kind == FieldKind::kCfi) {
      value = FormatValue(f, value_base, mask_base);
      if (value == "1") continue;  // the default of a vlan() group
    } else if (masked) {
      value = FormatValue(f, value_base, mask_base);
    } else {
      continue;
    }
    if (!first) *out += ',';
    first = false;
    *out += f.name;
    *out += '=';
    *out += value;
  }
  return any;
}

std::string ParseFieldValue(const FieldSpec& f, std::string_view text, void* value_base,
                            void* mask_base) {
  // Values never contain blanks: "10.0.0.0 / 24" is "10.0.0.0/24".
  std::string compact;
  for (char c : text) {
    if (!IsSpace(c)) compact += c;
  }
  std::string_view s = compact;
  if (s.empty()) return "missing value";
  size_t slash = s.find('/');
  bool has_mask = slash != std::string_view::npos;
  std::string_view value = s.substr(0, slash);
  std::string_view mask_text = has_mask ? s.substr(slash + 1) : std::string_view();
  if (has_mask && (value.empty() || mask_text.empty())) return "missing value or mask around '/'";

  if (IsAddress(f.kind))
    return ParseAddrValue(f, value, mask_text, has_mask, value_base, mask_base);

  uint64_t v = 0, m = Natural(f);
  if (f.kind == FieldKind::kCfi) {
    if (has_mask) return "cfi takes 0, 1 or *";
    if (value == "*") {
      m = 0;
    } else if (value == "0" || value == "1") {
      v = value == "1";
    } else {
      return "cfi takes 0, 1 or *";
    }
  } else {
    if (f.kind == FieldKind::kFrag && value == "no") {
      v = 0;
    } else if (f.kind == FieldKind::kFrag && value == "first") {
      v = kFragAny;
    } else if (f.kind == FieldKind::kFrag && value == "later") {
      v = kFragAny | kFragLater;
    } else if (!ParseUint(value, &v)) {
      return f.kind == FieldKind::kFrag ? "bad fragment type (want no, first, later or a number)"
                                        : "bad number";
    }
    uint64_t full = FullMask(f);
    if (has_mask) {
      if (!ParseUint(mask_text, &m)) return "bad mask";
      if (m > full) return fmt::format("mask out of range (max {:#x})", full);
      if (v > full) return fmt::format("value out of range (max {:#x})", full);
    } else if (v & ~m) {
      return f.kind == FieldKind::kDec ? fmt::format("value out of range (max {})", m)
                                       : fmt::format("value out of range (max {:#x})", m);
    }
  }
  SetSub(f, value_base, f.value_ofs, v & m);
  SetSub(f, mask_base, f.mask_ofs, m);
  return "";
}

Status ParseFields(std::string_view args, std::span<const FieldSpec> fields, std::string_view open,
                   std::string_view close, void* value_base, void* mask_base, uint32_t* given) {
  *given = 0;
  std::vector<std::string_view> items;
  if (Status st = SplitTopLevel(args, &items); !st.ok()) {
    return Status::Errorf("{}{}{}: {}", open, Trim(args), close, st.message());
  }
  for (std::string_view item : items) {
    if (item.empty()) return Status::Errorf("{}{}{}: empty field", open, Trim(args), close);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::Errorf("{}{}{}: expected field=value", open, item, close);
    }
    std::string_view name = Trim(item.substr(0, eq));
    size_t i = 0;
    while (i < fields.size() && fields[i].name != name) ++i;
    if (i == fields.size()) {
      return Status::Errorf("{}{}{}: unknown field '{}' (expected {})", open, item, close, name,
                            FieldNames(fields));
    }
    const FieldSpec& f = fields[i];
    if ((*given & (1u << i)) || FieldMasked(f, mask_base)) {
      return Status::Errorf("{}{}{}: {} is given twice", open, item, close, name);
    }
    std::string err = ParseFieldValue(f, item.substr(eq + 1), value_base, mask_base);
    if (!err.empty()) return Status::Errorf("{}{}{}: {}", open, item, close, err);
    *given |= 1u << i;
  }
  return Status::Ok();
}

}  // namespace text

// ---------------------------------------------------------------------------
// The match.

namespace {

using text::FieldKind;
using text::FieldSpec;

constexpr FieldSpec KeyInt(std::string_view name, FieldKind kind, size_t ofs, uint8_t size,
                           bool net_order, uint64_t natural = 0, uint8_t shift = 0,
                           uint8_t bits = 0) {
  return FieldSpec{.name = name,
                   .kind = kind,
                   .value_ofs = static_cast<uint16_t>(ofs),
                   .mask_ofs = static_cast<uint16_t>(ofs),
                   .size = size,
                   .net_order = net_order,
                   .shift = shift,
                   .bits = bits,
                   .natural = natural};
}

constexpr FieldSpec KeyAddr(std::string_view name, FieldKind kind, size_t ofs) {
  uint8_t size = kind == FieldKind::kIpv4 ? 4 : kind == FieldKind::kIpv6 ? 16 : 6;
  return FieldSpec{.name = name,
                   .kind = kind,
                   .value_ofs = static_cast<uint16_t>(ofs),
                   .mask_ofs = static_cast<uint16_t>(ofs),
                   .size = size,
                   .net_order = false};
}

#define SLUICE_KOFS(member) offsetof(FlowKey, member)

// Scalar groups: name(value).
constexpr FieldSpec kRecircId =
    KeyInt("recirc_id", FieldKind::kHex, SLUICE_KOFS(recirc_id), 4, false);
constexpr FieldSpec kDpHash = KeyInt("dp_hash", FieldKind::kHex, SLUICE_KOFS(dp_hash), 4, false);
constexpr FieldSpec kInPort = KeyInt("in_port", FieldKind::kDec, SLUICE_KOFS(in_port), 4, false);
constexpr FieldSpec kPktMark = KeyInt("pkt_mark", FieldKind::kHex, SLUICE_KOFS(pkt_mark), 4, false);
constexpr FieldSpec kEthType =
    KeyInt("eth_type", FieldKind::kHex16, SLUICE_KOFS(eth_type), 2, true);
constexpr FieldSpec kTcpFlags =
    KeyInt("tcp_flags", FieldKind::kHex, SLUICE_KOFS(tcp_flags), 2, true, 0x0fff);

constexpr FieldSpec kEthFields[] = {
    KeyAddr("src", FieldKind::kEth, SLUICE_KOFS(eth_src)),
    KeyAddr("dst", FieldKind::kEth, SLUICE_KOFS(eth_dst)),
};

constexpr size_t VlanOfs(int i, size_t member) {
  return SLUICE_KOFS(vlan) + sizeof(VlanHdr) * static_cast<size_t>(i) + member;
}
constexpr std::array<FieldSpec, 4> VlanFields(int i) {
  size_t tpid = VlanOfs(i, offsetof(VlanHdr, tpid));
  size_t tci = VlanOfs(i, offsetof(VlanHdr, tci));
  return {KeyInt("tpid", FieldKind::kHex16, tpid, 2, true),
          KeyInt("vid", FieldKind::kDec, tci, 2, true, 0, 0, 12),
          KeyInt("pcp", FieldKind::kDec, tci, 2, true, 0, 13, 3),
          KeyInt("cfi", FieldKind::kCfi, tci, 2, true, 0, 12, 1)};
}
constexpr std::array<FieldSpec, 4> kVlanFields[2] = {VlanFields(0), VlanFields(1)};
constexpr int kVlanCfiIndex = 3;
static_assert(kVlanFields[1][kVlanCfiIndex].kind == FieldKind::kCfi);
static_assert((kVlanVidMask | kVlanPresent | kVlanPcpMask) == 0xffff);

constexpr FieldSpec kIpv4Fields[] = {
    KeyAddr("src", FieldKind::kIpv4, SLUICE_KOFS(nw_src)),
    KeyAddr("dst", FieldKind::kIpv4, SLUICE_KOFS(nw_dst)),
    KeyInt("proto", FieldKind::kDec, SLUICE_KOFS(nw_proto), 1, false),
    KeyInt("tos", FieldKind::kHex, SLUICE_KOFS(nw_tos), 1, false),
    KeyInt("ttl", FieldKind::kDec, SLUICE_KOFS(nw_ttl), 1, false),
    KeyInt("frag", FieldKind::kFrag, SLUICE_KOFS(nw_frag), 1, false, 0x03),
};

constexpr FieldSpec kIpv6Fields[] = {
    KeyAddr("src", FieldKind::kIpv6, SLUICE_KOFS(ipv6_src)),
    KeyAddr("dst", FieldKind::kIpv6, SLUICE_KOFS(ipv6_dst)),
    KeyInt("label", FieldKind::kHex, SLUICE_KOFS(ipv6_label), 4, true, 0x000fffff),
    KeyInt("proto", FieldKind::kDec, SLUICE_KOFS(nw_proto), 1, false),
    KeyInt("tclass", FieldKind::kHex, SLUICE_KOFS(nw_tos), 1, false),
    KeyInt("hlimit", FieldKind::kDec, SLUICE_KOFS(nw_ttl), 1, false),
    KeyInt("frag", FieldKind::kFrag, SLUICE_KOFS(nw_frag), 1, false, 0x03),
};

constexpr FieldSpec kArpFields[] = {
    KeyAddr("sip", FieldKind::kIpv4, SLUICE_KOFS(nw_src)),
    KeyAddr("tip", FieldKind::kIpv4, SLUICE_KOFS(nw_dst)),
    KeyInt("op", FieldKind::kDec, SLUICE_KOFS(nw_proto), 1, false),
    KeyAddr("sha", FieldKind::kEth, SLUICE_KOFS(arp_sha)),
    KeyAddr("tha", FieldKind::kEth, SLUICE_KOFS(arp_tha)),
};

constexpr FieldSpec kNdFields[] = {
    KeyAddr("target", FieldKind::kIpv6, SLUICE_KOFS(nd_target)),
    KeyAddr("sll", FieldKind::kEth, SLUICE_KOFS(arp_sha)),
    KeyAddr("tll", FieldKind::kEth, SLUICE_KOFS(arp_tha)),
};

constexpr FieldSpec kPortFields[] = {
    KeyInt("src", FieldKind::kDec, SLUICE_KOFS(tp_src), 2, true),
    KeyInt("dst", FieldKind::kDec, SLUICE_KOFS(tp_dst), 2, true),
};

constexpr FieldSpec kIcmpFields[] = {
    KeyInt("type", FieldKind::kDec, SLUICE_KOFS(tp_src), 2, true, 0x00ff),
    KeyInt("code", FieldKind::kDec, SLUICE_KOFS(tp_dst), 2, true, 0x00ff),
};

#undef SLUICE_KOFS

// FormatMatch picks fields of these groups by index (see there).
static_assert(kIpv4Fields[2].name == "proto" && kIpv4Fields[5].name == "frag");
static_assert(kIpv6Fields[2].name == "label" && kIpv6Fields[3].name == "proto");
static_assert(kIpv6Fields[6].name == "frag");
static_assert(kArpFields[2].name == "op" && kArpFields[3].name == "sha");
static_assert(kNdFields[1].name == "sll" && kNdFields[2].name == "tll");

struct GroupDef {
  std::string_view name;
  std::span<const FieldSpec> fields;  // for a scalar group: the one value
  bool scalar;
};

// Every group the parser knows except vlan (which depends on its position).
const GroupDef kGroups[] = {
    {"recirc_id", {&kRecircId, 1}, true},
    {"dp_hash", {&kDpHash, 1}, true},
    {"in_port", {&kInPort, 1}, true},
    {"pkt_mark", {&kPktMark, 1}, true},
    {"eth", kEthFields, false},
    {"eth_type", {&kEthType, 1}, true},
    {"ipv4", kIpv4Fields, false},
    {"ipv6", kIpv6Fields, false},
    {"arp", kArpFields, false},
    {"tcp", kPortFields, false},
    {"udp", kPortFields, false},
    {"sctp", kPortFields, false},
    {"l4", kPortFields, false},
    {"icmp", kIcmpFields, false},
    {"icmpv6", kIcmpFields, false},
    {"tcp_flags", {&kTcpFlags, 1}, true},
    {"nd", kNdFields, false},
};

constexpr uint32_t kAll = ~0u;

void AppendScalar(std::string* out, const FieldSpec& f, const FlowKey& key, const FlowMask& mask) {
  if (!text::FieldMasked(f, &mask)) return;
  if (!out->empty()) *out += ',';
  *out += f.name;
  *out += '(';
  *out += text::FormatValue(f, &key, &mask);
  *out += ')';
}

void AppendGroup(std::string* out, std::string_view name, std::span<const FieldSpec> fields,
                 uint32_t include, const FlowKey& key, const FlowMask& mask, bool force = false) {
  std::string body;
  if (!text::AppendFields(&body, fields, include, &key, &mask) && !force) return;
  if (!out->empty()) *out += ',';
  *out += name;
  *out += '(';
  *out += body;
  *out += ')';
}

uint32_t Bits(std::initializer_list<int> idx) {
  uint32_t b = 0;
  for (int i : idx) b |= 1u << i;
  return b;
}

}  // namespace

std::string FormatMatch(const FlowKey& key_in, const FlowMask& mask) {
  FlowKey key;
  MaskKey(key_in, mask, &key);
  std::string out;
  AppendScalar(&out, kRecircId, key, mask);
  AppendScalar(&out, kDpHash, key, mask);
  AppendScalar(&out, kInPort, key, mask);
  AppendScalar(&out, kPktMark, key, mask);
  AppendGroup(&out, "eth", kEthFields, kAll, key, mask);
  bool inner = false;
  for (const FieldSpec& f : kVlanFields[1]) inner |= text::FieldMasked(f, &mask);
  AppendGroup(&out, "vlan", kVlanFields[0], kAll, key, mask, /*force=*/inner);
  AppendGroup(&out, "vlan", kVlanFields[1], kAll, key, mask);
  AppendScalar(&out, kEthType, key, mask);

  int eth_type = mask.eth_type == Be16(0xffff) ? key.eth_type.host() : -1;
  bool arp = eth_type == 0x0806 || eth_type == 0x8035;
  bool ipv6 = eth_type == 0x86dd;
  // Shared storage: see "Decisions" in the header. Indexes are into the
  // k*Fields arrays above.
  uint32_t ipv4_inc = 0, ipv6_inc = Bits({0, 1, 2}), arp_inc = 0, nd_inc = Bits({0});
  if (!arp) ipv4_inc |= Bits({0, 1});
  if (!arp && !ipv6) ipv4_inc |= Bits({2});
  if (!ipv6) ipv4_inc |= Bits({3, 4, 5});
  if (ipv6) ipv6_inc |= Bits({3, 4, 5, 6});
  if (arp) arp_inc |= Bits({0, 1, 2});
  if (!ipv6) arp_inc |= Bits({3, 4});
  if (ipv6) nd_inc |= Bits({1, 2});
  AppendGroup(&out, "ipv4", kIpv4Fields, ipv4_inc, key, mask);
  AppendGroup(&out, "ipv6", kIpv6Fields, ipv6_inc, key, mask);
  AppendGroup(&out, "arp", kArpFields, arp_inc, key, mask);

  int proto = mask.nw_proto == 0xff && !arp ? key.nw_proto : -1;
  if (proto == 6) {
    AppendGroup(&out, "tcp", kPortFields, kAll, key, mask);
  } else if (proto == 17) {
    AppendGroup(&out, "udp", kPortFields, kAll, key, mask);
  } else if (proto == 132) {
    AppendGroup(&out, "sctp", kPortFields, kAll, key, mask);
  } else if (proto == 1 && eth_type == 0x0800) {
    AppendGroup(&out, "icmp", kIcmpFields, kAll, key, mask);
  } else if (proto == 58 && ipv6) {
    AppendGroup(&out, "icmpv6", kIcmpFields, kAll, key, mask);
  } else {
    AppendGroup(&out, "l4", kPortFields, kAll, key, mask);
  }
  AppendScalar(&out, kTcpFlags, key, mask);
  AppendGroup(&out, "nd", kNdFields, nd_inc, key, mask);
  return out;
}

namespace {

Status ParseMatchItems(std::string_view match, FlowKey* key, FlowMask* mask) {
  std::vector<std::string_view> items;
  SLUICE_RETURN_IF_ERROR(text::SplitTopLevel(match, &items));
  int vlans = 0;
  std::vector<std::string_view> seen;
  for (std::string_view item : items) {
    if (item.empty()) return Status::Errorf("'{}': empty field group", text::Trim(match));
    std::string_view name, args;
    bool has_args;
    SLUICE_RETURN_IF_ERROR(text::SplitCall(item, &name, &args, &has_args));
    if (!has_args) return Status::Errorf("'{}': expected {}(...)", item, name);
    if (name == "vlan") {
      if (vlans == 2) return Status::Errorf("'{}': more than two vlan groups", item);
      std::span<const FieldSpec> fields = kVlanFields[vlans++];
      uint32_t given;
      SLUICE_RETURN_IF_ERROR(text::ParseFields(args, fields, "vlan(", ")", key, mask, &given));
      if (!(given & (1u << kVlanCfiIndex))) {
        // A vlan() group means "tag present" unless it says otherwise.
        text::ParseFieldValue(fields[kVlanCfiIndex], "1", key, mask);
      }
      continue;
    }
    const GroupDef* def = nullptr;
    for (const GroupDef& g : kGroups) {
      if (g.name == name) def = &g;
    }
    if (!def) return Status::Errorf("'{}': unknown field group '{}'", item, name);
    for (std::string_view s : seen) {
      if (s == name) return Status::Errorf("'{}': {}() is given twice", item, name);
    }
    seen.push_back(name);
    if (def->scalar) {
      std::string err = text::ParseFieldValue(def->fields[0], args, key, mask);
      if (!err.empty()) return Status::Errorf("{}({}): {}", name, text::Trim(args), err);
    } else {
      std::string open = fmt::format("{}(", name);
      uint32_t given;
      SLUICE_RETURN_IF_ERROR(text::ParseFields(args, def->fields, open, ")", key, mask, &given));
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseMatch(std::string_view match, FlowKey* key, FlowMask* mask) {
  key->Clear();
  mask->Clear();
  Status st = ParseMatchItems(match, key, mask);
  if (!st.ok()) {
    key->Clear();
    mask->Clear();
  }
  return st;
}

}  // namespace sluice::dp
