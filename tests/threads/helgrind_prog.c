/* A small threaded workout for helgrind.sh: linked dynamically against
 * the C library only, run with LD_PRELOAD=libpmalloc.so under helgrind.
 * Four threads allocate (thread-cache, bin and mmap sizes), hand blocks
 * to each other through a mutex-protected table (so most frees are
 * cross-thread, some of them while the owner arena is busy: remote
 * frees), resize, and exit; more threads are started afterwards and take
 * the freed arenas.  Exit status: 0 done, 2 when malloc is not pmalloc's
 * (the check would prove nothing).
 *
 * Usage: helgrind_prog [rounds] (default 2000). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define NSLOTS 256

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static void *table[NSLOTS];
static size_t sizes[NSLOTS];
static int rounds = 2000;
/* All threads of a wave make their first allocation (and so choose their
 * arena) together. */
static pthread_barrier_t start;

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick_size(uint64_t *r)
{
    switch (next(r) % 8) {
    case 0: return 200 * 1024 + next(r) % 4096;  /* mmap */
    case 1:
    case 2: return 1100 + next(r) % 8000;        /* bins */
    default: return 1 + next(r) % 1000;          /* thread cache */
    }
}

static void *worker(void *arg)
{
    uint64_t r = (uintptr_t)arg * 2654435761u + 1;
    void *mine[8] = { 0 };
    pthread_barrier_wait(&start);
    for (int i = 0; i < rounds; i++) {
        /* malloc_trim holds each arena's lock across system calls (where
         * valgrind switches threads): frees meanwhile go to remote lists. */
        if (i % 25 == 24)
            malloc_trim(0);
        /* private churn: the thread cache */
        int k = (int)(next(&r) % 8);
        free(mine[k]);
        mine[k] = malloc(1 + next(&r) % 500);
        if (mine[k])
            memset(mine[k], k, 1);
        /* shared table: most frees are of another thread's block */
        size_t s = next(&r) % NSLOTS;
        size_t size = pick_size(&r);
        void *fresh = malloc(size);
        if (fresh)
            memset(fresh, 0xab, size < 64 ? size : 64);
        pthread_mutex_lock(&table_lock);
        void *old = table[s];
        table[s] = fresh;
        sizes[s] = size;
        pthread_mutex_unlock(&table_lock);
        if (next(&r) % 4 == 0 && old != NULL) {
            void *q = realloc(old, pick_size(&r));
            free(q ? q : old);
        } else {
            free(old);
        }
    }
    for (int k = 0; k < 8; k++)
        free(mine[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    Dl_info info;
    if (dladdr((void *)(uintptr_t)&malloc, &info) == 0 || info.dli_fname == NULL ||
        strstr(info.dli_fname, "pmalloc") == NULL || dlsym(RTLD_DEFAULT, "pmalloc_version") == NULL) {
        fprintf(stderr, "helgrind_prog: malloc is not pmalloc's (%s)\n",
                info.dli_fname ? info.dli_fname : "?");
        return 2;
    }
    if (pthread_barrier_init(&start, NULL, NTHREADS) != 0)
        return 1;
    for (int wave = 0; wave < 2; wave++) {
        pthread_t t[NTHREADS];
        for (int i = 0; i < NTHREADS; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1 + wave * NTHREADS)) != 0)
                return 1;
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
    }
    for (int s = 0; s < NSLOTS; s++)
        free(table[s]);
    size_t (*check)(void) = (size_t(*)(void))dlsym(RTLD_DEFAULT, "pmalloc_check");
    if (check != NULL && check() != 0) {
        fprintf(stderr, "helgrind_prog: heap walker found problems\n");
        return 1;
    }
    fprintf(stderr, "helgrind_prog: done\n");
    return 0;
}
