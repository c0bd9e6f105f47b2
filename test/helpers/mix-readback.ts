/** Reads a mix stage's shards back from disk (docs/shards.md), for tests. */
import { readFileSync } from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { fileURLToPath } from 'node:url';
import type { MixManifest } from '../../contracts';
import { parseIndex } from '../../activities/mix/indexed-dataset';

/** One sequence read back: token ids, loss mask and document starts. */
export interface ReadSequence {
  ids: number[];
  mask: number[];
  bounds: number[];
}

const read = (uri: string) => readFileSync(fileURLToPath(uri));

/** Every sequence of every shard of a stage, in order, checking each `.idx` against its `.bin`. */
export function readStage(m: MixManifest): { sequences: ReadSequence[]; jsonl: Record<string, unknown>[] } {
  const sequences: ReadSequence[] = [];
  const jsonl: Record<string, unknown>[] = [];
  for (const shard of m.shards) {
    const bin = read(shard.files.bin.uri);
    const idx = parseIndex(read(shard.files.idx.uri));
    const mbin = read(shard.files['mask.bin'].uri);
    const midx = parseIndex(read(shard.files['mask.idx'].uri));
    const bbin = read(shard.files['bounds.bin'].uri);
    const bidx = parseIndex(read(shard.files['bounds.idx'].uri));
    if (idx.dtypeCode !== 4 || midx.dtypeCode !== 1 || bidx.dtypeCode !== 4) throw new Error('bad dtype codes');
    if (idx.lengths.reduce((a, b) => a + b, 0) * 4 !== bin.length) throw new Error('.idx lengths disagree with .bin');
    for (let i = 0; i < idx.lengths.length; i++) {
      const n = idx.lengths[i]!;
      if (midx.lengths[i] !== n) throw new Error('mask length differs');
      if (idx.docIndex[i] !== i) throw new Error('doc_index is not 0..N');
      const ids = Array.from(
        new Int32Array(bin.buffer.slice(bin.byteOffset + idx.pointers[i]!, bin.byteOffset + idx.pointers[i]! + n * 4))
      );
      const mask = Array.from(mbin.subarray(midx.pointers[i]!, midx.pointers[i]! + n));
      const bn = bidx.lengths[i]!;
      const bounds = Array.from(
        new Int32Array(
          bbin.buffer.slice(bbin.byteOffset + bidx.pointers[i]!, bbin.byteOffset + bidx.pointers[i]! + bn * 4)
        )
      );
      sequences.push({ ids, mask, bounds });
    }
    if (!shard.files.jsonl) continue;
    for (const line of read(shard.files.jsonl.uri).toString('utf8').split('\n').filter(Boolean))
      jsonl.push(JSON.parse(line) as Record<string, unknown>);
  }
  return { sequences, jsonl };
}

/** Every row of every shard's `.parquet` file of a stage, in order, read with `hyparquet`. */
export async function readStageParquet(m: MixManifest): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const shard of m.shards) {
    if (!shard.files.parquet) throw new Error(`${shard.name} has no parquet file`);
    const file = await asyncBufferFromFile(fileURLToPath(shard.files.parquet.uri));
    const metadata = await parquetMetadataAsync(file);
    const names = metadata.schema.slice(1).map((e) => e.name);
    if (names.join() !== 'id,source,text,messages') throw new Error(`${shard.name}.parquet columns: ${names.join()}`);
    rows.push(...(await parquetReadObjects({ file, metadata })));
  }
  return rows;
}
