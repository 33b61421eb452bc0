// `groundwork storage gateway`: an S3-compatible endpoint over the storage network, for the AWS
// SDKs and the S3 command-line tools. Every object is a file stored as a deal (the StorageClient's
// put: encrypted, erasure-coded, proven every epoch); the gateway keeps the catalog (buckets,
// keys, ETags, the deal and file key of each object) on the consumer's side. Requests are checked
// with SigV4 against the gateway's access keys; path-style (/bucket/key) and virtual-hosted-style
// (bucket.<host>) addressing both work. Bodies may come aws-chunked with a trailing checksum, as
// current SDKs send them by default; a CRC32 or SHA-256 checksum that does not match is refused.
//
// Operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, PutObject, GetObject (Range),
// HeadObject, DeleteObject, DeleteObjects, CopyObject (the copy shares the source's deal),
// ListObjectsV2 (prefix, delimiter, max-keys, continuation-token, start-after), and multipart
// uploads (create, upload part, list parts, complete, abort). Errors are S3's XML errors.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import type { StorageClient } from '../client/index.ts';
import { Catalog, type ObjectEntry } from './catalog.ts';
import { decodeAwsChunked } from './chunked.ts';
import { verifySigV4 } from './sigv4.ts';

export type GatewayOptions = {
  client: StorageClient;
  /** Where the catalog and multipart parts live. */
  dir: string;
  accessKey: string;
  secretKey: string;
  host?: string;
  port?: number;
  /** Seconds each object's deal stores it (default 30 days). */
  duration?: number;
  /** Largest object or part taken, in bytes (default 5 GiB, S3's single-PUT limit). */
  maxObjectBytes?: number;
  log?: (line: string) => void;
};

export type Gateway = { url: string; server: Server; close(): Promise<void> };

