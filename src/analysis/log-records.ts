/**
 * The records of an rrkit log and their decoders — the TypeScript twin of
 * native/replay/log_records.{h,cc}. The record kind numbers are the format: append only.
 * Counts are delta encoded per vCPU within a chunk (every chunk starts each vCPU at 0).
 * 64-bit fields are bigints; vCPU numbers and kinds are numbers.
 */
import { ByteReader } from './byte-reader.js';

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
  crewFault: 14,
} as const;

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
const MAX_DMA_BYTES = 16 << 20;

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
  | CrewFaultRecord;

export type RecordType = LogRecord['type'];

/** Decodes one chunk's payload (already CRC-checked); throws LogFormatError('bad-record'). */
export class ChunkDecoder {
  private readonly reader: ByteReader;
  private readonly previous: bigint[];

  constructor(payload: Uint8Array, fileOffset: number, chunkIndex: number, vcpus: number) {
    this.reader = new ByteReader(payload, fileOffset, chunkIndex, 'bad-record');
    this.previous = new Array<bigint>(vcpus).fill(0n);
  }

  /** Bytes of the payload consumed so far. */
  get position(): number {
    return this.reader.position;
  }

  next(): LogRecord | undefined {
    const r = this.reader;
    if (r.done) return undefined;
    const at = r.position;
    const kind = r.u8();
    switch (kind) {
      case RecordKind.input:
        return { type: 'input', ...this.landmark(), kind: this.inputKind(), value: r.varint() };
      case RecordKind.rareOutcome:
        return { type: 'rare-outcome', ...this.landmark(), kind: this.inputKind(), value: r.varint() };
      case RecordKind.interrupt:
        return { type: 'interrupt', ...this.landmark(), cause: r.varint() };
      case RecordKind.checkpoint:
        return { type: 'checkpoint', ...this.checkpoint() };
      case RecordKind.crewTransfer: {
        const page = r.varint();
        const from = this.landmark();
        return { type: 'crew-transfer', page, from, to: this.landmark() };
      }
      case RecordKind.machineStop: {
        const exitAt = this.landmark();
        const exitCode = r.signedVarint();
        const finalState = this.checkpoint();
        const outputBytes = r.varint();
        return { type: 'machine-stop', ...exitAt, exitCode, ...finalState, outputBytes, outputHash: r.fixedLe(8) };
      }
      case RecordKind.dmaWrite: {
        const where = this.landmark();
        const address = r.varint();
        return { type: 'dma-write', ...where, address, data: Uint8Array.from(r.blob(MAX_DMA_BYTES, 'DMA data')) };
      }
      case RecordKind.delayedInterrupt: {
        const where = this.landmark();
        const cause = r.varint();
        return { type: 'delayed-interrupt', ...where, cause, delayNs: r.varint() };
      }
      case RecordKind.diskRead: {
        const where = this.landmark();
        const address = r.varint();
        const diskOffset = r.varint();
        return { type: 'disk-read', ...where, address, diskOffset, length: r.varint() };
      }
      case RecordKind.crewFault: {
        const where = this.landmark();
        const pageAndWrite = r.varint();
        return { type: 'crew-fault', ...where, page: pageAndWrite >> 1n, write: (pageAndWrite & 1n) === 1n, edges: r.varint() };
      }
      default:
        return r.fail(at, `unknown record kind ${kind}`);
    }
  }

  /** (vcpu, zigzag delta from that vCPU's previous count), wrapping mod 2^64. */
  private landmark(): Landmark {
    const r = this.reader;
    const at = r.position;
    const vcpu = r.varint();
    if (vcpu >= BigInt(this.previous.length)) r.fail(at, `vcpu ${vcpu} out of range`);
    const v = Number(vcpu);
    return { vcpu: v, count: this.count(v) };
  }

  private count(vcpu: number): bigint {
    const count = BigInt.asUintN(64, this.previous[vcpu]! + this.reader.signedVarint());
    this.previous[vcpu] = count;
    return count;
  }

  private inputKind(): number {
    const r = this.reader;
    const at = r.position;
    const kind = r.u8();
    if (kind === 0 || kind > MAX_INPUT_KIND) r.fail(at, `unknown input kind ${kind}`);
    return kind;
  }

  /** For vCPU 0..n-1: count delta and register hash (8 bytes LE); then the memory hash. */
  private checkpoint(): { vcpus: CheckpointVcpu[]; memoryHash: bigint } {
    const r = this.reader;
    const at = r.position;
    const n = r.varint();
    if (n !== BigInt(this.previous.length)) {
      r.fail(at, `checkpoint has ${n} vcpus, machine has ${this.previous.length}`);
    }
    const vcpus: CheckpointVcpu[] = [];
    for (let i = 0; i < this.previous.length; i++) {
      const count = this.count(i);
      vcpus.push({ count, registerHash: r.fixedLe(8) });
    }
    return { vcpus, memoryHash: r.fixedLe(8) };
  }
}
