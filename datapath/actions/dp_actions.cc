#include "datapath/actions/dp_actions.h"

#include <cstring>
#include <utility>

namespace sluice::dp {

// operator== compares the structs below with memcmp: they must have no
// padding, or two equal actions could differ in padding bytes.
static_assert(sizeof(SetEth) == 4 * sizeof(EthAddr));
static_assert(sizeof(SetIpv4) == 4 * sizeof(be32) + 4);
static_assert(sizeof(SetIpv6) == 4 * 16 + 2 * sizeof(be32) + 4);
static_assert(sizeof(SetL4) == 4 * sizeof(be16));
static_assert(sizeof(PushVlan) == 2 * sizeof(be16));
static_assert(sizeof(SetArp) == 4 * sizeof(be32) + 4 * sizeof(EthAddr) + 2 * sizeof(be16));
static_assert(sizeof(SetIcmp) == 4);
static_assert(sizeof(SetNd) == 2 * 16 + 4 * sizeof(EthAddr));
// Every action is one fixed-size record, copied by value into DpActions: the
// ARP, ICMP and ND payloads fit in the space SetIpv6 already takes, so adding
// them did not make DpAction (8 bytes of type and padding, then the union)
// any larger.
static_assert(sizeof(SetArp) <= sizeof(SetIpv6) && sizeof(SetNd) <= sizeof(SetIpv6));
static_assert(sizeof(DpAction) == 8 + 80);

namespace {

// An action of type `t` with every byte of its union zeroed, so that copies
// and dumps never carry stale bytes.
DpAction Blank(DpActionType t) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = t;
  return a;
}

template <class T>
bool SameBytes(const T& x, const T& y) {
  return std::memcmp(&x, &y, sizeof(T)) == 0;
}

}  // namespace

DpAction DpAction::Output(uint32_t port) {
  DpAction a = Blank(DpActionType::kOutput);
  a.port = port;
  return a;
}

DpAction DpAction::ToUserspace(uint64_t cookie) {
  DpAction a = Blank(DpActionType::kUserspace);
  a.userspace.cookie = cookie;
  return a;
}

DpAction DpAction::Push(be16 tpid, be16 tci) {
  DpAction a = Blank(DpActionType::kPushVlan);
  a.push_vlan.tpid = tpid;
  a.push_vlan.tci = tci;
  return a;
}

DpAction DpAction::Pop() { return Blank(DpActionType::kPopVlan); }

DpAction DpAction::Recirc(uint32_t recirc_id) {
  DpAction a = Blank(DpActionType::kRecirc);
  a.recirc_id = recirc_id;
  return a;
}

DpAction DpAction::Meter(uint32_t meter_id) {
  DpAction a = Blank(DpActionType::kMeter);
  a.meter_id = meter_id;
  return a;
}

bool DpAction::operator==(const DpAction& o) const {
  if (type != o.type) return false;
  switch (type) {
    case DpActionType::kOutput:
      return port == o.port;
    case DpActionType::kUserspace:
      return userspace.cookie == o.userspace.cookie;
    case DpActionType::kPushVlan:
      return push_vlan.tpid == o.push_vlan.tpid && push_vlan.tci == o.push_vlan.tci;
    case DpActionType::kPopVlan:
      return true;
    case DpActionType::kSetEth:
      return SameBytes(eth, o.eth);
    case DpActionType::kSetIpv4:
      return SameBytes(ipv4, o.ipv4);
    case DpActionType::kSetIpv6:
      return SameBytes(ipv6, o.ipv6);
    case DpActionType::kSetTcp:
    case DpActionType::kSetUdp:
    case DpActionType::kSetSctp:
      return SameBytes(l4, o.l4);
    case DpActionType::kSetArp:
      return SameBytes(arp, o.arp);
    case DpActionType::kSetIcmp:
    case DpActionType::kSetIcmpv6:
      return SameBytes(icmp, o.icmp);
    case DpActionType::kSetNd:
      return SameBytes(nd, o.nd);
    case DpActionType::kRecirc:
      return recirc_id == o.recirc_id;
    case DpActionType::kMeter:
      return meter_id == o.meter_id;
  }
  return false;
}

DpActions::DpActions(std::vector<DpAction> actions) : actions_(std::move(actions)) {
  if (actions_.size() == 1 && actions_[0].type == DpActionType::kOutput) {
    single_output_ = true;
    single_output_port_ = actions_[0].port;
  }
}

}  // namespace sluice::dp
