#!/bin/sh
# The text views of a fixed snapshot match their golden files: chunk
# positions are heap-relative, so only this file's content decides them.
# Regenerate after an intended change with REGENERATE=1.
. "$(dirname "$0")/common.sh"

golden() {
    name=$1
    shift
    "$HEAPVIZ" "$@" "$HVSRC/golden_input.json" >"$WORK/$name.txt" 2>&1
    if [ "${REGENERATE:-0}" = 1 ]; then
        cp "$WORK/$name.txt" "$HVSRC/golden_$name.txt"
    fi
    if diff -u "$HVSRC/golden_$name.txt" "$WORK/$name.txt" >"$WORK/$name.diff"; then
        ok "golden $name"
    else
        fail "golden $name differs:"
        head -40 "$WORK/$name.diff" >&2
    fi
}
golden text --no-color
golden bins --bins
golden chunks --chunks --arena 1
# colour only when asked (or on a terminal)
"$HEAPVIZ" --color "$HVSRC/golden_input.json" >"$WORK/color.txt"
check "--color uses ANSI colours" grep -q "$(printf '\033')\[" "$WORK/color.txt"
check "plain output has no escapes" sh -c '! grep -q "$(printf "\033")" "$0"' "$WORK/text.txt"
# --range keeps only chunks in the range
lo=$(grep -o '"chunks_start":"0x[0-9a-f]*"' "$HVSRC/golden_input.json" | head -1 | grep -o '0x[0-9a-f]*')
hi=$(printf '0x%x' $((lo + 0x100)))
"$HEAPVIZ" --chunks --range "$lo:$hi" "$HVSRC/golden_input.json" >"$WORK/range.txt"
n=$(grep -c '^    h[0-9]' "$WORK/range.txt")
check "--range selects a few chunks ($n)" test "$n" -ge 1 -a "$n" -le 10
finish
