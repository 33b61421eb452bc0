// The job spec: a consumer's `job.yaml` (docs/job-spec.md) turned into a normalized JobSpec,
// the one description of a job the rest of the network reads (the escrow amount, the matcher's
// task constraints, what each provider runs).
//
// Pure, in two steps, so that it is testable without a disk and usable where files come from
// elsewhere (an upload):
//   1. planJobSpec(text, { baseDir, now }) parses and checks everything the text alone decides,
//      and lists the absolute paths of the files it names (`plan.paths`);
//   2. resolveJobSpec(plan, files) takes those files' bytes and finishes: magic and size checks,
//      CIDs, the explicit task list and the cost bound.
// loadJobSpec does both around a readFile function; readJobSpecFile (file.ts) reads from disk.
// Every failure is a JobSpecError listing each problem with the field it is about and, where the
// YAML has one, its line and column; nothing is returned half-checked.
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { cidOf } from '@groundwork/protocol';
import { DEFAULTS, documentSchema, JOB_LIMITS, JOB_VERSION, KNOWN_FIELDS, type RawFileRef, type RawJob } from './schema.ts';
import { describeValue, formatBytes, formatDuration, parseFixed } from './units.ts';

export { DEFAULTS, JOB_LIMITS, JOB_VERSION } from './schema.ts';
export { formatBytes, formatDuration, parseCount, parseDuration, parseIsoTime, parseSize } from './units.ts';

// ---------------------------------------------------------------------------------------------
// Errors

/** One thing wrong with a spec: the field (`resources.memory`, `tasks[3]`, `inputs["a.json"]`). */
export type SpecProblem = {
  /** Empty for problems of the YAML text itself (syntax), which belong to no field. */
  field: string;
  message: string;
  /** 1-based, where the YAML node is known. */
  line?: number;
  column?: number;
};

export function formatProblem(p: SpecProblem): string {
  const at = p.line === undefined ? '' : `line ${p.line}, column ${p.column}`;
  if (!p.field) return at ? `${at}: ${p.message}` : p.message;
  return at ? `${p.field}: ${p.message} (${at})` : `${p.field}: ${p.message}`;
}

