#!/usr/bin/env bash
# Builds one fuzz target with cargo-afl and fuzzes it for a while, niced.
#   fuzz/run.sh TARGET [MINUTES]      (default 10)
# Findings go to $AFL_OUT (default /tmp/afl-TARGET); see docs/fuzzing.md for
# minimizing the corpus and keeping a crash as a regression case.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?"usage: fuzz/run.sh TARGET [MINUTES]"}
minutes=${2:-10}
out=${AFL_OUT:-/tmp/afl-$target}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
nice -n 10 cargo afl build --release --bin "$target"
# Containers often pipe core dumps and pin no CPU governor; neither matters here.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
nice -n 19 cargo afl fuzz -i "corpus/$target" -o "$out" -V "$((minutes * 60))" \
  "$CARGO_TARGET_DIR/release/$target"
