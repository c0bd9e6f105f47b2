"""Shard reader/writer against docs/shards.md.  python -m unittest discover -s infra/trainer/tests"""

import json
import struct
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shards import EOS_ID, MAGIC, ShardError, StageData, make_fixture, pack_documents, write_stage  # noqa: E402


class PackTest(unittest.TestCase):
    def test_packing_cuts_documents_and_records_bounds(self):
        docs = [([1, 2, 3], [1, 1, 1]), ([4, 5, 6, 7, 8, 9], [0, 0, 1, 1, 1, 1]), ([10], [1])]
        seqs, masks, bounds, st = pack_documents(docs, 4, eos_id=EOS_ID)
        self.assertEqual([s.tolist() for s in seqs],
                         [[1, 2, 3, EOS_ID], [4, 5, 6, 7], [8, 9, EOS_ID, 10], [EOS_ID, EOS_ID, EOS_ID, EOS_ID]])
        self.assertEqual([m.tolist() for m in masks], [[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1], [1, 0, 0, 0]])
        # a continuation of a cut document starts at offset 0; new documents where they begin
        self.assertEqual([b.tolist() for b in bounds], [[0], [0], [0, 3], [0]])
        self.assertEqual(st, {"content_tokens": 10, "eos_tokens": 3, "pad_tokens": 3, "documents": 3})

    def test_unpacked_is_one_sequence_per_document(self):
        seqs, masks, bounds, st = pack_documents([([1, 2], [1, 1]), ([3], [0])], 8, pack=False, eos_mask=0)
        self.assertEqual([s.tolist() for s in seqs], [[1, 2, EOS_ID], [3, EOS_ID]])
        self.assertEqual([m.tolist() for m in masks], [[1, 1, 0], [0, 0]])
        self.assertEqual(st["pad_tokens"], 0)


class RoundTripTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name) / "mt1"

    def tearDown(self):
        self.tmp.cleanup()

    def test_write_then_read(self):
        m = make_fixture(self.dir, n_docs=40, seq_len=32, vocab=151936, sequences_per_shard=7, kind="random")
        d = StageData(self.dir)
        self.assertEqual(len(d), m["sequences"])
        self.assertEqual(len(d.shards), len(m["shards"]))
        self.assertEqual(sum(len(s) for s in d.shards[0].tokens.data.reshape(-1, 32)), 7 * 32)
        # the numbers add up as the contract says
        self.assertEqual(m["content_tokens"] + m["eos_tokens"] + m["pad_tokens"], m["tokens"])
        self.assertEqual(m["tokens"], m["sequences"] * 32)
        self.assertEqual(sum(int(d.sequence(i)[1].sum()) for i in range(len(d))), m["loss_tokens"])
        toks = np.concatenate([d.sequence(i)[0] for i in range(len(d))])
        self.assertEqual(int((toks == EOS_ID).sum()), m["eos_tokens"] + m["pad_tokens"])
        # .idx layout: magic, version 1, dtype 4, N, N+1, lengths, pointers, doc_index
        raw = (self.dir / "shard-00000.idx").read_bytes()
        self.assertEqual(raw[:9], MAGIC)
        self.assertEqual(struct.unpack_from("<QBQQ", raw, 9), (1, 4, 7, 8))
        self.assertEqual(len(raw), 34 + 7 * 4 + 7 * 8 + 8 * 8)
        self.assertEqual((self.dir / "shard-00000.mask.idx").read_bytes()[17], 1)
        self.assertEqual(json.loads((self.dir / "shard-00000.jsonl").read_text().splitlines()[0])["source"], "fixture")

    def test_errors_name_the_file(self):
        make_fixture(self.dir, n_docs=10, seq_len=16)
        idx = self.dir / "shard-00000.idx"
        good = idx.read_bytes()
        idx.write_bytes(b"XXXXXXXXX" + good[9:])
        with self.assertRaisesRegex(ShardError, r"shard-00000\.idx: not an MMIDIDX"):
            StageData(self.dir)
        idx.write_bytes(good)
        b = self.dir / "shard-00000.mask.bin"
        b.write_bytes(b.read_bytes()[:-1])
        with self.assertRaisesRegex(ShardError, r"shard-00000\.mask\.bin: .* bytes"):
            StageData(self.dir)
        b.unlink()
        with self.assertRaisesRegex(ShardError, r"shard-00000\.mask\.bin: missing"):
            StageData(self.dir)
        with self.assertRaisesRegex(ShardError, r"manifest\.json: missing"):
            StageData(Path(self.tmp.name))

    def test_packed_stage_rejects_short_sequence(self):
        write_stage(self.dir, [np.arange(8, dtype=np.int32), np.arange(5, dtype=np.int32)],
                    [np.ones(8, np.uint8), np.ones(5, np.uint8)], seq_len=8, pack=True)
        with self.assertRaisesRegex(ShardError, r"shard-00000\.idx: packed stage but sequence 1 has 5 tokens"):
            StageData(self.dir)


if __name__ == "__main__":
    unittest.main()
