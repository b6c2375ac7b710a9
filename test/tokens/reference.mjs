// Writes reference token counts for every corpus text with OpenAI's npm
// `tiktoken` package (the Rust core compiled to WASM): one JSON line
// {"id","o200k_base","cl100k_base"} per text. encode_ordinary treats
// special-token strings as plain text, as the API does for user content.
//
//   node reference.mjs testdata/corpus.jsonl testdata/reference.jsonl
import { readFileSync, writeFileSync } from "node:fs";
import { get_encoding } from "tiktoken";

const [inPath = "testdata/corpus.jsonl", outPath = "testdata/reference.jsonl"] = process.argv.slice(2);
const version = JSON.parse(readFileSync(new URL("node_modules/tiktoken/package.json", import.meta.url), "utf8")).version;
const encs = ["o200k_base", "cl100k_base"].map((n) => [n, get_encoding(n)]);
const lines = readFileSync(inPath, "utf8").split("\n").filter(Boolean);
const out = [JSON.stringify({ generator: "npm tiktoken", version, corpus: inPath })];
for (const line of lines) {
  const { id, text } = JSON.parse(line);
  const rec = { id };
  for (const [name, enc] of encs) rec[name] = enc.encode_ordinary(text).length;
  out.push(JSON.stringify(rec));
}
for (const [, enc] of encs) enc.free();
writeFileSync(outPath, out.join("\n") + "\n");
console.error(`tiktoken ${version}: ${lines.length} reference counts -> ${outPath}`);
