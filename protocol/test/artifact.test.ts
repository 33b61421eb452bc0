// The epoch artifact as a stream. The golden artifacts in ./fixtures/artifacts were written by the
// object encoder (canonicalJson over the whole document) before the streaming one existed: the
// streaming writer must reproduce them byte for byte at any chunk size, and the streaming reader
// must read them back, chunk boundaries anywhere, into tables that recompute to the same bytes.
// Then malformed and hostile artifacts: each is an ArtifactError naming where it is wrong, or a
// difference that the byte comparison names; never a crash, never "equal".
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import uptimeNetwork from '@groundwork/network-uptime';
import { compareArtifact } from '../src/artifact-compare.ts';
import { ArtifactError, readArtifact } from '../src/artifact-reader.ts';
import {
  computeEpoch,
  computeEpochTables,
  type EpochArtifact,
  encodeArtifact,
  tablesFromInputs,
  writeArtifact,
} from '../src/epoch-close.ts';
import { JsonWriter } from '../src/json-writer.ts';
import { seededUnit } from '../src/random.ts';

const plugins = { uptime: uptimeNetwork };
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'artifacts');
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const fixture = (name: string) => readFileSync(path.join(DIR, name));
const sha256 = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`;

/** The bytes in pieces of `size` (the last one shorter), as a stream would bring them. */
async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(bytes.length, at + size));
}

/** Streams the artifact written from `inputs` (tables) with `outcome` into one buffer, in chunks of `chunkBytes`. */
function streamed(artifact: EpochArtifact, chunkBytes: number): Buffer {
  const tables = tablesFromInputs(artifact.inputs, plugins);
  const outcome = computeEpochTables(tables, plugins);
  const chunks: Buffer[] = [];
  const w = new JsonWriter((c) => chunks.push(Buffer.from(c)), chunkBytes);
  writeArtifact(w, tables, outcome);
  return Buffer.concat(chunks);
}

/** What `epoch verify` does with bytes, short of the chain: read, recompute, compare. */
async function check(bytes: Uint8Array, piece = 4096) {
  const read = await readArtifact(pieces(bytes, piece), plugins);
  const outcome = computeEpochTables(read.tables, plugins, { checkSignatures: true });
  const cmp = compareArtifact(
    (offset, length) => bytes.subarray(offset, offset + length),
    read.size,
    read.resultOffset,
    read.tables,
    outcome,
  );
  return { read, cmp };
}

async function artifactError(bytes: Uint8Array): Promise<string> {
  try {
    await readArtifact(pieces(bytes, 1000), plugins);
  } catch (err) {
    assert.ok(err instanceof ArtifactError, `an ArtifactError, not ${(err as Error).name}: ${(err as Error).message}`);
    assert.ok((err as Error).message.length > 0);
    return (err as Error).message;
  }
  assert.fail('the artifact was read as if it were well formed');
}

describe('golden artifacts: the streaming path writes and reads the object encoder’s bytes', () => {
  for (const name of FIXTURES) {
    test(`${name}: written at 4 KiB and 1 MiB chunks, and by encodeArtifact, byte for byte`, () => {
      const bytes = fixture(name);
      const artifact = JSON.parse(bytes.toString('utf8')) as EpochArtifact;
      for (const chunk of [4096, 1 << 20]) assert.ok(streamed(artifact, chunk).equals(bytes), `${chunk}-byte chunks`);
      // The object interface, recomputed from the inputs alone, agrees too.
      const { result } = computeEpoch(artifact.inputs, plugins);
      const again = encodeArtifact({ inputs: artifact.inputs, result });
      assert.ok(Buffer.from(again.bytes).equals(bytes));
      assert.equal(again.hash, sha256(bytes));
    });

    test(`${name}: read back in 1, 7 and 4096-byte pieces, it recomputes to its own bytes`, async () => {
      const bytes = fixture(name);
      for (const piece of [1, 7, 4096]) {
        if (piece === 1 && bytes.length > 40_000) continue; // byte by byte only for the small ones
        const { read, cmp } = await check(bytes, piece);
        assert.equal(read.hash, sha256(bytes));
        assert.equal(read.size, bytes.length);
        assert.deepEqual(cmp.inputs, { equal: true, differences: [] });
        assert.deepEqual(cmp.result, { equal: true, differences: [] });
        assert.equal(read.result.root, (JSON.parse(bytes.toString('utf8')) as EpochArtifact).result.root);
      }
    });
  }
});

describe('malformed artifacts are refused with the place that is wrong', () => {
  const bytes = fixture('mixed-9.json');
  const text = bytes.toString('utf8');
  const artifact = () => JSON.parse(text) as EpochArtifact;
  const bytesOf = (s: string) => Buffer.from(s, 'utf8');

  test('cut off anywhere (20 seeded places, the first and last byte too): an error, never a result', async () => {
    const random = seededUnit(9);
    const cuts = [0, 1, bytes.length - 1, ...Array.from({ length: 17 }, () => Math.floor(random() * bytes.length))];
    for (const cut of cuts) {
      const message = await artifactError(bytes.subarray(0, cut));
      assert.match(message, /end|cut|incomplete|empty|unexpected|expected/i, `cut at ${cut}: ${message}`);
    }
  });

  test('an extra field, in the envelope, in a section or in a row, is named', async () => {
    assert.match(await artifactError(bytesOf(`${text.slice(0, -1)},"extra":1}`)), /extra/);
    assert.match(await artifactError(bytesOf(text.replace('"inputs":{', '"inputs":{"aaa":1,'))), /inputs.*aaa|aaa.*inputs/s);
    const device = await artifactError(bytesOf(text.replace('"devices":[{', '"devices":[{"backdoor":true,')));
    assert.match(device, /inputs\.networks\[0\]\.devices\[0\]/);
    assert.match(device, /backdoor/);
    // The result's rows are not needed to recompute, so the reader passes over them (a visitor
    // gets them schema-checked); the byte comparison with the recomputed result names the row.
    const bonus = bytesOf(text.replace('"owners":[{', '"owners":[{"bonus":"1",'));
    await assert.rejects(
      readArtifact(pieces(bonus, 1000), plugins, { resultRows: () => {} }),
      (err: Error) => err instanceof ArtifactError && /result\.owners\[0\]/.test(err.message) && /bonus/.test(err.message),
    );
    const { cmp } = await check(bonus);
    assert.equal(cmp.result.equal, false);
    assert.match(cmp.result.differences.join('\n'), /result\.owners\[0\]/);
  });

  test('a wrong type or value is named by its path', async () => {
    const a = artifact();
    a.inputs.epoch = '1' as unknown as number;
    assert.match(await artifactError(bytesOf(JSON.stringify(a))), /inputs\.epoch/);
    const b = artifact();
    (b.inputs.networks[0]!.devices[1] as { stake: unknown }).stake = 2;
    assert.match(await artifactError(bytesOf(JSON.stringify(b))), /inputs\.networks\[0\]\.devices\[1\]/);
    const c = artifact();
    (c.inputs.networks[0]!.reports[0] as { receivedAt: unknown }).receivedAt = 'soon';
    assert.match(await artifactError(bytesOf(JSON.stringify(c))), /inputs\.networks\[0\]\.reports\[0\]/);
    const d = artifact();
    (d.inputs.networks[0]!.oracleInputs[0] as { nonce: unknown }).nonce = 'not hex';
    assert.match(await artifactError(bytesOf(JSON.stringify(d))), /inputs\.networks\[0\]\.oracleInputs\[0\]/);
    const e = artifact();
    (e.result as { total: unknown }).total = '-5';
    assert.match(await artifactError(bytesOf(JSON.stringify(e))), /result\.total/);
    const f = artifact();
    (f.inputs as { format: string }).format = 'groundwork/epoch-artifact@2';
    assert.match(await artifactError(bytesOf(JSON.stringify(f))), /inputs\.format/);
    const g = artifact();
    g.inputs.networks[0]!.kind = 'teleport';
    assert.match(await artifactError(bytesOf(JSON.stringify(g))), /teleport/);
  });

  test('not an artifact at all: empty, garbage, other JSON, a million open brackets', async () => {
    for (const junk of ['', ' ', 'null', '[]', '"x"', '{}', '{"inputs":', '\u0000\u0001\u0002', 'x'.repeat(100), '['.repeat(1_000_000)]) {
      await artifactError(bytesOf(junk));
    }
    const random = seededUnit(3);
    await artifactError(Uint8Array.from({ length: 10_000 }, () => Math.floor(random() * 256)));
  });

  test('reordered keys, a duplicate key, a space: it parses, but its inputs are not canonical, and where is said', async () => {
    // Keys of the first device swapped: same content, other bytes.
    const swapped = text.replace(/\{"device":("0x[0-9a-f]{64}"),"keyX":("0x[0-9a-f]{64}")/, '{"keyX":$2,"device":$1');
    assert.notEqual(swapped, text);
    for (const variant of [
      swapped,
      text.replace('"devices":[{"device":', '"devices":[{"device":"0x00","device":'),
      text.replace('"epoch":1,', '"epoch": 1,'),
    ]) {
      const { cmp } = await check(bytesOf(variant));
      assert.equal(cmp.inputs.equal, false, variant.slice(0, 80));
      assert.match(cmp.inputs.differences.join('\n'), /inputs/);
    }
    const { cmp } = await check(bytesOf(swapped));
    assert.match(cmp.inputs.differences.join('\n'), /inputs\.networks\[0\]\.devices\[0\]/);
  });

  test('the envelope’s keys in the wrong order: refused or not canonical, never equal', async () => {
    const a = artifact();
    const reordered = bytesOf(`{"result":${JSON.stringify(a.result)},"inputs":${JSON.stringify(a.inputs)}}`);
    try {
      const { cmp } = await check(reordered);
      assert.equal(cmp.inputs.equal && cmp.result.equal, false);
    } catch (err) {
      assert.ok(err instanceof ArtifactError, (err as Error).message);
    }
  });

  test('rows in another order: another artifact (another hash), whose result no longer matches', async () => {
    const a = artifact();
    const devices = a.inputs.networks[0]!.devices;
    [devices[0], devices[1]] = [devices[1]!, devices[0]!];
    const moved = encodeArtifact(a).bytes; // canonical bytes of the reordered document
    const { read, cmp } = await check(moved);
    assert.notEqual(read.hash, sha256(bytes));
    assert.equal(cmp.inputs.equal, true);
    assert.equal(cmp.result.equal, false);
    assert.match(cmp.result.differences.join('\n'), /result\.networks\[0\]\.scores\[0\]/);
  });

  test('a result that is not what the inputs give: the difference is named with both values', async () => {
    const a = artifact();
    const owner = a.result.owners[1]!;
    const was = owner.amount;
    owner.amount = (BigInt(was) + 1n).toString();
    const { cmp } = await check(encodeArtifact(a).bytes);
    assert.equal(cmp.inputs.equal, true);
    assert.equal(cmp.result.equal, false);
    const said = cmp.result.differences.join('\n');
    assert.match(said, /result\.owners\[1\]/);
    assert.ok(said.includes(was) && said.includes(owner.amount), said);
  });

  test('a duplicate device in the inputs is an input error naming it, not a crash', async () => {
    const a = artifact();
    const devices = a.inputs.networks[0]!.devices;
    devices.push({ ...devices[0]! });
    const read = await readArtifact(pieces(encodeArtifact(a).bytes, 4096), plugins);
    assert.throws(() => computeEpochTables(read.tables, plugins), new RegExp(devices[0]!.device));
  });
});

describe('JsonWriter', () => {
  test('chunks as requested, every byte once, in order; handOver chunks are the sink’s to keep', () => {
    for (const handOver of [false, true]) {
      const chunks: Uint8Array[] = [];
      const w = new JsonWriter((c) => chunks.push(handOver ? c : Uint8Array.from(c)), 4096, handOver);
      let expected = '';
      for (let i = 0; i < 5000; i++) {
        const piece = `{"i":${i},"s":${JSON.stringify(`é${i}"\\\n`)}},`;
        expected += piece;
        w.raw(`{"i":${i},"s":`);
        w.string(`é${i}"\\\n`);
        w.raw('},');
      }
      w.raw('x'.repeat(10_000)); // longer than a chunk
      expected += 'x'.repeat(10_000);
      w.flush();
      assert.ok(chunks.every((c) => c.length <= 10_000 + 4096));
      assert.equal(Buffer.concat(chunks).toString('utf8'), expected);
      assert.equal(w.offset, Buffer.byteLength(expected));
    }
  });

  test('int writes every safe integer as String(n) does: each digit count, both halves, chunk edges', () => {
    const values = [0, 1, 9, 10, 99, 100, 1e7 - 1, 1e7, 1e8 - 1, 1e8, 1e8 + 1, 1e9, 1e15 + 7, 1_760_000_400_123, Number.MAX_SAFE_INTEGER];
    for (let d = 1; d <= 16; d++) values.push(10 ** (d - 1), 10 ** d - 1, 5 * 10 ** (d - 1) + 3);
    const random = seededUnit(8);
    for (let i = 0; i < 20_000; i++) values.push(Math.floor(random() * 10 ** (1 + Math.floor(random() * 16))));
    const chunks: Uint8Array[] = [];
    const w = new JsonWriter((c) => chunks.push(Uint8Array.from(c)), 64); // small chunks: numbers land on every edge
    for (const v of values) {
      w.int(v);
      w.raw(',');
    }
    w.int(-42); // not a safe non-negative integer: written as String(n) writes it
    w.flush();
    assert.equal(Buffer.concat(chunks).toString('latin1'), `${values.join(',')},-42`);
  });
});
