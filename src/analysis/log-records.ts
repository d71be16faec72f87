/**
 * The records of an rrkit log and their decoders — the TypeScript twin of
 * native/replay/log_records.{h,cc}. The record kind numbers are the format: append only.
 * A chunk's payload holds two streams, events and values (docs/log-format.md); counts are
 * delta encoded per vCPU and input values predicted from the vCPU's previous ones, within
 * a chunk (every chunk starts afresh). 64-bit fields are bigints; vCPU numbers and kinds
 * are numbers.
 */
import { ByteReader } from './byte-reader.js';
import { InputHistory } from './value-prediction.js';

export const RecordKind = {
  input: 1,
  rareOutcome: 2,
  interrupt: 3,
  checkpoint: 4,
  crewTransfer: 5,
  machineStop: 6,
  dmaWrite: 7,
  delayedInterrupt: 8,
  diskRead: 9,
  /** an input shaped like its vCPU's previous one in the chunk; decodes to an 'input' record */
  repeatedInput: 10,
  modeSwitch: 11,
  turnSwitch: 12,
  hostTime: 13,
  crewFault: 14,
  /** a turn switch shaped like its vCPU's previous one in the chunk, by the vCPU the previous turn switch handed the turn to; decodes to a 'turn-switch' record */
  repeatedTurnSwitch: 21,
} as const;

/** Input kinds whose value encoding is not a delta from the previous value. */
const CLOCK = 1;
const ENTROPY = 2;

/** What a vCPU did from a host-time sample on (native/replay/log_records.h VcpuActivity, append only). */
export const VCPU_ACTIVITY_NAMES: Readonly<Record<number, string>> = {
  1: 'running',
  2: 'page-wait',
  3: 'cut',
  4: 'sleep',
  5: 'spin-wait',
  6: 'stopped',
};
const MAX_VCPU_ACTIVITY = 6;

/** world.h's InputKind, by number (append only). */
export const INPUT_KIND_NAMES: Readonly<Record<number, string>> = {
  1: 'clock',
  2: 'entropy',
  3: 'console-data',
  4: 'console-status',
  5: 'interrupt-pending',
  6: 'store-conditional',
  7: 'wfi-wake',
};
const MAX_INPUT_KIND = 7;
const MASK = (1n << 64n) - 1n;

export interface Landmark {
  vcpu: number;
  count: bigint;
}
export interface CheckpointVcpu {
  count: bigint;
  registerHash: bigint;
}
export interface InputRecord extends Landmark {
  type: 'input';
  kind: number;
  value: bigint;
}
export interface RareOutcomeRecord extends Landmark {
  type: 'rare-outcome';
  kind: number;
  value: bigint;
}
export interface InterruptRecord extends Landmark {
  type: 'interrupt';
  cause: bigint;
}
export interface CheckpointRecord {
  type: 'checkpoint';
  /** Indexed by vCPU; one entry per vCPU of the machine. */
  vcpus: CheckpointVcpu[];
  memoryHash: bigint;
}
/** `page: from.vcpu @ from.count -> to.vcpu @ to.count`. */
export interface CrewTransferRecord {
  type: 'crew-transfer';
  page: bigint;
  from: Landmark;
  to: Landmark;
}
/** The vCPU and count that wrote the exit code, and the final state of every vCPU. */
export interface MachineStopRecord extends Landmark {
  type: 'machine-stop';
  exitCode: bigint;
  vcpus: CheckpointVcpu[];
  memoryHash: bigint;
  /** Bytes the guest wrote to its console, and their FNV-1a 64 digest. */
  outputBytes: bigint;
  outputHash: bigint;
}
export interface DmaWriteRecord extends Landmark {
  type: 'dma-write';
  address: bigint;
  data: Uint8Array;
}

/** An interrupt taken `delayNs` after it fell due (kvm takes interrupts only at VM exits). */
export interface DelayedInterruptRecord extends Landmark {
  type: 'delayed-interrupt';
  cause: bigint;
  delayNs: bigint;
}
/** A DMA of `length` bytes from `diskOffset` of the disk image to `address`; the bytes are the replay's own copy (--disk-shared). */
export interface DiskReadRecord extends Landmark {
  type: 'disk-read';
  address: bigint;
  diskOffset: bigint;
  length: bigint;
}
/** Serialized mode: the vCPU, stopped at its count, joins group `group` (`serialized`) or leaves it. */
export interface ModeSwitchRecord extends Landmark {
  type: 'mode-switch';
  group: bigint;
  serialized: boolean;
}
/** Serialized mode: the vCPU's turn ends at its count; `next` holds the group's turn from there. */
export interface TurnSwitchRecord extends Landmark {
  type: 'turn-switch';
  next: number;
}

