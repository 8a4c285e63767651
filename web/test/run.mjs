// Runs the web suites (node's built-in runner) and ends with the line CI reads:
// `web tests: N passed, N failed`. Exit status 1 when anything failed or nothing ran.
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => join(dir, f));
let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: 1 });
stream.on("test:pass", (t) => { if (t.details?.type !== "suite" && t.nesting === 0 && !t.file?.endsWith(t.name)) passed++; });
stream.on("test:fail", (t) => { if (t.details?.type !== "suite" && t.nesting === 0) failed++; });
const reporter = stream.compose(spec);
reporter.on("data", (chunk) => process.stdout.write(chunk));
reporter.on("end", () => {
  console.log(`web tests: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
