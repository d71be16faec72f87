// The hash of guest RAM that checkpoints and final states carry.
//
// It is a function of the RAM contents alone (two equal memories hash equal whatever
// their history), but costs time only for pages that can hold data: RAM is a memfd, and
// the kernel knows which of its pages were never touched (holes, guaranteed zero). Of the
// rest, all-zero pages are skipped too, so a page that was written and zeroed again
// hashes exactly like one never touched.
#pragma once

#include <cstdint>

namespace rrkit::emu {

class GuestRam;

uint64_t HashRam(const GuestRam& ram);

}  // namespace rrkit::emu
