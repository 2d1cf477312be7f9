/* Compiler attributes every room uses: what the shared library exports,
 * exported aliases, and branch hints.  Nothing of pmalloc's own. */
#ifndef PMALLOC_COMPILER_H
#define PMALLOC_COMPILER_H

/* Marks the malloc family and the pmalloc_ API; everything else is hidden
 * (-fvisibility=hidden). */
#define PM_EXPORT __attribute__((visibility("default")))
/* Defines `alias` as another exported name of `target` (same file only). */
#if defined(__clang__)
#define PM_ALIAS(target) __attribute__((alias(#target), visibility("default")))
#else
#define PM_ALIAS(target) __attribute__((alias(#target), copy(target), visibility("default")))
#endif

#define PM_LIKELY(x) __builtin_expect(!!(x), 1)
#define PM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
