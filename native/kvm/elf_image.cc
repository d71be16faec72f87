#include "kvm/elf_image.h"

#include <elf.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "kvm/board.h"
#include "kvm/long_mode.h"
#include "text/hex.h"

namespace rrkit::kvm {
namespace {

using text::Hex;

template <typename T>
T ReadAt(std::span<const uint8_t> file, uint64_t offset) {
  T value;
  std::memcpy(&value, file.data() + offset, sizeof value);
  return value;
}

bool Inside(std::span<const uint8_t> file, uint64_t offset, uint64_t length) {
  return offset <= file.size() && length <= file.size() - offset;
}

// The value of a global symbol, from the first SHT_SYMTAB section.
std::optional<uint64_t> FindSymbol(std::span<const uint8_t> file, const Elf64_Ehdr& header, const char* wanted) {
  if (header.e_shoff == 0 || header.e_shentsize != sizeof(Elf64_Shdr)) return std::nullopt;
  if (!Inside(file, header.e_shoff, uint64_t{header.e_shnum} * sizeof(Elf64_Shdr))) return std::nullopt;
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const auto section = ReadAt<Elf64_Shdr>(file, header.e_shoff + i * sizeof(Elf64_Shdr));
    if (section.sh_type != SHT_SYMTAB || section.sh_entsize != sizeof(Elf64_Sym)) continue;
    if (section.sh_link >= header.e_shnum || !Inside(file, section.sh_offset, section.sh_size)) return std::nullopt;
    const auto strings = ReadAt<Elf64_Shdr>(file, header.e_shoff + section.sh_link * sizeof(Elf64_Shdr));
    if (!Inside(file, strings.sh_offset, strings.sh_size)) return std::nullopt;
    const size_t wanted_length = std::strlen(wanted);
    for (uint64_t at = 0; at + sizeof(Elf64_Sym) <= section.sh_size; at += sizeof(Elf64_Sym)) {
      const auto symbol = ReadAt<Elf64_Sym>(file, section.sh_offset + at);
      if (symbol.st_name + wanted_length >= strings.sh_size) continue;
      const char* name = reinterpret_cast<const char*>(file.data() + strings.sh_offset + symbol.st_name);
      if (std::memcmp(name, wanted, wanted_length + 1) == 0) return symbol.st_value;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

ElfImage LoadX86Elf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_bytes) {
  auto fail = [&](const std::string& why) { return ElfError(name + ": " + why); };
  if (file.size() < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) throw fail("not an ELF file");
  if (file.size() < sizeof(Elf64_Ehdr)) throw fail("truncated ELF header");
  if (file[EI_CLASS] != ELFCLASS64 || file[EI_DATA] != ELFDATA2LSB) throw fail("not a 64-bit little-endian ELF");
  const auto header = ReadAt<Elf64_Ehdr>(file, 0);
  if (header.e_machine != EM_X86_64)
    throw fail("wrong architecture: machine " + std::to_string(header.e_machine) + ", the kvm engine runs x86_64 guests");
  if (header.e_type != ET_EXEC) throw fail("not an executable ELF (link with -no-pie at 0x100000)");
  if (header.e_phentsize != sizeof(Elf64_Phdr) || !Inside(file, header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr)))
    throw fail("program headers lie outside the file");

  const std::string ram = "RAM " + Hex(kImageBase) + ".." + Hex(ram_bytes) + " (below " + Hex(kImageBase) +
                          " is the VMM's; --ram sets the end)";
  ElfImage image;
  image.entry = header.e_entry;
  image.segments = elf::LoadableSegments(file, header, {kImageBase, ram_bytes, ram}, name);
  if (image.entry < kImageBase || image.entry >= ram_bytes) throw fail("entry point " + Hex(image.entry) + " is outside " + ram);

  const auto stack = FindSymbol(file, header, "__boot_stack_top");
  const auto end = FindSymbol(file, header, "__image_end");
  if (!stack || !end)
    throw fail("no __boot_stack_top or __image_end symbol: not built with rrkit's x86_64 runtime (`rrkit guest build --arch x86_64`)");
  image.boot_stack_top = *stack;
  image.image_end = *end;
  if (image.image_end > ram_bytes)
    throw fail("the image ends at " + Hex(image.image_end) + " (__image_end), beyond guest RAM of " +
               std::to_string(ram_bytes >> 20) + " MiB; give more with --ram");
  if (image.boot_stack_top < kImageBase || image.boot_stack_top > image.image_end)
    throw fail("__boot_stack_top " + Hex(image.boot_stack_top) + " is outside the image");
  const auto areas = FindSymbol(file, header, "__hart_areas");
  const auto writable = FindSymbol(file, header, "__writable_start");
  if (areas && writable) {
    if (*areas < kImageBase || *areas % 4096 != 0 || *areas + kMaxVcpus * kHartAreaBytes > image.image_end)
      throw fail("__hart_areas " + Hex(*areas) + " is not a page inside the image with room for " + std::to_string(kMaxVcpus) + " harts");
    if (*writable < kImageBase || *writable % 4096 != 0 || *writable > image.image_end)
      throw fail("__writable_start " + Hex(*writable) + " is not a page boundary inside the image");
    image.hart_areas = *areas;
    image.writable_start = *writable;
  }
  return image;
}

}  // namespace rrkit::kvm
