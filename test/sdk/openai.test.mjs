// The official openai package must parse every stream Ward rewrote,
// reassemble exactly the redacted text and raise its normal APIError when
// Ward stops a stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { url, clinicalKey, scenarios, splitModels } from './common.mjs';

const client = new OpenAI({ apiKey: clinicalKey, baseURL: `${url}/v1`, maxRetries: 0 });
const messages = [{ role: 'user', content: 'How do I reach the patient?' }];

for (const model of splitModels) {
  const { want, leak } = scenarios[model];

  test(`chat ${model}: raw chunks reassemble to the redacted text`, async () => {
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    let text = '';
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.delta?.content ?? '';
        finish = c.finish_reason ?? finish;
      }
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, want);
    assert.ok(!text.includes(leak));
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0, 'usage chunk forwarded');
  });

  test(`chat ${model}: stream helper's final completion`, async () => {
    const stream = client.chat.completions.stream({ model, messages });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content, want);
  });

  test(`responses ${model}: events and final response`, async () => {
    const stream = client.responses.stream({ model, input: 'How do I reach the patient?' });
    let deltas = '';
    stream.on('response.output_text.delta', (ev) => { deltas += ev.delta; });
    const final = await stream.finalResponse();
    assert.equal(deltas, want);
    assert.equal(final.output_text, want);
  });
}

test('chat: a mid-stream denial is the SDK\'s APIError', async () => {
  const stream = await client.chat.completions.create({ model: 'advice', messages, stream: true });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  }, (err) => {
    assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err}`);
    assert.match(err.message, /diagnosis or medication dosing/);
    return true;
  });
  assert.ok(!text.includes('ibuprofen'));
  assert.ok(scenarios.advice.text.startsWith(text));
});

test('responses: a mid-stream denial is the SDK\'s APIError', async () => {
  const stream = await client.responses.create({ model: 'advice', input: 'What should I do?', stream: true });
  await assert.rejects(async () => {
    for await (const ev of stream) void ev;
  }, (err) => err instanceof OpenAI.APIError && /diagnosis or medication dosing/.test(err.message));
});

test('chat: the client cancels half way', async () => {
  const { want } = scenarios.long;
  const stream = await client.chat.completions.create({ model: 'long', messages, stream: true });
  let text = '';
  let n = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (++n === 40) break; // for-await return() aborts the request
  }
  assert.ok(text.length > 0 && text.length < want.length, `got ${text.length} of ${want.length}`);
  assert.ok(want.startsWith(text));
  // The gateway keeps serving after a cancel.
  const again = await client.chat.completions.create({ model: 'split-2', messages, stream: true });
  let t2 = '';
  for await (const chunk of again) t2 += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(t2, scenarios['split-2'].want);
});
