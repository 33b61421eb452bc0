// The gateway's catalog: buckets, the objects in them (each the deal that stores its bytes, with
// the file key, which stays on the consumer's side, here) and multipart uploads in progress. One
// JSON file, rewritten whole through a temp file and a rename, so a crash leaves the old catalog
// or the new one, never half of either.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Hex } from 'viem';

export type ObjectEntry = {
  size: number;
  etag: string;
  lastModified: string;
  contentType: string;
  metadata: Record<string, string>;
  dealId: Hex;
  cid: string;
  fileKey: Hex | null;
  /** The CRC32 the client sent, base64 (returned on HEAD and GET). */
  crc32: string | null;
};
export type PartEntry = { etag: string; size: number; file: string; crc32: string | null };
export type UploadEntry = { bucket: string; key: string; initiated: string; contentType: string; parts: Record<string, PartEntry> };
export type CatalogData = {
  buckets: Record<string, { created: string; objects: Record<string, ObjectEntry> }>;
  uploads: Record<string, UploadEntry>;
};

export class Catalog {
  data: CatalogData;
  constructor(readonly file: string) {
    try {
      this.data = JSON.parse(readFileSync(file, 'utf8')) as CatalogData;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`the gateway catalog ${file} is not readable JSON: ${(err as Error).message}`);
      this.data = { buckets: {}, uploads: {} };
    }
  }

  save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }

  /** Deals still named by some object (a copy shares its source's deal). */
  dealInUse(dealId: string): boolean {
    return Object.values(this.data.buckets).some((b) => Object.values(b.objects).some((o) => o.dealId === dealId));
  }
}
