/* RSS over time: does freed memory leave the process, and is it used
 * again?  The scenario users complain about most:
 *
 *   1. allocate MIB MiB of 16 B - 1 KiB blocks and write them, either on
 *      two threads that then exit ("exited-threads") or on the main
 *      thread ("same-thread");
 *   2. the main thread frees 90% of the blocks, in runs of 900 blocks
 *      allocated one after the other, so whole pages become free;
 *   3. it idles for IDLE_MS milliseconds, making one malloc/free pair
 *      every 10 ms (light activity an allocator may use to return memory);
 *   4. it allocates the freed amount again.
 *
 * A sampler thread reads the resident set from /proc/self/statm every
 * 100 ms, and the main thread once at the start of each phase, into a
 * buffer mapped with mmap, so sampling never touches the allocator under
 * test.  At the end the series is printed as SAMPLE lines
 * (seconds, RSS, live bytes, phase), then one RESULT line with the two
 * figures that matter:
 *
 *   idle_ratio     RSS at the end of the idle time / live bytes;
 *   realloc_ratio  RSS after allocating the freed amount again / the
 *                  peak RSS before the frees.
 *
 * The blocks need no table (which would be resident too and blur the
 * ratio): each block holds the link to the next block of its list, its
 * tag and its size, and a tail word; every byte is written, and head and
 * tail are checked before a block is freed and at the end.
 *
 * usage: macro_rss exited-threads|same-thread MIB IDLE_MS */
#include "bench_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIN_BLOCK 16
#define MAX_BLOCK 1024
#define WORKERS 2
#define RUN_KEPT 100       /* of every RUN_LEN blocks in allocation order, */
#define RUN_LEN 1000       /* the first RUN_KEPT stay and the rest are freed */
#define SAMPLE_MS 100
#define TICK_MS 10
#define MAX_SAMPLES 12000  /* 20 minutes at 100 ms */
#define LIVE_BATCH 1024    /* blocks between updates of the shared live count */

static const char usage[] = "exited-threads|same-thread MIB IDLE_MS";

enum phase { PH_ALLOC, PH_FREE, PH_IDLE, PH_REALLOC, PH_CHECK, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {
    "alloc", "free", "idle", "realloc", "check"
};

/* A block: [0, 8) the next block of its list, [8, 16) tag << 16 | size,
 * the middle filled with the tag's low byte, the last 8 bytes (blocks of
 * 24 bytes and more) a word derived from tag and size. */
struct list {
    unsigned char *head, *tail;
    size_t blocks, bytes;
};

struct sample {
    double t;
    long rss_kb;
    long live_kb;
    int phase;
};

static struct {
    struct sample *buf;
    size_t count;
    pthread_mutex_t lock;    /* the sampler and main both record */
    atomic_int stop;
    atomic_int phase;
    atomic_size_t live;      /* bytes requested and not yet freed */
    double t0;
    long page_kb;
} rec;

/* Resident set in KiB from /proc/self/statm (second field, in pages), read
 * without stdio so it allocates nothing. */
static long rss_kb(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = buf;
    while (*p && *p != ' ')
        p++;
    if (*p)
        p++;
    long pages = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (*p - '0');
    return pages * rec.page_kb;
}

static void record(void)
{
    pthread_mutex_lock(&rec.lock);
    if (rec.count < MAX_SAMPLES) {
        struct sample *s = &rec.buf[rec.count++];
        s->t = pm_now() - rec.t0;
        s->rss_kb = rss_kb();
        s->live_kb = (long)(atomic_load_explicit(&rec.live, memory_order_relaxed) / 1024);
        s->phase = atomic_load_explicit(&rec.phase, memory_order_relaxed);
    }
    pthread_mutex_unlock(&rec.lock);
}

static void sleep_until(struct timespec *when, long add_ms)
{
    when->tv_nsec += add_ms * 1000000L;
    while (when->tv_nsec >= 1000000000L) {
        when->tv_nsec -= 1000000000L;
        when->tv_sec++;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, when, NULL) == EINTR)
        ;
}

/* The sampler calls nothing that allocates: open, read, close and the
 * clock. */
static void *sampler(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&rec.stop)) {
        record();
        sleep_until(&next, SAMPLE_MS);
    }
    return NULL;
}

static uint64_t tail_of(const unsigned char *b, size_t size)
{
    uint64_t t;
    memcpy(&t, b + size - 8, 8);
    return t;
}

/* Allocates and writes one block and appends it to l. */
static void add_block(struct list *l, size_t size, uint64_t tag)
{
    unsigned char *b = malloc(size);
    if (!b)
        PM_FAIL("rss: malloc(%zu) returned NULL", size);
    uint64_t word = tag << 16 | size;
    memset(b, 0, 8);
    memcpy(b + 8, &word, 8);
    if (size > 16)
        memset(b + 16, (int)(tag & 0xff), size - 16);
    if (size >= 24) {
        uint64_t tail = pm_tail_word(tag, size);
        memcpy(b + size - 8, &tail, 8);
    }
    if (l->tail)
        memcpy(l->tail, &b, sizeof b);
    else
        l->head = b;
    l->tail = b;
    l->blocks++;
    l->bytes += size;
}

