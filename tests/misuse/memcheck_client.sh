#!/bin/sh
# memcheck.sh in its "client" mode: pmalloc's own allocator under
# memcheck, known to memcheck only through pmalloc's client requests.
: "${top_srcdir:=.}"
. "$top_srcdir/tests/misuse/memcheck.sh"
