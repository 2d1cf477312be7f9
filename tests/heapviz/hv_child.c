/* A pmalloc program for the heapviz tests: builds a heap with chunks in
 * every state (in use, fast, small, large, unsorted, thread cache, a
 * class store, a thread arena, an mmapped chunk), writes its own snapshot to the file
 * named by argv[1], prints "ready" and waits on stdin until it closes, so
 * heapviz --pid can look at the same heap from outside. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <pmalloc.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void *worker(void *arg)
{
    (void)arg;
    void *keep[8];
    for (int i = 0; i < 8; i++)
        keep[i] = malloc(100 + 50 * (size_t)i);
    free(keep[2]);
    free(keep[5]);
    pthread_mutex_lock(&m);
    stage = 1;
    pthread_cond_broadcast(&cv);
    while (stage != 2)
        pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    /* unbuffered: stdio must not allocate after the snapshot */
    setvbuf(stdout, NULL, _IONBF, 0);
    char *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = malloc((size_t)(24 + 37 * i));
    for (int i = 0; i < 40; i += 3)
        free(p[i]);
    char *big = malloc(300000);
    char *l = malloc(5000), *g = malloc(20);
    free(l);
    /* the size classes on (common.sh turns them off), with a small
     * budget: blocks of one class beyond what the cache may keep wait in
     * the arena's store (its bound is the budget too); the last one keeps
     * them off top */
    mallopt(PMALLOC_M_TCACHE_MAX, 256 * 1024);
    mallopt(PMALLOC_M_TCACHE_BYTES, 64 * 1024);
    char *cls[24];
    for (int i = 0; i < 24; i++)
        cls[i] = malloc(4000);
    char *cls_plug = malloc(4000);
    for (int i = 0; i < 24; i++)
        free(cls[i]);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_mutex_lock(&m);
    while (stage != 1)
        pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || pmalloc_snapshot(fd) != 0)
        return 1;
    close(fd);
    if (write(1, "ready\n", 6) != 6)
        return 1;
    if (argc > 2)   /* a second mode: crash, for the core-dump test */
        abort();
    char c;
    while (read(0, &c, 1) == 1) /* read(2): stdio would allocate a buffer */
        ;
    pthread_mutex_lock(&m);
    stage = 2;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    free(big);
    free(g);
    free(cls_plug);
    return 0;
}
