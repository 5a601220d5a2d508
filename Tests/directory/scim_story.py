#!/usr/bin/env python3
"""Signoff's SCIM 2.0 service (RFC 7643/7644) for an organisation's directory, against a local `signoff serve`:

    python3 -u Tests/directory/scim_story.py --signoff PATH --workdir DIR

1. Conformance, on a ledger without a regulated project (scim2-tester sets `active` at random, and a regulated ledger
   never lets a directory enable anyone again): the administrator connects directory `corp` with a signed change,
   PyPI `scim2-tester` runs every check against /scim/v2 with its token, and every result must succeed or be skipped
   for a feature /ServiceProviderConfig declares unsupported. Then, over plain HTTP: Bulk, /Me and sortBy answer 501
   with a SCIM error; no token, a person's session and a service token answer 401; a filter that does not parse,
   400 invalidFilter; a name that is not a Signoff name, 400 invalidValue; a deleted user's name is never reused.
2. The story, with PyPI `scim2-client`, on a regulated ledger: the directory provisions kim, jo and lou and the groups
   churn-approvers and churn-reviewers; the administrator binds the project's approvers to churn-approvers (signed)
   and enrols jo's key; jo logs in. The directory deprovisions jo (active false), which ends jo's session at once;
   moves kim between groups, as Signoff then shows them; is refused an unlinked group, the administrator, other
   people, and enabling jo again; adopts the administrator's `approvers` once linked to it (`signoff group link`);
   loses it when unlinked, and its token when disconnected. The audit export shows each of its changes as a ledger
   entry by `directory:corp`.

Prints `scim: ` progress lines, then PASS (exit 0) or FAIL: reason (exit 1). Every process it starts ends with it.
"""
import argparse
import base64
import collections
import json
import os
import shutil
import stat
import struct
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
import signoff_process  # noqa: E402
from signoff_process import Failure, check  # noqa: E402

from scim2_client import BaseSyncSCIMClient, SCIMClientException  # noqa: E402
from scim2_client.errors import RequestNetworkException  # noqa: E402
from scim2_models import (  # noqa: E402
    Email, Error, Group, GroupMember, ListResponse, PatchOp, PatchOperation, SCIMException, ScimProvider, SearchRequest, User)
from scim2_tester import Status, check_server  # noqa: E402

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DIRECTORY = "corp"
DIRECTORY_ACTOR = f"directory:{DIRECTORY}"
# What a directory's changes are in a regulated ledger (never principal.enabled there).
DIRECTORY_KINDS = {"principal.added", "group.created", "group.member-added", "group.member-removed", "principal.disabled"}


def say(message):
    print(f"scim: {message}", flush=True)


# The HTTP engine of scim2-client. Its 0.13 releases ship it for httpx2 (scim2_client.engines.httpx2, with the extra
# `httpx2`); where httpx2 is not installed, the same engine on httpx (what scim2_client.engines.httpx was).
try:
    import httpx2 as httpx
    from scim2_client.engines.httpx2 import SyncSCIMClient
