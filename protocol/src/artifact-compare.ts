// Compares an artifact's bytes with what the epoch's tables and recomputed outcome encode to,
// section by section, without holding either document: the recomputed bytes are produced chunk
// by chunk and checked against the artifact read at the same offsets. `inputs` equal means the
// artifact's inputs are in canonical form (what was parsed is exactly what is there); `result`
// equal means the artifact's result is exactly the recomputed one. A difference is named by the
// path of the element it falls in and, where both sides parse, the fields that differ.
import { diffResults, type EpochOutcome, type EpochTables, writeInputs, writeResult } from './epoch-close.ts';
import { formatPath } from './json-splitter.ts';
import { JsonWriter } from './json-writer.ts';

/** Reads `length` bytes of the artifact at `offset` (fewer at its end). */
export type ReadAt = (offset: number, length: number) => Uint8Array;

export type SectionComparison = { equal: boolean; differences: string[] };
export type ArtifactComparison = { inputs: SectionComparison; result: SectionComparison };

const PREFIX = Buffer.from('{"inputs":');
const MIDDLE = Buffer.from(',"result":');
const SUFFIX = Buffer.from('}');
const EXCERPT = 64 * 1024;

class Mismatch extends Error {
  constructor(readonly at: number) {
    super(`differs at ${at}`);
  }
}

/** Writes a section with `write`, checking each chunk against the artifact from `start`; returns its length or the first differing offset. */
function compareSection(readAt: ReadAt, start: number, write: (w: JsonWriter) => void): { length: number; diffAt: number | null } {
  let at = start;
  const w = new JsonWriter((chunk) => {
    const theirs = readAt(at, chunk.length);
    const n = Math.min(theirs.length, chunk.length);
    for (let i = 0; i < n; i++) if (theirs[i] !== chunk[i]) throw new Mismatch(at + i);
    if (n < chunk.length) throw new Mismatch(at + n);
    at += chunk.length;
  });
  try {
    write(w);
    w.flush();
  } catch (err) {
    if (err instanceof Mismatch) return { length: -1, diffAt: err.at };
    throw err;
  }
  return { length: at - start, diffAt: null };
}

/** The first JSON value in `bytes` (an object, array, string or scalar), parsed; undefined if there is none whole. */
function firstValue(bytes: Uint8Array): unknown {
  let depth = 0;
  let inString = false;
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  const start = i;
  for (; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) {
        inString = false;
        if (depth === 0) return parse(bytes, start, i + 1);
      }
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return parse(bytes, start, i + 1);
      if (depth < 0) return parse(bytes, start, i);
    } else if (depth === 0 && c === 0x2c) return parse(bytes, start, i);
  }
  return undefined;
}

function parse(bytes: Uint8Array, from: number, to: number): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.subarray(from, to)).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Sections up to this size are compared whole, field by field (every difference, not only the first). */
const WHOLE_SECTION_BYTES = 16 << 20;

/** Names what differs at `diffAt` (an artifact offset) in the section written by `write` from `start`, which ends at `end`. */
function explain(readAt: ReadAt, start: number, end: number, diffAt: number, root: string, write: (w: JsonWriter) => void): string[] {
  if (end - start <= WHOLE_SECTION_BYTES) {
    const ours: Uint8Array[] = [];
    const all = new JsonWriter((chunk) => ours.push(Uint8Array.from(chunk)));
    write(all);
    all.flush();
    const recomputed = parse(Buffer.concat(ours), 0, Buffer.concat(ours).length);
    const artifact = firstValue(readAt(start, end - start));
    if (recomputed !== undefined && artifact !== undefined) {
      const diffs = diffResults(artifact, recomputed, root);
      if (diffs.length) return diffs;
    }
  }
  const w = new JsonWriter(() => {});
  w.locate(diffAt - start);
  write(w);
  w.flush();
  const located = w.located ?? { path: [], start: 0 };
  const path = formatPath([root, ...located.path]);
  const elementStart = start + located.start;
  // Our bytes of the element: the section again, kept from the element's start.
  const ours: Uint8Array[] = [];
  let at = start;
  const keep = new JsonWriter((chunk) => {
    const from = Math.max(elementStart - at, 0);
    const to = Math.min(chunk.length, elementStart + EXCERPT - at);
    if (to > from) ours.push(Uint8Array.from(chunk.subarray(from, to)));
    at += chunk.length;
  }, 64 * 1024);
  write(keep);
  keep.flush();
  const recomputed = firstValue(Buffer.concat(ours));
  const artifact = firstValue(readAt(elementStart, EXCERPT));
  if (artifact === undefined || recomputed === undefined)
    return [`${path}: the artifact differs from the recomputed bytes at byte ${diffAt}`];
  const diffs = diffResults(artifact, recomputed, path);
  return diffs.length ? diffs : [`${path}: the same content, but not in canonical form (byte ${diffAt})`];
}

/**
 * Compares an artifact of `size` bytes whose `result` starts at `resultOffset` with the encoding
 * of `tables` and `outcome`.
 */
export function compareArtifact(
  readAt: ReadAt,
  size: number,
  resultOffset: number,
  tables: EpochTables,
  outcome: EpochOutcome,
): ArtifactComparison {
  const same = (offset: number, expected: Uint8Array) => Buffer.from(readAt(offset, expected.length)).equals(expected);
  const writeIn = (w: JsonWriter) => writeInputs(w, tables);
  const writeOut = (w: JsonWriter) => writeResult(w, tables, outcome);

  const inputs: SectionComparison = { equal: true, differences: [] };
  if (!same(0, PREFIX)) inputs.differences.push('the artifact does not start with {"inputs": (not the canonical form)');
  else {
    const c = compareSection(readAt, PREFIX.length, writeIn);
    const inputsEnd = resultOffset >= 0 ? resultOffset - MIDDLE.length : size;
    if (c.diffAt !== null) inputs.differences.push(...explain(readAt, PREFIX.length, inputsEnd, c.diffAt, 'inputs', writeIn));
    else if (PREFIX.length + c.length !== resultOffset - MIDDLE.length || !same(PREFIX.length + c.length, MIDDLE))
      inputs.differences.push('inputs: more follows the canonical inputs before "result" (not the canonical form)');
  }

  const result: SectionComparison = { equal: true, differences: [] };
  if (resultOffset < 0) result.differences.push('the artifact has no result');
  else {
    const c = compareSection(readAt, resultOffset, writeOut);
    if (c.diffAt !== null) result.differences.push(...explain(readAt, resultOffset, size - SUFFIX.length, c.diffAt, 'result', writeOut));
    else if (resultOffset + c.length + SUFFIX.length !== size || !same(resultOffset + c.length, SUFFIX))
      result.differences.push('result: more follows the recomputed result (not the canonical form)');
  }
  inputs.equal = inputs.differences.length === 0;
  result.equal = result.differences.length === 0;
  return { inputs, result };
}
