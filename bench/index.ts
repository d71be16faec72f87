/** `npm run bench`: every benchmark, one after another (they share two cores). */
import { benchEmu, formatEmuBench } from './emu.js';

const started = process.hrtime.bigint();
const report = await benchEmu();
process.stdout.write(`emu against qemu-system-riscv64 TCG, same ELF, same run:\n${formatEmuBench(report)}\n`);
process.stdout.write(`bench took ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
