/**
 * Presigned GET URLs for S3 objects (AWS Signature V4 in the query string, `UNSIGNED-PAYLOAD`), so a
 * process without S3 credentials (a Slurm job staging its shards) can download exactly the objects it
 * was given, for a limited time. Signed with `@smithy/signature-v4`, the signer the AWS SDK itself uses.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';

/** SigV4 allows at most 7 days. */
export const MAX_PRESIGN_S = 7 * 24 * 3600;

const bytesOf = (d: SourceData): Buffer =>
  typeof d === 'string'
    ? Buffer.from(d, 'utf8')
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** node:crypto SHA-256 (HMAC when given a secret) behind the signer's Checksum interface. */
class NodeSha256 implements Checksum {
  private h: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(this.secret));
  }
  update(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh();
  }
}

/** Where a bucket is reached and how requests are signed. */
export interface PresignTarget {
  /** Custom endpoint (`http://127.0.0.1:8333`); AWS when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials: () => Promise<AwsCredentialIdentity>;
}

/** RFC 3986 encoding of each key segment, `/` kept (S3's canonical URI for object keys). */
const encodeKey = (key: string): string =>
  key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');

/** A GET URL for `bucket/key`, valid for `expiresInS` seconds (at most {@link MAX_PRESIGN_S}). */
export async function presignGetUrl(
  t: PresignTarget,
  bucket: string,
  key: string,
  expiresInS: number,
  now = new Date()
): Promise<string> {
  const base = new URL(t.endpoint ?? `https://s3.${t.region}.amazonaws.com`);
  const pathStyle = t.forcePathStyle || t.endpoint !== undefined || bucket.includes('.');
  const hostname = pathStyle ? base.hostname : `${bucket}.${base.hostname}`;
  const basePath = base.pathname.replace(/\/+$/, '');
  const path = `${basePath}${pathStyle ? `/${encodeKey(bucket)}` : ''}/${encodeKey(key)}`;
  const host = base.port ? `${hostname}:${base.port}` : hostname;
  const signer = new SignatureV4({
    service: 's3',
    region: t.region,
    credentials: t.credentials,
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: base.protocol,
      hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query: {},
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: Math.min(Math.max(1, Math.floor(expiresInS)), MAX_PRESIGN_S), signingDate: now }
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]))
    .map(([k, v]) => `${encodeURIComponent(k!)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${base.protocol}//${host}${path}?${query}`;
}
