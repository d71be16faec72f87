/**
 * Shuffled replays (`rrkit verify --shuffle`, docs/crew.md "Shuffled replays"): a log whose
 * order is complete replays to its recording under any host schedule, so verify replays it
 * again under shuffled ones (slice lengths, hand-over and wake-up orders, 1 thread or the
 * host's cores), each of which must agree. Fresh SMP recordings — serialized often, and
 * parallel CREW — pass; the kept locked-ring log that leaves one order to the host (recorded
 * before joins pinned their group's holder: test/fixtures/order-dependence) is caught, which
 * is what shows the check can fail.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { builtGuestPath, REPO_ROOT } from '../src/guests/catalog.js';
import { EXIT } from '../src/cli/exit-status.js';
import { emuRunArguments } from '../src/engines/emu.js';
import { kvmRunArguments } from '../src/engines/kvm.js';
import { record } from '../src/session/record.js';
import { verify } from '../src/session/verify.js';
import { logFolder } from './kept-logs.js';
import { runRrkit } from './rrkit-cli.js';
const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'order-dependence');
const FIXTURE_LOG = join(FIXTURE, 'locked-ring-8.rrlog');
const FIXTURE_GUEST = join(FIXTURE, 'locked-ring.elf');
/** Each shuffled replay of the fixture diverges about half the time on 2 cores, a third on 1 thread: 24 miss it with odds below 1e-5. */
const FIXTURE_RUNS = 24;
const SERIALIZE_OFTEN = { enterPerMillion: 5, window: 1000, probe: 100_000 };

const rrkit = (...args: string[]) => runRrkit(args, 120_000);

describe('shuffled replays', () => {
  test('fresh SMP recordings replay to their recording under every shuffled schedule', async () => {
    const dir = logFolder('shuffled-replays');
    const cases = [
      { name: 'locked-ring', vcpus: 8, serialize: SERIALIZE_OFTEN },
      { name: 'work-queue', vcpus: 8, serialize: SERIALIZE_OFTEN },
      { name: 'flag-handshake', vcpus: 4, serialize: undefined },
      { name: 'racy-counter', vcpus: 4, serialize: SERIALIZE_OFTEN },
      { name: 'racy-counter', vcpus: 4, serialize: { enterPerMillion: 0 } }, // parallel CREW only
    ];
    for (const c of cases) {
      const logPath = join(dir, `${c.name}-${c.vcpus}-${c.serialize?.enterPerMillion ?? 'default'}.rrlog`);
      const recorded = await record({
        elf: builtGuestPath(c.name, 'rv64', true),
        logPath,
        vcpus: c.vcpus,
        capture: true,
        checkpointInterval: 200_000n,
        timeoutSeconds: 60,
        ...(c.serialize === undefined ? {} : { serialize: c.serialize }),
      });
      expect(recorded.exitCode, c.name).toBe(0);
      const verified = await verify({ logPath, timeoutSeconds: 60 }, { runs: 6 });
      const why = verified.verdict.verdict === 'diverged' ? verified.verdict.report.summary : '';
      expect(verified.verdict.verdict, `${logPath}: ${why}`).toBe('identical');
      expect(verified.shuffled).toEqual({ runs: 6 });
      if (verified.verdict.verdict === 'identical') expect(verified.verdict.stateHash).toBe(recorded.stateHash);
    }
  });

  test('a log that leaves an order to the host is caught, with the schedule that caught it', async () => {
    // The usual schedule mostly follows the recorded order (the plain replay is identical
    // most of the time, not always: on a loaded host it too can diverge); the shuffled ones
    // leave it about half the time.
    const verified = await verify({ logPath: FIXTURE_LOG, elf: FIXTURE_GUEST }, { runs: FIXTURE_RUNS });
    expect(verified.verdict.verdict).toBe('diverged');
    if (verified.shuffled !== undefined) {
      expect(verified.shuffled.disagreed?.seed).toBeGreaterThanOrEqual(1);
      expect(verified.shuffled.runs).toBeLessThanOrEqual(FIXTURE_RUNS);
    }

    const cli = await rrkit('verify', FIXTURE_LOG, '--guest', FIXTURE_GUEST, '--shuffle', String(FIXTURE_RUNS));
    expect(cli.code).toBe(EXIT.diverged);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/replay diverged at vcpu \d+ @ instruction \d+/);
    if (cli.stderr.includes('shuffled')) {
      expect(cli.stderr).toMatch(/under shuffled schedule \d+ \(seed \d+, .*\), after an identical first replay: the log leaves an order to the host/);
    }
  });

  test('bad shuffle options: one clear line each', async () => {
    const seedAlone = await rrkit('verify', FIXTURE_LOG, '--guest', FIXTURE_GUEST, '--seed', '3');
    expect(seedAlone.code).toBe(EXIT.usage);
    expect(seedAlone.stderr).toMatch(/--seed needs --shuffle/);
    const negative = await rrkit('verify', FIXTURE_LOG, '--guest', FIXTURE_GUEST, '--shuffle', '-1');
    expect(negative.code).toBe(EXIT.usage);
    expect(negative.stderr).toMatch(/--shuffle must be/);
    expect(() => emuRunArguments({ shuffleSeed: -1 }, 8)).toThrow(/shuffleSeed/);
    expect(() => kvmRunArguments({ shuffleSeed: 1 })).toThrow(/shuffles replays only/);
    const kvmReplay = kvmRunArguments({ shuffleSeed: 3, session: { mode: 'replay', path: FIXTURE_LOG, followMs: -1, thenRun: null } });
    expect(kvmReplay.session).toMatchObject({ mode: 'replay', shuffleSeed: 3 });
    expect(emuRunArguments({ shuffleSeed: 7 }, 8).schedule.shuffleSeed).toBe(7);
  });
});
