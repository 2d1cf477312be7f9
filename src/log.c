#include "config.h"

#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void pm_buf_str(struct pm_buf *b, const char *s)
{
    while (*s && b->len < sizeof b->text)
        b->text[b->len++] = *s++;
}

static void pad_dec(struct pm_buf *b, uint64_t v, unsigned width)
{
    char digits[24];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (width > n && b->len < sizeof b->text) {
        b->text[b->len++] = ' ';
        width--;
    }
    while (n && b->len < sizeof b->text)
        b->text[b->len++] = digits[--n];
}

void pm_buf_dec(struct pm_buf *b, uint64_t v) { pad_dec(b, v, 0); }

static void put_hex(struct pm_buf *b, uintptr_t v)
{
    static const char hexdigits[] = "0123456789abcdef";
    char digits[2 * sizeof v];
    unsigned n = 0;
    do {
        digits[n++] = hexdigits[v & 15];
        v >>= 4;
    } while (v);
    pm_buf_str(b, "0x");
    while (n && b->len < sizeof b->text)
        b->text[b->len++] = digits[--n];
}

void pm_buf_end_line(struct pm_buf *b)
{
    if (b->len >= sizeof b->text)
        b->len = sizeof b->text - 1;
    b->text[b->len++] = '\n';
}

void pm_buf_flush(struct pm_buf *b, int fd)
{
    int saved = errno;
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->text + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    b->len = 0;
    errno = saved;
}

void pm_write_str(int fd, const char *s)
{
    struct pm_buf b = { .len = 0 };
    while (*s) {
        pm_buf_str(&b, s);
        s += b.len;
        pm_buf_flush(&b, fd);
    }
}

void pm_log_at(int fd, const char *prefix, const char *what, const void *addr)
{
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, prefix);
    pm_buf_str(&b, what);
    pm_buf_str(&b, " at ");
    put_hex(&b, (uintptr_t)addr);
    pm_buf_end_line(&b);
    pm_buf_flush(&b, fd);
}

int pm_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int pm_flush_to_fd(void *ctx, const char *data, size_t len) { return pm_write_all(*(int *)ctx, data, len); }
