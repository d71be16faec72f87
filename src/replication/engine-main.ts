/**
 * The child side of EngineProcess (`rrkit replica engine`, not for people): records the
 * guest, or replays the log arriving on stdin and goes live at its end, with the console
 * tagged on stdout, the log on fd 3, console input from fd 4 and reports over IPC.
 */
import { readLogHeader } from '../analysis/log-reader.js';
import { replay } from '../session/replay.js';
import { record } from '../session/record.js';
import { native, type NativeImageTaken } from '../native.js';
import type { EngineEvent, EngineRole } from './engine-process.js';

const LOG_FD = 3;
const INPUT_FD = 4;
/** How often a standby checks whether its machine went live (the failover report's resolution). */
const LIVE_POLL_MS = 10;
/**
 * Sealed log chunks the engine's writer queues before the guest waits for its reader: small,
 * so that a primary that stops reading the log (a backup too far behind) holds the guest
 * back within about this much more log (flow control, docs/replication.md).
 */
export const ENGINE_LOG_QUEUE_BYTES = 64 << 10;

function report(event: EngineEvent): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(event, undefined, {}, () => resolve());
  });
}

interface HeaderMessage {
  kind: 'header';
  hex: string;
  /** a backup rejoining: the state image to start from, and the chunks the stream holds */
  resume?: { imagePath: string; chunk: number; records: string };
}

/** A standby starts before its primary's log exists: the header comes over IPC. */
function headerFromParent(): Promise<HeaderMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: { kind: string }): void => {
      if (message.kind !== 'header') return;
      process.off('message', onMessage);
      resolve(message as HeaderMessage);
    };
    process.on('message', onMessage);
  });
}

/** The primary asks for state images (emu) to give backups that join: {kind:'image', path}. */
function serveImageRequests(): void {
  process.on('message', (message: { kind: string; path?: string }) => {
    if (message.kind !== 'image' || typeof message.path !== 'string') return;
    const path = message.path;
    let asked = false;
    try {
      asked = native().emuRequestStateImage(path, (taken: NativeImageTaken) => {
        if (taken.error !== undefined) return void report({ kind: 'image', path, error: taken.error });
        void report({
          kind: 'image',
          path,
          records: String(taken.records),
          checkpoint: taken.checkpoint,
          consoleOffset: String(taken.consoleOffset),
          counts: taken.counts.map(String),
        });
      });
    } catch (error) {
      return void report({ kind: 'image', path, error: (error as Error).message });
    }
    if (!asked) void report({ kind: 'image', path, error: 'the machine is not running yet' });
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
  if (engine === 'emu') serveImageRequests();
  try {
    if (role === 'record') {
      const result = await record({
        elf: guest,
        engine,
        vcpus,
        logPath: `/dev/fd/${LOG_FD}`,
        input: { kind: 'fd', fd: INPUT_FD },
        capture: 'tagged',
        maxQueuedLogBytes: ENGINE_LOG_QUEUE_BYTES,
        disk: disk?.path,
        diskShared: disk?.shared,
      });
      await report({ kind: 'done', exitCode: result.exitCode, outcome: result.outcome, detail: result.error });
    } else {
      const start = await headerFromParent();
      const header = readLogHeader(Buffer.from(start.hex, 'hex'));
      const resume = start.resume;
      let live = false;
      const outcome = await replay({
        logPath: 'the primary\'s log',
        elf: guest,
        stream: { fd: 0, header, ...(resume === undefined ? {} : { start: { chunk: resume.chunk, records: BigInt(resume.records) } }) },
        ...(resume === undefined ? {} : { resumeFrom: resume.imagePath }),
        thenRun: { logPath: `/dev/fd/${LOG_FD}`, maxQueuedLogBytes: ENGINE_LOG_QUEUE_BYTES },
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
