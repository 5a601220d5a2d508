"""Reads a ledger served as a C2SP tlog-tiles log with tlog-scales (PyPI; github.com/florolf/tlog-scales), a tile
reader nobody here wrote: its TilesReader fetches the checkpoint, the Merkle tiles and the entry bundles over HTTP.

  tiles_read.py PREFIX TOKEN OLD_SIZE
prints one JSON object: the checkpoint's size and root, the root tlog-scales recomputes from the tiles, the leaf hash
SHA-256(0x00 || entry) of every entry of every bundle, the level-0 tile hashes, and the consistency proof from OLD_SIZE.
"""
import hashlib
import json
import sys

from tlog_scales.backend import HttpBackend
from tlog_scales.reader import TilesReader


def main(prefix: str, token: str, old: int) -> int:
    backend = HttpBackend(prefix)
    backend.session.headers["Authorization"] = f"Bearer {token}"
    reader = TilesReader(backend)
    checkpoint = reader.get_checkpoint()
    size = checkpoint.size
    entries = [reader.get_entry(i) for i in range(size)]
    print(json.dumps({
        "size": size,
        "checkpoint_root": checkpoint.root_hash.hex(),
        "computed_root": reader.calculate_root_hash().hex(),
        "leaves": [hashlib.sha256(b"\x00" + e).hexdigest() for e in entries],
        "tile_hashes": [reader.mth(i, i + 1).hex() for i in range(size)],
        "consistency": [h.hex() for h in reader.get_consistency_proof(old, size).node_hashes],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
