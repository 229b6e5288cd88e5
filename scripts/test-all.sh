#!/usr/bin/env bash
# Runs every test: formatting and lints, unit and integration tests on SQLite,
# the server suite again on PostgreSQL, then the browser tests in Chromium on
# both databases.
#
# PostgreSQL: SWITCHBOARD_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test);
# each test creates and drops its own database there. With CI=true nothing may
# be skipped: a missing PostgreSQL or Chromium is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=${CI:-false}
pg_url=${SWITCHBOARD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}

step() { printf '\n== %s\n' "$*"; }
skip_or_fail() {
  if [ "$ci" = "true" ]; then
    echo "FAIL: $* (CI=true: nothing may be skipped)" >&2
    exit 1
  fi
  echo "SKIPPED: $*" >&2
}

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "unit and integration tests (SQLite)"
cargo nextest run --workspace --no-fail-fast

step "server tests on PostgreSQL"
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  # --workspace keeps feature unification identical to the SQLite pass (no rebuild).
  SWITCHBOARD_TEST_POSTGRES="$pg_url" cargo nextest run --workspace -E "package(switchboard)" --no-fail-fast
else
  skip_or_fail "PostgreSQL is not reachable at 127.0.0.1:5432"
fi

step "browser tests (Chromium)"
cargo build --workspace
if [ -x /usr/bin/chromium ] && [ -d e2e/node_modules/playwright-core ]; then
  (cd e2e && npm test)
  step "browser tests (Chromium) on PostgreSQL"
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && command -v psql >/dev/null; then
    (cd e2e && SWITCHBOARD_TEST_POSTGRES="$pg_url" npm test)
  else
    skip_or_fail "browser tests on PostgreSQL need PostgreSQL at 127.0.0.1:5432 and psql"
  fi
else
  skip_or_fail "browser tests need /usr/bin/chromium and e2e/node_modules (run: bash .ci/run, or apt-get install chromium && (cd e2e && npm ci))"
fi

step "all tests passed"
