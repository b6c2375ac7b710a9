// Shared scenario definitions for the SDK tests. The Go driver
// (sdk_test.go) scripts the fake provider with the same texts, keyed by
// model name, and passes the gateway URL in WARD_URL.
import { readFileSync } from 'node:fs';

export const url = process.env.WARD_URL;
if (!url) throw new Error('WARD_URL is not set: run these scripts through `go test ./test/sdk`');

export const clinicalKey = 'ward-demo-clinical';

// The Go driver writes the scenarios (model -> {text, want, leak}) to a
// temporary file named by WARD_SCENARIOS.
export const scenarios = JSON.parse(readFileSync(process.env.WARD_SCENARIOS, 'utf8'));

export const splitModels = ['split-2', 'split-3', 'split-n', 'multibyte'];
