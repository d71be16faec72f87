// Measures, on this machine's /dev/kvm, the two ways a VMM can take a page away from one
// vCPU (docs/kvm-smp.md, "Choosing the protection"):
//   (a) mprotect on the VM's host mapping: a CPL3 access makes KVM_RUN fail with EFAULT
//       and only rip; the VMM decodes the instruction (Zydis), restores access, re-runs it;
//   (b) memory slots: the page in a KVM_MEM_READONLY slot of its own (writes exit as MMIO
//       with the address) or in no slot (every access exits as MMIO), the VMM completing
//       the access itself.
// Each case runs a tiny CPL3 guest loop, `store/load [rbx]; mov [devices], rax`, whose
// second instruction is an MMIO exit: the loop without protection is the baseline, and
// the difference is what one fault costs.
//
//   make -f native/tools/kvm_protection_probe.mk && build/kvm-probe/kvm_protection_probe
#include <Zydis/Zydis.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <tuple>
#include <string>
#include <vector>

#include "kvm/guest_memory.h"
#include "kvm/kvm_system.h"
#include "kvm/long_mode.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

using namespace rrkit::kvm;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kCode = 0x100000;
constexpr uint64_t kTarget = 0x400000;  // the pages the loop touches, one per iteration
constexpr uint64_t kDevices = 0xd0000000;
constexpr int kIterations = 2000;

// mov [rbx], rax / mov rax, [rbx]; mov [rdx], rax; add rbx, 4096; jmp back
const uint8_t kStoreLoop[] = {0x48, 0x89, 0x03, 0x48, 0x89, 0x02, 0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0xeb, 0xf1};
const uint8_t kLoadLoop[] = {0x48, 0x8b, 0x03, 0x48, 0x89, 0x02, 0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0xeb, 0xf1};
// A sweep of rcx pages from rbx, then one MMIO exit:
// 1: mov [rbx], rax; add rbx, 4096; dec rcx; jnz 1b; mov [rdx], rax
const uint8_t kSweep[] = {0x48, 0x89, 0x03, 0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0x48, 0xff, 0xc9, 0x75, 0xf1, 0x48, 0x89, 0x02};
constexpr int kSweepPages = 256;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Guest {
  std::shared_ptr<MemoryFile> file;
  GuestMemory memory;
  Vm vm;
  Vcpu vcpu;
  Guest(const KvmSystem& system, const uint8_t* code, size_t size)
      : file(std::make_shared<MemoryFile>(kRam)), memory(file), vm(system, memory), vcpu(vm, 0) {
    memory.Populate(kRam);
    WriteLongModeTables(memory, 0x200000);
    memory.Write(kCode, std::span(code, size));
    vcpu.SetCpuid(GuestCpuid(system.SupportedCpuid()));
    kvm_sregs s = LongModeSregs(kvm_sregs{});
    s.cs.selector = kUserCodeSelector;
    s.cs.dpl = 3;
    s.ss.selector = s.ds.selector = s.es.selector = kUserDataSelector;
    s.ss.dpl = s.ds.dpl = s.es.dpl = 3;
    vcpu.SetSregs(s);
    kvm_regs r{};
    r.rip = kCode;
    r.rbx = kTarget;
    r.rdx = kDevices;
    r.rsp = 0x300000;
    r.rflags = 0x202;
    vcpu.SetRegs(r);
  }
  // Runs to the next exit; returns errno (0 at an exit).
  int RunOnce() {
    switch (vcpu.Run()) {
      case Vcpu::Stop::kExit: return 0;
      case Vcpu::Stop::kMemoryFault: return EFAULT;
      case Vcpu::Stop::kKicked: return EINTR;
    }
    return -1;
  }
  uint8_t* page(int i) { return memory.host() + kTarget + uint64_t(i) * 4096; }
};

void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "probe: %s\n", what.c_str());
    std::exit(1);
  }
}

// The baseline: every iteration one access and one MMIO exit.
double Baseline(const KvmSystem& system, const uint8_t* code, size_t size) {
  Guest g(system, code, size);
  for (int i = 0; i < 10; ++i) Expect(g.RunOnce() == 0, "baseline warm-up");
  Guest h(system, code, size);
  const auto t = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    Expect(h.RunOnce() == 0 && h.vcpu.run().exit_reason == KVM_EXIT_MMIO, "baseline exit");
  }
  return Us(Clock::now() - t) / kIterations;
}

// (a) mprotect the page the next iteration touches; KVM_RUN fails with EFAULT; decode the
// instruction at rip; unprotect; run again to the MMIO exit.
struct MprotectCosts {
  double per_iteration, mprotect_revoke, efault_run, decode, mprotect_restore, rerun;
  bool efault = false;
};

