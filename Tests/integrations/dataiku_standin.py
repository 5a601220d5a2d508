#!/usr/bin/env python3
"""A local stand-in for the few Dataiku DSS public API endpoints integrations/dataiku/signoff_dataiku.py calls.

Each route is shaped after the request dataiku-api-client itself sends and what it expects back (dataikuapi/
dssclient.py: `/dip/publicapi` prefix, HTTP basic auth with the API key as user name, errors as
{errorType, message}; dss/project.py: export_bundle, download_exported_bundle_archive_to_file;
dss/projectdeployer.py: upload_bundle, list_deployments, create_deployment, get_settings/save, start_update;
dss/future.py: GET /futures/{jobId} until hasResult). It records what it receives, so a test can check that the
bundle the deployer deployed is the one whose digest was approved. Unknown calls are answered 404 and recorded.

Standalone: python3 dataiku_standin.py --port 11200 --api-key KEY [--project WEBSHOP] [--infra prod-infra]
"""
import argparse
import hashlib
import io
import json
import os
import re
import threading
import time
import zipfile
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PREFIX = "/dip/publicapi"


class DSSError(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status, self.error_type = status, error_type


def not_found(what):
    return DSSError(404, "com.dataiku.dip.exceptions.NotFoundException", what)


class StandIn:
    def __init__(self, api_key, projects=("WEBSHOP",), infras=("prod-infra",), update_polls=2):
        self.api_key, self.projects, self.infras, self.update_polls = api_key, set(projects), set(infras), update_polls
        self.lock = threading.Lock()
        self.exported = {}      # (project, bundle) -> archive bytes
        self.published = {}     # (published project, bundle) -> sha256:HEX of the uploaded archive
        self.deployments = {}   # id -> settings
        self.updates = []       # {deployment, published_project, bundle, sha256}
        self.futures = {}       # job id -> polls left before the result
        self.calls = []         # "METHOD /path"
        self.unexpected = []
        self.unauthorized = 0
        self.on_update = None   # called with each update as it starts (a test's hook)
        self.server = None

    # --- routes -------------------------------------------------------------------------------------------
    def route(self, method, path, query, body, content_type):
        routes = [
            ("PUT", r"/projects/([^/]+)/bundles/exported/([^/]+)", self.export_bundle),
            ("GET", r"/projects/([^/]+)/bundles/exported/([^/]+)/archive", self.archive),
            ("POST", r"/project-deployer/projects/bundles", self.upload_bundle),
            ("GET", r"/project-deployer/deployments", self.list_deployments),
            ("POST", r"/project-deployer/deployments", self.create_deployment),
            ("GET", r"/project-deployer/deployments/([^/]+)/settings", self.get_settings),
            ("PUT", r"/project-deployer/deployments/([^/]+)/settings", self.save_settings),
            ("POST", r"/project-deployer/deployments/([^/]+)/actions/update", self.start_update),
            ("GET", r"/futures/([^/]+)", self.future),
        ]
        for m, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if m == method and match:
                return handler(*match.groups(), query=query, body=body, content_type=content_type)
        self.unexpected.append(f"{method} {path}")
        raise not_found(f"no such endpoint: {method} {path}")

    def export_bundle(self, project, bundle, **_):
        if project not in self.projects:
            raise not_found(f"project {project} does not exist")
        if (project, bundle) in self.exported:
            raise DSSError(400, "com.dataiku.dip.exceptions.CodedException", f"bundle {bundle} already exists")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("export-manifest.json", json.dumps({"projectKey": project, "bundleId": bundle,
                                                           "exportedOn": int(time.time() * 1000)}))
            z.writestr("project/params.json", os.urandom(2048).hex())
            # What the integration's inventory reads: a dataset stored in a shared connection, a recipe in a code env.
            z.writestr("project/datasets/orders.json", json.dumps({"type": "PostgreSQL", "params": {"connection": "warehouse-pg"}}))
            z.writestr("project/recipes/compute_orders.json",
                       json.dumps({"type": "python", "params": {"envSelection": {"envMode": "EXPLICIT_ENV", "envName": "py311-ml"}}}))
        self.exported[(project, bundle)] = buf.getvalue()
        return 200, {"bundleId": bundle, "projectKey": project}

    def archive(self, project, bundle, **_):
        if (project, bundle) not in self.exported:
            raise not_found(f"bundle {bundle} of {project} does not exist")
        return 200, self.exported[(project, bundle)]

    def upload_bundle(self, query, body, content_type, **_):
        data = multipart_file(content_type, body, "file")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                manifest = json.loads(z.read("export-manifest.json"))
        except (zipfile.BadZipFile, KeyError, ValueError):
            raise DSSError(400, "com.dataiku.dip.exceptions.CodedException", "not a bundle archive")
        key = (query.get("projectKey") or manifest["projectKey"], manifest["bundleId"])
        if key in self.published:
            raise DSSError(400, "com.dataiku.dip.exceptions.CodedException", f"bundle {key[1]} already exists")
        self.published[key] = "sha256:" + hashlib.sha256(data).hexdigest()
        return 204, None

    def list_deployments(self, **_):
        return 200, [{"deploymentBasicInfo": dict(s), "type": "PROJECT"} for s in self.deployments.values()]

    def create_deployment(self, body, **_):
        s = json.loads(body)
        if s["deploymentId"] in self.deployments:
            raise DSSError(400, "com.dataiku.dip.exceptions.CodedException", "deployment already exists")
        self.check(s["publishedProjectKey"], s["bundleId"], s["infraId"])
        self.deployments[s["deploymentId"]] = {"id": s["deploymentId"], "publishedProjectKey": s["publishedProjectKey"],
                                               "infraId": s["infraId"], "bundleId": s["bundleId"]}
        return 200, self.deployments[s["deploymentId"]]

    def get_settings(self, deployment, **_):
        if deployment not in self.deployments:
            raise not_found(f"deployment {deployment} does not exist")
        return 200, self.deployments[deployment]

    def save_settings(self, deployment, body, **_):
        old, new = self.get_settings(deployment)[1], json.loads(body)
        if (new.get("id"), new.get("publishedProjectKey")) != (old["id"], old["publishedProjectKey"]):
            raise DSSError(400, "com.dataiku.dip.exceptions.CodedException", "cannot change id or published project")
        self.check(new["publishedProjectKey"], new["bundleId"], new["infraId"])
        self.deployments[deployment] = new
        return 204, None

    def start_update(self, deployment, **_):
        s = self.get_settings(deployment)[1]
        self.updates.append({"deployment": deployment, "published_project": s["publishedProjectKey"],
                             "bundle": s["bundleId"], "sha256": self.published[(s["publishedProjectKey"], s["bundleId"])]})
        if self.on_update:
            self.on_update(self.updates[-1])
        job = "update-%d" % len(self.updates)
        self.futures[job] = self.update_polls
        return 200, {"jobId": job, "hasResult": False, "alive": True}

    def future(self, job, **_):
        if job not in self.futures:
            raise not_found(f"future {job} does not exist")
        if self.futures[job] > 0:
            self.futures[job] -= 1
            return 200, {"jobId": job, "hasResult": False, "alive": True, "progress": {}}
        return 200, {"jobId": job, "hasResult": True, "alive": False, "result": {
            "messages": [], "anyMessage": False, "success": False, "warning": False, "error": False,
            "fatal": False, "maxSeverity": None}}

    def check(self, published_project, bundle, infra):
        if (published_project, bundle) not in self.published:
            raise not_found(f"bundle {bundle} of {published_project} is not on the deployer")
        if infra not in self.infras:
            raise not_found(f"infrastructure {infra} does not exist")

    # --- server -------------------------------------------------------------------------------------------
    def start(self, host="127.0.0.1", port=0):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self):
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with standin.lock:
                    standin.calls.append(f"{self.command} {url.path}")
                    try:
                        if not standin.authorized(self.headers.get("Authorization", "")):
                            standin.unauthorized += 1
                            raise DSSError(401, "com.dataiku.dip.exceptions.UnauthorizedException",
                                           "Not authenticated: bad API key")
                        if not url.path.startswith(PREFIX):
                            raise not_found(url.path)
                        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                        status, answer = standin.route(self.command, url.path[len(PREFIX):], query, body,
                                                       self.headers.get("Content-Type", ""))
                    except DSSError as e:
                        status, answer = e.status, {"errorType": e.error_type, "message": str(e)}
                    except (KeyError, ValueError) as e:
                        status, answer = 400, {"errorType": "java.lang.IllegalArgumentException", "message": repr(e)}
                self.send_response(status)
                if isinstance(answer, bytes):
                    self.send_header("Content-Type", "application/zip")
                    payload = answer
                else:
                    self.send_header("Content-Type", "application/json")
                    payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return "http://%s:%d" % self.server.server_address[:2]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def authorized(self, header):
        if not header.startswith("Basic "):
            return False
        try:
            user, _, _ = b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.api_key

    def record(self):
        return {"calls": self.calls, "unexpected": self.unexpected, "unauthorized": self.unauthorized,
                "published": {f"{p}/{b}": d for (p, b), d in self.published.items()},
                "deployments": self.deployments, "updates": self.updates}


def multipart_file(content_type, body, field):
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not m:
        raise DSSError(400, "java.lang.IllegalArgumentException", "expected multipart/form-data")
    for part in body.split(b"--" + m.group(1).encode())[1:-1]:
        head, _, content = part[2:].partition(b"\r\n\r\n")
        if re.search(rb'name="%s"' % field.encode(), head):
            return content[:-2] if content.endswith(b"\r\n") else content
    raise DSSError(400, "java.lang.IllegalArgumentException", f"no {field} part")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=11200)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--project", action="append", default=[])
    ap.add_argument("--infra", action="append", default=[])
    a = ap.parse_args()
    s = StandIn(a.api_key, a.project or ["WEBSHOP"], a.infra or ["prod-infra"])
    print("DSS stand-in at", s.start(port=a.port), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        s.stop()
        print(json.dumps(s.record(), indent=2))
