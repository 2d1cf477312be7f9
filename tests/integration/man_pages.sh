#!/usr/bin/env bash
# The manual pages the package installs, pmalloc(3), pmalloc-run(1) and
# heapviz(1):
#  1. each renders with `man -l` without a single warning from man or groff
#     (unknown macros, missing characters, bad escapes, lines that cannot
#     be broken);
#  2. each has NAME, SYNOPSIS, DESCRIPTION and SEE ALSO, and every page of
#     this package it refers to (name(section)) exists and is installed;
#  3. pmalloc(3) names every option of src/options.c's option table (its
#     PMALLOC_ and glibc spellings and its mallopt parameter), every
#     environment name of README's Options table, and every pmalloc_
#     function of include/pmalloc.h.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs man groff
pages=(doc/pmalloc.3 doc/pmalloc-run.1 doc/heapviz.1)
# The automake files that can install a page.
mk_files=("$top_srcdir/Makefile.am")
while IFS= read -r -d '' f; do mk_files+=("$f"); done < <(find "$top_srcdir" -name local.mk -print0)

for page in "${pages[@]}"; do
    src="$top_srcdir/$page"
    [[ -f "$src" ]] || hard_error "$src not found"
    name=$(basename "$page")
    warnings=$(MANWIDTH=80 man --warnings -l "$src" 2>&1 >/dev/null || echo "man exited with $?")
    if [[ -z "$warnings" ]]; then
        ok "$name: man -l renders it without warnings"
    else
        fail "$name: man -l warns:"
        head -n 10 <<<"$warnings" >&2
    fi
    MANWIDTH=80 man -l "$src" >"$WORK/$name.txt" 2>/dev/null || true
    for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
        check "$name: has a $section section" grep -qx "$section" "$WORK/$name.txt"
    done
    # Every page of this package it refers to exists and is installed (a
    # *_MANS variable lists it).  Hyphens are written \- in the source.
    refs=$(sed 's/\\-/-/g' "$src" | grep -oE '^\.BR (pmalloc|pmalloc-run|heapviz) \([0-9]\)' |
        sed 's/^\.BR \([^ ]*\) (\([0-9]\))/\1.\2/' | sort -u || true)
    for ref in $refs; do
        check "$name: refers to ${ref%.*}(${ref##*.}), which is doc/$ref" \
            test -f "$top_srcdir/doc/$ref"
        check "$name: doc/$ref is installed" \
            grep -qE "^[a-z0-9_]*MANS *[+]?= *.*doc/$ref" "${mk_files[@]}"
    done
done

# --- every option, parameter and function is in pmalloc(3) ---------------
# (Looked up in the source, without font escapes, since the rendered text
# may hyphenate a long name across two lines.)
man3="$WORK/pmalloc.3.words"
sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$top_srcdir/doc/pmalloc.3" >"$man3"
options_c="$top_srcdir/src/options.c"
[[ -f "$options_c" ]] || hard_error "$options_c not found"
# The table runs from "option_table[] = {" to the first "};".
sed -n '/option_table\[\] = {/,/^};/p' "$options_c" >"$WORK/table.c"
env_names=$(grep -oE '"(PMALLOC|MALLOC)_[A-Z_]*"' "$WORK/table.c" | tr -d '"' | sort -u)
params=$(grep -oE '(^|[^A-Z_])(M|PM_M)_[A-Z_]+' "$WORK/table.c" | grep -oE '(PM_)?M_[A-Z_]+' |
    sed 's/^PM_M_/PMALLOC_M_/' | sort -u)
n_env=$(wc -w <<<"$env_names")
n_params=$(wc -w <<<"$params")
if ((n_env < 10 || n_params < 8)); then
    hard_error "found only $n_env names and $n_params mallopt parameters in $options_c's" \
        "option_table: has its layout changed? (update this test)"
fi
readme_names=$(grep -oE '^\| `PMALLOC_[A-Z_]+`' "$top_srcdir/README.md" | tr -d '|` ' | sort -u)
((${#readme_names} > 0)) || hard_error "no option table found in README.md"
api_names=$(grep -oE '\bpmalloc_[a-z_]+\(' "$top_srcdir/include/pmalloc.h" | tr -d '(' | sort -u)
missing=""
for n in $(printf '%s\n' $env_names $params $readme_names $api_names | sort -u); do
    grep -qw -- "$n" "$man3" || missing+="$n "
done
if [[ -z "$missing" ]]; then
    ok "pmalloc.3 names all $n_env environment names and $n_params mallopt parameters" \
        "of the option table, README's options and the pmalloc_ functions"
else
    fail "pmalloc.3 does not mention: $missing"
fi
finish
