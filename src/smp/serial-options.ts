/**
 * Serialized-mode options for recording several vCPUs (native/crew/serializer.h,
 * docs/crew.md "Serialized mode"): when a page changes hands faster than `enterPerMillion`
 * times per million instructions of the vCPUs holding it, those vCPUs run one at a time in
 * turns of `quantum` instructions, and the log holds their turn switches instead of their
 * transfers. Replay needs none of these: it follows the logged switches.
 */

export interface SerialOptions {
  /** transfers of one page per million instructions of its holders that serialize them; 0: never */
  enterPerMillion: number;
  /** instructions of one holder over which that rate is measured */
  window: number;
  /** instructions per turn */
  quantum: number;
  /** instructions of turns after which a group tries parallel again (doubled each time it comes back at once) */
  probe: number;
  /** turns in a row with nothing shared after which a group returns to parallel at once */
  idleTurns: number;
  /** a group's members share its pages while serialized instead of trading them at every turn (timing only) */
  sharePages: boolean;
}

/**
 * Measured on the SMP bench (docs/crew.md, "Serialized mode: the defaults"): the sharing-heavy
 * workloads change pages 200–2000 times per million instructions of their holders, the
 * compute ones (radix-sort's exchange included) under 5.
 */
export const SERIAL_DEFAULTS: Readonly<SerialOptions> = {
  enterPerMillion: 50,
  window: 500_000,
  quantum: 200_000,
  probe: 20_000_000,
  idleTurns: 32,
  sharePages: true,
};

/** No serialized mode: plain CREW throughout. */
export const SERIAL_OFF: Readonly<SerialOptions> = { ...SERIAL_DEFAULTS, enterPerMillion: 0 };

const LIMITS: Record<Exclude<keyof SerialOptions, 'sharePages'>, [number, number]> = {
  enterPerMillion: [0, 1_000_000],
  window: [1_000, 1_000_000_000],
  quantum: [1_000, 1_000_000_000],
  probe: [1_000, 1_000_000_000_000],
  idleTurns: [1, 1_000_000],
};

/** Defaults filled in; throws TypeError/RangeError (one line naming the option) for a bad value. */
export function checkSerialOptions(given: Partial<SerialOptions> | undefined): SerialOptions {
  const out: SerialOptions = { ...SERIAL_DEFAULTS, ...given };
  for (const [name, [min, max]] of Object.entries(LIMITS) as [keyof typeof LIMITS, [number, number]][]) {
    const value = out[name];
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`serialized mode: ${name} must be an integer`);
    if (value < min || value > max) throw new RangeError(`serialized mode: ${name} must be from ${min} to ${max}, not ${value}`);
  }
  if (typeof out.sharePages !== 'boolean') throw new TypeError('serialized mode: sharePages must be true or false');
  return out;
}

/**
 * The serialized-mode options a log was recorded with (its header's config JSON), for a
 * replay that goes on live and records on (then-run: a replica's switchover), so that the
 * live part serializes as the recording did; the defaults when the log does not say.
 * Throws TypeError/RangeError (one line) when it says something out of range.
 */
export function serialOptionsOfLog(configJson: string): SerialOptions {
  let config: unknown;
  try {
    config = JSON.parse(configJson);
  } catch {
    return { ...SERIAL_DEFAULTS };
  }
  const recorded = typeof config === 'object' && config !== null ? (config as { serialize?: unknown }).serialize : undefined;
  if (recorded === undefined) return { ...SERIAL_DEFAULTS };
  if (typeof recorded !== 'object' || recorded === null) throw new TypeError('serialized mode: the log\'s header holds no options object');
  return checkSerialOptions(recorded as Partial<SerialOptions>);
}
