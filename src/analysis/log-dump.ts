/** One readable line per record (`rrkit log dump`), and a JSON-safe form (bigints as strings). */
import { printable } from '../files/printable.js';
import { readLogHeaderFile, scanLogFile } from './log-reader.js';
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
    case 'mode-switch':
      return `mode-switch   vcpu ${record.vcpu} @ ${record.count}: ${record.serialized ? 'joins' : 'leaves'} serialized group ${record.group}`;
    case 'turn-switch':
      // To itself: a group's first turn, or the holder kept where it stood while members joined.
      return `turn-switch   vcpu ${record.vcpu} @ ${record.count}: turn ${record.next === record.vcpu ? 'kept (its group\'s first turn, or others joined)' : `-> vcpu ${record.next}`}`;
  }
}

/** A record (or header) as JSON text, bigints as decimal strings and bytes as hex. */
export function toJsonText(value: unknown): string {
  // A function replacer sees the original value as this[key] (a Buffer's toJSON has
  // already run on `value`).
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    if (typeof value === 'bigint') return value.toString();
    if (original instanceof Uint8Array) return Buffer.from(original).toString('hex');
    return value;
  });
}

/** A record (or header) with bigints as decimal strings and bytes as hex, for JSON output. */
export function toJsonSafe(value: unknown): unknown {
  return JSON.parse(toJsonText(value));
}

/**
 * Writes a log file's dump through `write`, one validated chunk at a time (scanLogFile), so
 * that a log of millions of records costs the memory of one chunk and of `write`'s buffer,
 * not of every record as an object. Text: two header lines, a line per record, and whether
 * the log is complete. JSON: one object, `{"header", "records": [...], "complete"}`,
 * written as it is read. A damaged chunk throws LogFormatError after the records before it.
 */
export function dumpLogFile(path: string, json: boolean, write: (text: string) => void): void {
  const h = readLogHeaderFile(path);
  if (json) {
    write(`{"header":${toJsonText(h)},"records":[`);
    let first = true;
    const outline = scanLogFile(path, (record) => {
      write(`${first ? '' : ','}${toJsonText(record)}`);
      first = false;
    });
    write(`],"complete":${outline.complete}}\n`);
    return;
  }
  write(
    `# ${printable(h.engine)}, ${h.vcpus} vcpus, ${h.ramMib} MiB, image ${printable(h.imagePath)} sha256 ${h.imageHash}\n` +
      `# CREW granularity ${h.crewGranularity}, checkpoint interval ${h.checkpointInterval}, config ${printable(h.configJson)}\n`,
  );
  const outline = scanLogFile(path, (record) => write(`${formatRecord(record)}\n`));
  write(outline.complete ? '# complete\n' : '# incomplete: no trailer\n');
}
