package envoy

import (
	_ "embed"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
)

// plaintextYAML is envoy-plaintext.yaml, built into the binary so `ward
// demo` configures its Envoy emulator from the shipped config anywhere.
//
//go:embed envoy-plaintext.yaml
var plaintextYAML []byte

// PlaintextBootstrap decodes the embedded envoy-plaintext.yaml strictly.
func PlaintextBootstrap() (*bootstrapv3.Bootstrap, error) {
	b := &bootstrapv3.Bootstrap{}
	if err := Unmarshal(plaintextYAML, b); err != nil {
		return nil, fmt.Errorf("envoy: envoy-plaintext.yaml: %w", err)
	}
	return b, nil
}
