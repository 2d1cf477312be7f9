#!/bin/sh
# Live snapshots of a busy multi-threaded process are consistent: the
# target is stopped for each read, so 20 snapshots in a row are complete
# and check finds no problem in any; it runs on after every read, also
# when heapviz is killed while it holds the target stopped.
#
# HEAPVIZ_LIVE_OPTS adds options to every read: with --no-stop (reading the
# process while it runs, as heapviz did before) this test fails.
. "$(dirname "$0")/common.sh"

BUSY=$top_builddir/tests/heapviz/hv_busy
OPTS=${HEAPVIZ_LIVE_OPTS:-}
[ -x "$BUSY" ] || { echo "$BUSY not built" >&2; exit 99; }

mkfifo "$WORK/busy.in" || exit 99
"$BUSY" "$WORK/count" <"$WORK/busy.in" &
BUSY_PID=$!
exec 4>"$WORK/busy.in"
busy_cleanup() {
    exec 4>&- 2>/dev/null
    kill -CONT "$BUSY_PID" 2>/dev/null
    wait "$BUSY_PID" 2>/dev/null
}
trap 'busy_cleanup; cleanup' EXIT

count() { tr -cd 0-9 <"$WORK/count" 2>/dev/null; }
# a letter per thread of the target: R, S, D, T (stopped), t (traced stop)...
states() { sed 's/.*) \(.\).*/\1/' /proc/"$BUSY_PID"/task/*/stat 2>/dev/null | tr -d '\n'; }
stopped() { case $(states) in *T* | *t*) return 0 ;; esac; return 1; }
# The target is not stopped and its operation counter advances.
runs_on() {
    stopped && return 1
    before=$(count)
    for _ in $(seq 40); do
        sleep 0.05
        now=$(count)
        [ -n "$now" ] && [ -n "$before" ] && [ "$now" -gt "$before" ] && return 0
    done
    return 1
}
for _ in $(seq 100); do
    [ -n "$(count)" ] && [ "$(count)" -gt 0 ] && break
    sleep 0.05
done
runs_on || { echo "the busy target does not run" >&2; exit 99; }

complete=0 clean=0 running=0
for i in $(seq 20); do
    # shellcheck disable=SC2086 # OPTS is a list of options
    "$HEAPVIZ" $OPTS --pid "$BUSY_PID" --json -o "$WORK/s$i.json" 2>>"$WORK/errors"
    if grep -q '"partial":false' "$WORK/s$i.json" && grep -q '"problems":\[\]' "$WORK/s$i.json"; then
        complete=$((complete + 1))
    else
        echo "snapshot $i: $(grep -o '"partial_reason":"[^"]*"' "$WORK/s$i.json") $(grep -o '"capture":{[^}]*}' "$WORK/s$i.json")"
    fi
    runs_on && running=$((running + 1))
    # shellcheck disable=SC2086
    "$HEAPVIZ" $OPTS check --pid "$BUSY_PID" >"$WORK/check$i.txt" 2>>"$WORK/errors"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^0 problems found' "$WORK/check$i.txt"; then
        clean=$((clean + 1))
    else
        echo "check $i: exit $rc, $(tail -1 "$WORK/check$i.txt")"
    fi
    runs_on && running=$((running + 1))
done
check "20 of 20 live snapshots complete ($complete)" test "$complete" -eq 20
check "check --pid: 0 problems in 20 of 20 ($clean)" test "$clean" -eq 20
check "the target ran on after all 40 reads ($running)" test "$running" -eq 40
check "stopped with ptrace (or SIGSTOP where ptrace is refused)" grep -q '"capture":{"stop":"\(ptrace\|signal\)"' "$WORK/s1.json"
check "no warnings on stderr" test ! -s "$WORK/errors"
"$HEAPVIZ" $OPTS frag --pid "$BUSY_PID" >"$WORK/frag.txt" 2>"$WORK/frag.err"
check "frag --pid: no partial warning" test ! -s "$WORK/frag.err"

# SIGSTOP/SIGCONT, as where ptrace is not allowed
sig_complete=0
for i in 1 2 3 4 5; do
    "$HEAPVIZ" $OPTS --sigstop --pid "$BUSY_PID" --json -o "$WORK/g$i.json" 2>>"$WORK/errors"
    grep -q '"partial":false' "$WORK/g$i.json" && grep -q '"problems":\[\]' "$WORK/g$i.json" &&
        sig_complete=$((sig_complete + 1))
done
check "--sigstop: 5 of 5 complete ($sig_complete)" test "$sig_complete" -eq 5
check "--sigstop: the snapshot says so" grep -q '"capture":{"stop":"signal"' "$WORK/g1.json"
check "--sigstop: the target runs on" runs_on

# ptrace refused (EPERM: another heapviz already traces the target) falls
# back to SIGSTOP; a target held by its tracer is read as it is
# shellcheck disable=SC2086
HEAPVIZ_TEST_HOLD_MS=1500 "$HEAPVIZ" $OPTS --pid "$BUSY_PID" --json -o "$WORK/tracer.json" 2>"$WORK/tracer.err" &
tracer=$!
# until the first one has read and only holds the target
for _ in $(seq 200); do
    grep -q 'holding the target' "$WORK/tracer.err" && break
    sleep 0.02
done
# shellcheck disable=SC2086
"$HEAPVIZ" $OPTS --pid "$BUSY_PID" --json -o "$WORK/second.json" 2>>"$WORK/errors"
check "ptrace refused: read with the signal fallback" grep -q '"capture":{"stop":"signal"' "$WORK/second.json"
check "ptrace refused: complete" grep -q '"partial":false' "$WORK/second.json"
wait "$tracer"
check "ptrace refused: the target runs on" runs_on

# killed while it holds the target stopped (a test hook keeps it stopped
# after the read): the target must run on
killed_mid_read() {
    how=$1 sig=$2
    shift 2
    # shellcheck disable=SC2086
    HEAPVIZ_TEST_HOLD_MS=10000 env --default-signal=INT,HUP "$HEAPVIZ" $OPTS "$@" --pid "$BUSY_PID" --json \
        -o "$WORK/held.json" 2>"$WORK/held.err" &
    hv=$!
    held=no
    for _ in $(seq 200); do
        if grep -q 'holding the target' "$WORK/held.err" && stopped; then held=yes; break; fi
        sleep 0.02
    done
    kill -s "$sig" "$hv"
    wait "$hv"
    rc=$?
    check "$how: heapviz held the target stopped" test "$held" = yes
    check "$how: heapviz died of SIG$sig (exit $rc)" test "$rc" -ge 128
    check "$how: the target runs on" runs_on
}
if env --default-signal=INT true 2>/dev/null; then
    killed_mid_read "SIGTERM, ptrace" TERM
    killed_mid_read "SIGINT, ptrace" INT
    killed_mid_read "SIGHUP, ptrace" HUP
    killed_mid_read "SIGKILL, ptrace (the kernel detaches)" KILL
    killed_mid_read "SIGTERM, SIGSTOP" TERM --sigstop
    killed_mid_read "SIGINT, SIGSTOP" INT --sigstop
else
    echo "env --default-signal missing: not testing heapviz killed mid-read"
fi
finish
