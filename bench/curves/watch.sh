#!/usr/bin/env bash
# watch.sh - while the curve runs train (bench/curves/run.sh starts it beside them):
#
#   bench/curves/watch.sh RUNS_DIR [LEAD]
#
# Every 10 s, for each RUNS_DIR/<name>.pid that is still running: the steps its train.log has logged
# and the CPU seconds the process (and its DataLoader worker) has used (/proc/<pid>/stat utime+stime,
# children included once they exit) -> a line "wall_s cpu_s steps" in RUNS_DIR/<name>.cpu, from which
# check.py gives CPU seconds per step (single-threaded runs on a shared machine: wall time per step
# measures the other jobs as much as the run).
# Balancing: only the steps every run reached are compared, so a bv2 run more than LEAD (default 10)
# steps ahead of the slowest torch-s<seed> run is paused (SIGSTOP) until that one catches up
# (SIGCONT), leaving the shared cores to the runs that bound the common length. Everything is
# continued when the watch ends (all runs gone, or SIGINT/SIGTERM).
set -uo pipefail
RUNS=${1:?usage: watch.sh RUNS_DIR [LEAD]}
LEAD=${2:-10}
TCK=$(getconf CLK_TCK)
t0=$(date +%s)

steps_of() {  # lines "[... step, lr]" in a train.log = steps logged (log_interval 1)
    local n  # grep -c prints 0 AND fails when nothing matches: "|| echo 0" would print a second 0
    n=$(grep -cE $'\tINFO\t\\[[-0-9.e+, ]+\\]$' "$1/train.log" 2>/dev/null)
    echo "${n:-0}"
}
cpu_of() {  # utime + stime (+ children's) of a pid and of its children, in seconds
    local p=$1 total=0 c
    for c in $p $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        [ -r /proc/"$c"/stat ] || continue
        total=$((total + $(sed 's/^.*) //' /proc/"$c"/stat | awk '{print $12 + $13 + $14 + $15}')))
    done
    echo "$total"
}
resume_all() {
    for f in "$RUNS"/bv2-*.pid; do [ -f "$f" ] && kill -CONT "$(cat "$f")" 2>/dev/null; done
}
trap 'resume_all; exit 0' INT TERM
while :; do
    alive=0
    min_torch=""
    declare -A st=()
    for f in "$RUNS"/*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        pid=$(cat "$f")
        kill -0 "$pid" 2>/dev/null || continue
        alive=$((alive + 1))
        s=$(steps_of "$RUNS/$name")
        st[$name]=$s
        c=$(cpu_of "$pid")
        echo "$(($(date +%s) - t0)) $(awk -v c="$c" -v t="$TCK" 'BEGIN{printf "%.1f", c / t}') $s" >> "$RUNS/$name.cpu"
        case "$name" in torch-s*) if [ -z "$min_torch" ] || [ "$s" -lt "$min_torch" ]; then min_torch=$s; fi ;; esac
    done
    [ "$alive" = 0 ] && break
    for name in "${!st[@]}"; do
        case "$name" in bv2-*) ;; *) continue ;; esac
        pid=$(cat "$RUNS/$name.pid")
        if [ -n "$min_torch" ] && [ "${st[$name]}" -gt $((min_torch + LEAD)) ]; then
            kill -STOP "$pid" 2>/dev/null
        else
            kill -CONT "$pid" 2>/dev/null
        fi
    done
    unset st
    sleep 10
done
resume_all
