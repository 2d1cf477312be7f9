# Common steps of scripts/test.sh and scripts/demo.sh.  Source it; it is
# not meant to be run.  All paths are relative to the repository root,
# which is where the caller must be (`cd "$(dirname "$0")/.."`).

PM_BUILD_DIR=${PM_BUILD_DIR:-build}
PM_JOBS=${PM_JOBS:-2}

pm_die() {
    echo "$(basename "$0"): error: $*" >&2
    exit 1
}

pm_note() {
    echo "==> $*" >&2
}

# Installs missing packages (a no-op when all are present).
pm_deps() {
    bash scripts/deps.sh || pm_die "scripts/deps.sh failed"
}

# True when ./configure must be regenerated: it is missing, or older than
# configure.ac, Makefile.am or any automake fragment (local.mk).
pm_configure_stale() {
    [[ -x configure ]] || return 0
    local f
    for f in configure.ac Makefile.am; do
        [[ "$f" -nt configure ]] && return 0
    done
    while IFS= read -r -d '' f; do
        [[ "$f" -nt configure ]] && return 0
    done < <(find . -path "./$PM_BUILD_DIR" -prune -o -path ./.git -prune \
        -o -name local.mk -type f -print0)
    return 1
}

# Runs a command with its output both shown and saved in a log file;
# returns the command's exit status (not tee's).
pm_logged() {
    local log=$1
    shift
    if "$@" 2>&1 | tee "$log"; then
        return 0
    else
        local -a st=("${PIPESTATUS[@]}")
        return $((st[0] != 0 ? st[0] : 1))
    fi
}

# Regenerates ./configure when needed, configures a VPATH build in
# $PM_BUILD_DIR and builds it.  Returns non-zero (with the reason on stderr)
# if any step fails; the build log is in $PM_BUILD_DIR/build.log.
pm_build() {
    if pm_configure_stale; then
        pm_note "autoreconf -fi"
        autoreconf -fi || { echo "autoreconf -fi failed" >&2; return 1; }
    fi
    mkdir -p "$PM_BUILD_DIR" || return 1
    if [[ ! -f "$PM_BUILD_DIR/Makefile" || ! -f "$PM_BUILD_DIR/config.status" ||
        configure -nt "$PM_BUILD_DIR/config.status" ]]; then
        pm_note "configure (in $PM_BUILD_DIR/)"
        if ! (cd "$PM_BUILD_DIR" && pm_logged configure.log ../configure); then
            echo "configure failed; see $PM_BUILD_DIR/config.log" >&2
            return 1
        fi
    fi
    pm_note "make -j$PM_JOBS"
    if ! (cd "$PM_BUILD_DIR" && pm_logged build.log make -j"$PM_JOBS"); then
        echo "make failed; see $PM_BUILD_DIR/build.log" >&2
        return 1
    fi
}

# Absolute path of the freshly built shared library.
pm_built_lib() {
    local lib="$PM_BUILD_DIR/.libs/libpmalloc.so"
    [[ -e "$lib" ]] || pm_die "$lib not found after the build"
    echo "$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")"
}
