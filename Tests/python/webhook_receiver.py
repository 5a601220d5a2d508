#!/usr/bin/env python3
"""A webhook receiver for Signoff's tests, verifying with implementations nobody at Signoff wrote: `v1` (HMAC-SHA256)
with the `standardwebhooks` package, `v1a` (Ed25519) with PyNaCl, both per standardwebhooks.com.

    webhook_receiver.py PORT_FILE LOG_FILE PUBLIC_KEY_FILE

Serves on a free loopback port (written to PORT_FILE). Secrets are read per path from SECRETS_DIR (= the folder of
LOG_FILE) as `<path>.secret` (whsec_...), the v1a public key (whpk_...) from PUBLIC_KEY_FILE, both when a message
arrives (the test writes them after subscribing). Each message is appended to LOG_FILE as one JSON line:
{path, id, type, v1, v1a, status, body}. Paths decide the answer:
  /ok...          200
  /fail-twice...  500 to the first two attempts of each message id, then 200
  /gone...        410
  /slow...        waits 4 s, then 200 (a server killed meanwhile never sees the answer)
Duplicates (the same webhook-id again) are logged with "duplicate": true: at-least-once delivery, deduplicated here.
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nacl.exceptions
import nacl.signing
import standardwebhooks
import signal

# Started by a test process whose threads block most signals, a mask every child inherits: without this, the test's
# terminate() (SIGTERM) would leave this server running after the test.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

port_file, log_file, public_key_file = sys.argv[1], sys.argv[2], sys.argv[3]
secrets_dir = os.path.dirname(os.path.abspath(log_file))
lock = threading.Lock()
attempts = {}
seen = set()


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def verify_v1a(headers, body):
    key = read(public_key_file)
    if not key or not key.startswith("whpk_"):
        return False
    verify_key = nacl.signing.VerifyKey(base64.b64decode(key[len("whpk_"):]))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for part in headers.get("webhook-signature", "").split(" "):
        version, _, signature = part.partition(",")
        if version != "v1a":
            continue
        try:
            verify_key.verify(content, base64.b64decode(signature))
            return True
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
    return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        name = self.path.strip("/").split("/")[0].split("?")[0]
        secret = read(os.path.join(secrets_dir, name + ".secret"))
        v1 = False
        if secret:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
                v1 = True
            except Exception:
                v1 = False
        v1a = verify_v1a(headers, body) if "webhook-id" in headers else False
        msg_id = headers.get("webhook-id", "")
        with lock:
            attempts[msg_id] = attempts.get(msg_id, 0) + 1
            count = attempts[msg_id]
        if name.startswith("fail-twice") and count <= 2:
            status = 500
        elif name.startswith("gone"):
            status = 410
        else:
            status = 200
        if name.startswith("slow"):
            self.log({"path": name, "id": msg_id, "event": "received", "attempt": count})
            time.sleep(4)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        with lock:
            duplicate = status == 200 and msg_id in seen
            if status == 200:
                seen.add(msg_id)
        self.log({
            "path": name, "id": msg_id, "type": (data or {}).get("type"), "v1": v1, "v1a": v1a, "status": status, "attempt": count,
            "timestamp": headers.get("webhook-timestamp"), "duplicate": duplicate, "body": body.decode("utf-8", "replace"),
        })
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log(self, record):
        with lock, open(log_file, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
