// Measures npm tiktoken's encode_ordinary throughput on the same input as
// Go's BenchmarkCount (all corpus texts joined with "\n"), reporting wall
// and CPU MB/s (the CPU figure is less distorted on a shared machine).
//
//   node bench.mjs testdata/corpus.jsonl [iterations]
import { readFileSync } from "node:fs";
import { get_encoding } from "tiktoken";

const [path = "testdata/corpus.jsonl", iters = "3"] = process.argv.slice(2);
const text = readFileSync(path, "utf8").split("\n").filter(Boolean)
  .map((l) => JSON.parse(l).text + "\n").join("");
const bytes = Buffer.byteLength(text, "utf8");
for (const name of ["o200k_base", "cl100k_base"]) {
  const enc = get_encoding(name);
  enc.encode_ordinary(text); // warm-up (WASM compile, caches)
  const n = Number(iters);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) enc.encode_ordinary(text);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const mb = (bytes * n) / 1e6;
  console.log(`npm-tiktoken/${name}\t${n}x ${bytes} B\t${(mb / wall).toFixed(2)} MB/s\t${(mb / cpuSec).toFixed(2)} cpu-MB/s`);
  enc.free();
}
