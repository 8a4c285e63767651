// The playground in real headless Chromium, driven over WebDriver (chromedriver): the page is
// served from 127.0.0.1 by a static server started here, the drifted chart render is typed
// into the editor, and the rendered verdicts, the marked lines and the fragment link are
// checked against the native checker's findings on the same file. A screenshot is written to
// target/playground.png. Missing chromium or chromedriver fails the test; it never skips.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join, extname, normalize } from "node:path";
import { tmpdir } from "node:os";

const root = new URL("../../", import.meta.url).pathname;
// Cargo's output directory, as the Makefile resolves it (CARGO_TARGET_DIR or target/).
const target = process.env.IMAGE_DIGEST_TARGET_DIR || join(root, "target");
const page = join(root, "build/web/playground");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMEDRIVER = process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json" };

let server, driver, base, wd, session, profile;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(method, path, body) {
  const res = await fetch(`${wd}${path}`, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}
const s = (path) => `/session/${session}${path}`;
const js = (script, ...args) => call("POST", s("/execute/sync"), { script, args });
async function until(what, script, timeout = 10000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await js(script);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

before(async () => {
  for (const [name, p] of [["chromium", CHROMIUM], ["chromedriver", CHROMEDRIVER]]) {
    assert.ok(existsSync(p), `${name} is not installed at ${p}: apt-get install -y chromium chromium-driver (.ci/run does this); this test never skips`);
  }
  assert.ok(existsSync(join(page, "index.html")), "build/web/playground is missing: run `make web` first");
  server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const file = normalize(join(page, url.pathname === "/" ? "index.html" : url.pathname));
    if (!file.startsWith(page) || !existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}/`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  driver = spawn(CHROMEDRIVER, [`--port=${port}`, "--allowed-ips=127.0.0.1"], { stdio: "ignore" });
  wd = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { await fetch(`${wd}/status`); break; } catch { if (i > 200) throw new Error("chromedriver did not start"); await sleep(50); }
  }
  profile = mkdtempSync(join(tmpdir(), "playground-chromium-"));
  const created = await call("POST", "/session", { capabilities: { alwaysMatch: { browserName: "chrome", "goog:chromeOptions": {
    binary: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--window-size=1280,1000"],
  } } } });
  session = created.sessionId;
});

after(async () => {
  if (session) await call("DELETE", s("")).catch(() => {});
  driver?.kill();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/// The native checker's finding and warning lines for a file under the page's default settings.
function nativeLines(file) {
  const run = spawnSync(join(target, "debug/image-digest-check"), ["--policy", join(root, "policy.wasm"), "--quiet", "--output", "json",
    "--settings", join(root, "examples/settings/non-prod.yaml"), file], { encoding: "utf8" });
  assert.equal(run.status, 1, `the native checker rejects the drifted render: ${run.stderr}`);
  const r = JSON.parse(run.stdout).results;
  return { bad: r.flatMap((x) => x.findings.map((f) => f.line)).sort((a, b) => a - b), warn: r.flatMap((x) => x.warnings.map((w) => w.line)).sort((a, b) => a - b) };
}

const marked = () => js(`return {
  bad: [...document.querySelectorAll("#gutter .bad")].map((e) => +e.dataset.line),
  warn: [...document.querySelectorAll("#gutter .warn")].map((e) => +e.dataset.line),
  rows: [...document.querySelectorAll("#verdicts tbody tr")].map((t) => ({ line: +t.dataset.line, verdict: t.querySelector(".verdict").textContent, image: t.querySelector('.image')?.textContent ?? '', fix: t.cells[4].textContent, text: t.textContent })),
  summary: document.getElementById("summary").textContent,
  text: document.getElementById("text").value,
  hash: location.hash, href: location.href,
  firstResultMs: document.body.dataset.firstResultMs }`);

test("the playground checks the drifted chart render in Chromium", async () => {
  await call("POST", s("/url"), { url: base });
  await until("the page to be ready", `return document.body.dataset.ready === "true"`);
  const first = await marked();
  console.log(`playground: first result ${first.firstResultMs} ms after the page started loading the module`);
  assert.equal(first.text, readFileSync(join(root, "examples/agents-render.yaml"), "utf8"), "the chart render is loaded on first visit");
  assert.match(first.summary, /^Accepted: 2 workloads/);
  assert.deepEqual(first.bad, []);
  assert.ok(first.rows.length >= 2 && first.rows.every((r) => r.verdict === "accepted"), `every image of the pinned render is listed as accepted: ${JSON.stringify(first.rows)}`);

  // Paste the drifted render: clear the editor, then type it in.
  const drifted = readFileSync(join(root, "examples/agents-render-drifted.yaml"), "utf8");
  const el = await call("POST", s("/element"), { using: "css selector", value: "#text" });
  const id = Object.values(el)[0];
  await call("POST", s(`/element/${id}/clear`), {});
  await call("POST", s(`/element/${id}/value`), { text: drifted });
  await until("the verdicts", `return document.getElementById("summary").textContent.startsWith("Rejected")`);
  const got = await marked();
  const want = nativeLines(join(root, "examples/agents-render-drifted.yaml"));
  assert.equal(got.text, drifted);
  assert.match(got.summary, /^Rejected: 1 of 2 workloads break the contract\./);
  assert.deepEqual(got.bad, want.bad, "the lines marked as breaking the contract are the native checker's findings");
  assert.deepEqual(got.warn, want.warn, "the lines marked with warnings are the native checker's warnings");
  const rejected = got.rows.filter((r) => r.verdict === "rejected");
  assert.deepEqual(rejected.map((r) => r.line), want.bad);
  assert.match(rejected[0].fix, /^pin it as .*:<tag>@sha256:<digest>$/);
  assert.deepEqual(got.rows.map((r) => [r.line, r.verdict]), [[46, "rejected"], [94, "warning"]], JSON.stringify(got.rows));
  assert.match(got.rows[0].image, /jangar-control-plane:latest$/);
  assert.match(got.hash, /^#s=[A-Za-z0-9_-]+$/);

  const wide = await js(`return document.documentElement.scrollWidth - document.documentElement.clientWidth`);
  assert.ok(wide <= 0, `the page scrolls sideways by ${wide}px at 1280 px`);
  const shot = await call("GET", s("/screenshot"));
  writeFileSync(join(target, "playground.png"), Buffer.from(shot, "base64"));

  // The link reproduces the state in a fresh page.
  await call("POST", s("/url"), { url: "about:blank" });
  await call("POST", s("/url"), { url: got.href });
  await until("the page from the link", `return document.body.dataset.ready === "true"`);
  await until("the verdicts from the link", `return document.getElementById("summary").textContent.startsWith("Rejected")`, 3000)
    .catch(async (e) => { const m = await marked(); throw new Error(`${e.message}: ${m.summary} (${m.href.length} chars: ${m.href.slice(0, 120)}…)`); });
  const again = await marked();
  assert.equal(again.text, drifted, "the fragment restores the editor");
  assert.deepEqual(again.bad, want.bad, "and the same lines are marked");

  // A row's line link moves the caret to that line (keyboard users follow it with Enter).
  const link = await call("POST", s("/element"), { using: "css selector", value: "#verdicts tbody tr.rejected a" });
  await call("POST", s(`/element/${Object.values(link)[0]}/click`), {});
  const caretLine = await js(`const t = document.getElementById("text"); return t.value.slice(0, t.selectionStart).split("\\n").length`);
  assert.equal(caretLine, want.bad[0]);

  // Readable on a narrow screen: no horizontal scrolling.
  await call("POST", s("/window/rect"), { width: 390, height: 900 });
  const overflow = await js(`return document.documentElement.scrollWidth - document.documentElement.clientWidth`);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px on a narrow screen`);
  const narrow = await call("GET", s("/screenshot"));
  writeFileSync(join(target, "playground-narrow.png"), Buffer.from(narrow, "base64"));
  console.log("screenshots: target/playground.png, target/playground-narrow.png");

  // An image volume is a row of its own, on its `reference:` line.
  const volumeYaml = readFileSync(join(root, "examples/image-volume.yaml"), "utf8");
  const editor = await call("POST", s("/element"), { using: "css selector", value: "#text" });
  await call("POST", s(`/element/${Object.values(editor)[0]}/clear`), {});
  await call("POST", s(`/element/${Object.values(editor)[0]}/value`), { text: volumeYaml });
  await until("the image volume's verdict", `return document.getElementById("text").value.includes("quay.io/crio/artifact") && [...document.querySelectorAll("#gutter .bad")].map((e) => e.dataset.line).join() === "20"`)
    .catch(async (e) => { const m = await marked(); throw new Error(`${e.message}: marked ${JSON.stringify(m.bad)}, rows ${JSON.stringify(m.rows)}`); });
  const volumes = await marked();
  assert.deepEqual(volumes.bad, [20], "the reference: line is marked");
  const row = volumes.rows.find((r) => r.line === 20);
  assert.ok(row && row.verdict === "rejected" && row.text.includes("spec.volumes[0].image.reference (volume volume)"), JSON.stringify(volumes.rows));
  assert.match(row.image, /quay\.io\/crio\/artifact:latest$/);
});