export class JobSpecError extends Error {
  override readonly name = 'JobSpecError';
  constructor(
    readonly problems: readonly SpecProblem[],
    readonly fileName?: string,
  ) {
    const head = fileName ? `${fileName}: ` : '';
    super(
      problems.length === 1
        ? `${head}${formatProblem(problems[0]!)}`
        : `${head}${problems.length} problems:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The normalized result

/** Content the job names: its CID (CIDv1 raw sha2-256), size, and bytes when read from a file. */
export type ContentRef = {
  cid: string;
  size: number;
  /** The absolute path it was read from; null when the spec gave a CID (already uploaded). */
  source: string | null;
  bytes: Uint8Array | null;
};
/** The program's size is unknown when it is named by CID without one (the store knows it). */
export type ProgramRef = Omit<ContentRef, 'size'> & { size: number | null };
export type JobInput = ContentRef & { /** Path under /input, e.g. "scene.json" or "tiles/0.bin". */ name: string };
/** One task: its position in the job, the value {task} stands for, and its argv after argv[0]. */
export type JobTask = { index: number; value: string; args: string[] };

/** What each run may cost at most and how many runs a job pays for (see jobCost). */
export type JobCost = {
  /** tasks × redundancy + spotChecks. */
  runs: number;
  /** Tasks re-run on another owner's device: ceil(tasks × spotCheck). */
  spotChecks: number;
  /** runs × fuel: the most compute units the job can be charged for. */
  computeUnits: bigint;
  /** ceil(computeUnits × maxPrice / 10^6): the credits escrowed for the job. */
  maxCost: bigint;
};

export type JobSpec = {
  version: typeof JOB_VERSION;
  program: ProgramRef;
  /** The argument templates as written ({task} and {index} not yet substituted). */
  args: string[];
  /** Environment variables, in the order written. */
  env: [string, string][];
  stdin: ContentRef | null;
  /** Sorted by name (UTF-8 byte order, as the sandbox lists /input). */
  inputs: JobInput[];
  /** stdin plus inputs, each distinct content once. */
  inputBytes: number;
  taskForm: 'single' | 'count' | 'range' | 'list';
  tasks: JobTask[];
  resources: { memoryBytes: number; fuel: number; outputBytes: number };
  /** Provider attributes every task needs (matched exactly against offers' attributes). */
  attributes: Record<string, string>;
  /** Milliseconds since the Unix epoch. */
  deadline: number;
  /** Credits per million compute units, at most. */
  maxPrice: number;
  verification: { spotCheck: number; redundancy: number };
  allow: { clock: boolean; random: boolean };
  cost: JobCost;
  /** The same as cost.maxCost. */
  maxCost: bigint;
  /** Things that are allowed but probably not meant (the same input for every task). */
  warnings: string[];
};

// ---------------------------------------------------------------------------------------------
// The cost bound

export type CostInput = {
  tasks: number;
  /** Compute units per run (the fuel cap). */
  fuel: number;
  /** Credits per million compute units (at most 6 decimals). */
  maxPrice: number;
  /** Share of tasks re-run elsewhere, 0..1 (at most 4 decimals). */
  spotCheck: number;
  /** Runs of every task, 1..5. */
  redundancy: number;
};

/**
 * The most a job can cost, in whole credits, which is what is escrowed when it is submitted:
 *
 *   spotChecks = ceil(tasks × spotCheck)
 *   runs       = tasks × redundancy + spotChecks
 *   maxCost    = ceil(runs × fuel × maxPrice / 10^6)
 *
 * Every run is assumed to use all its fuel at the highest price allowed; what is not used comes
 * back to the consumer. Spot checks re-run whole tasks, so their count is rounded up (one task
 * with spotCheck 0.1 may still be checked). Integer arithmetic throughout (maxPrice as millionths,
 * spotCheck as basis points), so the amount is the same on every machine.
 */
export function jobCost(input: CostInput): JobCost {
  const { tasks, fuel, redundancy } = input;
  if (!Number.isSafeInteger(tasks) || tasks < 0) throw new RangeError(`tasks must be a non-negative integer, got ${tasks}`);
  if (!Number.isSafeInteger(fuel) || fuel < 0) throw new RangeError(`fuel must be a non-negative integer, got ${fuel}`);
  if (!Number.isInteger(redundancy) || redundancy < 1) throw new RangeError(`redundancy must be an integer from 1, got ${redundancy}`);
  const price = parseFixed(input.maxPrice, JOB_LIMITS.priceDecimals);
  if (!price.ok || price.value < 0n) throw new RangeError(`maxPrice: ${price.ok ? 'must not be negative' : price.message}`);
  const bps = parseFixed(input.spotCheck, JOB_LIMITS.spotCheckDecimals);
  if (!bps.ok || bps.value < 0n || bps.value > 10_000n)
    throw new RangeError(`spotCheck must be a share from 0 to 1 in basis points, got ${input.spotCheck}`);
  const spotChecks = Number((BigInt(tasks) * bps.value + 9_999n) / 10_000n);
  const runs = tasks * redundancy + spotChecks;
  const computeUnits = BigInt(runs) * BigInt(fuel);
  const scale = 10n ** BigInt(6 + JOB_LIMITS.priceDecimals);
  const maxCost = (computeUnits * price.value + scale - 1n) / scale;
  return { runs, spotChecks, computeUnits, maxCost };
}

// ---------------------------------------------------------------------------------------------
// Step 1: the text

export type PlanOptions = {
  /** Absolute directory relative paths are resolved against: the spec file's own. */
  baseDir: string;
  /** Milliseconds since the Unix epoch: when the job is submitted (relative deadlines count from it). */
  now: number;
  /** Shown at the head of the error message. */
  fileName?: string;
};

type PathRef = { field: string; given: string; absolute: string };
type CidRef = { field: string; cid: string; size: number | null };
type Ref = PathRef | CidRef;

/** A spec whose text is checked; resolveJobSpec finishes it with the bytes of `paths`. */
export type JobPlan = {
  /** Absolute paths of the files the spec names, each once, in the order first named. */
  readonly paths: readonly string[];
  readonly fileName: string | undefined;
  /** @internal what step 2 needs. */
  readonly parts: PlanParts;
};

type PlanParts = {
  job: RawJob;
  program: Ref;
  stdin: Ref | null;
  inputs: (Ref & { name: string })[];
  env: [string, string][];
  attributes: Record<string, string>;
  deadline: number;
  warnings: string[];
  /** Where the fields step 2 may complain about are in the text. */
  positions: Map<string, { line: number; column: number }>;
};

/** Dot for identifiers, [n] for list positions, ["…"] for other keys (input names have dots). */
export function fieldName(p: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** The YAML node at a field path (the key node when `key`), or the deepest one that exists. */
function nodeAt(root: unknown, p: readonly PropertyKey[], key = false): Node | null {
  let node = root as Node | null;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) return node;
      const last = i === p.length - 1;
      node = (last && key) || pair.value === null ? (pair.key as Node) : (pair.value as Node);
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) node = node.items[seg] as Node;
    else return node;
  }
  return node;
}

const MESSAGES_BY_TYPE: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

/** zod's issues as problems, in our words ("is required", "unknown field …"). */
function problemsOfIssues(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; message: string; key?: boolean }[] {
  const out: { path: PropertyKey[]; message: string; key?: boolean }[] = [];
  for (const i of issues) {
    const p = i.path as PropertyKey[];
    switch (i.code) {
      case 'unrecognized_keys': {
        const known = KNOWN_FIELDS[fieldName(p)];
        for (const k of i.keys)
          out.push({ path: [...p, k], key: true, message: `unknown field${known ? ` (known here: ${known.join(', ')})` : ''}` });
        break;
      }
      case 'invalid_type':
        out.push({
          path: p,
          message:
            i.input === undefined ? 'is required' : `expected ${MESSAGES_BY_TYPE[i.expected] ?? i.expected}, got ${describeValue(i.input)}`,
        });
        break;
      case 'too_big':
        out.push({ path: p, message: i.origin === 'array' ? `has more than ${i.maximum} entries` : `must be at most ${i.maximum}` });
        break;
      case 'too_small':
        out.push({ path: p, message: i.origin === 'array' ? `needs at least ${i.minimum} entries` : `must be at least ${i.minimum}` });
        break;
      default:
        out.push({ path: p, message: i.message });
    }
  }
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
const MAX_ATTRIBUTE_VALUE = 128;
const PLACEHOLDER = /\{(task|index)\}/g;

/** UTF-8 byte order, as the sandbox sorts /input (not JS's UTF-16 order). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Why a name cannot be a path under /input, or null (the sandbox's own rules: wasi.ts). */
function inputNameProblem(name: string): string | null {
  if (name.includes('\0')) return 'contains a NUL character';
  if (Buffer.byteLength(name, 'utf8') > JOB_LIMITS.maxInputNameBytes) return `is longer than ${JOB_LIMITS.maxInputNameBytes} bytes`;
  if (name.split('/').some((part) => part === '' || part === '.' || part === '..'))
    return 'must be a relative path under /input with no empty, "." or ".." parts';
  return null;
}

/**
 * Parses and checks a spec's text. Throws JobSpecError with every problem found (syntax errors
 * stop there: the rest cannot be read reliably).
 */
export function planJobSpec(text: string, options: PlanOptions): JobPlan {
  const { baseDir, now, fileName } = options;
  if (!Number.isFinite(now)) throw new TypeError('planJobSpec: now must be a time in milliseconds');
  // Resolving against a relative directory would depend on the process's working directory.
  if (!path.isAbsolute(baseDir)) throw new TypeError(`planJobSpec: baseDir must be absolute, got ${JSON.stringify(baseDir)}`);
  const fail = (problems: SpecProblem[]): never => {
    throw new JobSpecError(problems, fileName);
  };
  const size = Buffer.byteLength(text, 'utf8');
  if (size > JOB_LIMITS.maxSpecBytes)
    fail([{ field: '', message: `the spec is ${formatBytes(size)}; at most ${formatBytes(JOB_LIMITS.maxSpecBytes)}` }]);

  const lines = new LineCounter();
  // YAML 1.2 core schema: no implicit timestamps or yes/no booleans; duplicate keys are errors.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0)
    fail(
      syntax.map((e) => {
        const at = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        // yaml's message ends with " at line L, column C" plus an excerpt: keep the first part.
        return { field: '', message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''), line: at.line, column: at.col };
      }),
    );
  const position = (p: readonly PropertyKey[], key = false) => {
    const node = nodeAt(doc.contents, p, key);
    if (!node?.range) return {};
    const { line, col } = lines.linePos(node.range[0]);
    return { line, column: col };
  };
  const problems: SpecProblem[] = [];
  const report = (p: readonly PropertyKey[], message: string, key = false) =>
    problems.push({ field: fieldName(p), message, ...position(p, key) });

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml refuses alias expansion beyond maxAliasCount ("billion laughs") here.
    return fail([{ field: '', message: `the YAML cannot be read: ${(err as Error).message}` }]);
  }
  if (value === null || value === undefined) fail([{ field: '', message: 'the spec is empty' }]);
  if (typeof value !== 'object' || Array.isArray(value))
    fail([{ field: '', message: `the spec must be a mapping of fields, got ${describeValue(value)}`, ...position([]) }]);

  const parsed = documentSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    for (const p of problemsOfIssues(parsed.error.issues)) report(p.path, p.message, p.key);
    fail(sortProblems(problems));
  }
  const job = parsed.data!;

  const scalarMap = (
    field: string,
    map: Record<string, unknown> | undefined,
    max: number,
    checkKey: (k: string) => string | null,
    maxValue: number,
  ) => {
    const out: [string, string][] = [];
    if (!map) return out;
    const entries = Object.entries(map);
    if (entries.length > max) report([field], `has ${entries.length} entries; at most ${max}`);
    for (const [k, v] of entries) {
      const keyProblem = checkKey(k);
      if (keyProblem) report([field, k], keyProblem, true);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        report([field, k], `expected a string, got ${describeValue(v)}`);
        continue;
      }
      const s = String(v);
      if (s.includes('\0')) report([field, k], 'contains a NUL character');
      else if (Buffer.byteLength(s, 'utf8') > maxValue) report([field, k], `is longer than ${maxValue} bytes`);
      out.push([k, s]);
    }
    return out;
  };
  const env = scalarMap(
    'env',
    job.env,
    JOB_LIMITS.maxEnv,
    (k) => (ENV_NAME.test(k) ? null : 'is not a variable name (letters, digits and _, not starting with a digit)'),
    JOB_LIMITS.maxEnvValueBytes,
  );
  const attributes = Object.fromEntries(
    scalarMap(
      'attributes',
      job.attributes,
      JOB_LIMITS.maxAttributes,
      (k) => (ATTRIBUTE_NAME.test(k) ? null : 'is not an attribute name (1-64 letters, digits, . _ / -)'),
      MAX_ATTRIBUTE_VALUE,
    ),
  );

  const seen = new Map<string, string>();
  const ref = (field: string, raw: RawFileRef): Ref => {
    if ('cid' in raw) return { field, cid: raw.cid, size: raw.size };
    const absolute = path.resolve(baseDir, raw.path);
    if (!seen.has(absolute)) seen.set(absolute, field);
    return { field, given: raw.path, absolute };
  };
  const program = ref('program', job.program);
  if ('cid' in program && program.size !== null && program.size > JOB_LIMITS.maxProgramBytes)
    report(['program', 'size'], `${formatBytes(program.size)} exceeds the ${formatBytes(JOB_LIMITS.maxProgramBytes)} cap on programs`);
  const stdin = job.stdin === undefined ? null : ref('stdin', job.stdin);

  const inputs: (Ref & { name: string })[] = [];
  const inputEntries = Object.entries(job.inputs ?? {});
  if (inputEntries.length > JOB_LIMITS.maxInputs) report(['inputs'], `has ${inputEntries.length} files; at most ${JOB_LIMITS.maxInputs}`);
  const names = new Set(inputEntries.map(([name]) => name));
  for (const [name, raw] of inputEntries) {
    const problem = inputNameProblem(name);
    if (problem) report(['inputs', name], problem, true);
    else {
      // A name that goes through another input ("a" and "a/b") would need "a" to be both.
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (names.has(dir)) {
          report(['inputs', name], `goes through ${JSON.stringify(dir)}, which is also an input file`, true);
          break;
        }
      }
    }
    inputs.push({ ...ref(fieldName(['inputs', name]), raw), name });
  }
  inputs.sort((a, b) => compareUtf8(a.name, b.name));
  const declared = new Map<string, number>();
  for (const r of [stdin, ...inputs]) if (r && 'cid' in r) declared.set(r.cid, r.size ?? 0);
  const declaredBytes = [...declared.values()].reduce((a, b) => a + b, 0);
  if (declaredBytes > JOB_LIMITS.maxInputBytes)
    report(
      [inputs.length ? 'inputs' : 'stdin'],
      `files given by CID total ${formatBytes(declaredBytes)}; stdin and inputs together are at most ${formatBytes(JOB_LIMITS.maxInputBytes)}`,
    );

  let deadline = now + DEFAULTS.deadlineMs;
  if (job.deadline) {
    const inMs = 'at' in job.deadline ? job.deadline.at - now : job.deadline.relativeMs;
    const shown = JSON.stringify(job.deadline.text);
    if ('at' in job.deadline && inMs <= 0) report(['deadline'], `${shown} is in the past`);
    else if (inMs < JOB_LIMITS.minDeadlineMs)
      report(['deadline'], `${shown} leaves ${formatDuration(inMs)}; a job needs at least ${formatDuration(JOB_LIMITS.minDeadlineMs)}`);
    else if (inMs > JOB_LIMITS.maxDeadlineMs)
      report(['deadline'], `${shown} is ${formatDuration(inMs)} away; at most ${formatDuration(JOB_LIMITS.maxDeadlineMs)}`);
    deadline = now + inMs;
  }

  const warnings: string[] = [];
  const args = job.args ?? [];
  const taskCount = job.tasks?.values.length ?? 1;
  args.forEach((a, i) => {
    for (const m of a.matchAll(/\{([A-Za-z_]+)\}/g))
      if (m[1] !== 'task' && m[1] !== 'index')
        warnings.push(`args[${i}]: ${m[0]} is not a placeholder ({task} and {index} are); it is passed as written`);
  });
  if (taskCount > 1 && !args.some((a) => /\{(task|index)\}/.test(a)))
    warnings.push(`tasks: ${taskCount} tasks but no argument uses {task} or {index}: every task gets the same arguments and inputs`);

  if (problems.length) fail(sortProblems(problems));

  const positions = new Map<string, { line: number; column: number }>();
  const locate = (field: string, p: PropertyKey[]) => {
    const at = position(p);
    if (at.line !== undefined) positions.set(field, at as { line: number; column: number });
  };
  locate('program', ['program']);
  locate('stdin', ['stdin']);
  locate('inputs', ['inputs']);
  for (const { name } of inputs) locate(fieldName(['inputs', name]), ['inputs', name]);

  return {
    paths: [...seen.keys()],
    fileName,
    parts: { job, program, stdin, inputs, env, attributes, deadline, warnings, positions },
  };
}

function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  // Source order where known (a stable sort keeps the rest in the order found).
  return problems.slice().sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
}

// ---------------------------------------------------------------------------------------------
// Step 2: the files

/** A file's bytes, or why it could not be read (not found is simply absent from the map). */
export type FileContent = Uint8Array | { unreadable: string };

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Why bytes are not a core WebAssembly module, or null. Only the header: the sandbox validates the rest. */
function wasmHeaderProblem(bytes: Uint8Array): string | null {
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) return 'not a WebAssembly module (bad magic)';
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) return 'a WebAssembly component, not a core module: only WASI preview 1 modules run here';
  if (version !== 1 || layer !== 0) return `unsupported WebAssembly version ${version} (only 1)`;
  return null;
}

/**
 * Finishes a plan with the bytes of its files (absolute path → bytes; a path not in the map was
 * not found). Throws JobSpecError naming each file that is missing, unreadable or wrong.
 */
export function resolveJobSpec(plan: JobPlan, files: ReadonlyMap<string, FileContent>): JobSpec {
  const { job, program, stdin, inputs, env, attributes, deadline, warnings, positions } = plan.parts;
  const problems: SpecProblem[] = [];
  const report = (field: string, message: string) => {
    const at = positions.get(field);
    problems.push({ field, message, ...(at ?? {}) });
  };
  const content = (r: Ref): ContentRef | null => {
    if ('cid' in r) return { cid: r.cid, size: r.size ?? 0, source: null, bytes: null };
    const got = files.get(r.absolute);
    if (got === undefined) {
      report(r.field, `file ${r.given} not found`);
      return null;
    }
    if (!(got instanceof Uint8Array)) {
      report(r.field, `cannot read ${r.given}: ${got.unreadable}`);
      return null;
    }
    return { cid: cidOf(got), size: got.length, source: r.absolute, bytes: got };
  };

  let programRef: ProgramRef | null = null;
  if ('cid' in program) programRef = { cid: program.cid, size: program.size, source: null, bytes: null };
  else {
    const c = content(program);
    if (c) {
      const header = wasmHeaderProblem(c.bytes!);
      if (header) report('program', `${program.given}: ${header}`);
      else if (c.size > JOB_LIMITS.maxProgramBytes)
        report('program', `${program.given} is ${formatBytes(c.size)}; programs are at most ${formatBytes(JOB_LIMITS.maxProgramBytes)}`);
      else programRef = c;
    }
  }
  const stdinRef = stdin ? content(stdin) : null;
  const inputRefs: JobInput[] = [];
  for (const r of inputs) {
    const c = content(r);
    if (c) inputRefs.push({ name: r.name, ...c });
  }
  const distinct = new Map<string, number>();
  for (const c of [stdinRef, ...inputRefs]) if (c) distinct.set(c.cid, c.size);
  const inputBytes = [...distinct.values()].reduce((a, b) => a + b, 0);
  if (inputBytes > JOB_LIMITS.maxInputBytes)
    report(
      inputs.length ? 'inputs' : 'stdin',
      `stdin and inputs total ${formatBytes(inputBytes)}; at most ${formatBytes(JOB_LIMITS.maxInputBytes)}`,
    );

  const values = job.tasks?.values ?? ['0'];
  const templates = job.args ?? [];
  const usesPlaceholder = templates.map((a) => a.includes('{task}') || a.includes('{index}'));
  const tasks: JobTask[] = new Array(values.length);
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    const args = templates.map((a, i) =>
      usesPlaceholder[i] ? a.replace(PLACEHOLDER, (_, name: string) => (name === 'task' ? value : String(index))) : a,
    );
    tasks[index] = { index, value, args };
  }
  templates.forEach((_, i) => {
    if (!usesPlaceholder[i]) return;
    const longest = tasks.reduce((m, t) => Math.max(m, Buffer.byteLength(t.args[i]!, 'utf8')), 0);
    if (longest > JOB_LIMITS.maxArgBytes)
      report(`args[${i}]`, `is ${longest} bytes once {task} is substituted; at most ${JOB_LIMITS.maxArgBytes}`);
  });

  if (problems.length || !programRef) throw new JobSpecError(sortProblems(problems), plan.fileName);

  const fuel = job.resources.fuel;
  const verification = {
    spotCheck: job.verification?.spotCheck ?? DEFAULTS.spotCheck,
    redundancy: job.verification?.redundancy ?? DEFAULTS.redundancy,
  };
  const cost = jobCost({ tasks: tasks.length, fuel, maxPrice: job.maxPrice, ...verification });
  return {
    version: JOB_VERSION,
    program: programRef,
    args: templates,
    env,
    stdin: stdinRef,
    inputs: inputRefs,
    inputBytes,
    taskForm: job.tasks?.form ?? 'single',
    tasks,
    resources: {
      memoryBytes: job.resources.memory ?? DEFAULTS.memoryBytes,
      fuel,
      outputBytes: job.resources.output ?? DEFAULTS.outputBytes,
    },
    attributes,
    deadline,
    maxPrice: job.maxPrice,
    verification,
    allow: { clock: job.allow?.clock ?? false, random: job.allow?.random ?? false },
    cost,
    maxCost: cost.maxCost,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Both steps

/** Reads a file by absolute path: its bytes, or undefined if it does not exist. Other failures throw. */
export type ReadFile = (absolutePath: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

/** planJobSpec, then the plan's files through readFile, then resolveJobSpec. */
export async function loadJobSpec(text: string, options: PlanOptions & { readFile: ReadFile }): Promise<JobSpec> {
  const plan = planJobSpec(text, options);
  const files = new Map<string, FileContent>();
  for (const p of plan.paths) {
    try {
      const bytes = await options.readFile(p);
      if (bytes !== undefined) files.set(p, bytes);
    } catch (err) {
      files.set(p, { unreadable: (err as Error).message });
    }
  }
  return resolveJobSpec(plan, files);
}