/** S3's smallest part, except the last. */
export const MIN_PART_BYTES = 5 * 2 ** 20;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  mkdirSync(path.join(o.dir, 'parts'), { recursive: true });
  const catalog = new Catalog(path.join(o.dir, 'catalog.json'));
  const log = o.log ?? (() => {});
  const maxBytes = o.maxObjectBytes ?? 5 * 2 ** 30;
  const parser = new XMLParser({ isArray: (name) => name === 'Object' || name === 'Part' });
  let baseHost = '';

  const bucketOf = (name: string) => {
    const b = catalog.data.buckets[name];
    if (!b) throw new S3Error(404, 'NoSuchBucket', `the bucket ${name} does not exist`);
    return b;
  };

  async function readBody(req: IncomingMessage): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > maxBytes + 1024 * 1024) throw new S3Error(400, 'EntityTooLarge', `the body is over ${maxBytes} bytes`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** The payload after aws-chunked decoding, checked against the checksums the client sent. */
  async function payload(req: IncomingMessage): Promise<{ bytes: Uint8Array; crc32: string | null }> {
    let bytes = await readBody(req);
    const declared = String(req.headers['x-amz-content-sha256'] ?? '');
    const checksums: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-amz-checksum-') && typeof v === 'string') checksums[k] = v;
    if (declared.startsWith('STREAMING-') || String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) {
      const decoded = decodeAwsChunked(bytes);
      if (!decoded) throw new S3Error(400, 'IncompleteBody', 'the aws-chunked body is malformed');
      bytes = decoded.data;
      Object.assign(checksums, decoded.trailers);
      const length = req.headers['x-amz-decoded-content-length'];
      if (length !== undefined && Number(length) !== bytes.length)
        throw new S3Error(400, 'IncompleteBody', `x-amz-decoded-content-length is ${length}; ${bytes.length} bytes came`);
    } else if (/^[0-9a-f]{64}$/.test(declared) && createHash('sha256').update(bytes).digest('hex') !== declared)
      throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'the body does not hash to x-amz-content-sha256');
    if (bytes.length > maxBytes) throw new S3Error(400, 'EntityTooLarge', `the object is over ${maxBytes} bytes`);
    const crc = checksums['x-amz-checksum-crc32'];
    if (crc !== undefined && typeof zlib.crc32 === 'function') {
      const mine = Buffer.alloc(4);
      mine.writeUInt32BE(zlib.crc32(bytes));
      if (mine.toString('base64') !== crc) throw new S3Error(400, 'BadDigest', 'the body does not match x-amz-checksum-crc32');
    }
    const sha = checksums['x-amz-checksum-sha256'];
    if (sha !== undefined && createHash('sha256').update(bytes).digest('base64') !== sha)
      throw new S3Error(400, 'BadDigest', 'the body does not match x-amz-checksum-sha256');
    const md5Header = req.headers['content-md5'];
    if (typeof md5Header === 'string' && createHash('md5').update(bytes).digest('base64') !== md5Header)
      throw new S3Error(400, 'BadDigest', 'the body does not match Content-MD5');
    return { bytes, crc32: crc ?? null };
  }

  async function store(bytes: Uint8Array, key: string): Promise<Pick<ObjectEntry, 'dealId' | 'cid' | 'fileKey'>> {
    const r = await o.client.put(bytes, { duration: o.duration ?? 30 * 86_400, buyCredits: true, name: key });
    await o.client.waitStored(r.dealId, 120_000);
    return { dealId: r.dealId, cid: r.cid, fileKey: r.key };
  }

  async function release(entry: ObjectEntry): Promise<void> {
    if (catalog.dealInUse(entry.dealId)) return;
    await o.client.rm(entry.dealId).catch((err: Error) => log(`gateway: ending deal ${entry.dealId} failed: ${err.message}`));
  }

  function objectHeaders(e: ObjectEntry): Record<string, string> {
    const h: Record<string, string> = {
      etag: `"${e.etag}"`,
      'last-modified': new Date(e.lastModified).toUTCString(),
      'content-type': e.contentType,
      'accept-ranges': 'bytes',
      'x-amz-meta-groundwork-cid': e.cid,
      'x-amz-meta-groundwork-deal': e.dealId,
    };
    for (const [k, v] of Object.entries(e.metadata)) h[`x-amz-meta-${k}`] = v;
    return h;
  }

  function send(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
    const body = Buffer.from(xml ? `${XML_HEAD}${xml}` : '', 'utf8');
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length, ...headers });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const rawQuery = q < 0 ? '' : raw.slice(q + 1);
    const query = new URLSearchParams(rawQuery);
    const auth = verifySigV4({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers }, (k) =>
      k === o.accessKey ? o.secretKey : undefined,
    );
    if (!auth.ok) {
      req.resume();
      throw new S3Error(403, auth.failure.code, auth.failure.message);
    }
    // Virtual-hosted style: <bucket>.<the gateway's host>.
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    const segments = rawPath.split('/').slice(1);
    let bucket: string;
    let key: string;
    if (host !== baseHost && host.endsWith(`.${baseHost}`)) {
      bucket = host.slice(0, -(baseHost.length + 1));
      key = decodeURIComponent(segments.join('/'));
    } else {
      bucket = decodeURIComponent(segments[0] ?? '');
      key = decodeURIComponent(segments.slice(1).join('/'));
    }
    const m = req.method;
    if (!bucket) {
      if (m !== 'GET') throw new S3Error(405, 'MethodNotAllowed', `${m} is not allowed on the service`);
      const list = Object.entries(catalog.data.buckets)
        .map(([name, b]) => `<Bucket><Name>${xmlEscape(name)}</Name><CreationDate>${b.created}</CreationDate></Bucket>`)
        .join('');
      return send(
        res,
        200,
        `<ListAllMyBucketsResult ${NS}><Owner><ID>${o.accessKey}</ID></Owner><Buckets>${list}</Buckets></ListAllMyBucketsResult>`,
      );
    }
    if (!key) return bucketOp(req, res, m ?? 'GET', bucket, query);
    return objectOp(req, res, m ?? 'GET', bucket, key, query);
  }

  async function bucketOp(req: IncomingMessage, res: ServerResponse, m: string, name: string, query: URLSearchParams): Promise<void> {
    if (m === 'PUT') {
      await readBody(req);
      if (!BUCKET_RE.test(name)) throw new S3Error(400, 'InvalidBucketName', `${name} is not a valid bucket name`);
      if (catalog.data.buckets[name]) throw new S3Error(409, 'BucketAlreadyOwnedByYou', `you already own the bucket ${name}`);
      catalog.data.buckets[name] = { created: new Date().toISOString(), objects: {} };
      catalog.save();
      return send(res, 200, '', { location: `/${name}` });
    }
    const b = bucketOf(name);
    if (m === 'HEAD') return send(res, 200, '');
    if (m === 'DELETE') {
      if (Object.keys(b.objects).length) throw new S3Error(409, 'BucketNotEmpty', `the bucket ${name} is not empty`);
      delete catalog.data.buckets[name];
      catalog.save();
      return send(res, 204, '');
    }
    if (m === 'POST' && query.has('delete')) {
      const body = Buffer.from((await payload(req)).bytes).toString('utf8');
      let parsed: { Delete?: { Object?: { Key?: string | number }[]; Quiet?: boolean } };
      try {
        parsed = parser.parse(body);
      } catch {
        throw new S3Error(400, 'MalformedXML', 'the Delete document is not XML');
      }
      const objects = parsed.Delete?.Object;
      if (!objects) throw new S3Error(400, 'MalformedXML', 'the Delete document names no Object');
      const deleted: string[] = [];
      for (const obj of objects) {
        const k = String(obj.Key ?? '');
        const e = b.objects[k];
        delete b.objects[k];
        catalog.save();
        if (e) await release(e);
        deleted.push(k);
      }
      const quiet = String(parsed.Delete?.Quiet) === 'true';
      return send(
        res,
        200,
        `<DeleteResult ${NS}>${quiet ? '' : deleted.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join('')}</DeleteResult>`,
      );
    }
    if (m === 'GET') return listObjects(res, name, b.objects, query);
    throw new S3Error(405, 'MethodNotAllowed', `${m} is not allowed on a bucket`);
  }

  function listObjects(res: ServerResponse, name: string, objects: Record<string, ObjectEntry>, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxKeys = Math.min(1000, Math.max(0, Number(query.get('max-keys') ?? 1000) || 0));
    const token = query.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (query.get('start-after') ?? '');
    const keys = Object.keys(objects)
      .filter((k) => k.startsWith(prefix) && k > after)
      .sort();
    const contents: string[] = [];
    const prefixes = new Set<string>();
    let last = '';
    let truncated = false;
    for (const k of keys) {
      const rest = k.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      const entry = cut >= 0 ? `${prefix}${rest.slice(0, cut + delimiter.length)}` : null;
      if (entry && prefixes.has(entry)) continue;
      if (contents.length + prefixes.size >= maxKeys) {
        truncated = true;
        break;
      }
      if (entry) {
        prefixes.add(entry);
        last = `${entry}\uffff`;
      } else {
        const e = objects[k]!;
        contents.push(
          `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${e.lastModified}</LastModified><ETag>"${e.etag}"</ETag><Size>${e.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        );
        last = k;
      }
    }
    const next = truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '';
    const common = [...prefixes].map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join('');
    send(
      res,
      200,
      `<ListBucketResult ${NS}><Name>${xmlEscape(name)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>${delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : ''}<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + prefixes.size}</KeyCount><IsTruncated>${truncated}</IsTruncated>${token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : ''}${next}${contents.join('')}${common}</ListBucketResult>`,
    );
  }

  async function objectOp(
    req: IncomingMessage,
    res: ServerResponse,
    m: string,
    bucket: string,
    key: string,
    query: URLSearchParams,
  ): Promise<void> {
    const b = bucketOf(bucket);
    const uploadId = query.get('uploadId');
    if (m === 'POST' && query.has('uploads')) {
      await readBody(req);
      const id = randomBytes(16).toString('hex');
      catalog.data.uploads[id] = {
        bucket,
        key,
        initiated: new Date().toISOString(),
        contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
        parts: {},
      };
      catalog.save();
      return send(
        res,
        200,
        `<InitiateMultipartUploadResult ${NS}><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
      );
    }
    if (uploadId !== null) return multipart(req, res, m, bucket, key, uploadId, query);
    if (m === 'PUT') {
      const source = req.headers['x-amz-copy-source'];
      if (typeof source === 'string') {
        await readBody(req);
        const [sb, ...sk] = decodeURIComponent(source.replace(/^\//, '').split('?')[0]!).split('/');
        const from = bucketOf(sb!).objects[sk.join('/')];
        if (!from) throw new S3Error(404, 'NoSuchKey', `the key ${sk.join('/')} does not exist in ${sb}`);
        const copy: ObjectEntry = { ...from, lastModified: new Date().toISOString() };
        const replaced = b.objects[key];
        b.objects[key] = copy;
        catalog.save();
        if (replaced && replaced.dealId !== copy.dealId) await release(replaced);
        return send(
          res,
          200,
          `<CopyObjectResult ${NS}><LastModified>${copy.lastModified}</LastModified><ETag>"${copy.etag}"</ETag></CopyObjectResult>`,
        );
      }
      const { bytes, crc32 } = await payload(req);
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-amz-meta-') && typeof v === 'string') metadata[k.slice(11)] = v;
      const entry: ObjectEntry = {
        size: bytes.length,
        etag: md5(bytes),
        lastModified: new Date().toISOString(),
        contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
        metadata,
        crc32,
        ...(await store(bytes, key)),
      };
      const replaced = b.objects[key];
      b.objects[key] = entry;
      catalog.save();
      if (replaced) await release(replaced);
      return send(res, 200, '', { etag: `"${entry.etag}"`, ...(crc32 ? { 'x-amz-checksum-crc32': crc32 } : {}) });
    }
    const e = b.objects[key];
    if (m === 'DELETE') {
      if (e) {
        delete b.objects[key];
        catalog.save();
        await release(e);
      }
      return send(res, 204, '');
    }
    if (!e) throw new S3Error(404, 'NoSuchKey', `the key ${key} does not exist`);
    if (m === 'HEAD') return send(res, 200, '', { ...objectHeaders(e), 'content-length': String(e.size) });
    if (m !== 'GET') throw new S3Error(405, 'MethodNotAllowed', `${m} is not allowed on an object`);
    const range = req.headers.range;
    let start = 0;
    let end = e.size - 1;
    if (range) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!r || (r[1] === '' && r[2] === '')) throw new S3Error(416, 'InvalidRange', `the range ${range} is not satisfiable`);
      if (r[1] === '') start = Math.max(0, e.size - Number(r[2]));
      else {
        start = Number(r[1]);
        end = r[2] === '' ? e.size - 1 : Math.min(Number(r[2]), e.size - 1);
      }
      if (start >= e.size || start > end)
        throw new S3Error(416, 'InvalidRange', `the range ${range} is outside the object's ${e.size} bytes`);
    }
    const got = e.size === 0 ? new Uint8Array() : (await o.client.get(e.dealId, { key: e.fileKey, buyCredits: true })).bytes;
    const body = got.subarray(start, end + 1);
    const headers: Record<string, string> = { ...objectHeaders(e), 'content-length': String(body.length) };
    if (range) headers['content-range'] = `bytes ${start}-${end}/${e.size}`;
    else if (e.crc32) headers['x-amz-checksum-crc32'] = e.crc32;
    res.writeHead(range ? 206 : 200, headers);
    res.end(body);
  }

  async function multipart(
    req: IncomingMessage,
    res: ServerResponse,
    m: string,
    bucket: string,
    key: string,
    id: string,
    query: URLSearchParams,
  ): Promise<void> {
    const u = catalog.data.uploads[id];
    if (!u || u.bucket !== bucket || u.key !== key) {
      req.resume();
      throw new S3Error(404, 'NoSuchUpload', `the upload ${id} does not exist (or was completed or aborted)`);
    }
    const partsDir = path.join(o.dir, 'parts', id);
    if (m === 'PUT') {
      const n = Number(query.get('partNumber'));
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new S3Error(400, 'InvalidArgument', 'partNumber must be from 1 to 10000');
      const { bytes, crc32 } = await payload(req);
      mkdirSync(partsDir, { recursive: true });
      const file = path.join(partsDir, String(n));
      writeFileSync(file, bytes);
      const etag = md5(bytes);
      u.parts[n] = { etag, size: bytes.length, file, crc32 };
      catalog.save();
      return send(res, 200, '', { etag: `"${etag}"`, ...(crc32 ? { 'x-amz-checksum-crc32': crc32 } : {}) });
    }
    if (m === 'GET') {
      const parts = Object.entries(u.parts)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([n, p]) => `<Part><PartNumber>${n}</PartNumber><ETag>"${p.etag}"</ETag><Size>${p.size}</Size></Part>`)
        .join('');
      return send(
        res,
        200,
        `<ListPartsResult ${NS}><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId><IsTruncated>false</IsTruncated>${parts}</ListPartsResult>`,
      );
    }
    if (m === 'DELETE') {
      delete catalog.data.uploads[id];
      catalog.save();
      rmSync(partsDir, { recursive: true, force: true });
      return send(res, 204, '');
    }
    if (m !== 'POST') throw new S3Error(405, 'MethodNotAllowed', `${m} is not allowed on an upload`);
    const body = Buffer.from((await payload(req)).bytes).toString('utf8');
    let listed: { PartNumber?: number; ETag?: string }[];
    try {
      listed =
        (parser.parse(body) as { CompleteMultipartUpload?: { Part?: { PartNumber?: number; ETag?: string }[] } }).CompleteMultipartUpload
          ?.Part ?? [];
    } catch {
      throw new S3Error(400, 'MalformedXML', 'the CompleteMultipartUpload document is not XML');
    }
    if (!listed.length) throw new S3Error(400, 'MalformedXML', 'the CompleteMultipartUpload document names no Part');
    const chosen = listed.map((l, i) => {
      const n = Number(l.PartNumber);
      if (i > 0 && n <= Number(listed[i - 1]!.PartNumber))
        throw new S3Error(400, 'InvalidPartOrder', 'the parts must be listed in ascending order');
      const p = u.parts[n];
      if (!p || String(l.ETag ?? '').replace(/"/g, '') !== p.etag)
        throw new S3Error(400, 'InvalidPart', `part ${n} was not uploaded, or its ETag is not ${l.ETag}`);
      return p;
    });
    for (const [i, p] of chosen.entries())
      if (i < chosen.length - 1 && p.size < MIN_PART_BYTES)
        throw new S3Error(
          400,
          'EntityTooSmall',
          `part ${listed[i]!.PartNumber} is ${p.size} bytes; every part but the last must be at least ${MIN_PART_BYTES}`,
        );
    const bytes = Buffer.concat(chosen.map((p) => readFileSync(p.file)));
    const etag = `${createHash('md5')
      .update(Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex'))))
      .digest('hex')}-${chosen.length}`;
    const entry: ObjectEntry = {
      size: bytes.length,
      etag,
      lastModified: new Date().toISOString(),
      contentType: u.contentType,
      metadata: {},
      crc32: null,
      ...(await store(bytes, key)),
    };
    const b = bucketOf(bucket);
    const replaced = b.objects[key];
    b.objects[key] = entry;
    delete catalog.data.uploads[id];
    catalog.save();
    rmSync(partsDir, { recursive: true, force: true });
    if (replaced) await release(replaced);
    return send(
      res,
      200,
      `<CompleteMultipartUploadResult ${NS}><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`,
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      const e = err instanceof S3Error ? err : new S3Error(500, 'InternalError', (err as Error).message.split('\n')[0]!);
      if (!(err instanceof S3Error)) log(`gateway: ${req.method} ${req.url}: ${e.message}`);
      if (res.headersSent) return void res.destroy();
      req.resume();
      send(
        res,
        e.status,
        req.method === 'HEAD'
          ? ''
          : `<Error><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message><Resource>${xmlEscape(req.url ?? '')}</Resource><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`,
      );
    });
  });
  const hostName = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, hostName, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseHost = hostName === '127.0.0.1' || hostName === '0.0.0.0' ? 'localhost' : hostName;
  return {
    url: `http://${hostName}:${port}`,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