MprotectCosts Mprotect(const KvmSystem& system, const uint8_t* code, size_t size, int revoked_prot) {
  Guest g(system, code, size);
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  MprotectCosts c{};
  Clock::duration revoke{}, fault{}, decode{}, restore{}, rerun{};
  const auto t = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    auto t0 = Clock::now();
    Expect(mprotect(g.page(i), 4096, revoked_prot) == 0, "mprotect");
    auto t1 = Clock::now();
    const int err = g.RunOnce();
    auto t2 = Clock::now();
    if (err != EFAULT) {
      Expect(err == 0, "KVM_RUN failed with " + std::to_string(err));
      c.efault = false;  // the access did not fault (e.g. the mapping was not consulted)
    } else {
      c.efault = true;
    }
    // Decode at rip (guest-virtual = guest-physical here) and compute the address.
    const kvm_regs& r = g.vcpu.Regs();
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    Expect(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, g.memory.host() + r.rip, 15, &insn, ops)), "decode");
    ZydisRegisterContext context{};
    context.values[ZYDIS_REGISTER_RBX] = r.rbx;
    uint64_t address = 0;
    Expect(ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(&insn, &ops[insn.mnemonic == ZYDIS_MNEMONIC_MOV && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 0 : 1], r.rip, &context, &address)), "address");
    Expect(!c.efault || address == kTarget + uint64_t(i) * 4096, "decoded address");
    auto t3 = Clock::now();
    Expect(mprotect(g.page(i), 4096, PROT_READ | PROT_WRITE) == 0, "mprotect restore");
    auto t4 = Clock::now();
    if (c.efault) Expect(g.RunOnce() == 0 && g.vcpu.run().exit_reason == KVM_EXIT_MMIO, "re-run to the exit");
    auto t5 = Clock::now();
    revoke += t1 - t0;
    fault += t2 - t1;
    decode += t3 - t2;
    restore += t4 - t3;
    rerun += t5 - t4;
  }
  c.per_iteration = Us(Clock::now() - t) / kIterations;
  c.mprotect_revoke = Us(revoke) / kIterations;
  c.efault_run = Us(fault) / kIterations;
  c.decode = Us(decode) / kIterations;
  c.mprotect_restore = Us(restore) / kIterations;
  c.rerun = Us(rerun) / kIterations;
  return c;
}

// (c) What a page costs the vCPU that gets it back: a sweep that writes kSweepPages pages
// whose mapping was taken away and given back (mprotect none, then read-write, one call
// each, as a transfer away and back does), against the same sweep over pages it has mapped
// (KVM's page tables still hold them) and its very first sweep (first touches).
struct RefaultCosts {
  double first_touch, mapped, refault, revoke_range, restore_range;  // us per page; per call
};

RefaultCosts Refault(const KvmSystem& system) {
  Guest g(system, kSweep, sizeof kSweep);
  const auto sweep = [&] {
    kvm_regs r{};  // (the synced registers hold nothing before the first run)
    r.rdx = kDevices;
    r.rsp = 0x300000;
    r.rflags = 0x202;
    r.rip = kCode;
    r.rbx = kTarget;
    r.rcx = kSweepPages;
    g.vcpu.SetRegs(r);
    const auto t = Clock::now();
    const int err = g.RunOnce();
    Expect(err == 0 && g.vcpu.run().exit_reason == KVM_EXIT_MMIO, "sweep to its exit: errno " + std::to_string(err) + " exit " + std::to_string(g.vcpu.run().exit_reason) + " rip " + std::to_string(g.vcpu.Regs().rip));
    return Us(Clock::now() - t) / kSweepPages;
  };
  RefaultCosts c{};
  c.first_touch = sweep();
  constexpr int kRounds = 20;
  Clock::duration revoke{}, restore{};
  for (int i = 0; i < kRounds; ++i) {
    c.mapped += sweep() / kRounds;
    const auto t0 = Clock::now();
    Expect(mprotect(g.page(0), uint64_t{kSweepPages} * 4096, PROT_NONE) == 0, "mprotect none");
    const auto t1 = Clock::now();
    Expect(mprotect(g.page(0), uint64_t{kSweepPages} * 4096, PROT_READ | PROT_WRITE) == 0, "mprotect back");
    const auto t2 = Clock::now();
    revoke += t1 - t0;
    restore += t2 - t1;
    c.refault += sweep() / kRounds;
  }
  c.revoke_range = Us(revoke) / kRounds;
  c.restore_range = Us(restore) / kRounds;
  return c;
}

void SetSlot(Vm& vm, uint32_t slot, uint64_t gpa, uint64_t size, uint8_t* host, uint32_t flags) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(host);
  Expect(ioctl(vm.fd(), KVM_SET_USER_MEMORY_REGION, &r) == 0, "KVM_SET_USER_MEMORY_REGION: " + std::string(std::strerror(errno)));
}

// (b) the page the next iteration touches moves into a slot of its own, read-only (or no
// slot at all); the access exits as MMIO with its address; the VMM completes it and puts
// the page back into a writable slot.
struct SlotCosts {
  double per_iteration, slot_ops, mmio_exit, rerun, touch_after_us, touch_before_us;
  bool readonly_exit_has_address = false;
};

