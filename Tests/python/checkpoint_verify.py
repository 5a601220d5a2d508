"""An independent verifier of a C2SP signed-note checkpoint, written from the specs
(c2sp.org/signed-note, c2sp.org/tlog-checkpoint), not from Signoff's Swift code.

  checkpoint_verify.py VERIFIER_KEY EXPECTED_SIZE EXPECTED_ROOT_HEX < note
exit 0 when the note carries a valid Ed25519 signature by VERIFIER_KEY over a checkpoint
with that size and root; 1 otherwise (reason on stdout).
"""
import base64
import hashlib
import sys

import nacl.exceptions
import nacl.signing


def fail(reason: str) -> int:
    print("refused:", reason)
    return 1


def main(verifier_key: str, want_size: str, want_root_hex: str) -> int:
    name, key_id_hex, key_b64 = verifier_key.split("+", 2)
    key = base64.b64decode(key_b64, validate=True)
    if key[0] != 0x01 or len(key) != 33:
        return fail("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if key_id.hex() != key_id_hex:
        return fail("verifier key id mismatch")

    note = sys.stdin.buffer.read().decode("utf-8")
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        return fail("no blank line")
    text += "\n"
    verified = False
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            return fail("malformed signature line")
        sig_name, sig_b64 = line[2:].split(" ")
        blob = base64.b64decode(sig_b64, validate=True)
        if sig_name != name or blob[:4] != key_id:
            continue  # unknown signer: ignored, as the spec says
        try:
            nacl.signing.VerifyKey(key[1:]).verify(text.encode(), blob[4:])
            verified = True
        except nacl.exceptions.BadSignatureError:
            return fail("bad signature")
    if not verified:
        return fail("no signature by the expected key")

    lines = text.split("\n")
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    if origin != name:
        return fail("origin is not the key name")
    if size != want_size or (size != "0" and size.startswith("0")):
        return fail(f"size {size} != {want_size}")
    if base64.b64decode(root_b64, validate=True).hex() != want_root_hex:
        return fail("root mismatch")
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
