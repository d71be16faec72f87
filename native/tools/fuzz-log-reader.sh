#!/usr/bin/env bash
# Builds the libFuzzer target for the log reader and runs it for a bounded time, seeded with
# real logs written by the C++ writer (the fixtures of test/log-fixtures.ts).
#   native/tools/fuzz-log-reader.sh [SECONDS]     (default 60; also `npm run fuzz:log`)
# Crashing inputs are kept in native/tools/build/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
make fuzz
corpus=build/fuzz-corpus
mkdir -p "$corpus" build/fuzz-artifacts
# Seed logs: complete, incomplete, one-big-chunk.
node --import tsx -e "
  const { writeLog } = await import('../../test/log-fixtures.ts');
  writeLog('$corpus/seed-complete.rrlog');
  writeLog('$corpus/seed-incomplete.rrlog', { close: false });
  writeLog('$corpus/seed-big-chunks.rrlog', { maxChunkBytes: 4096 });
"
exec build/fuzz_log_reader "$corpus" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
  -artifact_prefix=build/fuzz-artifacts/ -print_final_stats=1
