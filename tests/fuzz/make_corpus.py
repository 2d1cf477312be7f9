#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ops (tests/fuzz/corpus/): one small input
per operation, and a few mixed ones.  Each operation is 5 bytes:
op (low 4 bits; bit 4 = second thread), slot, size (u16 little-endian,
top 2 bits = scale), arg.  See fuzz_ops.c."""
import os, struct

MALLOC, CALLOC, REALLOC, FREE, MEMALIGN, POSIX_MEMALIGN, ALIGNED_ALLOC, VALLOC, \
    PVALLOC, USABLE, TRIM, MALLOPT, REALLOCARRAY, REALLOC0, FREEALL, MALLINFO = range(16)
T2 = 16

def size(scale, v):
    return struct.pack('<H', (scale << 14) | v)

def op(code, slot, scale, v, arg=0):
    return bytes([code, slot]) + size(scale, v) + bytes([arg])

seeds = {
    'malloc_free': op(MALLOC, 0, 0, 24) + op(MALLOC, 1, 1, 1000) + op(FREE, 0, 0, 0)
        + op(MALLOC, 2, 2, 100) + op(FREE, 1, 0, 0) + op(FREE, 2, 0, 0),
    'calloc': op(CALLOC, 3, 1, 4000, 3) + op(CALLOC, 4, 3, 600, 7) + op(FREE, 3, 0, 0),
    'realloc_grow_shrink': op(MALLOC, 5, 0, 40) + op(REALLOC, 5, 1, 3000) + op(REALLOC, 5, 2, 9000)
        + op(REALLOC, 5, 0, 16) + op(REALLOC, 5, 3, 1000) + op(REALLOC, 5, 1, 100),
    'memalign': op(MEMALIGN, 6, 1, 200, 6) + op(MEMALIGN, 7, 2, 50, 12) + op(MEMALIGN, 8, 0, 8, 0x85),
    'posix_memalign': op(POSIX_MEMALIGN, 9, 0, 100, 5) + op(POSIX_MEMALIGN, 10, 1, 4000, 13)
        + op(POSIX_MEMALIGN, 11, 0, 1, 2),
    'aligned_alloc': op(ALIGNED_ALLOC, 12, 0, 64, 8) + op(ALIGNED_ALLOC, 13, 3, 700, 16),
    'valloc_pvalloc': op(VALLOC, 14, 1, 10) + op(PVALLOC, 15, 1, 4097) + op(PVALLOC, 16, 0, 0),
    'usable_trim': op(MALLOC, 17, 2, 5000) + op(USABLE, 17, 0, 0) + op(FREE, 17, 0, 0) + op(TRIM, 0, 0, 0, 0)
        + op(TRIM, 0, 0, 0, 64),
    'mallopt': b''.join(op(MALLOPT, k, 0, 0, a) for k, a in
        [(0, 0), (1, 10), (2, 3), (3, 20), (4, 0xa5), (5, 0), (6, 10), (7, 0)])
        + op(MALLOC, 18, 0, 100) + op(MALLOC, 19, 3, 100) + op(FREE, 18, 0, 0) + op(FREE, 19, 0, 0),
    'reallocarray_realloc0': op(REALLOCARRAY, 20, 1, 800) + op(REALLOCARRAY, 20, 2, 800)
        + op(REALLOC0, 20, 0, 0) + op(MALLINFO, 0, 0, 0),
    'two_threads': op(MALLOC | T2, 21, 0, 24) + op(MALLOC | T2, 22, 1, 2000) + op(FREE, 21, 0, 0)
        + op(REALLOC, 22, 2, 3000) + op(MALLOC, 23, 0, 50) + op(FREE | T2, 23, 0, 0)
        + op(FREE | T2, 22, 0, 0),
    'fast_and_small_churn': b''.join(op(MALLOC, i, 0, 16 + 8 * i) for i in range(16))
        + b''.join(op(FREE, i, 0, 0) for i in range(0, 16, 2))
        + b''.join(op(MALLOC, i, 0, 200 - 8 * i) for i in range(0, 16, 2)) + op(FREEALL, 0, 0, 0),
    'large_mmap': op(MALLOC, 30, 3, 1000) + op(MALLOC, 31, 3, 16000) + op(FREE, 30, 0, 0)
        + op(MALLOC, 30, 3, 1200) + op(REALLOC, 31, 3, 200) + op(FREEALL, 0, 0, 0) + op(TRIM, 0, 0, 0),
    'tcache_fill_spill': b''.join(op(MALLOC, i, 0, 24) for i in range(12))
        + b''.join(op(FREE, i, 0, 0) for i in range(12)) + b''.join(op(MALLOC, i, 0, 24) for i in range(12)),
    # Several chunks of one large bin between guards, freed and sorted by a
    # bigger request (the skip-list links and their range checks), then
    # merges and a realloc grown into a freed neighbour (unlink).
    'largebin_sort_unlink': b''.join(op(MALLOC, 32 + 2 * i, 1, 1970 + 24 * i) + op(MALLOC, 33 + 2 * i, 0, 40)
                                     for i in range(4))
        + b''.join(op(FREE, 32 + 2 * i, 0, 0) for i in range(4)) + op(MALLOC, 40, 2, 2000)
        + op(MALLOC, 41, 1, 300) + op(MALLOC, 42, 1, 300) + op(MALLOC, 43, 0, 40) + op(FREE, 42, 0, 0)
        + op(REALLOC, 41, 1, 560) + op(FREE | T2, 41, 0, 0) + op(REALLOC, 43, 1, 900) + op(FREEALL, 0, 0, 0),
    # Blocks crossing threads (issue #15's double-free paths, run right):
    # cached by one thread, taken and freed by the other (so they cross
    # caches, spill into fast bins and reach the other arena's remote
    # list), cached blocks realloc'ed after reuse, and with the cache off
    # fast-bin chunks below a bin's head taken again.
    'held_free_cross_thread': b''.join(op(MALLOC, 44 + i, 0, 24) for i in range(10))
        + b''.join(op(FREE | T2, 44 + i, 0, 0) for i in range(10))
        + b''.join(op(MALLOC | T2, 44 + i, 0, 24) for i in range(10))
        + b''.join(op(FREE, 44 + i, 0, 0) for i in range(0, 10, 2))
        + b''.join(op(REALLOC, 44 + i, 0, 40) for i in range(1, 10, 2))
        + op(MALLOPT, 5, 0, 0, 0) + b''.join(op(MALLOC, 44 + i, 0, 24) for i in range(0, 10, 2))
        + op(FREEALL, 0, 0, 0),
    # Every writer of a size word (issue #15's size tag, which the walker
    # checks in every chunk after every operation): aligned blocks cut
    # with a lead and a tail, blocks shrunk and grown in place (into a
    # freed neighbour and into top), mapped blocks resized within their
    # pages and remapped, on both threads' arenas, and class-sized frees.
    'size_tag_resizes': op(MEMALIGN, 50, 1, 300, 10) + op(MEMALIGN | T2, 51, 1, 100, 12)
        + op(MALLOC, 52, 1, 1000) + op(MALLOC, 53, 1, 1000) + op(MALLOC, 54, 0, 40)
        + op(REALLOC, 52, 0, 200) + op(FREE, 53, 0, 0) + op(REALLOC, 52, 1, 1800)
        + op(MALLOC | T2, 55, 1, 3000) + op(REALLOC | T2, 55, 1, 600) + op(REALLOC | T2, 55, 2, 700)
        + op(MALLOC, 56, 3, 2000) + op(REALLOC, 56, 3, 2001) + op(REALLOC, 56, 3, 6000)
        + op(REALLOC, 56, 3, 1500) + op(MALLOC, 57, 2, 300) + op(MALLOC, 58, 2, 400)
        + op(FREE, 57, 0, 0) + op(FREE | T2, 58, 0, 0) + op(MALLOC, 57, 2, 300)
        + op(FREE, 50, 0, 0) + op(FREE | T2, 51, 0, 0) + op(FREEALL, 0, 0, 0),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), 'wb') as f:
        f.write(data)
print(len(seeds), 'seeds in', here)
