#include "config.h"

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

struct fault {
    long after;  /* successful calls still allowed before failing */
    long count;  /* failures still to inject; negative: forever */
};

static struct fault faults[PM_OS_NCALLS];
static unsigned long calls[PM_OS_NCALLS];

/* The fault table is armed only by tests, from one thread, while the heap
 * is quiet; plain loads keep the normal path at one test of a flag. */
static int faults_armed;

static inline __attribute__((always_inline)) bool inject(enum pm_os_call c)
{
    __atomic_fetch_add(&calls[c], 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&faults_armed, __ATOMIC_RELAXED))
        return false;
    struct fault *f = &faults[c];
    if (f->count == 0)
        return false;
    if (f->after > 0) {
        f->after--;
        return false;
    }
    if (f->count > 0)
        f->count--;
    errno = ENOMEM;
    return true;
}

void pm_os_fault(enum pm_os_call call, long after, long count)
{
    faults[call].after = after;
    faults[call].count = count;
    __atomic_store_n(&faults_armed, 1, __ATOMIC_RELAXED);
}

void pm_os_fault_clear(void)
{
    for (int i = 0; i < PM_OS_NCALLS; i++)
        faults[i].count = 0;
    __atomic_store_n(&faults_armed, 0, __ATOMIC_RELAXED);
}

unsigned long pm_os_calls(enum pm_os_call call)
{
    return __atomic_load_n(&calls[call], __ATOMIC_RELAXED);
}

/* ---- the page size ---- */

size_t pm_os_page_size_value;
static size_t kernel_page;
static size_t faked_page; /* 0: the kernel's own */
bool pm_os_secure_exec(void) { return getauxval(AT_SECURE) != 0; }

static unsigned long misaligned;

static size_t ask_kernel_page_size(void)
{
    size_t page = __atomic_load_n(&kernel_page, __ATOMIC_RELAXED);
    if (page != 0)
        return page;
    page = (size_t)getauxval(AT_PAGESZ);
    if (page == 0 || (page & (page - 1)) != 0) {
        long conf = sysconf(_SC_PAGESIZE);
        page = conf > 0 && (conf & (conf - 1)) == 0 ? (size_t)conf : 4096;
    }
    __atomic_store_n(&kernel_page, page, __ATOMIC_RELAXED);
    return page;
}

size_t pm_os_kernel_page_size(void) { return ask_kernel_page_size(); }

size_t pm_os_page_size_slow(void)
{
    /* Racing first readers all store the same value. */
    size_t page = faked_page != 0 ? faked_page : ask_kernel_page_size();
    __atomic_store_n(&pm_os_page_size_value, page, __ATOMIC_RELAXED);
    return page;
}

bool pm_os_fake_page_size(size_t bytes)
{
    size_t kernel = ask_kernel_page_size();
    if (__atomic_load_n(&pm_os_page_size_value, __ATOMIC_RELAXED) != 0 || bytes < kernel ||
        (bytes & (bytes - 1)) != 0)
        return false;
    faked_page = bytes;
    return true;
}

unsigned long pm_os_misaligned_calls(void) { return __atomic_load_n(&misaligned, __ATOMIC_RELAXED); }

/* Under a faked page size, what a kernel with such pages would refuse. */
static bool misaligned_for_fake(const void *addr, size_t len)
{
    if (faked_page == 0 || (((uintptr_t)addr | len) & (faked_page - 1)) == 0)
        return false;
    __atomic_fetch_add(&misaligned, 1, __ATOMIC_RELAXED);
    errno = EINVAL;
    return true;
}

/* A mapping of len bytes aligned to the faked page: the kernel's own
 * alignment is smaller, so map more and cut both ends off. */
