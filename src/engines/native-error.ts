/**
 * A native call's error as rrkit's own error types. Every binding turns every C++ exception
 * into a JavaScript error with a `code` (native/addon/js_error.h); this maps the codes that
 * mean something to the caller: a damaged log (with its chunk and byte offset) and a guest
 * image an engine will not run. Anything else is returned unchanged.
 */
import { isLogErrorCode, LogFormatError, UnreplayableLog } from '../analysis/log-error.js';
import { GuestImageError } from '../guests/image.js';
import { StateImageError } from '../session/state-image.js';

interface NativeErrorFields {
  code?: unknown;
  chunk?: unknown;
  offset?: unknown;
  detail?: unknown;
}

export function fromNativeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code, chunk, offset, detail } = error as Error & NativeErrorFields;
  if (typeof code === 'string' && isLogErrorCode(code) && typeof chunk === 'number' && typeof offset === 'number') {
    return new LogFormatError(code, chunk, offset, typeof detail === 'string' ? detail : error.message);
  }
  if (code === 'bad-image') return new GuestImageError(error.message);
  if (code === 'unreplayable-log') return new UnreplayableLog(error.message);
  if (code === 'bad-state-image') return new StateImageError(error.message);
  return error;
}
