#!/usr/bin/env node
// `npx image-digest-check`: the offline checker on the package's WebAssembly build of the
// policy's core. The same options, findings, reports and exit codes as the native
// `image-digest-check` for what works offline; no Rust, no network, no native code.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { checkManifests, checkValues, formats, version } = require("../index.js");
// The formats the module renders: listed by the module itself, never here.
const FORMATS = formats().split(",");

const USAGE = `Usage: image-digest-check [OPTIONS] [PATHS]...
       image-digest-check values [OPTIONS] FILES...

Check Kubernetes manifests (files, directories searched for .yaml/.yml/.json, or - for stdin)
or Helm values files (merged in order, as helm -f) against the image tag/digest contract.

Options:
  -s, --settings FILE    policy settings, YAML or JSON (a whole ClusterAdmissionPolicy too)
  -n, --namespace NAME   namespace for manifests that name none (as helm template -n)
  -o, --output FORMAT    ${FORMATS.join(", ")} (default: text)
      --allow-empty      exit 0 when nothing was checked
      --chart DIR        values: an empty tag renders DIR/Chart.yaml's appVersion
      --app-version V    values: an empty tag renders V (the chart's appVersion)
  -q, --quiet            accepted for compatibility (this command prints no progress)
  -V, --version          print the version
  -h, --help             print this help

Exit codes: 0 all accepted, 1 something rejected, 2 usage or input errors.`;

function fail(message) {
  process.stderr.write(`image-digest-check: ${message}\n`);
  process.exit(2);
}

function parse(argv) {
  const o = { output: "text", allowEmpty: false, paths: [], values: false };
  const value = (i, flag) => {
    if (i + 1 >= argv.length) fail(`${flag} needs a value (see --help)`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const [flag, inline] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = () => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case "-h": case "--help": process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      case "-V": case "--version": process.stdout.write(`image-digest-check ${version()} (npm, policy core ${version()})\n`); process.exit(0); break;
      case "-s": case "--settings": o.settings = take(); break;
      case "-n": case "--namespace": o.namespace = take(); break;
      case "-o": case "--output": o.output = take(); break;
      case "--allow-empty": o.allowEmpty = true; break;
      case "--chart": o.chart = take(); break;
      case "--app-version": o.appVersion = take(); break;
      case "-q": case "--quiet": break;
      default:
        if (a === "values" && o.paths.length === 0 && !o.values) o.values = true;
        else if (a.startsWith("-") && a !== "-") fail(`unexpected argument '${a}' (see --help)`);
        else o.paths.push(a);
    }
  }
  if (!FORMATS.includes(o.output)) {
    fail(`invalid value '${o.output}' for '--output': use ${FORMATS.join(", ")}`);
  }
  return o;
}

const isManifest = (name) => /\.(ya?ml|json)$/.test(name);

// Files as given, directories recursively (sorted by name, links followed, each file once).
function expand(paths, errors) {
  const files = [];
  const seen = new Set();
  const add = (p) => {
    let key = p;
    try { key = fs.realpathSync(p); } catch { /* reported when read */ }
    if (!seen.has(key)) { seen.add(key); files.push(p); }
  };
  const walk = (dir, ancestors) => {
    let names;
    try { names = fs.readdirSync(dir).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)); } catch (e) {
      errors.push({ source: dir, message: e.message });
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      let st;
      try { st = fs.statSync(p); } catch (e) { errors.push({ source: p, message: e.message }); continue; }
      if (st.isDirectory()) {
        const real = fs.realpathSync(p);
        if (ancestors.includes(real)) {
          errors.push({ source: p, message: `a symbolic link loop back to ${real}: not followed (remove the link, or name the files)` });
          continue;
        }
        walk(p, [...ancestors, real]);
      } else if (st.isFile() && isManifest(name)) add(p);
    }
  };
  for (const p of paths) {
    if (p === "-") files.push(p);
    else if (!fs.existsSync(p)) errors.push({ source: p, message: "no such file or directory" });
    else if (fs.statSync(p).isDirectory()) walk(p, [fs.realpathSync(p)]);
    else add(p);
  }
  return files;
}

function read(p, errors) {
  try {
    return { name: p === "-" ? "<stdin>" : p, text: fs.readFileSync(p === "-" ? 0 : p, "utf8") };
  } catch (e) {
    errors.push({ source: p === "-" ? "<stdin>" : p, message: `cannot read the file: ${e.message}` });
    return null;
  }
}

// Chart.yaml's top-level `appVersion` (a flat scalar): an error, not a guess, when it is missing.
function chartAppVersion(dir) {
  const file = path.join(dir, "Chart.yaml");
  let text;
  try { text = fs.readFileSync(file, "utf8"); } catch (e) { fail(`--chart: cannot read ${file}: ${e.message}`); }
  const m = text.match(/^appVersion:[ \t]*(?:"([^"]*)"|'([^']*)'|([^\s#]+))/m);
  const v = m && (m[1] ?? m[2] ?? m[3]);
  if (!v) fail(`--chart: ${file} has no appVersion, so an empty tag renders nothing known: set the tags in the values, or pass --app-version`);
  return v;
}

function main() {
  const o = parse(process.argv.slice(2));
  if (o.chart !== undefined && o.appVersion !== undefined) fail("--chart and --app-version cannot be used together");
  if (o.paths.length === 0) {
    fail(o.values ? "values needs at least one values file (see --help)" : "no input: give manifest files, directories or - for stdin (see --help)");
  }
  let settings = "";
  if (o.settings) {
    try { settings = fs.readFileSync(o.settings, "utf8"); } catch (e) { fail(`cannot read settings ${o.settings}: ${e.message}`); }
  }
  const errors = [];
  const files = o.values ? o.paths : expand(o.paths, errors);
  const inputs = files.map((f) => read(f, errors)).filter(Boolean);
  const options = { allowEmpty: o.allowEmpty, format: o.output, inputErrors: errors };
  if (o.namespace !== undefined) options.namespace = o.namespace;
  if (o.chart !== undefined) options.appVersion = chartAppVersion(o.chart);
  if (o.appVersion !== undefined) options.appVersion = o.appVersion;
  let report;
  try {
    report = (o.values ? checkValues : checkManifests)(inputs, settings, options);
  } catch (e) {
    fail(e.message);
  }
  process.stdout.write(report.rendered);
  process.exitCode = report.exitCode;
}

main();
