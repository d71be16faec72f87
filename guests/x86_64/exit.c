/*
 * exit.c — stop the machine through the devices page's exit register.
 */
#include "devices.h"

void exit(int code)
{
    x86_console_flush();
    device_write(DEVICE_EXIT, (unsigned)code);
    for (;;) /* the VMM stops at the write; CPL3 cannot HLT */
        ;
}
