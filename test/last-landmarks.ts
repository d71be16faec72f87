/** Each vCPU's highest landmark in a list of log records: where replay of an incomplete log must stop. */
import type { LogRecord } from '../src/analysis/log-records.js';

export function lastLandmarks(records: readonly LogRecord[], vcpus: number): bigint[] {
  const last = new Array<bigint>(vcpus).fill(0n);
  const saw = (vcpu: number, count: bigint): void => {
    if (count > last[vcpu]!) last[vcpu] = count;
  };
  for (const r of records) {
    switch (r.type) {
      case 'checkpoint':
        r.vcpus.forEach((v, i) => saw(i, v.count));
        break;
      case 'crew-transfer':
        saw(r.from.vcpu, r.from.count);
        saw(r.to.vcpu, r.to.count);
        break;
      case 'machine-stop':
        saw(r.vcpu, r.count);
        r.vcpus.forEach((v, i) => saw(i, v.count));
        break;
      default:
        saw(r.vcpu, r.count);
    }
  }
  return last;
}