/** At its landmark, `ns` after the machine started (host clock), the vCPU began `activity` (record --wall-samples). */
export interface HostTimeRecord extends Landmark {
  type: 'host-time';
  ns: bigint;
  /** VCPU_ACTIVITY_NAMES */
  activity: number;
}
/** kvm SMP: the vCPU stopped at this landmark on `page`, which its rights did not allow (`write`: it wanted to write); `edges` transfer edges lead into it. */
export interface CrewFaultRecord extends Landmark {
  type: 'crew-fault';
  page: bigint;
  write: boolean;
  edges: bigint;
}

export type LogRecord =
  | InputRecord
  | RareOutcomeRecord
  | InterruptRecord
  | CheckpointRecord
  | CrewTransferRecord
  | MachineStopRecord
  | DmaWriteRecord
  | DelayedInterruptRecord
  | DiskReadRecord
  | ModeSwitchRecord
  | TurnSwitchRecord
  | HostTimeRecord
  | CrewFaultRecord;

export type RecordType = LogRecord['type'];

interface VcpuState {
  count: bigint;
  inputs: InputHistory;
  /** its previous turn switch in this chunk: how far its count moved to it, and to whom it handed the turn */
  turn?: { delta: bigint; next: number };
}

/**
 * Decodes one chunk's payload (CRC-checked and decoded from its codec); throws
 * LogFormatError('bad-record'). `fileOffset` is where the payload starts in the file:
 * error offsets are it plus the position in the payload.
 */
export class ChunkDecoder {
  private readonly events: ByteReader;
  private readonly values: ByteReader;
  private readonly vcpus: VcpuState[];
  private readonly headBytes: number;
  /** the vCPU the chunk's previous turn switch handed the turn to */
  private handedTo: number | undefined;

  constructor(payload: Uint8Array, fileOffset: number, chunkIndex: number, vcpus: number) {
    const head = new ByteReader(payload, fileOffset, chunkIndex, 'bad-record');
    const length = head.varint();
    if (length > BigInt(head.remaining)) head.fail(0, 'event stream longer than the payload');
    const eventsAt = head.position;
    const valuesAt = eventsAt + Number(length);
    this.headBytes = eventsAt;
    this.events = new ByteReader(payload.subarray(eventsAt, valuesAt), fileOffset + eventsAt, chunkIndex, 'bad-record');
    this.values = new ByteReader(payload.subarray(valuesAt), fileOffset + valuesAt, chunkIndex, 'bad-record');
    this.vcpus = Array.from({ length: vcpus }, () => ({ count: 0n, inputs: new InputHistory() }));
  }

  /** Bytes of the payload consumed so far. */
  get position(): number {
    return this.headBytes + this.events.position + this.values.position;
  }

  next(): LogRecord | undefined {
    const e = this.events;
    const v = this.values;
    if (e.done) {
      if (!v.done) v.fail(v.position, `${v.remaining} value bytes no record uses`);
      return undefined;
    }
    const at = e.position;
    const kind = e.u8();
    switch (kind) {
      case RecordKind.input:
        return this.input();
      case RecordKind.repeatedInput:
        return this.repeatedInput();
      case RecordKind.rareOutcome: {
        const where = this.landmark();
        const inputKind = this.inputKind();
        return { type: 'rare-outcome', ...where, kind: inputKind, value: v.varint() };
      }
      case RecordKind.interrupt: {
        const where = this.landmark();
        return { type: 'interrupt', ...where, cause: e.varint() };
      }
      case RecordKind.checkpoint:
        return { type: 'checkpoint', ...this.checkpoint() };
      case RecordKind.crewTransfer: {
        const page = e.varint();
        const from = this.landmark();
        return { type: 'crew-transfer', page, from, to: this.landmark() };
      }
      case RecordKind.machineStop: {
        const exitAt = this.landmark();
        const exitCode = e.signedVarint();
        const finalState = this.checkpoint();
        const outputBytes = e.varint();
        return { type: 'machine-stop', ...exitAt, exitCode, ...finalState, outputBytes, outputHash: v.fixedLe(8) };
      }
      case RecordKind.dmaWrite: {
        const where = this.landmark();
        const address = e.varint();
        const length = e.varint();
        const data = length > BigInt(v.remaining) ? v.fail(v.position, 'DMA data runs past the end') : v.take(Number(length), 'DMA data');
        return { type: 'dma-write', ...where, address, data: Uint8Array.from(data) };
      }
      case RecordKind.delayedInterrupt: {
        const where = this.landmark();
        const cause = e.varint();
        return { type: 'delayed-interrupt', ...where, cause, delayNs: v.varint() };
      }
      case RecordKind.diskRead: {
        const where = this.landmark();
        const address = e.varint();
        const diskOffset = e.varint();
        return { type: 'disk-read', ...where, address, diskOffset, length: e.varint() };
      }
      case RecordKind.hostTime: {
        // The landmark and the activity are events; the time a value.
        const where = this.landmark();
        const activityAt = e.position;
        const activity = e.u8();
        if (activity === 0 || activity > MAX_VCPU_ACTIVITY) e.fail(activityAt, `unknown vCPU activity ${activity}`);
        return { type: 'host-time', ...where, activity, ns: v.varint() };
      }
      case RecordKind.modeSwitch: {
        const where = this.landmark();
        const group = e.varint();
        const modeAt = e.position;
        const mode = e.u8();
        if (mode > 1) e.fail(modeAt, `unknown mode ${mode}`);
        return { type: 'mode-switch', ...where, group, serialized: mode === 1 };
      }
      case RecordKind.turnSwitch: {
        const vcpu = this.vcpu();
        const state = this.vcpus[vcpu]!;
        const before = state.count;
        const count = this.count(vcpu);
        const next = this.vcpu();
        state.turn = { delta: (count - before) & MASK, next };
        this.handedTo = next;
        return { type: 'turn-switch', vcpu, count, next };
      }
      case RecordKind.repeatedTurnSwitch: {
        const vcpu = this.handedTo;
        if (vcpu === undefined) return e.fail(at, 'repeated turn switch with no turn switch before it in this chunk');
        const state = this.vcpus[vcpu]!;
        if (state.turn === undefined) return e.fail(at, `repeated turn switch for vcpu ${vcpu} with no turn switch of its own before it in this chunk`);
        state.count = (state.count + state.turn.delta) & MASK;
        this.handedTo = state.turn.next;
        return { type: 'turn-switch', vcpu, count: state.count, next: state.turn.next };
      }
      case RecordKind.crewFault: {
        const where = this.landmark();
        const pageAndWrite = e.varint();
        return { type: 'crew-fault', ...where, page: pageAndWrite >> 1n, write: (pageAndWrite & 1n) === 1n, edges: e.varint() };
      }
      default:
        return e.fail(at, `unknown record kind ${kind}`);
    }
  }

