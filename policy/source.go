package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	wardrego "github.com/wardhq/ward/rego"
)

type sourceKind int

const (
	kindFS sourceKind = iota + 1
	kindDir
	kindFile
	kindURL
)

// Source is where policies and data come from.
type Source struct {
	kind sourceKind
	fsys fs.FS
	loc  string // directory, file path, URL, or a name for an FS
}

// Embedded is Ward's default policy library compiled into the binary.
func Embedded() Source { return Source{kind: kindFS, fsys: wardrego.FS, loc: "embedded:rego"} }

// FromFS loads policies from an fs.FS (name is shown in status and errors).
func FromFS(fsys fs.FS, name string) Source { return Source{kind: kindFS, fsys: fsys, loc: name} }

// Dir loads *.rego and data.json/data.yaml files from a directory tree
// (OPA bundle directory layout; _test.rego files are skipped).
func Dir(path string) Source { return Source{kind: kindDir, loc: path} }

// Bundle loads an OPA bundle: a .tar.gz path, or an http(s) URL that
// Watch polls with ETag / If-None-Match.
func Bundle(pathOrURL string) Source {
	if strings.HasPrefix(pathOrURL, "http://") || strings.HasPrefix(pathOrURL, "https://") {
		return Source{kind: kindURL, loc: pathOrURL}
	}
	return Source{kind: kindFile, loc: pathOrURL}
}

// String names the source for logs and status.
func (s Source) String() string { return s.loc }

// IsZero reports an unset Source.
func (s Source) IsZero() bool { return s.kind == 0 }

// Verify configures bundle signature verification as OPA does it
// (.signatures.json, JWT over file hashes). When set, an unsigned or badly
// signed bundle is rejected.
type Verify struct {
	KeyID string
	// Key is the PEM public key (RS*/ES*/PS*) or the shared secret (HS*).
	Key string
	// Algorithm defaults to RS256.
	Algorithm string
	Scope     string
	// Exclude lists bundle files excluded from verification.
	Exclude []string
}

func (v *Verify) config() *bundle.VerificationConfig {
	if v == nil {
		return nil
	}
	alg := v.Algorithm
	if alg == "" {
		alg = "RS256"
	}
	keys := map[string]*bundle.KeyConfig{v.KeyID: {Key: v.Key, Algorithm: alg, Scope: v.Scope}}
	return bundle.NewVerificationConfig(keys, v.KeyID, v.Scope, v.Exclude)
}

// skipTests keeps _test.rego files out of the serving policy.
func skipTests(abspath string, info fs.FileInfo, _ int) bool {
	return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
}

// loaded is one read of a source, before compilation.
type loaded struct {
	modules  map[string]*ast.Module
	data     map[string]any
	revision string
	hash     string // content hash of modules and data
	etag     string
}

// errNotModified means an HTTP bundle server answered 304.
var errNotModified = errors.New("bundle not modified")

// read fetches and parses the source. etag is the last ETag seen (URL only).
func (s Source) read(ctx context.Context, client *http.Client, maxBytes int64, etag string, verify *Verify) (*loaded, error) {
	var dl bundle.DirectoryLoader
	var newETag string
	switch s.kind {
	case kindFS:
		l, err := bundle.NewFSLoader(s.fsys)
		if err != nil {
			return nil, err
		}
		dl = l
	case kindDir:
		st, err := os.Stat(s.loc)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", s.loc)
		}
		dl = bundle.NewDirectoryLoader(s.loc)
	case kindFile:
		b, err := os.ReadFile(s.loc)
		if err != nil {
			return nil, err
		}
		dl = bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(b), s.loc)
	case kindURL:
		b, tag, err := fetch(ctx, client, s.loc, etag, maxBytes)
		if err != nil {
			return nil, err
		}
		newETag = tag
		dl = bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(b), s.loc)
	default:
		return nil, errors.New("policy source not set")
	}
	dl = dl.WithFilter(skipTests).WithSizeLimitBytes(maxBytes)
	r := bundle.NewCustomReader(dl).
		WithRegoVersion(ast.RegoV1).
		WithBundleEtag(newETag).
		WithSizeLimitBytes(maxBytes)
	if verify != nil && s.kind != kindFS {
		r = r.WithBundleVerificationConfig(verify.config())
	}
	b, err := r.Read()
	if err != nil {
		return nil, err
	}
	if len(b.Modules) == 0 {
		return nil, errors.New("no policy modules found")
	}
	out := &loaded{
		modules:  make(map[string]*ast.Module, len(b.Modules)),
		data:     b.Data,
		revision: b.Manifest.Revision,
		etag:     newETag,
	}
	h := sha256.New()
	mods := slices.Clone(b.Modules)
	slices.SortFunc(mods, func(a, b bundle.ModuleFile) int { return strings.Compare(a.Path, b.Path) })
	for _, m := range mods {
		out.modules[m.Path] = m.Parsed
		h.Write([]byte(m.Path))
		h.Write(m.Raw)
	}
	if dj, err := json.Marshal(b.Data); err == nil { // map keys are sorted
		h.Write(dj)
	}
	out.hash = hex.EncodeToString(h.Sum(nil))
	if out.revision == "" {
		// No manifest revision: name the policy by its content so the audit
		// trail still says which policy decided.
		out.revision = "sha256:" + out.hash[:16]
	}
	return out, nil
}

// fetch GETs a bundle with If-None-Match. It returns errNotModified on 304.
func fetch(ctx context.Context, client *http.Client, url, etag string, maxBytes int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, etag, errNotModified
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(b)) > maxBytes {
		return nil, "", fmt.Errorf("GET %s: bundle larger than %d bytes", url, maxBytes)
	}
	return b, resp.Header.Get("ETag"), nil
}

// mergeData deep-merges override into base (override wins) and returns base.
func mergeData(base, override map[string]any) map[string]any {
	if base == nil {
		base = map[string]any{}
	}
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				base[k] = mergeData(bm, om)
				continue
			}
		}
		base[k] = v
	}
	return base
}
