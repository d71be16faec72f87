/**
 * The job: a shell script the host writes into the run directory and /init runs in the
 * chroot with the host's own /bin/sh. It enters the working directory and runs the command
 * with exactly the environment given (env -i), nothing inherited from /init.
 */

/** Host variables a command inside keeps; RRKIT_* ones come along too (the sandbox's own are overridden). */
const KEPT_VARIABLES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'CI', 'NODE_OPTIONS'];

/** Set inside the sandbox: the command sees a usable /dev/kvm and must not start a sandbox of its own. */
export const INSIDE_ENV = { RRKIT_KVM_SANDBOX: '0', RRKIT_IN_KVM_SANDBOX: '1' } as const;

/** POSIX shell single-quoting. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The environment a command runs with inside: kept host variables, the sandbox's own, then `extra`. */
export function sandboxEnvironment(host: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { HOME: '/root', TERM: 'dumb' };
  for (const [name, value] of Object.entries(host)) {
    if (value !== undefined && (KEPT_VARIABLES.includes(name) || name.startsWith('RRKIT_'))) env[name] = value;
  }
  return { ...env, ...INSIDE_ENV, ...extra };
}

export interface Job {
  command: readonly string[];
  cwd: string;
  env: Record<string, string>;
}

export function jobScript(job: Job): string {
  if (job.command.length === 0) throw new RangeError('the sandbox needs a command to run');
  for (const name of Object.keys(job.env)) {
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new RangeError(`not an environment variable name: '${name}'`);
  }
  const assignments = Object.entries(job.env).map(([name, value]) => shellQuote(`${name}=${value}`));
  return [
    '# written by test/kvm-sandbox/job.ts; run by the sandbox /init inside the chroot',
    `cd ${shellQuote(job.cwd)} || exit 126`,
    `exec env -i ${[...assignments, ...job.command.map(shellQuote)].join(' ')}`,
    '',
  ].join('\n');
}