static void *map_faked_aligned(size_t len, int prot, int flags)
{
    size_t slack = faked_page - ask_kernel_page_size();
    char *raw = mmap(NULL, len + slack, prot, flags, -1, 0);
    if (raw == MAP_FAILED)
        return MAP_FAILED;
    char *p = (char *)(((uintptr_t)raw + faked_page - 1) & ~(uintptr_t)(faked_page - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (p + len < raw + len + slack)
        munmap(p + len, (size_t)(raw + len + slack - (p + len)));
    return p;
}

/* ---- memory ---- */

static void *reserve_hint;

void pm_os_reserve_hint(void *hint) { __atomic_store_n(&reserve_hint, hint, __ATOMIC_RELAXED); }

/* A kernel with faked-size pages starts the break on one.  Out of line,
 * so the common path of pm_os_sbrk needs no stack frame. */
static __attribute__((noinline, cold)) bool align_break_for_fake(ptrdiff_t incr)
{
    size_t off = (uintptr_t)sbrk(0) & (faked_page - 1);
    if (off != 0 && sbrk((intptr_t)(faked_page - off)) == (void *)-1 && incr != 0) {
        errno = ENOMEM;
        return false;
    }
    return true;
}

void *pm_os_sbrk(ptrdiff_t incr)
{
    if (incr != 0 && inject(PM_OS_BRK))
        return NULL;
    if (__builtin_expect(faked_page != 0, 0) && !align_break_for_fake(incr))
        return NULL;
    void *old = sbrk(incr);
    if (old == (void *)-1) {
        errno = ENOMEM;
        return NULL;
    }
    return old;
}

void *pm_os_map(size_t len, bool reserve_only)
{
    if (inject(PM_OS_MMAP))
        return NULL;
    int prot = reserve_only ? PROT_NONE : PROT_READ | PROT_WRITE;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0);
    if (misaligned_for_fake(NULL, len))
        return NULL;
    void *hint = reserve_only ? __atomic_load_n(&reserve_hint, __ATOMIC_RELAXED) : NULL;
    void *p = faked_page != 0 ? map_faked_aligned(len, prot, flags) : mmap(hint, len, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

bool pm_os_unmap(void *addr, size_t len)
{
    if (inject(PM_OS_MUNMAP) || misaligned_for_fake(addr, len))
        return false;
    return munmap(addr, len) == 0;
}

void *pm_os_remap(void *addr, size_t old_len, size_t new_len, bool may_move)
{
    if (inject(PM_OS_MREMAP) || misaligned_for_fake(addr, old_len | new_len))
        return NULL;
    void *p = mremap(addr, old_len, new_len, may_move && faked_page == 0 ? MREMAP_MAYMOVE : 0);
    if (p == MAP_FAILED && may_move && faked_page != 0) {
        /* Moved onto a place of our choosing, aligned to the fake. */
        void *to = map_faked_aligned(new_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        if (to != MAP_FAILED) {
            p = mremap(addr, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
            if (p == MAP_FAILED)
                munmap(to, new_len);
        }
    }
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

bool pm_os_protect(void *addr, size_t len, bool accessible)
{
    if (inject(PM_OS_MPROTECT) || misaligned_for_fake(addr, len))
        return false;
    return mprotect(addr, len, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
}

bool pm_os_discard(void *addr, size_t len)
{
    if (inject(PM_OS_MADVISE) || misaligned_for_fake(addr, len))
        return false;
    return madvise(addr, len, MADV_DONTNEED) == 0;
}

/* For the decay of free pages (sysmalloc.c): MADV_FREE lets the kernel take
 * the pages only under memory pressure, cheaper when they are reused soon,
 * but RSS does not drop at once.  Kernels before 4.5 refuse it: fall back. */
bool pm_os_discard_lazy(void *addr, size_t len)
{
    if (inject(PM_OS_MADVISE) || misaligned_for_fake(addr, len))
        return false;
#ifdef MADV_FREE
    if (madvise(addr, len, MADV_FREE) == 0)
        return true;
#endif
    return madvise(addr, len, MADV_DONTNEED) == 0;
}

/* CLOCK_MONOTONIC_COARSE: a read of the vDSO's page, no system call, at
 * a few milliseconds' resolution, enough for a delay of a second. */
unsigned long long pm_os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

void pm_os_sleep_ns(unsigned long long ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    int saved_errno = errno;
    nanosleep(&ts, NULL);
    errno = saved_errno;
}

bool pm_os_thread_start(void *(*fn)(void *))
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    bool ok = pthread_create(&thread, &attr, fn, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return ok;
}

void pm_os_futex_wait(int *word, int expected)
{
    int saved_errno = errno; /* EAGAIN or EINTR must not reach the caller */
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
    errno = saved_errno;
}

void pm_os_futex_wake(int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

pid_t pm_os_gettid(void) { return (pid_t)syscall(SYS_gettid); }

bool pm_os_resident(const void *addr, size_t len, unsigned char *vec)
{
    if (faked_page == 0)
        return mincore((void *)addr, len, vec) == 0;
    /* One entry per faked page: resident if any kernel page of it is. */
    size_t per = faked_page / ask_kernel_page_size();
    unsigned char part[256];
    const char *p = addr;
    for (size_t i = 0; i < (len + faked_page - 1) / faked_page; i++, p += faked_page) {
        vec[i] = 0;
        for (size_t done = 0; done < per;) {
            size_t n = per - done < sizeof part ? per - done : sizeof part;
            if (mincore((void *)(p + done * kernel_page), n * kernel_page, part) != 0)
                return false;
            for (size_t k = 0; k < n; k++)
                vec[i] |= part[k] & 1;
            done += n;
        }
    }
    return true;
}

bool pm_os_mapped(const void *addr)
{
    unsigned char vec;
    uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(ask_kernel_page_size() - 1);
    return mincore((void *)page, 1, &vec) == 0 || errno != ENOMEM;
}

enum pm_os_read pm_os_read_self(void *dst, const void *src, size_t len)
{
    struct iovec local = {dst, len}, remote = {(void *)src, len};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return PM_OS_READ_OK;
    if (n < 0 && (errno == ENOSYS || errno == EPERM))
        return PM_OS_READ_UNSUPPORTED;
    return PM_OS_READ_FAULT;
}

size_t pm_os_resident_bytes(const void *addr, size_t len)
{
    /* a window of pages at a time, its vector on the stack */
    enum { WINDOW = 4096 };
    unsigned char vec[WINDOW];
    size_t psize = pm_page_size();
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    uintptr_t page = lo & ~(uintptr_t)(psize - 1);
    size_t bytes = 0;
    while (page < hi) {
        size_t npages = (hi - page + psize - 1) / psize;
        if (npages > WINDOW)
            npages = WINDOW;
        if (!pm_os_resident((void *)page, npages * psize, vec))
            return bytes;
        for (size_t i = 0; i < npages; i++, page += psize) {
            if (!(vec[i] & 1))
                continue;
            uintptr_t from = page > lo ? page : lo;
            uintptr_t to = page + psize < hi ? page + psize : hi;
            bytes += to - from;
        }
    }
    return bytes;
}

/* The number after `key` in /proc/self/status ("VmRSS:   1234 kB"). */
static bool status_kib(const char *text, const char *key, size_t *out)
{
    const char *p = strstr(text, key);
    if (p == NULL)
        return false;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    size_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (size_t)(*p - '0');
    *out = v * 1024;
    return true;
}

ssize_t pm_os_read_text(const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

bool pm_os_rss(size_t *now, size_t *peak)
{
    char text[4096];
    if (pm_os_read_text("/proc/self/status", text, sizeof text) < 0)
        return false;
    return status_kib(text, "\nVmRSS:", now) && status_kib(text, "\nVmHWM:", peak);
}

