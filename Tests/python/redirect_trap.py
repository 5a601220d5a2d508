"""Two loopback HTTP servers: one that answers every request with a 307 redirect to the other, which records the
Authorization header of anything that reaches it. Prints the two ports, then serves until killed.

  redirect_trap.py LOGFILE PORTFILE   (the two ports are written to PORTFILE, "REDIRECT TRAP")
"""
import http.server
import socketserver
import sys
import threading

log = sys.argv[1]


class Trap(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path} authorization={self.headers.get('Authorization')!r}\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"requests":[]}')

    do_GET = do_POST = handle_any

    def log_message(self, *args):
        pass


trap = socketserver.TCPServer(("127.0.0.1", 0), Trap)


class Redirect(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        self.send_response(307)
        self.send_header("Location", f"http://127.0.0.1:{trap.server_address[1]}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = handle_any

    def log_message(self, *args):
        pass


redirect = socketserver.TCPServer(("127.0.0.1", 0), Redirect)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(f"{redirect.server_address[1]} {trap.server_address[1]}")
import os
import signal

# Started by a test process whose threads block most signals, a mask every child inherits: without this, the test's
# terminate() (SIGTERM) would leave this server running after the test.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
threading.Thread(target=trap.serve_forever, daemon=True).start()
redirect.serve_forever()
