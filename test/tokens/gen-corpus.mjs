// Generates Ward's token-count cross-check corpus deterministically (seeded
// PRNG, no network, no external data): English and clinical prose, code,
// JSON, emoji, CJK and other scripts, combining marks, long whitespace runs,
// contractions, numbers, and 100 KB inputs. Output: JSON lines {"id","text"}.
//
//   node gen-corpus.mjs testdata/corpus.jsonl
import { writeFileSync } from "node:fs";

let seed = 0x5eed;
function rand() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const english = `the quick brown fox jumps over lazy dog while engineers review policy
decisions about tokens budgets and latency in production systems we're shipping it's
they'll I've you'd can't won't shouldn't The Report was Published on Monday NASA's
mission HTTPServer iPhone McDonald's O'Neil's naïve café coöperate résumé façade`.split(/\s+/);
const clinical = `patient presents with acute chest pain radiating to left arm BP 142/91
mmHg HR 104 bpm SpO2 96% on room air troponin elevated ECG shows ST elevation in leads
II III aVF diagnosis STEMI administered aspirin 325mg clopidogrel 600mg heparin bolus
history of type 2 diabetes mellitus hypertension hyperlipidemia metformin 1000mg BID
lisinopril 20mg daily atorvastatin 40mg MRN 00482913 DOB 03/14/1961 follow-up in 2 weeks
CBC BMP HbA1c 8.2% eGFR 54 mL/min/1.73m² Dx: I21.19 Rx: metoprolol 25 mg PO q12h`.split(/\s+/);
const cjk = ["日本語の文章です。", "患者は胸痛を訴えている。", "中文文本，包含标点符号！",
  "血压升高，心率加快。", "한국어 텍스트입니다.", "환자는 두통을 호소합니다.", "東京都千代田区",
  "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "カタカナとひらがな"];
const other = ["Ελληνικά κείμενο", "Русский текст с пунктуацией.", "العربية نص", "עברית טקסט",
  "हिन्दी पाठ", "ภาษาไทย", "Tiếng Việt có dấu", "e\u0301 a\u0300 n\u0303 \u0301\u0301x",
  "ǅungla ǈ ǋ ʰʲ ˢtuff ᵃᵇᶜ", "\u00a0nbsp\u3000ideo\u2028ls\u2029ps\u0085nel\u200bzw\ufeffbom",
  "'ſ 'ſtuff ſ K Å", "<|endoftext|> <|fim_prefix|> <|endofprompt|>"];
const emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "🇯🇵", "❤️", "🔥", "🩺", "💊", "🧬", "✅", "⚠️", "🏥", "😷"];
const code = [
  `func (e *Encoding) Count(text string) int {\n\tn := 0\n\tfor i := 0; i < len(text); {\n\t\tj := e.next(text, i)\n\t\tn += e.countPiece(text[i:j])\n\t\ti = j\n\t}\n\treturn n\n}\n`,
  `def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nif __name__ == "__main__":\n    print(fib(30))\n`,
  `const handler = async (req, res) => {\n  const { id } = req.params;\n  if (!id) return res.status(400).json({ error: 'missing id' });\n  // TODO: cache\n  res.json(await db.get(id));\n};\n`,
  `SELECT p.mrn, COUNT(*) AS visits\nFROM encounters e JOIN patients p ON p.id = e.patient_id\nWHERE e.admitted_at >= '2024-01-01'\nGROUP BY p.mrn HAVING COUNT(*) > 3;\n`,
  `#include <stdio.h>\nint main(void) {\n    for (int i = 0; i < 10; ++i) printf("%d\\n", i * i);\n    return 0;\n}\n`,
  `<html><body><div class="note">BP&nbsp;120/80</div><!-- comment --></body></html>\n`,
  `package main\n\nimport "fmt"\n\n// Greeter says hello.\ntype Greeter struct{ Name string }\n\nfunc main() { fmt.Println(Greeter{"Ward"}) }\n`,
];

