// One small interface over PGlite (embedded, the default) and PostgreSQL (DATABASE_URL), so the
// oracle runs the same SQL and the same migrations on both. int8 and numeric come back as text on
// both, so amounts and millisecond times never pass through a float.
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// biome-ignore lint/suspicious/noExplicitAny: a row's columns are whatever its SQL selected
export type Row = Record<string, any>;

export type Queryable = {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
};

export type Database = Queryable & {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: all of its writes land, or none. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

export class DatabaseConfigError extends Error {
  override name = 'DatabaseConfigError';
}

const INT8 = 20;
const NUMERIC = 1700;

/** PGlite in `dataDir` (created if missing), or in memory when `dataDir` is undefined. */
export async function openPglite(dataDir?: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const asText = (v: string) => v;
  const db = await PGlite.create(dataDir ?? 'memory://', { parsers: { [INT8]: asText, [NUMERIC]: asText } });
  const run = async <T extends Row>(q: { query: typeof db.query }, sql: string, params?: readonly unknown[]) =>
    (await q.query<T>(sql, params as unknown[] | undefined)).rows;
  return {
    kind: 'pglite',
    query: (sql, params) => run(db, sql, params),
    transaction: (fn) => db.transaction((tx) => fn({ query: (sql, params) => run(tx as never, sql, params) })),
    close: () => db.close(),
  };
}

/** PostgreSQL through a pg connection pool. */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Database> {
  const pg = (await import('pg')).default;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseConfigError(`DATABASE_URL is not a URL: ${JSON.stringify(url)}`);
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol))
    throw new DatabaseConfigError(`DATABASE_URL must start with postgres://, got ${parsed.protocol}//`);
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === INT8 || oid === NUMERIC ? (v: string) => v : pg.types.getTypeParser(oid, format),
  };
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 8, types: types as never });
  pool.on('error', () => {}); // an idle client's error surfaces on its next query
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end();
    throw new DatabaseConfigError(`cannot connect to PostgreSQL at ${parsed.host}${parsed.pathname}: ${(err as Error).message}`);
  }
  return {
    kind: 'postgres',
    query: async (sql, params) => (await pool.query(sql, params as unknown[] | undefined)).rows,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const out = await fn({ query: async (sql, params) => (await client.query(sql, params as unknown[] | undefined)).rows });
        await client.query('commit');
        return out;
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/** `DATABASE_URL` if given, else PGlite under `dataDir`. Migrations are applied either way. */
export async function openDatabase(opts: { databaseUrl?: string; dataDir?: string }): Promise<Database> {
  const db = opts.databaseUrl ? await openPostgres(opts.databaseUrl) : await openPglite(opts.dataDir);
  await migrate(db);
  return db;
}

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** Applies every migration not yet applied, each in its own transaction, in file-name order. */
export async function migrate(db: Database): Promise<string[]> {
  await db.query('create table if not exists schema_migrations (version text primary key, applied_at bigint not null)');
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const applied: string[] = [];
  for (const file of files) {
    await db.transaction(async (tx) => {
      // Serialises concurrent oracles on one PostgreSQL; PGlite has one connection anyway.
      if (db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock(7423001)');
      const done = await tx.query('select 1 from schema_migrations where version = $1', [file]);
      if (done.length) return;
      for (const statement of splitStatements(readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8'))) await tx.query(statement);
      await tx.query('insert into schema_migrations (version, applied_at) values ($1, $2)', [file, Date.now()]);
      applied.push(file);
    });
  }
  return applied;
}

function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}
