# Workload for bash_script.sh: arrays, associative arrays, string
# operations, subshells, command substitution, here-strings, functions.
set -euo pipefail

# Indexed arrays: fill, slice, delete, sort through a pipeline.
declare -a nums=()
x=7
for ((i = 0; i < 20000; i++)); do
    x=$(((x * 1103515245 + 12345) % 2147483648))
    nums+=($((x % 100000)))
done
unset 'nums[5]' 'nums[500]' 'nums[5000]'
nums=("${nums[@]}")
echo "array: ${#nums[@]} elements, first ${nums[0]}, slice ${nums[*]:100:5}"
sum=0
for n in "${nums[@]}"; do sum=$((sum + n)); done
echo "array sum: $sum"
mapfile -t sorted < <(printf '%s\n' "${nums[@]:0:3000}" | sort -n)
echo "sorted: ${sorted[0]} .. ${sorted[-1]} (${#sorted[@]})"

# Associative arrays: counting and deleting.
declare -A count=()
for n in "${nums[@]}"; do
    key="k$((n % 613))"
    count[$key]=$((${count[$key]:-0} + 1))
done
for key in "${!count[@]}"; do
    ((count[$key] % 2 == 0)) && unset "count[$key]"
done
keys=$(printf '%s\n' "${!count[@]}" | sort | tr '\n' ' ')
echo "assoc: ${#count[@]} odd keys; first ${keys:0:40}"

# Strings: build a long one, then substitute, slice, change case.
s=""
for ((i = 0; i < 5000; i++)); do s+="w$i-"; done
t=${s//-/+}
u=${t^^}
v=${u,,}
w=${s:1000:60}
printf -v padded '%-20s|%08d|%x' "${s:0:10}" 4242 48879
echo "string: ${#s} ${#t} ${u:0:20} ${v:0:20} [$w] $padded"
trimmed=${s%%-w4999-}
prefix=${s#w0-w1-}
echo "patterns: ${#trimmed} ${#prefix} ${s/w2500-/[MID]-}" | cut -c1-80
IFS=- read -r -a parts <<<"${s:0:200}"
echo "split: ${#parts[@]} parts, last ${parts[-1]}"

# Functions, recursion, local variables.
fib() {
    local n=$1
    if ((n < 2)); then echo "$n"; return; fi
    echo $(($(fib $((n - 1))) + $(fib $((n - 2)))))
}
echo "fib 12 = $(fib 12)"

# Subshells and command substitution, pipes, process substitution.
total=0
for i in $(seq 1 40); do
    total=$((total + $(expr "$i" \* "$i")))
done
echo "squares: $total"
out=$( (for i in {1..300}; do echo "line $i"; done) | grep -c '7')
echo "subshell lines with 7: $out"
( cd / && echo "subshell pwd: $PWD" )
echo "back in: $(basename "$PWD")"
exec 3< <(printf 'a\nb\nc\n')
read -r first <&3
echo "process substitution: $first"
exec 3<&-
echo "stderr line from bash" >&2
printf '%s\n' "${nums[@]:0:2000}" | while read -r n; do echo $((n % 10)); done | sort | uniq -c |
    awk '{printf "%s:%s ", $2, $1} END {print ""}'
