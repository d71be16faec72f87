/**
 * The child side of EngineProcess (`rrkit replica engine`, not for people): records the
 * guest, or replays the log arriving on stdin and goes live at its end, with the console
 * tagged on stdout, the log on fd 3, console input from fd 4 and reports over IPC.
 */
import { readLogHeader } from '../analysis/log-reader.js';
import { replay } from '../session/replay.js';
import { record } from '../session/record.js';
import type { EngineEvent, EngineRole } from './engine-process.js';

const LOG_FD = 3;
const INPUT_FD = 4;
/** How often a standby checks whether its machine went live (the failover report's resolution). */
const LIVE_POLL_MS = 10;

function report(event: EngineEvent): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(event, undefined, {}, () => resolve());
  });
}

/** A standby starts before its primary's log exists: the header comes over IPC. */
function headerFromParent(): Promise<Buffer> {
  return new Promise((resolve) => {
    const onMessage = (message: { kind: string; hex: string }): void => {
      if (message.kind !== 'header') return;
      process.off('message', onMessage);
      resolve(Buffer.from(message.hex, 'hex'));
    };
    process.on('message', onMessage);
  });
}

/** `disk`: the guest's disk image (kvm) and, recording, whether the log leaves its bytes out. */
export async function engineMain(
  role: EngineRole,
  guest: string,
  engine: string,
  vcpus: number,
  disk?: { path: string; shared: boolean },
): Promise<void> {
  // The replica is gone: so is its machine.
  process.on('disconnect', () => process.exit(137));
  try {
    if (role === 'record') {
      const result = await record({
        elf: guest,
        engine,
        vcpus,
        logPath: `/dev/fd/${LOG_FD}`,
        input: { kind: 'fd', fd: INPUT_FD },
        capture: 'tagged',
        disk: disk?.path,
        diskShared: disk?.shared,
        // CREW only: a backup goes live through replay --then-run, which cannot yet go on
        // from a serialized group (docs/crew.md), so the primary never forms one (emu: kvm
        // has no serialized mode, and refuses the option).
        ...(engine === 'emu' ? { serialize: { enterPerMillion: 0 } } : {}),
      });
      await report({ kind: 'done', exitCode: result.exitCode, outcome: result.outcome, detail: result.error });
    } else {
      const header = readLogHeader(await headerFromParent());
      let live = false;
      const outcome = await replay({
        logPath: 'the primary\'s log',
        elf: guest,
        stream: { fd: 0, header },
        thenRun: { logPath: `/dev/fd/${LOG_FD}` },
        // This replica's own copy (its hash was checked at connect, and the replay checks it against the log's).
        disk: disk?.path,
        input: { kind: 'fd', fd: INPUT_FD },
        capture: 'tagged',
        progressIntervalMs: LIVE_POLL_MS,
        onProgress: (sample) => {
          if (sample.live === true && !live) {
            live = true;
            void report({ kind: 'live', at: performance.timeOrigin + performance.now() });
          }
        },
      });
      const exitCode = outcome.kind === 'exited' || outcome.kind === 'went-live' ? outcome.exitCode : outcome.result.exitCode;
      const detail = outcome.kind === 'diverged' ? `diverged at vcpu ${outcome.report.vcpu} @ ${outcome.report.count}: ${outcome.report.what}` : '';
      await report({ kind: 'done', exitCode, outcome: outcome.kind, detail });
    }
  } catch (error) {
    await report({ kind: 'done', exitCode: 2, outcome: 'error', detail: (error as Error).message });
  }
  process.exit(0);
}
