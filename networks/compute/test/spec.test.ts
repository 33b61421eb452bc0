// The job spec (docs/job-spec.md): valid specs in every task form, each malformed case with the
// field it names (and its line), YAML syntax errors, path resolution and reading from disk, the
// cost formula, the limits, and the shipped examples.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cidOf } from '@groundwork/protocol';
import { readJobSpecFile } from '../src/spec/file.ts';
import {
  DEFAULTS,
  type FileContent,
  JOB_LIMITS,
  type JobSpec,
  JobSpecError,
  jobCost,
  loadJobSpec,
  planJobSpec,
  resolveJobSpec,
  type SpecProblem,
} from '../src/spec/index.ts';
import { queuedTasksOf } from '../src/matcher/index.ts';

const NOW = Date.UTC(2026, 4, 1, 12, 0, 0);
const MiB = 1024 * 1024;
const BASE = '/jobs/render';
/** The smallest thing with a WebAssembly module header (magic, version 1). */
const WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const SCENE = new TextEncoder().encode('{"width":4}');

const FULL = `version: "groundwork/job@1"
program: ./render.wasm
args: ["--frame", "{task}"]
stdin: ./scene.json
inputs:
  scene.json: ./scene.json
tasks: 1-24
resources: { memory: 64MiB, fuel: 2e9 }
deadline: 30m
maxPrice: 0.002
verification: { spotCheck: 0.1, redundancy: 1 }
allow: { clock: false, random: false }
`;

const MINIMAL = `version: "groundwork/job@1"
program: ./render.wasm
resources: { fuel: 1e9 }
maxPrice: 0.002
`;

/** A file system of absolute path → bytes under BASE. */
function files(extra: Record<string, Uint8Array> = {}): Map<string, FileContent> {
  return new Map(Object.entries({ 'render.wasm': WASM, 'scene.json': SCENE, ...extra }).map(([p, b]) => [path.resolve(BASE, p), b]));
}

function load(text: string, fs = files()): JobSpec {
  return resolveJobSpec(planJobSpec(text, { baseDir: BASE, now: NOW }), fs);
}

/** The problems a spec is refused with (it must be refused). */
function problems(text: string, fs = files()): readonly SpecProblem[] {
  try {
    load(text, fs);
  } catch (err) {
    assert.ok(err instanceof JobSpecError, `expected JobSpecError, got ${err}`);
    return err.problems;
  }
  assert.fail(`accepted:\n${text}`);
}

/** Asserts the spec is refused with a problem on `field` whose message matches. */
function refused(text: string, field: string, message: RegExp | string, fs = files()): SpecProblem {
  const ps = problems(text, fs);
  const hit = ps.find((p) => p.field === field && (typeof message === 'string' ? p.message === message : message.test(p.message)));
  assert.ok(hit, `no problem on ${field} matching ${message}; got:\n${ps.map((p) => `  ${p.field}: ${p.message}`).join('\n')}`);
  return hit;
}

const withField = (text: string, from: string | RegExp, to: string) => {
  const out = text.replace(from, to);
  assert.notEqual(out, text, `pattern ${from} not in the spec`);
  return out;
};