function words(pool, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    let w = pick(pool);
    const r = rand();
    if (r < 0.08) w = w.toUpperCase();
    else if (r < 0.16) w = w[0].toUpperCase() + w.slice(1);
    out.push(w);
    const p = rand();
    if (p < 0.08) out.push(pick([",", ".", ";", ":", "!", "?", " -", " (", ")", "'s", "'re", "'LL"]));
  }
  return out.join(" ").replace(/ ([,.;:!?)])/g, "$1");
}
function ws() {
  return pick([" ", "  ", "\t", "\n", "\n\n", "\r\n", " \n", "\n   ", "   \t \n\n  ", " ".repeat(int(2, 60)), "\n".repeat(int(2, 20)), "\u3000", "\u00a0"]);
}
function json(depth = 0) {
  const r = rand();
  if (depth > 3 || r < 0.3) return JSON.stringify(pick([42, -3.5, 1e21, true, null, "text", "ünïcödé", "😀", "a\"quoted\"\\path", "line\nbreak"]));
  if (r < 0.6) return "[" + Array.from({ length: int(0, 4) }, () => json(depth + 1)).join(rand() < 0.5 ? "," : ", ") + "]";
  const keys = ["id", "patient_id", "model", "messages", "role", "content", "temperature", "tools", "usage", "prompt_tokens"];
  const body = Array.from({ length: int(0, 4) }, () => `"${pick(keys)}":${rand() < 0.5 ? "" : " "}${json(depth + 1)}`);
  return rand() < 0.3 ? "{\n  " + body.join(",\n  ") + "\n}" : "{" + body.join(",") + "}";
}
function mixed() {
  const parts = [];
  const n = int(3, 12);
  for (let i = 0; i < n; i++) {
    const k = rand();
    if (k < 0.3) parts.push(words(english, int(3, 30)));
    else if (k < 0.5) parts.push(words(clinical, int(3, 30)));
    else if (k < 0.6) parts.push(pick(cjk));
    else if (k < 0.7) parts.push(pick(other));
    else if (k < 0.78) parts.push(Array.from({ length: int(1, 6) }, () => pick(emoji)).join(rand() < 0.5 ? "" : " "));
    else if (k < 0.86) parts.push(pick(code));
    else if (k < 0.93) parts.push(json());
    else parts.push(String(int(0, 1e9)) + pick(["", ".", ",", "%", " mg", "/min"]) + String(int(0, 999)));
    parts.push(ws());
  }
  return parts.join("");
}
function big(kind, size) {
  let s = "";
  while (s.length < size) s += kind() + ws();
  return s.slice(0, size);
}

const out = [];
const add = (id, text) => out.push(JSON.stringify({ id, text }));
add("empty", "");
for (const [i, s] of other.entries()) add(`scripts-${i}`, s);
for (const [i, s] of code.entries()) add(`code-${i}`, s);
for (const [i, s] of cjk.entries()) add(`cjk-${i}`, s);
add("emoji-all", emoji.join(""));
add("emoji-spaced", emoji.join(" "));
for (let i = 0; i < 40; i++) add(`english-${i}`, words(english, int(5, 120)));
for (let i = 0; i < 40; i++) add(`clinical-${i}`, words(clinical, int(5, 120)));
for (let i = 0; i < 30; i++) add(`json-${i}`, json());
for (let i = 0; i < 120; i++) add(`mixed-${i}`, mixed());
for (let i = 0; i < 20; i++) add(`whitespace-${i}`, ws() + ws() + pick(english) + ws() + ws() + pick(["x", "!", "1", "日", "😀", ""]) + ws());
add("ws-spaces-5000", " ".repeat(5000));
add("ws-newlines-3000", "\n".repeat(3000) + "end");
add("ws-mixed-4000", Array.from({ length: 1000 }, () => pick([" ", "\t", "\n", "\r\n"])).join("") + "tail");
add("punct-run", "=".repeat(3000) + "\n" + "-".repeat(2000) + "/".repeat(100));
add("100k-english", big(() => words(english, 50), 100_000));
add("100k-clinical", big(() => words(clinical, 50), 100_000));
add("100k-code", big(() => pick(code), 100_000));
add("100k-json", big(json, 100_000));
add("100k-mixed", big(mixed, 100_000));
add("100k-cjk", big(() => pick(cjk), 100_000));
writeFileSync(process.argv[2] ?? "testdata/corpus.jsonl", out.join("\n") + "\n");
console.error(`wrote ${out.length} texts`);
