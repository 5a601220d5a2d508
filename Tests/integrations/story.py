#!/usr/bin/env python3
"""One full story of a Signoff CI integration, run as its platform would run it, against a local server.

    python3 Tests/integrations/story.py --signoff PATH --integration github-actions|gitlab|jenkins|dataiku --workdir DIR

A fresh ledger (an administrator, an approver, a deployer, the service account ci-bot with a scoped token, the
project webshop on workflows/standard.yaml), `signoff serve` on a free loopback port, then:
  1. the integration files the request for a bundle and waits; meanwhile the approver approves from another
     process; the integration must pass the gate, and the deployment must be recorded as started and finished;
  2. a second bundle: a short wait runs out (exit 75), a rerun reuses the same open request, the approver rejects
     it, and the integration must fail with the reason (exit 2) and deploy nothing;
  2b. (not Dataiku) changes requested end the wait at once (exit 2); the re-run with a new build of the same bundle
     revises the request, which is approved and deployed at revision 2;
  3. (Dataiku) a regulated project on the shipped regulated rules: the bundle's inventory finds a connection and a
     code env nothing running uses, and the request gets the platform review with no --touches;
  4. regulated, a person files: fiona files for the bundle's digest, the integration carries on with her request
     (uploads the JUnit report's document), compliance and two approvers sign, the pipeline's account deploys.
Every chapter's request links to where the bundle came from (the CI's run and commit).
Needs PyYAML (scripts/setup.sh installs it) and, for dataiku, dataiku-api-client. What each mode exercises:
integrations/README.md. Prints PASS or FAIL; exits non-zero on failure; leaves nothing running.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
import signoff_process  # noqa: E402
from signoff_process import Failure, check  # noqa: E402
INTEGRATIONS = ROOT / "integrations"
GATE_SH = INTEGRATIONS / "common" / "signoff-gate.sh"
PROJECT, ENV = "webshop", "staging"
REGULATED = "webshop-reg"  # on the regulated workflow: a person files, the pipeline carries on; detected shared objects
REGULATED_PEOPLE = ["fiona", "casey", "sam", "quinn"]  # requester, compliance, second approver, platform
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DECLARED = {"risk": ["high"]}  # a label every integration passes through (--labels / --label)
JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="webshop" tests="2"><testcase classname="api" name="test_checkout"/>
<testcase classname="api" name="test_refund"/></testsuite>
"""


def say(message):
    print(f"story: {message}", flush=True)


