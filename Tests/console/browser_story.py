#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium driven by Selenium), against a local `signoff serve`:

    python3 Tests/console/browser_story.py --signoff PATH --workdir DIR [--screenshots docs/console]

A regulated project; riley files a request, CI attaches a JUnit report. In the browser, morgan sets up a key
(WebCrypto Ed25519, non-extractable, kept in IndexedDB); the administrator enrols it with the CLI; morgan logs in by
signing the server's challenge, sees the request in the inbox, opens it, reads the evidence, approves with a comment
(the browser signs the in-toto statement as a DSSE envelope); the request advances; dana deploys with the CLI; the
dashboard shows it running. Then `signoff audit export` and `signoff audit verify` (offline) show morgan's decision
signed, with the browser key. Accessibility basics are checked on every page (labelled inputs, headings in order,
visible focus). A screenshot of every page goes to --screenshots. Prints PASS or FAIL.
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait
from axe_selenium_python import Axe

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
import signoff_process  # noqa: E402
from signoff_process import Failure, check  # noqa: E402


def say(message):
    print(f"browser: {message}", flush=True)


class World:
    def __init__(self, signoff, workdir):
        self.bin, self.dir = str(Path(signoff).resolve()), workdir
        self.db = str(workdir / "signoff.sqlite")
        (workdir / "home").mkdir()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir / "home"), "LANG": "C.UTF-8",
                    "SIGNOFF_PASSPHRASE": "browser story passphrase", "SIGNOFF_LEDGER_PASSPHRASE": "browser story ledger passphrase",
                    "SIGNOFF_DB": self.db}
        # The test run's marker (scripts/leftovers.sh finds what this story leaves running by it).
        if "SIGNOFFTEST_RUN" in os.environ:
            self.env["SIGNOFFTEST_RUN"] = os.environ["SIGNOFFTEST_RUN"]
        self.server = None
        self.url = None

    def cli(self, *args, check_rc=True):
        return signoff_process.run(self.bin, args, self.env, self.dir, timeout=120, check_rc=check_rc)

    def admin(self, *args):
        return self.cli(*args, "--as", "ada", "--key", "ada.key")

    def set_up(self):
        for name in ["ada", "riley", "dana", "casey", "sam"]:
            self.cli("key", "generate", "--name", name, "--out", f"{name}.key")
        self.cli("key", "generate", "--name", "ci-bot", "--out", "ci-bot.key")
        self.cli("init", "--origin", "console.signoff/ledger", "--admin", "ada", "--admin-key", "ada.key.pub")
        for name in ["riley", "dana", "casey", "sam"]:
            self.cli("user", "add", name, "--key-file", f"{name}.key.pub", "--as", "ada")
        # morgan has no key file at all: only the browser's.
        self.cli("user", "add", "morgan", "--as", "ada")
        self.cli("service-account", "add", "ci-bot", "--key-file", "ci-bot.key.pub", "--as", "ada")
        for group, members in [("data-science", ["riley"]), ("ci", ["ci-bot"]), ("approvers", ["morgan", "sam"]),
                               ("deployers", ["dana"]), ("platform", []), ("compliance", ["casey"])]:
            self.cli("group", "add", group, "--as", "ada")
            for member in members:
                self.cli("group", "add-member", group, member, "--as", "ada")
        self.cli("workflow", "apply", str(ROOT / "workflows" / "standard.yaml"), "--as", "ada")
        self.admin("project", "create", "churn-model", "--regulated", "--env", "prod=standard",
                   "--role", "requesters=data-science", "--role", "ci=ci", "--role", "approvers=approvers",
                   "--role", "platform=platform", "--role", "compliance=compliance", "--role", "deployers=deployers")
        (self.dir / "churn-model-v12.zip").write_bytes(bytes(range(256)) * 40)
        (self.dir / "junit.xml").write_text(
            '<?xml version="1.0"?><testsuite name="churn" tests="3"><testcase classname="f" name="test_schema"/>'
            '<testcase classname="f" name="test_leakage"/><testcase classname="m" name="test_auc"/></testsuite>\n')
        self.request = self.cli("request", "create", "--project", "churn-model", "--env", "prod", "--bundle", "churn-model-v12.zip",
                                "--file", "churn-model-v12.zip", "--description", "weekly retrain <b>not bold</b>", "--as", "riley").stdout.strip()
        self.cli("evidence", "add", self.request, "--kind", "test-report", "--junit", "junit.xml", "--upload", "--as", "ci-bot")
        # A second revision of the bundle: the request page says what changed, and CI tests it again.
        (self.dir / "churn-model-v13.zip").write_bytes(bytes(range(256)) * 41)
        self.cli("revise", self.request, "--bundle", "churn-model-v13.zip", "--file", "churn-model-v13.zip", "--as", "riley")
        self.cli("evidence", "add", self.request, "--kind", "test-report", "--junit", "junit.xml", "--upload", "--as", "ci-bot")

    def serve(self):
        self.server, self.url = signoff_process.serve(self.bin, ["--log-level", "warning"], self.env, self.dir, self.dir / "server.log")

    def stop(self):
        signoff_process.stop(self.server, grace=10)


