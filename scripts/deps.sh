#!/usr/bin/env bash
# Installs, only when missing, the Debian 12 packages that building pmalloc
# and running its test suite need.  Quiet and idempotent when everything is
# already present; runs `apt-get update` at most once, and only when
# something has to be installed.  Needs root (or password-less sudo) only in
# that case.
set -euo pipefail

# Build: autotools, compilers, valgrind for the memcheck runs, libunwind
# for the allocation profile's stacks.
build_pkgs=(autoconf automake libtool pkg-config make gcc g++ clang valgrind libc6-dev libunwind-dev)
# Programs the integration tests and the demo run on top of pmalloc.
test_pkgs=(python3 git sqlite3 perl coreutils bash binutils file time)
# The manual pages' test renders them with man and groff; the heapviz
# page's test draws it in headless Chromium (and measures what it drew).
doc_pkgs=(man-db groff-base chromium)

missing=()
for pkg in "${build_pkgs[@]}" "${test_pkgs[@]}" "${doc_pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps.sh: installing missing packages: ${missing[*]}" >&2
if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "deps.sh: error: packages missing (${missing[*]}) and not running as root;" \
        "run 'sudo bash scripts/deps.sh' first" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -qq; then
    echo "deps.sh: error: apt-get update failed" >&2
    exit 1
fi
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "deps.sh: error: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
echo "deps.sh: installed ${missing[*]}" >&2