/* Checks a block written by add_block; returns its size. */
static size_t check_block(const unsigned char *b)
{
    uint64_t word;
    memcpy(&word, b + 8, 8);
    size_t size = (size_t)(word & 0xffff);
    uint64_t tag = word >> 16;
    if (size < MIN_BLOCK || size > MAX_BLOCK)
        PM_FAIL("rss: a block's header was overwritten (size field %zu)", size);
    size_t middle_end = size >= 24 ? size - 8 : size;
    if (middle_end > 16 && b[16 + (middle_end - 16) / 2] != (unsigned char)(tag & 0xff))
        PM_FAIL("rss: block of %zu bytes was overwritten in the middle", size);
    if (size >= 24 && tail_of(b, size) != pm_tail_word(tag, size))
        PM_FAIL("rss: block of %zu bytes was overwritten at the end", size);
    return size;
}

static unsigned char *next_of(const unsigned char *b)
{
    unsigned char *n;
    memcpy(&n, b, sizeof n);
    return n;
}

/* Allocates blocks of random sizes until `bytes` are allocated. */
static void fill(struct list *l, size_t bytes, uint64_t seed, uint64_t first_tag)
{
    uint64_t rng = seed;
    size_t pending = 0, n = 0;
    while (l->bytes < bytes) {
        size_t size = pm_rand_range(&rng, MIN_BLOCK, MAX_BLOCK);
        add_block(l, size, first_tag + n++);
        pending += size;
        if (n % LIVE_BATCH == 0) {
            atomic_fetch_add_explicit(&rec.live, pending, memory_order_relaxed);
            pending = 0;
        }
    }
    atomic_fetch_add_explicit(&rec.live, pending, memory_order_relaxed);
}

struct worker {
    struct list list;
    size_t bytes;
    uint64_t seed, first_tag;
};

static void *alloc_worker(void *arg)
{
    struct worker *w = arg;
    fill(&w->list, w->bytes, w->seed, w->first_tag);
    return NULL;
}

/* Frees all but the first RUN_KEPT of every RUN_LEN blocks of l, in
 * allocation order; l keeps the survivors.  Returns the bytes freed. */
static size_t free_runs(struct list *l, uint64_t *ops)
{
    struct list kept = { 0 };
    size_t freed = 0, pending = 0, i = 0;
    for (unsigned char *b = l->head; b; i++) {
        size_t size = check_block(b);
        unsigned char *next = next_of(b);
        if (i % RUN_LEN < RUN_KEPT) {
            if (kept.tail)
                memcpy(kept.tail, &b, sizeof b);
            else
                kept.head = b;
            kept.tail = b;
            kept.blocks++;
            kept.bytes += size;
        } else {
            free(b);
            (*ops)++;
            freed += size;
            pending += size;
            if (pending >= LIVE_BATCH * 512) {
                atomic_fetch_sub_explicit(&rec.live, pending, memory_order_relaxed);
                pending = 0;
            }
        }
        b = next;
    }
    atomic_fetch_sub_explicit(&rec.live, pending, memory_order_relaxed);
    if (kept.tail) {
        unsigned char *end = NULL;
        memcpy(kept.tail, &end, sizeof end);
    }
    *l = kept;
    return freed;
}

static size_t check_list(const struct list *l)
{
    size_t blocks = 0, bytes = 0;
    for (const unsigned char *b = l->head; b; b = next_of(b)) {
        bytes += check_block(b);
        blocks++;
    }
    if (blocks != l->blocks || bytes != l->bytes)
        PM_FAIL("rss: a list lost blocks (%zu of %zu found)", blocks, l->blocks);
    return bytes;
}

/* One malloc/free pair every TICK_MS until `ms` have passed. */
static uint64_t idle(long ms)
{
    uint64_t rng = 0x1d1e, ops = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long t = 0; t < ms; t += TICK_MS) {
        size_t size = pm_rand_range(&rng, MIN_BLOCK, MAX_BLOCK);
        unsigned char *p = malloc(size);
        if (!p)
            PM_FAIL("rss: malloc(%zu) returned NULL while idle", size);
        memset(p, (int)t, size);
        PM_ESCAPE(p);
        free(p);
        ops += 2;
        sleep_until(&next, TICK_MS);
    }
    return ops;
}

/* Each phase starts with a sample, so phases shorter than the sampling
 * period still show in the series. */