describe('a valid spec', () => {
  test('the full example normalizes to explicit tasks, CIDs, absolute deadline and cost', () => {
    const spec = load(FULL);
    assert.equal(spec.version, 'groundwork/job@1');
    assert.deepEqual(spec.program, { cid: cidOf(WASM), size: 8, source: '/jobs/render/render.wasm', bytes: WASM });
    assert.match(spec.program.cid, /^bafkrei/);
    assert.deepEqual(spec.stdin, { cid: cidOf(SCENE), size: SCENE.length, source: '/jobs/render/scene.json', bytes: SCENE });
    assert.deepEqual(
      spec.inputs.map((i) => [i.name, i.cid]),
      [['scene.json', cidOf(SCENE)]],
    );
    assert.equal(spec.inputBytes, SCENE.length, 'the same content as stdin and as an input counts once');
    assert.equal(spec.taskForm, 'range');
    assert.equal(spec.tasks.length, 24);
    assert.deepEqual(spec.tasks[0], { index: 0, value: '1', args: ['--frame', '1'] });
    assert.deepEqual(spec.tasks[23], { index: 23, value: '24', args: ['--frame', '24'] });
    assert.deepEqual(spec.args, ['--frame', '{task}']);
    assert.deepEqual(spec.resources, { memoryBytes: 64 * MiB, fuel: 2e9, outputBytes: DEFAULTS.outputBytes });
    assert.equal(spec.deadline, NOW + 30 * 60_000);
    assert.equal(spec.maxPrice, 0.002);
    assert.deepEqual(spec.verification, { spotCheck: 0.1, redundancy: 1 });
    assert.deepEqual(spec.allow, { clock: false, random: false });
    // 24 runs + ceil(2.4) = 3 spot checks; 27 × 2e9 × 0.002 / 1e6 = 108.
    assert.deepEqual(spec.cost, { runs: 27, spotChecks: 3, computeUnits: 54_000_000_000n, maxCost: 108n });
    assert.equal(spec.maxCost, 108n);
    assert.deepEqual(spec.warnings, []);
  });

  test('the minimal spec takes every default', () => {
    const spec = load(MINIMAL);
    assert.equal(spec.taskForm, 'single');
    assert.deepEqual(spec.tasks, [{ index: 0, value: '0', args: [] }]);
    assert.deepEqual(spec.resources, { memoryBytes: DEFAULTS.memoryBytes, fuel: 1e9, outputBytes: DEFAULTS.outputBytes });
    assert.equal(spec.deadline, NOW + DEFAULTS.deadlineMs);
    assert.deepEqual(spec.verification, { spotCheck: 0.1, redundancy: 1 });
    assert.equal(spec.stdin, null);
    assert.deepEqual(spec.inputs, []);
    assert.deepEqual(spec.env, []);
    assert.deepEqual(spec.attributes, {});
    assert.equal(spec.maxCost, 4n);
  });

  test('every task form: count, count as text, range, list, with {task} and {index}', () => {
    const withTasks = (tasks: string) => `${MINIMAL}args: ["{task}", "i={index}", "{other}"]\ntasks: ${tasks}\n`;
    const values = (tasks: string) => load(withTasks(tasks)).tasks.map((t) => t.value);
    assert.deepEqual(values('3'), ['0', '1', '2']);
    assert.deepEqual(values('"3"'), ['0', '1', '2']);
    assert.deepEqual(values('5-7'), ['5', '6', '7']);
    assert.deepEqual(values('"0 - 1"'), ['0', '1']);
    assert.deepEqual(values('[intro, 7, "outro", 2.5]'), ['intro', '7', 'outro', '2.5']);
    const spec = load(withTasks('[a, b]'));
    assert.equal(spec.taskForm, 'list');
    assert.deepEqual(spec.tasks[1], { index: 1, value: 'b', args: ['b', 'i=1', '{other}'] });
    assert.deepEqual(spec.warnings, ['args[2]: {other} is not a placeholder ({task} and {index} are); it is passed as written']);
  });

  test('a value that contains {index} is substituted once, not again', () => {
    const spec = load(`${MINIMAL}args: ["{task}"]\ntasks: ["{index}"]\n`);
    assert.deepEqual(spec.tasks[0]!.args, ['{index}']);
  });

  test('several tasks with no placeholder are accepted with a warning', () => {
    const spec = load(`${MINIMAL}tasks: 3\n`);
    assert.equal(spec.tasks.length, 3);
    assert.match(spec.warnings[0]!, /^tasks: 3 tasks but no argument uses \{task\} or \{index\}/);
  });

  test('units: sizes, counts and durations in their forms', () => {
    const r = (s: string) => load(`${MINIMAL.replace('resources: { fuel: 1e9 }', `resources: ${s}`)}`).resources;
    assert.equal(r('{ memory: "1.5 GiB", fuel: 1e9 }').memoryBytes, 1.5 * 1024 * MiB);
    assert.equal(r('{ memory: 500MB, fuel: 1e9 }').memoryBytes, 500e6);
    assert.equal(r('{ memory: 65536, fuel: 1e9 }').memoryBytes, 65536);
    assert.equal(r('{ fuel: "500M" }').fuel, 5e8);
    assert.equal(r('{ fuel: "2G" }').fuel, 2e9);
    assert.equal(r('{ fuel: "2e9" }').fuel, 2e9);
    assert.equal(r('{ fuel: 2000000000, output: 1GiB }').outputBytes, 1024 * MiB);
    const d = (s: string) => load(`${MINIMAL}deadline: ${s}\n`).deadline - NOW;
    assert.equal(d('90s'), 90_000);
    assert.equal(d('1h30m'), 5_400_000);
    assert.equal(d('7d'), 7 * 86_400_000);
    assert.equal(d('2026-05-01T15:00+02:00'), 60 * 60_000, '15:00 at +02:00 is 13:00Z, an hour after NOW');
    assert.equal(d('"2026-05-02T12:00:00.5Z"'), 86_400_500);
  });

  test('env, attributes, allow, verification as a percentage, files by CID', () => {
    const cid = cidOf(new Uint8Array([1, 2, 3]));
    const spec = load(`version: "groundwork/job@1"
program: { cid: ${cid} }
env: { MODE: fast, LEVEL: 3, DEBUG: false }
stdin: { cid: ${cid}, size: 3 }
inputs:
  tex/wood.png: { cid: ${cid}, size: 3B }
  b.json: ./scene.json
attributes: { region: eu, gpu.model: rtx4090 }
resources: { fuel: 1e6 }
maxPrice: 1.5
verification: { spotCheck: "12.5%", redundancy: 3 }
allow: { clock: true, random: true }
`);
    assert.deepEqual(spec.program, { cid, size: null, source: null, bytes: null });
    assert.deepEqual(spec.env, [
      ['MODE', 'fast'],
      ['LEVEL', '3'],
      ['DEBUG', 'false'],
    ]);
    assert.deepEqual(
      spec.inputs.map((i) => [i.name, i.size, i.source]),
      [
        ['b.json', SCENE.length, '/jobs/render/scene.json'],
        ['tex/wood.png', 3, null],
      ],
    );
    assert.equal(spec.inputBytes, 3 + SCENE.length);
    assert.deepEqual(spec.attributes, { region: 'eu', 'gpu.model': 'rtx4090' });
    assert.deepEqual(spec.allow, { clock: true, random: true });
    assert.deepEqual(spec.verification, { spotCheck: 0.125, redundancy: 3 });
    // 1 × 3 + ceil(0.125) = 4 runs × 1e6 × 1.5 / 1e6 = 6.
    assert.equal(spec.maxCost, 6n);
  });

  test('inputs are sorted by UTF-8 bytes, as the sandbox lists /input', () => {
    const spec = load(`${MINIMAL}inputs:\n  "é.txt": ./scene.json\n  "z.txt": ./scene.json\n  "A.txt": ./scene.json\n`);
    assert.deepEqual(
      spec.inputs.map((i) => i.name),
      ['A.txt', 'z.txt', 'é.txt'],
    );
  });

  test('a spec feeds the matcher: every task with the job limits', () => {
    const spec = load(`${FULL}attributes: { region: eu }\n`);
    const queued = queuedTasksOf('job-1', spec);
    assert.equal(queued.length, 24);
    assert.deepEqual(queued[5], {
      job: 'job-1',
      task: 5,
      memoryBytes: 64 * MiB,
      fuel: 2e9,
      maxPrice: 0.002,
      deadline: NOW + 30 * 60_000,
      requiredAttributes: { region: 'eu' },
    });
  });
});

