import { describe, expect, it } from 'vitest';
import { innerResults } from './inner-results.js';

describe("the inner vitest's report", () => {
  it('gives one result per inner test, failing for failures and for skips, and one for a file that failed to load', () => {
    const report = {
      testResults: [
        {
          name: '/p/test/kvm/a.test.ts',
          status: 'failed',
          assertionResults: [
            { ancestorTitles: ['group'], title: 'works', status: 'passed', failureMessages: [] },
            { ancestorTitles: ['group'], title: 'breaks', status: 'failed', failureMessages: ['AssertionError: expected 1 to be 2'] },
            { ancestorTitles: [], title: 'later', status: 'skipped', failureMessages: [] },
          ],
        },
        { name: '/p/test/kvm/b.test.ts', status: 'failed', message: 'Error: Cannot find module x', assertionResults: [] },
      ],
    };
    expect(innerResults(report, '/p')).toEqual([
      { file: 'test/kvm/a.test.ts', name: ['group', 'works'], passed: true, messages: [] },
      { file: 'test/kvm/a.test.ts', name: ['group', 'breaks'], passed: false, messages: ['AssertionError: expected 1 to be 2'] },
      { file: 'test/kvm/a.test.ts', name: ['later'], passed: false, messages: ['the test was skipped inside the sandbox; KVM tests never skip'] },
      { file: 'test/kvm/b.test.ts', name: ['(the file itself)'], passed: false, messages: ['Error: Cannot find module x'] },
    ]);
  });

  it('refuses a report without results', () => {
    expect(() => innerResults({}, '/p')).toThrow(/no testResults/);
    expect(() => innerResults(null, '/p')).toThrow(/no testResults/);
  });
});
