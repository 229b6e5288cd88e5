#!/usr/bin/env bash
# Merges a fuzzer's findings into a target's corpus and minimizes the result
# with afl-cmin (the smallest set of inputs with the same coverage).
#   fuzz/cmin.sh TARGET [AFL_OUT]     (default /tmp/afl-TARGET)
# Crashes are not merged: fix them, then copy each into corpus/TARGET by hand
# under a name that says what it was (crash_...), which cmin keeps as is.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?"usage: fuzz/cmin.sh TARGET [AFL_OUT]"}
out=${2:-/tmp/afl-$target}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# cargo-afl's own afl-showmap first: an older one on PATH (Debian's afl++)
# lacks options afl-cmin uses.
afl_bin=$(ls -d "$HOME"/.local/share/afl.rs/rustc-*/afl.rs-*/afl/bin | tail -1)
export PATH="$afl_bin:$PATH" AFL_SKIP_CPUFREQ=1
pool=$(mktemp -d)
trap 'rm -rf "$pool"' EXIT
cp "corpus/$target"/* "$pool/"
cp "$out"/default/queue/id:* "$pool/" 2>/dev/null || true
rm -rf "$pool.min"
# The bash afl-cmin: the Python one finds no tuples with these binaries.
# -e: edge coverage only, not hit counts, which keeps the corpus small.
nice -n 19 afl-cmin.bash -e -i "$pool" -o "$pool.min" -- "$CARGO_TARGET_DIR/release/$target" \
  | tr "\r" "\n" | grep -v "Processing" || true
[ -n "$(ls -A "$pool.min" 2>/dev/null)" ] || {
  echo "afl-cmin kept nothing; corpus/$target left as it was" >&2
  exit 1
}
# Keep the named regression inputs whatever their coverage.
cp "corpus/$target"/crash_* "$pool.min/" 2>/dev/null || true
# The fuzzer's long names (id:...,src:...,op:...) become content hashes.
for f in "$pool.min"/id:*; do
  [ -e "$f" ] && mv "$f" "$pool.min/$(sha1sum <"$f" | cut -c1-16)"
done
rm -rf "corpus/$target"
mv "$pool.min" "corpus/$target"
ls "corpus/$target" | wc -l
