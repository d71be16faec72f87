/**
 * The kvm engine (native/kvm/): x86_64 guests on /dev/kvm, 1..8 vCPUs in long mode over a
 * VMM of rrkit's own, landmarks = synchronous VM exits (and CREW faults with several vCPUs). Checks and defaults the run
 * options, then makes one native call with the image bytes it was given. A host without a
 * usable /dev/kvm gets one line saying why and what to do (kvmAvailability).
 */
import { ELF_MACHINE_X86_64, type GuestImage } from '../guests/image.js';
import { native, type KvmNativeResult, type KvmProbeResult, type NativeDisk, type NativeSession } from '../native.js';
import { printable } from '../files/printable.js';
import { settle, type Engine, type RunOptions, type RunResult } from './engine.js';
import { checkInput, checkInteger, checkShuffleSeed } from './native-arguments.js';
import { fromNativeError } from './native-error.js';

const DEFAULT_RAM_MIB = 128;
/** RRKIT_MAX_HARTS: one VM per vCPU over one RAM (docs/kvm-smp.md). */
const MAX_VCPUS = 8;
/** CREW pages the host can protect for one vCPU: a host page up to the VMM's low memory (1 MiB). */
export const KVM_CREW_MIN_GRANULARITY = 4096;
export const KVM_CREW_MAX_GRANULARITY = 1024 * 1024;
const MAX_RAM_MIB = 4096;
/**
 * A checkpoint costs a dirty-log fetch and a rehash of the pages written since the last
 * (docs/status.md); exit-heavy guests exit every 10–60 µs, so this is a few per second there.
 */
const DEFAULT_CHECKPOINT_INTERVAL = 5_000n;

let probed: KvmProbeResult | undefined;

/** Whether /dev/kvm works here (asked once per process; never throws). */
export function kvmAvailability(): KvmProbeResult {
  probed ??= native().kvmProbe();
  return probed;
}

function checkDisk(disk: NativeDisk | undefined): NativeDisk | null {
  if (disk === undefined) return null;
  if (disk.path !== null && (typeof disk.path !== 'string' || disk.path === '')) throw new TypeError('disk.path must be a path or null');
  checkInteger('disk.sectors', disk.sectors, 0, Number.MAX_SAFE_INTEGER);
  if (typeof disk.shared !== 'boolean') throw new TypeError('disk.shared must be a boolean');
  if (disk.shared && disk.path === null) throw new TypeError('a shared disk needs its image (disk.path)');
  return { path: disk.path, sectors: disk.sectors, shared: disk.shared };
}

/** kvmRun's arguments after the image and its name, in order (see NativeAddon.kvmRun). */
export interface KvmRunArguments {
  vcpus: number;
  ramBytes: number;
  timeoutMs: number;
  checkpointInterval: bigint;
  input: Buffer | number | null;
  capture: boolean | 'tagged';
  session: NativeSession | null;
  progressIntervalMs: number;
  disk: NativeDisk | null;
}

/** Checks `options` and fills in the defaults; throws TypeError/RangeError (one line naming the option). */
export function kvmRunArguments(options: RunOptions): KvmRunArguments {
  const vcpus = checkInteger('vcpus', options.vcpus ?? 1, 1, MAX_VCPUS);
  const session = options.session;
  if (session?.mode === 'record' && vcpus > 1) {
    const g = session.crewGranularity;
    if (g < KVM_CREW_MIN_GRANULARITY || g > KVM_CREW_MAX_GRANULARITY)
      throw new RangeError(`the kvm engine's CREW pages are 4 KiB to 1 MiB (what the host can protect for one vCPU), not ${g} bytes`);
  }
  const ramMiB = checkInteger('ramMiB', options.ramMiB ?? DEFAULT_RAM_MIB, 2, MAX_RAM_MIB);
  const timeoutSeconds = options.timeoutSeconds ?? 0;
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds)) throw new TypeError('timeoutSeconds must be a number');
  if (timeoutSeconds < 0) throw new RangeError(`timeoutSeconds must not be negative, not ${timeoutSeconds}`);
  if (options.stopAt !== undefined && options.stopAt.length > 0) throw new RangeError('stopAt: the kvm engine stops only where the guest exits');
  const shuffleSeed = checkShuffleSeed(options.shuffleSeed);
  if (shuffleSeed !== 0 && options.session?.mode !== 'replay') throw new RangeError('shuffleSeed: the kvm engine shuffles replays only');
  const checkpointInterval = options.checkpointInterval ?? 0n;
  if (typeof checkpointInterval !== 'bigint' || checkpointInterval < 0n) throw new TypeError('checkpointInterval must be a non-negative bigint');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  return {
    vcpus,
    ramBytes: ramMiB * 1024 * 1024,
    timeoutMs: Math.round(timeoutSeconds * 1000),
    checkpointInterval,
    input: checkInput(options.input),
    capture: options.capture === 'tagged' ? 'tagged' : options.capture === true,
    session: options.session?.mode === 'replay' && shuffleSeed !== 0 ? { ...options.session, shuffleSeed } : (options.session ?? null),
    progressIntervalMs: checkInteger('progressIntervalMs', options.progressIntervalMs ?? 1000, 10, 3_600_000),
    disk: checkDisk(options.disk),
  };
}

async function run(image: GuestImage, options: RunOptions): Promise<RunResult> {
  const a = kvmRunArguments(options);
  const availability = kvmAvailability();
  if (!availability.available) throw new Error(availability.reason);
  const onProgress = options.onProgress;
  let result: RunResult;
  try {
    result = await native().kvmRun(
      image.bytes,
      // The name in the loader's messages: escaped, since it is printed as it is.
      printable(image.path),
      a.vcpus,
      a.ramBytes,
      a.timeoutMs,
      a.checkpointInterval,
      a.input,
      a.capture,
      a.session,
      onProgress === undefined ? null : { callback: (sample) => onProgress({ ...sample, landmarkUnit: 'exits' }), intervalMs: a.progressIntervalMs },
      a.disk,
    );
  } catch (error) {
    throw fromNativeError(error);
  }
  return settle(result);
}

/** What the kvm board's devices did in a run, and the guest's own time (present on results of kvm runs). */
export function kvmDeviceFacts(
  result: RunResult,
): Pick<KvmNativeResult, 'interrupts' | 'interruptDelaysNs' | 'dmaBytes' | 'guestSeconds' | 'crewFaults'> | undefined {
  const r = result as Partial<KvmNativeResult>;
  if (r.interrupts === undefined || r.interruptDelaysNs === undefined || r.dmaBytes === undefined || r.guestSeconds === undefined)
    return undefined;
  return {
    interrupts: r.interrupts,
    interruptDelaysNs: r.interruptDelaysNs,
    dmaBytes: r.dmaBytes,
    guestSeconds: r.guestSeconds,
    crewFaults: r.crewFaults ?? 0,
  };
}

export const kvmEngine: Engine = {
  name: 'kvm',
  landmarkUnit: 'exits',
  guestArch: 'x86_64',
  elfMachine: ELF_MACHINE_X86_64,
  maxVcpus: MAX_VCPUS,
  defaultRamMiB: DEFAULT_RAM_MIB,
  maxRamMiB: MAX_RAM_MIB,
  defaultCheckpointInterval: DEFAULT_CHECKPOINT_INTERVAL,
  // A checkpoint fetches the dirty log and rehashes the pages written since the last: at
  // every exit or so it would cost more than the run.
  minCheckpointInterval: 100n,
  run,
};