class World:
    """The ledger, the server and the people, all under one work directory."""

    def __init__(self, signoff, workdir):
        self.bin, self.dir = str(Path(signoff).resolve()), workdir
        self.db = str(workdir / "signoff.sqlite")
        self.home = workdir / "home"
        self.home.mkdir()
        self.base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
                         "LANG": "C.UTF-8"}
        # The test run's marker (scripts/leftovers.sh finds what this story leaves running by it).
        if "SIGNOFFTEST_RUN" in os.environ:
            self.base_env["SIGNOFFTEST_RUN"] = os.environ["SIGNOFFTEST_RUN"]
        self.admin_env = dict(self.base_env, SIGNOFF_PASSPHRASE="story passphrase",
                              SIGNOFF_LEDGER_PASSPHRASE="story ledger passphrase")
        self.server = None
        self.url = None
        self.ci_token = None
        # The project the integrations act on now: the light one, then the regulated one (chapters 3 and 4).
        self.project = PROJECT

    def cli(self, *args, env=None, check_rc=True):
        return signoff_process.run(self.bin, args, env or self.admin_env, self.dir, timeout=60, check_rc=check_rc)

    def local(self, *args):
        return self.cli(*args, "--db", self.db, "--as", "ada")

    def person(self, name, *args, check_rc=True):
        return self.cli(*args, "--server", self.url, "--as", name, "--token-file", str(self.dir / f"{name}.token"),
                        check_rc=check_rc)

    def ci(self, *args, check_rc=True):
        return self.cli(*args, env=self.ci_env(), check_rc=check_rc)

    def ci_env(self):
        return dict(self.base_env, SIGNOFF_SERVER=self.url, SIGNOFF_TOKEN=self.ci_token)

    def set_up(self):
        for name in ["ada", "morgan", "dana", "ci-bot"] + REGULATED_PEOPLE:
            self.cli("key", "generate", "--name", name, "--out", str(self.dir / f"{name}.key"))
        self.cli("init", "--db", self.db, "--origin", "story.signoff/ledger", "--admin", "ada",
                 "--admin-key", str(self.dir / "ada.key.pub"))
        for name in ["morgan", "dana"] + REGULATED_PEOPLE:
            self.local("user", "add", name, "--key-file", str(self.dir / f"{name}.key.pub"))
        self.local("service-account", "add", "ci-bot", "--key-file", str(self.dir / "ci-bot.key.pub"))
        for group, members in [("approvers", ["morgan", "sam"]), ("deployers", ["dana"]), ("ci", ["ci-bot"]),
                                ("platform", ["quinn"]), ("compliance", ["casey"]), ("data-science", ["fiona"])]:
            self.local("group", "add", group)
            for member in members:
                self.local("group", "add-member", group, member)
        self.local("workflow", "apply", str(ROOT / "workflows" / "standard.yaml"))
        # The shipped regulated rules with the demo's always-open window (a story may run on a Sunday night).
        # Made here, as scripts/demo.sh makes demo/regulated.yaml: demo/ is not in git, and a clean clone has none.
        shipped = (ROOT / "workflows" / "regulated.yaml").read_text(encoding="utf-8")
        anytime = shipped.replace("days: [mon, tue, wed, thu, fri]", "days: [mon, tue, wed, thu, fri, sat, sun]") \
                         .replace('"09:00-17:00"', '"00:00-24:00"')
        if anytime == shipped:
            raise SystemExit("story: workflows/regulated.yaml no longer has the window this story opens")
        regulated = self.dir / "regulated.yaml"
        regulated.write_text(anytime, encoding="utf-8")
        self.local("workflow", "apply", str(regulated))
        # ci-bot files and deploys as the pipeline; dana could deploy by hand.
        self.local("project", "create", PROJECT, "--env", f"{ENV}=standard", "--role", "requesters=ci",
                   "--role", "ci=ci", "--role", "approvers=approvers", "--role", "platform=platform",
                   "--role", "compliance=compliance", "--role", "deployers=deployers,ci")
        # Last, a regulated project: from here on administrative changes are signed with the administrator's key.
        # A person files (data-science), the pipeline carries on and deploys (ci); the Dataiku detection chapter files as
        # the pipeline (ci among the requesters).
        self.local("project", "create", REGULATED, "--regulated", "--env", f"{ENV}=regulated",
                   "--role", "requesters=data-science,ci", "--role", "ci=ci", "--role", "approvers=approvers",
                   "--role", "platform=platform", "--role", "compliance=compliance", "--role", "deployers=ci",
                   "--key", str(self.dir / "ada.key"))

    def serve(self):
        self.server, self.url = signoff_process.serve(self.bin, ["--db", self.db], self.admin_env, self.dir, self.dir / "server.log")
        for name in ["ada", "morgan"] + REGULATED_PEOPLE:
            self.person(name, "login", "--key", str(self.dir / f"{name}.key"))
        scopes = [arg for project in [PROJECT, REGULATED] for action in ["request", "evidence", "read", "gate", "deploy"]
                  for arg in ("--scope", f"{action}:{project}")]
        issued = self.person("ada", "token", "create", "--service-account", "ci-bot", *scopes, "--ttl", "1h", "--json",
                             "--key", str(self.dir / "ada.key"))
        self.ci_token = json.loads(issued.stdout)["token"]

    def stop(self):
        signoff_process.stop(self.server, grace=5, say=say)

    def open_request(self, digest):
        listed = json.loads(self.person("morgan", "list", "--project", self.project, "--state", "active", "--json").stdout)
        found = [r["request"] for r in listed if r["digest"] == digest and r["environment"] == ENV]
        return found[0] if found else None

    def gate_waiters(self):
        """The gate long polls the server holds now (its signoff_gate_waiters gauge), read as an administrator."""
        token = json.loads((self.dir / "ada.token").read_text())["token"]
        scrape = urllib.request.Request(self.url + "/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(scrape, timeout=30) as answer:
            text = answer.read().decode()
        held = re.search(r"^signoff_gate_waiters (\d+)$", text, re.M)
        check(held, "the server's metrics have no signoff_gate_waiters")
        return int(held.group(1))

    def status(self, request):
        return json.loads(self.person("morgan", "status", request, "--json").stdout)


class Background:
    """Runs the platform's steps one after another in a thread; stdout and stderr go to two log files."""
    started = []

    def __init__(self, world, name, steps):
        self.world, self.name = world, name
        self.out, self.err = world.dir / f"{name}.out", world.dir / f"{name}.err"
        self.steps, self.rc, self.procs = steps, None, []
        self.thread = threading.Thread(target=self._run, daemon=True)
        Background.started.append(self)
        self.thread.start()

    def _run(self):
        rc = 0
        with open(self.out, "a") as out, open(self.err, "a") as err:
            for argv, env, cwd in self.steps:
                p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
                self.procs.append(p)
                rc = p.wait()
                if rc != 0:
                    break
        self.rc = rc

    def text(self, which="err"):
        path = self.out if which == "out" else self.err
        return path.read_text() if path.exists() else ""

    def wait(self, timeout=50):
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.kill()
            raise Failure(f"{self.name} still running after {timeout} s:\n{self.text()}")
        return self.rc

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        self.thread.join(5)


def substitute(text, values):
    def one(m):
        expr = m.group(1).strip()
        check(expr in values, f"no value for the expression ${{{{ {expr} }}}}")
        return values[expr]
    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def bash_step(world, name, script, env, cwd):
    path = world.dir / f"{name}.sh"
    path.write_text(script)
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], env, cwd


class ShellMode:
    """GitHub, GitLab and Jenkins: the shared script on a bundle file; the integration attaches the test report."""
    attaches_test_report = True

    def start(self, tag, key, wait, rerun=False):
        path = self.world.dir / f"webshop-{key}.zip"
        if not rerun:
            path.write_bytes(os.urandom(50_000))
        return self.gate(tag, path, wait)

    def digest_of(self, key):
        path = self.world.dir / f"webshop-{key}.zip"
        return lambda: "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# --- GitHub Actions: the composite action's steps, as the runner runs them -------------------------------------
