/**
 * Step 3 of the mix stage: writes one shard of one training stage (docs/shards.md) from the plan
 * and the spilled sources: token, mask and bounds files, plus the JSONL and/or Parquet documents
 * that `mix.outputs` asks for. Idempotent: a shard whose marker (`shard-NNNNN.done.json`) exists,
 * lists the files these outputs give, and whose files still hash to the recorded sha256 is not
 * rewritten, so a crashed stage resumes at the last finished shard.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { MIX_TOKEN_FILES, MixOutputs, MixShard, type ArtifactRef } from '../../contracts';
import type { ArtifactStore } from '../store/artifact-store';
import type { CleanResult } from './clean';
import { buildIndex } from './indexed-dataset';
import { ParquetShardWriter } from './parquet-shard';
import { EOS_ID, type StagePlan } from './plan';
import { SPILL_FILES, SpillReader, type SpillFile } from './spill';

/** Store key of a shard file, e.g. `<prefix>/mt1/shard-00003.mask.idx`. */
export function shardKey(prefix: string, stage: string, shard: number, ext: string): string {
  return `${prefix}/${stage}/shard-${String(shard).padStart(5, '0')}.${ext}`;
}

/** A local path holding an artifact (the file itself for file://, else a cached download). */
export async function localPath(store: ArtifactStore, ref: ArtifactRef): Promise<string> {
  if (ref.uri.startsWith('file://')) return fileURLToPath(ref.uri);
  const dir = join(tmpdir(), 'bottega-mix-cache');
  const path = join(dir, ref.sha256);
  if (existsSync(path) && statSync(path).size === ref.bytes) return path;
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await pipeline(await store.open(ref.uri), createWriteStream(tmp));
  await rename(tmp, path);
  return path;
}

/** sha256 of an artifact's bytes, streamed from the store. */
async function hashOf(store: ArtifactStore, uri: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of (await store.open(uri)) as AsyncIterable<Buffer>) h.update(c);
  return h.digest('hex');
}

/** The files a shard of a stage with these outputs has (`MIX_SHARD_FILES` order). */
export function shardFileKinds(outputs: MixOutputs): (keyof MixShard['files'])[] {
  return [
    ...MIX_TOKEN_FILES,
    ...(outputs.jsonl ? (['jsonl'] as const) : []),
    ...(outputs.parquet ? (['parquet'] as const) : []),
  ];
}

/**
 * True when a finished shard has exactly the files `kinds` and each still exists with its
 * recorded sha256 (a shard written with other outputs is rewritten).
 */
async function intact(store: ArtifactStore, shard: MixShard, kinds: string[]): Promise<boolean> {
  if (Object.keys(shard.files).sort().join() !== [...kinds].sort().join()) return false;
  for (const f of Object.values(shard.files)) {
    if (!(await store.exists(f.uri, f.bytes))) return false;
    if ((await hashOf(store, f.uri)) !== f.sha256) return false;
  }
  return true;
}

