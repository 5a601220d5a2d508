// Signoff's console: the only script. It keeps the browser's Ed25519 key (WebCrypto, non-extractable, in IndexedDB),
// logs in by signing the server's challenge, and signs decisions as DSSE envelopes over the in-toto statement the page
// shows. Everything else works without it: the pages are rendered by the server.
"use strict";
(function () {
  const DB = "signoff-console", STORE = "keys";
  const enc = new TextEncoder();

  function db() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  async function put(name, value) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const tx = d.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(value, name);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
  async function get(name) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const req = d.transaction(STORE).objectStore(STORE).get(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  function b64(bytes) { let s = ""; for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b); return btoa(s); }
  function hex(bytes) { return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join(""); }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  function show(id, text, kind) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    el.className = "notice" + (kind ? " " + kind : "");
    el.classList.remove("hidden");
  }
  function csrf() { const m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }

  // The signed-note verifier key line, NAME+KEYID+BASE64 (key-file.md): key ID = SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[0:4].
  async function verifierKey(name, raw) {
    const id = (await sha256(concat(enc.encode(name + "\n"), new Uint8Array([1]), raw))).slice(0, 4);
    return name + "+" + hex(id) + "+" + b64(concat(new Uint8Array([1]), raw));
  }

  async function setup(form) {
    const name = form.querySelector("#setup-user").value.trim();
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) { show("setup-result", "A user name is 1–63 lowercase letters, digits, '.', '_' or '-'.", "error"); return; }
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const line = await verifierKey(name, raw);
    await put("key:" + name, { privateKey: pair.privateKey, publicKey: raw, line: line, user: name });
    await put("last-user", name);
    document.getElementById("setup-key").textContent = line;
    document.getElementById("setup-admin").textContent =
      "printf '%s\\n' '" + line + "' > " + name + "-browser.pub\nsignoff user enroll-key " + name + " --key-file " + name + "-browser.pub --key ADMIN.key --as ADMIN";
    document.getElementById("setup-self").textContent =
      "printf '%s\\n' '" + line + "' > " + name + "-browser.pub\nsignoff user enroll-key " + name + " --key-file " + name + "-browser.pub --key YOUR.key --as " + name;
    document.getElementById("setup-done").classList.remove("hidden");
    show("setup-result", "This browser now holds a key for " + name + ". Its private half never leaves it.", "ok");
  }

  async function login(form) {
    const user = form.querySelector("#login-user").value.trim();
    const stored = await get("key:" + user);
    if (!stored) { show("login-result", "This browser has no key for " + user + ": set it up first.", "error"); return; }
    const ch = await fetch("/v1/auth/challenge", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: user }) });
    if (!ch.ok) { show("login-result", "The server refused the challenge (" + ch.status + ").", "error"); return; }
    const challenge = await ch.json();
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, stored.privateKey, enc.encode(challenge.message));
    const res = await fetch("/console/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: user, challenge: challenge.challenge, signature: b64(sig) }),
    });
    if (!res.ok) { const p = await res.json().catch(() => ({})); show("login-result", p.detail || ("Login failed (" + res.status + ")."), "error"); return; }
    await put("last-user", user);
    location.assign("/inbox");
  }

  // DSSE PAE (DSSE v1): "DSSEv1" SP len(type) SP type SP len(body) SP body.
  function pae(type, body) {
    const t = enc.encode(type);
    return concat(enc.encode("DSSEv1 " + t.length + " "), t, enc.encode(" " + body.length + " "), body);
  }

  async function decide(form, decision) {
    const d = form.dataset;
    const user = d.actor;
    const stored = await get("key:" + user);
    if (!stored) { show("decide-result", "This browser has no key for " + user + ": set it up and enrol it first.", "error"); return; }
    const stage = form.querySelector("#decide-stage").value;
    const comment = form.querySelector("#decide-comment").value;
    const onBehalfOf = form.querySelector("#decide-for") ? form.querySelector("#decide-for").value : "";
    const predicate = {
      actor: user, comment: comment, decision: decision, emergency: d.emergency === "true", environment: d.environment,
      labels: JSON.parse(d.labels || "{}"), project: d.project, request: d.request, revision: Number(d.revision), stage: stage,
      time: new Date().toISOString(), workflow_digest: d.workflowDigest,
    };
    if (onBehalfOf) predicate.on_behalf_of = onBehalfOf;
    // The digest on the page is the digest signed.
    const statement = {
      _type: "https://in-toto.io/Statement/v1", predicate: predicate, predicateType: "https://signoff.dev/decision/v3",
      subject: [{ digest: { sha256: d.digest.replace(/^sha256:/, "") }, name: d.bundle }],
    };
    const payload = enc.encode(JSON.stringify(statement));
    const type = "application/vnd.in-toto+json";
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, stored.privateKey, pae(type, payload));
    const keyid = "sha256:" + hex(await sha256(stored.publicKey));
    const envelope = { payload: b64(payload), payloadType: type, signatures: [{ keyid: keyid, sig: b64(sig) }] };
    const body = { stage: stage, decision: decision, comment: comment, envelope: envelope };
    if (onBehalfOf) body.on_behalf_of = onBehalfOf;
    const res = await fetch("/v1/requests/" + encodeURIComponent(d.request) + "/decisions", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) { show("decide-result", "Refused" + (answer.rule ? " (" + answer.rule + ")" : "") + ": " + (answer.detail || res.status), "error"); return; }
    location.reload();
  }

  // A POST to the API with this session (the cookie) and the page's CSRF token; a refusal throws with its rule and detail.
  async function api(path, body) {
    const res = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() }, body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error("Refused" + (answer.rule ? " (" + answer.rule + ")" : "") + ": " + (answer.detail || res.status));
    return answer;
  }

  // The bundle's SHA-256, computed here: the file never leaves the browser, only its digest and name do.
  async function bundleDigest(input, resultId) {
    const file = input.files && input.files[0];
    if (!file) throw new Error("Choose the bundle file.");
    show(resultId, "Computing the SHA-256 of " + file.name + " (" + file.size + " bytes)…");
    return { name: file.name, digest: "sha256:" + hex(await sha256(new Uint8Array(await file.arrayBuffer()))) };
  }

  async function fileRequest(form) {
    const [project, environment] = form.querySelector("#file-where").value.split("/");
    const bundle = await bundleDigest(form.querySelector("#file-bundle"), "file-result");
    const body = { project: project, environment: environment, bundle: bundle.name, digest: bundle.digest,
                   description: form.querySelector("#file-description").value };
    const reason = form.querySelector("#file-emergency").value.trim();
    if (reason) body.emergency_reason = reason;
    const answer = await api("/v1/requests", body);
    location.assign("/requests/" + encodeURIComponent(answer.request));
  }

  async function revise(form) {
    const bundle = await bundleDigest(form.querySelector("#revise-file"), "revise-result");
    await api("/v1/requests/" + encodeURIComponent(form.dataset.request) + "/revisions", { bundle: bundle.name, digest: bundle.digest });
    location.reload();
  }

  async function withdraw(form) {
    const reason = form.querySelector("#withdraw-reason").value.trim();
    if (!reason) { show("withdraw-result", "Say why you withdraw it.", "error"); return; }
    await api("/v1/requests/" + encodeURIComponent(form.dataset.request) + "/withdraw", { reason: reason });
    location.reload();
  }

  async function logout(form) {
    await fetch("/console/logout", { method: "POST", headers: { "X-CSRF-Token": csrf() } });
    location.assign("/login?signed-out");
  }

  document.addEventListener("DOMContentLoaded", async () => {
    // After single sign-on: on to the inbox, or to setting up this browser's key when it holds none for the person.
    const signedIn = document.getElementById("signed-in");
    if (signedIn) {
      const user = signedIn.dataset.user;
      const stored = await get("key:" + user).catch(() => undefined);
      if (stored) await put("last-user", user);
      location.assign(stored ? signedIn.dataset.next.replace(/^\/setup.*/, "/inbox") : "/setup?user=" + encodeURIComponent(user));
      return;
    }
    const last = await get("last-user").catch(() => undefined);
    const loginUser = document.getElementById("login-user");
    if (loginUser && last && !loginUser.value) loginUser.value = last;
    const forms = [["setup-form", setup], ["login-form", login], ["logout-form", logout], ["file-form", fileRequest], ["revise-form", revise],
                   ["withdraw-form", withdraw]];
    for (const [id, fn] of forms) {
      const form = document.getElementById(id);
      if (form) form.addEventListener("submit", (e) => { e.preventDefault(); fn(form).catch((err) => show(id.replace("-form", "-result"), String(err), "error")); });
    }
    const decideForm = document.getElementById("decide-form");
    if (decideForm) {
      const confirmBox = document.getElementById("reject-confirm");
      const run = (decision) => decide(decideForm, decision).catch((err) => show("decide-result", String(err), "error"));
      for (const button of decideForm.querySelectorAll("button[data-decision]")) {
        button.addEventListener("click", (e) => {
          e.preventDefault();
          if (button.dataset.decision !== "reject") { run(button.dataset.decision); return; }
          // A rejection is final: it needs a reason, and a second, explicit yes with the reason in front of the person.
          const reason = decideForm.querySelector("#decide-comment").value.trim();
          if (!reason) { show("decide-result", "Say why you reject it in the comment: the requester and the audit read it.", "error"); return; }
          document.getElementById("decide-result").classList.add("hidden");
          document.getElementById("reject-confirm-reason").textContent = reason;
          confirmBox.classList.remove("hidden");
          document.getElementById("reject-confirm-no").focus();
        });
      }
      document.getElementById("reject-confirm-yes").addEventListener("click", (e) => { e.preventDefault(); confirmBox.classList.add("hidden"); run("reject"); });
      document.getElementById("reject-confirm-no").addEventListener("click", (e) => { e.preventDefault(); confirmBox.classList.add("hidden"); });
    }
    if (!window.crypto || !crypto.subtle) for (const el of document.querySelectorAll(".needs-crypto")) el.classList.add("hidden");
  });
})();
