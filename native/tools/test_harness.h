// The stand-alone C++ tests' harness: tests register by name; CHECK records a failure
// naming the file, line and condition (from any thread). A test program
//
//   PROGRAM             runs every test
//   PROGRAM --list      prints the test names, one per line
//   PROGRAM --run NAME  runs the one test called NAME
//
// and prints "PASS NAME" or "FAIL NAME" after each test (its failed checks above it), then
// "N passed, M failed"; it exits 0 only when every test it ran passed. test/native-tests.ts
// turns each test into its own vitest case.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace rrkit::testing {

struct Test {
  std::string name;
  std::function<void()> body;
};

inline std::vector<Test>& Registry() {
  static std::vector<Test> tests;
  return tests;
}

inline std::atomic<int>& FailedChecks() {
  static std::atomic<int> failed{0};
  return failed;
}

// Adds a test; names must be unique (they are how a test is run alone).
inline void Register(std::string name, std::function<void()> body) {
  for (const Test& t : Registry()) {
    if (t.name == name) {
      std::fprintf(stderr, "test harness: two tests are called \"%s\"\n", name.c_str());
      std::exit(2);
    }
  }
  Registry().push_back({std::move(name), std::move(body)});
}

struct Registrar {
  Registrar(const char* name, void (*body)()) { Register(name, body); }
};

inline void Fail(const char* file, int line, const std::string& what) {
  ++FailedChecks();
  std::fprintf(stdout, "  check failed at %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stdout);
}

// Runs the registered tests as argv asks (see the top of this file); returns the exit status.
inline int RunTests(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const Test& t : Registry()) std::printf("%s\n", t.name.c_str());
    return 0;
  }
  const char* only = nullptr;
  if (argc == 3 && std::strcmp(argv[1], "--run") == 0) {
    only = argv[2];
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--list | --run NAME]\n", argv[0]);
    return 2;
  }
  int passed = 0, failed = 0;
  for (const Test& t : Registry()) {
    if (only != nullptr && t.name != only) continue;
    const int before = FailedChecks().load();
    try {
      t.body();
    } catch (const std::exception& e) {
      Fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      Fail(__FILE__, __LINE__, "unexpected exception");
    }
    const bool ok = FailedChecks().load() == before;
    (ok ? passed : failed)++;
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", t.name.c_str());
    std::fflush(stdout);
  }
  if (only != nullptr && passed + failed == 0) {
    std::fprintf(stderr, "no test is called \"%s\" (--list shows them)\n", only);
    return 2;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace rrkit::testing

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) ::rrkit::testing::Fail(__FILE__, __LINE__, #cond);    \
  } while (0)

// A test with a function body: TEST(Identifier, "what it checks") { ... }
#define TEST(fn, name)                                                 \
  static void fn();                                                    \
  static const ::rrkit::testing::Registrar fn##_registrar(name, fn);   \
  static void fn()