describe('a malformed spec names the field', () => {
  test('tasks', () => {
    const p = refused(withField(FULL, 'tasks: 1-24', 'tasks: "30-1"'), 'tasks', '"30-1" ends before it starts');
    assert.equal(p.line, 7);
    assert.equal(p.column, 8);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: 1-20000'), 'tasks', '"1-20000" is 20,000 tasks; a job has at most 10,000');
    refused(withField(FULL, 'tasks: 1-24', 'tasks: 10001'), 'tasks', /10,001 tasks; a job has at most 10,000/);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: 0'), 'tasks', /0 is not a task count/);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: 2.5'), 'tasks', /2.5 is not a task count/);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: frames'), 'tasks', /"frames" is not a count, a range "a-b" or a list/);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: []'), 'tasks', /lists no tasks/);
    refused(withField(FULL, 'tasks: 1-24', 'tasks: [a, b, a]'), 'tasks[2]', '"a" is listed twice (also tasks[0])');
    refused(withField(FULL, 'tasks: 1-24', 'tasks: [a, { b: 1 }]'), 'tasks[1]', 'expected a string or a number, got a mapping');
    refused(withField(FULL, 'tasks: 1-24', 'tasks: { from: 1 }'), 'tasks', /expected a count, a range "a-b" or a list, got a mapping/);
  });

  test('resources', () => {
    const p = refused(withField(FULL, '64MiB', '5GiB'), 'resources.memory', '5GiB exceeds the 4GiB cap');
    assert.deepEqual([p.line, p.column], [8, 22]);
    refused(withField(FULL, '64MiB', '64mb'), 'resources.memory', /unknown unit "mb"/);
    refused(withField(FULL, '64MiB', '1KiB'), 'resources.memory', '1KiB is below the 64KiB minimum');
    refused(withField(FULL, '64MiB', 'lots'), 'resources.memory', /"lots" is not a size/);
    refused(withField(FULL, 'fuel: 2e9', 'fuel: 1e14'), 'resources.fuel', /exceeds the 1e\+13 cap/);
    refused(withField(FULL, 'fuel: 2e9', 'fuel: 1.5'), 'resources.fuel', /1.5 is not a whole number/);
    refused(withField(FULL, 'fuel: 2e9', 'fuel: 0'), 'resources.fuel', 'must be at least 1');
    refused(withField(FULL, ', fuel: 2e9', ''), 'resources.fuel', /^is required/);
    refused(withField(FULL, 'resources: { memory: 64MiB, fuel: 2e9 }\n', ''), 'resources', 'is required');
    refused(withField(FULL, 'fuel: 2e9', 'fuel: 2e9, output: 2GiB'), 'resources.output', '2GiB exceeds the 1GiB cap');
    refused(withField(FULL, 'fuel: 2e9', 'fule: 2e9'), 'resources.fule', 'unknown field (known here: memory, fuel, output)');
  });

  test('program', () => {
    const p = refused(withField(FULL, './render.wasm', './x.wasm'), 'program', 'file ./x.wasm not found');
    assert.deepEqual([p.line, p.column], [2, 10]);
    refused(FULL, 'program', './render.wasm: not a WebAssembly module (bad magic)', files({ 'render.wasm': SCENE }));
    refused(FULL, 'program', /not a WebAssembly module \(bad magic\)/, files({ 'render.wasm': new Uint8Array([0, 0x61, 0x73]) }));
    refused(
      FULL,
      'program',
      /a WebAssembly component, not a core module/,
      files({ 'render.wasm': new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]) }),
    );
    refused(
      FULL,
      'program',
      /unsupported WebAssembly version 2/,
      files({ 'render.wasm': new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]) }),
    );
    refused(withField(FULL, 'program: ./render.wasm\n', ''), 'program', /^is required/);
    refused(withField(FULL, './render.wasm', '""'), 'program', 'is an empty path');
    refused(withField(FULL, './render.wasm', '{ cid: bafkxyz }'), 'program.cid', /^malformed CID "bafkxyz"/);
    refused(
      withField(FULL, './render.wasm', '{ cid: QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG }'),
      'program.cid',
      /CIDv0; expected CIDv1/,
    );
    refused(withField(FULL, './render.wasm', `{ cid: ${cidOf(WASM)}, path: x }`), 'program.path', /unknown field/);
    refused(withField(FULL, './render.wasm', '[a]'), 'program', 'expected a file path or { cid: … }, got a list');
    refused(
      withField(FULL, './render.wasm', `{ cid: ${cidOf(WASM)}, size: 65MiB }`),
      'program.size',
      '65MiB exceeds the 64MiB cap on programs',
    );
  });

  test('stdin and inputs', () => {
    refused(withField(FULL, 'stdin: ./scene.json', 'stdin: ./none.json'), 'stdin', 'file ./none.json not found');
    refused(withField(FULL, 'scene.json: ./scene.json', 'scene.json: ./none.json'), 'inputs["scene.json"]', 'file ./none.json not found');
    refused(withField(FULL, 'scene.json: ./scene.json', '../x: ./scene.json'), 'inputs["../x"]', /must be a relative path under \/input/);
    refused(withField(FULL, 'scene.json: ./scene.json', '/etc/passwd: ./scene.json'), 'inputs["/etc/passwd"]', /must be a relative path/);
    refused(
      withField(FULL, 'scene.json: ./scene.json', 'a: ./scene.json\n  a/b: ./scene.json'),
      'inputs["a/b"]',
      'goes through "a", which is also an input file',
    );
    refused(
      withField(FULL, 'stdin: ./scene.json', `stdin: { cid: ${cidOf(SCENE)} }`),
      'stdin.size',
      /^is required for a file given by CID/,
    );
    refused(
      `${MINIMAL}stdin: { cid: ${cidOf(SCENE)}, size: 65MiB }\n`,
      'stdin',
      'files given by CID total 65MiB; stdin and inputs together are at most 64MiB',
    );
    refused(
      withField(FULL, 'stdin: ./scene.json', `stdin: { cid: ${cidOf(SCENE)}, size: 65MiB }`),
      'inputs',
      /files given by CID total 65MiB/,
    );
    const unreadable = new Map(files());
    unreadable.set(path.resolve(BASE, 'scene.json'), { unreadable: 'EISDIR: illegal operation on a directory' });
    refused(FULL, 'stdin', 'cannot read ./scene.json: EISDIR: illegal operation on a directory', unreadable);
  });

  test('deadline', () => {
    refused(withField(FULL, 'deadline: 30m', 'deadline: 30'), 'deadline', '30 has no unit (write e.g. "30m", "2h" or "1h30m")');
    refused(withField(FULL, 'deadline: 30m', 'deadline: 30 minutes'), 'deadline', /is not a duration/);
    refused(withField(FULL, 'deadline: 30m', 'deadline: 30s'), 'deadline', '"30s" leaves 30s; a job needs at least 1m');
    refused(withField(FULL, 'deadline: 30m', 'deadline: 8d'), 'deadline', '"8d" is 8d away; at most 7d');
    refused(withField(FULL, 'deadline: 30m', 'deadline: 2026-04-30T00:00:00Z'), 'deadline', '"2026-04-30T00:00:00Z" is in the past');
    refused(withField(FULL, 'deadline: 30m', 'deadline: 2026-05-01T13:00:00'), 'deadline', /is not an ISO 8601 time with a zone/);
    refused(withField(FULL, 'deadline: 30m', 'deadline: 2026-02-30T13:00:00Z'), 'deadline', /is not a valid date and time/);
  });

  test('maxPrice, verification, allow, version', () => {
    refused(withField(FULL, 'maxPrice: 0.002\n', ''), 'maxPrice', /^is required/);
    refused(withField(FULL, 'maxPrice: 0.002', 'maxPrice: 0'), 'maxPrice', '0 must be greater than 0');
    refused(withField(FULL, 'maxPrice: 0.002', 'maxPrice: 0.0000001'), 'maxPrice', /1e-7 has more than 6 decimal places/);
    refused(withField(FULL, 'maxPrice: 0.002', 'maxPrice: 5000'), 'maxPrice', /exceeds the cap of 1000/);
    refused(withField(FULL, 'maxPrice: 0.002', 'maxPrice: "0.002"'), 'maxPrice', /expected a number of credits/);
    refused(withField(FULL, 'spotCheck: 0.1', 'spotCheck: 1.5'), 'verification.spotCheck', '1.5 is not between 0 and 1');
    refused(withField(FULL, 'spotCheck: 0.1', 'spotCheck: 0.00001'), 'verification.spotCheck', /finer than a basis point/);
    refused(withField(FULL, 'redundancy: 1', 'redundancy: 6'), 'verification.redundancy', '6 is not between 1 and 5');
    refused(withField(FULL, 'redundancy: 1', 'redundancy: 0'), 'verification.redundancy', '0 is not between 1 and 5');
    refused(withField(FULL, 'clock: false', 'clock: "yes"'), 'allow.clock', 'expected true or false, got "yes"');
    refused(withField(FULL, 'random: false', 'random: false, net: true'), 'allow.net', /unknown field \(known here: clock, random\)/);
    refused(
      withField(FULL, 'groundwork/job@1', 'groundwork/job@2'),
      'version',
      '"groundwork/job@2" is not a version this reads (groundwork/job@1)',
    );
    refused(withField(FULL, 'version: "groundwork/job@1"\n', ''), 'version', /^is required/);
  });

  test('args, env, attributes, unknown top-level fields', () => {
    refused(withField(FULL, '"{task}"]', '{task}, 3]'), 'args[1]', /^expected an argument as a string, got a mapping/);
    refused(withField(FULL, '"{task}"]', '"{task}", 3]'), 'args[2]', 'expected an argument as a string, got the number 3 (quote it: "3")');
    refused(`${FULL}env: { 1BAD: x }\n`, 'env["1BAD"]', /is not a variable name/);
    refused(`${FULL}env: { OK: [1] }\n`, 'env.OK', 'expected a string, got a list');
    refused(`${FULL}attributes: { "bad key": x }\n`, 'attributes["bad key"]', /is not an attribute name/);
    refused(`${FULL}gpu: true\n`, 'gpu', /^unknown field \(known here: version, program/);
    refused(
      `${MINIMAL}args: ["{task}"]\ntasks: ["${'x'.repeat(200)}"]\n`.replace('["{task}"]', `["${'y'.repeat(4000)}{task}"]`),
      'args[0]',
      /is 4200 bytes once \{task\} is substituted; at most 4096/,
    );
  });

  test('every problem is reported at once, in source order', () => {
    const ps = problems(
      withField(withField(withField(FULL, 'tasks: 1-24', 'tasks: "30-1"'), '64MiB', '5GiB'), 'fuel: 2e9', 'fuel: 2e9, fule: 1'),
    );
    assert.deepEqual(
      ps.map((p) => p.field),
      ['tasks', 'resources.memory', 'resources.fule'],
    );
    try {
      planJobSpec(
        withField(withField(withField(FULL, 'tasks: 1-24', 'tasks: "30-1"'), '64MiB', '5GiB'), 'fuel: 2e9', 'fuel: 2e9, fule: 1'),
        {
          baseDir: BASE,
          now: NOW,
          fileName: 'job.yaml',
        },
      );
      assert.fail('accepted');
    } catch (err) {
      assert.equal(
        (err as Error).message,
        [
          'job.yaml: 3 problems:',
          '  tasks: "30-1" ends before it starts (line 7, column 8)',
          '  resources.memory: 5GiB exceeds the 4GiB cap (line 8, column 22)',
          '  resources.fule: unknown field (known here: memory, fuel, output) (line 8, column 39)',
        ].join('\n'),
      );
    }
  });
});

