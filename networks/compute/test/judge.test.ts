// When a task's results decide it (plugin/judge.ts): agreement without a dispute, the deciding run
// after one, ties, owners, runs lost and the extra run after a consumer's rejection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type JudgedRun, judgeRuns } from '../src/plugin/judge.ts';

const run = (owner: string, claim: string | null, lost = false): JudgedRun => ({ owner, claim, lost });

describe('judging a task', () => {
  test('without a dispute, `needed` equal results decide it', () => {
    assert.deepEqual(judgeRuns([run('a', 'x')], 1), { decided: true, claim: 'x', agreed: [0], contradicted: [] });
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', null)], 2), { decided: false, runAnother: false });
    assert.deepEqual(judgeRuns([run('a', 'x')], 2), { decided: false, runAnother: true }, 'the spot check is still to be sent');
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'x')], 2), { decided: true, claim: 'x', agreed: [0, 1], contradicted: [] });
  });

  test('one against one asks for a deciding run, which settles it and names the liar', () => {
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'y')], 2), { decided: false, runAnother: true });
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'y'), run('c', null)], 2), { decided: false, runAnother: false });
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'y'), run('c', 'y')], 2), {
      decided: true,
      claim: 'y',
      agreed: [1, 2],
      contradicted: [0],
    });
  });

  test('two results of one owner against one do not decide: agreement needs two owners', () => {
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'y'), run('b', 'y')], 2), { decided: false, runAnother: true });
    assert.equal(judgeRuns([run('a', 'x'), run('b', 'y'), run('b', 'y'), run('c', 'y')], 2).decided, true);
  });

  test('a tie between two agreeing pairs needs another run; the larger group then stands', () => {
    const tie = [run('a', 'x'), run('b', 'x'), run('c', 'y'), run('d', 'y')];
    assert.deepEqual(judgeRuns(tie, 2), { decided: false, runAnother: true });
    assert.deepEqual(judgeRuns([...tie, run('e', 'x')], 2), { decided: true, claim: 'x', agreed: [0, 1, 4], contradicted: [2, 3] });
  });

  test('lost runs count for nothing and are replaced', () => {
    assert.deepEqual(judgeRuns([run('a', null, true)], 1), { decided: false, runAnother: true });
    assert.deepEqual(judgeRuns([run('a', null, true), run('b', 'x')], 1), { decided: true, claim: 'x', agreed: [1], contradicted: [] });
  });

  test('after a rejection (needed + 1) the new result either confirms the first or starts a dispute', () => {
    // One unchecked result, rejected: needed goes from 1 to 2.
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'x')], 2), { decided: true, claim: 'x', agreed: [0, 1], contradicted: [] });
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'y')], 2), { decided: false, runAnother: true });
    // A spot-checked pair, rejected: the new run against two owners who agree is outvoted.
    assert.deepEqual(judgeRuns([run('a', 'x'), run('b', 'x'), run('c', 'y')], 3), {
      decided: true,
      claim: 'x',
      agreed: [0, 1],
      contradicted: [2],
    });
  });
});
