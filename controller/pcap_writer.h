#pragma once
// What: a minimal writer of classic pcap files (microsecond timestamps,
// Ethernet link type), used to make the built-in demo's traffic and by tests.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "datapath/util/status.h"

namespace sluice::ctl {

class PcapWriter {
 public:
  ~PcapWriter();
  Status Open(const std::string& path);
  Status Write(const uint8_t* frame, uint32_t len);
  Status Close();

 private:
  std::FILE* f_ = nullptr;
  uint32_t n_ = 0;
};

// A 60-byte Ethernet/IPv4/UDP frame (64 bytes on the wire with the FCS),
// with valid IPv4 and UDP checksums.
std::vector<uint8_t> MakeUdpFrame(const uint8_t dst_mac[6], const uint8_t src_mac[6],
                                  uint32_t src_ip, uint32_t dst_ip, uint16_t sport,
                                  uint16_t dport, uint32_t frame_len = 60);

}  // namespace sluice::ctl
