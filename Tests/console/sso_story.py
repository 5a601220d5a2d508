#!/usr/bin/env python3
"""Single sign-on for the console against a real OpenID provider on loopback (PyPI `oidc-provider-mock`, RS256 ID
tokens), in headless Chromium:

    python3 Tests/console/sso_story.py --signoff PATH --workdir DIR [--screenshots docs/console]

The administrator trusts the provider for people with a signed change (`signoff issuer trust`); `signoff serve` runs with
`--sso-issuer`, `--sso-client-id` and a client secret file. In the browser, morgan (a user with no key at all) signs in
with the provider, is sent to set up this browser's key, the administrator enrols it with the CLI, morgan approves the
request with a browser-signed statement, and logs out (the login page then offers the provider's sign-out). Then, over
plain HTTP, each refusal with its reason: a wrong state, a replayed callback, a replayed code, a person Signoff does not
know, a disabled person, an issuer whose audience is not the client, and an issuer no longer trusted. Prints PASS or FAIL.
"""
import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "console"))
import signoff_process  # noqa: E402
from signoff_process import Failure, check  # noqa: E402
from browser_story import World, accessible, browser, main_text, story_main  # noqa: E402

CLIENT_ID = "signoff-console"


def say(message):
    print(f"sso: {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Provider:
    """oidc-provider-mock in its own process group, ended with the story (also when it fails)."""

    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        users = [{"sub": name, "email": f"{name}@example.com"} for name in ["morgan", "casey", "nobody"]]
        args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port)]
        for user in users:
            args += ["--user-claims", json.dumps(user)]
        env = dict(os.environ)
        self.log = open(workdir / "provider.log", "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env, start_new_session=True)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/.well-known/openid-configuration", timeout=1).read()
                return
            except OSError:
                check(self.process.poll() is None, f"oidc-provider-mock exited {self.process.returncode}: see provider.log")
                time.sleep(0.1)
        self.stop()
        raise Failure("oidc-provider-mock did not start in 10 s")

    def stop(self):
        signoff_process.stop(self.process, grace=5)
        self.log.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browserless:
    """An HTTP client with its own cookies that follows no redirect: the sign-in by hand, to see each refusal."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def request(self, url, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode("utf-8", "replace")

    def start(self, server):
        status, headers, _ = self.request(server + "/console/sso/start")
        check(status == 303, f"/console/sso/start answered {status}")
        return headers["Location"]

    def authorize(self, location, sub):
        """The provider's form, submitted for `sub`: the redirect back, with the code and the state."""
        status, headers, _ = self.request(location, {"sub": sub})
        check(status in (302, 303), f"the provider answered the authorization with {status}")
        back = headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlparse(back).query)
        return back, query["code"][0], query["state"][0]


def refused(answer, status, reason, what):
    check(answer[0] == status and reason in answer[2], f"{what}: expected {status} with '{reason}', got {answer[0]}: {answer[2][:600]}")
    say(f"refused, as it should be: {what} ({status})")


