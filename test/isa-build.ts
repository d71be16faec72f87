/** Builds the instruction-level test programs under test/isa/ with riscv64-linux-gnu-gcc. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const execFileAsync = promisify(execFile);
export const ISA_DIR = fileURLToPath(new URL('./isa/', import.meta.url));

/** Assembles test/isa/NAME.S into a fresh temporary directory; returns NAME -> ELF path. */
export async function buildIsaPrograms(names: readonly string[]): Promise<Record<string, string>> {
  const out = mkdtempSync(join(tmpdir(), 'rrkit-isa-'));
  const built: Record<string, string> = {};
  await Promise.all(
    names.map(async (name) => {
      const elf = join(out, `${name}.elf`);
      await execFileAsync('riscv64-linux-gnu-gcc', [
        '-march=rv64ima_zicsr_zifencei', '-mabi=lp64', '-nostdlib', '-nostartfiles', '-static',
        '-fno-pie', '-no-pie', '-Wl,--build-id=none', '-T', join(ISA_DIR, 'link.ld'), '-I', ISA_DIR,
        join(ISA_DIR, `${name}.S`), '-o', elf,
      ]);
      built[name] = elf;
    }),
  );
  return built;
}
