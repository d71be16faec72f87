/**
 * A plain run: the guest against the world as it is, nothing logged. The image is read
 * once, and its ELF machine type picks the engine unless one is named.
 */
import type { RunOptions, RunResult } from '../engines/engine.js';
import { engineFor } from '../engines/index.js';
import { guestImage, type GuestImage } from '../guests/image.js';

export interface PlainRunOptions extends Omit<RunOptions, 'session'> {
  /** the guest ELF's path, or its image already read */
  elf: string | GuestImage;
  /** default: the engine for the ELF's machine type */
  engine?: string;
}

export async function runGuest(options: PlainRunOptions): Promise<RunResult> {
  const { elf, engine, ...runOptions } = options;
  const image = await guestImage(elf);
  return engineFor(image, engine).run(image, runOptions);
}
