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
