/*
 * console.c — putchar and getchar on the devices page.
 *
 * Every device access is a VM exit, which costs tens of microseconds at CPL3 on the
 * nested PVM backend: putchar collects a line and hands it to the board in one
 * console-buffer write (one exit per line instead of one per byte). The line goes out at
 * a newline, when the buffer is full, before console input is read, and at exit.
 */
#include "devices.h"

static char line[256];
static unsigned long line_length;

void x86_console_flush(void)
{
    if (line_length == 0)
        return;
    device_write(DEVICE_CONSOLE_WRITE, line_length << CONSOLE_WRITE_LENGTH_SHIFT | (unsigned long)line);
    line_length = 0;
}

int putchar(int c)
{
    line[line_length++] = (char)c;
    if (c == '\n' || line_length == sizeof line)
        x86_console_flush();
    return (unsigned char)c;
}

int getchar(void)
{
    x86_console_flush(); /* a prompt goes out before the input it asks for */
    unsigned long v = device_read(DEVICE_CONSOLE_RX);
    return v == ~0ul ? -1 : (int)(v & 0xff);
}
