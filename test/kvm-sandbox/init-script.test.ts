import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_BYTE, INIT_STEPS, initReportingFunctions, parseConsoleLine, qemuStatusForExitByte } from './console-protocol.js';
import { initScript } from './init-script.js';

const dir = mkdtempSync(join(tmpdir(), 'rrkit-init-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the sandbox /init', () => {
  const modules = ['irqbypass', 'kvm', 'kvm_amd', '9pnet', '9p'];
  const script = initScript({ modules });

  it('is valid shell', () => {
    const file = join(dir, 'init');
    writeFileSync(file, script);
    expect(() => execFileSync('sh', ['-n', file], { stdio: 'pipe' })).not.toThrow();
  });

  it('announces every step of the protocol, in order, and loads the modules in the order given', () => {
    const steps = [...script.matchAll(/^step (\S+)$/gm)].map((m) => m[1]);
    expect(steps).toEqual([...INIT_STEPS]);
    const loaded = [...script.matchAll(/insmod \/lib\/modules\/(\S+)\.ko/g)].map((m) => m[1]);
    expect(loaded).toEqual(modules);
  });

  it('fails with a message naming the module, the mounts and /dev/kvm', () => {
    expect(script).toContain('fail "insmod kvm_amd failed: $out"');
    expect(script).toContain('/dev/kvm is absent');
    expect(script).toMatch(/mount -t 9p .* hostroot \/mnt\/host \|\| fail/);
    expect(script).toMatch(/mount -t overlay .* \|\| fail "overlay mount failed"/);
    expect(script).toContain('ip link set lo up || fail "bringing up the loopback interface failed"');
  });

  it("hides no host directory in the new root beyond /proc, /sys and /dev (the project may live under /tmp)", () => {
    const mountPoints = [...script.matchAll(/\bmount (?:-t \S+ \S+|--bind \S+) ("?\$r[^\s|]*)/g)].map((m) => m[1]);
    expect(mountPoints).toEqual(['$r/proc', '$r/sys', '$r/dev', '$r/dev/pts', '$r/dev/shm', '"$r$run"']);
  });

  it('refuses module names a shell would read and an empty module list', () => {
    expect(() => initScript({ modules: ['kvm; reboot'] })).toThrow(/characters a shell would read/);
    expect(() => initScript({ modules: [] })).toThrow(/at least one module/);
  });
});

describe('the console protocol, both ends', () => {
  /** Runs /init's reporting functions in the host's sh, with the commands that touch hardware stubbed. */
  function report(commands: string): { events: ReturnType<typeof parseConsoleLine>[]; exitByte: number } {
    const byteFile = join(dir, 'exit-byte');
    const stubs = `stty() { :; }
dd() { od -An -tu1 > ${byteFile}; }
poweroff() { exit 0; }
dmesg() { echo "[    1.0] a kernel message"; }
`;
    const output = execFileSync('sh', ['-c', `${stubs}${initReportingFunctions()}${commands}`], { encoding: 'utf8' });
    const events = output.split('\n').map(parseConsoleLine).filter((e) => e !== undefined);
    return { events, exitByte: Number(readFileSync(byteFile, 'utf8').trim()) };
  }

  it('a failed step: its name, the message, and the FAILED exit byte', () => {
    const { events, exitByte } = report('step modules; fail "insmod kvm failed: invalid module format"');
    expect(events).toEqual([
      { kind: 'step', step: 'modules' },
      { kind: 'failed', step: 'modules', message: 'insmod kvm failed: invalid module format' },
    ]);
    expect(exitByte).toBe(EXIT_BYTE.failed);
  });

  it("the command's status, and the DONE exit byte", () => {
    const { events, exitByte } = report(`step command; say "status 3"; leave ${EXIT_BYTE.done}`);
    expect(events).toEqual([{ kind: 'step', step: 'command' }, { kind: 'status', status: 3 }]);
    expect(exitByte).toBe(EXIT_BYTE.done);
  });

  it('reads markers after other text on the line and ignores what is not one', () => {
    expect(parseConsoleLine('[    2.1] random: crng init done rrkit-sandbox: step 9p\r')).toEqual({ kind: 'step', step: '9p' });
    expect(parseConsoleLine('rrkit-sandbox: step nonsense')).toBeUndefined();
    expect(parseConsoleLine('rrkit-sandbox: status x')).toBeUndefined();
    expect(parseConsoleLine('Linux version 6.1.0')).toBeUndefined();
  });

  it("gives QEMU statuses that QEMU's own errors (1) never take", () => {
    expect(qemuStatusForExitByte(EXIT_BYTE.done)).toBe(33);
    expect(qemuStatusForExitByte(EXIT_BYTE.failed)).toBe(35);
  });
});