class GitHub(ShellMode):
    action_dir = INTEGRATIONS / "github-actions" / "gate"
    # What the request's page links to, from the runner's variables.
    expected_source = {"system": "github-actions", "run_url": "https://github.example/acme/webshop/actions/runs/4711",
                       "commit": COMMIT, "ref": "main"}

    # Chapter 5: what the runner gives a job with `permissions: id-token: write` (empty: a stored token is used).
    id_token_env = {}

    def __init__(self, world):
        import yaml
        self.world, self.yaml = world, yaml
        self.action = yaml.safe_load((self.action_dir / "action.yml").read_text())
        check(self.action["runs"]["using"] == "composite", "action.yml is not a composite action")

    def gate(self, tag, bundle_file, wait):
        w = self.world
        inputs = {k: str(v.get("default", "")) for k, v in self.action["inputs"].items()}
        inputs.update({"server": w.url, "token": "" if self.id_token_env else w.ci_token, "project": w.project, "environment": ENV,
                       "bundle": bundle_file.name, "bundle-file": str(bundle_file), "wait": wait,
                       "test-report": str(w.dir / "junit.xml"), "signoff-path": w.bin, "labels": "risk=high"})
        missing = [k for k, v in self.action["inputs"].items() if v.get("required") and not inputs.get(k)]
        check(not missing, f"required inputs missing: {missing}")
        values = {f"inputs.{k}": v for k, v in inputs.items()}
        values["github.action_path"] = str(self.action_dir)
        temp = w.dir / "runner-temp"
        temp.mkdir(exist_ok=True)
        self.outputs = {}
        steps = []
        for i, step in enumerate(self.action["runs"]["steps"]):
            check(step.get("shell") == "bash" and "run" in step and "if" not in step,
                  f"step {i}: only unconditional bash run steps are emulated")
            output = w.dir / f"{tag}-step{i}.output"
            output.write_text("")
            self.outputs[step.get("id", f"step{i}")] = output
            env = dict(w.base_env, GITHUB_ACTIONS="true", CI="true", RUNNER_TEMP=str(temp),
                       GITHUB_ACTION_PATH=str(self.action_dir), GITHUB_OUTPUT=str(output),
                       GITHUB_WORKSPACE=str(w.dir), GITHUB_SERVER_URL="https://github.example",
                       GITHUB_REPOSITORY="acme/webshop", GITHUB_RUN_ID="4711", GITHUB_SHA=COMMIT,
                       GITHUB_REF="refs/heads/main", GITHUB_REF_NAME="main", **self.id_token_env)
            env.update({k: substitute(str(v), values) for k, v in step.get("env", {}).items()})
            steps.append(bash_step(w, f"{tag}-step{i}", substitute(step["run"], values), env, w.dir))
        return Background(w, tag, steps)

    def step_outputs(self):
        result = {}
        for step_id, path in self.outputs.items():
            lines = path.read_text().splitlines()
            while lines:
                line = lines.pop(0)
                if "<<" in line and "=" not in line.split("<<")[0]:
                    key, delim = line.split("<<", 1)
                    value = []
                    while lines and lines[0] != delim:
                        value.append(lines.pop(0))
                    lines.pop(0)
                    result[f"steps.{step_id}.outputs.{key}"] = "\n".join(value)
                elif "=" in line:
                    key, value = line.split("=", 1)
                    result[f"steps.{step_id}.outputs.{key}"] = value
        return result

    def reported_request(self, run):
        outputs = self.step_outputs()
        return substitute(self.action["outputs"]["request"]["value"], outputs)

    def refusal_shown(self, run):
        errors = [line for line in run.text("out").splitlines() if line.startswith("::error")]
        check(errors, "no ::error annotation on stdout")
        check("\n" not in errors[-1] and "%0A" in errors[-1], f"annotation not escaped: {errors[-1]!r}")
        return errors[-1]

    def deploy(self, request):
        """The README's example workflow: its steps that call `signoff deploy`, around a stand-in deploy."""
        w = self.world
        readme = (INTEGRATIONS / "github-actions" / "README.md").read_text()
        # The README's example workflow: its YAML block with jobs (another block shows a few steps only).
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if re.search(r"^jobs:", b, re.M)]
        check(len(blocks) == 1, f"the GitHub README should have one example workflow with jobs:, not {len(blocks)}")
        workflow = self.yaml.safe_load(blocks[0])
        values = {"steps.signoff.outputs.request": request, "secrets.SIGNOFF_TOKEN": w.ci_token,
                  "vars.SIGNOFF_SERVER": w.url, "job.status": "success",
                  "github.server_url": "https://github.example", "github.repository": "acme/webshop",
                  "github.run_id": "42"}
        steps = []
        for job in workflow["jobs"].values():
            for i, step in enumerate(job["steps"]):
                if "signoff deploy" not in step.get("run", ""):
                    continue
                env = dict(w.base_env, PATH=f"{w.dir / 'bin'}:{w.base_env['PATH']}")
                env.update({k: substitute(str(v), values) for k, v in {**job.get("env", {}), **step.get("env", {})}.items()})
                steps.append(bash_step(w, f"deploy-step{i}", substitute(step["run"], values), env, w.dir))
        check(len(steps) == 2, f"expected the README's two `signoff deploy` steps, found {len(steps)}")
        return steps


# --- GitLab CI: the template's hidden jobs, as a job extending them runs ---------------------------------------
class GitLab(ShellMode):
    expected_source = {"system": "gitlab", "run_url": "https://gitlab.example/acme/webshop/-/pipelines/99",
                       "commit_url": f"https://gitlab.example/acme/webshop/-/commit/{COMMIT}", "ref": "main"}

    # Chapter 5: the job's `id_tokens:` variable (empty: a stored token is used).
    id_token_env = {}

    def __init__(self, world):
        import yaml
        self.world = world
        self.template = yaml.safe_load((INTEGRATIONS / "gitlab" / "signoff.gitlab-ci.yml").read_text())

    def job_env(self, variables):
        w = self.world
        return dict(w.base_env, PATH=f"{w.dir / 'bin'}:{w.base_env['PATH']}", CI="true", GITLAB_CI="true",
                    CI_JOB_URL="https://gitlab.example/acme/webshop/-/jobs/42",
                    CI_PIPELINE_URL="https://gitlab.example/acme/webshop/-/pipelines/99", CI_COMMIT_SHA=COMMIT,
                    CI_PROJECT_URL="https://gitlab.example/acme/webshop", CI_COMMIT_REF_NAME="main", SIGNOFF_SERVER=w.url,
                    SIGNOFF_TOKEN="" if self.id_token_env else w.ci_token, **self.id_token_env, **variables)

    def gate(self, tag, bundle_file, wait):
        w = self.world
        job = self.template[".signoff-gate"]
        variables = {k: str(v) for k, v in job["variables"].items()}
        variables.update({"SIGNOFF_PROJECT": w.project, "SIGNOFF_ENV": ENV, "SIGNOFF_BUNDLE": bundle_file.name,
                          "SIGNOFF_BUNDLE_FILE": str(bundle_file), "SIGNOFF_WAIT": wait,
                          "SIGNOFF_TEST_REPORT": str(w.dir / "junit.xml"), "SIGNOFF_LABELS": "risk=high"})
        self.cwd = w.dir / f"{tag}-job"
        self.cwd.mkdir()
        self.dotenv = self.cwd / job["artifacts"]["reports"]["dotenv"]
        check(job["artifacts"].get("when") == "always", "the dotenv report should be kept when the gate fails")
        script = "\n".join(job.get("before_script", []) + job["script"])
        return Background(w, tag, [bash_step(w, tag, script, self.job_env(variables), self.cwd)])

    def reported_request(self, run):
        lines = dict(l.split("=", 1) for l in self.dotenv.read_text().splitlines() if "=" in l)
        return lines.get("SIGNOFF_REQUEST", "")

    def refusal_shown(self, run):
        return verdict(run.text())

    def deploy(self, request):
        w = self.world
        job = self.template[".signoff-deploy"]
        env = self.job_env({"SIGNOFF_REQUEST": request})
        main = "\n".join(job["before_script"] + ["echo deploying the bundle"])
        after = "\n".join(job["after_script"])
        return [bash_step(w, "deploy-job", main, env, self.cwd),
                bash_step(w, "deploy-after", after, dict(env, CI_JOB_STATUS="success"), self.cwd)]


