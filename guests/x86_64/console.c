/*
 * console.c — putchar and getchar on the devices page.
 */
#include "devices.h"

int putchar(int c)
{
    device_write(DEVICE_CONSOLE_TX, (unsigned char)c);
    return (unsigned char)c;
}

int getchar(void)
{
    unsigned long v = device_read(DEVICE_CONSOLE_RX);
    return v == ~0ul ? -1 : (int)(v & 0xff);
}