describe('YAML itself', () => {
  const planProblems = (text: string) => {
    try {
      planJobSpec(text, { baseDir: BASE, now: NOW });
    } catch (err) {
      assert.ok(err instanceof JobSpecError);
      return err.problems;
    }
    assert.fail('accepted');
  };

  test('a syntax error is reported with its line and column, and no field', () => {
    const [p] = planProblems(`version: "groundwork/job@1"\nprogram: ./a.wasm\nargs: [--frame, 1\nresources: { fuel: 1 }\n`);
    assert.equal(p!.field, '');
    assert.equal(p!.line, 4);
    assert.match(p!.message, /Flow sequence|must be sufficiently indented|end with a \]/);
  });

  test('duplicate keys are errors, with the line of the second', () => {
    const [p] = planProblems(`${MINIMAL}maxPrice: 0.001\n`);
    assert.deepEqual([p!.line, p!.message], [5, 'Map keys must be unique']);
  });

  test('an empty spec, a list, a scalar, several documents, and a spec over 1 MiB are refused', () => {
    assert.equal(planProblems('')[0]!.message, 'the spec is empty');
    assert.equal(planProblems('# only a comment\n')[0]!.message, 'the spec is empty');
    assert.match(planProblems('- a\n- b\n')[0]!.message, /must be a mapping of fields, got a list/);
    assert.match(planProblems('hello\n')[0]!.message, /must be a mapping of fields, got "hello"/);
    assert.match(planProblems(`${MINIMAL}---\n${MINIMAL}`)[0]!.message, /multiple documents/i);
    assert.match(planProblems(`${MINIMAL}#${'x'.repeat(JOB_LIMITS.maxSpecBytes)}\n`)[0]!.message, /the spec is 1\.0MiB|at most 1MiB/);
  });

  test('YAML 1.2: yes/no and dates stay strings (no implicit booleans or timestamps)', () => {
    refused(withField(FULL, 'clock: false', 'clock: no'), 'allow.clock', 'expected true or false, got "no"');
    assert.equal(load(`${MINIMAL}tasks: [2026-05-01, yes]\nargs: ["{task}"]\n`).tasks[0]!.value, '2026-05-01');
  });

  test('an alias bomb is refused rather than expanded', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    assert.match(planProblems(bomb)[0]!.message, /^the YAML cannot be read: Excessive alias count/);
  });
});

