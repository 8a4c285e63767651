// The npm package (build/web/npm, built by `make web`) against the native core and policy.wasm:
// every e2e and adversarial case that needs no host, and every adversarial image, must get
// exactly the verdict, message and warnings that target/web-table.json records for both
// (written by the test kit's web-table example, which fails unless the two agree).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { performance } from "node:perf_hooks";

const root = new URL("../../", import.meta.url);
// Cargo's output directory, as the Makefile resolves it (CARGO_TARGET_DIR or target/).
const target = process.env.IMAGE_DIGEST_TARGET_DIR ? new URL(`file://${process.env.IMAGE_DIGEST_TARGET_DIR}/`) : new URL("target/", root);
const require = createRequire(import.meta.url);
const started = performance.now();
const pkg = require(new URL("build/web/npm/index.js", root).pathname);
const loaded = performance.now();
const table = JSON.parse(readFileSync(new URL("web-table.json", target), "utf8"));

const norm = (v) => JSON.parse(JSON.stringify(v, (_, x) => (x === undefined ? null : x)));

test("the first result after loading, and the module size", () => {
  const t = performance.now();
  const r = pkg.checkImage("nginx:1.27", "requireDigest: true");
  const first = performance.now();
  assert.equal(r.verdict, "rejected");
  const size = statSync(new URL("build/web/npm/lib/image_digest_web_bg.wasm", root)).size;
  console.log(`web module: ${size} bytes; load ${(loaded - started).toFixed(1)} ms, first result ${(first - t).toFixed(2)} ms after load`);
  // The budget: the measured size with a little room; the goal of 600 KB is out of reach while
  // YAML with positions (serde-saphyr and its parser, ~350 KB) is in the module. Raised from
  // 1,100,000 for issue 32 (the module went from 1,089 KB to 1,102 KB: the published charts'
  // values layouts, string images, not-composable blocks, and output escaping for YAML, XML
  // and text, all shared with the native checker). Raised to 1,135,000 for issue 33 (1,102 KB to
  // 1,126 KB: the one report model every command fills — items in every format, the tools' rules
  // in the one rule table (4 KB), the JSON report's schema 2; measured and trimmed: JUnit groups
  // without a BTreeMap, the command-local formats (list, pins, prometheus) live in the native
  // checker only, the format list crosses as one string).
  assert.ok(size <= 1_135_000, `the web module grew to ${size} bytes (budget 1,135,000)`);
});

test("every e2e case without host capabilities matches the native core and policy.wasm", () => {
  assert.ok(table.cases.length >= 90, `${table.cases.length} cases`);
  const failures = [];
  for (const c of table.cases) {
    const got = norm(pkg.validateRequest(c.request, JSON.stringify(c.settings)));
    const want = norm(c.expected);
    try { assert.deepEqual(got, want); } catch { failures.push(`${c.name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); }
  }
  console.log(`e2e cases: ${table.cases.length} compared, ${table.hostOnlyCasesLeftOut} need a host and are left out, ${failures.length} differ`);
  assert.deepEqual(failures, []);
});

test("every adversarial image matches, and checkImage agrees with the corpus verdict", () => {
  const failures = [];
  const verdicts = { accept: ["accepted"], warn: ["unpinned"], reject: ["rejected", "invalid"] };
  for (const i of table.images) {
    const got = norm(pkg.validateRequest(i.request, "{}"));
    try { assert.deepEqual(got, norm(i.expected)); } catch { failures.push(`${JSON.stringify(i.image)}: ${JSON.stringify(got)} != ${JSON.stringify(i.expected)}`); }
    const one = pkg.checkImage(i.image, "");
    if (!verdicts[i.verdict].includes(one.verdict)) failures.push(`${JSON.stringify(i.image)}: checkImage says ${one.verdict}, the corpus ${i.verdict}`);
    if (one.allowed !== i.expected.accepted) failures.push(`${JSON.stringify(i.image)}: checkImage allowed=${one.allowed}`);
  }
  console.log(`images: ${table.images.length} compared, ${failures.length} differ`);
  assert.deepEqual(failures, []);
});

test("errors cross as exceptions, and the module keeps working after them", () => {
  assert.throws(() => pkg.checkImage("nginx", "requireDigest: maybe"), /invalid settings: .*requireDigest/);
  assert.throws(() => pkg.checkManifests("not an array", ""), /inputs must be an array of \{name, text\}/);
  assert.throws(() => pkg.checkManifests([], "", { format: "xml" }), /unknown output format "xml"/);
  assert.throws(() => pkg.checkManifests([], "", { bogus: true }), /unknown field `bogus`/);
  assert.throws(() => pkg.checkImage("nginx", "["), /not valid YAML/);
  const v = pkg.validateSettings("requireDigest: maybe\nmutableTags: 3");
  assert.equal(v.valid, false);
  assert.equal(v.problems.length, 2);
  assert.deepEqual(v.problems.map((p) => p.key), ["requireDigest", "mutableTags"]);
  // Hostile input gives verdicts, never a trap.
  for (const text of ["\u0000", "{".repeat(10000), "- ".repeat(5000), "a: &a [*a]", "\uFFFF"]) {
    const r = pkg.checkManifests([{ name: "x.yaml", text }], "");
    assert.equal(r.exitCode, 2, JSON.stringify(r.inputErrors));
  }
  // A lone surrogate is not Unicode text: a plain error, not a trap.
  assert.throws(() => pkg.checkManifests([{ name: "x.yaml", text: "\uD800" }], ""), /valid Unicode/);
  assert.equal(pkg.checkImage("nginx:1.27", "").verdict, "unpinned");
});

test("manifests and values report lines, paths and the summary like the checker", () => {
  const drifted = readFileSync(new URL("examples/agents-render-drifted.yaml", root), "utf8");
  const r = pkg.checkManifests([{ name: "drifted.yaml", text: drifted }], "requireDigest: true", { format: "github" });
  assert.equal(r.exitCode, 1);
  assert.equal(r.schemaVersion, 2);
  assert.ok(r.results.some((x) => x.findings.length > 0));
  assert.match(r.rendered, /^::error file=drifted\.yaml,line=\d+,col=\d+/m);
  const defaults = readFileSync(new URL("examples/values/chart-defaults.yaml", root), "utf8");
  const v = pkg.checkValues([{ name: "values.yaml", text: defaults }], "");
  assert.equal(v.exitCode, 1, JSON.stringify(v));
  assert.ok(v.results.flatMap((x) => x.findings).some((f) => f.path === "controlPlane.image.digest" && f.line === 12));
});

test("an image volume is a row of its own, judged like a container image", () => {
  const text = readFileSync(new URL("examples/image-volume.yaml", root), "utf8");
  const r = pkg.checkManifests([{ name: "image-volume.yaml", text }], "requireDigest: true");
  assert.equal(r.exitCode, 1, JSON.stringify(r));
  const volume = r.images.find((i) => i.holder === "volume");
  assert.ok(volume, JSON.stringify(r.images));
  assert.equal(volume.path, "spec.volumes[0].image.reference");
  assert.equal(volume.container, "volume");
  assert.equal(volume.image, "quay.io/crio/artifact:latest");
  assert.equal(volume.allowed, false);
  assert.deepEqual([volume.line, volume.column], [20, 20]);
  const shell = r.images.find((i) => i.holder === "container");
  assert.equal(shell.allowed, true);
  const finding = r.results.flatMap((x) => x.findings).find((f) => f.path === "spec.volumes[0].image.reference");
  assert.ok(finding && finding.line === 20 && finding.rule === "mutable-tag", JSON.stringify(r.results));
});
