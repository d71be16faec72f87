/**
 * The `rrkit` command. Each command lives in its own module under ./commands; this file
 * only assembles them. The guest's console output goes to stdout byte for byte; rrkit's
 * own messages go to stderr.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { EXIT, exitStatusOf } from './exit-status.js';
import { versionText } from './version.js';

// `rrkit log dump RUN.rrlog | head` closes stdout early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

async function main(): Promise<void> {
  const parser = yargs(hideBin(process.argv))
    .scriptName('rrkit')
    .usage('$0 <command> [options]\n\nDeterministic record/replay of virtual machines.')
    .strict()
    .demandCommand(1, 'Name a command; `rrkit --help` lists them.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    // Computed only when asked for: it may run git.
    .version(false)
    .option('version', { type: 'boolean', describe: 'Show the version (and the git commit in a checkout)' })
    .middleware((argv) => {
      if (argv['version'] === true) {
        process.stdout.write(`${versionText()}\n`);
        process.exit(0);
      }
    }, true)
    .completion('completion', 'Print a bash/zsh completion script: rrkit completion >> ~/.bashrc')
    .wrap(Math.min(100, process.stderr.columns ?? 100))
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      process.stderr.write(`rrkit: ${message}\nRun \`rrkit --help\` for usage.\n`);
      process.exit(EXIT.usage);
    });
  for (const command of commands) parser.command(command);
  await parser.parseAsync();
}

// One line on stderr, and the status the README's table gives this kind of failure.
main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`rrkit: ${message}\n`);
  if (process.env['RRKIT_DEBUG'] !== undefined && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exit(exitStatusOf(error));
});
