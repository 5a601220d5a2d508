#!/usr/bin/env python3
"""Deploy a Dataiku DSS project bundle only once Signoff allows exactly that bundle, and record the deployment.

Exports a bundle of the project on the design node and downloads its archive, files (or finds) a Signoff request
for the archive's SHA-256, long-polls Signoff's gate until it allows the deployment, records its start, uploads the
same archive to the Project Deployer, points the deployment at the bundle, runs the update and waits for it, then
records the outcome. Usage and configuration: integrations/dataiku/README.md.

Exit codes: 0 deployed; 2 refused, or the request was rejected, withdrawn or expired; 75 the wait ran out;
64 bad configuration; 1 anything else (a deployment that failed after its start is recorded as failed).
Secrets come from the environment only: SIGNOFF_TOKEN, DSS_API_KEY (and DSS_DEPLOYER_API_KEY).
"""
import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile

REFUSED, TIMED_OUT, BAD_INPUT, FAILED = 2, 75, 64, 1
LONG_POLL_MAX = 50  # seconds: the most GET /v1/gate?wait= may ask for


class Stop(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(message):
    print("signoff_dataiku: " + message, file=sys.stderr, flush=True)


def parse_duration(text):
    m = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if not m:
        raise Stop(BAD_INPUT, f"bad duration {text!r}: use e.g. 45s, 30m, 2h")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # never carry the token to another address


class SignoffError(Exception):
    def __init__(self, status, detail, rule=None):
        super().__init__(f"{detail} ({rule})" if rule else detail)
        self.status, self.detail, self.rule = status, detail, rule


class Signoff:
    """The few calls of Signoff's HTTP API this script makes, as the service token's account."""

    def __init__(self, server, token):
        self.server, self._token = server.rstrip("/"), token
        self._opener = urllib.request.build_opener(_NoRedirect)

    def call(self, method, path, body=None, timeout=30, raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json", "Content-Type": content_type}
        if method != "GET":
            # A retried write is answered, not recorded twice (the server keeps the first answer for the key).
            headers["Idempotency-Key"] = str(uuid.uuid4())
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                text = resp.read()
                return json.loads(text) if text and resp.headers.get_content_type().endswith("json") else text
        except urllib.error.HTTPError as e:
            try:
                problem = json.load(e)
            except ValueError:
                problem = {}
            raise SignoffError(e.code, problem.get("detail") or f"HTTP {e.code} {e.reason}", problem.get("rule"))

    def file_request(self, project, environment, bundle, digest, description, bundle_id=None, labels=None):
        body = {"project": project, "environment": environment, "bundle": bundle, "digest": digest, "reuse": True}
        if labels:
            body["labels"] = labels
        if bundle_id:
            # Where the bundle came from: the request's page shows DSS's bundle id beside the archive.
            body["source"] = {"system": "dataiku", "bundle_id": bundle_id}
        if description:
            body["description"] = description
        answer = self.call("POST", "/v1/requests", body)
        return answer["request"], not answer.get("entries")

    def gate(self, project, environment, digest, wait):
        query = urllib.parse.urlencode({"project": project, "environment": environment, "digest": digest,
                                        "wait": wait})
        try:
            return self.call("GET", "/v1/gate?" + query, timeout=wait + 30)
        except SignoffError as e:
            # The server holds as many long polls as it will (429, Retry-After: 10): spend the wait here, look once.
            if e.status != 429 or wait == 0:
                raise
            time.sleep(min(wait, 10))
            return self.gate(project, environment, digest, 0)

    def start(self, request, note):
        return self.call("POST", f"/v1/requests/{urllib.parse.quote(request)}/deployments/start", {"note": note})

    def request(self, request):
        return self.call("GET", f"/v1/requests/{urllib.parse.quote(request)}")

    def deployed_request(self, project, environment):
        """The request whose bundle runs in the environment now, if any."""
        query = urllib.parse.urlencode({"project": project, "environment": environment})
        for env in self.call("GET", "/v1/deployments?" + query).get("items", []):
            if env.get("project") == project and env.get("environment") == environment and env.get("running"):
                return env["running"].get("request")
        return None

    def attach_inventory(self, request, inventory, labels, bundle_id=None):
        """The bundle's inventory as bundle-inventory evidence with the labels it gives, its document uploaded."""
        document = json.dumps(inventory, sort_keys=True, indent=2).encode() + b"\n"
        digest = "sha256:" + hashlib.sha256(document).hexdigest()
        body = {"kind": INVENTORY_KIND, "status": "passed", "digest": digest}
        if labels:
            body["labels"] = labels
        if bundle_id:
            # Where the bundle came from, also when a person filed the request and this run carries on with it.
            body["source"] = {"system": "dataiku", "bundle_id": bundle_id}
        self.call("POST", f"/v1/requests/{urllib.parse.quote(request)}/evidence", body)
        self.call("PUT", f"/v1/requests/{urllib.parse.quote(request)}/evidence-documents/{urllib.parse.quote(digest)}",
                  raw=document, content_type="application/json")
        return digest

    def inventory_of(self, request):
        """The inventory attached to a request's current revision, or None."""
        view = self.request(request)
        for e in reversed(view.get("evidence", [])):
            if e.get("kind") == INVENTORY_KIND and e.get("revision") == view.get("revision"):
                raw = self.call("GET", f"/v1/requests/{urllib.parse.quote(request)}/evidence-documents/"
                                       f"{urllib.parse.quote(e['digest'])}")
                return json.loads(raw) if isinstance(raw, (bytes, str)) else raw
        return None

    def finish(self, request, outcome, note):
        return self.call("POST", f"/v1/requests/{urllib.parse.quote(request)}/deployments",
                         {"outcome": outcome, "note": note})


@dataclasses.dataclass
class Config:
    project_key: str            # the DSS project on the design node
    infra: str                  # the Project Deployer infrastructure (used when the deployment is created)
    deployment: str             # the Project Deployer deployment to create or update
    signoff_project: str
    signoff_env: str
    bundle_id: str = ""         # default: signoff-YYYYMMDD-HHMMSS
    published_project: str = ""  # the project key on the deployer (default: project_key)
    skip_export: bool = False   # the bundle is already exported: only download it
    wait: str = "30m"
    update_timeout: str = "30m"
    description: str = ""
    workdir: str = "."
    touches: str = ""           # declared shared objects, e.g. connections,plugins
    label: tuple = ()           # other labels, NAME=VALUE[,VALUE] each

    def labels(self):
        """The labels declared: --touches and every --label."""
        labels = {}
        for item in ([f"touches={self.touches}"] if self.touches else []) + list(self.label):
            name, sep, values = item.partition("=")
            if not sep or not name or not values or "" in values.split(","):
                raise Stop(BAD_INPUT, f"--label {item!r}: expected NAME=VALUE[,VALUE]")
            if name in labels:
                raise Stop(BAD_INPUT, f"label {name} is given twice")
            labels[name] = values.split(",")
        return labels


INVENTORY_KIND = "bundle-inventory"
SHARED = {"connections": "connections", "code_envs": "code-envs", "plugins": "plugins"}


def bundle_inventory(archive):
    """What the bundle archive uses that other projects share: the connections its datasets are stored in
    (`params.connection` of each `datasets/*.json`), the code environments its recipes and notebooks run in
    (`params.envSelection.envName`, and the project's `settings.codeEnvs` default), and the plugins providing its
    dataset and recipe types (types `CustomCode_*`, `CustomPython_*`, `Custom_*`, `pyrecipe_*`: the plugin's component).
    Each a sorted list of names; entries that are not such JSON documents are left alone."""
    found = {"connections": set(), "code_envs": set(), "plugins": set()}

    def env_name(selection):
        if isinstance(selection, dict) and selection.get("envMode") not in ("INHERIT", "USE_BUILTIN_MODE"):
            name = selection.get("envName")
            if isinstance(name, str) and name:
                found["code_envs"].add(name)

    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            if not name.endswith(".json"):
                continue
            parts = name.split("/")
            try:
                doc = json.loads(z.read(name))
            except (ValueError, KeyError):
                continue
            if not isinstance(doc, dict):
                continue
            params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
            kind = doc.get("type") if isinstance(doc.get("type"), str) else ""
            if "datasets" in parts[:-1]:
                connection = params.get("connection")
                if isinstance(connection, str) and connection:
                    found["connections"].add(connection)
            if "datasets" in parts[:-1] or "recipes" in parts[:-1]:
                for prefix in ("CustomCode_", "CustomPython_", "Custom_", "pyrecipe_"):
                    if kind.startswith(prefix) and len(kind) > len(prefix):
                        found["plugins"].add(kind[len(prefix):])
                env_name(params.get("envSelection"))
            settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
            for selection in (settings.get("codeEnvs") or {}).values() if isinstance(settings.get("codeEnvs"), dict) else []:
                env_name(selection)
    return {k: sorted(v) for k, v in found.items()}


def new_shared_objects(inventory, baseline):
    """The `touches` label values for what the inventory has and the baseline (the inventory of the bundle running
    now; none: nothing runs yet) lacks: connections, code-envs, plugins."""
    baseline = baseline or {}
    touched = [label for key, label in SHARED.items()
               if set(inventory.get(key, [])) - set(baseline.get(key, []))]
    return {"touches": sorted(touched)} if touched else {}


def digest_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def reasons_of(gate):
    return "; ".join(f"{r.get('rule')}: {r.get('message')}" for r in gate.get("reasons", [])) or "no reason given"


def closing_words(request):
    said = [f"{d.get('actor')} at {d.get('stage')}: {d.get('comment')}" for d in request.get("decisions", [])
            if d.get("decision") == "reject"]
    return " (" + "; ".join(said) + ")" if said else ""


def wait_for_gate(signoff, cfg, request, digest):
    deadline = time.monotonic() + parse_duration(cfg.wait)
    said, first = None, True
    while True:
        poll = 0 if first else max(0, min(LONG_POLL_MAX, math.ceil(deadline - time.monotonic())))
        first = False
        began = time.monotonic()
        try:
            gate = signoff.gate(cfg.signoff_project, cfg.signoff_env, digest, poll)
        except SignoffError as e:
            if e.status == 404:  # no open request any more: it closed between two polls
                closed = signoff.call("GET", f"/v1/requests/{urllib.parse.quote(request)}")
                if closed.get("status") != "active":
                    raise Stop(REFUSED, f"{request} is {closed.get('status')}{closing_words(closed)}")
            raise Stop(BAD_INPUT if e.status in (400, 404, 409, 422) else FAILED, f"gate: {e}")
        if gate.get("allowed"):
            return gate
        if gate.get("status", "active") != "active":
            try:
                why = closing_words(signoff.call("GET", f"/v1/requests/{urllib.parse.quote(request)}"))
            except (SignoffError, OSError):
                why = ""
            raise Stop(REFUSED, f"{gate.get('request')} is {gate['status']}{why}: {reasons_of(gate)}")
        if time.monotonic() >= deadline:
            raise Stop(TIMED_OUT, f"gave up after {cfg.wait}; {gate.get('request')} still waits for: "
                                  f"{reasons_of(gate)}")
        if reasons_of(gate) != said:
            said = reasons_of(gate)
            log(f"waiting: {gate.get('request')}: {said}")
        if poll and time.monotonic() - began < 1:
            time.sleep(min(5, max(0, deadline - time.monotonic())))  # a server that does not long-poll


def wait_for_future(future, timeout):
    deadline = time.monotonic() + timeout
    pause = 0.5
    while True:
        state = future.get_state()
        if state.get("hasResult"):
            return state.get("result")
        if state.get("alive") is False or state.get("aborted"):
            problem = (state.get("exception") or {}).get("message") or "the update stopped without a result"
            raise RuntimeError(problem)
        if time.monotonic() > deadline:
            raise RuntimeError("the update did not finish in time")
        time.sleep(pause)
        pause = min(pause * 1.5, 5)


def deploy_on_deployer(deployer, cfg, bundle_id, archive):
    published = cfg.published_project or cfg.project_key
    with open(archive, "rb") as f:
        deployer.upload_bundle(f, project_key=published)
    log(f"uploaded bundle {bundle_id} to the Project Deployer (project {published})")
    existing = {d["deploymentBasicInfo"]["id"] for d in deployer.list_deployments(as_objects=False)}
    if cfg.deployment in existing:
        deployment = deployer.get_deployment(cfg.deployment)
        settings = deployment.get_settings()
        raw = settings.get_raw()
        if raw.get("publishedProjectKey") != published or (cfg.infra and raw.get("infraId") != cfg.infra):
            raise RuntimeError(f"deployment {cfg.deployment} deploys {raw.get('publishedProjectKey')} to "
                               f"{raw.get('infraId')}, not {published} to {cfg.infra}")
        settings.bundle_id = bundle_id
        settings.save()
        log(f"deployment {cfg.deployment} now points at bundle {bundle_id}")
    else:
        deployment = deployer.create_deployment(cfg.deployment, published, cfg.infra, bundle_id)
        log(f"created deployment {cfg.deployment} of bundle {bundle_id} on {cfg.infra}")
    result = wait_for_future(deployment.start_update(), parse_duration(cfg.update_timeout))
    if isinstance(result, dict) and (result.get("error") or result.get("fatal")
                                     or result.get("maxSeverity") in ("ERROR", "FATAL")):
        titles = [m.get("title") or m.get("message") for m in result.get("messages", [])]
        raise RuntimeError("the update reported errors: " + "; ".join(t for t in titles if t))
    log(f"deployment {cfg.deployment} updated to bundle {bundle_id}")


def inspect_bundle(signoff, cfg, request, archive, bundle_id=None):
    """Detected, not declared: attaches the bundle's inventory, labelled with the shared objects it adds to what runs
    in the environment now, so that a workflow reading it (labels_from: bundle-inventory) adds the platform review.
    A workflow that reads no inventory refuses it (evidence.kind): then nothing is attached."""
    inventory = bundle_inventory(archive)
    baseline = None
    try:
        current = signoff.deployed_request(cfg.signoff_project, cfg.signoff_env)
    except SignoffError as e:
        log(f"could not read what runs in {cfg.signoff_env} ({e}): every shared object counts as new")
        current = None
    if current:
        try:
            baseline = signoff.inventory_of(current)
        except SignoffError as e:
            log(f"could not read the inventory of {current}, which runs now ({e}): every shared object counts as new")
    labels = new_shared_objects(inventory, baseline)
    try:
        signoff.attach_inventory(request, inventory, labels, bundle_id)
    except SignoffError as e:
        if e.rule == "evidence.kind":
            log(f"the workflow of {request} reads no bundle inventory: not attached")
            return
        raise Stop(REFUSED if e.status in (401, 403) or e.rule else FAILED, f"attaching the bundle inventory: {e}")
    found = ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in inventory.items())
    touched = ", ".join(labels.get("touches", [])) or "nothing new"
    log(f"bundle inventory attached to {request} ({found}); new shared objects: {touched}")


def run(cfg, signoff, design_client, deployer_client=None):
    """The whole flow: returns 0 once deployed and recorded, raises Stop(code, reason) otherwise.
    The clients are dataikuapi.DSSClient (in a scenario: dataiku.api_client())."""
    try:
        bundle_id = cfg.bundle_id or time.strftime("signoff-%Y%m%d-%H%M%S", time.gmtime())
        project = design_client.get_project(cfg.project_key)
        if not cfg.skip_export:
            project.export_bundle(bundle_id, release_notes=cfg.description or None)
            log(f"exported bundle {bundle_id} of {cfg.project_key}")
        os.makedirs(cfg.workdir, exist_ok=True)
        archive = os.path.join(cfg.workdir, f"{cfg.project_key}-{bundle_id}.zip")
        project.download_exported_bundle_archive_to_file(bundle_id, archive)
        digest = digest_of(archive)

        try:
            request, reused = signoff.file_request(cfg.signoff_project, cfg.signoff_env, os.path.basename(archive),
                                                   digest, cfg.description, bundle_id, cfg.labels())
        except SignoffError as e:
            raise Stop(REFUSED if e.status in (401, 403) or e.rule else FAILED, f"filing the request: {e}")
        log(f"{'reusing open' if reused else 'filed'} request {request} for {os.path.basename(archive)} ({digest})")
        print(request, flush=True)
        inspect_bundle(signoff, cfg, request, archive, bundle_id)

        wait_for_gate(signoff, cfg, request, digest)
        log(f"allowed: {request} may deploy {digest} to {cfg.signoff_env}")
        note = f"DSS deployment {cfg.deployment}, bundle {bundle_id}"
        try:
            signoff.start(request, note)
        except SignoffError as e:
            raise Stop(REFUSED if e.status in (401, 403, 409, 422) or e.rule else FAILED, f"deployment start: {e}")
    except Stop:
        raise
    except Exception as e:  # the DSS client raises DataikuException, requests' errors, OSError
        raise Stop(FAILED, f"{type(e).__name__}: {e}")

    outcome, problem = "succeeded", None
    try:
        deploy_on_deployer((deployer_client or design_client).get_projectdeployer(), cfg, bundle_id, archive)
    except Exception as e:
        outcome, problem = "failed", f"{type(e).__name__}: {e}"
        log(f"deployment failed: {problem}")
    try:
        signoff.finish(request, outcome, note if not problem else f"{note}: {problem}"[:1000])
    except SignoffError as e:
        raise Stop(FAILED, f"could not record the outcome ({outcome}) of {request}: {e}")
    log(f"recorded in Signoff: {request} deployment {outcome}")
    if problem:
        raise Stop(FAILED, problem)
    return 0


def main(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dss-url", default=env("DSS_URL"), help="design node URL (env DSS_URL); key: env DSS_API_KEY")
    p.add_argument("--deployer-url", default=env("DSS_DEPLOYER_URL"),
                   help="Project Deployer URL if not the design node (env DSS_DEPLOYER_URL; key: DSS_DEPLOYER_API_KEY)")
    p.add_argument("--no-check-certificate", action="store_true")
    p.add_argument("--project-key", default=env("DSS_PROJECT_KEY"), help="env DSS_PROJECT_KEY")
    p.add_argument("--bundle-id", default=env("DSS_BUNDLE_ID", ""), help="default: signoff-YYYYMMDD-HHMMSS")
    p.add_argument("--skip-export", action="store_true", help="the bundle is already exported")
    p.add_argument("--published-project", default=env("DSS_PUBLISHED_PROJECT", ""))
    p.add_argument("--infra", default=env("DSS_INFRA_ID"), help="env DSS_INFRA_ID")
    p.add_argument("--deployment", default=env("DSS_DEPLOYMENT_ID"), help="env DSS_DEPLOYMENT_ID")
    p.add_argument("--signoff-server", default=env("SIGNOFF_SERVER"), help="env SIGNOFF_SERVER; token: SIGNOFF_TOKEN")
    p.add_argument("--signoff-project", default=env("SIGNOFF_PROJECT"), help="env SIGNOFF_PROJECT")
    p.add_argument("--signoff-env", default=env("SIGNOFF_ENV"), help="env SIGNOFF_ENV")
    p.add_argument("--wait", default=env("SIGNOFF_WAIT", "30m"), help="e.g. 30m (env SIGNOFF_WAIT)")
    p.add_argument("--update-timeout", default="30m")
    p.add_argument("--description", default="")
    p.add_argument("--touches", default=env("SIGNOFF_TOUCHES", ""), help="shared objects the change touches, e.g. connections,plugins")
    p.add_argument("--label", action="append", default=[], help="NAME=VALUE[,VALUE]: another label the workflows' when: read (repeat it)")
    p.add_argument("--workdir", default=".", help="where the bundle archive is written")
    a = p.parse_args(argv)
    try:
        missing = [name for name, value in [("--dss-url", a.dss_url), ("--project-key", a.project_key),
                                            ("--infra", a.infra), ("--deployment", a.deployment),
                                            ("--signoff-server", a.signoff_server),
                                            ("--signoff-project", a.signoff_project), ("--signoff-env", a.signoff_env),
                                            ("DSS_API_KEY", env("DSS_API_KEY")), ("SIGNOFF_TOKEN", env("SIGNOFF_TOKEN"))]
                   if not value]
        if missing:
            raise Stop(BAD_INPUT, "missing: " + ", ".join(missing))
        parse_duration(a.wait), parse_duration(a.update_timeout)
        import dataikuapi  # pip install dataiku-api-client
        tls = {"no_check_certificate": a.no_check_certificate}
        design = dataikuapi.DSSClient(a.dss_url, env("DSS_API_KEY"), **tls)
        deployer = None
        if a.deployer_url:
            deployer = dataikuapi.DSSClient(a.deployer_url, env("DSS_DEPLOYER_API_KEY") or env("DSS_API_KEY"), **tls)
        cfg = Config(project_key=a.project_key, infra=a.infra, deployment=a.deployment,
                     signoff_project=a.signoff_project, signoff_env=a.signoff_env, bundle_id=a.bundle_id,
                     published_project=a.published_project, skip_export=a.skip_export, wait=a.wait,
                     update_timeout=a.update_timeout, description=a.description, workdir=a.workdir,
                     touches=a.touches, label=tuple(a.label))
        cfg.labels()  # bad labels are bad input, said before anything is exported
        return run(cfg, Signoff(a.signoff_server, env("SIGNOFF_TOKEN")), design, deployer)
    except Stop as stop:
        log(("refused: " if stop.code == REFUSED else "") + str(stop))
        return stop.code


if __name__ == "__main__":
    sys.exit(main())
