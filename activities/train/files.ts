import { mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import type { ClusterFiles } from './backend';
import type { CommandRunner } from './runner';

/** Bytes read from the end of a file for a tail. */
const TAIL_BYTES = 256 * 1024;

/** The cluster's shared filesystem is mounted here (local CLI, or slurmrestd beside the worker). */
export function localFiles(): ClusterFiles {
  return {
    async read(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async tail(path, lines) {
      // Only the end of the file: a multi-day job's log or metrics run to many megabytes.
      let f;
      try {
        f = await open(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
      try {
        const { size } = await f.stat();
        const length = Math.min(size, TAIL_BYTES);
        const buf = Buffer.alloc(length);
        await f.read(buf, 0, length, size - length);
        const text = buf.toString('utf8');
        // Started mid-file: the first line is likely cut.
        return lastLines(length < size ? text.slice(text.indexOf('\n') + 1) : text, lines);
      } finally {
        await f.close();
      }
    },
    async write(path, text) {
      await writeFile(path, text);
    },
    async mkdirp(path) {
      await mkdir(path, { recursive: true });
    },
    async list(path) {
      try {
        const entries = await readdir(path, { withFileTypes: true });
        return entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    },
  };
}

/** Files reached through a runner (the login node over SSH): cat, tail, ls, mkdir. */
export function remoteFiles(runner: CommandRunner): ClusterFiles {
  const must = async (cmd: string, args: string[], input?: string) => {
    const r = await runner.run(cmd, args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`${runner.where}: ${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  return {
    async read(path) {
      const r = await runner.run('cat', ['--', path]);
      return r.code === 0 ? r.stdout : null;
    },
    async tail(path, lines) {
      const r = await runner.run('tail', ['-n', String(lines), '--', path]);
      return r.code === 0 ? lastLines(r.stdout, lines) : [];
    },
    async write(path, text) {
      await must('sh', ['-c', 'cat > "$1"', 'sh', path], text);
    },
    async mkdirp(path) {
      await must('mkdir', ['-p', '--', path]);
    },
    async list(path) {
      const r = await runner.run('ls', ['-1Ap', '--', path]);
      return r.code === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [];
    },
  };
}

/** The last `n` non-empty-terminated lines of a text. */
export function lastLines(text: string, n: number): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n);
}
