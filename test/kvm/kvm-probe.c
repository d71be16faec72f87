/*
 * KVM probe: proves that /dev/kvm runs guest code where the KVM tests run. Creates a VM with
 * one vCPU and 16 KiB of memory, runs a real-mode guest that computes a value, stores it,
 * writes two bytes of it to I/O ports and halts, and prints one line per fact observed:
 *
 *   api 12
 *   exit io out port 0x10 size 1 value 0x35
 *   exit io out port 0x11 size 1 value 0x13
 *   exit hlt
 *   memory 0x2000 0x1335
 *
 * Any failure prints "error WHAT: REASON" and exits 1. test/kvm/kvm-probe.test.ts compiles
 * and runs it; the kvm engine's own tests join it under test/kvm/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

enum { MEMORY_BYTES = 0x4000, CODE_ADDRESS = 0x1000, DATA_ADDRESS = 0x2000, MAX_EXITS = 16 };

/* 16-bit real-mode code; the expected results are in the comment at the top. */
static const uint8_t GUEST_CODE[] = {
    0xb8, 0x34, 0x12, /* mov ax, 0x1234 */
    0x05, 0x01, 0x01, /* add ax, 0x0101     -> 0x1335 */
    0xa3, 0x00, 0x20, /* mov [0x2000], ax */
    0xba, 0x10, 0x00, /* mov dx, 0x10 */
    0xee,             /* out dx, al         -> port 0x10, 0x35 */
    0x88, 0xe0,       /* mov al, ah */
    0xe6, 0x11,       /* out 0x11, al       -> port 0x11, 0x13 */
    0xf4,             /* hlt */
};

static void fail(const char *what) {
  printf("error %s: %s\n", what, strerror(errno));
  exit(1);
}

static int checked_ioctl(int fd, unsigned long request, void *arg, const char *what) {
  int result = ioctl(fd, request, arg);
  if (result < 0) fail(what);
  return result;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) fail("open /dev/kvm");
  printf("api %d\n", checked_ioctl(kvm, KVM_GET_API_VERSION, NULL, "KVM_GET_API_VERSION"));

  int vm = checked_ioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
  uint8_t *memory = mmap(NULL, MEMORY_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) fail("mmap guest memory");
  memcpy(memory + CODE_ADDRESS, GUEST_CODE, sizeof GUEST_CODE);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = MEMORY_BYTES, .userspace_addr = (uintptr_t)memory};
  checked_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

  int vcpu = checked_ioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
  int run_size = checked_ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) fail("mmap kvm_run");

  struct kvm_sregs sregs;
  checked_ioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  sregs.ds.base = 0;
  sregs.ds.selector = 0;
  checked_ioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = CODE_ADDRESS, .rflags = 0x2};
  checked_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

  for (int exits = 0; exits < MAX_EXITS; exits++) {
    checked_ioctl(vcpu, KVM_RUN, NULL, "KVM_RUN");
    switch (run->exit_reason) {
      case KVM_EXIT_IO: {
        const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
        printf("exit io %s port 0x%x size %u value 0x%x\n", run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
               run->io.port, run->io.size, data[0]);
        break;
      }
      case KVM_EXIT_HLT: {
        printf("exit hlt\n");
        uint16_t stored;
        memcpy(&stored, memory + DATA_ADDRESS, sizeof stored);
        printf("memory 0x%x 0x%x\n", DATA_ADDRESS, stored);
        return 0;
      }
      case KVM_EXIT_INTR:
        break;
      default:
        printf("error unexpected exit reason %u\n", run->exit_reason);
        return 1;
    }
  }
  printf("error no hlt after %d exits\n", MAX_EXITS);
  return 1;
}
