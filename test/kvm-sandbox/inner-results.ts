/**
 * The inner vitest's JSON report (its `json` reporter, in Jest's format), read into the
 * list of results that the outer test file declares one test each for. A skipped, pending
 * or todo KVM test counts as a failure: KVM tests never skip.
 */
import { relative } from 'node:path';

export interface InnerResult {
  /** The test file, relative to the project. */
  file: string;
  /** The describe titles and the test's own, outermost first. */
  name: string[];
  passed: boolean;
  /** Why it failed: the inner failure messages, or what stood in for a result. */
  messages: string[];
}

interface JsonAssertion {
  ancestorTitles?: string[];
  title?: string;
  status?: string;
  failureMessages?: string[];
}

interface JsonFile {
  name?: string;
  status?: string;
  message?: string;
  assertionResults?: JsonAssertion[];
}

/** Every inner test as a result, plus one failing result per file that failed outside its tests. */
export function innerResults(report: unknown, projectDir: string): InnerResult[] {
  const files = (report as { testResults?: unknown } | null)?.testResults;
  if (!Array.isArray(files)) throw new Error('the inner report has no testResults list');
  const results: InnerResult[] = [];
  for (const file of files as JsonFile[]) {
    const path = relative(projectDir, file.name ?? '(unnamed file)');
    const assertions = file.assertionResults ?? [];
    for (const a of assertions) {
      const name = [...(a.ancestorTitles ?? []), a.title ?? '(untitled)'];
      if (a.status === 'passed') results.push({ file: path, name, passed: true, messages: [] });
      else if (a.status === 'failed') results.push({ file: path, name, passed: false, messages: a.failureMessages ?? [] });
      else results.push({ file: path, name, passed: false, messages: [`the test was ${a.status ?? 'not run'} inside the sandbox; KVM tests never skip`] });
    }
    const failedOutsideTests = file.status === 'failed' && !assertions.some((a) => a.status === 'failed');
    if (failedOutsideTests || assertions.length === 0) {
      results.push({ file: path, name: ['(the file itself)'], passed: false, messages: [file.message || 'the file ran no test'] });
    }
  }
  return results;
}
