/** One readable line per record (`rrkit log dump`), and a JSON-safe form (bigints as strings). */
import { INPUT_KIND_NAMES, VCPU_ACTIVITY_NAMES, type CheckpointVcpu, type LogRecord } from './log-records.js';

const hex = (n: bigint): string => `0x${n.toString(16).padStart(16, '0')}`;
const kindName = (kind: number): string => INPUT_KIND_NAMES[kind] ?? `kind-${kind}`;
const vcpuList = (vcpus: CheckpointVcpu[]): string =>
  vcpus.map((v, i) => `vcpu ${i} @ ${v.count} regs ${hex(v.registerHash)}`).join(', ');

export function formatRecord(record: LogRecord): string {
  switch (record.type) {
    case 'input':
      return `input         vcpu ${record.vcpu} @ ${record.count}: ${kindName(record.kind)} = ${record.value} (${hex(record.value)})`;
    case 'rare-outcome':
      return `rare-outcome  vcpu ${record.vcpu} @ ${record.count}: ${kindName(record.kind)} = ${record.value}`;
    case 'interrupt':
      return `interrupt     vcpu ${record.vcpu} @ ${record.count}: cause ${record.cause}`;
    case 'checkpoint':
      return `checkpoint    ${vcpuList(record.vcpus)}; memory ${hex(record.memoryHash)}`;
    case 'crew-transfer':
      return `crew-transfer page 0x${record.page.toString(16)}: vcpu ${record.from.vcpu} @ ${record.from.count} -> vcpu ${record.to.vcpu} @ ${record.to.count}`;
    case 'machine-stop':
      return `machine-stop  vcpu ${record.vcpu} @ ${record.count}: exit code ${record.exitCode}; ${vcpuList(record.vcpus)}; memory ${hex(record.memoryHash)}; console ${record.outputBytes} bytes ${hex(record.outputHash)}`;
    case 'dma-write':
      return `dma-write     vcpu ${record.vcpu} @ ${record.count}: ${record.data.length} bytes at 0x${record.address.toString(16)}`;
    case 'delayed-interrupt':
      return `interrupt     vcpu ${record.vcpu} @ ${record.count}: cause ${record.cause}, ${(Number(record.delayNs) / 1000).toFixed(1)} µs after it fell due`;
    case 'host-time':
      return `host-time     vcpu ${record.vcpu} @ ${record.count}: ${(Number(record.ns) / 1e6).toFixed(6)} ms, ${VCPU_ACTIVITY_NAMES[record.activity] ?? `activity ${record.activity}`}`;
    case 'crew-fault':
      return `crew-fault    vcpu ${record.vcpu} @ ${record.count}: page 0x${record.page.toString(16)} (${record.write ? 'write' : 'read'}), ${record.edges} edge(s) in`;
    case 'disk-read':
      return `disk-read     vcpu ${record.vcpu} @ ${record.count}: ${record.length} bytes at 0x${record.address.toString(16)} from disk offset ${record.diskOffset} (bytes not logged)`;
  }
}

/** A record (or header) with bigints as decimal strings and bytes as hex, for JSON output. */
export function toJsonSafe(value: unknown): unknown {
  return JSON.parse(
    // A function replacer sees the original value as this[key] (a Buffer's toJSON has
    // already run on `value`).
    JSON.stringify(value, function (this: Record<string, unknown>, key: string, value: unknown) {
      const original = this[key];
      if (typeof value === 'bigint') return value.toString();
      if (original instanceof Uint8Array) return Buffer.from(original).toString('hex');
      return value;
    }),
  );
}
