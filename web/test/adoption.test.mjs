// Every way to install the checker, tested as a user would use it:
// - `npx image-digest-check` (the npm package from `make web`) gives exactly the native
//   checker's output and exit code on the e2e manifests and values fixtures, in every format;
// - `npm pack` makes a tarball that installs into a fresh project without the network;
// - the pre-commit hooks (`pre-commit try-repo`) refuse a drifted file and pass a pinned one;
// - the GitHub Action's script annotates, writes SARIF and exits with the checker's code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync, existsSync, cpSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const root = new URL("../../", import.meta.url).pathname;
// Cargo's output directory, as the Makefile resolves it (CARGO_TARGET_DIR or target/).
const target = process.env.IMAGE_DIGEST_TARGET_DIR || join(root, "target");
const NATIVE = join(target, "debug/image-digest-check");
const NPX_BIN = join(root, "build/web/npm/bin/image-digest-check.js");
const table = JSON.parse(readFileSync(join(target, "web-table.json"), "utf8"));
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, encoding: "utf8", ...opts });
const native = (args) => run(NATIVE, ["--quiet", ...args], { env: { ...process.env, IMAGE_DIGEST_CHECK_CACHE: join(target, "module-cache") } });
const npx = (args, opts) => run(process.execPath, [NPX_BIN, ...args], opts);

/// Runs both, requires the same exit code and the same stdout.
function same(args) {
  const n = native(args);
  const j = npx(args);
  assert.ok(n.status !== null && n.status <= 2, `native ${args.join(" ")}: ${n.stderr}`);
  assert.equal(j.status, n.status, `exit code of ${args.join(" ")}: npx ${j.status} (${j.stderr}), native ${n.status} (${n.stderr})`);
  assert.equal(j.stdout, n.stdout, `output of ${args.join(" ")}`);
  return n;
}

test("npx and the native checker agree on every manifests fixture, in every format", () => {
  const sets = [
    ["examples/agents-render.yaml", "examples/agents-render-drifted.yaml"],
    ["examples/"],
    ["e2e-tests/pin/manifests"],
    ["examples/custom-resources.yaml"],
  ];
  const settings = [[], ["--settings", "examples/settings/non-prod.yaml"], ["--settings", "examples/settings/prod.yaml", "--namespace", "agents"], ["--settings", "examples/settings/presets.yaml"]];
  let compared = 0;
  const codes = new Set();
  for (const paths of sets) {
    for (const s of settings) {
      for (const output of ["json", "text", "sarif", "junit", "github"]) {
        codes.add(same([...s, "--output", output, ...paths]).status);
        compared++;
      }
    }
  }
  // Operators' resources (presets, patches, a composed image, a quoted key): the same reading.
  for (const output of ["json", "text", "sarif", "junit", "github"]) {
    codes.add(same(["--settings", "examples/settings/operators.yaml", "--namespace", "ops", "--output", output, "e2e-tests/operators"]).status);
    compared++;
  }
  // Input errors and empty runs as well.
  for (const args of [["missing.yaml"], ["--output", "json", "examples/values"], ["--allow-empty", "examples/ci"], ["--output", "json", "examples/ci"]]) {
    codes.add(same(args).status);
    compared++;
  }
  assert.deepEqual([...codes].sort(), [0, 1, 2], "the fixtures cover every exit code");
  console.log(`npx parity: ${compared} manifest runs identical`);
});

test("npx and the native checker agree on every Helm values case", () => {
  assert.ok(table.valuesCases.length >= 8);
  for (const c of table.valuesCases) {
    const args = ["values", "--output", "json"];
    if (c.settings) args.push("--settings", c.settings);
    if (c.namespace) args.push("--namespace", c.namespace);
    const n = same([...args, ...c.files]);
    assert.equal(n.status, c.exit, `${c.name}: ${n.stdout}`);
    same(["values", "--output", "github", ...(c.namespace ? ["--namespace", c.namespace] : []), ...c.files]);
  }
  console.log(`npx parity: ${table.valuesCases.length} values cases identical`);
  // An empty tag renders the chart's appVersion: --chart and --app-version, as natively.
  for (const extra of [["--chart", "e2e-tests/values/cert-manager-chart"], ["--app-version", "v1.20.0"], []]) {
    const n = same(["values", "--output", "json", ...extra, "e2e-tests/values/cert-manager.yaml"]);
    assert.equal(n.status, extra.length ? 0 : 2, `${extra}: ${n.stdout}`);
  }
});

