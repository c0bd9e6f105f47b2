/**
 * Docker build contexts as tar streams, assembled in memory (no `docker build` CLI): files from
 * strings, host files and host directories. Every entry is owned by root (uid/gid 0) so that git
 * inside the container does not refuse the repository as "dubious ownership".
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

type Entry =
  | { type: 'data'; name: string; data: Buffer; mode: number }
  | { type: 'file'; name: string; hostPath: string; size: number; mode: number; mtime: Date }
  | { type: 'directory'; name: string; mode: number; mtime: Date }
  | { type: 'symlink'; name: string; target: string; mtime: Date };

/** Fixed mtime of generated entries, so that a context's bytes depend only on its content. */
const EPOCH = new Date(0);

/** A build context under construction; {@link BuildContext.toStream} serialises it. */
export class BuildContext {
  private readonly entries: Entry[] = [];
  private readonly names = new Set<string>();

  /** Adds a file with the given content (e.g. the Dockerfile, a step script). */
  addData(name: string, data: string | Buffer, mode = 0o644): this {
    this.push({ type: 'data', name: normalise(name), data: Buffer.from(data), mode });
    return this;
  }

  /** Adds one host file, streamed at serialisation time. */
  async addHostFile(hostPath: string, name: string): Promise<this> {
    const st = await lstat(hostPath);
    if (!st.isFile()) throw new Error(`not a regular file: ${hostPath}`);
    this.push({
      type: 'file',
      name: normalise(name),
      hostPath,
      size: st.size,
      mode: st.mode & 0o7777,
      mtime: st.mtime,
    });
    return this;
  }

  /** Adds a directory entry (parents of a later file need not be added: the engine creates them). */
  addDirectoryEntry(name: string, mode = 0o755): this {
    this.push({ type: 'directory', name: normalise(name), mode, mtime: EPOCH });
    return this;
  }

  /** Adds one host path that is a regular file or a symlink (kept as a link). */
  async addHostPath(hostPath: string, name: string): Promise<this> {
    const st = await lstat(hostPath);
    if (st.isSymbolicLink()) {
      this.push({ type: 'symlink', name: normalise(name), target: await readlink(hostPath), mtime: st.mtime });
      return this;
    }
    return this.addHostFile(hostPath, name);
  }

  /** Whether an entry of this name was added. */
  has(name: string): boolean {
    return this.names.has(normalise(name));
  }

  /**
   * Adds a host directory recursively under `prefix` (directories, regular files and symlinks, with
   * their modes; other file types are skipped). `filter` gets the path relative to `hostDir`.
   */
  async addDirectory(hostDir: string, prefix: string, filter?: (rel: string) => boolean): Promise<this> {
    const base = normalise(prefix);
    const st = await lstat(hostDir);
    this.push({ type: 'directory', name: base, mode: st.mode & 0o7777, mtime: st.mtime });
    const walk = async (dir: string, rel: string): Promise<void> => {
      const names = (await readdir(dir)).sort();
      for (const n of names) {
        const relPath = rel ? `${rel}/${n}` : n;
        if (filter && !filter(relPath)) continue;
        const host = join(dir, n);
        const s = await lstat(host);
        const name = `${base}/${relPath}`;
        if (s.isDirectory()) {
          this.push({ type: 'directory', name, mode: s.mode & 0o7777, mtime: s.mtime });
          await walk(host, relPath);
        } else if (s.isFile()) {
          this.push({ type: 'file', name, hostPath: host, size: s.size, mode: s.mode & 0o7777, mtime: s.mtime });
        } else if (s.isSymbolicLink()) {
          this.push({ type: 'symlink', name, target: await readlink(host), mtime: s.mtime });
        }
      }
    };
    await walk(hostDir, '');
    return this;
  }

  /** Entry names in order (for tests and logs). */
  list(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** Serialises the context as a tar stream; host files are read as the consumer pulls. */
  toStream(): Readable {
    const pack = tar.pack();
    const write = async (): Promise<void> => {
      for (const e of this.entries) {
        const common = { name: e.name, uid: 0, gid: 0, uname: 'root', gname: 'root' };
        if (e.type === 'data') {
          await new Promise<void>((resolve, reject) =>
            pack.entry({ ...common, mode: e.mode, mtime: EPOCH }, e.data, (err) => (err ? reject(err) : resolve()))
          );
        } else if (e.type === 'directory') {
          await new Promise<void>((resolve, reject) =>
            pack.entry({ ...common, type: 'directory', mode: e.mode, mtime: e.mtime }, (err) =>
              err ? reject(err) : resolve()
            )
          );
        } else if (e.type === 'symlink') {
          await new Promise<void>((resolve, reject) =>
            pack.entry({ ...common, type: 'symlink', linkname: e.target, mtime: e.mtime }, (err) =>
              err ? reject(err) : resolve()
            )
          );
        } else {
          const sink = pack.entry({ ...common, size: e.size, mode: e.mode, mtime: e.mtime });
          await pipeline(createReadStream(e.hostPath), sink);
        }
      }
      pack.finalize();
    };
    // tar-stream packs are streamx streams: bridge to a Node stream for dockerode.
    const out = new PassThrough();
    pack.on('error', (err: Error) => out.destroy(err));
    pack.pipe(out);
    write().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
    return out;
  }

  private push(e: Entry): void {
    if (this.names.has(e.name)) throw new Error(`duplicate build-context entry: ${e.name}`);
    this.names.add(e.name);
    this.entries.push(e);
  }
}

function normalise(name: string): string {
  const n = posix.normalize(name).replace(/^\/+|\/+$/g, '');
  if (!n || n === '.' || n.startsWith('..')) throw new Error(`bad build-context path: ${name}`);
  return n;
}
