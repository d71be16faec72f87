/*
 * console.c — putchar and getchar on the devices page.
 *
 * Every device access is a VM exit, which costs tens of microseconds at CPL3 on the
 * nested PVM backend: putchar collects a line and hands it to the board in one
 * console-buffer write (one exit per line instead of one per byte). The line goes out at
 * a newline, when the buffer is full, before console input is read, and at exit.
 */
#include "devices.h"
#include "hart_area.h"

/* Each hart collects its own line (hart-local): harts never share the buffer. */
void x86_console_flush(void)
{
    unsigned long length = HART_LOCAL->line_length;
    if (length == 0)
        return;
    unsigned long line = HART_LOCAL->self + __builtin_offsetof(struct hart_local, line);
    device_write(DEVICE_CONSOLE_WRITE, length << CONSOLE_WRITE_LENGTH_SHIFT | line);
    HART_LOCAL->line_length = 0;
}

int putchar(int c)
{
    unsigned long n = HART_LOCAL->line_length;
    HART_LOCAL->line[n++] = (char)c;
    HART_LOCAL->line_length = n;
    if (c == '\n' || n == sizeof HART_LOCAL->line)
        x86_console_flush();
    return (unsigned char)c;
}

int getchar(void)
{
    x86_console_flush(); /* a prompt goes out before the input it asks for */
    unsigned long v = device_read(DEVICE_CONSOLE_RX);
    return v == ~0ul ? -1 : (int)(v & 0xff);
}
