// The framing of an rrkit log: file header, chunk frames and trailer (records are in
// log_records.h). docs/log-format.md is the reference; this file and that page change
// together, and any change to a layout bumps kLogFormatVersion.
//
//   file    = header chunk* [trailer]
//   header  = "RRKITLOG" u16 version u16 flags(0) u32 body_length body u32 crc32c
//   chunk   = "CHNK" u32 sequence u32 stored_length u32 record_count u32 payload_length
//             u32 codec u32 crc32c stored[stored_length]
//   trailer = "TRLR" u32 chunk_count u64 record_count u64 elapsed_ns u32 crc32c
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "replay/chunk_codec.h"

namespace rrkit::replay {

inline constexpr std::array<uint8_t, 8> kLogMagic = {'R', 'R', 'K', 'I', 'T', 'L', 'O', 'G'};
// Version 3: chunk payloads in two streams, predicted values, optional deflate, and record
// kinds 7-14 (version 1 and 2 logs are refused with a message saying so).
inline constexpr uint16_t kLogFormatVersion = 3;

inline constexpr size_t kFileHeaderFixedBytes = 16;  // magic, version, flags, body length
inline constexpr size_t kMaxHeaderBodyBytes = 1 << 20;
inline constexpr size_t kMaxImageHashBytes = 64;
inline constexpr uint32_t kMaxVcpus = 4096;

// Frame magics, read as little-endian u32 from the first four bytes of each frame.
inline constexpr uint32_t kChunkMagic = 0x4B4E4843;    // "CHNK"
inline constexpr uint32_t kTrailerMagic = 0x524C5254;  // "TRLR"
inline constexpr size_t kChunkHeaderBytes = 28;
// Both a chunk's stored bytes and its decoded payload: small enough that a replay holding
// one decoded chunk stays within its memory bound whatever wrote the log.
inline constexpr size_t kMaxChunkPayloadBytes = 4 << 20;
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
// `stored` is the payload as `codec` stores it (chunk_codec.h); `payload_length` its
// decoded size.
std::vector<uint8_t> EncodeChunkFrame(uint32_t sequence, uint32_t record_count, uint32_t payload_length,
                                      ChunkCodec codec, std::span<const uint8_t> stored);
std::vector<uint8_t> EncodeTrailer(const LogTrailer& trailer);

// Decodes a header body that has passed its CRC check; `file_offset` locates errors.
LogHeader DecodeHeaderBody(std::span<const uint8_t> body, uint64_t file_offset);

}  // namespace rrkit::replay
