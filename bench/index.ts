/** `npm run bench`: every benchmark, one after another (they share two cores). */
import { benchEmu, formatEmuBench } from './emu.js';
import { benchCrew, formatCrewBench } from './crew.js';
import { benchRecordReplay, formatRecordReplay } from './record-replay.js';

const started = process.hrtime.bigint();
const report = await benchEmu();
process.stdout.write(`emu against qemu-system-riscv64 TCG, same ELF, same run:\n${formatEmuBench(report)}\n`);
process.stdout.write(
  `\nuniprocessor record/replay on emu (1 vCPU, full size, best of 3 rounds of plain/record/replay):\n${formatRecordReplay(await benchRecordReplay())}\n`,
);
process.stdout.write(
  `\nSMP record/replay with CREW on emu (full size, 1 to 8 vCPUs on this machine's cores, best of 2 rounds of plain/record/replay):\n${formatCrewBench(await benchCrew())}\n`,
);
process.stdout.write(`bench took ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
