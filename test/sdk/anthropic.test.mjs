// The official @anthropic-ai/sdk package must parse every stream Ward
// rewrote, reassemble exactly the redacted text and raise its normal
// APIError when Ward stops a stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { url, clinicalKey, scenarios, splitModels } from './common.mjs';

const client = new Anthropic({ apiKey: clinicalKey, baseURL: url, maxRetries: 0 });
const messages = [{ role: 'user', content: 'How do I reach the patient?' }];

for (const model of splitModels) {
  const { want, leak } = scenarios[model];

  test(`messages ${model}: raw events reassemble to the redacted text`, async () => {
    const stream = await client.messages.create({ model, max_tokens: 200, messages, stream: true });
    let text = '';
    let stop = null;
    for await (const ev of stream) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') stop = ev.delta.stop_reason;
    }
    assert.equal(text, want);
    assert.ok(!text.includes(leak));
    assert.equal(stop, 'end_turn');
  });

  test(`messages ${model}: stream helper's final text`, async () => {
    const stream = client.messages.stream({ model, max_tokens: 200, messages });
    assert.equal(await stream.finalText(), want);
  });
}

test('messages: a mid-stream denial is the SDK\'s APIError', async () => {
  const stream = await client.messages.create({ model: 'advice', max_tokens: 200, messages, stream: true });
  let text = '';
  await assert.rejects(async () => {
    for await (const ev of stream) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
  }, (err) => {
    assert.ok(err instanceof Anthropic.APIError, `got ${err?.constructor?.name}: ${err}`);
    assert.match(err.message, /diagnosis or medication dosing/);
    return true;
  });
  assert.ok(!text.includes('ibuprofen'));
  assert.ok(scenarios.advice.text.startsWith(text));
});

test('messages: the client cancels half way', async () => {
  const { want } = scenarios.long;
  const stream = await client.messages.create({ model: 'long', max_tokens: 2000, messages, stream: true });
  let text = '';
  let n = 0;
  for await (const ev of stream) {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    if (++n === 40) break;
  }
  assert.ok(text.length > 0 && text.length < want.length, `got ${text.length} of ${want.length}`);
  assert.ok(want.startsWith(text));
});