def run(args):
    workdir = Path(args.workdir).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    shots = Path(args.screenshots).resolve() if args.screenshots else workdir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    w = World(args.signoff, workdir)
    w.set_up()
    provider = Provider(workdir)
    driver = None
    try:
        (workdir / "issuer.yaml").write_text(
            f"name: mock\nurl: {provider.url}\naudience: {CLIENT_ID}\nuses: [people]\nperson_claim: sub\n")
        unsigned = w.cli("issuer", "trust", "issuer.yaml", "--as", "ada", check_rc=False)
        check(unsigned.returncode != 0 and "signed" in unsigned.stderr, f"an unsigned trust was accepted: {unsigned.stderr}")
        w.admin("issuer", "trust", "issuer.yaml")
        listed = w.cli("issuer", "list").stdout
        check("mock" in listed and provider.url in listed, f"issuer list: {listed}")
        (workdir / "client-secret").write_text("not-a-real-secret\n")
        w.server, w.url = signoff_process.serve(
            w.bin, ["--log-level", "info", "--sso-issuer", "mock", "--sso-client-id", CLIENT_ID, "--sso-client-secret-file", "client-secret"],
            w.env, w.dir, w.dir / "server.log")
        driver = browser()
        wait = WebDriverWait(driver, 30, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException])

        def shot(name):
            driver.save_screenshot(str(shots / f"{name}.png"))

        # 1. Sign in with the provider: the login page offers it; the provider's form; back, to set up a key.
        driver.get(w.url + "/login")
        accessible(driver, "login with SSO")
        shot("09-sso-login")
        driver.find_element(By.ID, "sso-start").click()
        wait.until(EC.url_contains(provider.url))
        shot("10-sso-provider")
        driver.find_element(By.CSS_SELECTOR, 'button[name="sub"][value="morgan"]').click()
        wait.until(EC.url_contains("/setup"))
        check(driver.find_element(By.ID, "setup-user").get_attribute("value") == "morgan", "the setup page names the signed-in person")
        cookies = {c["name"]: c for c in driver.get_cookies()}
        check("signoff_session" in cookies and cookies["signoff_session"]["httpOnly"], f"session cookie after SSO: {cookies}")
        check("signoff_sso" not in cookies, "the sign-in's cookie is cleared once used")
        say("signed in with the provider; no key yet, so the console asks to set one up")
        # 2. The browser makes morgan's key; the administrator enrols it (signing in never enrols one).
        shown = json.loads(w.cli("user", "show", "morgan", "--json").stdout)
        check(not shown.get("keys"), f"SSO enrolled a key by itself: {shown}")
        driver.find_element(By.CSS_SELECTOR, "#setup-form button").click()
        wait.until(lambda d: d.find_element(By.ID, "setup-key").text.startswith("morgan+"))
        line = driver.find_element(By.ID, "setup-key").text.strip()
        shot("11-sso-setup")
        (workdir / "morgan-browser.pub").write_text(line + "\n")
        w.admin("user", "enroll-key", "morgan", "--key-file", "morgan-browser.pub")
        # 3. With the SSO session, the inbox; the approval signed by the browser's key.
        driver.get(w.url + "/inbox")
        check("/inbox" in driver.current_url, f"the SSO session reads the inbox: {driver.current_url}")
        check(w.request in main_text(driver), f"inbox: {main_text(driver)}")
        driver.find_element(By.LINK_TEXT, w.request).click()
        wait.until(EC.presence_of_element_located((By.ID, "decide-form")))
        driver.find_element(By.ID, "decide-comment").send_keys("approved after single sign-on")
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="approve"]').click()
        wait.until(lambda d: "approved after single sign-on" in main_text(d))
        shot("12-sso-approved")
        status = json.loads(w.cli("status", w.request, "--json").stdout)
        decision = status["decisions"][-1]
        check(decision["actor"] == "morgan" and decision["signed"], f"the browser-signed decision: {decision}")
        say("morgan approved with a signature by the browser's key")
        # 4. Logout ends the session and offers the provider's sign-out.
        driver.find_element(By.CSS_SELECTOR, "#logout-form button").click()
        wait.until(EC.url_contains("/login"))
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "main a")]
        check(any(h and h.startswith(provider.url) and "end_session" in h for h in links), f"the provider's sign-out is offered: {links}")
        shot("13-sso-logged-out")
        driver.get(w.url + "/inbox")
        check("/login" in driver.current_url, "after logout the inbox asks for a login")
        driver.quit()
        driver = None

        # 5. Refusals, by hand over HTTP.
        client = Browserless()
        location = client.start(w.url)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
        check(query["code_challenge_method"] == ["S256"] and query.get("nonce") and query.get("state"), f"PKCE, nonce, state: {query}")
        back, code, state = client.authorize(location, "morgan")
        refused(client.request(w.url + "/console/sso/callback?" + urllib.parse.urlencode({"code": code, "state": "x" + state})), 400,
                "state is unknown", "a wrong state")
        refused(Browserless().request(back), 400, "not started in this browser", "the callback in another browser")
        twin = Browserless()
        for cookie in client.jar:
            twin.jar.set_cookie(cookie)
        ok = client.request(back)
        check(ok[0] == 200 and "morgan" in ok[2], f"the sign-in by hand: {ok[0]} {ok[2][:300]}")
        refused(twin.request(back), 400, "state is unknown, used or expired", "a replayed callback (with the sign-in's cookie)")
        # The code again, under a new sign-in's state: the provider refuses it.
        fresh = client.start(w.url)
        new_state = urllib.parse.parse_qs(urllib.parse.urlparse(fresh).query)["state"][0]
        refused(client.request(w.url + "/console/sso/callback?" + urllib.parse.urlencode({"code": code, "state": new_state})), 400,
                "refused the code", "a replayed code")
        nobody = Browserless()
        back, _, _ = nobody.authorize(nobody.start(w.url), "nobody")
        refused(nobody.request(back), 403, "not a Signoff user", "a person Signoff does not know")
        w.admin("user", "disable", "casey")
        disabled = Browserless()
        back, _, _ = disabled.authorize(disabled.start(w.url), "casey")
        refused(disabled.request(back), 403, "disabled", "a disabled person")
        # The issuer's audience must be the console's client; then, no longer trusted at all.
        (workdir / "issuer.yaml").write_text(
            f"name: mock\nurl: {provider.url}\naudience: another-client\nuses: [people]\nperson_claim: sub\n")
        w.admin("issuer", "trust", "issuer.yaml")
        refused(Browserless().request(w.url + "/console/sso/start"), 404, "not this server", "an issuer trusted for another audience")
        w.admin("issuer", "distrust", "mock")
        refused(Browserless().request(w.url + "/console/sso/start"), 404, "not trusted", "an issuer no longer trusted")
        log = (workdir / "server.log").read_text()
        check("not-a-real-secret" not in log, "the client secret is in the server's log")
    finally:
        if driver is not None:
            driver.quit()
        w.stop()
        provider.stop()


if __name__ == "__main__":
    story_main(run, "sso", __doc__)
