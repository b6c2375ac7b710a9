// Package rego embeds Ward's default policy library: the Rego modules under
// this directory (package ward and ward.*), their _test.rego unit tests and
// data.json with the default configuration data (data.ward.config).
//
// The engine loads FS without the _test.rego files; `ward policy test` and
// the Go tests in package policy run the tests against it.
package rego

import "embed"

// FS holds every *.rego file and data.json of the default policy library.
//
//go:embed *.rego data.json
var FS embed.FS
