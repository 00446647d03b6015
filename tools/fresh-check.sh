#!/usr/bin/env bash
# Fresh-machine check: clone this repository's HEAD into a temporary folder (nothing of the team's
# beside it, as in a user's clone), bootstrap .venv with a chosen Python from nothing, run
# `make report` and `make test`, and print the wall time of each step against the targets
# (bootstrap + report < 180 s, test < 300 s).
#
#   PYTHON=python3.13 tools/fresh-check.sh        (or: make fresh-check PYTHON=python3.13)
#
# Environment: PYTHON (default python3); KEEP=1 keeps the folder; FRESH_PIP_CONFIG=keep uses this
# machine's pip configuration (by default it is ignored, as on a machine that has none, so the
# check shows the lock installs from PyPI alone); PIP_NO_CACHE_DIR=1 downloads every package again;
# FRESH_SAVE=DIR copies the run's metrics and tables to DIR; COMPARE=DIR fails unless this run's
# metrics and tables are byte-identical to DIR's (tools/compare_runs.py): two cold installs from
# the lock, same numbers.
# Only committed work is checked (the clone is of HEAD).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "fresh-check: no Python '$python' on PATH" >&2; exit 2; }
python=$(command -v "$python")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cx-isolated-XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
git -C "$src" diff --quiet HEAD -- || echo "fresh-check: uncommitted changes are not checked (cloning HEAD)" >&2
git clone -q --no-hardlinks "$src" "$tmp/cx-workspace"
[ ! -e "$tmp/shared" ] || { echo "fresh-check: $tmp/shared exists" >&2; exit 2; }
cd "$tmp/cx-workspace"

if [ "${FRESH_PIP_CONFIG:-ignore}" != keep ]; then
  export PIP_CONFIG_FILE=/dev/null
  unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_REQUIREMENT
fi

summary=()
step() {  # step NAME LOGFILE COMMAND...: run, keep the log, record the wall time
  local name=$1 log=$2; shift 2
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  summary+=("$(printf '%-34s %5s s' "$name" "$secs")")
  if [ "$rc" != 0 ]; then
    tail -n 40 "$log"
    printf '%s\n' "${summary[@]}"
    echo "fresh-check: $name failed (exit $rc); log: $log" >&2
    KEEP=1
    exit "$rc"
  fi
}

echo "fresh-check: $(git log -1 --format='%h %s' | cut -c1-70)"
echo "  in $tmp/cx-workspace with $("$python" --version 2>&1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
step "bootstrap (.venv from the lock)" "$tmp/install.log" make install PYTHON="$python"
boot=$secs
step "make report" "$tmp/report.log" make report
report=$secs
if [ -n "${FRESH_SAVE:-}" ]; then
  mkdir -p "$FRESH_SAVE" && cp -r reports/latest/metrics reports/latest/tables "$FRESH_SAVE"/
fi
same=""
if [ -n "${COMPARE:-}" ]; then  # checked now, reported at the end (make test still runs)
  same=$("$python" tools/compare_runs.py "$COMPARE" reports/latest 2>&1) && same_rc=0 || same_rc=1
fi
step "make test" "$tmp/test.log" make test
tests=$(grep -E '^[0-9]+ (passed|failed)' "$tmp/test.log" | paste -sd ';' -)

printf '%s\n' "${summary[@]}"
echo "cold bootstrap to finished report: $((boot + report)) s (target 180 s)"
echo "make test: $secs s (target 300 s); pytest: $tests"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$same" ]; then
  echo "results compared with $COMPARE:"
  echo "$same"
  [ "$same_rc" = 0 ] || { KEEP=1; exit 1; }
fi