except ImportError:
    import httpx

    class SyncSCIMClient(BaseSyncSCIMClient):
        """scim2-client's synchronous engine on an `httpx.Client` whose base_url is the SCIM service."""

        def __init__(self, client, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.client = client

        def _stays_under_base_url(self, endpoint):
            base = self.client.base_url
            try:
                url = self.client.build_request("GET", endpoint).url
            except httpx.InvalidURL:
                return False
            return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and url.raw_path.startswith(base.raw_path)

        def _parse_json(self, response):
            return response.json()

        def request(self, method, url, **kwargs):
            try:
                return self.client.request(method, url, **kwargs)
            except httpx.RequestError as exc:
                failure = RequestNetworkException()
                failure.add_note(str(exc))
                raise failure from exc


class Ledger:
    """One ledger in a folder of its own (its database, keys, HOME), and the `signoff serve` over it."""

    def __init__(self, signoff, folder, origin):
        folder.mkdir(parents=True)
        (folder / "home").mkdir()
        self.bin, self.dir, self.origin = str(Path(signoff).resolve()), folder, origin
        self.db = str(folder / "signoff.sqlite")
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder / "home"), "LANG": "C.UTF-8",
                    "SIGNOFF_PASSPHRASE": "scim story passphrase", "SIGNOFF_LEDGER_PASSPHRASE": "scim story ledger passphrase",
                    "SIGNOFF_DB": self.db}
        # The test run's marker (scripts/leftovers.sh finds what this story leaves running by it).
        if "SIGNOFFTEST_RUN" in os.environ:
            self.env["SIGNOFFTEST_RUN"] = os.environ["SIGNOFFTEST_RUN"]
        self.server = None
        self.url = None
        self.http_clients = []

    def cli(self, *args, check_rc=True):
        return signoff_process.run(self.bin, [str(a) for a in args], self.env, self.dir, timeout=120, check_rc=check_rc)

    def admin(self, *args):
        """An administrative change by ada, signed with her key."""
        return self.cli(*args, "--as", "ada", "--key", "ada.key")

    def json(self, *args):
        answer = self.cli(*args, "--json").stdout
        try:
            return json.loads(answer)
        except ValueError:
            raise Failure(f"signoff {' '.join(args)} --json printed no JSON: {answer[:300]}")

    def members(self, group):
        """The group's members as Signoff sees them (`signoff group show GROUP --json`)."""
        return set(self.json("group", "show", group)["members"])

    def principal(self, name):
        return self.json("user", "show", name)

    def keys(self, *names):
        for name in names:
            self.cli("key", "generate", "--name", name, "--out", f"{name}.key")

    def init(self):
        self.cli("init", "--origin", self.origin, "--admin", "ada", "--admin-key", "ada.key.pub")

    def connect(self, name):
        """`signoff directory connect NAME --out FILE` (signed): the directory's bearer token, from the file it writes (0600)."""
        path = self.dir / f"{name}.token"
        self.admin("directory", "connect", name, "--out", path.name)
        check(path.exists(), f"signoff directory connect {name} wrote no token file {path.name}")
        mode = stat.S_IMODE(path.stat().st_mode)
        check(mode == 0o600, f"the directory's token file {path.name} has mode {oct(mode)}, not 0600")
        return read_token(path)

    def login(self, name):
        """`signoff login` with NAME's key, into a token file of NAME's own: the session token."""
        path = self.dir / f"{name}.session"
        self.cli("login", "--server", self.url, "--as", name, "--key", f"{name}.key", "--token-file", path.name)
        return read_token(path)

    def serve(self):
        self.server, self.url = signoff_process.serve(self.bin, ["--log-level", "warning"], self.env, self.dir, self.dir / "server.log")
        say(f"signoff serve on {self.url} ({self.dir.name})")

    def scim(self, token, **kwargs):
        """scim2-client on SERVER/scim/v2 with the bearer token."""
        client = httpx.Client(base_url=self.url + "/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.http_clients.append(client)
        return SyncSCIMClient(client, **kwargs)

    def stop(self):
        for client in self.http_clients:
            client.close()
        self.http_clients = []
        signoff_process.stop(self.server, grace=10, say=say)
        self.server = None


def read_token(path):
    """A token file: the token alone, or JSON with a `token` field (what `signoff login` keeps)."""
    text = path.read_text().strip()
    if text.startswith("{"):
        text = str(json.loads(text).get("token") or "")
    check(text and "\n" not in text, f"{path.name} holds no token: {text[:80]!r}")
    return text


# Plain HTTP: what scim2-client would not send, or would refuse to read.

class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.text = status, headers, body

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def __repr__(self):
        return f"{self.status} {self.content_type} {self.text[:400]}"


def http(method, url, token=None, body=None, content_type="application/scim+json"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/scim+json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return Answer(r.status, r.headers, r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read().decode("utf-8", "replace"))


def scim_error(answer, status, what, scim_type=None):
    """The answer is `status` with a SCIM Error body (RFC 7644 §3.12: schemas, status as a string, scimType if given)."""
    check(answer.status == status, f"{what}: expected {status}, got {answer!r}")
    body = answer.json()
    check(isinstance(body, dict) and body.get("schemas") == [ERROR_SCHEMA], f"{what}: the {status} carries no SCIM Error body: {answer!r}")
    check(answer.content_type in ("application/scim+json", "application/json"), f"{what}: an error of content type {answer.content_type!r}")
    check(body.get("status") == str(status), f"{what}: the Error's status is {body.get('status')!r}, not the string {str(status)!r}")
    if scim_type is not None:
        check(body.get("scimType") == scim_type, f"{what}: scimType {body.get('scimType')!r}, expected {scim_type!r}: {answer!r}")
    say(f"{what}: {status}{' ' + scim_type if scim_type else ''} ({body.get('detail', '')})")
    return body


def refused(result, statuses, what, scim_type=None):
    """A scim2-client call made with raise_scim_errors=False was answered with a SCIM Error of one of `statuses`."""
    check(isinstance(result, Error), f"{what}: expected a SCIM error {sorted(statuses)}, got {result!r}")
    check(result.status in statuses, f"{what}: expected {' or '.join(map(str, sorted(statuses)))}, got {result.status} ({result.detail})")
    if scim_type is not None:
        check(result.scim_type == scim_type, f"{what}: scimType {result.scim_type!r}, expected {scim_type!r} ({result.detail})")
    say(f"refused, as it should be: {what} ({result.status}{' ' + result.scim_type if result.scim_type else ''}: {result.detail})")


def succeeded(result, what):
    if isinstance(result, Error):
        raise Failure(f"{what}: refused with {result.status}{' ' + result.scim_type if result.scim_type else ''}: {result.detail}")
    return result


def patch(model, *operations):
    return PatchOp[model](operations=[PatchOperation(op=op, path=path, **({} if value is ... else {"value": value}))
                                      for op, path, value in operations])


ADD, REMOVE, REPLACE = PatchOperation.Op.add, PatchOperation.Op.remove, PatchOperation.Op.replace_


def query(**parameters):
    """A query string with spaces as %20 (so that a refusal is about the filter, not how a space is written)."""
    return urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)


def whoami(url, token):
    return http("GET", url + "/v1/whoami", token)


# 1. Conformance

def conformance(args, workdir):
    led = Ledger(args.signoff, workdir / "conformance", "scim-conformance.signoff/ledger")
    led.keys("ada", "ci-bot")
    led.init()
    led.cli("service-account", "add", "ci-bot", "--key-file", "ci-bot.key.pub", "--as", "ada")
    # Connecting a directory is signed in every ledger, this one too.
    unsigned = led.cli("directory", "connect", DIRECTORY, "--out", "unsigned.token", "--as", "ada", check_rc=False)
    check(unsigned.returncode != 0, f"signoff directory connect without --key was accepted: {unsigned.stdout.strip()}")
    check(not (led.dir / "unsigned.token").exists() or not (led.dir / "unsigned.token").read_text().strip(),
          "a refused directory connect left a token in its --out file")
    check(DIRECTORY not in led.cli("directory", "list").stdout, "a refused directory connect is listed by signoff directory list")
    token = led.connect(DIRECTORY)
    listed = led.cli("directory", "list").stdout
    check(DIRECTORY in listed, f"signoff directory list does not list {DIRECTORY}: {listed}")
    check(token not in listed, "signoff directory list prints the directory's token")
    service_token = led.cli("token", "create", "--service-account", "ci-bot", "--scope", "read:*", "--as", "ada").stdout.strip()
    say(f"directory {DIRECTORY} connected (signed); its token is in {DIRECTORY}.token, mode 0600")
    led.serve()
    try:
        base = led.url + "/scim/v2"
        session = led.login("ada")
        # What the service provider declares (RFC 7643 §5).
        config = http("GET", base + "/ServiceProviderConfig", token)
        check(config.status == 200, f"GET /ServiceProviderConfig: {config!r}")
        check(config.content_type == "application/scim+json", f"/ServiceProviderConfig is {config.content_type!r}, not application/scim+json")
        spc = config.json()
        check(isinstance(spc, dict), f"/ServiceProviderConfig is not a JSON object: {config!r}")
        expected = {"patch": True, "filter": True, "bulk": False, "sort": False, "etag": False, "changePassword": False}
        for feature, supported in expected.items():
            declared = (spc.get(feature) or {}).get("supported")
            check(declared is supported, f"/ServiceProviderConfig says {feature}.supported {declared!r}, the contract {supported}")
        check(spc["filter"].get("maxResults") == 200, f"/ServiceProviderConfig filter.maxResults: {spc['filter'].get('maxResults')!r}")
        schemes = [s.get("type") for s in spc.get("authenticationSchemes") or []]
        check("oauthbearertoken" in schemes, f"/ServiceProviderConfig authenticationSchemes: {schemes}")
        say("ServiceProviderConfig: patch and filter (maxResults 200); no bulk, sort, etag or changePassword; bearer tokens")

        # scim2-tester: every check, every tag, both resource types, the server described by its own discovery.
        client = led.scim(token)
        started = time.monotonic()
        results = check_server(client)
        say(f"scim2-tester ran {len(results)} checks in {time.monotonic() - started:.1f} s:")
        for r in results:
            reason = " ".join((r.reason or "").split())
            say(f"  {r.status.name:<8} {r.resource_type or '-':<5} {r.title}: {reason[:300]}")
        counts = collections.Counter(r.status.name for r in results)
        say("  " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())))
        check(results, "scim2-tester ran no check")
        bad = [r for r in results if r.status not in (Status.SUCCESS, Status.SKIPPED)]
        if bad:
            first = bad[0]
            raise Failure(f"scim2-tester: {len(bad)} of {len(results)} checks neither succeeded nor were skipped "
                          f"({', '.join(sorted({r.status.name for r in bad}))}); the first: {first.status.name} "
                          f"{first.resource_type or '-'} {first.title}: {' '.join((first.reason or '').split())[:600]}")
        for r in results:
            if r.status == Status.SKIPPED:
                why = unsupported(r, spc)
                check(why is not None, f"scim2-tester skipped {r.title} ({r.resource_type or '-'}) for a reason that is not a feature "
                                       f"/ServiceProviderConfig declares unsupported: {r.reason}")
                say(f"  skipped: {r.title} ({r.resource_type or '-'}): {why}")
        titles = {r.title for r in results if r.status == Status.SUCCESS}
        for title in ["object_creation", "object_query", "object_replacement", "object_deletion", "check_add_attribute",
                      "check_remove_attribute", "check_replace_attribute"]:
            for kind in ["User", "Group"]:
                check(any(r.title == title and r.resource_type == kind and r.status == Status.SUCCESS for r in results),
                      f"scim2-tester's {title} did not succeed for {kind} (it ran: {sorted(titles)})")

        # Declared unsupported, and so answered: 501 with a SCIM Error.
        bulk = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Users", "bulkId": "one",
                                "data": {"schemas": [USER_SCHEMA], "userName": "bulk-user"}}]}
        scim_error(http("POST", base + "/Bulk", token, bulk), 501, "POST /Bulk")
        scim_error(http("GET", base + "/Me", token), 501, "GET /Me")
        scim_error(http("GET", base + "/Users?" + query(sortBy="userName"), token), 501, "GET /Users?sortBy=userName")
        check(http("GET", base + "/Users/bulk-user", token).status == 404, "the refused Bulk request created its user")
        # Only the directory's token opens the SCIM service; the directory's token opens nothing else.
        for what, bearer in [("no token", None), ("a token Signoff never issued", "not-a-token"),
                             ("ada's session token (a person's)", session), ("ci-bot's service token", service_token)]:
            answer = http("GET", base + "/Users", bearer)
            check(answer.status == 401, f"GET /scim/v2/Users with {what}: expected 401, got {answer!r}")
            say(f"GET /Users with {what}: 401")
        check(whoami(led.url, session).status == 200, "ada's session does not work on /v1/whoami (so the 401 above says nothing)")
        answer = whoami(led.url, token)
        check(answer.status == 401, f"the directory's token opened GET /v1/whoami: {answer!r}")
        say("the directory's token on /v1/whoami: 401")
        # Filters that do not parse; names that are not Signoff names.
        for text in ['userName eq', 'userName eq "unterminated', '(userName eq "a"', 'userName zz "a"']:
            scim_error(http("GET", base + "/Users?" + query(filter=text), token), 400,
                       f"GET /Users?filter={text}", "invalidFilter")
        for name in ["Kim", "kim lee", "-kim", "k" * 64, ""]:
            scim_error(http("POST", base + "/Users", token, {"schemas": [USER_SCHEMA], "userName": name}), 400,
                       f"POST /Users userName {name[:20]!r}{'…' if len(name) > 20 else ''}", "invalidValue")
        scim_error(http("POST", base + "/Groups", token, {"schemas": [GROUP_SCHEMA], "displayName": "Churn Team"}), 400,
                   "POST /Groups displayName 'Churn Team'", "invalidValue")
        # application/json is accepted; a deleted user is disabled, gone from SCIM, and its name never reused.
        created = http("POST", base + "/Users", token, {"schemas": [USER_SCHEMA], "userName": "pat", "active": True}, "application/json")
        check(created.status == 201, f"POST /Users as application/json: {created!r}")
        check(created.content_type == "application/scim+json", f"POST /Users answered {created.content_type!r}")
        check((created.json() or {}).get("id") == "pat", f"a user's id is its userName: {created!r}")
        location = created.headers.get("Location") or ""
        check(location.endswith("/scim/v2/Users/pat"), f"the 201's Location: {location!r}")
        pat = led.principal("pat")
        check(not pat["keys"] and not pat["administrator"] and not pat["disabled"], f"a directory's user has no key, is no administrator: {pat}")
        deleted = http("DELETE", base + "/Users/pat", token)
        check(deleted.status == 204, f"DELETE /Users/pat: {deleted!r}")
        scim_error(http("GET", base + "/Users/pat", token), 404, "GET /Users/pat after its DELETE")
        check(led.principal("pat")["disabled"], "DELETE /Users/pat did not disable pat")
        scim_error(http("POST", base + "/Users", token, {"schemas": [USER_SCHEMA], "userName": "pat"}), 409,
                   "POST /Users userName pat again after its DELETE", "uniqueness")
        # What scim2-tester left: users without keys, never administrators.
        for principal in led.json("user", "list"):
            if principal["name"] != "ada":
                check(not principal["keys"] and not principal["administrator"],
                      f"the directory made {principal['name']} with a key or an administrator: {principal}")
    finally:
        led.stop()


