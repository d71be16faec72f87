#include "emu/state_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "replay/chunk_codec.h"
#include "replay/crc32c.h"
#include "replay/log_error.h"
#include "replay/varint.h"
#include "text/hex.h"

namespace rrkit::emu {
namespace {

constexpr std::array<uint8_t, 8> kMagic = {'R', 'R', 'K', 'T', 'S', 'T', 'A', 'T'};
constexpr size_t kHeadBytes = 8 + 4 + 8;  // magic, version, body length
constexpr size_t kPageBytes = 4096;
// Limits a damaged length cannot pass (the machine's own: 4 GiB of RAM, kMaxHarts).
constexpr uint64_t kMaxRamBytes = uint64_t{4096} << 20;
constexpr uint32_t kMaxVcpus = 64;
constexpr size_t kMaxConsolePending = 1 << 20;

void PutWord(replay::ByteWriter& w, uint64_t value) { w.FixedLe(value, 8); }

void PutHart(replay::ByteWriter& w, const StateImage::HartState& h) {
  for (int i = 1; i < 32; ++i) PutWord(w, h.x[i]);
  PutWord(w, h.pc);
  w.Varint(h.instret);
  for (uint64_t csr : {h.mstatus, h.mie, h.mtvec, h.mscratch, h.mepc, h.mcause, h.mtval, h.minstret_offset, h.mcycle_offset})
    PutWord(w, csr);
  w.U8(h.reservation.has_value() ? 1 : 0);
  if (h.reservation) {
    w.Varint(h.reservation->offset);
    PutWord(w, h.reservation->value);
    w.U8(h.reservation->doubleword ? 1 : 0);
  }
  w.U8(h.last_exception_at.has_value() ? 1 : 0);
  if (h.last_exception_at) w.Varint(*h.last_exception_at);
  w.U8(h.sleeping ? 1 : 0);
  w.U8(static_cast<uint8_t>(h.msip));
  PutWord(w, h.mtimecmp);
  w.Varint(h.latest_mtime);
}

// The body's reader: a malformed field is a LogError from ByteReader, turned into one line
// by DecodeStateImage.
bool Flag(replay::ByteReader& r, const char* what) {
  const uint8_t b = r.U8();
  if (b > 1) r.Fail(replay::LogErrorCode::kBadRecord, r.position() - 1, std::string(what) + " is neither 0 nor 1");
  return b == 1;
}

StateImage::HartState GetHart(replay::ByteReader& r) {
  StateImage::HartState h;
  for (int i = 1; i < 32; ++i) h.x[i] = r.FixedLe(8);
  h.pc = r.FixedLe(8);
  h.instret = r.Varint();
  for (uint64_t* csr : {&h.mstatus, &h.mie, &h.mtvec, &h.mscratch, &h.mepc, &h.mcause, &h.mtval, &h.minstret_offset,
                        &h.mcycle_offset})
    *csr = r.FixedLe(8);
  if (Flag(r, "a reservation flag")) {
    StateImage::Reservation res;
    res.offset = r.Varint();
    res.value = r.FixedLe(8);
    res.doubleword = Flag(r, "a reservation's width");
    h.reservation = res;
  }
  if (Flag(r, "a last-exception flag")) h.last_exception_at = r.Varint();
  h.sleeping = Flag(r, "a wfi flag");
  h.msip = Flag(r, "msip") ? 1 : 0;
  h.mtimecmp = r.FixedLe(8);
  h.latest_mtime = r.Varint();
  return h;
}

std::string Errno() { return std::strerror(errno); }

}  // namespace

std::vector<uint8_t> EncodeStateImage(const StateImage& image, int deflate_level) {
  std::vector<uint8_t> body;
  replay::ByteWriter w(body);
  w.Blob(image.image_sha256);
  w.Varint(image.vcpus);
  w.Varint(image.ram_bytes);
  w.Varint(image.checkpoint_ordinal);
  for (const auto& v : image.checkpoint.vcpus) {
    w.Varint(v.at.count);
    PutWord(w, v.register_hash);
  }
  PutWord(w, image.checkpoint.memory_hash);
  w.Varint(image.console.bytes);
  PutWord(w, image.console.hash);
  w.Blob(image.console_pending);
  for (uint8_t reg : {image.uart.ier, image.uart.lcr, image.uart.mcr, image.uart.scr, image.uart.dll, image.uart.dlm})
    w.U8(reg);
  for (const auto& h : image.harts) PutHart(w, h);
  w.Varint(image.pages.size());
  uint64_t previous = 0;
  for (uint64_t page : image.pages) {
    w.Varint(page - previous);  // ascending: deltas
    previous = page;
  }
  const replay::StoredPayload ram = replay::StorePayload(image.page_bytes, deflate_level);
  w.U8(static_cast<uint8_t>(ram.codec));
  w.Blob(ram.bytes);

  std::vector<uint8_t> out(kMagic.begin(), kMagic.end());
  out.reserve(kHeadBytes + body.size() + 4);
  replay::ByteWriter file(out);
  file.FixedLe(kStateImageVersion, 4);
  file.FixedLe(body.size(), 8);
  file.Bytes(body);
  file.FixedLe(replay::Crc32c(out), 4);
  return out;
}

StateImage DecodeStateImage(std::span<const uint8_t> bytes, const std::string& what) {
  const auto fail = [&](const std::string& why) -> StateImageError {
    return StateImageError("state image " + what + ": " + why);
  };
  if (bytes.size() < kMagic.size() || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    throw fail("not an rrkit state image (no RRKTSTAT magic)");
  }
  if (bytes.size() < kHeadBytes + 4) throw fail("truncated (" + std::to_string(bytes.size()) + " bytes)");
  replay::ByteReader head(bytes.subspan(8, 12), 8, 0, replay::LogErrorCode::kBadHeader);
  const uint64_t version = head.FixedLe(4);
  const uint64_t body_length = head.FixedLe(8);
  if (version != kStateImageVersion) {
    throw fail("version " + std::to_string(version) + ", this rrkit reads version " + std::to_string(kStateImageVersion));
  }
  if (body_length != bytes.size() - kHeadBytes - 4) {
    throw fail("truncated or padded: its body should be " + std::to_string(body_length) + " bytes, the file holds " +
               std::to_string(bytes.size() - kHeadBytes - 4));
  }
  const uint32_t stored_crc = static_cast<uint32_t>(
      replay::ByteReader(bytes.subspan(bytes.size() - 4), 0, 0, replay::LogErrorCode::kBadCrc).FixedLe(4));
  const uint32_t computed = replay::Crc32c(bytes.subspan(0, bytes.size() - 4));
  if (stored_crc != computed) {
    throw fail("damaged: CRC32C stored " + text::Hex(stored_crc) + ", computed " + text::Hex(computed));
  }

  StateImage image;
  try {
    replay::ByteReader r(bytes.subspan(kHeadBytes, body_length), kHeadBytes, 0, replay::LogErrorCode::kBadRecord);
    const auto sha = r.Blob(32, "the guest image hash");
    image.image_sha256.assign(sha.begin(), sha.end());
    const uint64_t vcpus = r.Varint();
    if (vcpus == 0 || vcpus > kMaxVcpus) throw fail(std::to_string(vcpus) + " vCPUs");
    image.vcpus = static_cast<uint32_t>(vcpus);
    image.ram_bytes = r.Varint();
    if (image.ram_bytes == 0 || image.ram_bytes > kMaxRamBytes || image.ram_bytes % kPageBytes != 0) {
      throw fail(std::to_string(image.ram_bytes) + " bytes of RAM");
    }
    image.checkpoint_ordinal = r.Varint();
    for (uint32_t v = 0; v < image.vcpus; ++v) {
      replay::Checkpoint::Vcpu cut;
      cut.at = {v, r.Varint()};
      cut.register_hash = r.FixedLe(8);
      image.checkpoint.vcpus.push_back(cut);
    }
    image.checkpoint.memory_hash = r.FixedLe(8);
    image.console.bytes = r.Varint();
    image.console.hash = r.FixedLe(8);
    const auto pending = r.Blob(kMaxConsolePending, "the console's unflushed bytes");
    image.console_pending.assign(pending.begin(), pending.end());
    if (image.console_pending.size() > image.console.bytes) throw fail("more unflushed console bytes than written");
    for (uint8_t* reg : {&image.uart.ier, &image.uart.lcr, &image.uart.mcr, &image.uart.scr, &image.uart.dll, &image.uart.dlm})
      *reg = r.U8();
    for (uint32_t v = 0; v < image.vcpus; ++v) {
      image.harts.push_back(GetHart(r));
      if (image.harts.back().instret != image.checkpoint.vcpus[v].at.count) {
        throw fail("hart " + std::to_string(v) + " is at " + std::to_string(image.harts.back().instret) +
                   ", its cut at " + std::to_string(image.checkpoint.vcpus[v].at.count));
      }
      const auto& res = image.harts.back().reservation;
      if (res && res->offset + (res->doubleword ? 8 : 4) > image.ram_bytes) throw fail("a reservation outside RAM");
    }
    const uint64_t page_count = r.Varint();
    const uint64_t ram_pages = image.ram_bytes / kPageBytes;
    if (page_count > ram_pages) throw fail(std::to_string(page_count) + " pages in " + std::to_string(ram_pages));
    uint64_t page = 0;
    for (uint64_t i = 0; i < page_count; ++i) {
      const uint64_t delta = r.Varint();
      if ((i > 0 && delta == 0) || delta >= ram_pages - page) {
        throw fail("page numbers out of order or outside RAM");
      }
      page += delta;
      image.pages.push_back(page);
    }
    const uint8_t codec = r.U8();
    if (codec > replay::kMaxChunkCodec) throw fail("unknown RAM codec " + std::to_string(codec));
    const auto stored = r.Blob(static_cast<size_t>(kMaxRamBytes), "RAM");
    std::optional<std::vector<uint8_t>> ram =
        replay::LoadPayload(static_cast<replay::ChunkCodec>(codec), stored, image.pages.size() * kPageBytes);
    if (!ram) throw fail("its RAM does not decode to " + std::to_string(image.pages.size()) + " pages");
    image.page_bytes = std::move(*ram);
    if (!r.done()) throw fail(std::to_string(r.remaining()) + " bytes after its RAM");
  } catch (const replay::LogError& e) {
    throw fail(std::string("malformed: ") + e.detail());
  }
  return image;
}

void WriteStateImageFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  // Written whole under another name, then renamed: a reader never sees half an image.
  const std::string partial = path + ".partial";
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw StateImageError("state image " + path + ": cannot create it: " + Errno());
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = Errno();
      close(fd);
      unlink(partial.c_str());
      throw StateImageError("state image " + path + ": cannot write it: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0 || rename(partial.c_str(), path.c_str()) != 0) {
    const std::string why = Errno();
    unlink(partial.c_str());
    throw StateImageError("state image " + path + ": cannot write it: " + why);
  }
}