describe('paths', () => {
  test('resolved against the spec directory; ../ and absolute paths; each file listed once', () => {
    const plan = planJobSpec(
      `version: "groundwork/job@1"
program: ../bin/render.wasm
stdin: scene.json
inputs: { a.json: ./scene.json, b.json: /data/b.json }
resources: { fuel: 1e9 }
maxPrice: 0.002
`,
      { baseDir: BASE, now: NOW },
    );
    assert.deepEqual(plan.paths, ['/jobs/bin/render.wasm', '/jobs/render/scene.json', '/data/b.json']);
    // A relative base would make the result depend on the process's working directory.
    assert.throws(() => planJobSpec(MINIMAL, { baseDir: 'jobs', now: NOW }), /baseDir must be absolute/);
  });

  test('loadJobSpec reads each path through readFile, once', async () => {
    const reads: string[] = [];
    const fs = files();
    const spec = await loadJobSpec(FULL, {
      baseDir: BASE,
      now: NOW,
      readFile: (p) => {
        reads.push(p);
        return fs.get(p) as Uint8Array | undefined;
      },
    });
    assert.deepEqual(reads, ['/jobs/render/render.wasm', '/jobs/render/scene.json']);
    assert.equal(spec.tasks.length, 24);
    await assert.rejects(
      loadJobSpec(FULL, {
        baseDir: BASE,
        now: NOW,
        readFile: (p) => {
          if (p.endsWith('.json')) throw new Error('EACCES: permission denied');
          return WASM;
        },
      }),
      (err: unknown) =>
        err instanceof JobSpecError &&
        err.problems.some((p) => p.field === 'stdin' && p.message === 'cannot read ./scene.json: EACCES: permission denied'),
    );
  });

  describe('from disk', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'gw-spec-'));
      await mkdir(path.join(dir, 'job'));
      await mkdir(path.join(dir, 'assets'));
      await mkdir(path.join(dir, 'job', 'adir'));
      await writeFile(path.join(dir, 'assets', 'p.wasm'), WASM);
      await writeFile(path.join(dir, 'job', 'scene.json'), SCENE);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test('readJobSpecFile resolves paths against the file, reports missing and unreadable files', async () => {
      const spec = path.join(dir, 'job', 'job.yaml');
      await writeFile(
        spec,
        `version: "groundwork/job@1"\nprogram: ../assets/p.wasm\nstdin: scene.json\nresources: { fuel: 1e9 }\nmaxPrice: 0.002\n`,
      );
      const ok = await readJobSpecFile(spec, NOW);
      assert.equal(ok.program.source, path.join(dir, 'assets', 'p.wasm'));
      assert.equal(ok.program.cid, cidOf(WASM));
      assert.equal(ok.stdin!.cid, cidOf(SCENE));
      await writeFile(spec, `version: "groundwork/job@1"\nprogram: ./x.wasm\nstdin: ./adir\nresources: { fuel: 1e9 }\nmaxPrice: 0.002\n`);
      await assert.rejects(readJobSpecFile(spec, NOW), (err: unknown) => {
        assert.ok(err instanceof JobSpecError);
        assert.equal(err.fileName, spec);
        assert.deepEqual(
          err.problems.map((p) => [p.field, p.message.replace(/: EISDIR.*/, ': EISDIR'), p.line]),
          [
            ['program', 'file ./x.wasm not found', 2],
            ['stdin', 'cannot read ./adir: EISDIR', 3],
          ],
        );
        return true;
      });
    });
  });
});

