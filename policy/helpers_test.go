package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// buildBundle writes a real OPA bundle (.tar.gz) with OPA's bundle writer,
// signed with privPEM when it is not empty.
func buildBundle(t testing.TB, revision string, modules map[string]string, data map[string]any, privPEM string) []byte {
	t.Helper()
	b := bundle.Bundle{Manifest: bundle.Manifest{Revision: revision}, Data: data}
	if b.Data == nil {
		b.Data = map[string]any{}
	}
	b.Manifest.Init()
	for path, src := range modules {
		m, err := ast.ParseModuleWithOpts(path, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: path, Path: path, Raw: []byte(src), Parsed: m})
	}
	if privPEM != "" {
		if err := b.GenerateSignature(bundle.NewSigningConfig(privPEM, "RS256", ""), "ward", false); err != nil {
			t.Fatalf("sign bundle: %v", err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatalf("write bundle: %v", err)
	}
	return buf.Bytes()
}

// rsaKeys returns a fresh RSA key pair as PEM (private, public).
func rsaKeys(t testing.TB) (string, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	return string(priv), string(pub)
}

// allowPolicy is a minimal decision policy whose message names its version.
func allowPolicy(version string) string {
	return `package ward

decision := {"allow": true, "reason": {"code": "ok", "message": "` + version + `"}}
`
}

// clinicalPrompt returns a ~size-byte clinical prompt and PHI findings in it.
func clinicalPrompt(size int) (string, []Finding) {
	var sb strings.Builder
	var findings []Finding
	line := "Patient John Smith (DOB 03/14/1962, phone 555-867-5309) seen today for chest pain radiating to the left arm; troponin pending, ECG shows sinus rhythm. "
	for sb.Len() < size {
		start := sb.Len()
		sb.WriteString(line)
		findings = append(findings,
			Finding{Type: "NAME", Role: "user", MessageIndex: 1, Start: start + 8, End: start + 18, Score: 0.97},
			Finding{Type: "DOB", Role: "user", MessageIndex: 1, Start: start + 24, End: start + 34, Score: 0.99},
			Finding{Type: "PHONE", Role: "user", MessageIndex: 1, Start: start + 42, End: start + 54, Score: 0.95},
		)
	}
	return sb.String()[:size], findings
}

// clinicalInput is a request-phase clinical input with a prompt of size
// bytes and its findings.
func clinicalInput(size int) *Input {
	text, findings := clinicalPrompt(size)
	return &Input{
		Version:  InputVersion,
		Phase:    PhaseRequest,
		Profile:  "clinical",
		Identity: Identity{Team: "cardiology", App: "scribe", KeyID: "wk_1", EndUser: "dr.chen"},
		Provider: "openai",
		Model:    "gpt-4o-mini",
		Endpoint: "chat_completions",
		Messages: []Message{
			{Role: "system", Text: "You are a clinical documentation assistant.", Index: 0},
			{Role: "user", Text: text, Index: 1},
		},
		Tools:     []Tool{},
		ToolCalls: []ToolCall{},
		Detectors: Detectors{
			PHI:   PHI{Findings: findings}, // count and by_type are derived
			Topic: &Topic{InScope: true, Nearest: "clinical_documentation", Score: 0.9},
		},
		Tokens: Tokens{PromptEstimate: int64(size / 4), MaxOutput: 512},
		// Prepared, as extproc's policy stage prepares each profile's route.
		Route: Route{Name: "openai-public", AllowedPHI: []string{}}.Prepared(),
	}
}

// spliceSignature returns body with the .signatures.json of signed: a
// signature that does not match the files.
func spliceSignature(t testing.TB, signed, body []byte) []byte {
	t.Helper()
	var sig []byte
	for name, data := range untar(t, signed) {
		if strings.HasSuffix(name, ".signatures.json") {
			sig = data
		}
	}
	if sig == nil {
		t.Fatal("signed bundle has no .signatures.json")
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := untar(t, body)
	files["/.signatures.json"] = sig
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func untar(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = data
	}
}

func newServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
