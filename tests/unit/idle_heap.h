/* The heap the idle-return tests free and watch go back: HEAP_BYTES
 * (defined by the test) of blocks of 16 B to 1 KiB, of which all but the
 * last KEPT of every RUN allocated one after the other are freed, so
 * whole pages come free; RSS read from /proc/self/statm. */
#ifndef PMALLOC_TEST_IDLE_HEAP_H
#define PMALLOC_TEST_IDLE_HEAP_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../harness.h"

#define RUN 1000
#define KEPT 100
#define MAX_BLOCKS (HEAP_BYTES / 16)

static void *blocks[MAX_BLOCKS];
static size_t nblocks;

/* Read without stdio, which would allocate: between two readings the
 * tests make only the calls they mean to. */
static size_t rss_bytes(void)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    REQUIRE(fd >= 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    REQUIRE(n > 0);
    text[n] = '\0';
    char *field = strchr(text, ' ');
    REQUIRE(field != NULL);
    return (size_t)strtoul(field + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static size_t block_size(size_t i) { return 16 + (i * 2654435761u) % 1009; }

/* Allocates and writes HEAP_BYTES of blocks of 16 B to 1 KiB. */
static void *allocate_heap(void *unused)
{
    (void)unused;
    size_t bytes = 0;
    for (nblocks = 0; bytes < HEAP_BYTES; nblocks++) {
        size_t n = block_size(nblocks);
        blocks[nblocks] = malloc(n);
        REQUIRE(blocks[nblocks] != NULL);
        memset(blocks[nblocks], 0x5a, n);
        bytes += n;
    }
    return NULL;
}

/* Frees all but the last KEPT of every RUN blocks, so whole pages come
 * free; returns the bytes still allocated. */
static size_t free_most(void)
{
    size_t live = 0;
    for (size_t i = 0; i < nblocks; i++) {
        if (i % RUN < RUN - KEPT) {
            free(blocks[i]);
            blocks[i] = NULL;
        } else {
            live += block_size(i);
        }
    }
    return live;
}

/* Makes the heap, on a thread that exits before the frees (its arena is
 * then no thread's) or on this one. */
static void make_heap(bool by_exited_thread)
{
    if (by_exited_thread) {
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, allocate_heap, NULL) == 0);
        REQUIRE(pthread_join(th, NULL) == 0);
    } else {
        allocate_heap(NULL);
    }
}

static void free_rest(void)
{
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    nblocks = 0;
}

#endif
