import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const STAGER = fileURLToPath(new URL('../../infra/trainer/stage_data.py', import.meta.url));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('shards staged from S3 in the job', () => {
  describe('infra/trainer/stage_data.py against an HTTP server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-stage-data-'));
    const bodies: Record<string, Buffer> = {
      'manifest.json': Buffer.from('{"shards": []}\n'),
      'shard-00000.bin': Buffer.alloc(300_000, 7),
      'shard-00000.idx': Buffer.from('idx'),
    };
    let server: Server;
    let base = '';
    const hits: string[] = [];
    before(async () => {
      server = createServer((req, res) => {
        hits.push(req.url!);
        const name = req.url!.slice(1).split('?')[0]!;
        if (name === 'expired') return res.writeHead(403, 'Forbidden').end('<Error>AccessDenied</Error>');
        if (name === 'corrupt') return res.end('not what the list says');
        const b = bodies[name];
        if (!b) return res.writeHead(404).end();
        res.end(b);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const list = (files: { name: string; path: string; body: Buffer }[]) => {
      const p = join(dir, `list-${hits.length}-${files.length}.json`);
      writeFileSync(
        p,
        JSON.stringify({
          files: files.map((f) => ({
            name: f.name,
            url: `${base}/${f.path}?X-Amz-Signature=x`,
            sha256: sha(f.body),
            bytes: f.body.length,
          })),
        })
      );
      return p;
    };
    // Asynchronously: the HTTP server answers from this process's event loop.
    const stage = (listFile: string, dest: string) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((done) =>
        execFile(
          'python3',
          [STAGER, '--list', listFile, '--dest', dest, '--attempts', '2'],
          { encoding: 'utf8' },
          (err, stdout, stderr) =>
            done({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
        )
      );
    const good = Object.entries(bodies).map(([name, body]) => ({ name, path: name, body }));

    it('downloads and checks every file, and keeps verified files on a second run (a requeue)', async () => {
      const dest = join(dir, 'node-local', 'job');
      const l = list(good);
      const r = await stage(l, dest);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /staged 3 files \(0\.3 MB\) into .* \(3 downloaded, 0 already there\)/);
      for (const [name, body] of Object.entries(bodies)) assert.deepEqual(readFileSync(join(dest, name)), body);
      assert.deepEqual(readdirSync(dest).sort(), Object.keys(bodies).sort(), 'no partial files left');
      const n = hits.length;
      const again = await stage(l, dest);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /\(0 downloaded, 3 already there\)/);
      assert.equal(hits.length, n, 'nothing fetched again');
    });

    it('a file whose bytes differ from the list fails, naming it; an expired URL says to resubmit', async () => {
      const corrupt = await stage(
        list([{ name: 'shard-00001.bin', path: 'corrupt', body: Buffer.from('expected') }]),
        join(dir, 'c')
      );
      assert.equal(corrupt.status, 3);
      assert.match(corrupt.stderr, /shard-00001\.bin: got 22 bytes sha256 \w+, the list says 8 bytes/);
      assert.deepEqual(readdirSync(join(dir, 'c')), [], 'the partial download is removed');
      const expired = await stage(
        list([{ name: 'shard-00002.bin', path: 'expired', body: Buffer.from('x') }]),
        join(dir, 'e')
      );
      assert.equal(expired.status, 3);
      assert.match(
        expired.stderr,
        /shard-00002\.bin: HTTP 403 Forbidden \(presigned URLs expire: resubmit the stage\)/
      );
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ files: [{ name: '../escape', url: base, sha256: '', bytes: 0 }] }));
      const refused = await stage(bad, join(dir, 'b'));
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /not a plain file name: '\.\.\/escape'/);
    });
  });
});
