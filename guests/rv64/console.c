/*
 * console.c — putchar and getchar on the ns16550a UART. Polled: no UART interrupts,
 * so console input is only ever a device read (one logged input per getchar).
 */
#include "board.h"

#define UART_RBR 0 /* receive buffer (read) */
#define UART_THR 0 /* transmit holding (write) */
#define UART_LSR 5 /* line status */
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20

int putchar(int c)
{
    while (!(mmio_read8(BOARD_UART + UART_LSR) & LSR_THR_EMPTY))
        ;
    mmio_write8(BOARD_UART + UART_THR, (unsigned char)c);
    return (unsigned char)c;
}

int getchar(void)
{
    if (!(mmio_read8(BOARD_UART + UART_LSR) & LSR_DATA_READY))
        return -1;
    return mmio_read8(BOARD_UART + UART_RBR);
}
