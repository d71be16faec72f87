#!/usr/bin/env bash
# Sets rrkit up from nothing on a Debian machine, as root: Debian packages, npm packages and
# the native addon (npm ci), and the guest workloads. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*" >&2; }
fail() { printf '\nsetup.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages: a C/C++ toolchain for the addon, cairo/pango/jpeg/gif/rsvg headers for
# chartjs-node-canvas (node-canvas builds from source here), the RISC-V cross compiler for
# the rv64 guests, QEMU as the independent oracle, clang for the log decoder's fuzz target,
# zlib for the log's deflated chunks.
packages=(
  build-essential python3 pkg-config make zlib1g-dev
  libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev
  gcc-riscv64-linux-gnu qemu-system-misc
  clang libclang-rt-14-dev
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
step "npm ci (npm packages and the native addon, node $(node --version))"
npm ci --no-audit --no-fund || fail "npm ci failed (the addon's compiler errors are above)"

step "building the guest workloads (make -C guests)"
make -C guests -j"$(nproc)" || fail "building the guests failed"

step "done: try bin/rrkit demo, then npm test"
