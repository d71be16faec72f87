/**
 * Start-up cost of the `rrkit` command: a whole process, side by side in one run with the
 * floor (`node -e 0`) and with the way rrkit started before it had a build step (TypeScript
 * compiled by tsx's loader at every start). `run matmul.small` is compared with the engine's
 * own time for the same ELF measured in this process, so the difference is what the command
 * adds. Trials are interleaved, so that load on the machine falls on all of them alike.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runGuest } from '../src/session/run.js';
import { builtGuestPath, REPO_ROOT } from '../src/guests/catalog.js';
import { secondsSince } from './timing.js';

const ROUNDS = 15;
const rrkit = join(REPO_ROOT, 'bin', 'rrkit');
const tsxLoader = `file://${join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')}`;

interface Trial {
  name: string;
  command: string[];
}

const TRIALS: Trial[] = [
  { name: 'node -e 0 (the floor)', command: ['node', '-e', '0'] },
  { name: 'rrkit --help', command: [rrkit, '--help'] },
  { name: 'rrkit --help through tsx (before the build step)', command: ['node', '--import', tsxLoader, join(REPO_ROOT, 'src', 'cli', 'main.ts'), '--help'] },
  { name: 'rrkit run matmul.small', command: [rrkit, 'run', 'matmul.small'] },
];

function timeProcess(command: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = secondsSince(start);
  if (result.status !== 0) throw new Error(`${command.join(' ')} exited with ${result.status}: ${result.stderr.toString().trim()}`);
  return seconds;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export interface StartupReport {
  rows: { name: string; medianSeconds: number; minSeconds: number }[];
  /** the emu engine's own time for matmul.small, in this process */
  engineSeconds: number;
}

export async function benchStartup(): Promise<StartupReport> {
  timeProcess([rrkit, '--version']); // rebuilds the bundle first if src/ changed: not a start-up
  const samples = new Map<string, number[]>(TRIALS.map((t) => [t.name, []]));
  const engine: number[] = [];
  const elf = builtGuestPath('matmul', 'rv64', true);
  for (let round = 0; round < ROUNDS; round++) {
    for (const trial of TRIALS) samples.get(trial.name)!.push(timeProcess(trial.command));
    const start = process.hrtime.bigint();
    await runGuest({ elf, capture: true });
    engine.push(secondsSince(start));
  }
  return {
    rows: TRIALS.map((t) => ({ name: t.name, medianSeconds: median(samples.get(t.name)!), minSeconds: Math.min(...samples.get(t.name)!) })),
    engineSeconds: median(engine),
  };
}

export function formatStartup(report: StartupReport): string {
  const lines = report.rows.map((r) => `  ${r.name.padEnd(52)} ${r.medianSeconds.toFixed(3)} s  (min ${r.minSeconds.toFixed(3)})`);
  const floor = report.rows[0]!.medianSeconds;
  const help = report.rows.find((r) => r.name === 'rrkit --help')!.medianSeconds;
  const run = report.rows.find((r) => r.name === 'rrkit run matmul.small')!.medianSeconds;
  lines.push(`  the engine's own run of matmul.small, in-process    ${report.engineSeconds.toFixed(3)} s`);
  lines.push(`  rrkit --help: ${help.toFixed(3)} s (target <= 0.10), ${(help - floor).toFixed(3)} s above node's floor`);
  lines.push(`  rrkit run matmul.small: ${(run - report.engineSeconds).toFixed(3)} s above the engine's own time (target <= 0.05 above the floor's ${floor.toFixed(3)} s)`);
  return lines.join('\n');
}
