package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/extproc/config"
)

func cfgWithKey(t *testing.T, key string, disabled bool) *config.Config {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	c, err := config.Parse([]byte(fmt.Sprintf(`
server: {grpc_addr: ":1"}
keys: [{id: k1, sha256: %s, team: t1, app: a1, disabled: %v}]
profiles: {clinical: {}}
default_profile: clinical
`, hex.EncodeToString(sum[:]), disabled)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	a := NewAuthenticator(cfgWithKey(t, "secret-1", false))
	tests := []struct {
		name, authz, xkey string
		wantErr           error
	}{
		{"bearer", "Bearer secret-1", "", nil},
		{"bearer lowercase scheme", "bearer secret-1", "", nil},
		{"x-api-key", "", "secret-1", nil},
		{"missing", "", "", ErrNoCredential},
		{"wrong", "Bearer secret-2", "", ErrUnknownKey},
		{"basic auth is not a ward key", "Basic c2VjcmV0LTE=", "", ErrNoCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := a.Authenticate(tc.authz, tc.xkey)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && (c.Team != "t1" || c.App != "a1" || c.KeyID != "k1") {
				t.Fatalf("caller %+v", c)
			}
		})
	}
	if _, err := NewAuthenticator(cfgWithKey(t, "secret-1", true)).Authenticate("Bearer secret-1", ""); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("disabled key accepted: %v", err)
	}
}

func TestKeyStoreReloadsFileAndNeverPrints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "openai")
	os.WriteFile(path, []byte("sk-one\n"), 0o600)
	ks, err := NewKeyStore(map[string]config.Provider{
		"openai": {Dialect: "openai", AuthHeader: "authorization", KeyFile: path},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ks.Get("openai")
	if k.HeaderValue() != "Bearer sk-one" {
		t.Fatalf("got %q", k.HeaderValue())
	}
	if s := fmt.Sprintf("%v %+v %#v %s", k.Secret, k, k.Secret, k.Secret); strings.Contains(s, "sk-one") {
		t.Fatalf("secret leaked through fmt: %s", s)
	}
	// Rotate the key (as a Kubernetes secret update would).
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(path, []byte("sk-two-longer\n"), 0o600)
	if err := ks.Refresh(); err != nil {
		t.Fatal(err)
	}
	k, _ = ks.Get("openai")
	if k.Secret.Reveal() != "sk-two-longer" {
		t.Fatalf("not reloaded: %q", k.Secret.Reveal())
	}
	// A broken update keeps the last good key.
	os.WriteFile(path, nil, 0o600)
	if err := ks.Refresh(); err == nil {
		t.Fatal("empty key file must be reported")
	}
	if k, _ = ks.Get("openai"); k.Secret.Reveal() != "sk-two-longer" {
		t.Fatal("last good key lost")
	}
	if _, err := ks.Get("anthropic"); !errors.Is(err, ErrNoProviderKey) {
		t.Fatalf("unconfigured provider: %v", err)
	}
}

func TestKeyStoreMissingFileFailsStartup(t *testing.T) {
	_, err := NewKeyStore(map[string]config.Provider{"openai": {KeyFile: "/nonexistent/key"}}, nil)
	if err == nil {
		t.Fatal("missing key file must fail start-up")
	}
}