# --- Jenkins: no Jenkins here; the exact sh text of the step and the Jenkinsfile's deploy commands --------------
class Jenkins(ShellMode):
    groovy = INTEGRATIONS / "jenkins" / "vars" / "signoffGate.groovy"
    expected_source = {"system": "jenkins", "run_url": "https://jenkins.example/job/webshop/42/", "commit": COMMIT,
                       "ref": "origin/main"}

    def __init__(self, world):
        self.world = world
        source = self.groovy.read_text()
        m = re.search(r"// BEGIN gate-sh.*?\n\s*String gateSh = '''(.*?)'''\s*\n\s*// END gate-sh", source, re.S)
        check(m, "no marked gate-sh block in signoffGate.groovy")
        self.sh_text = m.group(1)
        check("\\" not in self.sh_text and "${" not in self.sh_text.replace("${SIGNOFF_GATE_SH:-", ""),
              "the sh text must not depend on Groovy escapes or interpolation")
        self.groovy_vars = set(re.findall(r'"(SIGNOFF_GATE_[A-Z_]+)=', source))
        if shutil.which("groovy"):  # the step's Groovy too, with the pipeline steps stubbed
            env = dict(os.environ)
            if "JAVA_HOME" not in env and shutil.which("java"):
                env["JAVA_HOME"] = str(Path(os.path.realpath(shutil.which("java"))).parents[1])
            p = subprocess.run(["groovy", str(Path(__file__).resolve().parent / "jenkins_step.groovy"),
                                str(self.groovy)], env=env, capture_output=True, text=True, timeout=120)
            check(p.returncode == 0, f"jenkins_step.groovy failed:\n{p.stdout}{p.stderr}")
            say(p.stdout.strip())
        else:
            say("groovy is not installed: signoffGate.groovy itself is not run (apt-get install groovy)")

    def gate(self, tag, bundle_file, wait):
        w = self.world
        tmp = w.dir / f"{tag}-workspace@tmp"
        # What the step's withEnv sets for signoffGate(project:, environment:, bundleFile:, wait:, testReport:).
        variables = {"SIGNOFF_GATE_PROJECT": w.project, "SIGNOFF_GATE_ENV": ENV,
                     "SIGNOFF_GATE_BUNDLE": bundle_file.name, "SIGNOFF_GATE_DIGEST": "",
                     "SIGNOFF_GATE_BUNDLE_FILE": str(bundle_file), "SIGNOFF_GATE_WAIT": wait,
                     "SIGNOFF_GATE_DESCRIPTION": "https://jenkins.example/job/webshop/42/",
                     "SIGNOFF_GATE_TEST_REPORT": str(w.dir / "junit.xml"),
                     "SIGNOFF_GATE_TOUCHES": "", "SIGNOFF_GATE_LABELS": "risk=high",
                     "SIGNOFF_GATE_OUT": str(tmp / "signoff-request"),
                     "SIGNOFF_GATE_REASONS": str(tmp / "signoff-reasons")}
        check(set(variables) == self.groovy_vars, f"the step sets {sorted(self.groovy_vars)}")
        self.tmp = tmp
        env = dict(w.base_env, PATH=f"{w.dir / 'bin'}:{w.base_env['PATH']}", SIGNOFF_SERVER=w.url,
                   SIGNOFF_TOKEN=w.ci_token, JENKINS_URL="https://jenkins.example/",
                   BUILD_URL="https://jenkins.example/job/webshop/42/", GIT_COMMIT=COMMIT, GIT_BRANCH="origin/main",
                   **variables)
        script = w.dir / f"{tag}-script.sh"
        script.write_text(self.sh_text)
        return Background(w, tag, [(["sh", "-xe", str(script)], env, w.dir)])

    def reported_request(self, run):
        path = self.tmp / "signoff-request"
        return path.read_text().strip() if path.exists() else ""

    def refusal_shown(self, run):
        path = self.tmp / "signoff-reasons"
        check(path.exists() and path.read_text().strip(), "no reasons file for error(...)")
        return path.read_text()

    def deploy(self, request):
        w = self.world
        source = (INTEGRATIONS / "jenkins" / "Jenkinsfile").read_text()
        commands = [c for c in re.findall(r"sh '([^'\n]*)'", source) if "signoff deploy" in c]
        check(len(commands) == 2, f"expected the Jenkinsfile's two `signoff deploy` commands, found {commands}")
        env = dict(w.base_env, PATH=f"{w.dir / 'bin'}:{w.base_env['PATH']}", SIGNOFF_SERVER=w.url,
                   SIGNOFF_TOKEN=w.ci_token, SIGNOFF_REQUEST=request, SIGNOFF_OUTCOME="succeeded",
                   BUILD_URL="https://jenkins.example/job/webshop/42/")
        steps = []
        for i, command in enumerate(commands):
            path = w.dir / f"jenkins-deploy{i}.sh"
            path.write_text(command + "\n")
            steps.append((["sh", "-xe", str(path)], env, w.dir))
        return steps