def unsupported(result, spc):
    """Why a check scim2-tester skipped is for a feature the service declares unsupported (None if it is not)."""
    reason = result.reason or ""
    if reason == "PATCH operations not supported by server":
        return "declared unsupported: /ServiceProviderConfig patch.supported false" if not spc["patch"]["supported"] else None
    if reason.startswith("POST /.search: searching several resource types at once is not supported"):
        # RFC 7644 §3.4.3 lets a service answer 501 to a search across resource types; the configuration has no
        # field for it (scim2-tester skips only when the answer is a 501 Error).
        return "POST /.search at the root answered 501 (RFC 7644 §3.4.3; no ServiceProviderConfig field says so)"
    return None


# 2. The story, on a regulated ledger

def story(args, workdir):
    led = Ledger(args.signoff, workdir / "story", "scim-story.signoff/ledger")
    led.keys("ada", "riley", "dana", "casey", "ci-bot", "jo")
    led.init()
    for name in ["riley", "dana", "casey"]:
        led.cli("user", "add", name, "--key-file", f"{name}.key.pub", "--as", "ada")
    led.cli("user", "add", "morgan", "--as", "ada")
    led.cli("service-account", "add", "ci-bot", "--key-file", "ci-bot.key.pub", "--as", "ada")
    for group, members in [("data-science", ["riley"]), ("ci", ["ci-bot"]), ("approvers", ["morgan"]),
                           ("deployers", ["dana"]), ("platform", []), ("compliance", ["casey"])]:
        led.cli("group", "add", group, "--as", "ada")
        for member in members:
            led.cli("group", "add-member", group, member, "--as", "ada")
    led.cli("workflow", "apply", ROOT / "workflows" / "standard.yaml", "--as", "ada")
    led.admin("project", "create", "churn-model", "--regulated", "--env", "prod=standard",
              "--role", "requesters=data-science", "--role", "ci=ci", "--role", "approvers=approvers",
              "--role", "platform=platform", "--role", "compliance=compliance", "--role", "deployers=deployers")
    token = led.connect(DIRECTORY)
    say(f"regulated ledger: project churn-model; directory {DIRECTORY} connected (signed)")
    led.serve()
    try:
        scim = led.scim(token, provider=ScimProvider(models=[User, Group]))
        scim.discover()
        base = led.url + "/scim/v2"

        # The directory provisions a team.
        people = {"kim": "Kim Lee", "jo": "Jo Park", "lou": "Lou Martin"}
        for name, display in people.items():
            user = succeeded(scim.create(User(user_name=name, display_name=display, external_id=f"ext-{name}", active=True,
                                              emails=[Email(value=f"{name}@example.com", type="work", primary=True)]),
                                         raise_scim_errors=False), f"POST /Users {name}")
            check(user.id == name and user.user_name == name, f"a user's id is its userName: id {user.id!r} for {name}")
            check(user.active is not False, f"{name} was created inactive: {user!r}")
            check(user.meta is not None and user.meta.resource_type == "User", f"{name}'s meta.resourceType: {user.meta!r}")
            shown = led.principal(name)
            check(shown["kind"] == "user" and not shown["keys"] and not shown["administrator"] and not shown["disabled"],
                  f"Signoff's {name} is not an enabled, keyless, non-administrator user: {shown}")
        refused(scim.create(User(user_name="kim"), raise_scim_errors=False), {409}, "POST /Users kim again", "uniqueness")
        refused(scim.create(User(user_name="riley"), raise_scim_errors=False), {409}, "POST /Users riley (ada's user)", "uniqueness")
        refused(scim.create(User(user_name="Sam Smith"), raise_scim_errors=False), {400}, "POST /Users 'Sam Smith'", "invalidValue")
        say("the directory provisioned kim, jo and lou: Signoff users without keys")
        found = succeeded(scim.query(User, query_parameters=SearchRequest(filter='userName eq "jo"'), raise_scim_errors=False),
                          'GET /Users?filter=userName eq "jo" (scim2-client sends the spaces as +)')
        check(isinstance(found, ListResponse) and found.total_results == 1 and [u.id for u in found.resources or []] == ["jo"],
              f'filter userName eq "jo": {found!r}')
        found = succeeded(scim.query(User, query_parameters=SearchRequest(filter='externalId eq "ext-lou"'), raise_scim_errors=False),
                          'GET /Users?filter=externalId eq "ext-lou"')
        check(found.total_results == 1 and found.resources[0].id == "lou", f'filter externalId eq "ext-lou": {found!r}')
        found = succeeded(scim.query(User, query_parameters=SearchRequest(filter='userName eq "nobody"'), raise_scim_errors=False),
                          'GET /Users?filter=userName eq "nobody"')
        check(found.total_results == 0 and not found.resources, f'filter userName eq "nobody": {found!r}')
        seen = []
        first = succeeded(scim.query(User, query_parameters=SearchRequest(start_index=1, count=2), raise_scim_errors=False), "GET /Users?startIndex=1&count=2")
        check(first.start_index == 1 and len(first.resources or []) <= 2 and first.items_per_page == len(first.resources or []),
              f"GET /Users?startIndex=1&count=2: startIndex {first.start_index}, itemsPerPage {first.items_per_page}, {len(first.resources or [])} resources")
        check((first.total_results or 0) >= 3, f"GET /Users says totalResults {first.total_results} with kim, jo and lou provisioned")
        index = 1
        while index <= first.total_results:
            page = succeeded(scim.query(User, query_parameters=SearchRequest(start_index=index, count=2), raise_scim_errors=False),
                             f"GET /Users?startIndex={index}&count=2")
            check(page.resources and len(page.resources) <= 2, f"GET /Users?startIndex={index}&count=2 gave {len(page.resources or [])} resources")
            seen += [u.id for u in page.resources]
            index += len(page.resources)
        check(set(people) <= set(seen) and len(seen) == len(set(seen)) == first.total_results,
              f"the pages of two list each user once ({first.total_results} in all): {seen}")
        only = http("GET", base + "/Users/kim?" + query(attributes="userName"), token).json() or {}
        check(only.get("userName") == "kim" and only.get("id") == "kim" and "emails" not in only and "displayName" not in only,
              f"GET /Users/kim?attributes=userName: {only}")
        less = http("GET", base + "/Users/kim?" + query(excludedAttributes="emails"), token).json() or {}
        check(less.get("displayName") == "Kim Lee" and "emails" not in less, f"GET /Users/kim?excludedAttributes=emails: {less}")
        say("filters (userName, externalId), paging (startIndex, count), attributes and excludedAttributes")

        # PUT replaces; PATCH paths; immutable names; unknown paths.
        kim = succeeded(scim.replace(User(id="kim", user_name="kim", display_name="Kim Lee-Chen", external_id="ext-kim", active=True,
                                          emails=[Email(value="kim.lee@example.com", type="work", primary=True)]),
                                     raise_scim_errors=False), "PUT /Users/kim")
        check(kim.display_name == "Kim Lee-Chen" and [e.value for e in kim.emails or []] == ["kim.lee@example.com"], f"PUT /Users/kim: {kim!r}")
        kim = succeeded(scim.modify(User, "kim", patch(User, (REPLACE, "displayName", "Kim Lee")), raise_scim_errors=False), "PATCH displayName")
        kim = succeeded(scim.query(User, "kim", raise_scim_errors=False), "GET /Users/kim")
        check(kim.display_name == "Kim Lee", f"PATCH replace displayName: {kim.display_name!r}")
        refused(scim.modify(User, "kim", patch(User, (REPLACE, "userName", "kimberly")), raise_scim_errors=False), {400},
                "PATCH replace userName of kim", "mutability")
        unknown = http("PATCH", base + "/Users/kim", token,
                       {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "favouriteColour", "value": "blue"}]})
        scim_error(unknown, 400, "PATCH /Users/kim path favouriteColour", "invalidPath")

        # Groups of the directory's own.
        for name, members in [("churn-approvers", ["kim", "jo"]), ("churn-reviewers", ["lou"])]:
            group = succeeded(scim.create(Group(display_name=name, external_id=f"ext-{name}",
                                                members=[GroupMember(value=m, type="User") for m in members]),
                                          raise_scim_errors=False), f"POST /Groups {name}")
            check(group.id == name, f"a group's id is its displayName: id {group.id!r} for {name}")
            check({m.value for m in group.members or []} == set(members), f"POST /Groups {name} answered members {group.members!r}")
            check(led.members(name) == set(members), f"Signoff's {name} has {sorted(led.members(name))}, not {members}")
        refused(scim.create(Group(display_name="churn-approvers"), raise_scim_errors=False), {409}, "POST /Groups churn-approvers again", "uniqueness")
        refused(scim.create(Group(display_name="approvers"), raise_scim_errors=False), {409}, "POST /Groups approvers (ada's, not linked)", "uniqueness")
        refused(scim.modify(Group, "churn-reviewers", patch(Group, (REPLACE, "displayName", "reviewers")), raise_scim_errors=False), {400},
                "PATCH replace displayName of churn-reviewers", "mutability")
        found = succeeded(scim.query(Group, query_parameters=SearchRequest(filter='displayName eq "churn-reviewers"'), raise_scim_errors=False),
                          'GET /Groups?filter=displayName eq "churn-reviewers"')
        check(found.total_results == 1 and found.resources[0].id == "churn-reviewers", f'filter displayName eq "churn-reviewers": {found!r}')
        say("the directory created churn-approvers (kim, jo) and churn-reviewers (lou); Signoff shows the same members")

        # The administrator trusts the directory's group with the project's approvals, and enrols jo's key; jo logs in.
        unsigned = led.cli("project", "update", "churn-model", "--role", "approvers=churn-approvers", "--as", "ada", check_rc=False)
        check(unsigned.returncode != 0, "an unsigned project update was accepted in a regulated ledger")
        led.admin("project", "update", "churn-model", "--role", "approvers=churn-approvers")
        roles = led.json("project", "show", "churn-model")["roles"]
        check(roles.get("approvers") == ["churn-approvers"], f"churn-model's approvers after the update: {roles}")
        check("churn-model" in led.json("group", "show", "churn-approvers")["regulated_projects"], "churn-approvers is not shown as relied on by churn-model")
        led.admin("user", "enroll-key", "jo", "--key-file", "jo.key.pub")
        session = led.login("jo")
        me = whoami(led.url, session)
        check(me.status == 200 and (me.json() or {}).get("principal") == "jo", f"jo's whoami after login: {me!r}")
        say("ada bound approvers=churn-approvers (signed) and enrolled jo's key; jo logged in")

        # Deprovisioning: active false ends jo's session at its next request.
        jo = succeeded(scim.modify(User, "jo", patch(User, (REPLACE, "active", False)), raise_scim_errors=False), "PATCH jo active false")
        check(jo is None or jo.active is False, f"PATCH active false answered {jo!r}")
        me = whoami(led.url, session)
        check(me.status == 401, f"jo's session still works after the directory deprovisioned jo: {me!r}")
        check(led.principal("jo")["disabled"], "Signoff's jo is not disabled after PATCH active false")
        jo = succeeded(scim.query(User, "jo", raise_scim_errors=False), "GET /Users/jo")
        check(jo.active is False, f"GET /Users/jo after deprovisioning: active {jo.active!r}")
        relogin = led.cli("login", "--server", led.url, "--as", "jo", "--key", "jo.key", "--token-file", "jo.again", check_rc=False)
        check(relogin.returncode != 0, "disabled jo logged in again")
        say("the directory set jo inactive: jo's session answers 401 at once, and jo cannot log in")

        # kim moves from churn-approvers to churn-reviewers.
        succeeded(scim.modify(Group, "churn-approvers", patch(Group, (REMOVE, 'members[value eq "kim"]', ...)), raise_scim_errors=False),
                  "PATCH remove kim from churn-approvers")
        succeeded(scim.modify(Group, "churn-reviewers", patch(Group, (ADD, "members", [{"value": "kim"}])), raise_scim_errors=False),
                  "PATCH add kim to churn-reviewers")
        check(led.members("churn-approvers") == {"jo"}, f"Signoff's churn-approvers after kim left: {sorted(led.members('churn-approvers'))}")
        check(led.members("churn-reviewers") == {"lou", "kim"}, f"Signoff's churn-reviewers after kim joined: {sorted(led.members('churn-reviewers'))}")
        reviewers = succeeded(scim.query(Group, "churn-reviewers", raise_scim_errors=False), "GET /Groups/churn-reviewers")
        check({m.value for m in reviewers.members or []} == {"lou", "kim"}, f"GET /Groups/churn-reviewers members: {reviewers.members!r}")
        check("churn-reviewers" in led.principal("kim")["groups"] and "churn-approvers" not in led.principal("kim")["groups"],
              f"kim's groups: {led.principal('kim')['groups']}")
        say("kim moved from churn-approvers to churn-reviewers (PATCH remove, PATCH add), as Signoff shows")

        # What the directory may not do in a regulated ledger.
        refused(scim.modify(Group, "approvers", patch(Group, (ADD, "members", [{"value": "lou"}])), raise_scim_errors=False), {403},
                "PATCH add lou to approvers (ada's group, not linked to corp)")
        check(led.members("approvers") == {"morgan"}, f"approvers changed: {sorted(led.members('approvers'))}")
        refused(scim.modify(Group, "churn-reviewers", patch(Group, (ADD, "members", [{"value": "riley"}])), raise_scim_errors=False),
                {400, 403, 404}, "PATCH add riley (not the directory's user) to churn-reviewers")
        check("riley" not in led.members("churn-reviewers"), "riley was added to churn-reviewers")
        refused(scim.modify(User, "ada", patch(User, (REPLACE, "active", False)), raise_scim_errors=False), {403, 404},
                "PATCH ada (an administrator) active false")
        refused(scim.replace(User(id="ada", user_name="ada", display_name="Ada", active=False), raise_scim_errors=False), {403, 404},
                "PUT /Users/ada")
        refused(scim.delete(User, "ada", raise_scim_errors=False), {403, 404}, "DELETE /Users/ada")
        check(not led.principal("ada")["disabled"], "the directory disabled the administrator")
        refused(scim.modify(User, "riley", patch(User, (REPLACE, "active", False)), raise_scim_errors=False), {403, 404},
                "PATCH riley (ada's user) active false")
        check(not led.principal("riley")["disabled"], "the directory disabled riley, whom it did not create")
        refused(scim.modify(User, "jo", patch(User, (REPLACE, "active", True)), raise_scim_errors=False), {403},
                "PATCH jo active true (enabling again, in a regulated ledger)")
        check(led.principal("jo")["disabled"], "the directory enabled jo again in a regulated ledger")
        check(whoami(led.url, session).status == 401, "jo's old session came back")

        # The administrator links approvers to the directory: the directory adopts it, then keeps its members.
        unsigned = led.cli("group", "link", "approvers", "--directory", DIRECTORY, "--as", "ada", check_rc=False)
        check(unsigned.returncode != 0, "an unsigned group link was accepted in a regulated ledger")
        led.admin("group", "link", "approvers", "--directory", DIRECTORY)
        adopted = succeeded(scim.create(Group(display_name="approvers"), raise_scim_errors=False), "POST /Groups approvers once linked")
        check(adopted.id == "approvers", f"the adopted group's id: {adopted.id!r}")
        succeeded(scim.modify(Group, "approvers", patch(Group, (ADD, "members", [{"value": "lou"}])), raise_scim_errors=False),
                  "PATCH add lou to approvers once linked")
        check("lou" in led.members("approvers"), f"Signoff's approvers after the directory added lou: {sorted(led.members('approvers'))}")
        say("ada linked approvers to corp (signed); the directory adopted it (201) and added lou")
        led.admin("group", "unlink", "approvers")
        refused(scim.modify(Group, "approvers", patch(Group, (REMOVE, 'members[value eq "lou"]', ...)), raise_scim_errors=False), {403, 404},
                "PATCH remove lou from approvers once unlinked")
        check("lou" in led.members("approvers"), "the directory changed approvers after ada unlinked it")

        # DELETE: disabled, gone from SCIM, the name never reused.
        succeeded(scim.create(User(user_name="sam", active=True), raise_scim_errors=False), "POST /Users sam")
        succeeded(scim.delete(User, "sam", raise_scim_errors=False), "DELETE /Users/sam")
        refused(scim.query(User, "sam", raise_scim_errors=False), {404}, "GET /Users/sam after its DELETE")
        check(led.principal("sam")["disabled"], "DELETE /Users/sam did not disable sam")
        refused(scim.create(User(user_name="sam"), raise_scim_errors=False), {409}, "POST /Users sam after its DELETE", "uniqueness")

        # Disconnected: the token opens nothing.
        led.admin("directory", "disconnect", DIRECTORY)
        check(http("GET", base + "/Users", token).status == 401, "the token of a disconnected directory still opens /scim/v2/Users")
        check(DIRECTORY not in led.cli("directory", "list").stdout, f"{DIRECTORY} is still listed after signoff directory disconnect")
        say("ada disconnected corp: its token answers 401")
    finally:
        led.stop()
    ledger_entries(led)


