/**
 * The one error the log reader throws: what is wrong, in which chunk, at which byte. The
 * codes match the C++ reader's (native/replay/log_error.h) so that both can be compared.
 */
export type LogErrorCode =
  | 'io'
  | 'empty'
  | 'bad-magic'
  | 'bad-version'
  | 'bad-header'
  | 'truncated'
  | 'bad-frame'
  | 'bad-crc'
  | 'bad-payload'
  | 'bad-sequence'
  | 'bad-record'
  | 'bad-trailer'
  | 'trailing-data';

const LOG_ERROR_CODES: ReadonlySet<string> = new Set<LogErrorCode>([
  'io',
  'empty',
  'bad-magic',
  'bad-version',
  'bad-header',
  'truncated',
  'bad-frame',
  'bad-crc',
  'bad-sequence',
  'bad-record',
  'bad-trailer',
  'trailing-data',
]);

export function isLogErrorCode(code: string): code is LogErrorCode {
  return LOG_ERROR_CODES.has(code);
}

/** `chunk` for problems in the file header. */
export const HEADER_CHUNK = -1;
/** `chunk` for problems in the trailer. */
export const TRAILER_CHUNK = -2;

function where(chunk: number, offset: number): string {
  const place = chunk === HEADER_CHUNK ? 'in the header' : chunk === TRAILER_CHUNK ? 'in the trailer' : `in chunk ${chunk}`;
  return `${place} at byte ${offset}`;
}

export class LogFormatError extends Error {
  override name = 'LogFormatError';

  constructor(
    readonly code: LogErrorCode,
    /** Chunk index (0-based), HEADER_CHUNK or TRAILER_CHUNK. */
    readonly chunk: number,
    /** Byte offset in the file. */
    readonly offset: number,
    readonly detail: string,
  ) {
    // An unreadable file has no chunk or offset worth naming.
    super(code === 'io' ? detail : `${code} ${where(chunk, offset)}: ${detail}`);
  }
}

/**
 * A log that reads without error but that this run cannot follow (records the engine has no
 * device for, another vCPU count, CREW edges that cannot all be honoured): reported like a
 * damaged log. One line.
 */
export class UnreplayableLog extends Error {
  override name = 'UnreplayableLog';
}
