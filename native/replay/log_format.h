// The framing of an rrkit log: file header, chunk frames and trailer (records are in
// log_records.h). docs/log-format.md is the reference; this file and that page change
// together, and any change to a layout bumps kLogFormatVersion.
//
//   file    = header chunk* [trailer]
//   header  = "RRKITLOG" u16 version u16 flags(0) u32 body_length body u32 crc32c
//   chunk   = "CHNK" u32 sequence u32 payload_length u32 record_count u32 crc32c payload
//   trailer = "TRLR" u32 chunk_count u64 record_count u64 elapsed_ns u32 crc32c
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rrkit::replay {

inline constexpr std::array<uint8_t, 8> kLogMagic = {'R', 'R', 'K', 'I', 'T', 'L', 'O', 'G'};
inline constexpr uint16_t kLogFormatVersion = 3;  // 2: record kinds 8 and 9; 3: kinds 10-14

inline constexpr size_t kFileHeaderFixedBytes = 16;  // magic, version, flags, body length
inline constexpr size_t kMaxHeaderBodyBytes = 1 << 20;
inline constexpr size_t kMaxImageHashBytes = 64;
inline constexpr uint32_t kMaxVcpus = 4096;

// Frame magics, read as little-endian u32 from the first four bytes of each frame.
inline constexpr uint32_t kChunkMagic = 0x4B4E4843;    // "CHNK"
inline constexpr uint32_t kTrailerMagic = 0x524C5254;  // "TRLR"
inline constexpr size_t kChunkHeaderBytes = 20;
inline constexpr size_t kMaxChunkPayloadBytes = 16 << 20;
inline constexpr size_t kTrailerBytes = 28;

// The machine a log was recorded on: everything replay needs to rebuild the initial state.
struct LogHeader {
  std::string engine;               // "emu" or "kvm"
  std::vector<uint8_t> image_hash;  // SHA-256 of the guest ELF (up to 64 bytes)
  std::string image_path;           // as given at record time; informational
  uint32_t vcpus = 1;
  uint32_t ram_mib = 0;
  uint32_t crew_granularity = 0;     // bytes per CREW page; 0 when CREW is off
  uint64_t checkpoint_interval = 0;  // landmarks between checkpoints; 0 = none
  uint64_t start_unix_ms = 0;        // wall-clock time recording started; 0 = unknown
  std::string config_json;           // free-form engine configuration, JSON text
};

// Written on a clean close; its absence makes a log `incomplete`.
struct LogTrailer {
  uint32_t chunk_count = 0;
  uint64_t record_count = 0;
  uint64_t elapsed_ns = 0;  // recording time from open to close
};

// Encode: whole frames, CRC included. Decode: see LogReader, which validates as it goes.
std::vector<uint8_t> EncodeFileHeader(const LogHeader& header);
std::vector<uint8_t> EncodeChunkFrame(uint32_t sequence, uint32_t record_count, std::span<const uint8_t> payload);
std::vector<uint8_t> EncodeTrailer(const LogTrailer& trailer);

// Decodes a header body that has passed its CRC check; `file_offset` locates errors.
LogHeader DecodeHeaderBody(std::span<const uint8_t> body, uint64_t file_offset);

}  // namespace rrkit::replay