def decode_entry(encoded):
    """An entry as the ledger stores it (schema/ledger.md §1): its kind, actor and JSON payload."""
    raw = base64.b64decode(encoded)

    def text(offset):
        (length,) = struct.unpack_from(">H", raw, offset)
        return raw[offset + 2:offset + 2 + length].decode(), offset + 2 + length

    version, offset = raw[0], 1 + 8 + 8
    kind, offset = text(offset)
    if version == 2:
        _, offset = text(offset)  # project
        _, offset = text(offset)  # environment
    actor, offset = text(offset)
    if version == 2:
        offset += 32  # payload digest
    (length,) = struct.unpack_from(">I", raw, offset)
    return kind, actor, json.loads(raw[offset + 4:offset + 4 + length])


def ledger_entries(led):
    """The audit export (offline-verified): each change of the directory is an entry whose actor is directory:corp."""
    led.cli("audit", "export", "--out", "export")
    led.cli("audit", "verify", "export", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
    lines = [json.loads(line) for line in (led.dir / "export" / "entries.jsonl").read_text().splitlines() if line.strip()]
    by_directory, by_ada = set(), set()
    for line in lines:
        if line["actor"] not in (DIRECTORY_ACTOR, "ada"):
            continue
        check("entry" in line, f"entry {line['sequence']} ({line['kind']} by {line['actor']}) is only a stub in an unfiltered export")
        kind, actor, payload = decode_entry(line["entry"])
        check((kind, actor) == (line["kind"], line["actor"]), f"entry {line['sequence']}: its header says {kind} by {actor}, the line {line}")
        subject = tuple(payload.get(k) for k in ("name", "group", "member", "principal", "directory") if payload.get(k) is not None)
        (by_directory if actor == DIRECTORY_ACTOR else by_ada).add((kind, subject))
        if actor == DIRECTORY_ACTOR:
            check(kind in DIRECTORY_KINDS,
                  f"the directory made a {kind} entry in a regulated ledger: {payload}")
            check(not payload.get("approval"), f"the directory's {kind} carries an administrator's approval: {payload}")
            if kind == "principal.added":
                check(payload.get("directory") == DIRECTORY and not payload.get("administrator") and not payload.get("verifier_key"),
                      f"the directory's principal.added: {payload}")
    expected = {("principal.added", (n, DIRECTORY)) for n in ["kim", "jo", "lou", "sam"]}
    expected |= {("group.created", (g, DIRECTORY)) for g in ["churn-approvers", "churn-reviewers"]}
    expected |= {("group.member-added", m) for m in [("churn-approvers", "kim"), ("churn-approvers", "jo"), ("churn-reviewers", "lou"),
                                                     ("churn-reviewers", "kim"), ("approvers", "lou")]}
    expected |= {("group.member-removed", ("churn-approvers", "kim")), ("principal.disabled", ("jo",)), ("principal.disabled", ("sam",))}
    missing = expected - by_directory
    check(not missing, f"changes of the directory missing from the ledger as entries by {DIRECTORY_ACTOR}: {sorted(missing)}")
    for entry in [("directory.connected", (DIRECTORY,)), ("group.linked", ("approvers", DIRECTORY)), ("group.linked", ("approvers",)),
                  ("key.enrolled", ("jo",)), ("project.updated", ()), ("directory.disconnected", (DIRECTORY,))]:
        check(entry in by_ada or (entry[0] == "project.updated" and any(kind == "project.updated" for kind, _ in by_ada)),
              f"ada's {entry[0]} {entry[1]} is not in the ledger as her entry: {sorted(k for k in by_ada if k[0] == entry[0])}")
    directory_names = {"kim", "jo", "lou", "sam", "churn-approvers", "churn-reviewers"}
    moved_by_ada = [(kind, subject) for kind, subject in by_ada if kind in DIRECTORY_KINDS and directory_names & set(subject)]
    check(not moved_by_ada, f"entries by ada record what the directory did: {moved_by_ada}")
    say(f"audit export (verified offline): {len(by_directory)} entries by {DIRECTORY_ACTOR}, each a change the directory made")


def run(args):
    workdir = Path(args.workdir).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    say("1. conformance, on a ledger without a regulated project")
    conformance(args, workdir)
    say("2. the story, on a regulated ledger")
    story(args, workdir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signoff", required=True, help="the signoff binary")
    ap.add_argument("--workdir", required=True, help="a folder for the ledgers (emptied first)")
    args = ap.parse_args()
    started = time.monotonic()
    try:
        run(args)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    except (SCIMClientException, SCIMException) as e:
        source = getattr(e, "source", None)
        answer = f" (the server answered {source.status_code}: {source.text[:400]})" if hasattr(source, "status_code") else ""
        notes = " ".join(getattr(e, "__notes__", []))
        print(f"FAIL: scim2-client: {type(e).__name__}: {e} {notes}{answer}", flush=True)
        sys.exit(1)
    except Exception as e:  # a bug here, or an answer no check foresaw: say where
        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
    say(f"done in {time.monotonic() - started:.1f} s")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
