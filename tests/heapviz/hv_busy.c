/* A busy pmalloc program for the live-snapshot tests: several threads
 * allocate and free continuously (sizes from the fast bins to mmapped
 * chunks, some freed by another thread than the one that allocated them),
 * while the main thread writes the number of operations done so far into
 * the file named by argv[1] every 10 ms, so a test can see that it runs
 * on.  It ends when stdin reaches end of file, or after two minutes. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define THREADS 3
#define SLOTS 512
#define SHARED 64

/* A static program gets the layout descriptor heapviz looks for only
 * when something refers to it (the archive member is not pulled in by
 * malloc itself). */
extern const char pmalloc_layout[];
const void *volatile hv_busy_layout_ref = pmalloc_layout;

static uint64_t operations;      /* atomic */
static void *shared[SHARED];     /* atomic: blocks passed between threads */
static int done;                 /* atomic */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick_size(uint64_t r)
{
    unsigned roll = (unsigned)(r % 1000);
    if (roll < 600)
        return 8 + r / 1000 % 120;          /* fast bins, thread caches */
    if (roll < 900)
        return 128 + r / 1000 % 900;        /* small bins */
    if (roll < 995)
        return 1024 + r / 1000 % 60000;     /* large bins */
    return 140000 + r / 1000 % 100000;      /* mmapped chunks */
}

static void *worker(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    void *slot[SLOTS] = {0};
    uint64_t local = 0;
    while (!__atomic_load_n(&done, __ATOMIC_RELAXED)) {
        uint64_t r = next_random(&seed);
        size_t i = r % SLOTS;
        if (slot[i]) {
            if (r & 0x100000) {
                /* hand it to whichever thread takes this slot next */
                void *old = __atomic_exchange_n(&shared[r / 7 % SHARED], slot[i], __ATOMIC_ACQ_REL);
                free(old);
            } else {
                free(slot[i]);
            }
            slot[i] = NULL;
        } else {
            size_t n = pick_size(next_random(&seed));
            slot[i] = malloc(n);
            if (slot[i])
                memset(slot[i], (int)i, n < 64 ? n : 64);
        }
        if (++local == 256) {
            __atomic_add_fetch(&operations, local, __ATOMIC_RELAXED);
            local = 0;
        }
    }
    for (size_t i = 0; i < SLOTS; i++)
        free(slot[i]);
    return NULL;
}

static void *watch_stdin(void *arg)
{
    (void)arg;
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0)
        ;
    __atomic_store_n(&done, 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 2;
    alarm(120); /* never outlive a test that lost track of it */
    pthread_t t[THREADS], w;
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_create(&w, NULL, watch_stdin, NULL);
    while (!__atomic_load_n(&done, __ATOMIC_RELAXED)) {
        char line[32];
        int n = snprintf(line, sizeof line, "%20llu\n",
                         (unsigned long long)__atomic_load_n(&operations, __ATOMIC_RELAXED));
        if (pwrite(fd, line, (size_t)n, 0) != n)
            return 3;
        usleep(10000);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_join(w, NULL);
    for (size_t i = 0; i < SHARED; i++)
        free(shared[i]);
    close(fd);
    return 0;
}
