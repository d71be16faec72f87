/**
 * How each kind of log record appears on a timeline — the one place that knows record
 * kinds. A record is an instant on its vCPU's track, a CREW transfer (a flow arrow between
 * two tracks), a checkpoint cut or the machine's stop (which close each vCPU's segment), a
 * span on one track (whole, or opened and closed by two records), a wall-clock sample (the
 * wall axis, and what the vCPU did), a serialized-mode turn handed on, a CREW fault, or
 * nothing. A kind this table does not name still shows, as an instant named by its type
 * with its fields as arguments, when it has a landmark: logs from newer engines read
 * without a change here.
 *
 * To show a new kind as a span, add a case that returns `{ kind: 'span', ... }` (both ends
 * known) or `begin`/`end` (one record each) for it: the builder draws spans on the vCPU's track.
 */
import { INPUT_KIND_NAMES, VCPU_ACTIVITY_NAMES, type CrewTransferRecord, type LogRecord } from '../log-records.js';
import type { TraceArgs } from './trace-event.js';

export type RecordView =
  | { kind: 'instant'; vcpu: number; count: bigint; name: string; category: string; args: TraceArgs }
  | { kind: 'transfer'; transfer: CrewTransferRecord }
  | { kind: 'checkpoint'; counts: bigint[]; args: TraceArgs }
  | { kind: 'stop'; vcpu: number; count: bigint; counts: bigint[]; args: TraceArgs }
  | { kind: 'span'; vcpu: number; from: bigint; to: bigint; name: string; category: string; args: TraceArgs }
  /** a span of the vCPU's that a later `end` with the same key closes (the log's end, if none does) */
  | { kind: 'begin'; vcpu: number; count: bigint; key: string; name: string; category: string; args: TraceArgs }
  | { kind: 'end'; vcpu: number; count: bigint; key: string }
  /** serialized mode: the vCPU's turn ends at `count`, and `next` holds the group's turn from where it waits */
  | { kind: 'turn'; vcpu: number; count: bigint; next: number }
  /** kvm SMP: the vCPU stopped at `count` on a CREW page it had no right to */
  | { kind: 'fault'; vcpu: number; count: bigint; page: bigint; args: TraceArgs }
  /** a wall-clock sample: at `count`, `ns` after the machine started, the vCPU began `activity` */
  | { kind: 'sample'; vcpu: number; count: bigint; ns: bigint; activity: string }
  | { kind: 'none' };

/** Interrupt names by engine: emu's RISC-V mcause numbers, kvm's x86 vectors (docs/platform.md). */
const INTERRUPTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  emu: { '3': 'software', '7': 'timer', '11': 'external' },
  kvm: { '32': 'timer', '33': 'disk' },
};

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** A record's own scalar fields as trace arguments (bigints as decimal strings, bytes as a length). */
function fieldArgs(record: object): TraceArgs {
  const args: TraceArgs = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'type' || key === 'vcpu' || key === 'count') continue;
    if (typeof value === 'bigint') args[key] = value.toString();
    else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') args[key] = value;
    else if (value instanceof Uint8Array) args[`${key}Bytes`] = value.length;
  }
  return args;
}

function interruptName(engine: string, cause: bigint): string {
  const known = INTERRUPTS[engine]?.[cause.toString()];
  return known === undefined ? `interrupt ${cause}` : `interrupt: ${known}`;
}

/** A record with a landmark, whatever its type (kinds this file does not know among them). */
interface Landmarked {
  type: string;
  vcpu: number;
  count: bigint;
}
const hasLandmark = (record: object): record is Landmarked =>
  typeof (record as Partial<Landmarked>).vcpu === 'number' && typeof (record as Partial<Landmarked>).count === 'bigint';