# --- Dataiku: signoff_dataiku.py against the DSS stand-in -----------------------------------------------------
class Dataiku:
    expected_source = {"system": "dataiku"}

    def __init__(self, world):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import dataiku_standin
        try:
            import dataikuapi  # noqa: F401 (the script needs it)
        except ImportError:
            raise Failure("dataikuapi is missing: pip install dataiku-api-client")
        self.world = world
        self.standin = dataiku_standin.StandIn("story-dss-key", projects=["WEBSHOP"], infras=["staging-infra"])
        self.dss_url = self.standin.start()
        self.under_way_at_update = []
        self.standin.on_update = lambda update: self.under_way_at_update.append(
            under_way(world, world.open_request(update["sha256"]) or "?"))

    attaches_test_report = False  # the test pipeline does, as ci-bot

    def start(self, tag, key, wait, rerun=False):
        return self.gate(tag, f"b{key}", wait, skip_export=rerun)

    def digest_of(self, key):
        return dataiku_digest(self.world, f"b{key}")

    def gate(self, tag, bundle_id, wait, skip_export=False, project=None):
        w = self.world
        argv = [sys.executable, str(INTEGRATIONS / "dataiku" / "signoff_dataiku.py"), "--dss-url", self.dss_url,
                "--project-key", "WEBSHOP", "--bundle-id", bundle_id, "--infra", "staging-infra",
                "--deployment", "webshop-staging", "--signoff-project", project or w.project, "--signoff-env", ENV,
                "--wait", wait, "--workdir", str(w.dir / "bundles"), "--label", "risk=high"] + (["--skip-export"] if skip_export else [])
        env = dict(w.base_env, DSS_API_KEY="story-dss-key", SIGNOFF_SERVER=w.url, SIGNOFF_TOKEN=w.ci_token)
        return Background(w, tag, [(argv, env, w.dir)])

    def reported_request(self, run):
        lines = [l for l in run.text("out").splitlines() if l.strip()]
        return lines[-1] if lines else ""

    def refusal_shown(self, run):
        return "\n".join(l for l in run.text().splitlines() if l.startswith("signoff_dataiku: refused:"))

    def stop(self):
        self.standin.stop()


def verdict(log):
    """The gate's last DENIED/ALLOWED line and the reasons under it."""
    lines = log.splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith(("DENIED:", "ALLOWED:"))]
    check(starts, "no DENIED or ALLOWED line in the log")
    block = [lines[starts[-1]]]
    block += [l for l in lines[starts[-1] + 1:] if l.startswith("  - ")]
    return "\n".join(block)


def check_no_token_in_logs(world):
    for path in world.dir.glob("*"):
        if path.suffix in (".out", ".err", ".log", ".output", ".sh") and path.is_file():
            check(world.ci_token not in path.read_text(errors="replace"), f"the service token appears in {path.name}")


def wait_until_waiting(world, run, digest_of_run, timeout=60):
    """The request the integration filed, once it exists and the integration is still waiting on it."""
    deadline = time.monotonic() + timeout
    request = None
    while time.monotonic() < deadline:
        check(run.rc is None, f"{run.name} exited {run.rc} before anyone decided:\n{run.text()}")
        digest = digest_of_run()
        request = request or (digest and world.open_request(digest))
        if request and re.search(r"^(signoff: waiting:|signoff-gate: waiting up to|signoff_dataiku: waiting:)",
                                 run.text(), re.M):
            # Saying it waits comes before its call: on a busy machine the call may reach the server seconds later.
            # The server's own count of held long polls says when it is in one; then well into it.
            while world.gate_waiters() < 1:
                check(time.monotonic() < deadline, f"{run.name} said it waits, but the server holds no long poll of it")
                check(run.rc is None, f"{run.name} exited {run.rc} before anyone decided:\n{run.text()}")
                time.sleep(0.2)
            time.sleep(1.5)
            check(run.rc is None, f"{run.name} exited {run.rc} before anyone decided:\n{run.text()}")
            return request
        time.sleep(0.2)
    check(request, f"{run.name} filed no request in {timeout} s:\n{run.text()}")
    raise Failure(f"{run.name} did not say it waits in {timeout} s:\n{run.text()}")


def expect(run, rc, what):
    got = run.wait()
    check(got == rc, f"{run.name}: expected exit {rc} ({what}), got {got}\n--- stderr\n{run.text()}"
                     f"\n--- stdout\n{run.text('out')}")


