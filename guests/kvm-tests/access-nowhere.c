/* A store to a guest-physical address that is neither RAM nor the devices page. */
#include "rrkit.h"

int main(void)
{
    *(volatile unsigned long *)0xe0000000ul = 1;
    return 0;
}