SlotCosts Slots(const KvmSystem& system, const uint8_t* code, size_t size, bool absent) {
  Guest g(system, code, size);
  // Slot 0 is all of RAM (Vm's); split: [0, kTarget) slot 0, each target page its own slot
  // would exceed the slot limit, so one movable slot: 1 = the page, 2 = the rest above it.
  SlotCosts c{};
  Clock::duration ops{}, exit{}, rerun{};
  uint8_t* host = g.memory.host();
  const auto t = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    const uint64_t page = kTarget + uint64_t(i) * 4096;
    auto t0 = Clock::now();
    // Carve the page out: slot 0 below it, slot 2 above it, slot 1 the page (read-only) or none.
    SetSlot(g.vm, 0, 0, 0, host, 0);  // delete
    SetSlot(g.vm, 0, 0, page, host, 0);
    SetSlot(g.vm, 2, page + 4096, kRam - page - 4096, host + page + 4096, 0);
    if (!absent) SetSlot(g.vm, 1, page, 4096, host + page, KVM_MEM_READONLY);
    auto t1 = Clock::now();
    Expect(g.RunOnce() == 0, "slot run");
    const kvm_run& run = g.vcpu.run();
    Expect(run.exit_reason == KVM_EXIT_MMIO, "the protected access should exit as MMIO");
    c.readonly_exit_has_address = run.mmio.phys_addr == page;
    Expect(run.mmio.phys_addr == page, "MMIO exit at the page");
    if (!run.mmio.is_write) {
      std::memcpy(g.vcpu.run().mmio.data, host + page, run.mmio.len);
    } else {
      std::memcpy(host + page, run.mmio.data, run.mmio.len);
    }
    auto t2 = Clock::now();
    // Back to one slot.
    if (!absent) SetSlot(g.vm, 1, page, 0, host + page, KVM_MEM_READONLY);
    SetSlot(g.vm, 2, page + 4096, 0, host + page + 4096, 0);
    SetSlot(g.vm, 0, 0, 0, host, 0);
    SetSlot(g.vm, 0, 0, kRam, host, 0);
    auto t3 = Clock::now();
    Expect(g.RunOnce() == 0 && g.vcpu.run().exit_reason == KVM_EXIT_MMIO && g.vcpu.run().mmio.phys_addr == kDevices, "to the devices exit");
    auto t4 = Clock::now();
    ops += (t1 - t0) + (t3 - t2);
    exit += t2 - t1;
    rerun += t4 - t3;
  }
  c.per_iteration = Us(Clock::now() - t) / kIterations;
  c.slot_ops = Us(ops) / kIterations;
  c.mmio_exit = Us(exit) / kIterations;
  c.rerun = Us(rerun) / kIterations;
  return c;
}

}  // namespace

int main() {
  const KvmSystem system = KvmSystem::Open();
  std::printf("KVM_CAP_NR_MEMSLOTS %d, KVM_CAP_READONLY_MEM %d, KVM_CAP_USER_MEMORY2 %d\n", system.Extension(KVM_CAP_NR_MEMSLOTS),
              system.Extension(KVM_CAP_READONLY_MEM), system.Extension(233));
  for (int round = 0; round < 3; ++round) {
    const RefaultCosts r = Refault(system);
    std::printf("round %d: a sweep of %d pages, us per page: first touch %.1f, mapped %.2f, after mprotect none and back %.1f "
                "(mprotect of the %d pages: none %.1f us, back %.1f us)\n",
                round, kSweepPages, r.first_touch, r.mapped, r.refault, kSweepPages, r.revoke_range, r.restore_range);
  }
  for (int round = 0; round < 3; ++round) {
    std::printf("round %d (%d iterations each, us per iteration)\n", round, kIterations);
    const double store = Baseline(system, kStoreLoop, sizeof kStoreLoop);
    const double load = Baseline(system, kLoadLoop, sizeof kLoadLoop);
    std::printf("  baseline (one access + one MMIO exit): store %.1f, load %.1f\n", store, load);
    for (const auto& [name, code, size, prot, base] :
         {std::tuple{"(a) write, PROT_READ", kStoreLoop, sizeof kStoreLoop, PROT_READ, store},
          std::tuple{"(a) read, PROT_NONE", kLoadLoop, sizeof kLoadLoop, PROT_NONE, load}}) {
      const MprotectCosts c = Mprotect(system, code, size, prot);
      std::printf("  %s: %.1f (fault adds %.1f): mprotect %.1f, KVM_RUN to EFAULT %.1f, decode %.2f, mprotect back %.1f, re-run to exit %.1f%s\n",
                  name, c.per_iteration, c.per_iteration - base, c.mprotect_revoke, c.efault_run, c.decode, c.mprotect_restore,
                  c.rerun, c.efault ? "" : " [NO EFAULT: the access did not fault]");
    }
    for (const auto& [name, code, size, absent, base] :
         {std::tuple{"(b) write, read-only slot", kStoreLoop, sizeof kStoreLoop, false, store},
          std::tuple{"(b) read, no slot", kLoadLoop, sizeof kLoadLoop, true, load}}) {
      const SlotCosts c = Slots(system, code, size, absent);
      std::printf("  %s: %.1f (fault adds %.1f): slot ioctls %.1f (7 or 8), KVM_RUN to MMIO exit %.1f, re-run to exit %.1f\n", name,
                  c.per_iteration, c.per_iteration - base, c.slot_ops, c.mmio_exit, c.rerun);
    }
  }
  return 0;
}
