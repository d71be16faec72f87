/**
 * Each vCPU's last landmark in a list of log records: where replay of an incomplete log must
 * stop (native ReplayingWorld::LastLandmarks). That is the highest landmark any record names
 * for the vCPU, or just after it when a record there is what the instruction at that count
 * did (an input, a store-conditional's outcome) and landmarks count instructions (emu):
 * that instruction runs on the logged value.
 */
import type { LogRecord } from '../src/analysis/log-records.js';

const STORE_CONDITIONAL = 6;

export function lastLandmarks(records: readonly LogRecord[], vcpus: number, unit: 'instructions' | 'exits' = 'instructions'): bigint[] {
  const last = new Array<bigint>(vcpus).fill(0n);
  const during = new Array<boolean>(vcpus).fill(false);
  const saw = (vcpu: number, count: bigint, isDuring = false): void => {
    if (count > last[vcpu]!) {
      last[vcpu] = count;
      during[vcpu] = isDuring;
    } else if (count === last[vcpu]) {
      during[vcpu] = during[vcpu]! || isDuring;
    }
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
      case 'input':
        saw(r.vcpu, r.count, true);
        break;
      case 'rare-outcome':
        saw(r.vcpu, r.count, r.kind === STORE_CONDITIONAL);
        break;
      default:
        saw(r.vcpu, r.count);
    }
  }
  // On kvm a landmark counts exits: a record at exit N is handled at that exit.
  return last.map((count, vcpu) => (during[vcpu] && unit === 'instructions' ? count + 1n : count));
}

/**
 * A kvm SMP log's place inside a stop: the index of the first CREW edge, past `after` of the
 * records, whose stop's fault record comes later in the log (a cut just after it ends the log
 * between the edge into the stop and the stop's own record); -1 if there is none.
 */
export function edgeIntoLaterStop(records: readonly LogRecord[], after: number): number {
  return records.findIndex(
    (r, i) =>
      i > records.length * after &&
      r.type === 'crew-transfer' &&
      records.slice(i + 1).some((f) => f.type === 'crew-fault' && f.vcpu === r.to.vcpu && f.count === r.to.count),
  );
}
