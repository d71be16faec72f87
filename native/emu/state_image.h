// A state image: everything an emu machine needs to go on from a consistent cut, in a file
// another process restores into a fresh machine, which then replays the log from that cut
// (docs/replication.md, "State images"). What it holds:
//
//   - the guest image's SHA-256, the machine's shape (vCPUs, RAM), and the cut itself as the
//     log's checkpoint record has it (each vCPU's landmark and register hash, the memory
//     hash) and its ordinal in the log: the log position the replay resumes after;
//   - every hart's registers and CSRs, its LR reservation, whether it sleeps in wfi;
//   - the devices: the CLINT's msip, mtimecmp and latest mtime read per hart, the UART's
//     configuration registers, the console's digest so far and the bytes not yet flushed;
//   - RAM: the pages that hold anything (the RAM file's data extents, zero pages left
//     out), one deflated blob.
//
// Not in it, by design: CREW page ownership and serialized-mode groups (an image is taken
// only at a cut outside serialized mode; a restored machine replays, and a replay going
// live starts CREW afresh), decoded code, timing state (the spin probe, slices), values
// from the world (the log holds them).
//
// File: "RRKTSTAT" u32 version u64 body_length body u32 crc32c(everything before it), all
// little-endian; the body's fields in the order of StateImage, integers as varints or
// fixed 8-byte words (docs/replication.md has the table).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "replay/world.h"

namespace rrkit::emu {

inline constexpr uint32_t kStateImageVersion = 1;

// An image that cannot be used: damaged, foreign, of another guest or machine. One line.
class StateImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StateImage {
  struct Reservation {
    uint64_t offset = 0;  // in RAM
    uint64_t value = 0;
    bool doubleword = false;
  };
  struct HartState {
    std::array<uint64_t, 32> x{};  // x[0] is 0
    uint64_t pc = 0;
    uint64_t instret = 0;
    uint64_t mstatus = 0, mie = 0, mtvec = 0, mscratch = 0, mepc = 0, mcause = 0, mtval = 0;
    uint64_t minstret_offset = 0, mcycle_offset = 0;
    std::optional<Reservation> reservation;
    std::optional<uint64_t> last_exception_at;
    bool sleeping = false;  // in wfi
    // CLINT, this hart's registers
    uint32_t msip = 0;
    uint64_t mtimecmp = ~uint64_t{0};
    uint64_t latest_mtime = 0;
  };
  struct UartState {
    uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0;
  };

  std::vector<uint8_t> image_sha256;  // 32 bytes: the guest ELF the machine runs
  uint32_t vcpus = 0;
  uint64_t ram_bytes = 0;
  // The cut: the log's checkpoint there, and how many checkpoints the log holds up to and
  // including it.
  replay::Checkpoint checkpoint;
  uint64_t checkpoint_ordinal = 0;
  // The console stream: its digest over every byte the guest wrote, and those of them not
  // yet flushed (written again by the restored machine; the stream offset of its first byte
  // is digest.bytes - pending.size()).
  replay::OutputDigest console;
  std::vector<uint8_t> console_pending;
  UartState uart;
  std::vector<HartState> harts;
  // RAM: the page numbers (RAM offset / 4 KiB, ascending) of the pages that hold data, and
  // their bytes, concatenated.
  std::vector<uint64_t> pages;
  std::vector<uint8_t> page_bytes;

  // Where the restored machine's console output starts in the guest's console stream.
  uint64_t console_offset() const { return console.bytes - console_pending.size(); }
};

// The file's bytes (RAM deflated at `deflate_level`, 0: stored).
std::vector<uint8_t> EncodeStateImage(const StateImage& image, int deflate_level = 1);
// Throws StateImageError: not an image, another version, damaged (its CRC), or malformed.
// `what` names it in the message (a path).
StateImage DecodeStateImage(std::span<const uint8_t> bytes, const std::string& what);

// File I/O; both throw StateImageError naming the path and the reason.
void WriteStateImageFile(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> ReadStateImageFile(const std::string& path);

// Throws StateImageError unless the image fits a machine of this guest and shape.
void CheckStateImageFits(const StateImage& image, std::span<const uint8_t> image_sha256, uint32_t vcpus,
                         uint64_t ram_bytes, const std::string& what);

}  // namespace rrkit::emu
