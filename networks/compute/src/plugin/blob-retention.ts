// Which stored blobs the service may delete, and whether a new one fits: pure, so the rule is
// tested apart from the database. Blobs are modules, inputs and task outputs, uploaded by anyone
// (a consumer before its job, a provider before its result), so the store is bounded twice: in
// bytes (a PUT past `maxStoredBytes` is refused with 507, nothing stored) and in time (a blob
// older than `retentionMs` is deleted unless a job still running names it, or a task of one
// produced it). A consumer downloads its results within the retention (Golem, too, keeps results
// only until the requestor has fetched them).

export type StoredBlob = { cid: string; bytes: number; storedAt: number };

/** The CIDs of `blobs` to delete at `now`: past retention and not in `inUse`. */
export function expiredBlobs(blobs: readonly StoredBlob[], inUse: ReadonlySet<string>, now: number, retentionMs: number): string[] {
  return blobs.filter((b) => now - b.storedAt > retentionMs && !inUse.has(b.cid)).map((b) => b.cid);
}

/** Null when `size` more bytes fit in a store holding `stored` of at most `max`, else why not. */
export function refuseOverCap(stored: number, size: number, max: number): string | null {
  if (stored + size <= max) return null;
  return `the blob store holds ${stored} of its ${max} bytes; ${size} more do not fit (blobs older than the retention are deleted unless a running job uses them)`;
}
