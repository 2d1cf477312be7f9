#include "config.h"

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <linux/futex.h>
#include <sys/mman.h>
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

static bool inject(enum pm_os_call c)
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

void *pm_os_sbrk(ptrdiff_t incr)
{
    if (incr != 0 && inject(PM_OS_BRK))
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
    void *p = mmap(NULL, len, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

bool pm_os_unmap(void *addr, size_t len)
{
    if (inject(PM_OS_MUNMAP))
        return false;
    return munmap(addr, len) == 0;
}

void *pm_os_remap(void *addr, size_t old_len, size_t new_len, bool may_move)
{
    if (inject(PM_OS_MREMAP))
        return NULL;
    void *p = mremap(addr, old_len, new_len, may_move ? MREMAP_MAYMOVE : 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

bool pm_os_protect(void *addr, size_t len, bool accessible)
{
    if (inject(PM_OS_MPROTECT))
        return false;
    return mprotect(addr, len, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
}

bool pm_os_discard(void *addr, size_t len)
{
    if (inject(PM_OS_MADVISE))
        return false;
    return madvise(addr, len, MADV_DONTNEED) == 0;
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
    return mincore((void *)addr, len, vec) == 0;
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
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    uintptr_t page = lo & ~(uintptr_t)(PM_PAGE_SIZE - 1);
    size_t bytes = 0;
    while (page < hi) {
        size_t npages = (hi - page + PM_PAGE_SIZE - 1) / PM_PAGE_SIZE;
        if (npages > WINDOW)
            npages = WINDOW;
        if (mincore((void *)page, npages * PM_PAGE_SIZE, vec) != 0)
            return bytes;
        for (size_t i = 0; i < npages; i++, page += PM_PAGE_SIZE) {
            if (!(vec[i] & 1))
                continue;
            uintptr_t from = page > lo ? page : lo;
            uintptr_t to = page + PM_PAGE_SIZE < hi ? page + PM_PAGE_SIZE : hi;
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

bool pm_os_rss(size_t *now, size_t *peak)
{
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, sizeof text - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    text[len] = 0;
    return status_kib(text, "\nVmRSS:", now) && status_kib(text, "\nVmHWM:", peak);
}