test("npm pack's tarball installs into a fresh project offline and runs", () => {
  const work = mkdtempSync(join(tmpdir(), "idc-npm-"));
  try {
    const pack = run("npm", ["pack", "--silent", "--pack-destination", work, join(root, "build/web/npm")]);
    assert.equal(pack.status, 0, pack.stderr);
    const tarball = join(work, pack.stdout.trim().split("\n").pop());
    const project = join(work, "project");
    cpSync(join(root, "examples/agents-render-drifted.yaml"), join(project, "deploy.yaml"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "adopter", version: "1.0.0", private: true }));
    const env = { ...process.env, npm_config_cache: join(work, "cache"), npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
    const t0 = Date.now();
    const install = run("npm", ["install", "--offline", "--no-save", tarball], { cwd: project, env });
    const installed = Date.now();
    assert.equal(install.status, 0, `npm install --offline: ${install.stderr}`);
    const check = run("npx", ["--offline", "image-digest-check", "--output", "github", "deploy.yaml"], { cwd: project, env });
    const first = Date.now();
    assert.equal(check.status, 1, check.stderr);
    assert.match(check.stdout, /^::error file=deploy\.yaml,line=46,col=16,title=image-digest-policy%3A mutable-tag::/m);
    const version = run("npx", ["--offline", "image-digest-check", "--version"], { cwd: project, env });
    assert.match(version.stdout, /^image-digest-check \d+\.\d+\.\d+ \(npm/);
    console.log(`npm: tarball installed offline in ${installed - t0} ms, first check in ${first - installed} ms (cold start ${first - t0} ms)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("the pre-commit hooks refuse a drifted file and pass a pinned one (pre-commit try-repo)", () => {
  const which = run("pre-commit", ["--version"]);
  assert.equal(which.status, 0, "pre-commit is not installed: pip install pre-commit (.ci/run does this); this test never skips");
  const work = mkdtempSync(join(tmpdir(), "idc-pre-commit-"));
  try {
    const repo = join(work, "repo");
    cpSync(join(root, "examples/agents-render-drifted.yaml"), join(repo, "deploy/drifted.yaml"));
    cpSync(join(root, "examples/agents-render.yaml"), join(repo, "deploy/pinned.yaml"));
    cpSync(join(root, "examples/values/chart-defaults.yaml"), join(repo, "chart/values.yaml"));
    cpSync(join(root, "examples/values/agents-gitops.yaml"), join(repo, "gitops/values-prod.yaml"));
    const git = (...a) => run("git", a, { cwd: repo });
    assert.equal(git("init", "-q").status, 0);
    git("add", ".");
    const env = { ...process.env, PATH: `${join(target, "debug")}:${process.env.PATH}`, PRE_COMMIT_HOME: join(work, "cache"),
      GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };
    const hook = (id, file) => run("pre-commit", ["try-repo", root, id, "--files", file], { cwd: repo, env });
    const drifted = hook("image-digest-manifests", "deploy/drifted.yaml");
    assert.equal(drifted.status, 1, drifted.stdout + drifted.stderr);
    assert.match(drifted.stdout, /deploy\/drifted\.yaml:46:16: Deployment agents\/agents: .*tag `latest` is mutable/);
    const pinned = hook("image-digest-manifests", "deploy/pinned.yaml");
    assert.equal(pinned.status, 0, pinned.stdout + pinned.stderr);
    const values = hook("image-digest-values", "chart/values.yaml");
    assert.equal(values.status, 1, values.stdout + values.stderr);
    assert.match(values.stdout, /chart\/values\.yaml:12:13: .*controlPlane\.image\.digest/);
    const good = hook("image-digest-values", "gitops/values-prod.yaml");
    assert.equal(good.status, 0, good.stdout + good.stderr);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("the GitHub Action's script annotates, writes SARIF and exits with the checker's code", () => {
  const work = mkdtempSync(join(tmpdir(), "idc-action-"));
  try {
    const outputs = join(work, "github-output");
    writeFileSync(outputs, "");
    const sarif = join(work, "results.sarif");
    const env = { ...process.env, IMAGE_DIGEST_CHECK: `${process.execPath} ${NPX_BIN}`, GITHUB_OUTPUT: outputs,
      INPUT_PATHS: "examples/agents-render.yaml examples/agents-render-drifted.yaml", INPUT_SETTINGS: "examples/settings/non-prod.yaml",
      INPUT_OUTPUT: "github", INPUT_SARIF_FILE: sarif, INPUT_VALUES: "false", INPUT_NAMESPACE: "" };
    const r = run("bash", [join(root, "action/run.sh")], { env });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^::error file=examples\/agents-render-drifted\.yaml,line=46,col=16,title=image-digest-policy%3A mutable-tag::/m);
    assert.match(r.stdout, /^::warning file=examples\/agents-render-drifted\.yaml,line=94,col=16/m);
    const report = JSON.parse(readFileSync(sarif, "utf8"));
    assert.equal(report.version, "2.1.0");
    assert.ok(report.runs[0].results.some((x) => x.ruleId === "mutable-tag" && x.locations[0].physicalLocation.region.startLine === 46));
    assert.equal(readFileSync(outputs, "utf8"), `sarif-file=${sarif}\nexit-code=1\n`);

    writeFileSync(outputs, "");
    const v = run("bash", [join(root, "action/run.sh")], { env: { ...env, INPUT_VALUES: "true", INPUT_SETTINGS: "examples/settings/prod.yaml", INPUT_NAMESPACE: "agents",
      INPUT_PATHS: "examples/values/chart-defaults.yaml examples/values/agents-gitops.yaml" } });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(readFileSync(outputs, "utf8"), /exit-code=0/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
