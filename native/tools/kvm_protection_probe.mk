# The page-protection probe (kvm_protection_probe.cc): what taking a page from a vCPU costs
# on this machine's /dev/kvm, by mprotect or by memory slots. Needs /dev/kvm and libzydis-dev.
#   make -f native/tools/kvm_protection_probe.mk && build/kvm-probe/kvm_protection_probe
CXX ?= g++
OUT = build/kvm-probe
SOURCES = native/tools/kvm_protection_probe.cc native/kvm/guest_memory.cc native/kvm/kvm_system.cc native/kvm/long_mode.cc \
          native/kvm/vm.cc native/kvm/vcpu.cc native/kvm/thread_kick.cc

$(OUT)/kvm_protection_probe: $(SOURCES) $(wildcard native/kvm/*.h)
	@mkdir -p $(OUT)
	$(CXX) -std=c++20 -O2 -Wall -Wextra -Werror -pthread -Inative -o $@ $(SOURCES) -lZydis

.PHONY: clean
clean:
	rm -rf $(OUT)