describe('cost', () => {
  const cost = (over: Partial<Parameters<typeof jobCost>[0]>) =>
    jobCost({ tasks: 24, fuel: 2e9, maxPrice: 0.002, spotCheck: 0.1, redundancy: 1, ...over });

  test('runs = tasks × redundancy + ceil(tasks × spotCheck); maxCost = ceil(runs × fuel × maxPrice / 1e6)', () => {
    assert.deepEqual(cost({}), { runs: 27, spotChecks: 3, computeUnits: 54_000_000_000n, maxCost: 108n });
    assert.deepEqual(cost({ spotCheck: 0 }), { runs: 24, spotChecks: 0, computeUnits: 48_000_000_000n, maxCost: 96n });
    assert.deepEqual(cost({ redundancy: 3, spotCheck: 0.25 }), { runs: 78, spotChecks: 6, computeUnits: 156_000_000_000n, maxCost: 312n });
    assert.equal(cost({ tasks: 1 }).spotChecks, 1, 'spot checks are whole tasks, rounded up');
    assert.equal(cost({ tasks: 30 }).spotChecks, 3, '30 × 0.1 is 3 exactly, not 3.0000000000000004 rounded up to 4');
    assert.equal(cost({ spotCheck: 1 }).runs, 48);
  });

  test('rounds up to whole credits, in exact integers', () => {
    assert.equal(cost({ tasks: 1, fuel: 1, maxPrice: 0.000001, spotCheck: 0 }).maxCost, 1n);
    assert.equal(cost({ tasks: 1, fuel: 500_000, maxPrice: 1, spotCheck: 0 }).maxCost, 1n);
    assert.equal(cost({ tasks: 1, fuel: 1_000_001, maxPrice: 1, spotCheck: 0 }).maxCost, 2n);
    // The largest job: 10,000 tasks × 5 runs + 10,000 checks at the caps; beyond 2^53, exact.
    const big = cost({ tasks: JOB_LIMITS.maxTasks, fuel: JOB_LIMITS.maxFuel, maxPrice: JOB_LIMITS.maxPrice, spotCheck: 1, redundancy: 5 });
    assert.equal(big.maxCost, (60_000n * 10_000_000_000_000n * 1000n) / 1_000_000n);
    // 0.1 + 0.2 style noise does not leak in: 0.003 credits per MCU × 1e6 units is 0.003 → 1.
    assert.equal(cost({ tasks: 1, fuel: 1e9, maxPrice: 0.003, spotCheck: 0 }).maxCost, 3n);
  });

  test('refuses what the formula is not defined for', () => {
    assert.throws(() => cost({ maxPrice: 0.0000001 }), /maxPrice/);
    assert.throws(() => cost({ spotCheck: 2 }), /spotCheck/);
    assert.throws(() => cost({ redundancy: 0 }), /redundancy/);
    assert.throws(() => cost({ tasks: -1 }), /tasks/);
  });
});