  private input(): InputRecord {
    const vcpu = this.vcpu();
    const state = this.vcpus[vcpu]!;
    const before = state.count;
    const count = this.count(vcpu);
    const kind = this.inputKind();
    state.inputs.lastKind = kind;
    state.inputs.lastDelta = (count - before) & MASK;
    return { type: 'input', vcpu, count, kind, value: this.inputValue(state, count, kind) };
  }

  private repeatedInput(): InputRecord {
    const at = this.events.position;
    const vcpu = this.vcpu();
    const state = this.vcpus[vcpu]!;
    if (state.inputs.lastKind === 0) {
      this.events.fail(at, `repeated input for vcpu ${vcpu} with no input before it in this chunk`);
    }
    state.count = (state.count + state.inputs.lastDelta) & MASK;
    const kind = state.inputs.lastKind;
    return { type: 'input', vcpu, count: state.count, kind, value: this.inputValue(state, state.count, kind) };
  }

  /** A clock read against its prediction, entropy as 8 bytes, anything else against the previous value of its kind. */
  private inputValue(state: VcpuState, count: bigint, kind: number): bigint {
    const v = this.values;
    const history = state.inputs;
    if (kind === CLOCK) {
      const value = (history.clock.predict(count) + v.signedVarint()) & MASK;
      history.clock.observe(count, value);
      return value;
    }
    if (kind === ENTROPY) return v.fixedLe(8);
    const value = (history.lastValue[kind]! + v.signedVarint()) & MASK;
    history.lastValue[kind] = value;
    return value;
  }

  private vcpu(): number {
    const r = this.events;
    const at = r.position;
    const vcpu = r.varint();
    if (vcpu >= BigInt(this.vcpus.length)) r.fail(at, `vcpu ${vcpu} out of range`);
    return Number(vcpu);
  }

  /** (vcpu, zigzag delta from that vCPU's previous count), wrapping mod 2^64. */
  private landmark(): Landmark {
    const vcpu = this.vcpu();
    return { vcpu, count: this.count(vcpu) };
  }

  private count(vcpu: number): bigint {
    const state = this.vcpus[vcpu]!;
    state.count = (state.count + this.events.signedVarint()) & MASK;
    return state.count;
  }

  private inputKind(): number {
    const r = this.events;
    const at = r.position;
    const kind = r.u8();
    if (kind === 0 || kind > MAX_INPUT_KIND) r.fail(at, `unknown input kind ${kind}`);
    return kind;
  }

  /** Events: n, each vCPU's count delta. Values: each vCPU's register hash, then the memory hash. */
  private checkpoint(): { vcpus: CheckpointVcpu[]; memoryHash: bigint } {
    const r = this.events;
    const at = r.position;
    const n = r.varint();
    if (n !== BigInt(this.vcpus.length)) {
      r.fail(at, `checkpoint has ${n} vcpus, machine has ${this.vcpus.length}`);
    }
    const counts = this.vcpus.map((_, i) => this.count(i));
    const vcpus = counts.map((count) => ({ count, registerHash: this.values.fixedLe(8) }));
    return { vcpus, memoryHash: this.values.fixedLe(8) };
  }
}