export function viewOf(record: LogRecord, engine: string): RecordView {
  switch (record.type) {
    case 'interrupt':
      return { kind: 'instant', vcpu: record.vcpu, count: record.count, name: interruptName(engine, record.cause), category: 'interrupt', args: { cause: record.cause.toString() } };
    case 'input':
      return {
        kind: 'instant',
        vcpu: record.vcpu,
        count: record.count,
        name: `input: ${INPUT_KIND_NAMES[record.kind] ?? `kind ${record.kind}`}`,
        category: 'input',
        args: { value: record.value.toString() },
      };
    case 'rare-outcome':
      return {
        kind: 'instant',
        vcpu: record.vcpu,
        count: record.count,
        name: `rare: ${INPUT_KIND_NAMES[record.kind] ?? `kind ${record.kind}`}`,
        category: 'input',
        args: { value: record.value.toString() },
      };
    case 'dma-write':
      return { kind: 'instant', vcpu: record.vcpu, count: record.count, name: 'dma write', category: 'input', args: { address: hex(record.address), bytes: record.data.length } };
    case 'delayed-interrupt':
      // kvm takes an interrupt only at an exit: how long it waited is the instant's argument.
      return {
        kind: 'instant',
        vcpu: record.vcpu,
        count: record.count,
        name: interruptName(engine, record.cause),
        category: 'interrupt',
        args: { cause: record.cause.toString(), delayUs: Number(record.delayNs) / 1000 },
      };
    case 'disk-read':
      return {
        kind: 'instant',
        vcpu: record.vcpu,
        count: record.count,
        name: 'disk read',
        category: 'input',
        args: { address: hex(record.address), diskOffset: record.diskOffset.toString(), bytes: record.length.toString() },
      };
    case 'host-time':
      return { kind: 'sample', vcpu: record.vcpu, count: record.count, ns: record.ns, activity: VCPU_ACTIVITY_NAMES[record.activity] ?? `activity ${record.activity}` };
    case 'crew-transfer':
      return { kind: 'transfer', transfer: record };
    case 'checkpoint':
      return { kind: 'checkpoint', counts: record.vcpus.map((v) => v.count), args: { memoryHash: hex(record.memoryHash) } };
    case 'machine-stop':
      return {
        kind: 'stop',
        vcpu: record.vcpu,
        count: record.count,
        counts: record.vcpus.map((v) => v.count),
        args: { exitCode: record.exitCode.toString(), memoryHash: hex(record.memoryHash), consoleBytes: record.outputBytes.toString() },
      };
  }
  return otherView(record);
}

/** Serialized mode (emu SMP, kind 11): the vCPU, stopped at its count, joins group `group` or leaves it. */
interface ModeSwitch extends Landmarked {
  type: 'mode-switch';
  group: bigint;
  serialized: boolean;
}
/** Serialized mode (kind 12): the vCPU's turn ends at its count; `next` holds the group's turn from there. */
interface TurnSwitch extends Landmarked {
  type: 'turn-switch';
  next: number;
}
/** kvm SMP (kind 14): the vCPU stopped on a page it had no right to; `edges` transfers ended the fault. */
interface CrewFault extends Landmarked {
  type: 'crew-fault';
  page: bigint;
  write: boolean;
  edges: bigint;
}
type Newer = ModeSwitch | TurnSwitch | CrewFault;
const NEWER = new Set(['mode-switch', 'turn-switch', 'crew-fault']);

/** The kinds of the other branches of this format version, read by their type names (their reader's field names). */
function newerView(record: Newer): RecordView {
  switch (record.type) {
    case 'mode-switch':
      return record.serialized
        ? { kind: 'begin', vcpu: record.vcpu, count: record.count, key: 'serialized', name: `serialized (group ${record.group})`, category: 'serialized', args: { group: record.group.toString() } }
        : { kind: 'end', vcpu: record.vcpu, count: record.count, key: 'serialized' };
    case 'turn-switch':
      return { kind: 'turn', vcpu: record.vcpu, count: record.count, next: record.next };
    case 'crew-fault':
      return { kind: 'fault', vcpu: record.vcpu, count: record.count, page: record.page, args: { write: record.write, edges: record.edges.toString() } };
  }
}

/** Kinds the union above does not (yet) hold: logs of a newer rrkit. */
function otherView(record: object): RecordView {
  if (!hasLandmark(record)) return { kind: 'none' };
  if (NEWER.has(record.type)) return newerView(record as Newer);
  const category = record.type.includes('interrupt') ? 'interrupt' : 'other';
  return { kind: 'instant', vcpu: record.vcpu, count: record.count, name: record.type, category, args: fieldArgs(record) };
}
