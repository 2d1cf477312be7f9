/* Producer/consumer workload modelled on xmalloc-test: producer threads
 * allocate blocks and pass them in batches to consumer threads, which
 * check and free them.  Every block is freed by a thread that did not
 * allocate it, which is the hard case for per-thread caches and arenas.
 *
 * usage: macro_xmalloc THREADS SCALE
 * THREADS >= 2 splits into THREADS/2 producers and the rest consumers; one
 * thread alternates between producing a batch and consuming it. */
#include "bench_common.h"

#include <pthread.h>

#define BATCH 64
#define MAX_QUEUED 128             /* batches in flight before producers wait */
#define BLOCKS_PER_SCALE 100000    /* blocks per producer per scale unit */
#define MIN_SIZE 16
#define MAX_SIZE 256

struct batch {
    struct batch *next;
    int n;
    void *ptr[BATCH];
    size_t size[BATCH];
    uint64_t tag[BATCH];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty, nonfull;
    struct batch *head, *tail;
    long queued;
    int producers_left;
    int prod_waiting, cons_waiting;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0 };

static long blocks_per_producer;

static struct batch *make_batch(uint64_t *rng)
{
    struct batch *b = malloc(sizeof *b);
    if (!b)
        PM_FAIL("xmalloc: malloc(batch) returned NULL");
    b->next = NULL;
    b->n = BATCH;
    for (int i = 0; i < BATCH; i++) {
        size_t sz = pm_rand_range(rng, MIN_SIZE, MAX_SIZE);
        void *p = malloc(sz);
        if (!p)
            PM_FAIL("xmalloc: malloc(%zu) returned NULL", sz);
        b->ptr[i] = p;
        b->size[i] = sz;
        b->tag[i] = pm_rand(rng);
        pm_stamp(p, sz, b->tag[i]);
    }
    return b;
}

static void eat_batch(struct batch *b)
{
    for (int i = 0; i < b->n; i++) {
        if (!pm_check(b->ptr[i], b->size[i], b->tag[i]))
            PM_FAIL("xmalloc: block of %zu bytes was overwritten", b->size[i]);
        free(b->ptr[i]);
    }
    free(b);
}

static void *producer(void *arg)
{
    uint64_t rng = 0xabcdefu + (uint64_t)(uintptr_t)arg * 104729u;
    for (long done = 0; done < blocks_per_producer; done += BATCH) {
        struct batch *b = make_batch(&rng);
        pthread_mutex_lock(&q.lock);
        if (q.queued >= MAX_QUEUED) {
            /* Wait until consumers have drained half the queue, so the
             * threads switch once per many batches, not once per batch. */
            q.prod_waiting++;
            while (q.queued > MAX_QUEUED / 2)
                pthread_cond_wait(&q.nonfull, &q.lock);
            q.prod_waiting--;
        }
        if (q.tail)
            q.tail->next = b;
        else
            q.head = b;
        q.tail = b;
        q.queued++;
        if (q.cons_waiting && q.queued >= 8)
            pthread_cond_broadcast(&q.nonempty);
        pthread_mutex_unlock(&q.lock);
    }
    pthread_mutex_lock(&q.lock);
    q.producers_left--;
    pthread_cond_broadcast(&q.nonempty);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        if (!q.head && q.producers_left > 0) {
            q.cons_waiting++;
            while (!q.head && q.producers_left > 0)
                pthread_cond_wait(&q.nonempty, &q.lock);
            q.cons_waiting--;
        }
        struct batch *b = q.head;
        if (!b) {
            pthread_mutex_unlock(&q.lock);
            return NULL;
        }
        q.head = b->next;
        if (!q.head)
            q.tail = NULL;
        q.queued--;
        if (q.prod_waiting && q.queued <= MAX_QUEUED / 2)
            pthread_cond_broadcast(&q.nonfull);
        pthread_mutex_unlock(&q.lock);
        eat_batch(b);
    }
}

int main(int argc, char **argv)
{
    struct pm_args args = pm_args(argc, argv);
    int threads = args.threads;
    long scale = args.scale;
    blocks_per_producer = (scale * BLOCKS_PER_SCALE + BATCH - 1) / BATCH * BATCH;

    uint64_t blocks;
    double t0 = pm_now();
    if (threads == 1) {
        /* Alternate: keep a short FIFO of batches so blocks outlive the
         * batch that follows them, as they would in a queue. */
        uint64_t rng = 0xabcdefu;
        struct batch *ring[4] = { NULL, NULL, NULL, NULL };
        long n = blocks_per_producer / BATCH;
        for (long i = 0; i < n; i++) {
            if (ring[i % 4])
                eat_batch(ring[i % 4]);
            ring[i % 4] = make_batch(&rng);
        }
        for (int i = 0; i < 4; i++)
            if (ring[i])
                eat_batch(ring[i]);
        blocks = (uint64_t)n * BATCH;
    } else {
        int np = threads / 2, nc = threads - np;
        pthread_t *tid = calloc((size_t)threads, sizeof *tid);
        if (!tid)
            PM_FAIL("xmalloc: out of memory");
        q.producers_left = np;
        for (int i = 0; i < np; i++)
            if (pthread_create(&tid[i], NULL, producer, (void *)(uintptr_t)i))
                PM_FAIL("xmalloc: pthread_create failed");
        for (int i = 0; i < nc; i++)
            if (pthread_create(&tid[np + i], NULL, consumer, NULL))
                PM_FAIL("xmalloc: pthread_create failed");
        for (int i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
        free(tid);
        if (q.head || q.queued)
            PM_FAIL("xmalloc: %ld batches were never consumed", q.queued);
        blocks = (uint64_t)np * (uint64_t)blocks_per_producer;
    }
    double secs = pm_now() - t0;
    /* One malloc and one free per block, plus the batch records. */
    uint64_t ops = 2 * blocks + 2 * (blocks / BATCH);
    pm_report("xmalloc", threads, ops, secs, NULL);
    return 0;
}
