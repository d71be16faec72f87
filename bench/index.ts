/** `npm run bench`: every benchmark, one after another (they share two cores). */
import { benchEmu, formatEmuBench } from './emu.js';

const rows = await benchEmu();
process.stdout.write(`emu (best of 3) against qemu-system-riscv64 TCG, same ELF, same run:\n${formatEmuBench(rows)}\n`);
