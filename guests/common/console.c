/*
 * console.c — puts and printf over the architecture's putchar.
 *
 * A whole call is written under one console lock, so lines printed by different harts
 * do not interleave. The lock is re-entrant on its hart: a timer handler that prints
 * while its hart is in the middle of a printf does not deadlock (its text then lands
 * inside the interrupted line).
 */
#include <stdarg.h>

#include "runtime.h"

static struct {
    volatile unsigned long owner; /* hart id + 1; 0 when free */
    unsigned long depth;
} console;

static void console_acquire(void)
{
    unsigned long me = hart_id() + 1ul;
    if (__atomic_load_n(&console.owner, __ATOMIC_SEQ_CST) != me) {
        unsigned long free = 0;
        while (!__atomic_compare_exchange_n(&console.owner, &free, me, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST)) {
            free = 0;
            rt_cpu_relax();
        }
    }
    console.depth++;
}

static void console_release(void)
{
    if (--console.depth == 0)
        __atomic_store_n(&console.owner, 0ul, __ATOMIC_SEQ_CST);
}

static int write_string(const char *s)
{
    int n = 0;
    for (; *s; s++, n++)
        putchar(*s);
    return n;
}

int puts(const char *s)
{
    console_acquire();
    int n = write_string(s);
    putchar('\n');
    console_release();
    return n + 1;
}

/* Writes v in the given base, at least `width` characters, padded with `pad`. */
static int write_unsigned(unsigned long v, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    int written = 0;
    for (; width > n; width--, written++)
        putchar(pad);
    while (n)
        putchar(digits[--n]), written++;
    return written;
}

static int write_signed(long v, int width, char pad)
{
    if (v >= 0)
        return write_unsigned((unsigned long)v, 10, width, pad);
    /* Negate in unsigned arithmetic: -LONG_MIN does not fit in a long. */
    unsigned long magnitude = 0ul - (unsigned long)v;
    if (pad == '0') {
        putchar('-');
        return 1 + write_unsigned(magnitude, 10, width - 1, pad);
    }
    int n = 0;
    int digits = 0;
    for (unsigned long m = magnitude; m; m /= 10)
        digits++;
    for (; width > digits + 1; width--, n++)
        putchar(' ');
    putchar('-');
    return n + 1 + write_unsigned(magnitude, 10, 0, ' ');
}

static int format(const char *fmt, va_list ap)
{
    int n = 0;
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar(*fmt);
            n++;
            continue;
        }
        fmt++;
        char pad = ' ';
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        int width = 0;
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            width = width * 10 + (*fmt - '0');
        int is_long = 0;
        if (*fmt == 'l') {
            is_long = 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
            n += write_signed(is_long ? va_arg(ap, long) : va_arg(ap, int), width, pad);
            break;
        case 'u':
            n += write_unsigned(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned),
                                10, width, pad);
            break;
        case 'x':
            n += write_unsigned(is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned),
                                16, width, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            s = s ? s : "(null)";
            for (int len = (int)strlen(s); width > len; width--, n++)
                putchar(' ');
            n += write_string(s);
            break;
        }
        case 'c':
            putchar(va_arg(ap, int));
            n++;
            break;
        case '%':
            putchar('%');
            n++;
            break;
        case '\0':
            return n; /* a lone '%' at the end */
        default:
            /* Unsupported conversion: show it rather than guess at its argument. */
            putchar('%');
            putchar(*fmt);
            n += 2;
            break;
        }
    }
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    console_acquire();
    int n = format(fmt, ap);
    console_release();
    va_end(ap);
    return n;
}
