// The storage layer on both engines: PGlite (the embedded default) and PostgreSQL (DATABASE_URL),
// with the same migrations and the same results. Then one rewarded epoch, verified, on PostgreSQL.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestnet } from '@groundwork/sim';
import { DatabaseConfigError, migrate, openDatabase, openPostgres, type Database } from '../src/index.ts';
import { freshPostgres, type FreshDatabase } from './postgres.ts';

const pgSetup = await freshPostgres();
const pgSkip = typeof pgSetup === 'string' ? pgSetup : false;
const pgDb = typeof pgSetup === 'string' ? null : pgSetup;
after(async () => pgDb?.drop());

const engines: { name: string; skip: string | false; open: () => Promise<Database> }[] = [
  { name: 'PGlite', skip: false, open: () => openDatabase({}) },
  { name: 'PostgreSQL', skip: pgSkip, open: () => openDatabase({ databaseUrl: (pgDb as FreshDatabase).url }) },
];

for (const engine of engines) {
  describe(`storage on ${engine.name}`, { skip: engine.skip }, () => {
    let db: Database;
    before(async () => {
      db = await engine.open();
    });
    after(async () => db?.close());

    test('migrations are recorded and applying them again does nothing', async () => {
      const rows = await db.query<{ version: string }>('select version from schema_migrations order by version');
      const files = readdirSync(new URL('../migrations/', import.meta.url))
        .filter((f) => f.endsWith('.sql'))
        .sort();
      assert.ok(files.length >= 3);
      assert.deepEqual(
        rows.map((r) => r.version),
        files,
      );
      assert.deepEqual(await migrate(db), []);
    });

    test('amounts and millisecond times come back exact, as text', async () => {
      const big = (2n ** 255n + 12345n).toString();
      await db.query('insert into epochs (epoch, state, total, updated_at) values ($1, $2, $3, $4)', [7, 'scored', big, Date.now()]);
      const [row] = await db.query('select total, updated_at from epochs where epoch = 7');
      assert.equal(row!.total, big);
      assert.equal(typeof row!.updated_at, 'string');
      assert.ok(Number(row!.updated_at) > 1.7e12);
    });

    test('a failed transaction leaves nothing behind', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("insert into oracle_state (key, value) values ('a', '1')");
          await tx.query('insert into no_such_table values (1)');
        }),
      );
      assert.equal((await db.query("select * from oracle_state where key = 'a'")).length, 0);
    });

    test('a duplicate report digest is ignored, not doubled', async () => {
      const insert = () =>
        db.query(
          "insert into reports (digest, network, device, epoch, type, report, received_at) values ('0xaa', 'uptime', '0xbb', 1, 'uptime.answer', '{}', 1) on conflict (digest) do nothing returning digest",
        );
      assert.equal((await insert()).length, 1);
      assert.equal((await insert()).length, 0);
      assert.equal((await db.query("select count(*)::int as n from reports where digest = '0xaa'"))[0]!.n, 1);
    });
  });
}

describe('PostgreSQL configuration errors', () => {
  test('a bad DATABASE_URL is named', async () => {
    await assert.rejects(
      openPostgres('mysql://x@localhost/db'),
      (err: Error) => err instanceof DatabaseConfigError && /postgres:\/\//.test(err.message),
    );
    await assert.rejects(openPostgres('not a url'), /not a URL/);
    await assert.rejects(openPostgres('postgres://nobody@127.0.0.1:1/none'), /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/none/);
  });
});

describe('a rewarded epoch on PostgreSQL', { skip: pgSkip }, () => {
  test('the oracle closes, posts and verifies an epoch with PostgreSQL storage', async () => {
    const second = await freshPostgres();
    assert.ok(typeof second !== 'string');
    const net = await startTestnet({ devices: 2, epochSeconds: 6, databaseUrl: second.url });
    try {
      assert.equal(net.oracle!.db.kind, 'postgres');
      const epoch = net.firstFullEpoch;
      await net.waitForEpoch(epoch, 60_000);
      const v = await net.verify(epoch);
      assert.equal(v.pass, true, JSON.stringify(v.checks.filter((c) => !c.ok)));
      assert.ok(v.root);
    } finally {
      await net.stop();
      await second.drop();
    }
  });
});