describe('limits', () => {
  test('10,000 tasks are accepted, 10,001 are not', () => {
    assert.equal(load(`${MINIMAL}args: ["{task}"]\ntasks: 10000\n`).tasks.length, 10_000);
    refused(`${MINIMAL}args: ["{task}"]\ntasks: 0-10000\n`, 'tasks', /10,001 tasks/);
    refused(`${MINIMAL}tasks: [${Array.from({ length: 10_001 }, (_, i) => i).join(',')}]\n`, 'tasks', /lists 10,001 tasks/);
  });

  test('stdin and inputs total at most 64 MiB, each distinct content once', () => {
    const a = new Uint8Array(33 * MiB).fill(1);
    const b = new Uint8Array(33 * MiB).fill(2);
    const text = `${MINIMAL}inputs: { a.bin: ./a.bin, b.bin: ./b.bin }\n`;
    assert.equal(load(text, files({ 'a.bin': a, 'b.bin': a })).inputBytes, 33 * MiB);
    refused(text, 'inputs', 'stdin and inputs total 66MiB; at most 64MiB', files({ 'a.bin': a, 'b.bin': b }));
  });

  test('a program over 64 MiB is refused', () => {
    const big = new Uint8Array(64 * MiB + 1);
    big.set(WASM);
    refused(MINIMAL, 'program', /render.wasm is ~64.0MiB; programs are at most 64MiB/, files({ 'render.wasm': big }));
  });

  test('memory up to 4 GiB exactly', () => {
    assert.equal(load(withField(FULL, '64MiB', '4GiB')).resources.memoryBytes, 4 * 1024 * MiB);
    refused(withField(FULL, '64MiB', '4097MiB'), 'resources.memory', '4097MiB exceeds the 4GiB cap');
  });
});

