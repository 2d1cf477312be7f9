/* The OS layer: the only code that asks the kernel for memory.  Every call
 * can be made to fail on demand, so tests can prove that each failure gives
 * a clean error and a heap that is still consistent. */
#ifndef PMALLOC_OS_H
#define PMALLOC_OS_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

/* The page size is the system's, read once (getauxval(AT_PAGESZ), else
 * sysconf) the first time it is needed, which start-up makes sure is
 * before any thread exists.  Only slow paths read it (growing, trimming,
 * mapping, aligned requests); the fast paths never do, so it stays a
 * plain load rather than a constant folded into them. */
extern size_t pm_os_page_size_value;
size_t pm_os_page_size_slow(void);
static inline size_t pm_page_size(void)
{
    size_t page = __atomic_load_n(&pm_os_page_size_value, __ATOMIC_RELAXED);
    return __builtin_expect(page != 0, 1) ? page : pm_os_page_size_slow();
}
/* No Linux kernel has pages smaller than this: a constant lower bound for
 * the tests that must stay off the fast paths' page-size load. */
#define PM_MIN_PAGE_SIZE ((size_t)4096)
/* The page size the kernel counts in (/proc/<pid>/statm, mincore): the
 * same as pm_page_size() unless a test fakes a bigger one. */
size_t pm_os_kernel_page_size(void);

enum pm_os_call {
    PM_OS_BRK,
    PM_OS_MMAP,
    PM_OS_MUNMAP,
    PM_OS_MREMAP,
    PM_OS_MPROTECT,
    PM_OS_MADVISE,
    PM_OS_NCALLS
};

/* Moves the break by incr bytes; returns the old break, or NULL (errno
 * ENOMEM) on failure.  incr == 0 reads the break and never fails. */
void *pm_os_sbrk(ptrdiff_t incr);
/* Anonymous private read-write mapping (or PROT_NONE when reserve_only);
 * returns NULL on failure. */
void *pm_os_map(size_t len, bool reserve_only);
bool pm_os_unmap(void *addr, size_t len);
/* May move the mapping when may_move; returns the new address or NULL. */
void *pm_os_remap(void *addr, size_t old_len, size_t new_len, bool may_move);
bool pm_os_protect(void *addr, size_t len, bool accessible);
/* Gives the pages back; their contents read as zero afterwards. */
bool pm_os_discard(void *addr, size_t len);
/* The same with MADV_FREE where the kernel has it (PMALLOC_DECAY_MADV_FREE):
 * the contents may then survive until the kernel takes the pages. */
bool pm_os_discard_lazy(void *addr, size_t len);
/* A cheap monotonic clock (coarse), for the decay of free pages. */
unsigned long long pm_os_now_ns(void);
/* Sleeps about ns nanoseconds (an interrupted sleep just ends early). */
void pm_os_sleep_ns(unsigned long long ns);
/* Starts fn on a detached thread with every signal blocked, so no
 * handler of the program ever runs on it; false if none could be made. */
bool pm_os_thread_start(void *(*fn)(void *));

/* Whether the process runs with privileges its caller lacks (AT_SECURE:
 * set-user-ID, set-group-ID, file capabilities): it then reads no
 * environment option at all. */
bool pm_os_secure_exec(void);

/* The calling thread's kernel id. */
pid_t pm_os_gettid(void);
/* vec[i] = 1 for each resident page of [addr, addr + len) (addr on a
 * page boundary); false if the kernel cannot say. */
bool pm_os_resident(const void *addr, size_t len, unsigned char *vec);
/* Whether the kernel's page holding addr is mapped at all (mincore: a
 * probe that cannot fault, for a header about to be read). */
bool pm_os_mapped(const void *addr);
/* Bytes of [addr, addr + len) that lie on resident pages (pages cut by
 * the range's ends count for their part inside it); 0 if the kernel
 * cannot say. */
size_t pm_os_resident_bytes(const void *addr, size_t len);
/* The process's resident set now and at its peak (VmRSS, VmHWM), in
 * bytes; false if /proc cannot say. */
bool pm_os_rss(size_t *now, size_t *peak);
/* Reads the start of a (/proc or /sys) file into buf, at most size - 1
 * bytes, and ends it with a NUL; returns the length, or -1 if the file
 * cannot be opened.  No stdio, no malloc. */
ssize_t pm_os_read_text(const char *path, char *buf, size_t size);
/* Copies len bytes of this process's memory at src through the kernel,
 * so an unmapped address gives an error rather than a fault. */
enum pm_os_read {
    PM_OS_READ_OK,
    PM_OS_READ_FAULT,       /* some of the bytes are not readable */
    PM_OS_READ_UNSUPPORTED, /* the kernel does not allow it here */
};
enum pm_os_read pm_os_read_self(void *dst, const void *src, size_t len);

/* Sleeps while *word == expected (or until woken); wakes one sleeper. */
void pm_os_futex_wait(int *word, int expected);
void pm_os_futex_wake(int *word);

/* Fault injection for tests: the call of kind `call` fails from its
 * `after`-th next use on, for `count` uses (count < 0: until cleared). */
void pm_os_fault(enum pm_os_call call, long after, long count);
void pm_os_fault_clear(void);
/* How many times each call has been made (successful or not). */
unsigned long pm_os_calls(enum pm_os_call call);

/* For tests: makes pmalloc believe the page size is `bytes` (a power of
 * two and a multiple of the kernel's), as on a 16 KiB or 64 KiB page
 * kernel.  The OS layer then behaves like one: mappings come aligned to
 * that size and so does the start of the break, residency is reported
 * per faked page, and a munmap,
 * mprotect, madvise or mremap given an address or length that is not a
 * whole number of faked pages fails with EINVAL, as such a kernel would
 * refuse it, and is counted.  Works only before the page size has first
 * been read (a test calls it from a constructor that runs before
 * pmalloc's own); false otherwise, or for an unusable size. */
bool pm_os_fake_page_size(size_t bytes);
/* How many calls a faked page size refused as misaligned. */
unsigned long pm_os_misaligned_calls(void);
/* For tests: reservations (pm_os_map with reserve_only, which is how
 * sub-heaps are made) ask the kernel for this address (NULL: none).  A
 * hint above 2^47 is honoured only by kernels with 5-level page tables. */
void pm_os_reserve_hint(void *hint);

#endif
