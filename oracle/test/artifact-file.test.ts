// The closer's artifact writer (src/artifact-file.ts), on one thread and on two (the inputs
// encoded by a worker from shared tables while this thread computes), writes the golden
// artifacts byte for byte, with their sha256 and size; a failing computation leaves no file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import uptimeNetwork from '@groundwork/network-uptime';
import { computeEpochTables, type EpochArtifact, tablesFromInputs } from '@groundwork/protocol';
import { writeArtifactFile } from '../src/artifact-file.ts';

const plugins = { uptime: uptimeNetwork };
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'protocol', 'test', 'fixtures', 'artifacts');
const dir = mkdtempSync(path.join(tmpdir(), 'gw-artifact-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('writeArtifactFile', () => {
  for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
    for (const parallel of [false, true]) {
      test(`${name}, ${parallel ? 'two threads' : 'one thread'}: the golden bytes, their sha256 and size`, () => {
        const golden = readFileSync(path.join(FIXTURES, name));
        const tables = tablesFromInputs((JSON.parse(golden.toString('utf8')) as EpochArtifact).inputs, plugins);
        const file = path.join(dir, `${parallel}-${name}`);
        // A small in-flight limit makes the encoder wait for the writer thread many times.
        const out = writeArtifactFile(file, tables, () => computeEpochTables(tables, plugins), { parallel, maxInFlight: 4096 });
        const written = readFileSync(file);
        assert.ok(written.equals(golden), 'same bytes');
        assert.equal(out.size, golden.length);
        assert.equal(out.hash, `0x${createHash('sha256').update(golden).digest('hex')}`);
        assert.equal(out.outcome.root, (JSON.parse(golden.toString('utf8')) as EpochArtifact).result.root);
      });
    }
  }

  for (const parallel of [false, true]) {
    test(`${parallel ? 'two threads' : 'one thread'}: when the computation throws, the error comes back and no file is left`, () => {
      const golden = readFileSync(path.join(FIXTURES, 'mixed-9.json'));
      const tables = tablesFromInputs((JSON.parse(golden.toString('utf8')) as EpochArtifact).inputs, plugins);
      const file = path.join(dir, `failing-${parallel}.json`);
      assert.throws(
        () =>
          writeArtifactFile(
            file,
            tables,
            () => {
              throw new Error('the verifier broke');
            },
            { parallel },
          ),
        /the verifier broke/,
      );
      assert.equal(existsSync(file), false);
    });
  }
});
