#!/usr/bin/env bash
# git init/add/commit/branch/merge/log/fsck in a fresh repository, with a
# fixed identity and fixed dates so that commit ids are the same in every
# run; on glibc and on pmalloc the whole transcript must be identical.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs git awk

cat >"$WORK/git_session.sh" <<'SESSION'
set -euo pipefail
export HOME="$PWD/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Ada Tester" GIT_AUTHOR_EMAIL="ada@example.org"
export GIT_COMMITTER_NAME="Ada Tester" GIT_COMMITTER_EMAIL="ada@example.org"
mkdir home
tick=1700000000
commit() {
    tick=$((tick + 3600))
    GIT_AUTHOR_DATE="@$tick +0000" GIT_COMMITTER_DATE="@$tick +0000" \
        git commit -q "$@"
}
git -c init.defaultBranch=main init -q repo
cd repo
git config core.autocrlf false
git config gc.auto 0
# 300 files of varied size, generated deterministically.
mkdir -p src/a src/b docs
awk 'BEGIN {
    for (f = 0; f < 300; f++) {
        dir = (f % 3 == 0) ? "src/a" : (f % 3 == 1) ? "src/b" : "docs"
        path = sprintf("%s/file%03d.txt", dir, f)
        for (l = 0; l < 20 + (f * 37) % 400; l++)
            printf "file %d line %d value %d\n", f, l, (f * 7919 + l * 104729) % 1000003 > path
        close(path)
    }
}'
git add .
commit -m "Initial import of 300 files"
git log --oneline
sed -i 's/value 1/VALUE one/' src/a/*.txt
git rm -q docs/file002.txt docs/file005.txt
git mv src/b/file001.txt src/b/renamed001.txt
git add -A
commit -m "Edit, remove and rename files"
git checkout -q -b feature
printf 'feature line %d\n' $(seq 1 500) >feature.txt
git add feature.txt
commit -m "Add a feature file"
git checkout -q main
printf 'main line %d\n' $(seq 1 200) >>docs/file008.txt
commit -a -m "Grow docs/file008.txt"
tick=$((tick + 3600))
GIT_AUTHOR_DATE="@$tick +0000" GIT_COMMITTER_DATE="@$tick +0000" \
    git merge -q --no-ff -m "Merge feature" feature
git log --graph --stat --format='%H %an <%ae> %ad%n  %s' --date=iso-strict
git diff --stat HEAD~2 HEAD
git show --format='%T %s' HEAD~3 -- src/a/file000.txt
git rev-list --all --objects | sort | git hash-object --stdin
git grep -c "VALUE one" | sort | tail -n 5
git fsck --strict --no-progress
git count-objects | sed 's/, [0-9]* kilobytes//'
SESSION

run_both git bash "$WORK/git_session.sh"
compare_runs git
check "git: the merge commit is in the log" grep -q "Merge feature" "$WORK/git.plain.out"
check "git: five commits listed" \
    test "$(grep -cE '^[*|\\ /]*[0-9a-f]{40} Ada Tester' "$WORK/git.plain.out")" -eq 5
finish
