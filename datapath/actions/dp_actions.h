#pragma once
// What: datapath actions, the compiled form of what a megaflow does to its
// packets (Open vSwitch's "ODP actions").
//
// Design: a DpActions is an immutable, flat array of fixed-size DpAction
// records, executed in order on every packet of a flow batch. Set actions are
// always masked (a zero mask bit leaves that packet bit alone), which covers
// both OVS's set() and set_masked(). An empty list drops. DpActions are
// built once by the slow path and shared between the megaflows of every PMD
// by shared_ptr; the PMD only ever reads them.
//
// Invariants:
//   1. DpActions never changes after construction (Build()).
//   2. single_output() is true iff the list is exactly one kOutput, so the
//      PMD's fast path can skip the executor for the most common case.
//
// Thread-safety: immutable, so any thread may read.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datapath/flow/flow_key.h"

namespace sluice::dp {

enum class DpActionType : uint8_t {
  kOutput,     // send a copy to `port`
  kUserspace,  // send a copy to the slow path (an upcall carrying `cookie`)
  kPushVlan,   // push an 802.1Q/802.1ad tag (tpid, tci with kVlanPresent set)
  kPopVlan,    // remove the outermost tag
  kSetEth,     // rewrite Ethernet addresses under a mask
  kSetIpv4,    // rewrite IPv4 src/dst/tos/ttl under a mask (checksums updated)
  kSetIpv6,    // rewrite IPv6 src/dst/label/tclass/hlimit under a mask
  kSetTcp,     // rewrite TCP ports under a mask (checksum updated)
  kSetUdp,     // rewrite UDP ports under a mask (checksum updated unless zero)
  kSetSctp,    // rewrite SCTP ports under a mask (CRC32c recomputed)
  kSetArp,     // rewrite ARP op/spa/tpa/sha/tha under a mask (ARP has no checksum)
  kSetIcmp,    // rewrite ICMP (IPv4) type/code under a mask (checksum updated)
  kSetIcmpv6,  // rewrite ICMPv6 type/code under a mask (checksum updated)
  kSetNd,      // rewrite an NS/NA's target and SLL/TLL options under a mask
  kRecirc,     // run the packet through the datapath again with `recirc_id`
  kMeter,      // run the batch through meter `meter_id` (may drop or remark)
};

struct SetEth {
  EthAddr src, dst, src_mask, dst_mask;
};
struct SetIpv4 {
  be32 src, dst, src_mask, dst_mask;
  uint8_t tos, tos_mask, ttl, ttl_mask;
};
struct SetIpv6 {
  uint8_t src[16], dst[16], src_mask[16], dst_mask[16];
  be32 label, label_mask;  // low 20 bits
  uint8_t tclass, tclass_mask, hlimit, hlimit_mask;
};
struct SetL4 {
  be16 src, dst, src_mask, dst_mask;
};
// ARP over Ethernet/IPv4 (RFC 826). op is the whole 16-bit opcode (the flow
// key keeps only its low byte in nw_proto).
struct SetArp {
  be32 spa, tpa, spa_mask, tpa_mask;
  EthAddr sha, tha, sha_mask, tha_mask;
  be16 op, op_mask;
};
// kSetIcmp and kSetIcmpv6 share this payload, as TCP/UDP/SCTP share SetL4:
// the two differ in which packets they apply to (ICMP over IPv4, ICMPv6
// over IPv6), not in what they write.
struct SetIcmp {
  uint8_t type, code, type_mask, code_mask;
};
// Neighbour solicitation/advertisement (RFC 4861): the target address and the
// Ethernet source/target link-layer address options. An option is rewritten
// only if the packet carries it; the action never adds one. Value and mask
// for all three fields take 56 bytes, within the 76 of SetIpv6, the union's
// largest member, so DpAction does not grow (dp_actions.cc asserts it).
struct SetNd {
  uint8_t target[16], target_mask[16];
  EthAddr sll, tll, sll_mask, tll_mask;
};
struct PushVlan {
  be16 tpid;
  be16 tci;  // kVlanPresent is set; it is cleared when written to the wire
};
struct Userspace {
  uint64_t cookie;  // opaque to the datapath, returned in the upcall
};

struct DpAction {
  DpActionType type;
  union {
    uint32_t port;       // kOutput
    uint32_t recirc_id;  // kRecirc
    uint32_t meter_id;   // kMeter
    Userspace userspace;
    PushVlan push_vlan;
    SetEth eth;
    SetIpv4 ipv4;
    SetIpv6 ipv6;
    SetL4 l4;  // kSetTcp, kSetUdp, kSetSctp
    SetArp arp;
    SetIcmp icmp;  // kSetIcmp, kSetIcmpv6
    SetNd nd;
  };

  static DpAction Output(uint32_t port);
  static DpAction ToUserspace(uint64_t cookie);
  static DpAction Push(be16 tpid, be16 tci);
  static DpAction Pop();
  static DpAction Recirc(uint32_t recirc_id);
  static DpAction Meter(uint32_t meter_id);
  bool operator==(const DpAction& o) const;
};

class DpActions {
 public:
  DpActions() = default;
  explicit DpActions(std::vector<DpAction> actions);

  const std::vector<DpAction>& actions() const { return actions_; }
  bool empty() const { return actions_.empty(); }
  size_t size() const { return actions_.size(); }
  const DpAction& operator[](size_t i) const { return actions_[i]; }
  bool single_output() const { return single_output_; }
  uint32_t single_output_port() const { return single_output_port_; }
  bool operator==(const DpActions& o) const { return actions_ == o.actions_; }

 private:
  std::vector<DpAction> actions_;
  bool single_output_ = false;
  uint32_t single_output_port_ = 0;
};

using DpActionsPtr = std::shared_ptr<const DpActions>;

}  // namespace sluice::dp
