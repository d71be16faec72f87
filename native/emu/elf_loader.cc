#include "emu/elf_loader.h"

#include <elf.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "emu/memory.h"
#include "text/hex.h"

namespace rrkit::emu {
namespace {

using text::Hex;

const char* MachineName(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_386: return "i386";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
  }
  return nullptr;
}

}  // namespace

BootImage LoadElf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_bytes) {
  auto fail = [&](const std::string& why) { return ElfError(name + ": " + why); };
  if (file.size() < 4 || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) throw fail("not an ELF file");
  if (file.size() < sizeof(Elf64_Ehdr)) throw fail("truncated ELF header");
  if (file[EI_CLASS] != ELFCLASS64) throw fail("not a 64-bit ELF (the emu engine runs rv64 guests)");
  if (file[EI_DATA] != ELFDATA2LSB) throw fail("not a little-endian ELF");
  Elf64_Ehdr header;
  std::memcpy(&header, file.data(), sizeof header);
  if (header.e_machine != EM_RISCV) {
    const char* arch = MachineName(header.e_machine);
    throw fail(std::string("wrong architecture: ") + (arch ? arch : ("machine " + std::to_string(header.e_machine)).c_str()) +
               " ELF, the emu engine runs riscv64 guests");
  }
  if (header.e_type != ET_EXEC) throw fail("not an executable ELF (link with -no-pie at 0x80000000)");
  if (header.e_phentsize != sizeof(Elf64_Phdr)) throw fail("unexpected program header size");
  if (header.e_phoff > file.size() || header.e_phnum * sizeof(Elf64_Phdr) > file.size() - header.e_phoff)
    throw fail("program headers lie outside the file");

  const uint64_t ram_end = kRamBase + ram_bytes;
  auto ram_range = [&] { return "RAM " + Hex(kRamBase) + ".." + Hex(ram_end); };
  BootImage image;
  image.entry = header.e_entry;
  if (header.e_entry < kRamBase || header.e_entry + 4 > ram_end)
    throw fail("entry point " + Hex(header.e_entry) + " is outside " + ram_range());
  if ((header.e_entry & 3) != 0) throw fail("entry point " + Hex(header.e_entry) + " is not 4-byte aligned");

  for (elf::Segment& segment : elf::LoadableSegments(file, header, {kRamBase, ram_end, ram_range()}, name))
    image.segments.push_back({segment.address, std::move(segment.bytes)});
  return image;
}

}  // namespace rrkit::emu
