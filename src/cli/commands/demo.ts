/**
 * `rrkit demo`: the main job in one command — run a built-in workload with interrupts and
 * world inputs plainly, record it, replay and verify the log, and summarise on one screen.
 */
import { mkdtempSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { formatDivergence } from '../../analysis/divergence.js';
import { scanLogFile } from '../../analysis/log-reader.js';
import { totalLandmarks } from '../../engines/engine.js';
import { kvmDeviceFacts } from '../../engines/kvm.js';
import { interruptDelayStats } from '../../analysis/log-stats.js';
import { DEFAULT_ENGINE, ENGINE_NAMES, engineNamed } from '../../engines/index.js';
import { builtGuestPath, findWorkload, WORKLOADS } from '../../guests/catalog.js';
import { writeDiskImage } from '../../guests/disk-image.js';
import { readGuestImage } from '../../guests/image.js';
import { record } from '../../session/record.js';
import { runGuest } from '../../session/run.js';
import { verify } from '../../session/verify.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-status.js';
import { checkDiskEngine, checkVcpus } from '../machine-args.js';

interface DemoArgs {
  workload: string | undefined;
  small: boolean;
  vcpus: string | undefined;
  engine: string;
}

/** The disk the demo writes for a workload that reads one: 4 MiB of data (1 MiB --small). */
const DEMO_DISK_SECTORS = 8192;

const grouped = (n: bigint | number): string => n.toLocaleString('en-US');

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'record, replay and verify a built-in workload, with a one-screen summary',
  builder: (y: Argv) =>
    y
      .option('workload', {
        type: 'string',
        describe: 'the built-in workload to record (default: timer-ticks on emu; on kvm, which delivers interrupts only at VM exits, disk-checksum)',
      })
      .option('small', { type: 'boolean', default: false, describe: 'its quick-test size' })
      .option('vcpus', { type: 'string', describe: 'vCPUs (default 1); more than 1 records their sharing with CREW (emu)' })
      .option('engine', { choices: ENGINE_NAMES, default: DEFAULT_ENGINE, describe: 'execution engine' })
      .example('$0 demo --workload racy-counter --vcpus 4', 'a data race on 4 vCPUs, recorded and replayed exactly')
      .example('$0 demo --engine kvm', 'on /dev/kvm: a disk read by DMA and its completion interrupts, recorded and replayed') as unknown as Argv<DemoArgs>,
  handler: async (args) => {
    const found = findWorkload(args.workload ?? (args.engine === 'kvm' ? 'disk-checksum' : 'timer-ticks'));
    if (found === undefined || found.workload.needsConsoleInput) {
      const names = WORKLOADS.filter((w) => !w.needsConsoleInput).map((w) => w.name);
      throw new UsageError(`--workload must be one of ${names.join(', ')}`);
    }
    const engine = engineNamed(args.engine);
    const vcpus = checkVcpus(args.vcpus, engine);
    if (found.workload.needsDisk) checkDiskEngine(engine);
    const small = args.small || found.small;
    const image = await readGuestImage(builtGuestPath(found.workload.name, engine.guestArch, small));
    const dir = mkdtempSync(join(tmpdir(), 'rrkit-demo-'));
    const log = join(dir, `${found.workload.name}.rrlog`);
    const say = (line: string): boolean => process.stderr.write(`${line}\n`);
    say(`rrkit demo: ${found.workload.name} (${found.workload.description}) on the ${engine.name} engine, ${vcpus === 1 ? '1 vCPU' : `${vcpus} vCPUs (CREW)`}`);
    let disk: string | undefined;
    if (found.workload.needsDisk) {
      disk = join(dir, 'disk.img');
      await writeDiskImage(disk, small ? DEMO_DISK_SECTORS / 4 : DEMO_DISK_SECTORS);
      say(`  0/3 wrote a disk image for it: ${disk}`);
    }

    say('  1/3 plain run ...');
    const plain = await runGuest({
      elf: image,
      engine: engine.name,
      vcpus,
      capture: true,
      disk: disk === undefined ? undefined : { path: disk, sectors: 0, shared: false },
    });
    say('  2/3 recording ...');
    const recorded = await record({ elf: image, engine: engine.name, logPath: log, vcpus, capture: true, disk });
    say('  3/3 replaying and verifying ...');
    const { verdict, outcome: replayed } = await verify({ logPath: log });

    const landmarks = totalLandmarks(recorded);
    const logBytes = (await stat(log)).size;
    const counts = new Map<string, number>();
    let records = 0;
    scanLogFile(log, (r) => {
      records++;
      counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    });
    const count = (type: string): number => counts.get(type) ?? 0;
    const ratio = (seconds: number): string => `${seconds.toFixed(3)} s (${(seconds / plain.wallSeconds).toFixed(2)}x plain)`;
    say('');
    say(`  guest said        ${recorded.console.toString().trim().split('\n').join('\n                    ')}`);
    say(`  ${engine.landmarkUnit.padEnd(18)}${grouped(landmarks)}`);
    say(
      `  events logged     ${grouped(records)}: ${count('interrupt') + count('delayed-interrupt')} interrupts, ${count('input')} inputs, ` +
        `${count('checkpoint')} checkpoints` +
        (count('dma-write') > 0 ? `, ${count('dma-write')} DMA writes` : '') +
        (vcpus > 1 ? `, ${grouped(count('crew-transfer'))} CREW page transfers` : ''),
    );
    say(`  log               ${grouped(logBytes)} bytes, ${((logBytes * 1000) / Number(landmarks)).toFixed(4)} bytes per 1000 ${engine.landmarkUnit}`);
    say(`                    ${log}`);
    const delays = interruptDelayStats(kvmDeviceFacts(recorded)?.interruptDelaysNs ?? []);
    if (delays !== null) {
      say(
        `  interrupt delay   median ${delays.medianUs.toFixed(0)} µs, max ${delays.maxUs.toFixed(0)} µs from falling due to ` +
          `delivery at the guest's next exit (${delays.interrupts} interrupts)`,
      );
    }
    say(`  plain run         ${plain.wallSeconds.toFixed(3)} s`);
    say(`  record            ${ratio(recorded.wallSeconds)}`);
    say(`  replay            ${ratio(replayed.result.wallSeconds)}`);
    if (verdict.verdict === 'diverged') {
      say(`  verify            DIVERGED: ${formatDivergence(verdict.report)}`);
      process.exitCode = EXIT.diverged;
      return;
    }
    // The replay checked itself against the log; this checks it against the recording's own result too.
    const same =
      verdict.verdict === 'identical' && replayed.result.console.equals(recorded.console) && replayed.result.stateHash === recorded.stateHash;
    say(
      `  verify            ${same ? 'identical' : 'DIFFERENT'}: ${count('checkpoint')} checkpoints, console output, exit code ` +
        `${replayed.result.exitCode}, final state ${replayed.result.stateHash.toString(16).padStart(16, '0')}`,
    );
    say('');
    say(`  next: rrkit log stats ${log}`);
    process.exitCode = same ? EXIT.ok : EXIT.diverged;
  },
};
