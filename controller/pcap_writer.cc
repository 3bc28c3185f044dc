#include "controller/pcap_writer.h"

#include <cerrno>
#include <cstring>

namespace sluice::ctl {
namespace {

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}
uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

PcapWriter::~PcapWriter() {
  if (f_) std::fclose(f_);
}

Status PcapWriter::Open(const std::string& path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return Status::Errorf("cannot create {}: {}", path, std::strerror(errno));
  struct {
    uint32_t magic = 0xa1b2c3d4;
    uint16_t major = 2, minor = 4;
    int32_t zone = 0;
    uint32_t sigfigs = 0, snaplen = 65535, linktype = 1;
  } hdr;
  if (std::fwrite(&hdr, sizeof(hdr), 1, f_) != 1) return Status::Errorf("cannot write {}", path);
  return Status::Ok();
}

Status PcapWriter::Write(const uint8_t* frame, uint32_t len) {
  uint32_t rec[4] = {n_ / 1000000, n_ % 1000000, len, len};
  ++n_;
  if (std::fwrite(rec, sizeof(rec), 1, f_) != 1 || std::fwrite(frame, len, 1, f_) != 1) {
    return Status::Error("pcap write failed");
  }
  return Status::Ok();
}

Status PcapWriter::Close() {
  if (f_ && std::fclose(f_) != 0) {
    f_ = nullptr;
    return Status::Error("pcap close failed");
  }
  f_ = nullptr;
  return Status::Ok();
}

std::vector<uint8_t> MakeUdpFrame(const uint8_t dst_mac[6], const uint8_t src_mac[6],
                                  uint32_t src_ip, uint32_t dst_ip, uint16_t sport,
                                  uint16_t dport, uint32_t frame_len) {
  std::vector<uint8_t> f(frame_len, 0);
  std::memcpy(&f[0], dst_mac, 6);
  std::memcpy(&f[6], src_mac, 6);
  Put16(&f[12], 0x0800);
  uint8_t* ip = &f[14];
  uint16_t ip_len = static_cast<uint16_t>(frame_len - 14);
  ip[0] = 0x45;
  Put16(ip + 2, ip_len);
  ip[8] = 64;
  ip[9] = 17;
  Put32(ip + 12, src_ip);
  Put32(ip + 16, dst_ip);
  Put16(ip + 10, Fold(SumWords(ip, 20, 0)));
  uint8_t* udp = ip + 20;
  uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
  Put16(udp, sport);
  Put16(udp + 2, dport);
  Put16(udp + 4, udp_len);
  uint32_t sum = SumWords(ip + 12, 8, 0) + 17 + udp_len;
  uint16_t csum = Fold(SumWords(udp, udp_len, sum));
  Put16(udp + 6, csum == 0 ? 0xffff : csum);
  return f;
}

}  // namespace sluice::ctl