describe('the shipped examples', () => {
  const examples = fileURLToPath(new URL('../examples/', import.meta.url));
  /** Real files, except the renderer build (not in a fresh checkout): a module header stands in for it. */
  const readFile = (p: string) => {
    if (p.endsWith('renderer.wasm')) return WASM;
    try {
      return new Uint8Array(readFileSync(p));
    } catch {
      return undefined;
    }
  };

  test('render.yaml: 24 frames, 54,000 credits escrowed', async () => {
    const spec = await loadJobSpec(readFileSync(path.join(examples, 'render.yaml'), 'utf8'), { baseDir: examples, now: NOW, readFile });
    assert.equal(spec.tasks.length, 24);
    assert.deepEqual(spec.tasks[0]!.args, ['--frame', '1', '--scene', '/input/scene.json']);
    assert.equal(spec.inputs[0]!.name, 'scene.json');
    assert.equal(spec.inputs[0]!.source, fileURLToPath(new URL('../scenes/demo.json', import.meta.url)));
    assert.equal(spec.maxCost, 54_000n);
    assert.deepEqual(spec.warnings, []);
  });

  test('hello.yaml: one task with the defaults, 4 credits escrowed', async () => {
    const spec = await loadJobSpec(readFileSync(path.join(examples, 'hello.yaml'), 'utf8'), { baseDir: examples, now: NOW, readFile });
    assert.equal(spec.tasks.length, 1);
    assert.ok(spec.stdin && spec.stdin.size > 0);
    assert.equal(spec.maxCost, 4n);
  });
});
