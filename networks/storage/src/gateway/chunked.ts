// The aws-chunked content encoding the AWS SDKs use for streaming uploads: chunks of
// `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n`, a zero-size chunk, then trailing headers
// (`x-amz-checksum-crc32:…`) and a blank line. Returns the data and the trailers, or null if the
// body is not well formed. Chunk signatures are not checked: the request's own SigV4 signature
// covers its headers, and the trailing checksum covers the bytes.
export function decodeAwsChunked(body: Uint8Array): { data: Uint8Array; trailers: Record<string, string> } | null {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const head = buf.subarray(at, eol).toString('latin1');
    const m = /^([0-9a-fA-F]{1,16})(;.*)?$/.exec(head);
    if (!m) return null;
    const size = Number.parseInt(m[1]!, 16);
    at = eol + 2;
    if (size === 0) break;
    if (at + size + 2 > buf.length || buf[at + size] !== 13 || buf[at + size + 1] !== 10) return null;
    parts.push(buf.subarray(at, at + size));
    at += size + 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of buf.subarray(at).toString('latin1').split('\r\n')) {
    if (!line) continue;
    const i = line.indexOf(':');
    if (i < 0) return null;
    trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { data: Buffer.concat(parts), trailers };
}
