#!/usr/bin/env python3
"""A loopback HTTP proxy that loses answers: it forwards every request to UPSTREAM and, for the first DROP requests whose
"METHOD PATH" starts with PREFIX, reads the upstream's answer and then closes the client's connection without sending
it -- the server recorded the call, the client never heard. Each forwarded request's method, path and Idempotency-Key
are appended to LOG as JSON lines. Writes its port to PORTFILE once listening.

usage: lossy_proxy.py UPSTREAM PORTFILE LOG PREFIX DROP
"""
import http.client
import http.server
import json
import socket
import sys
import threading
import urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
port_file, log_file, prefix, drops = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
lock = threading.Lock()
state = {"dropped": 0}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        connection.request(self.command, self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        with lock:
            with open(log_file, "a") as log:
                log.write(json.dumps({"method": self.command, "path": self.path, "key": self.headers.get("Idempotency-Key"), "status": answer.status}) + "\n")
            lose = f"{self.command} {self.path}".startswith(prefix) and state["dropped"] < drops
            if lose:
                state["dropped"] += 1
        if lose:
            # Recorded upstream; the client's connection ends with no answer.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os

os.rename(port_file + ".tmp", port_file)
server.serve_forever()
