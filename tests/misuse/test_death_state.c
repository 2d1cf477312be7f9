/* Death tests for the chunk state (issue #15): a chunk that a thread
 * cache, a remote-free list or a bin holds carries the held-free bit in
 * its size word, which no write into the user area reaches, so each
 * misuse below, which got through before, is stopped with the check named
 * and the address, whichever thread's cache or which bin holds the chunk
 * and whatever was written over the block's second word, where glibc's
 * cache keeps the key it tells cached chunks by (pmalloc's keeps none: the
 * mark says it).  (Fast bins: test_death_fastbin_state.) */
#include "misuse.h"

#include <pthread.h>
#include <semaphore.h>

/* ---- the second free comes from another thread ---- */

static sem_t cached, done;
static void *shared_block;

/* Frees its block into its own cache and stays alive holding it. */
static void *free_and_hold(void *arg)
{
    (void)arg;
    shared_block = malloc(40);
    REQUIRE(shared_block != NULL);
    free(shared_block);
    sem_post(&cached);
    sem_wait(&done);
    return NULL;
}

static void double_free_other_thread_cache(void)
{
    REQUIRE(sem_init(&cached, 0, 0) == 0 && sem_init(&done, 0, 0) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, free_and_hold, NULL) == 0);
    sem_wait(&cached);
    /* the block is in the other thread's cache, not this one's */
    free_again(shared_block);
    sem_post(&done);
    pthread_join(t, NULL);
}

/* ---- glibc's key word cleared by a write after free ---- */

static void double_free_key_cleared(void)
{
    void *a = malloc(40);
    free(a);
    *word(a, 1) = 0; /* where glibc's cache keeps its key */
    free_again(a);
}

static void double_free_class_key_cleared(void)
{
    /* the classes, which the death tests' start leaves off */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 256 * 1024) == 1);
    void *a = malloc(5000); /* a size class of the cache */
    guard();
    /* room in the class, whose depth grows as it misses */
    struct pm_tcache *t = pm_tcache_get();
    REQUIRE(t != NULL);
    unsigned k = tcache_request_class(5000);
    for (int i = 0; i < 8 && t->class_limit[k] < 2; i++)
        pm_tcache_class_missed(t, k);
    REQUIRE(t->class_limit[k] > t->class_count[k]);
    free(a);
    REQUIRE(*size_word(a) & PM_HELD_FREE); /* cached */
    *word(a, 1) = 0;
    free_again(a);
}

static void realloc_freed_key_cleared(void)
{
    void *a = malloc(40);
    free(a);
    *word(a, 1) = 0;
    death_expect_addr(a);
    (void)!realloc(opaque(a), 80);
}

/* ---- a chunk in the arena's bins, freed again where the cache has room ---- */

/* A 200-byte block freed with the cache off lies in the unsorted bin;
 * with the cache back on, a second free takes the cache's path, which
 * never looks at the successor's PREV_INUSE (and once pushed the chunk
 * sat in the cache and a bin at once). */
static void *binned_with_cache_room(void)
{
    void *b = freed_between_guards(200);
    REQUIRE(!chunk_inuse(hdr(b)));
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    return b;
}

static void double_free_binned_cache_room(void) { free_again(binned_with_cache_room()); }

/* The same once the chunk is sorted into its small bin. */
static void double_free_smallbin_cache_room(void)
{
    void *b = freed_between_guards(200);
    free(malloc(3000)); /* the unsorted scan files b in its small bin */
    REQUIRE(!chunk_inuse(hdr(b)));
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    free_again(b);
}

static void realloc_freed_binned(void)
{
    void *b = binned_with_cache_room();
    death_expect_addr(b);
    (void)!realloc(opaque(b), 100);
}

/* ---- a chunk on a remote list rewritten before its owner takes it ---- */

static void *remote_blocks[3];

static void *free_remote_blocks(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        free(remote_blocks[i]); /* into this thread's cache, */
    return NULL;                /* and at its exit onto main's remote list */
}

/* The owner's miss files what other threads freed in its cache
 * (pm_tcache_drain_remote), after the checks of a free: a size an
 * overflow rewrote meanwhile is caught there. */
static void remote_size_rewritten(void)
{
    for (int i = 0; i < 3; i++)
        remote_blocks[i] = malloc(200);
    guard();
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, free_remote_blocks, NULL) == 0);
    pthread_join(t, NULL);
    REQUIRE(pm_main_arena.remote_frees != NULL);
    void *victim = remote_blocks[1];
    *size_word(victim) = (*size_word(victim) & PM_HELD_FREE) | csize(victim) | PM_PREV_INUSE;
    death_expect_addr(victim);
    (void)!malloc(200); /* this thread's bin is empty: a miss */
}

static const struct death_case cases[] = {
    DEATH_CASE(double_free_other_thread_cache, "free(): double free detected (chunk held free)"),
    DEATH_CASE(double_free_key_cleared, "free(): double free detected in tcache 2"),
    DEATH_CASE(double_free_class_key_cleared, "free(): double free detected in tcache 2"),
    DEATH_CASE(realloc_freed_key_cleared, "realloc(): chunk already freed (tcache)"),
    DEATH_CASE(double_free_binned_cache_room, "free(): double free detected (chunk held free)"),
    DEATH_CASE(double_free_smallbin_cache_room, "free(): double free detected (chunk held free)"),
    DEATH_CASE(realloc_freed_binned, "realloc(): chunk already freed"),
    DEATH_CASE(remote_size_rewritten, "free(): chunk size tag mismatch"),
};

DEATH_TEST_MAIN(cases, "test_death_state")