def story(world, mode, name):
    (world.dir / "junit.xml").write_text(JUNIT)
    bin_dir = world.dir / "bin"  # what the image or agent has on PATH
    bin_dir.mkdir()
    (bin_dir / "signoff").symlink_to(world.bin)
    (bin_dir / "signoff-gate.sh").symlink_to(GATE_SH)

    # 1. approved while it waits
    run = mode.start("approve", "1", "45s")
    request = wait_until_waiting(world, run, mode.digest_of("1"))
    say(f"{request} filed; {run.name} is waiting")
    if not mode.attaches_test_report:
        world.ci("evidence", "add", request, "--kind", "test-report", "--junit", str(world.dir / "junit.xml"))
    world.person("morgan", "approve", request, "--key", str(world.dir / "morgan.key"), "--comment", "looks good")
    say(f"morgan approved {request}")
    expect(run, 0, "the gate allows it")
    check(re.search(rf"ALLOWED: {request}\b|allowed: {request}\b", run.text()), "no ALLOWED line in the log")
    reported = mode.reported_request(run)
    check(reported == request, f"the integration reported {reported!r}, expected {request}")
    if name != "dataiku":
        start, finish = mode.deploy(request)
        expect(Background(world, "deploy-start", [start]), 0, "deployment start recorded")
        check(under_way(world, request), f"after the start step, {request} is not shown as being deployed")
        expect(Background(world, "deploy-finish", [finish]), 0, "deployment outcome recorded")
    else:
        check(mode.under_way_at_update == [True], f"Signoff showed the deployment under way while DSS updated: "
                                                  f"{mode.under_way_at_update}")
    long_polls = [float(m) for m in re.findall(r"latency_ms=([\d.]+) method=GET .*route=/v1/(?:gate|requests/\{id\}/gate) ",
                                                 (world.dir / "server.log").read_text())]
    check(any(ms >= 1000 for ms in long_polls), "no gate call waited: the approval did not end a long poll")
    status = world.status(request)
    check_deployed(world, status)
    check(status.get("labels") == DECLARED, f"the integration declared {status.get('labels')}, not {DECLARED}")
    # The request links to where the bundle came from, as the platform said.
    shown = status.get("source") or {}
    expected = mode.expected_source
    check(all(shown.get(k) == v for k, v in expected.items()), f"the request's source is {shown}, expected {expected}")
    say(f"{request} passed the gate and its deployment is recorded: {json.dumps(status['deployments'])}")
    if name == "dataiku":
        updates = mode.standin.updates
        check(len(updates) == 1, f"the deployer ran {len(updates)} updates, expected 1")
        check(updates[0]["sha256"] == status["digest"],
              f"the deployer deployed {updates[0]['sha256']}, Signoff approved {status['digest']}")
        check(not mode.standin.unexpected and not mode.standin.unauthorized,
              f"unexpected DSS calls {mode.standin.unexpected}, unauthorized {mode.standin.unauthorized}")
        say(f"the deployer deployed bundle {updates[0]['bundle']}, whose sha256 is the approved digest")

    # 2. a short wait runs out, a rerun reuses the request, the approver rejects it
    run = mode.start("timeout", "2", "2s")
    expect(run, 75, "the wait ran out")
    first = mode.reported_request(run)
    check(re.fullmatch(r"REQ-\d+", first or ""), f"no request reported after the timeout: {first!r}")
    run = mode.start("reject", "2", "45s", rerun=True)
    request = wait_until_waiting(world, run, mode.digest_of("2"))
    check(request == first, f"the rerun filed {request} instead of reusing {first}")
    check("reusing" in run.text(), "the rerun did not say it reused the open request")
    world.person("morgan", "reject", request, "--stage", "approved", "--reason", "metrics regressed",
                 "--key", str(world.dir / "morgan.key"))
    say(f"morgan rejected {request}")
    expect(run, 2, "refused: the request was rejected")
    shown = mode.refusal_shown(run)
    check(re.search(r"reject", shown, re.I), f"the refusal does not give the reason:\n{shown}")
    if name == "dataiku":
        check("metrics regressed" in shown, f"the refusal does not quote the rejection:\n{shown}")
    check(mode.reported_request(run) == request, "the request id was not reported on refusal")
    check(world.status(request)["status"] == "rejected", "the request is not rejected")
    if name == "dataiku":
        check(len(mode.standin.updates) == 1, "the deployer ran an update for a refused bundle")
    say(f"refusal shown: {shown.strip()[:300]}")
    if name != "dataiku":  # a Dataiku re-run exports a new bundle, under a new name: filed anew, not revised
        rerun_revises(world, mode)
    if name == "dataiku":
        detected_shared_objects(world, mode)
    person_files(world, mode, name)
    if name in ("github-actions", "gitlab"):
        id_tokens(world, mode, name)
    check_no_token_in_logs(world)


def rerun_revises(world, mode):
    """2b. The pipeline files (light project): changes requested end the wait at once (exit 2, not 75 after the wait);
    the re-run with the new build of the same bundle revises the request, which is approved and deployed."""
    run = mode.start("changes", "3", "45s")
    request = wait_until_waiting(world, run, mode.digest_of("3"))
    asked = time.monotonic()
    world.person("morgan", "request-changes", request, "--comment", "pin the feature store version",
                 "--key", str(world.dir / "morgan.key"))
    expect(run, 2, "changes requested: waiting will not end this")
    check(time.monotonic() - asked < 20, f"the wait went on {time.monotonic() - asked:.0f} s after changes were requested")
    old = world.status(request)["digest"]
    run = mode.start("changes-rerun", "3", "45s")  # the same bundle name, a new build
    revised = wait_until_waiting(world, run, mode.digest_of("3"))
    check(revised == request, f"the re-run filed {revised} instead of revising {request}")
    check("revised" in run.text(), f"the re-run did not say it revised {request}:\n{run.text()}")
    status = world.status(request)
    check(status["revision"] == 2 and status["digest"] != old, f"{request} is at revision {status['revision']}, {status['digest']}")
    world.person("morgan", "approve", request, "--key", str(world.dir / "morgan.key"), "--comment", "pinned")
    expect(run, 0, "the revised request passes the gate")
    start, finish = mode.deploy(request)
    expect(Background(world, "changes-deploy-start", [start]), 0, "deployment start recorded")
    expect(Background(world, "changes-deploy-finish", [finish]), 0, "deployment outcome recorded")
    status = world.status(request)
    check_deployed(world, status)
    check(status["deployments"][-1]["revision"] == 2, f"deployed revision {status['deployments'][-1]['revision']}")
    say(f"{request}: changes requested ended the wait at once; the re-run revised it (revision 2) and deployed it")


def document_stored(world, request, digest):
    """Whether the evidence document of `digest` is stored (what approvers see on the request's page)."""
    import urllib.error
    import urllib.request
    token = json.loads((world.dir / "morgan.token").read_text())["token"]
    url = f"{world.url}/v1/requests/{request}/evidence-documents/{digest}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=10) as r:
            return r.status == 200 and hashlib.sha256(r.read()).hexdigest() == digest.split(":", 1)[1]
    except urllib.error.HTTPError:
        return False


