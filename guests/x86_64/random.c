/*
 * random.c — host entropy, a device read.
 */
#include "devices.h"

unsigned long random_u64(void)
{
    return device_read(DEVICE_ENTROPY);
}