def main_text(driver):
    """The text of the page's <main>, read in one script call: a page reloading under a wait (a decision reloads the
    request page) gives "" instead of a node that no longer belongs to the document."""
    return driver.execute_script("const m = document.querySelector('main'); return m ? m.innerText : '';") or ""


def browser():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1000", "--disable-gpu"]:
        options.add_argument(arg)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        options.binary_location = chromium
    driver_path = shutil.which("chromedriver")
    return webdriver.Chrome(options=options, service=Service(driver_path) if driver_path else None)


AXE_RULES_RUN = []


def axe(driver, page):
    """axe-core (bundled by axe-selenium-python) in the real page: no serious or critical violation."""
    checker = Axe(driver)
    checker.inject()
    results = checker.run()
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    check(not bad, f"{page}: axe-core finds {bad}")
    AXE_RULES_RUN.append((page, len(results["passes"]), len(results["violations"])))


def accessible(driver, page):
    """Every input, select and textarea labelled; headings start at h1 and never skip a level; focus visible; and
    axe-core's rules (no serious or critical violation)."""
    axe(driver, page)
    problems = driver.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
          const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.getAttribute('aria-label') || el.closest('label');
          if (!labelled) out.push('unlabelled ' + el.tagName + ' ' + (el.id || el.name));
        }
        let last = 0;
        for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
          const level = Number(h.tagName[1]);
          if (last === 0 && level !== 1) out.push('first heading is ' + h.tagName);
          if (last && level > last + 1) out.push(h.tagName + ' after h' + last);
          last = level;
        }
        const focusable = document.querySelector('main a, main button, main input, main select, main textarea') || document.querySelector('a');
        if (focusable) {
          focusable.focus();
          const style = getComputedStyle(document.activeElement);
          if (document.activeElement !== focusable || style.outlineStyle === 'none' || style.outlineWidth === '0px') out.push('focus not visible on ' + focusable.tagName);
        }
        return out;
    """)
    check(not problems, f"{page}: accessibility: {problems}")


def run(args):
    workdir = Path(args.workdir).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    shots = Path(args.screenshots).resolve() if args.screenshots else workdir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    w = World(args.signoff, workdir)
    w.set_up()
    w.serve()
    driver = browser()
    # Pages reload under the waits (a decision reloads the request page): a stale or missing element means "not yet".
    wait = WebDriverWait(driver, 30, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException])

    def shot(name, top=True):
        # From the top of the page (the accessibility check focuses, and so scrolls to, the first control), unless what
        # the picture is of sits lower (the confirmation under the decision form).
        if top:
            driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(shots / f"{name}.png"))

    try:
        # 1. The browser makes morgan's key; the administrator enrols it with a signed change.
        driver.get(w.url + "/setup")
        accessible(driver, "setup")
        driver.find_element(By.ID, "setup-user").send_keys("morgan")
        driver.find_element(By.CSS_SELECTOR, "#setup-form button").click()
        wait.until(lambda d: d.find_element(By.ID, "setup-key").text.startswith("morgan+"))
        line = driver.find_element(By.ID, "setup-key").text.strip()
        shot("01-setup")
        (workdir / "morgan-browser.pub").write_text(line + "\n")
        w.admin("user", "enroll-key", "morgan", "--key-file", "morgan-browser.pub")
        say(f"browser key enrolled: {line[:40]}…")
        # 2. Log in: the browser signs the server's challenge.
        driver.get(w.url + "/login")
        accessible(driver, "login")
        shot("02-login")
        field = driver.find_element(By.ID, "login-user")
        field.clear()
        field.send_keys("morgan")
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait.until(EC.url_contains("/inbox"))
        cookies = {c["name"]: c for c in driver.get_cookies()}
        check("signoff_session" in cookies and cookies["signoff_session"]["httpOnly"], f"session cookie: {cookies}")
        check(cookies["signoff_session"].get("sameSite") == "Strict", f"SameSite: {cookies['signoff_session']}")
        check(driver.execute_script("return document.cookie").find("signoff_session") < 0, "the session cookie is readable by script")
        # 3. The inbox shows the request waiting for morgan.
        accessible(driver, "inbox")
        body = main_text(driver)
        check(w.request in body and "Decide at approved" in body, f"inbox: {body}")
        shot("03-inbox")
        driver.find_element(By.LINK_TEXT, w.request).click()
        wait.until(EC.presence_of_element_located((By.ID, "decide-form")))
        accessible(driver, "request")
        page = main_text(driver)
        digest = driver.find_element(By.ID, "bundle-digest").text
        check(digest.startswith("sha256:"), f"digest on the page: {digest}")
        check("3 tests, 0 failures" in page, f"the JUnit evidence is shown: {page}")
        check("<b>not bold</b>" in page, "people's text is shown as text")
        check("What changed since revision 1" in page and "churn-model-v12.zip" in page and "churn-model-v13.zip" in page,
              f"the request page says what the revision changed: {page}")
        shot("04-request")
        # The JUnit evidence, read in the page: its test cases.
        driver.find_element(By.LINK_TEXT, "test-report").click()
        wait.until(lambda d: "test_leakage" in main_text(d))
        accessible(driver, "evidence")
        shot("04b-evidence")
        driver.back()
        wait.until(EC.presence_of_element_located((By.ID, "decide-form")))
        # 4. Approve with a comment: the browser signs the statement of what the page shows.
        driver.find_element(By.ID, "decide-comment").send_keys("metrics reviewed in the browser")
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="approve"]').click()
        wait.until(lambda d: "metrics reviewed in the browser" in main_text(d))
        after = main_text(driver)
        result = driver.find_element(By.ID, "decide-result").text if driver.find_elements(By.ID, "decide-result") else ""
        check("Refused" not in result, f"the decision was refused: {result}")
        check("✓" in after, f"the decision is shown signed: {after}")
        shot("05-approved")
        status = json.loads(w.cli("status", w.request, "--json").stdout)
        check(status["stage"] == "approved", f"the request advanced: {status['stage']}")
        decision = status["decisions"][-1]
        check(decision["actor"] == "morgan" and decision["signed"], f"decision: {decision}")
        # 5. The deployer deploys with the CLI; the dashboard shows it running.
        w.cli("deploy", w.request, "--outcome", "succeeded", "--as", "dana")
        driver.get(w.url + "/dashboard")
        accessible(driver, "dashboard")
        board = main_text(driver)
        check("churn-model → prod" in board and w.request in board, f"dashboard: {board}")
        shot("06-dashboard")
        driver.get(w.url + "/audit")
        accessible(driver, "audit")
        audit = main_text(driver)
        check("✓ healthy" in audit and "✓ passed" in audit, f"the audit page shows the ledger verified: {audit}")
        shot("07-audit")
        # The export the page offers downloads with the session (a tar, with the evidence documents).
        answer = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(document.querySelector('a[href$=\"documents=true\"]').href).then(r => done(r.status + ' ' + r.headers.get('content-type')), e => done(String(e)));")
        check(answer == "200 application/x-tar", f"the export link: {answer}")
        # The request's timeline: each entry with its inclusion proof in the newest checkpoint.
        driver.get(w.url + "/audit/requests/" + w.request)
        accessible(driver, "timeline")
        timeline = main_text(driver)
        check("request.filed" in timeline and "decision.recorded" in timeline, f"timeline: {timeline}")
        shot("07b-timeline")
        # The access review: morgan administers churn-model (its project-admins role), so morgan may review it.
        w.admin("group", "add", "churn-leads")
        w.admin("group", "add-member", "churn-leads", "morgan")
        w.admin("project", "update", "churn-model", "--role", "project-admins=churn-leads")
        driver.get(w.url + "/access?project=churn-model&from=2020-01-01T00:00:00Z")
        accessible(driver, "access")
        review = main_text(driver)
        check("Who can act now" in review and "administers" in review and "morgan" in review and "group churn-leads (project-admins)" in review,
              f"the access review: {review}")
        check("approve" in review and w.request in review, f"the period's decisions are listed: {review}")
        shot("14-access-review")
        answer = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(document.querySelector('a[href^=\"/access.csv\"]').href).then(r => r.text().then(t => done(r.status + ' ' + r.headers.get('content-type') + ' ' + t.split('\\r\\n')[0])), e => done(String(e)));")
        check(answer.startswith("200 text/csv") and "section,time,environment" in answer, f"the CSV download: {answer}")
        # At 360 px wide the request page still reads (no horizontal scroll of the whole page).
        driver.set_window_size(360, 800)
        driver.get(w.url + "/requests/" + w.request)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 1, f"the request page scrolls sideways at 360 px by {overflow}px")
        shot("08-request-360px")
        # 7. Filing in the browser (morgan joins the requesters): the page hashes the bundle itself and sends its digest.
        w.admin("group", "add-member", "data-science", "morgan")
        until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        w.admin("freeze", "add", "--env", "prod", "--project", "churn-model", "--until", until, "--reason", "quarter-end close")
        driver.set_window_size(1200, 1000)
        bundle = workdir / "churn-model-v14.zip"
        bundle.write_bytes(bytes(range(256)) * 57)
        expected = "sha256:" + hashlib.sha256(bundle.read_bytes()).hexdigest()

        def file_in_browser(description, emergency=""):
            driver.get(w.url + "/requests/new")
            wait.until(EC.presence_of_element_located((By.ID, "file-form")))
            Select(driver.find_element(By.ID, "file-where")).select_by_value("churn-model/prod")
            driver.find_element(By.ID, "file-bundle").send_keys(str(bundle))
            driver.find_element(By.ID, "file-description").send_keys(description)
            if emergency:
                driver.find_element(By.ID, "file-emergency").send_keys(emergency)
            driver.find_element(By.CSS_SELECTOR, "#file-form button").click()
            wait.until(lambda d: "/requests/REQ-" in d.current_url)
            wait.until(EC.presence_of_element_located((By.ID, "bundle-digest")))
            return driver.current_url.rsplit("/", 1)[1]

        driver.get(w.url + "/requests/new")
        accessible(driver, "file")
        shot("15-file")
        normal = file_in_browser("monthly retrain, filed in the browser")
        check(driver.find_element(By.ID, "bundle-digest").text == expected, "the browser's SHA-256 is the bundle's")
        check("churn-model-v14.zip" in main_text(driver), "the file's name is the bundle's name")
        emergency = file_in_browser("hotfix for the scoring outage", emergency="fraud scoring is down")
        check("EMERGENCY" in main_text(driver) and "fraud scoring is down" in main_text(driver), f"the emergency is flagged: {main_text(driver)}")
        say(f"filed in the browser: {normal}, and the emergency {emergency} (digest {expected[:19]}…)")
        # 8. An emergency passes the freeze by its own signed exemption; the normal request stays held.
        w.cli("evidence", "add", normal, "--kind", "test-report", "--junit", "junit.xml", "--as", "ci-bot")
        for request in (normal, emergency):
            w.cli("approve", request, "--stage", "approved", "--key", "sam.key", "--as", "sam", "--comment", "reviewed")
        held = w.cli("deploy", emergency, "--outcome", "succeeded", "--as", "dana", check_rc=False)
        check(held.returncode == 2 and "gate.freeze" in held.stdout + held.stderr, f"the freeze holds the emergency before its exemption: {held.stdout}{held.stderr}")
        w.admin("freeze", "exempt", "FRZ-1", "--request", emergency, "--reason", "outage: the fix must ship tonight")
        w.cli("deploy", emergency, "--outcome", "succeeded", "--as", "dana")
        still = w.cli("deploy", normal, "--outcome", "succeeded", "--as", "dana", check_rc=False)
        check(still.returncode == 2 and "gate.freeze" in still.stdout + still.stderr, f"nothing else passes the freeze: {still.stdout}{still.stderr}")
        driver.get(w.url + "/requests/" + emergency)
        page = main_text(driver)
        check("Freeze FRZ-1 does not hold this request" in page and "outage: the fix must ship tonight" in page, f"the exemption on the page: {page}")
        shot("16-emergency-exempt")
        driver.get(w.url + "/requests/" + normal)
        page = main_text(driver)
        check("Missing:" in page and "quarter-end close" in page, f"the normal request is held by the freeze, said in words: {page}")
        accessible(driver, "request held by a freeze")
        shot("17-held-by-freeze")
        say(f"{emergency} deployed through FRZ-1 by its exemption; {normal} still held")
        # 9. Reject asks first: a reason, then an explicit yes with the reason in front of the person.
        (workdir / "churn-model-v15.zip").write_bytes(bytes(range(256)) * 58)
        rejected = w.cli("request", "create", "--project", "churn-model", "--env", "prod", "--bundle", "churn-model-v15.zip",
                         "--file", "churn-model-v15.zip", "--description", "experimental features", "--as", "riley").stdout.strip()
        driver.get(w.url + "/requests/" + rejected)
        wait.until(EC.presence_of_element_located((By.ID, "decide-form")))
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="reject"]').click()
        wait.until(lambda d: "Say why you reject it" in d.find_element(By.ID, "decide-result").text)
        check(not driver.find_element(By.ID, "reject-confirm").is_displayed(), "no confirmation without a reason")
        driver.find_element(By.ID, "decide-comment").send_keys("leaks the label into the features")
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="reject"]').click()
        wait.until(lambda d: d.find_element(By.ID, "reject-confirm").is_displayed())
        check(driver.find_element(By.ID, "reject-confirm-reason").text == "leaks the label into the features", "the reason is shown before the yes")
        accessible(driver, "reject confirmation")
        shot("18-reject-confirm", top=False)
        driver.find_element(By.ID, "reject-confirm-no").click()
        check(not driver.find_element(By.ID, "reject-confirm").is_displayed(), "'keep it open' closes the question")
        check(json.loads(w.cli("status", rejected, "--json").stdout)["status"] == "active", "nothing was decided before the yes")
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="reject"]').click()
        wait.until(lambda d: d.find_element(By.ID, "reject-confirm").is_displayed())
        driver.find_element(By.ID, "reject-confirm-yes").click()
        wait.until(lambda d: "Rejected by morgan" in main_text(d))
        check("leaks the label into the features" in main_text(driver), "the reason leads the page")
        check(json.loads(w.cli("status", rejected, "--json").stdout)["status"] == "rejected", "rejected after the yes")
        shot("19-rejected")
        say(f"{rejected} rejected after the confirmation, its reason first on the page")
        # 10. Deciding for a delegator: sam hands his decisions on churn-model to morgan (signed with sam's key).
        tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        w.cli("delegate", "grant", "--to", "morgan", "--until", tomorrow, "--project", "churn-model", "--key", "sam.key", "--as", "sam")
        (workdir / "churn-model-v16.zip").write_bytes(bytes(range(256)) * 59)
        delegated = w.cli("request", "create", "--project", "churn-model", "--env", "prod", "--bundle", "churn-model-v16.zip",
                          "--file", "churn-model-v16.zip", "--description", "seasonal retrain", "--as", "riley").stdout.strip()
        driver.get(w.url + "/requests/" + delegated)
        wait.until(EC.presence_of_element_located((By.ID, "decide-for")))
        Select(driver.find_element(By.ID, "decide-for")).select_by_value("sam")
        accessible(driver, "deciding for a delegator")
        driver.find_element(By.ID, "decide-comment").send_keys("approved for sam while he is away")
        driver.find_element(By.CSS_SELECTOR, 'button[data-decision="approve"]').click()
        wait.until(lambda d: "approved for sam while he is away" in main_text(d))
        check("morgan for sam" in main_text(driver), f"the decision says for whom: {main_text(driver)}")
        shot("20-decided-for")
        decision = json.loads(w.cli("status", delegated, "--json").stdout)["decisions"][-1]
        check(decision["actor"] == "morgan" and decision.get("on_behalf_of") == "sam" and decision["signed"], f"decision: {decision}")
        say(f"{delegated}: morgan approved for sam, signed with the browser key")
        # The dashboard at 360 px: filters and grid fit (no sideways scroll of the page).
        driver.set_window_size(360, 800)
        driver.get(w.url + "/dashboard")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 1, f"the dashboard scrolls sideways at 360 px by {overflow}px")
        shot("21-dashboard-360px")
        # 6. Logout revokes the session.
        driver.set_window_size(1200, 1000)
        driver.get(w.url + "/inbox")
        driver.find_element(By.CSS_SELECTOR, "#logout-form button").click()
        wait.until(EC.url_contains("/login"))
        driver.get(w.url + "/inbox")
        check("/login" in driver.current_url, "after logout the inbox asks for a login")
    finally:
        driver.quit()
        w.stop()
    # 7. Offline: the export shows morgan's decision signed with the browser key.
    w.cli("audit", "export", "--project", "churn-model", "--out", "audit")
    verified = w.cli("audit", "verify", "audit", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
    with open(workdir / "audit" / "decisions.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["actor"] == "morgan"]
    check(all(r["signature_valid"] == "yes" for r in rows), f"decisions.csv: {rows}")
    rows = [r for r in rows if r["request"] == w.request]
    check(len(rows) == 1, f"decisions.csv: {rows}")
    browser_key_id = line.split("+")[1]
    check(rows[0]["key_id"] == browser_key_id, f"the decision's key is the browser's ({browser_key_id}): {rows[0]}")
    say(f"offline verification: {verified.stdout.strip().splitlines()[0] if verified.stdout.strip() else 'ok'}")
    say("axe-core on " + ", ".join(f"{page} ({passes} rules pass, {violations} minor)" for page, passes, violations in AXE_RULES_RUN))
    keys = [json.loads(l) for l in (workdir / "audit" / "keys.jsonl").read_text().splitlines()]
    check(any(k["principal"] == "morgan" and k["verifier_key"] == line for k in keys), "the browser key is in keys.jsonl")


def story_main(run, name, description):
    """The command line of a console story (--signoff, --workdir, --screenshots): runs `run(args)`, prints PASS or FAIL."""
    ap = argparse.ArgumentParser(description=description.split("\n")[0])
    ap.add_argument("--signoff", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--screenshots")
    args = ap.parse_args()
    started = time.monotonic()
    try:
        run(args)
    except Failure as e:
        print(f"FAIL {name}: {e}")
        sys.exit(1)
    print(f"PASS {name} ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    story_main(run, "console", __doc__)
