/**
 * Every entry point of the addon, called with bad arguments: each call must throw a
 * JavaScript error (with the code native/addon/js_error.h gives it), never abort Node. The
 * calls run in a child process, so that an abort shows as its exit status instead of taking
 * the test runner down (issue 10: `imageHash: 'zz'` ended the process with 134).
 *
 * RRKIT_TEST_ADDON points the child at another build of the addon (to see an older one fail).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { builtGuestPath, REPO_ROOT } from '../src/guests/catalog.js';

const ADDON = process.env['RRKIT_TEST_ADDON'] || join(REPO_ROOT, 'build', 'Release', 'rrkit.node');

/** What a call did: threw (its class and code), or returned. */
interface Outcome {
  name: string;
  threw: boolean;
  kind?: string;
  code?: string;
  chunk?: number;
  offset?: number;
  message?: string;
}

// Runs in the child: each case is a function of the addon `a`; prints one JSON line per case.
const CHILD = String.raw`
const a = require(process.argv[1]);
const image = require('fs').readFileSync(process.argv[2]);
const header = { engine: 'emu', imageHash: '00ff', imagePath: 'x', vcpus: 1, ramMib: 1, crewGranularity: 0, checkpointInterval: 0n, startUnixMs: 0n, configJson: '{}' };
const serialize = { enterPerMillion: 0, window: 1, quantum: 1, probe: 1, idleTurns: 1 };
const description = (change) => ({ header, records: [], close: true, maxChunkBytes: 4096, ...change });
const tmp = require('os').tmpdir() + '/rrkit-boundary-' + process.pid + '.rrlog';
// 8 MiB of RAM: the rv64 images hold 64 harts' stacks (4 MiB of bss).
const run = (...changed) => {
  const args = [image, 'g.elf', 1, 8 << 20, 1000, 0n, [], null, true, null, null, { threads: 1, sliceInstructions: 100000, spinDetection: true }];
  for (const [i, v] of changed) args[i] = v;
  return a.emuRun(...args);
};
const cases = {
  'logWrite()': () => a.logWrite(),
  'logWrite(5, ...)': () => a.logWrite(5, description({})),
  'logWrite(path, null)': () => a.logWrite(tmp, null),
  'logWrite without header': () => a.logWrite(tmp, { records: [], close: true, maxChunkBytes: 1 }),
  "imageHash 'zz'": () => a.logWrite(tmp, description({ header: { ...header, imageHash: 'zz' } })),
  "imageHash 'abc'": () => a.logWrite(tmp, description({ header: { ...header, imageHash: 'abc' } })),
  'vcpus 0': () => a.logWrite(tmp, description({ header: { ...header, vcpus: 0 } })),
  'vcpus 5000': () => a.logWrite(tmp, description({ header: { ...header, vcpus: 5000 } })),
  'vcpus -1': () => a.logWrite(tmp, description({ header: { ...header, vcpus: -1 } })),
  'vcpus 1.5': () => a.logWrite(tmp, description({ header: { ...header, vcpus: 1.5 } })),
  'ramMib 2^40': () => a.logWrite(tmp, description({ header: { ...header, ramMib: 2 ** 40 } })),
  'records not an array': () => a.logWrite(tmp, description({ records: 7 })),
  'a null record': () => a.logWrite(tmp, description({ records: [null] })),
  'an unknown record type': () => a.logWrite(tmp, description({ records: [{ type: 'nope' }] })),
  'a record on a vCPU the header lacks': () => a.logWrite(tmp, description({ records: [{ type: 'interrupt', vcpu: 7, count: 1n, cause: 7n }] })),
  'an input kind of 300': () => a.logWrite(tmp, description({ records: [{ type: 'input', vcpu: 0, count: 1n, kind: 300, value: 1n }] })),
  'a negative count': () => a.logWrite(tmp, description({ records: [{ type: 'interrupt', vcpu: 0, count: -1n, cause: 7n }] })),
  'a log in a missing directory': () => a.logWrite('/nonexistent/dir/x.rrlog', description({})),
  "maxChunkBytes 'x'": () => a.logWrite(tmp, description({ maxChunkBytes: 'x' })),
  'logRead()': () => a.logRead(),
  "logRead('text')": () => a.logRead('text'),
  'logRead(Float64Array)': () => a.logRead(new Float64Array(4)),
  'logRead(garbage)': () => a.logRead(Buffer.from('RRKITLOG garbage that is not a log at all')),
  'emuRun()': () => a.emuRun(),
  'emuRun: image not a Buffer': () => run([0, 'elf']),
  'emuRun: image not an ELF': () => run([0, Buffer.from('not an elf')]),
  'emuRun: 0 harts': () => run([2, 0]),
  'emuRun: 99 harts': () => run([2, 99]),
  'emuRun: NaN harts': () => run([2, NaN]),
  'emuRun: negative RAM': () => run([3, -1]),
  'emuRun: 1e20 bytes of RAM': () => run([3, 1e20]),
  'emuRun: NaN timeout': () => run([4, NaN]),
  'emuRun: a number checkpoint interval': () => run([5, 5]),
  'emuRun: stopAt not an array': () => run([6, 5n]),
  'emuRun: a negative stopAt': () => run([6, [-1n]]),
  "emuRun: input 'x'": () => run([7, 'x']),
  "emuRun: capture 'yes'": () => run([8, 'yes']),
  'emuRun: session 5': () => run([9, 5]),
  "emuRun: session mode 'x'": () => run([9, { mode: 'x', path: tmp }]),
  'emuRun: record to a missing directory': () =>
    run([9, { mode: 'record', path: '/nonexistent/dir/x.rrlog', imageHash: Buffer.alloc(32), imagePath: 'g', crewGranularity: 0, crewHold: 0, serialize, configJson: '{}' }]),
  'emuRun: record with a string imageHash': () =>
    run([9, { mode: 'record', path: tmp, imageHash: 'zz', imagePath: 'g', crewGranularity: 0, crewHold: 0, serialize, configJson: '{}' }]),
  'emuRun: replay a missing log': () => run([9, { mode: 'replay', path: '/nonexistent/x.rrlog' }]),
  'emuRun: progress without a callback': () => run([10, { callback: 5, intervalMs: 100 }]),
  'emuRun: progress every 1 ms': () => run([10, { callback: () => {}, intervalMs: 1 }]),
  'emuRun: 11 arguments': () => a.emuRun(image, 'g.elf', 1, 1 << 20, 1000, 0n, [], null, true, null, null),
  'emuRun: schedule null': () => run([11, null]),
  'emuRun: 5000 threads': () => run([11, { threads: 5000, sliceInstructions: 1, spinDetection: true }]),
  'emuRun: a slice of 0 instructions': () => run([11, { threads: 1, sliceInstructions: 0, spinDetection: true }]),
  'emuRun: a slice of 1.5 instructions': () => run([11, { threads: 1, sliceInstructions: 1.5, spinDetection: true }]),
  'emuRun: a shuffle seed of -1': () => run([11, { threads: 1, sliceInstructions: 1, spinDetection: true, shuffleSeed: -1 }]),
  'emuRun: a shuffle seed of 0.5': () => run([11, { threads: 1, sliceInstructions: 1, spinDetection: true, shuffleSeed: 0.5 }]),
  "emuRun: spinDetection 'yes'": () => run([11, { threads: 1, sliceInstructions: 1, spinDetection: 'yes' }]),
  'emuRun: record without serialize': () =>
    run([9, { mode: 'record', path: tmp, imageHash: Buffer.alloc(32), imagePath: 'g', crewGranularity: 0, crewHold: 0, configJson: '{}' }]),
  'emuRun: record with a negative quantum': () =>
    run([9, { mode: 'record', path: tmp, imageHash: Buffer.alloc(32), imagePath: 'g', crewGranularity: 0, crewHold: 0, serialize: { ...serialize, quantum: -1 }, configJson: '{}' }]),
};
(async () => {
  for (const [name, call] of Object.entries(cases)) {
    let out;
    try {
      const value = call();
      if (value && typeof value.then === 'function') await value;
      out = { name, threw: false };
    } catch (e) {
      out = { name, threw: true, kind: e && e.constructor && e.constructor.name, code: e && e.code, chunk: e && e.chunk, offset: e && e.offset, message: String(e && e.message) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
  try { require('fs').unlinkSync(tmp); } catch {}
  process.stdout.write(JSON.stringify({ total: Object.keys(cases).length }) + '\n');
})();
`;

