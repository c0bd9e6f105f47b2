/**
 * Files copied into a container through the engine's archive API (`PUT /containers/{id}/archive`),
 * so their size is bounded by nothing but the disk: a patch or script passed in a command line hits
 * Linux's 128 KiB per-argument limit (`argument list too long`) and dockerd's request-header limit
 * (HTTP 431 from about 1 MB).
 */
import { posix } from 'node:path';
import type Docker from 'dockerode';
import tar from 'tar-stream';

/** One file to place in a container before it starts. */
export interface ContainerFile {
  /** Absolute path inside the container; missing parent directories are created. */
  path: string;
  content: string | Buffer;
  /** Permission bits (default 0644). */
  mode?: number;
}

/** Packs `files` into an uncompressed tar (root-owned entries, fixed mtime). */
export async function filesArchive(files: readonly ContainerFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const f of files) {
    const body = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    pack.entry({ name: entryName(f.path), mode: f.mode ?? 0o644, uid: 0, gid: 0, mtime: new Date(0) }, body);
  }
  pack.finalize();
  return done;
}

/** Copies `files` into a created (not necessarily started) container. */
export async function putFiles(container: Docker.Container, files: readonly ContainerFile[]): Promise<void> {
  if (files.length === 0) return;
  await container.putArchive(await filesArchive(files), { path: '/' });
}

/** The tar entry name of an absolute container path; refuses relative paths and `..` segments. */
function entryName(path: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..') || path.includes('\0'))
    throw new Error(`container file path must be absolute without '..' segments: ${JSON.stringify(path)}`);
  const name = posix.normalize(path).replace(/^\/+/, '');
  if (!name) throw new Error(`container file path names no file: ${JSON.stringify(path)}`);
  return name;
}
