// Measures how well "o200k_base count x ratio" tracks Anthropic's token
// counts. Anthropic does not publish its Claude 3+ tokenizer, so the only
// offline reference is @anthropic-ai/tokenizer (Anthropic's legacy, Claude 2
// era vocabulary; its README warns it is inexact for Claude 3+). The result
// is therefore a proxy bound; the proxy's own drift is corrected at run time
// from the usage Anthropic returns (docs/tokens.md).
//
//   node anthropic.mjs testdata/corpus.jsonl [ratio]
import { readFileSync } from "node:fs";
import { get_encoding } from "tiktoken";
import { countTokens } from "@anthropic-ai/tokenizer";

const [path = "testdata/corpus.jsonl", ratioArg] = process.argv.slice(2);
const enc = get_encoding("o200k_base");
const rows = readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.text.length >= 20)
  .map((r) => ({ id: r.id, o: enc.encode_ordinary(r.text).length, a: countTokens(r.text) }));
enc.free();
const q = (xs, p) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const ratios = rows.map((r) => r.a / r.o);
const sumRatio = rows.reduce((s, r) => s + r.a, 0) / rows.reduce((s, r) => s + r.o, 0);
const ratio = ratioArg ? Number(ratioArg) : sumRatio;
const errs = rows.map((r) => (Math.ceil(r.o * ratio) - r.a) / r.a);
const fmt = (x) => (100 * x).toFixed(1) + "%";
console.log(`texts=${rows.length} proxy/o200k ratio: sum=${sumRatio.toFixed(3)} p5=${q(ratios, 0.05).toFixed(3)} p50=${q(ratios, 0.5).toFixed(3)} p95=${q(ratios, 0.95).toFixed(3)} min=${Math.min(...ratios).toFixed(3)} max=${Math.max(...ratios).toFixed(3)}`);
console.log(`estimate ceil(o200k x ${ratio.toFixed(3)}) vs proxy, relative error: p5=${fmt(q(errs, 0.05))} p50=${fmt(q(errs, 0.5))} p95=${fmt(q(errs, 0.95))} min=${fmt(Math.min(...errs))} max=${fmt(Math.max(...errs))}`);
const by = {};
for (const r of rows) { const k = r.id.replace(/-\d+$/, "").replace(/^100k-/, "100k-"); (by[k] ??= []).push(r.a / r.o); }
for (const [k, v] of Object.entries(by)) console.log(`  ${k.padEnd(16)} n=${String(v.length).padStart(3)} ratio p50=${q(v, 0.5).toFixed(3)} min=${Math.min(...v).toFixed(3)} max=${Math.max(...v).toFixed(3)}`);
