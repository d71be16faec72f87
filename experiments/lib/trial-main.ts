/**
 * A trial process: `node dist/experiment-trial.mjs SPEC.json RESULT.json WORKDIR [RESULTS_DIR]`.
 * Runs one trial (trial-kinds.ts) and writes what it measured to RESULT.json; on any error
 * it prints one line on stderr and exits 1, so that the runner reports a failed cell and
 * goes on. Bundled by the runner (trial-process.ts) so that it starts in a tenth of a second.
 */
import { writeFileSync } from 'node:fs';
import { readJson, runQemuTrial, runRrkitTrial, runScriptTrial } from './trial-kinds.js';
import type { TrialSpec, TrialValues } from './trial-spec.js';

const [specPath, resultPath, workDir, resultsDir] = process.argv.slice(2);
if (specPath === undefined || resultPath === undefined || workDir === undefined) {
  process.stderr.write('usage: experiment-trial SPEC.json RESULT.json WORKDIR [RESULTS_DIR]\n');
  process.exit(2);
}
try {
  const spec = readJson<TrialSpec>(specPath);
  let values: TrialValues;
  if (spec.kind === 'rrkit') values = await runRrkitTrial(spec, workDir);
  else if (spec.kind === 'qemu') values = runQemuTrial(spec, workDir);
  else values = runScriptTrial(spec, resultsDir ?? workDir);
  // CPU time of the trial process (not of QEMU's): how long the trial would take on an idle machine, roughly.
  const usage = process.resourceUsage();
  values.trialCpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  writeFileSync(resultPath, JSON.stringify(values));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
