#!/bin/sh
# run.sh - run every libFuzzer harness built in build-fuzz/ for FUZZ_SECONDS each, in turn
# (`make fuzz FUZZ_SECONDS=N` builds them and calls this). One target: fuzz/run.sh <target>...
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, read only) plus a working
# corpus in build-fuzz/corpus/<target>/ that keeps what earlier runs found. A crash, leak, UBSan
# report, timeout (> FUZZ_TIMEOUT s per input) or RSS over FUZZ_RSS_MB leaves its input in
# build-fuzz/artifacts/<target>/ and makes the script exit 1 after the other targets ran.
# The parsers' own stderr (warnings, the golden reader's messages) is closed (-close_fd_mask=2);
# libFuzzer and the sanitizers still report to the log. The last line of each log (build-fuzz/logs/<target>.log) and the summary table give the
# executions and coverage (cov: edges, ft: features) reached.
set -u
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
RSS=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0}

# Longest input per format: a few times the largest real file of the kind we seed with.
max_len() {
    case $1 in
    pth|golden|wav|weights) echo 65536 ;;
    pickle|safetensors|lexicon) echo 16384 ;;
    lines) echo 4096 ;;
    config|yaml|filelist) echo 8192 ;;
    text|zh|ja|btok) echo 2048 ;;
    *) echo 4096 ;;
    esac
}

if [ $# -gt 0 ]; then targets="$*"; else
    targets=$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_||; s|\.c$||')
fi
mkdir -p "$B/logs"
status=0
summary="${FUZZ_SUMMARY:-$B/logs/summary.txt}"
printf '%-12s %8s %12s %8s %8s  %s\n' target seconds execs cov ft result > "$summary"
for t in $targets; do
    bin="$B/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz: $bin not built (make fuzz-build)" >&2; exit 2; }
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    log="$B/logs/$t.log"
    echo "fuzz: $t for ${SECONDS_EACH}s (log $log)"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS" -malloc_limit_mb="$RSS" -timeout="$TIMEOUT" \
        -max_len="$(max_len "$t")" -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" $dict \
        "$B/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then res=clean; else res="FAILED rc=$rc, see $log and $B/artifacts/$t/"; status=1; fi
    printf '%-12s %8s %12s %8s %8s  %s\n' "$t" "${secs:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$res" >> "$summary"
done
cat "$summary"
exit $status