static void set_phase(enum phase p)
{
    atomic_store(&rec.phase, (int)p);
    record();
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return 2;
    }
    int exited;
    if (strcmp(argv[1], "exited-threads") == 0)
        exited = 1;
    else if (strcmp(argv[1], "same-thread") == 0)
        exited = 0;
    else {
        fprintf(stderr, "%s: unknown variant '%s'; usage: %s %s\n", argv[0], argv[1],
                argv[0], usage);
        return 2;
    }
    long mib = pm_arg(argc, argv, 2, 1, usage);
    long idle_ms = pm_arg(argc, argv, 3, 1, usage);
    if (mib > (1L << 20) || idle_ms > 3600L * 1000) {
        fprintf(stderr, "%s: MIB at most %ld, IDLE_MS at most %ld\n", argv[0],
                1L << 20, 3600L * 1000);
        return 2;
    }

    rec.page_kb = sysconf(_SC_PAGESIZE) / 1024;
    rec.buf = mmap(NULL, MAX_SAMPLES * sizeof *rec.buf, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rec.buf == MAP_FAILED)
        PM_FAIL("rss: cannot map the sample buffer");
    pthread_mutex_init(&rec.lock, NULL);
    rec.t0 = pm_now();
    set_phase(PH_ALLOC);
    pthread_t sampler_tid;
    if (pthread_create(&sampler_tid, NULL, sampler, NULL) != 0)
        PM_FAIL("rss: pthread_create failed");

    /* 1. Allocate, half per worker list; the same requests in both
     * variants, only the threads differ. */
    struct worker ws[WORKERS];
    size_t total = (size_t)mib << 20;
    for (int i = 0; i < WORKERS; i++)
        ws[i] = (struct worker){ .bytes = total / WORKERS, .seed = 0x5eed + 7919u * (uint64_t)i,
                                 .first_tag = (uint64_t)(i + 1) << 40 };
    double t_alloc = pm_now();
    if (exited)
        pm_run_threads("rss", WORKERS, alloc_worker, ws, sizeof ws[0]);
    else
        for (int i = 0; i < WORKERS; i++)
            alloc_worker(&ws[i]);
    t_alloc = pm_now() - t_alloc;
    long peak_rss = rss_kb();
    size_t allocated = 0;
    uint64_t ops = 0;
    for (int i = 0; i < WORKERS; i++) {
        allocated += ws[i].list.bytes;
        ops += ws[i].list.blocks;
    }

    /* 2. Free 90% in long runs. */
    set_phase(PH_FREE);
    double t_free = pm_now();
    size_t freed = 0;
    for (int i = 0; i < WORKERS; i++)
        freed += free_runs(&ws[i].list, &ops);
    t_free = pm_now() - t_free;
    size_t live = allocated - freed;
    pthread_mutex_lock(&rec.lock);
    for (size_t i = 0; i < rec.count; i++)
        if (rec.buf[i].phase == PH_ALLOC && rec.buf[i].rss_kb > peak_rss)
            peak_rss = rec.buf[i].rss_kb;
    pthread_mutex_unlock(&rec.lock);

    /* 3. Idle with light activity; RSS at its end is the first figure. */
    set_phase(PH_IDLE);
    ops += idle(idle_ms);
    long idle_rss = rss_kb();

    /* 4. Allocate the freed amount again, on the main thread. */
    set_phase(PH_REALLOC);
    struct list again = { 0 };
    double t_realloc = pm_now();
    fill(&again, freed, 0xa9a1, (uint64_t)(WORKERS + 1) << 40);
    t_realloc = pm_now() - t_realloc;
    ops += again.blocks;
    long realloc_rss = rss_kb();

    set_phase(PH_CHECK);
    size_t survivors = 0;
    for (int i = 0; i < WORKERS; i++)
        survivors += check_list(&ws[i].list);
    if (survivors != live || check_list(&again) != again.bytes)
        PM_FAIL("rss: live bytes do not add up");
    atomic_store(&rec.stop, 1);
    pthread_join(sampler_tid, NULL);
    record();

    /* The measurement is over: stdio may allocate from here on. */
    size_t samples = rec.count;
    for (size_t i = 0; i < samples; i++)
        printf("SAMPLE t=%.3f rss_kb=%ld live_kb=%ld phase=%s\n", rec.buf[i].t,
               rec.buf[i].rss_kb, rec.buf[i].live_kb, phase_names[rec.buf[i].phase]);
    if (peak_rss <= 0 || idle_rss <= 0 || realloc_rss <= 0)
        PM_FAIL("rss: cannot read /proc/self/statm");
    char extra[512];
    snprintf(extra, sizeof extra,
             " variant=%s mib=%ld idle_ms=%ld allocated_kb=%zu freed_kb=%zu live_kb=%zu"
             " peak_rss_kb=%ld idle_rss_kb=%ld realloc_rss_kb=%ld idle_ratio=%.3f"
             " realloc_ratio=%.3f alloc_secs=%.3f free_secs=%.3f realloc_secs=%.3f"
             " samples=%zu",
             argv[1], mib, idle_ms, allocated / 1024, freed / 1024, live / 1024, peak_rss,
             idle_rss, realloc_rss, (double)idle_rss * 1024 / (double)live,
             (double)realloc_rss / (double)peak_rss, t_alloc, t_free, t_realloc, samples);
    pm_report("rss", exited ? WORKERS : 1, ops, t_alloc + t_free + t_realloc, extra);
    return 0;
}
