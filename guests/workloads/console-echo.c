/*
 * console-echo — reads console input (hart 0, polling getchar) until a byte 0x04 or
 * a line `end`; echoes each line upper-cased after "> "; then prints the line and
 * byte counts and an FNV-1a checksum of the input. For the same input the result is
 * the same. Other harts stay idle.
 */
#include "rrkit.h"

#define END_OF_TRANSMISSION 0x04
#define LINE_MAX 256
#define IDLE_LIMIT_NS 10000000000ul /* fail if no input arrives for 10 s */

static void echo_line(const char *line, unsigned n)
{
    printf("> ");
    for (unsigned i = 0; i < n; i++)
        putchar(line[i] >= 'a' && line[i] <= 'z' ? line[i] - 'a' + 'A' : line[i]);
    putchar('\n');
}

static int is_end_line(const char *line, unsigned n)
{
    return n == 3 && memcmp(line, "end", 3) == 0;
}

int main(void)
{
    if (hart_id() != 0)
        return 0;

    char line[LINE_MAX];
    unsigned used = 0;
    unsigned long lines = 0, bytes = 0;
    unsigned checksum = 2166136261u; /* FNV-1a, 32 bits */
    unsigned long idle_since = clock_ns();
    int finished = 0;

    while (!finished) {
        int c = getchar();
        if (c < 0) {
            if (clock_ns() - idle_since > IDLE_LIMIT_NS)
                break;
            continue;
        }
        idle_since = clock_ns();
        if (c == END_OF_TRANSMISSION) {
            if (used > 0 && !is_end_line(line, used))
                echo_line(line, used), lines++;
            finished = 1;
            continue;
        }
        bytes++;
        checksum = (checksum ^ (unsigned char)c) * 16777619u;
        if (c == '\n') {
            if (is_end_line(line, used)) {
                finished = 1;
                continue;
            }
            echo_line(line, used), lines++;
            used = 0;
            continue;
        }
        if (used == LINE_MAX) /* a very long line is echoed in pieces */
            echo_line(line, used), lines++, used = 0;
        line[used++] = (char)c;
    }

    printf("console-echo: %s lines=%lu bytes=%lu fnv=%08x\n", finished ? "ok" : "FAIL", lines,
           bytes, checksum);
    return finished ? 0 : 1;
}
