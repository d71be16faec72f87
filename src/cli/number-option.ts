/**
 * Numeric options as typed. yargs' `type: 'number'` turns `abc` into NaN and `""` into 0,
 * so that a message could only say "not NaN" or accept 0; rrkit's numeric options are
 * strings to yargs, parsed here, and a bad one is a UsageError quoting what was typed.
 */
import { printable } from '../files/printable.js';
import { UsageError } from './errors.js';

export interface NumberSpec {
  /** whole numbers only */
  integer: boolean;
  min: number;
  max: number;
  /** what the number counts, for the message ("seconds", "MiB") */
  unit?: string;
}

function expectation(spec: NumberSpec): string {
  const kind = spec.integer ? 'an integer' : 'a number';
  const range = spec.max === Infinity ? `of at least ${spec.min}` : `from ${spec.min} to ${spec.max}`;
  return `${kind} ${range}${spec.unit ? ` (${spec.unit})` : ''}`;
}

/** The value of option `flag` (undefined when it was not given); a UsageError when it is not `spec`. */
export function numberOption(flag: string, raw: string | number | undefined, spec: NumberSpec): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  if (text === '') throw new UsageError(`${flag} needs a value: ${expectation(spec)}`);
  // Number('0x10') and Number('1e3') are accepted; Number('12abc') is NaN.
  const value = Number(text);
  const ok = Number.isFinite(value) && (!spec.integer || Number.isSafeInteger(value)) && value >= spec.min && value <= spec.max;
  if (!ok) throw new UsageError(`${flag} must be ${expectation(spec)}, not '${printable(String(raw))}'`);
  return value;
}
