# The CREW core's stand-alone tests, in a plain build and a ThreadSanitizer build.
# From the repository root:  make -f native/tools/crew_test.mk [run]; each program lists its
# tests (--list) and runs one by name (--run NAME), as test/crew-core.test.ts does.
BUILD ?= build/crew
CXX ?= g++
CXXFLAGS_COMMON := -std=c++20 -g -Wall -Wextra -Werror -pthread -Inative
SOURCES := $(sort $(wildcard native/crew/*.cc)) native/machine/vcpu_scheduler.cc native/tools/crew_test.cc
HEADERS := $(wildcard native/crew/*.h native/replay/*.h) native/machine/vcpu_scheduler.h native/tools/test_harness.h

.PHONY: all run clean
all: $(BUILD)/crew_test $(BUILD)/crew_test_tsan

$(BUILD)/crew_test: $(SOURCES) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS_COMMON) -O2 $(SOURCES) -o $@

$(BUILD)/crew_test_tsan: $(SOURCES) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CXX) $(CXXFLAGS_COMMON) -O1 -fsanitize=thread $(SOURCES) -o $@

run: all
	$(BUILD)/crew_test
	CREW_TEST_QUICK=1 TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(BUILD)/crew_test_tsan

clean:
	rm -rf $(BUILD)