describe('the addon boundary, crossed with bad arguments', () => {
  const child = spawnSync(process.execPath, ['-e', CHILD, ADDON, builtGuestPath('matmul', 'rv64', true)], { encoding: 'utf8', timeout: 60_000 });
  const lines = child.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Outcome & { total?: number });
  const total = lines.find((l) => l.total !== undefined)?.total;
  const outcomes = new Map<string, Outcome>(lines.filter((l) => l.total === undefined).map((o) => [o.name, o]));

  test('no call aborts Node: the child exits 0 after every case', () => {
    expect(child.status, `status ${child.status} signal ${child.signal}; last case: ${[...outcomes.keys()].at(-1)}\n${child.stderr}`).toBe(0);
    expect(total).toBeGreaterThan(40);
    expect(outcomes.size).toBe(total);
  });

  test('every bad call throws a JavaScript error with a one-line message', () => {
    for (const o of outcomes.values()) {
      expect(o.threw, o.name).toBe(true);
      expect(o.message, o.name).toMatch(/^[^\n]+$/);
    }
  });

  test.each([
    ["imageHash 'zz'", 'TypeError', undefined, /imageHash must be an even number of hex digits/],
    ['vcpus 0', 'RangeError', undefined, /vcpus must be at least 1/],
    ['vcpus 5000', 'RangeError', undefined, /vcpus must be at most 4096/],
    ['a record on a vCPU the header lacks', 'TypeError', 'bad-argument', /vcpu 7 out of range/],
    ['a log in a missing directory', 'Error', 'system', /cannot create log \/nonexistent\/dir\/x\.rrlog/],
    ['emuRun: image not an ELF', 'Error', 'bad-image', /g\.elf: not an ELF file/],
    ['emuRun: 99 harts', 'RangeError', 'bad-argument', /harts is out of range/],
    ['emuRun: record to a missing directory', 'Error', 'system', /cannot create log/],
    ["emuRun: session mode 'x'", 'TypeError', 'bad-argument', /session\.mode must be 'record' or 'replay'/],
    ['emuRun: record with a string imageHash', 'TypeError', 'bad-argument', /session\.imageHash must be a Buffer/],
    ['emuRun: 11 arguments', 'TypeError', undefined, /emuRun takes 12 arguments/],
    ['emuRun: schedule null', 'TypeError', 'bad-argument', /schedule must be an object/],
    ['emuRun: 5000 threads', 'RangeError', 'bad-argument', /schedule\.threads is out of range/],
    ['emuRun: a slice of 0 instructions', 'RangeError', 'bad-argument', /schedule\.sliceInstructions is out of range/],
    ['emuRun: a slice of 1.5 instructions', 'TypeError', 'bad-argument', /schedule\.sliceInstructions must be an integer/],
    ["emuRun: spinDetection 'yes'", 'TypeError', 'bad-argument', /schedule\.spinDetection must be a boolean/],
    ['emuRun: record without serialize', 'TypeError', 'bad-argument', /session\.serialize must be an object/],
    ['emuRun: record with a negative quantum', 'RangeError', 'bad-argument', /quantum is out of range/],
  ])('%s: %s, code %s', (name, kind, code, message) => {
    const o = outcomes.get(name);
    expect(o, name).toBeDefined();
    expect(o!.kind).toBe(kind);
    if (code !== undefined) expect(o!.code).toBe(code);
    expect(o!.message).toMatch(message);
  });

  test('a log error keeps its code, chunk and offset across the boundary, from logRead and from emuRun', () => {
    expect(outcomes.get('logRead(garbage)')).toMatchObject({ kind: 'Error', code: 'bad-version', chunk: -1, offset: 8 });
    expect(outcomes.get('emuRun: replay a missing log')).toMatchObject({ kind: 'Error', code: 'io', chunk: -1, offset: 0 });
  });
});
