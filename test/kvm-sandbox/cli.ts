/**
 * The sandbox's stages by hand (docs/testing.md):
 *
 *   npx tsx test/kvm-sandbox/cli.ts placement      direct|sandbox, and why (on stderr)
 *   npx tsx test/kvm-sandbox/cli.ts prepare        fetch the kernel if needed, build the initramfs
 *   npx tsx test/kvm-sandbox/cli.ts init-script    print the generated /init
 *   npx tsx test/kvm-sandbox/cli.ts run [--timeout S] [--cwd DIR] [--run-dir DIR] -- COMMAND...
 *                                                  run COMMAND inside; exits with its status
 *
 * RRKIT_KVM_SANDBOX_VERBOSE=1 shows the emulated machine's console while it runs.
 */
import { SandboxError } from './sandbox-error.js';
import { kvmPlacement } from './detect.js';
import { initScript } from './init-script.js';
import { checkKernel } from './kernel-package.js';
import { prepareSandbox } from './prepare.js';
import { runInSandbox } from './run.js';
import { sandboxPaths } from './sandbox-paths.js';

const USAGE = 'usage: cli.ts placement | prepare | init-script | run [--timeout S] [--cwd DIR] [--run-dir DIR] -- COMMAND...';

function log(line: string): void {
  process.stderr.write(`kvm sandbox: ${line}\n`);
}

async function runCommand(args: string[]): Promise<number> {
  const separator = args.indexOf('--');
  const command = separator < 0 ? [] : args.slice(separator + 1);
  const options = separator < 0 ? args : args.slice(0, separator);
  if (command.length === 0) throw new RangeError(`run needs a command after --\n${USAGE}`);
  let timeoutMs: number | undefined;
  let cwd: string | undefined;
  let runDir: string | undefined;
  for (let i = 0; i < options.length; i += 2) {
    const [flag, value] = [options[i], options[i + 1]];
    if (value === undefined) throw new RangeError(`${flag} needs a value\n${USAGE}`);
    if (flag === '--timeout' && Number(value) > 0) timeoutMs = Number(value) * 1000;
    else if (flag === '--cwd') cwd = value;
    else if (flag === '--run-dir') runDir = value;
    else throw new RangeError(`bad option ${flag} ${value}\n${USAGE}`);
  }
  const result = await runInSandbox({ command, cwd, runDir, timeoutMs });
  const steps = Object.entries(result.stepTimesMs).map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)}`);
  log(`exit status ${result.status}; seconds from QEMU's start: ${steps.join(', ')}, end ${(result.totalMs / 1000).toFixed(1)}`);
  return result.status;
}

async function main(argv: string[]): Promise<number> {
  const [stage, ...rest] = argv;
  switch (stage) {
    case 'placement': {
      const placement = kvmPlacement();
      process.stdout.write(`${placement.where}\n`);
      log(`KVM tests run ${placement.where === 'direct' ? 'directly' : 'in the sandbox'}: ${placement.reason}`);
      return 0;
    }
    case 'prepare':
      prepareSandbox(sandboxPaths(), log);
      return 0;
    case 'init-script':
      process.stdout.write(initScript({ modules: checkKernel(sandboxPaths()).loadOrder }));
      return 0;
    case 'run':
      return runCommand(rest);
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`${error instanceof SandboxError ? '' : 'kvm sandbox: '}${(error as Error).message}\n`);
    process.exit(error instanceof RangeError ? 2 : 1);
  },
);
