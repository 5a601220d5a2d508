"""An independent verifier of a Signoff audit export, written from schema/audit-export.md and schema/ledger.md
with hashlib and PyNaCl only (no Signoff code).

  verify_export.py EXPORT_DIR LEDGER_PUB     exit 0 and "verified ..." when valid; 1 and the reason otherwise
"""
import base64
import hashlib
import json
import os
import struct
import sys
from datetime import datetime, timezone

import nacl.exceptions
import nacl.signing


class Refused(Exception):
    pass


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def verify_note_key(line: str):
    name, key_id_hex, key_b64 = line.strip().split("+", 2)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise Refused("ledger key is not an Ed25519 signed-note key")
    if sha256(name.encode() + b"\n" + raw)[:4].hex() != key_id_hex:
        raise Refused("ledger key id mismatch")
    return name, bytes.fromhex(key_id_hex), nacl.signing.VerifyKey(raw[1:])


def verify_checkpoint(note: str, key):
    name, key_id, verify_key = key
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise Refused("checkpoint.txt: not a signed note")
    text += "\n"
    ok = False
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused("checkpoint.txt: malformed signature line")
        signer, blob_b64 = line[2:].split(" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if signer == name and blob[:4] == key_id:
            try:
                verify_key.verify(text.encode(), blob[4:])
                ok = True
            except nacl.exceptions.BadSignatureError:
                raise Refused("checkpoint.txt: bad signature")
    if not ok:
        raise Refused("checkpoint.txt: no signature by the ledger key")
    origin, size, root_b64 = text.split("\n")[:3]
    if origin != name:
        raise Refused("checkpoint origin is not the ledger key name")
    return int(size), base64.b64decode(root_b64, validate=True)


def decode_entry(data: bytes):
    if data[0] != 1:
        raise Refused("unknown entry version")
    seq, time_ms = struct.unpack(">QQ", data[1:17])
    pos = 17
    (n,) = struct.unpack(">H", data[pos:pos + 2]); pos += 2
    kind = data[pos:pos + n].decode(); pos += n
    (n,) = struct.unpack(">H", data[pos:pos + 2]); pos += 2
    actor = data[pos:pos + n].decode(); pos += n
    (n,) = struct.unpack(">I", data[pos:pos + 4]); pos += 4
    payload = data[pos:pos + n]; pos += n
    if pos != len(data) or len(payload) != n:
        raise Refused("entry is truncated or has trailing bytes")
    if time_ms >= 1 << 63:
        time_ms -= 1 << 64
    return seq, time_ms, kind, actor, payload


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def verify_inclusion(leaf: bytes, index: int, size: int, proof, root: bytes):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        raise Refused("index beyond tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Refused("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Refused("inclusion proof does not lead to the checkpoint root")


def rfc3339(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def hexdigest(text: str) -> str:
    """A hash written `sha256:<hex>` (format 3) as its hex; refuses anything else."""
    if not text.startswith("sha256:") or len(text) != 71:
        raise Refused(f"{text!r} is not sha256:<64 hex digits>")
    return text[7:]


def fingerprint(text: str) -> str:
    """A key fingerprint as bare hex, whether written sha256:<hex> (ledger format 2) or bare (format 1)."""
    return text[7:] if text.startswith("sha256:") else text


def field(event: dict, name: str, legacy: str):
    """An event field by its format-2 (snake_case) name, or its format-1 (camelCase) one."""
    return event[name] if name in event else event.get(legacy)


def main(directory: str, ledger_pub: str) -> int:
    key = verify_note_key(open(ledger_pub).read())
    size, root = verify_checkpoint(open(os.path.join(directory, "checkpoint.txt"), encoding="utf-8").read(), key)
    entries = open(os.path.join(directory, "entries.jsonl"), "rb").read().splitlines()
    proofs = open(os.path.join(directory, "proofs.jsonl"), "rb").read().splitlines()
    envelope_lines = open(os.path.join(directory, "envelopes.jsonl"), "rb")
    if len(entries) != len(proofs):
        raise Refused("entries.jsonl and proofs.jsonl differ in length")
    keys = {}  # fingerprint -> (principal, verify key, enrolled_ms, revoked_ms)
    previous = -1
    decisions = signed = 0
    for line, proof_line in zip(entries, proofs):
        e, p = json.loads(line), json.loads(proof_line)
        raw = base64.b64decode(e["entry"], validate=True)
        seq, time_ms, kind, actor, payload = decode_entry(raw)
        if (seq, kind, actor, rfc3339(time_ms)) != (e["sequence"], e["kind"], e["actor"], e["time"]):
            raise Refused(f"entry {e['sequence']}: fields differ from its bytes")
        leaf = sha256(b"\x00" + raw)
        if leaf.hex() != hexdigest(e["leaf_hash"]) or p["leaf_hash"] != e["leaf_hash"] or p["sequence"] != seq or p["tree_size"] != size:
            raise Refused(f"entry {seq}: leaf hash or proof header mismatch")
        if seq <= previous or seq >= size:
            raise Refused(f"entry {seq}: out of order or beyond the checkpoint")
        previous = seq
        verify_inclusion(leaf, seq, size, [bytes.fromhex(hexdigest(h)) for h in p["proof"]], root)
        event = json.loads(payload) if payload else {}
        if kind in ("principal.added", "key.enrolled"):
            vkey = field(event, "verifier_key", "verifierKey")
            principal = event.get("name") or event.get("principal")
            if vkey:
                raw_key = base64.b64decode(vkey.split("+", 2)[2])[1:]
                keys[hashlib.sha256(raw_key).hexdigest()] = [principal, nacl.signing.VerifyKey(raw_key), time_ms, None]
        elif kind == "key.revoked":
            keys[fingerprint(field(event, "key_fingerprint", "fingerprint"))][3] = time_ms
        elif kind in ("retrospective.recorded", "delegation.granted") and event.get("envelope"):
            # Signed by the entry's actor: every signature with a key they had at the time.
            envelope = event["envelope"]
            body = base64.b64decode(envelope["payload"])
            if not envelope["signatures"]:
                raise Refused(f"entry {seq}: a signed {kind} without a signature")
            for sig in envelope["signatures"]:
                record = keys.get(fingerprint(sig["keyid"]))
                if not record or record[0] != actor or time_ms < record[2] or (record[3] is not None and time_ms >= record[3]):
                    raise Refused(f"entry {seq}: {kind} signed by a key {actor} did not have at the time")
                try:
                    record[1].verify(pae(envelope["payloadType"], body), base64.b64decode(sig["sig"]))
                except nacl.exceptions.BadSignatureError:
                    raise Refused(f"entry {seq}: invalid {kind} signature")
        elif kind == "decision.recorded":
            decisions += 1
            envelope = event.get("envelope")
            if envelope:
                signed += 1
                key_fingerprint = fingerprint(field(event, "key_fingerprint", "keyFingerprint"))
                record = keys.get(key_fingerprint)
                if not record or record[0] != actor or time_ms < record[2] or (record[3] is not None and time_ms >= record[3]):
                    raise Refused(f"entry {seq}: decision signed by a key {actor} did not have at the time")
                body = base64.b64decode(envelope["payload"])
                sig = next(s for s in envelope["signatures"] if fingerprint(s["keyid"]) == key_fingerprint)
                try:
                    record[1].verify(pae(envelope["payloadType"], body), base64.b64decode(sig["sig"]))
                except nacl.exceptions.BadSignatureError:
                    raise Refused(f"entry {seq}: invalid decision signature")
                statement = json.loads(body)
                predicate = statement["predicate"]
                decider = predicate["approver"] if statement["predicateType"].endswith("/v1") else predicate["actor"]
                if decider != actor or statement["subject"][0]["digest"]["sha256"] != hexdigest(field(event, "bundle_digest", "bundleDigest")):
                    raise Refused(f"entry {seq}: statement does not match the decision")
                line = envelope_lines.readline()
                if not line:
                    raise Refused(f"envelopes.jsonl ends before the envelope of entry {seq}")
                file_env = json.loads(line)
                if file_env.get("sequence") != seq or file_env.get("envelope") != envelope:
                    raise Refused(f"envelopes.jsonl: the line for entry {seq} differs from the recorded envelope")
    if envelope_lines.readline():
        raise Refused("envelopes.jsonl has a line for no signed decision of the export")
    manifest = json.load(open(os.path.join(directory, "MANIFEST.json")))
    if manifest.get("format") != "signoff-audit-export/3":
        raise Refused(f"MANIFEST.json names format {manifest.get('format')!r}; this verifier reads signoff-audit-export/3")
    present = set()
    for base, _, files in os.walk(directory):
        for f in files:
            present.add(os.path.relpath(os.path.join(base, f), directory))
    present.discard("MANIFEST.json")
    if present != set(manifest["files"]):
        raise Refused(f"files differ from the manifest: {sorted(present ^ set(manifest['files']))}")
    for name, digest in manifest["files"].items():
        if "sha256:" + hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest() != digest:
            raise Refused(f"{name} does not match its manifest digest")
    if manifest["checkpoint_size"] != size or manifest["entries"] != len(entries):
        raise Refused("MANIFEST.json counts differ")
    print(f"verified {len(entries)} entries against checkpoint {size}; {signed}/{decisions} decisions signed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], sys.argv[2]))
    except (Refused, KeyError, ValueError, StopIteration, FileNotFoundError) as error:
        print(f"refused: {type(error).__name__}: {error}")
        sys.exit(1)
