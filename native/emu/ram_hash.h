// The hash of guest RAM that checkpoints and final states carry.
//
// It is a function of the RAM contents alone (two equal memories hash equal whatever
// their history), but costs time only for pages that can hold data: RAM is a memfd, and
// the kernel knows which of its pages were never touched (holes, guaranteed zero). Of the
// rest, all-zero pages are skipped too, so a page that was written and zeroed again
// hashes exactly like one never touched.
#pragma once

#include <cstdint>
#include <functional>

namespace rrkit::emu {

class GuestRam;

uint64_t HashRam(const GuestRam& ram);

// Calls `page` with the RAM offset and bytes of every 4 KiB page that holds a non-zero
// byte, in ascending order (what HashRam covers; a state image keeps just these).
void ForEachDataPage(const GuestRam& ram, const std::function<void(uint64_t offset, const uint8_t* bytes)>& page);

}  // namespace rrkit::emu