std::vector<uint8_t> ReadStateImageFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StateImageError("state image " + path + ": cannot open it: " + Errno());
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = Errno();
      close(fd);
      throw StateImageError("state image " + path + ": cannot read it: " + why);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
    if (bytes.size() > kMaxRamBytes + (64 << 20)) {
      close(fd);
      throw StateImageError("state image " + path + ": larger than any image (more than 4 GiB)");
    }
  }
  close(fd);
  return bytes;
}

void CheckStateImageFits(const StateImage& image, std::span<const uint8_t> image_sha256, uint32_t vcpus,
                         uint64_t ram_bytes, const std::string& what) {
  const auto hex = [](std::span<const uint8_t> b) {
    std::string s;
    static constexpr char kDigits[] = "0123456789abcdef";
    for (size_t i = 0; i < b.size() && i < 8; ++i) {
      s += kDigits[b[i] >> 4];
      s += kDigits[b[i] & 15];
    }
    return s + "…";
  };
  if (image.image_sha256.size() != image_sha256.size() ||
      !std::equal(image_sha256.begin(), image_sha256.end(), image.image_sha256.begin())) {
    throw StateImageError("state image " + what + " is of another guest (sha256 " + hex(image.image_sha256) +
                          "; this guest is sha256 " + hex(image_sha256) + ")");
  }
  if (image.vcpus != vcpus || image.ram_bytes != ram_bytes) {
    throw StateImageError("state image " + what + " is of a machine with " + std::to_string(image.vcpus) + " vCPUs and " +
                          std::to_string(image.ram_bytes >> 20) + " MiB; this one has " + std::to_string(vcpus) +
                          " and " + std::to_string(ram_bytes >> 20) + " MiB");
  }
}

}  // namespace rrkit::emu