def person_files(world, mode, name):
    """4. Regulated: a person (fiona) files; the pipeline finds her request by the digest, attaches the test report
    with its document, waits; compliance and two approvers sign; the pipeline deploys (it did not file)."""
    world.project = REGULATED
    if name == "dataiku":
        # The bundle is exported first; fiona files for its archive; the script runs on it with --skip-export.
        mode.standin.export_bundle("WEBSHOP", "r1")
        data = mode.standin.exported[("WEBSHOP", "r1")]
        bundle, digest = "WEBSHOP-r1.zip", "sha256:" + hashlib.sha256(data).hexdigest()
    else:
        path = world.dir / "webshop-r1.zip"
        path.write_bytes(os.urandom(50_000))
        bundle, digest = path.name, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    # She declares what the pipeline will declare too (a request declaring less is not the pipeline's to carry on).
    request = world.person("fiona", "request", "create", "--project", REGULATED, "--env", ENV, "--bundle", bundle,
                           "--digest", digest, "--label", "risk=high").stdout.strip()
    full = world.ci_token
    if name != "dataiku":
        # Least privilege: a token that may not file (no request scope) finds fiona's request by the digest.
        scopes = [arg for action in ["evidence", "read", "gate", "deploy"] for arg in ("--scope", f"{action}:{REGULATED}")]
        world.ci_token = json.loads(world.person("ada", "token", "create", "--service-account", "ci-bot", *scopes, "--ttl", "1h",
                                                 "--json", "--key", str(world.dir / "ada.key")).stdout)["token"]
    try:
        # Four people sign while the pipeline waits, each a CLI process of its own: on a shared 2-core machine running the
        # whole suite that took more than a minute (the Dataiku chapter has a fifth, the platform's review).
        run = mode.gate("regulated-person", "r1", "180s", skip_export=True) if name == "dataiku" else mode.gate("regulated-person", path, "180s")
        found = wait_until_waiting(world, run, lambda: digest)
        check(found == request, f"the pipeline waits on {found}, not on fiona's {request}")
        check("reusing" in run.text(), f"the pipeline did not say it carried on with {request}:\n{run.text()}")
        if name != "dataiku":
            check("may not file requests: looking for the open request" in run.text(), f"no lookup by digest:\n{run.text()}")
    finally:
        world.ci_token = full
    junit = str(world.dir / "junit.xml")
    if not mode.attaches_test_report:
        world.ci("evidence", "add", request, "--kind", "test-report", "--junit", junit, "--upload")
    reports = [e for e in world.status(request)["evidence"] if e["kind"] == "test-report"]
    check(reports and all(document_stored(world, request, e["digest"]) for e in reports),
          f"the test report's document was not uploaded: {reports}")
    if name == "dataiku":
        # Nothing runs yet in the regulated environment: the bundle's connection is new, so the platform reviews it.
        check(world.status(request).get("detected_labels") == {"touches": ["code-envs", "connections"]}, "no shared objects detected")
        world.person("quinn", "approve", request, "--stage", "shared-objects", "--key", str(world.dir / "quinn.key"))
    world.person("casey", "approve", request, "--stage", "compliance-reviewed", "--key", str(world.dir / "casey.key"))
    for approver in ["morgan", "sam"]:
        world.person(approver, "approve", request, "--stage", "approved", "--key", str(world.dir / f"{approver}.key"))
    expect(run, 0, "fiona's request, signed by compliance and two approvers, passes the gate")
    if name != "dataiku":
        start, finish = mode.deploy(request)
        expect(Background(world, "regulated-deploy-start", [start]), 0, "the pipeline's deployment start recorded")
        expect(Background(world, "regulated-deploy-finish", [finish]), 0, "the pipeline's deployment outcome recorded")
    status = world.status(request)
    check_deployed(world, status)
    check(status["requester"] == "fiona" and status["deployments"][-1]["actor"] == "ci-bot",
          f"filed by {status['requester']}, deployed by {status['deployments'][-1]['actor']}")
    # fiona said nothing of where the bundle came from: the pipeline that carried on did, with its evidence.
    shown = status.get("source") or {}
    check(all(shown.get(k) == v for k, v in mode.expected_source.items()), f"the request's source is {shown}, expected {mode.expected_source}")
    say(f"{request}: fiona filed, the pipeline carried on, compliance and two approvers signed, ci-bot deployed")
    world.project = PROJECT


