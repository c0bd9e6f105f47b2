/**
 * `shard-NNNNN.parquet`: the documents of a shard's JSONL as a Parquet file for Hugging
 * Face-style trainers (`datasets.load_dataset('parquet', ...)`), written with `hyparquet-writer`.
 * Four UTF-8 string columns, the same in every shard of every stage: `id`, `source` (required),
 * `text` (the plain text, null for chat documents) and `messages` (the OpenAI-style messages as a
 * JSON string, null for plain text). Rows are streamed in row groups of at most
 * {@link PARQUET_ROW_GROUP_ROWS} rows or {@link PARQUET_ROW_GROUP_CHARS} characters of strings, so memory
 * stays flat in the shard's size; the bytes depend only on the rows (snappy, no timestamps).
 * `text` and `messages` are PLAIN-encoded; `id` and `source` use a dictionary when it pays.
 */
import { ParquetWriter, fileWriter, type SchemaElement } from 'hyparquet-writer';

/** Rows per row group at most. */
export const PARQUET_ROW_GROUP_ROWS = 10_000;
/** Characters (UTF-16 code units) of strings per row group at most (one row may exceed it alone). */
export const PARQUET_ROW_GROUP_CHARS = 8 * 1024 * 1024;

/** One row of the shard Parquet file. */
export interface ParquetShardRow {
  id: string;
  source: string;
  text: string | null;
  /** JSON of the messages array. */
  messages: string | null;
}

const utf8 = (name: string, required: boolean): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  repetition_type: required ? 'REQUIRED' : 'OPTIONAL',
});

/** The Parquet schema of every shard file. */
export const PARQUET_SHARD_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: 4 },
  utf8('id', true),
  utf8('source', true),
  utf8('text', false),
  utf8('messages', false),
];

/** The Parquet row of one shard JSONL line (`{text}` or `{messages}`, plus `source` and `id`). */
export function parquetRow(jsonLine: string): ParquetShardRow {
  const r = JSON.parse(jsonLine) as { id: string; source: string; text?: string; messages?: unknown };
  return {
    id: r.id,
    source: r.source,
    text: typeof r.text === 'string' ? r.text : null,
    messages: r.messages === undefined ? null : JSON.stringify(r.messages),
  };
}

/** Streams rows into one Parquet file. */
export class ParquetShardWriter {
  private readonly pq: ParquetWriter;
  private rows: ParquetShardRow[] = [];
  private size = 0;
  /** Rows written so far. */
  count = 0;

  /** Creates (or truncates) `path`. */
  constructor(readonly path: string) {
    this.pq = new ParquetWriter({ writer: fileWriter(path), schema: PARQUET_SHARD_SCHEMA, codec: 'SNAPPY' });
  }

  /** Adds one shard JSONL line (with or without its newline). */
  async add(jsonLine: string): Promise<void> {
    const row = parquetRow(jsonLine);
    this.rows.push(row);
    this.count++;
    this.size += row.id.length + row.source.length + (row.text?.length ?? 0) + (row.messages?.length ?? 0);
    if (this.rows.length >= PARQUET_ROW_GROUP_ROWS || this.size >= PARQUET_ROW_GROUP_CHARS) await this.flush();
  }

  /** Writes the last row group and the footer. */
  async finish(): Promise<void> {
    await this.flush();
    await this.pq.finish();
  }

  private async flush(): Promise<void> {
    const rows = this.rows;
    if (!rows.length) return;
    this.rows = [];
    this.size = 0;
    await this.pq.write({
      columnData: [
        { name: 'id', data: rows.map((r) => r.id) },
        { name: 'source', data: rows.map((r) => r.source) },
        // long, distinct strings: no dictionary
        { name: 'text', data: rows.map((r) => r.text), encoding: 'PLAIN' },
        { name: 'messages', data: rows.map((r) => r.messages), encoding: 'PLAIN' },
      ],
      rowGroupSize: rows.length,
    });
  }
}
