import type { SandboxStep } from './console-protocol.js';

/** A sandbox step that failed; the message is one line naming the step and what to do. */
export class SandboxError extends Error {
  override name = 'SandboxError';

  constructor(
    readonly step: SandboxStep,
    detail: string,
  ) {
    super(`kvm sandbox, step '${step}': ${detail.replace(/\s*\n\s*/g, ' ').trim()}`);
  }
}
