/* Compiler attributes every room uses: what the shared library exports,
 * exported aliases, and branch hints.  Nothing of pmalloc's own. */
#ifndef PMALLOC_COMPILER_H
#define PMALLOC_COMPILER_H

/* Marks the malloc family and the pmalloc_ API; everything else is hidden
 * (-fvisibility=hidden). */
#define PM_EXPORT __attribute__((visibility("default")))
/* An internal variable defined in another file of the library: without
 * it, -fvisibility=hidden (which covers definitions only) leaves the
 * compiler to reach it through the GOT, a load of its address, where a
 * hidden one is addressed from the instruction pointer. */
#define PM_HIDDEN __attribute__((visibility("hidden")))
/* Defines `alias` as another exported name of `target` (same file only). */
#if defined(__clang__)
#define PM_ALIAS(target) __attribute__((alias(#target), visibility("default")))
#else
#define PM_ALIAS(target) __attribute__((alias(#target), copy(target), visibility("default")))
#endif

#define PM_LIKELY(x) __builtin_expect(!!(x), 1)
#define PM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
