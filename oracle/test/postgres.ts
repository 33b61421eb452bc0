// A fresh PostgreSQL database per test run, dropped afterwards. Tests that need one are skipped
// (visibly) where no server answers, unless GROUNDWORK_REQUIRE_POSTGRES=1 (CI sets it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.GROUNDWORK_TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

export type FreshDatabase = { url: string; drop(): Promise<void> };

/** Creates a database; returns the reason instead when PostgreSQL cannot be reached (and is not required). */
export async function freshPostgres(): Promise<FreshDatabase | string> {
  try {
    return await scratchDatabase(ADMIN_URL, 'groundwork_test');
  } catch (err) {
    const reason = `no PostgreSQL at ${ADMIN_URL}: ${(err as Error).message}`;
    if (process.env.GROUNDWORK_REQUIRE_POSTGRES === '1') throw new Error(`${reason} (GROUNDWORK_REQUIRE_POSTGRES=1)`);
    return reason;
  }
}

/** A new, uniquely named database on the server at `adminUrl` (tests and benchmarks); drop() removes it. */
export async function scratchDatabase(adminUrl: string, prefix: string): Promise<FreshDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
