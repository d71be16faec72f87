/** Every `rrkit` command, in the order `rrkit --help` lists them. */
import type { CommandModule } from 'yargs';
import { demoCommand } from './demo.js';
import { guestCommand } from './guest.js';
import { logCommand } from './log.js';
import { recordCommand } from './record.js';
import { replayCommand } from './replay.js';
import { replicaCommand, replicateCommand } from './replica.js';
import { runCommand } from './run.js';
import { verifyCommand } from './verify.js';

// yargs' CommandModule is generic in the parsed arguments; the list only needs the shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  demoCommand,
  runCommand,
  recordCommand,
  replayCommand,
  verifyCommand,
  logCommand,
  replicaCommand,
  replicateCommand,
  guestCommand,
];