class LocalIssuer:
    """A CI platform's OpenID token service on loopback: discovery, a JWKS, and RS256 ID tokens (signed here with the
    `cryptography` package) for a job's claims; for GitHub also the runner's token request endpoint."""

    def __init__(self, audience):
        import base64
        import http.server
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        self.audience, self.claims = audience, {}
        self.requests = 0
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()

        def b64u(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        def sign(claims):
            header = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "ci-1"}).encode())
            body = b64u(json.dumps(claims).encode())
            signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
            return f"{header}.{body}.{b64u(signature)}"

        self.sign = sign
        jwks = {"keys": [{"kty": "RSA", "kid": "ci-1", "alg": "RS256", "use": "sig",
                          "n": b64u(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")), "e": b64u(numbers.e.to_bytes(3, "big"))}]}
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path == "/.well-known/openid-configuration":
                    self.answer(200, {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks", "id_token_signing_alg_values_supported": ["RS256"]})
                elif path == "/jwks":
                    self.answer(200, jwks)
                elif path == "/github-token":
                    # What the runner's ACTIONS_ID_TOKEN_REQUEST_URL answers: {"value": JWT} for the audience asked.
                    if self.headers.get("Authorization") != "bearer runner-request-secret":
                        return self.answer(403, {"message": "bad request token"})
                    issuer.requests += 1
                    audience = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("audience", "")
                    import urllib.parse
                    self.answer(200, {"value": issuer.token(urllib.parse.unquote(audience))})
                else:
                    self.answer(404, {})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, audience=None):
        now = int(time.time())
        return self.sign(dict(self.claims, iss=self.url, aud=audience or self.audience, iat=now, nbf=now, exp=now + 300))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def id_tokens(world, mode, name):
    """5. Pipelines without stored secrets: the administrator trusts the CI's issuer for pipelines (signed); the job
    presents its own ID token, no service token anywhere; its claims are the request's verified source. A fork's job is
    refused with the reason."""
    issuer = LocalIssuer(audience=world.url)
    try:
        if name == "github-actions":
            claims = {"repository": "acme/webshop", "ref": "refs/heads/main", "sha": COMMIT, "run_id": "4711", "actor": "octo-riley"}
            rule = "{repository: acme/webshop, ref: refs/heads/main}"
            mode.id_token_env = {"ACTIONS_ID_TOKEN_REQUEST_URL": issuer.url + "/github-token?api-version=2.0",
                                 "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-secret"}
        else:
            claims = {"project_path": "acme/webshop", "ref": "main", "ref_type": "branch", "sha": COMMIT, "pipeline_id": "99",
                      "user_login": "octo-riley"}
            rule = "{project_path: acme/webshop, ref: main}"
        issuer.claims = claims
        scopes = ", ".join(f"{a}:{PROJECT}" for a in ["request", "evidence", "gate", "read", "deploy"])
        (world.dir / "ci-issuer.yaml").write_text(
            f"name: ci-oidc\nurl: {issuer.url}\naudience: {world.url}\nuses: [pipelines]\npipelines:\n"
            f"  - claims: {rule}\n    service_account: ci-bot\n    scopes: [{scopes}]\n")
        world.person("ada", "issuer", "trust", str(world.dir / "ci-issuer.yaml"), "--key", str(world.dir / "ada.key"))
        if name == "gitlab":
            mode.id_token_env = {"SIGNOFF_ID_TOKEN": issuer.token()}
        run = mode.start("id-token", "5", "45s")
        request = wait_until_waiting(world, run, mode.digest_of("5"))
        check("ID token" in run.text(), f"the gate did not say it uses the job's ID token:\n{run.text()}")
        world.person("morgan", "approve", request, "--key", str(world.dir / "morgan.key"), "--comment", "built by CI, proven by its ID token")
        expect(run, 0, "the gate allows it, with the job's ID token and no stored secret")
        source = world.status(request).get("source") or {}
        check(source.get("verified_by") == "ci-oidc" and source.get("triggered_by") == "octo-riley" and source.get("commit") == COMMIT,
              f"the request's source is not the ID token's claims: {source}")
        if name == "github-actions":
            check(issuer.requests >= 1, "the action did not ask the runner for an ID token")
        say(f"{request}: filed and gated with the job's ID token (no stored secret); source verified by ci-oidc: {source}")
        # A fork's job: its claims match no rule.
        issuer.claims = dict(claims, **({"repository": "mallory/webshop"} if name == "github-actions" else {"project_path": "mallory/webshop"}))
        if name == "gitlab":
            mode.id_token_env = {"SIGNOFF_ID_TOKEN": issuer.token()}
        run = mode.start("id-token-fork", "6", "10s")
        run.wait()
        check(run.rc not in (None, 0) and "match none" in run.text(), f"a fork's ID token was not refused with its reason:\n{run.text()}")
        say("a fork's job is refused: its claims match none of the issuer's pipeline rules")
    finally:
        mode.id_token_env = {}
        issuer.stop()


def detected_shared_objects(world, mode):
    """3. Dataiku, regulated: the bundle's inventory finds a connection and a code env that nothing running uses yet;
    the request gets the platform review although nobody declared --touches."""
    run = mode.gate("regulated", "b9", "2s", project=REGULATED)
    expect(run, 75, "nobody approves the regulated request within the wait")
    request = mode.reported_request(run)
    check(re.fullmatch(r"REQ-\d+", request or ""), f"no request reported: {request!r}")
    check("new shared objects: code-envs, connections" in run.text(), f"the inventory was not attached:\n{run.text()}")
    status = world.status(request)
    check(status.get("labels") == DECLARED and status.get("detected_labels") == {"touches": ["code-envs", "connections"]},
          f"declared {status.get('labels')}, detected {status.get('detected_labels')}")
    check(any(e["kind"] == "bundle-inventory" for e in status.get("evidence", [])), "no bundle-inventory evidence")
    explained = world.person("morgan", "explain", request).stdout
    check("shared-objects" in explained and "platform" in explained, f"the platform review is not on the path:\n{explained}")
    say(f"{request}: the bundle's inventory added the shared-objects stage (platform) with no --touches")
    # Against what runs: only what the bundle adds counts; a bundle using what runs already touches nothing new.
    sys.path.insert(0, str(INTEGRATIONS / "dataiku"))
    import signoff_dataiku
    inventory = signoff_dataiku.bundle_inventory(str(world.dir / "bundles" / "WEBSHOP-b9.zip"))
    check(inventory == {"connections": ["warehouse-pg"], "code_envs": ["py311-ml"], "plugins": []}, f"inventory {inventory}")
    check(signoff_dataiku.new_shared_objects(inventory, inventory) == {}, "the same shared objects counted as new")
    running = {"connections": ["warehouse-pg", "old-db"], "code_envs": [], "plugins": ["geo"]}
    check(signoff_dataiku.new_shared_objects(inventory, running) == {"touches": ["code-envs"]}, "only the new code env counts")


def dataiku_digest(world, bundle_id):
    path = world.dir / "bundles" / f"WEBSHOP-{bundle_id}.zip"

    def digest():
        if not path.exists():
            return None
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def under_way(world, request):
    """Whether `signoff deployments` shows the request's deployment as started and not yet finished."""
    envs = json.loads(world.person("morgan", "deployments", "--project", world.project, "--json").stdout)
    return any(d.get("request") == request for e in envs if e["environment"] == ENV for d in e.get("deploying", []))


def check_deployed(world, status):
    check(status["status"] == "deployed", f"{status['request']} is {status['status']}, not deployed")
    deployments = status.get("deployments", [])
    check(deployments and deployments[-1].get("outcome") == "succeeded", f"no successful deployment: {deployments}")
    check(not under_way(world, status["request"]), "the deployment still shows as under way")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signoff", required=True, help="the signoff binary")
    ap.add_argument("--integration", required=True, choices=["github-actions", "gitlab", "jenkins", "dataiku"])
    ap.add_argument("--workdir", required=True, help="a directory for the story's files (DIR/INTEGRATION is reset)")
    a = ap.parse_args()
    workdir = Path(a.workdir).resolve() / a.integration
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    began = time.monotonic()
    world, mode = World(a.signoff, workdir), None
    try:
        world.set_up()
        world.serve()
        mode = {"github-actions": GitHub, "gitlab": GitLab, "jenkins": Jenkins, "dataiku": Dataiku}[a.integration](world)
        story(world, mode, a.integration)
        print(f"PASS {a.integration} ({time.monotonic() - began:.1f} s; files in {workdir})")
        return 0
    except Failure as e:
        print(f"FAIL {a.integration}: {e}\n(files in {workdir})")
        return 1
    finally:
        for run in Background.started:
            run.kill()
        if mode is not None and hasattr(mode, "stop"):
            mode.stop()
        world.stop()


if __name__ == "__main__":
    sys.exit(main())