async function put(stream: WriteStream, buf: Uint8Array): Promise<void> {
  if (!stream.write(buf)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

async function close(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/**
 * Writes the documents whose first token lies in the shard, entries [start, end) of the order, to
 * the JSONL and/or Parquet file named in `files` (neither when both are disabled).
 */
async function writeDocuments(
  files: Partial<Record<'jsonl' | 'parquet', string>>,
  start: number,
  end: number,
  record: (k: number) => Promise<Buffer>
): Promise<void> {
  if (!files.jsonl && !files.parquet) return;
  const jsonl = files.jsonl ? createWriteStream(files.jsonl) : null;
  const parquet = files.parquet ? new ParquetShardWriter(files.parquet) : null;
  for (let k = start; k < end; k++) {
    const line = await record(k);
    if (jsonl) await put(jsonl, line);
    if (parquet) await parquet.add(line.toString('utf8'));
  }
  if (jsonl) await close(jsonl);
  await parquet?.finish();
}

/** Arguments of {@link writeShard}. */
export interface WriteShardArgs {
  store: ArtifactStore;
  prefix: string;
  plan: StagePlan;
  shard: number;
  clean: CleanResult;
  progress?: (details: Record<string, unknown>) => void;
}

/** Writes (or finds already written) one shard; `skipped` says it was already there. */
export async function writeShard(args: WriteShardArgs): Promise<{ shard: MixShard; skipped: boolean }> {
  const { store, plan } = args;
  const sp = plan.shards[args.shard];
  if (!sp) throw new Error(`stage ${plan.stage} has no shard ${args.shard} (it has ${plan.shards.length})`);
  // a plan.json written before `outputs` existed: today's defaults
  const kinds = shardFileKinds((plan.outputs as MixOutputs | undefined) ?? MixOutputs.parse({}));
  const marker = store.uriFor(shardKey(args.prefix, plan.stage, sp.index, 'done.json'));
  if (await store.exists(marker)) {
    const done = MixShard.parse(JSON.parse((await store.get(marker)).toString('utf8')));
    if (await intact(store, done, kinds)) return { shard: done, skipped: true };
  }
  const readers: SpillReader[] = [];
  const work = await mkdtemp(join(tmpdir(), 'bottega-mix-shard-'));
  try {
    for (const name of plan.sourceNames) {
      const src = args.clean.sources.find((s) => s.name === name);
      if (!src) throw new Error(`source ${name} missing from the clean result`);
      const paths = {} as Record<SpillFile, string>;
      for (const f of SPILL_FILES) paths[f] = await localPath(store, src.files[f]);
      readers.push(await SpillReader.open(paths));
    }
    const orderBuf = plan.order ? await store.get(plan.order.uri) : Buffer.alloc(0);
    const order = new Uint32Array(
      orderBuf.buffer.slice(orderBuf.byteOffset, orderBuf.byteOffset + orderBuf.byteLength)
    );
    const files = Object.fromEntries(kinds.map((f) => [f, join(work, `shard.${f}`)])) as Record<
      keyof MixShard['files'],
      string
    >;
    const bin = createWriteStream(files.bin);
    const maskOut = createWriteStream(files['mask.bin']);
    const boundsOut = createWriteStream(files['bounds.bin']);
    const seqLengths: number[] = [];
    const boundLengths: number[] = [];
    let lossTokens = 0;
    const sft = plan.loss_mask === 'sft';

    /** Token stream (ids + EOS) and mask of entry k. */
    const entry = async (k: number): Promise<{ ids: Int32Array; mask: Uint8Array }> => {
      const r = readers[order[2 * k]!]!;
      const d = order[2 * k + 1]!;
      const raw = await r.ids(d);
      const ids = new Int32Array(raw.length + 1);
      ids.set(raw);
      ids[raw.length] = EOS_ID;
      const mask = new Uint8Array(raw.length + 1);
      if (sft) mask.set(await r.sftMask(d));
      else mask.fill(1);
      return { ids, mask };
    };
    const emit = async (ids: Int32Array, mask: Uint8Array, bounds: number[]) => {
      // copies: the stream may hold a chunk until it is flushed, and the packing buffers are reused
      await put(bin, Buffer.from(ids.buffer.slice(ids.byteOffset, ids.byteOffset + ids.byteLength)));
      await put(maskOut, Buffer.from(mask));
      await put(boundsOut, new Uint8Array(Int32Array.from(bounds).buffer));
      for (let i = 0; i < mask.length; i++) lossTokens += mask[i]!;
      seqLengths.push(ids.length);
      boundLengths.push(bounds.length);
      if (seqLengths.length % 64 === 0)
        args.progress?.({ stage: plan.stage, shard: sp.index, sequences: seqLengths.length });
    };

    if (plan.pack) {
      const L = plan.seq_len;
      const seqIds = new Int32Array(L);
      const seqMask = new Uint8Array(L);
      let k = sp.entryStart;
      let cur = k < plan.entries ? await entry(k) : null;
      let off = sp.offset;
      for (let s = sp.seqStart; s < sp.seqEnd; s++) {
        let pos = 0;
        const bounds: number[] = [];
        while (pos < L && cur) {
          bounds.push(pos);
          const take = Math.min(L - pos, cur.ids.length - off);
          seqIds.set(cur.ids.subarray(off, off + take), pos);
          seqMask.set(cur.mask.subarray(off, off + take), pos);
          pos += take;
          off += take;
          if (off === cur.ids.length) {
            k++;
            off = 0;
            cur = k < plan.entries ? await entry(k) : null;
          }
        }
        seqIds.fill(EOS_ID, pos);
        seqMask.fill(0, pos);
        await emit(seqIds, seqMask, bounds);
      }
    } else {
      for (let k = sp.entryStart; k < sp.entryEnd; k++) {
        const e = await entry(k);
        await emit(e.ids, e.mask, [0]);
      }
    }
    await Promise.all([close(bin), close(maskOut), close(boundsOut)]);
    await writeDocuments(files, sp.jsonlStart, sp.entryEnd, (k) => readers[order[2 * k]!]!.record(order[2 * k + 1]!));
    await writeFile(files.idx, buildIndex('int32', seqLengths));
    await writeFile(files['mask.idx'], buildIndex('uint8', seqLengths));
    await writeFile(files['bounds.idx'], buildIndex('int32', boundLengths));
    const out: Record<string, { uri: string; sha256: string; bytes: number }> = {};
    for (const f of kinds) {
      const ref = await store.putFile(shardKey(args.prefix, plan.stage, sp.index, f), files[f], { records: null });
      out[f] = { uri: ref.uri, sha256: ref.sha256, bytes: ref.bytes };
    }
    const shard = MixShard.parse({
      name: `shard-${String(sp.index).padStart(5, '0')}`,
      sequences: seqLengths.length,
      tokens: seqLengths.reduce((a, b) => a + b, 0),
      loss_tokens: lossTokens,
      files: out,
    });
    await store.put(shardKey(args.prefix, plan.stage, sp.index, 'done.json'), JSON.stringify(shard) + '\n', {
      records: null,
    });
    return { shard, skipped: false };
  } finally {
    await Promise.all(readers.map((r) => r.close()));
    await rm(work, { recursive: true, force: true });
  }
}
