"""Verifies a cosigned checkpoint with tlog-scales (PyPI; github.com/florolf/tlog-scales), a C2SP tlog library nobody
here wrote: its VkeySet verifies every signature line against the keys given — the log's note key (type 0x01) and
witnesses' cosignature keys (type 0x04, Ed25519CosignatureVerifier).

  cosignature_verify.py VKEY [VKEY ...] < note
prints one line per verified signature, "NAME KEYID TIME" (TIME: the cosignature's, or - for a note signature), and
exits 0 when every key given verified; 1 otherwise, saying which did not.
"""
import sys

from tlog_scales.signing import Vkey, VkeySet
from tlog_scales.tlog import Checkpoint


def main(vkeys: list[str]) -> int:
    keys = [Vkey.from_string(v) for v in vkeys]
    checkpoint = Checkpoint.from_text(sys.stdin.read())
    valid = VkeySet(*keys).verify(checkpoint.signatures, checkpoint)
    for vkey, signature in sorted(valid, key=lambda pair: pair[0].name):
        time = int.from_bytes(signature.payload[:8]) if vkey.sig_type == 4 else "-"
        print(f"{vkey.name} {vkey.key_id:08x} {time}")
    missing = [k.serialize() for k in keys if k not in {v for v, _ in valid}]
    if missing:
        print("not verified: " + ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
