/**
 * Option checking before anything runs: the emu engine's run options
 * (src/engines/emu.ts), the CREW session options (src/smp/crew-options.ts), and how an
 * engine is chosen for a guest image (src/engines/index.ts). Pure functions: no guest runs.
 */
import { describe, expect, it } from 'vitest';
import type { RunOptions } from '../src/engines/engine.js';
import { emuEngine, emuRunArguments } from '../src/engines/emu.js';
import { engineFor, engineNamed, landmarkUnitOf } from '../src/engines/index.js';
import { kvmEngine, kvmRunArguments } from '../src/engines/kvm.js';
import { ELF_MACHINE_RISCV, ELF_MACHINE_X86_64, elfMachineOf, guestImageOf } from '../src/guests/image.js';
import { native } from '../src/native.js';
import {
  CREW_DEFAULT_GRANULARITY,
  CREW_MAX_HOLD,
  checkCrewGranularity,
  checkCrewHold,
  crewGranularityFor,
} from '../src/smp/crew-options.js';
import { checkSerialOptions, SERIAL_DEFAULTS, serialOptionsOfLog } from '../src/smp/serial-options.js';

const MAX_HARTS = 64;

describe('emu run options', () => {
  it('fills in the defaults', () => {
    expect(emuRunArguments({}, MAX_HARTS)).toEqual({
      harts: 1,
      ramBytes: 128 * 1024 * 1024,
      timeoutMs: 0,
      checkpointInterval: 0n,
      stopAt: [],
      input: null,
      capture: false,
      session: null,
      progressIntervalMs: 1000,
      schedule: { threads: 0, sliceInstructions: 100_000, spinDetection: true, shuffleSeed: 0 },
    });
  });

  it('passes valid options through, converted to what native code takes', () => {
    const a = emuRunArguments(
      {
        vcpus: 8,
        ramMiB: 4096,
        timeoutSeconds: 1.5,
        stopAt: [0n, 10n],
        checkpointInterval: 5n,
        input: { kind: 'bytes', data: new Uint8Array([1, 2]) },
        capture: true,
        progressIntervalMs: 10,
        threads: 2,
        sliceInstructions: 5000,
        spinDetection: false,
      },
      MAX_HARTS,
    );
    expect(a).toMatchObject({
      harts: 8,
      ramBytes: 4096 * 1024 * 1024,
      timeoutMs: 1500,
      checkpointInterval: 5n,
      capture: true,
      schedule: { threads: 2, sliceInstructions: 5000, spinDetection: false, shuffleSeed: 0 },
    });
    expect(a.stopAt).toEqual([0n, 10n]);
    expect(Buffer.isBuffer(a.input) && [...(a.input as Buffer)]).toEqual([1, 2]);
    expect(emuRunArguments({ input: { kind: 'fd', fd: 0 } }, MAX_HARTS).input).toBe(0);
    expect(emuRunArguments({ input: { kind: 'none' } }, MAX_HARTS).input).toBeNull();
  });

  const bad: [string, RunOptions, ErrorConstructor, RegExp][] = [
    ['no vCPU', { vcpus: 0 }, RangeError, /^vcpus must be between 1 and 64, not 0$/],
    ['one vCPU too many', { vcpus: 65 }, RangeError, /^vcpus must be between 1 and 64, not 65$/],
    ['no thread', { threads: 0 }, RangeError, /^threads must be between 1 and 1024, not 0$/],
    ['a fractional thread count', { threads: 1.5 }, TypeError, /^threads must be an integer$/],
    ['an empty slice', { sliceInstructions: 0 }, RangeError, /^sliceInstructions must be between 1 and/],
    ['spin detection that is a string', { spinDetection: 'no' as unknown as boolean }, TypeError, /^spinDetection must be a boolean$/],
    ['a fractional vCPU count', { vcpus: 1.5 }, TypeError, /^vcpus must be an integer$/],
    ['no RAM', { ramMiB: 0 }, RangeError, /^ramMiB must be between 1 and 4096, not 0$/],
    ['too much RAM', { ramMiB: 4097 }, RangeError, /^ramMiB must be between 1 and 4096/],
    ['a negative timeout', { timeoutSeconds: -1 }, RangeError, /^timeoutSeconds must not be negative/],
    ['an infinite timeout', { timeoutSeconds: Infinity }, TypeError, /^timeoutSeconds must be a number$/],
    ['more stop counts than vCPUs', { vcpus: 1, stopAt: [1n, 2n] }, RangeError, /^stopAt names 2 vCPUs; the machine has 1$/],
    ['a negative stop count', { stopAt: [-1n] }, TypeError, /^stopAt entries must be non-negative bigints$/],
    ['a stop count that is a number', { stopAt: [5 as unknown as bigint] }, TypeError, /^stopAt entries/],
    ['a checkpoint interval that is a number', { checkpointInterval: 5 as unknown as bigint }, TypeError, /^checkpointInterval/],
    ['a negative checkpoint interval', { checkpointInterval: -1n }, TypeError, /^checkpointInterval/],
    ['input bytes that are a string', { input: { kind: 'bytes', data: 'hi' as unknown as Uint8Array } }, TypeError, /^input.data/],
    ['a negative input fd', { input: { kind: 'fd', fd: -1 } }, RangeError, /^input.fd must be between 0/],
    ['an unknown input kind', { input: { kind: 'pipe' } as unknown as RunOptions['input'] }, TypeError, /^unknown input kind pipe$/],
    ['a progress callback that is not a function', { onProgress: 1 as unknown as RunOptions['onProgress'] }, TypeError, /^onProgress/],
    ['a progress interval below 10 ms', { progressIntervalMs: 5 }, RangeError, /^progressIntervalMs must be between 10/],
    [
      'a recording with a negative CREW hold',
      { session: { mode: 'record', path: 'x', imageHash: Buffer.alloc(32), imagePath: 'x', crewGranularity: 0, crewHold: -1, serialize: SERIAL_DEFAULTS, configJson: '{}' } },
      RangeError,
      /^session.crewHold must be between 0/,
    ],
    [
      'a recording with a fractional turn quantum',
      { session: { mode: 'record', path: 'x', imageHash: Buffer.alloc(32), imagePath: 'x', crewGranularity: 0, crewHold: 0, serialize: { ...SERIAL_DEFAULTS, quantum: 0.5 }, configJson: '{}' } },
      TypeError,
      /^session.serialize.quantum must be an integer$/,
    ],
  ];
  for (const [name, options, type, message] of bad) {
    it(`refuses ${name}: ${type.name}, one line naming the option`, () => {
      let thrown: unknown;
      try {
        emuRunArguments(options, MAX_HARTS);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(type);
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain('\n');
    });
  }

  it('checks vCPUs against the machine limit the addon reports (one definition: native/emu/board.h)', () => {
    expect(native().emuMaxHarts).toBe(MAX_HARTS);
    expect(emuEngine.maxVcpus).toBe(native().emuMaxHarts);
    expect(() => emuRunArguments({ vcpus: 3 }, 2)).toThrow(/between 1 and 2, not 3/);
  });
});

describe('CREW options', () => {
  it('granularity: a power of two from 64 B to 2 MiB', () => {
    for (const ok of [64, 128, 4096, 2 * 1024 * 1024]) expect(checkCrewGranularity(ok)).toBe(ok);
    for (const bad of [0, 32, 100, 4095, 4 * 1024 * 1024]) expect(() => checkCrewGranularity(bad)).toThrow(RangeError);
    expect(() => checkCrewGranularity(4096.5)).toThrow(TypeError);
    expect(() => checkCrewGranularity('4096')).toThrow(TypeError);
    expect(() => checkCrewGranularity(100)).toThrow('the CREW granularity must be a power of two from 64 B to 2 MiB, not 100');
  });

  it('one vCPU records without CREW, but a bad granularity is still refused', () => {
    expect(crewGranularityFor(1, undefined)).toBe(0);
    expect(crewGranularityFor(1, 64)).toBe(0);
    expect(() => crewGranularityFor(1, 100)).toThrow(RangeError);
  });

  it('several vCPUs: the given granularity or the 4 KiB default', () => {
    expect(crewGranularityFor(2, undefined)).toBe(CREW_DEFAULT_GRANULARITY);
    expect(CREW_DEFAULT_GRANULARITY).toBe(4096);
    expect(crewGranularityFor(8, 64)).toBe(64);
    expect(() => crewGranularityFor(4, 3000)).toThrow(RangeError);
  });

  it('hold: an integer number of instructions from 0 to the ceiling', () => {
    expect(checkCrewHold(0)).toBe(0);
    expect(checkCrewHold(CREW_MAX_HOLD)).toBe(CREW_MAX_HOLD);
    expect(() => checkCrewHold(-1)).toThrow(RangeError);
    expect(() => checkCrewHold(CREW_MAX_HOLD + 1)).toThrow(`the CREW hold must be from 0 to ${CREW_MAX_HOLD} instructions, not ${CREW_MAX_HOLD + 1}`);
    expect(() => checkCrewHold(1.5)).toThrow(TypeError);
    expect(() => checkCrewHold(undefined)).toThrow(TypeError);
  });
});

describe('serialized-mode options', () => {
  it('defaults filled in; 0 turns serialization off', () => {
    expect(checkSerialOptions(undefined)).toEqual(SERIAL_DEFAULTS);
    expect(checkSerialOptions({ enterPerMillion: 0 }).enterPerMillion).toBe(0);
    expect(checkSerialOptions({ quantum: 50_000 })).toEqual({ ...SERIAL_DEFAULTS, quantum: 50_000 });
  });

  it('a bad value: one line naming the option', () => {
    expect(() => checkSerialOptions({ quantum: 10 })).toThrow('serialized mode: quantum must be from 1000 to 1000000000, not 10');
    expect(() => checkSerialOptions({ window: 1.5 })).toThrow(TypeError);
    expect(() => checkSerialOptions({ enterPerMillion: -1 })).toThrow(RangeError);
    expect(() => checkSerialOptions({ idleTurns: 0 })).toThrow(RangeError);
    expect(() => checkSerialOptions({ sharePages: 1 as unknown as boolean })).toThrow('serialized mode: sharePages must be true or false');
  });

  it("a replay going on live serializes as the log's header says, or by the defaults", () => {
    const recorded = { ...SERIAL_DEFAULTS, enterPerMillion: 5, quantum: 50_000 };
    expect(serialOptionsOfLog(JSON.stringify({ rrkit: 1, crewHold: 10_000, serialize: recorded }))).toEqual(recorded);
    expect(serialOptionsOfLog(JSON.stringify({ rrkit: 1, serialize: { enterPerMillion: 0 } })).enterPerMillion).toBe(0);
    expect(serialOptionsOfLog(JSON.stringify({ rrkit: 1 }))).toEqual(SERIAL_DEFAULTS);
    expect(serialOptionsOfLog('')).toEqual(SERIAL_DEFAULTS);
    expect(() => serialOptionsOfLog(JSON.stringify({ serialize: { quantum: 10 } }))).toThrow('serialized mode: quantum must be from 1000 to 1000000000, not 10');
    expect(() => serialOptionsOfLog(JSON.stringify({ serialize: 7 }))).toThrow(TypeError);
  });
});

describe('choosing an engine', () => {
  /** The first 20 bytes of an ELF header: magic, class, byte order, ..., e_machine at 18. */
  function elfHeader(machine: number, bigEndian = false): Buffer {
    const b = Buffer.alloc(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, bigEndian ? 2 : 1, 1]);
    if (bigEndian) b.writeUInt16BE(machine, 18);
    else b.writeUInt16LE(machine, 18);
    return b;
  }

  it('reads the ELF machine type, in either byte order; nothing for a file that is not an ELF', () => {
    expect(elfMachineOf(elfHeader(ELF_MACHINE_RISCV))).toBe(243);
    expect(elfMachineOf(elfHeader(ELF_MACHINE_X86_64))).toBe(62);
    expect(elfMachineOf(elfHeader(0x1234, true))).toBe(0x1234);
    expect(elfMachineOf(Buffer.from('#!/bin/sh\n'))).toBeUndefined();
    expect(elfMachineOf(elfHeader(ELF_MACHINE_RISCV).subarray(0, 19))).toBeUndefined();
  });

  it('hashes the bytes it was given', () => {
    const image = guestImageOf('guest.elf', Buffer.from('abc'));
    expect(image.sha256.toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(image.path).toMatch(/^\/.*guest\.elf$/);
  });

  it('an rv64 ELF goes to emu; a named engine wins; unknown files go to emu, whose loader explains', () => {
    expect(engineFor(guestImageOf('a.elf', elfHeader(ELF_MACHINE_RISCV))).name).toBe('emu');
    expect(engineFor(guestImageOf('a.elf', elfHeader(ELF_MACHINE_X86_64)), 'emu').name).toBe('emu');
    expect(engineFor(guestImageOf('a.txt', Buffer.from('hello'))).name).toBe('emu');
  });

  it('an x86_64 ELF goes to kvm (whether /dev/kvm works is for its run to say); an unknown engine is a one-line error', () => {
    expect(engineFor(guestImageOf('/g/x.elf', elfHeader(ELF_MACHINE_X86_64))).name).toBe('kvm');
    expect(engineNamed('kvm')).toBe(kvmEngine);
    expect(() => engineNamed('qemu')).toThrow("unknown engine 'qemu' (engines: emu, kvm)");
  });

  it('knows what a landmark counts on each engine, also on engines this build cannot run', () => {
    expect(emuEngine.landmarkUnit).toBe('instructions');
    expect(landmarkUnitOf('emu')).toBe('instructions');
    expect(landmarkUnitOf('kvm')).toBe('exits');
    expect(kvmEngine.landmarkUnit).toBe('exits');
  });
});

describe('kvm run options', () => {
  it('fills in the defaults', () => {
    expect(kvmRunArguments({})).toEqual({
      vcpus: 1,
      ramBytes: 128 * 1024 * 1024,
      timeoutMs: 0,
      checkpointInterval: 0n,
      input: null,
      capture: false,
      session: null,
      progressIntervalMs: 1000,
      disk: null,
    });
  });

  const bad: [string, RunOptions, ErrorConstructor, RegExp][] = [
    ['nine vCPUs', { vcpus: 9 }, RangeError, /^vcpus must be between 1 and 8, not 9$/],
    ['1 MiB of RAM', { ramMiB: 1 }, RangeError, /^ramMiB must be between 2 and 4096/],
    ['a stop landmark', { stopAt: [5n] }, RangeError, /^stopAt: the kvm engine stops only where the guest exits$/],
    ['a negative timeout', { timeoutSeconds: -1 }, RangeError, /^timeoutSeconds must not be negative/],
    ['a shared disk with no image', { disk: { path: null, sectors: 8, shared: true } }, TypeError, /needs its image/],
    ['a fractional sector count', { disk: { path: null, sectors: 1.5, shared: false } }, TypeError, /^disk\.sectors must be an integer$/],
  ];
  for (const [name, options, type, message] of bad) {
    it(`refuses ${name}: ${type.name}, one line naming the option`, () => {
      expect(() => kvmRunArguments(options)).toThrow(type);
      expect(() => kvmRunArguments(options)).toThrow(message);
    });
  }

  it('emu refuses a disk: its board has no block device', () => {
    expect(() => emuRunArguments({ disk: { path: '/d.img', sectors: 0, shared: false } }, MAX_HARTS)).toThrow(/no block device/);
  });
});
