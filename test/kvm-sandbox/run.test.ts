/**
 * The host side of a sandbox run, with a stand-in for QEMU that plays a scenario: console
 * lines on the console socket, output on stdout, an exit status. No boot, so it is quick.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeCache } from './cache-fixture.js';
import { runInSandbox, type SandboxRunOptions } from './run.js';
import { SandboxError } from './sandbox-error.js';

interface Scenario {
  console?: string[];
  output?: string;
  stderr?: string;
  exit: number;
  hang?: boolean;
}

const { dir, paths } = fakeCache();
const fakeQemu = join(dir, 'fake-qemu.mjs');
writeFileSync(
  fakeQemu,
  `#!/usr/bin/env node
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
const scenario = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'scenario.json'))}, 'utf8'));
const args = process.argv.slice(2);
const socketPath = /path=([^,]+)/.exec(args.find((a) => a.startsWith('socket,id=console')))[1];
if (scenario.stderr) process.stderr.write(scenario.stderr);
if (!scenario.console) process.exit(scenario.exit);
const console = connect(socketPath, () => {
  for (const line of scenario.console) console.write(line + '\\r\\n');
  process.stdout.write(scenario.output ?? '', () => {
    if (scenario.hang) return setInterval(() => {}, 1000);
    console.end(() => process.exit(scenario.exit));
  });
});
`,
  { mode: 0o755 },
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STEPS = ['modules', 'kvm', '9p', 'overlay', 'chroot', 'command'].map((s) => `rrkit-sandbox: step ${s}`);

async function play(scenario: Scenario, opts: Partial<SandboxRunOptions> = {}) {
  writeFileSync(join(dir, 'scenario.json'), JSON.stringify(scenario));
  let output = '';
  const result = await runInSandbox({
    command: ['node', '--version'],
    paths,
    qemu: fakeQemu,
    onOutput: (chunk) => (output += chunk.toString()),
    runDir: mkdtempSync(join(dir, 'run-')), // kept after a failure: inside the fixture, so it goes with it
    ...opts,
  });
  return { result, output };
}

async function failure(scenario: Scenario, opts: Partial<SandboxRunOptions> = {}): Promise<SandboxError> {
  const error = await play(scenario, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SandboxError)) throw new Error(`expected a SandboxError, got ${String(error)}`);
  return error;
}

describe('a sandbox run, host side', () => {
  it("returns the command's status and output, with the time of each step", async () => {
    const runDir = mkdtempSync(join(dir, 'run-'));
    const { result, output } = await play(
      { console: ['Linux version 6.1.0', ...STEPS, 'rrkit-sandbox: status 7'], output: 'v20.0.0\n', exit: 33 },
      { runDir },
    );
    expect(result.status).toBe(7);
    expect(output).toBe('v20.0.0\n');
    expect(Object.keys(result.stepTimesMs)).toEqual(['modules', 'kvm', '9p', 'overlay', 'chroot', 'command']);
    expect(readFileSync(join(runDir, 'job.sh'), 'utf8')).toContain(`exec env -i`);
    expect(readFileSync(join(runDir, 'job.sh'), 'utf8')).toContain(`'node' '--version'`);
    expect(readFileSync(join(runDir, 'console.log'), 'utf8')).toContain('Linux version 6.1.0\nrrkit-sandbox: step modules\n');
  });

  it('a step that fails inside: its name and message, and where the console log is', async () => {
    const error = await failure({
      console: [STEPS[0]!, 'insmod: cannot insert', 'rrkit-sandbox: failed modules: insmod kvm_amd failed: No such device'],
      exit: 35,
    });
    expect(error.step).toBe('modules');
    expect(error.message).toMatch(/^kvm sandbox, step 'modules': insmod kvm_amd failed: No such device \(console log: \/.*console\.log\)$/);
    expect(existsSync(/console log: (\S+)\)/.exec(error.message)![1]!)).toBe(true);
  });

  it('a kernel that panics before /init', async () => {
    const error = await failure({ console: ['Kernel panic - not syncing: No working init found.'], exit: 0 });
    expect(error.step).toBe('boot');
    expect(error.message).toContain('without a result: Kernel panic - not syncing: No working init found.');
  });

  it("QEMU's own error", async () => {
    const error = await failure({ stderr: 'qemu-system-x86_64: -virtfs local: cannot initialize fsdev\n', exit: 1 });
    expect(error.step).toBe('qemu');
    expect(error.message).toContain('qemu-system-x86_64 failed: qemu-system-x86_64: -virtfs local: cannot initialize fsdev');
  });

  it('QEMU not installed', async () => {
    const error = await failure({ exit: 0 }, { qemu: join(dir, 'no-such-qemu') });
    expect(error.message).toBe("kvm sandbox, step 'qemu': qemu-system-x86_64 is not installed: install qemu-system-x86 (./setup.sh does when /dev/kvm is not usable)");
  });

  it('a run that never ends: a timeout in the step it reached', async () => {
    const error = await failure({ console: STEPS.slice(0, 3), exit: 33, hang: true }, { timeoutMs: 1500 });
    expect(error.step).toBe('9p');
    expect(error.message).toContain('timed out after 2 s');
  });

  it('no kernel prepared, and a working directory that does not exist', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'rrkit-empty-cache-'));
    try {
      const error = await failure({ exit: 33 }, { paths: { ...paths, kernelManifest: join(empty, 'manifest.json') } });
      expect(error.step).toBe('kernel');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const cwd = await failure({ exit: 33 }, { cwd: join(dir, 'missing') });
    expect(cwd.message).toContain(`working directory ${join(dir, 'missing')} does not exist`);
  });
});
