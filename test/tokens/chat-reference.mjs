// Reference chat/tool counts: a direct transliteration of OpenAI's cookbook
// functions num_tokens_from_messages and num_tokens_for_tools ("How to count
// tokens with tiktoken") on npm tiktoken, over chat requests built from the
// corpus. The Go test feeds the same lines to `ward tokens --jsonl` and must
// get the same numbers: it checks Ward's port of the formula, independently
// written.
//
//   node chat-reference.mjs testdata/corpus.jsonl testdata/chat-reference.jsonl
import { readFileSync, writeFileSync } from "node:fs";
import { get_encoding } from "tiktoken";

const [inPath = "testdata/corpus.jsonl", outPath = "testdata/chat-reference.jsonl"] = process.argv.slice(2);
const texts = readFileSync(inPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.text.length > 0 && r.text.length < 3000);

const models = { "gpt-4o": ["o200k_base", 7], "gpt-4": ["cl100k_base", 10] };

function numTokensFromMessages(enc, messages) {
  let n = 0;
  for (const m of messages) {
    n += 3; // tokens_per_message
    for (const [k, v] of Object.entries(m)) {
      n += enc.encode_ordinary(v).length;
      if (k === "name") n += 1; // tokens_per_name
    }
  }
  return n + 3; // reply priming
}

function numTokensForTools(enc, funcInit, tools) {
  if (tools.length === 0) return 0;
  let n = 0;
  for (const t of tools) {
    n += funcInit;
    const f = t.function;
    let desc = f.description;
    if (desc.endsWith(".")) desc = desc.slice(0, -1);
    n += enc.encode_ordinary(f.name + ":" + desc).length;
    const props = f.parameters.properties;
    if (Object.keys(props).length > 0) {
      n += 3; // prop_init
      for (const [key, p] of Object.entries(props)) {
        n += 3; // prop_key
        if ("enum" in p) {
          n += -3; // enum_init
          for (const item of p.enum) n += 3 + enc.encode_ordinary(item).length;
        }
        let pd = p.description;
        if (pd.endsWith(".")) pd = pd.slice(0, -1);
        n += enc.encode_ordinary(`${key}:${p.type}:${pd}`).length;
      }
    }
  }
  return n + 12; // func_end
}

const toolSets = [
  [],
  [{ type: "function", function: { name: "get_current_weather", description: "Get the current weather in a given location.",
    parameters: { type: "object", properties: {
      location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
      unit: { type: "string", description: "The unit of temperature.", enum: ["celsius", "fahrenheit"] } }, required: ["location"] } } }],
  [{ type: "function", function: { name: "lookup_icd10", description: "Look up an ICD-10-CM code", parameters: { type: "object", properties: {
      code: { type: "string", description: "ICD-10 code, e.g. I21.19." } } } } },
   { type: "function", function: { name: "list_allergies", description: "List a patient's recorded allergies.", parameters: { type: "object", properties: {} } } },
   { type: "function", function: { name: "order_lab", description: "Order a lab test", parameters: { type: "object", properties: {
      test: { type: "string", description: "Test name", enum: ["CBC", "BMP", "HbA1c", "troponin I"] },
      urgency: { type: "string", description: "How soon.", enum: ["routine", "stat"] },
      mrn: { type: "string", description: "Medical record number" } } } } }],
];

const out = [];
let seed = 7;
const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < 60; i++) {
  const messages = [];
  if (next() < 0.7) messages.push({ role: "system", content: texts[Math.floor(next() * texts.length)].text });
  const turns = 1 + Math.floor(next() * 4);
  for (let t = 0; t < turns; t++) {
    const m = { role: t % 2 === 0 ? "user" : "assistant", content: texts[Math.floor(next() * texts.length)].text };
    if (next() < 0.3) m.name = ["example_user", "dr_smith", "nurse-42", "Ω_bot"][Math.floor(next() * 4)];
    messages.push(m);
  }
  const tools = toolSets[i % toolSets.length];
  for (const [model, [encName, funcInit]] of Object.entries(models)) {
    const enc = get_encoding(encName);
    const tokens = numTokensFromMessages(enc, messages) + numTokensForTools(enc, funcInit, tools);
    enc.free();
    const rec = { id: `chat-${i}-${model}`, model, messages, tokens };
    if (tools.length) rec.tools = tools;
    out.push(JSON.stringify(rec));
  }
}
writeFileSync(outPath, out.join("\n") + "\n");
console.error(`${out.length} chat reference counts -> ${outPath}`);
