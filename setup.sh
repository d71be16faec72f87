#!/usr/bin/env bash
# Sets rrkit up from nothing on a Debian machine, as root: Debian packages, npm packages, the
# native addon and the command's bundle (npm ci), and the guest workloads. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*" >&2; }
fail() { printf '\nsetup.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages: a C/C++ toolchain for the addon, cairo/pango/jpeg/gif/rsvg headers for
# chartjs-node-canvas (node-canvas builds from source here) and a font for the charts' text
# (`npm run experiments`), the RISC-V cross compiler for the rv64 guests, QEMU as the
# independent oracle and the experiments' comparison, clang for the log decoder's fuzz target,
# zlib for the log's deflated chunks, Zydis for the kvm engine's SMP recording (it decodes
# the instruction that faulted on a protected page, docs/kvm-smp.md).
# Chromium for the test that opens `rrkit log timeline --html` headless (test/timeline-html.test.ts).
# iproute2 for the replication tests that put a backup in a network namespace behind a veth
# pair (test/replication-netns.test.ts, experiments/lib/netns.ts); etcd-server for the
# replication lease in etcd (`--etcd`), which its tests start on loopback (experiments/lib/etcd-server.ts).
packages=(
  build-essential python3 pkg-config make zlib1g-dev
  libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev fonts-dejavu-core
  gcc-riscv64-linux-gnu qemu-system-misc
  clang libclang-rt-14-dev
  libzydis-dev
  chromium
  iproute2
  etcd-server
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || fail "needs root to install: ${missing[*]}"
  step "installing Debian packages: ${missing[*]}"
  apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "apt-get install failed for: ${missing[*]}"
else
  step "Debian packages already installed"
fi

command -v node >/dev/null || fail "node is not installed (rrkit needs Node.js >= 20.19)"
step "npm ci (npm packages, the native addon and the command's bundle, node $(node --version))"
npm ci --no-audit --no-fund || fail "npm ci failed (the addon's compiler errors are above)"
[[ -f dist/rrkit.mjs ]] || fail "npm ci did not build dist/rrkit.mjs (npm run build)"

step "building the guest workloads (make -C guests)"
make -C guests -j"$(nproc)" || fail "building the guests failed"

# The KVM tests (test/kvm/) need a usable /dev/kvm. Without one (or with RRKIT_KVM_SANDBOX=1)
# they run inside QEMU's emulation of an AMD CPU, where Debian's own kernel provides KVM
# (docs/testing.md): QEMU, a static busybox, and the kernel package, fetched and unpacked into
# .cache/kvm-sandbox/ by the sandbox's prepare step (not installed).
sandbox_cli=(node_modules/.bin/tsx test/kvm-sandbox/cli.ts)
placement=$("${sandbox_cli[@]}" placement) || fail "could not tell where the KVM tests run"
if [[ $placement == sandbox ]]; then
  sandbox_packages=(qemu-system-x86 busybox-static)
  missing=()
  for p in "${sandbox_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || fail "needs root to install: ${missing[*]}"
    step "installing the KVM sandbox's Debian packages: ${missing[*]}"
    apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || fail "apt-get install failed for: ${missing[*]}"
  fi
  step "preparing the KVM sandbox (kernel and initramfs in .cache/kvm-sandbox/)"
  if ! "${sandbox_cli[@]}" prepare; then
    # The kernel package may be unknown to stale package lists: refresh them once and retry.
    apt-get update -qq || fail "apt-get update failed"
    "${sandbox_cli[@]}" prepare || fail "preparing the KVM sandbox failed (its error is above)"
  fi
fi

step "done: try bin/rrkit demo, then npm test"
