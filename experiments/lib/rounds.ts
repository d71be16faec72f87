/**
 * Side-by-side measurement: every configuration of an experiment runs once per round, in
 * the same order, so that A and B see the same machine load; the fastest round of each
 * configuration is kept (the least disturbed one on a shared machine).
 */
export interface Configuration<R> {
  /** a stable key, e.g. "matmul/record" */
  key: string;
  /** runs once and returns its wall-clock seconds and whatever else it measured */
  run: () => Promise<{ seconds: number; data: R }>;
}

export interface Best<R> {
  key: string;
  seconds: number;
  data: R;
  /** every round's seconds, for the spread */
  all: number[];
}

export async function bestOfRounds<R>(
  configurations: readonly Configuration<R>[],
  rounds: number,
  progress: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<Map<string, Best<R>>> {
  const best = new Map<string, Best<R>>();
  for (let round = 1; round <= rounds; round++) {
    progress(`round ${round}/${rounds}`);
    for (const configuration of configurations) {
      const { seconds, data } = await configuration.run();
      const previous = best.get(configuration.key);
      const all = [...(previous?.all ?? []), seconds];
      if (previous === undefined || seconds < previous.seconds) best.set(configuration.key, { key: configuration.key, seconds, data, all });
      else previous.all = all;
    }
  }
  return best;
}

export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
