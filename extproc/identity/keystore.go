package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardhq/ward/extproc/config"
)

// Secret is a credential value that never prints itself.
type Secret struct{ v string }

// String hides the value from logs and fmt.
func (Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "[redacted]" }

// Reveal returns the value for the one place that needs it: the upstream
// header.
func (s Secret) Reveal() string { return s.v }

// ProviderKey is a provider credential and where to put it.
type ProviderKey struct {
	Provider   string
	AuthHeader string // authorization, x-api-key or api-key
	Secret     Secret
}

// HeaderValue renders the credential for AuthHeader.
func (k ProviderKey) HeaderValue() string {
	if k.AuthHeader == "authorization" {
		return "Bearer " + k.Secret.v
	}
	return k.Secret.v
}

// ErrNoProviderKey means a provider is configured but its key is unset.
var ErrNoProviderKey = errors.New("provider key not configured")

type keySource struct {
	name    string
	cfg     config.Provider
	modTime time.Time
	size    int64
}

// KeyStore holds provider keys, reading files (e.g. mounted Kubernetes
// secrets) or env vars, and re-reading files when they change. Lookups are
// lock-free: a refresh swaps an immutable map.
type KeyStore struct {
	keys    atomic.Pointer[map[string]ProviderKey]
	mu      sync.Mutex // serialises refresh
	sources []*keySource
	log     *slog.Logger
	getenv  func(string) string
}

// NewKeyStore loads every provider key once. A missing file is an error
// at start-up: better to refuse to start than to fail every request.
func NewKeyStore(providers map[string]config.Provider, log *slog.Logger) (*KeyStore, error) {
	ks := &KeyStore{log: log, getenv: os.Getenv}
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ks.sources = append(ks.sources, &keySource{name: n, cfg: providers[n]})
	}
	if err := ks.Refresh(); err != nil {
		return nil, err
	}
	return ks, nil
}

// Get returns the key for a provider.
func (ks *KeyStore) Get(provider string) (ProviderKey, error) {
	m := ks.keys.Load()
	k, ok := (*m)[provider]
	if !ok {
		return ProviderKey{}, fmt.Errorf("%w: %q", ErrNoProviderKey, provider)
	}
	return k, nil
}

// Refresh re-reads changed key files. Errors leave the previous key in
// place (a half-written secret must not replace a good one).
func (ks *KeyStore) Refresh() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	next := map[string]ProviderKey{}
	if old := ks.keys.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	var errs []error
	changed := ks.keys.Load() == nil
	for _, s := range ks.sources {
		var val string
		switch {
		case s.cfg.KeyFile != "":
			st, err := os.Stat(s.cfg.KeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("providers.%s.key_file: %w", s.name, err))
				continue
			}
			if st.ModTime().Equal(s.modTime) && st.Size() == s.size {
				continue
			}
			b, err := os.ReadFile(s.cfg.KeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("providers.%s.key_file: %w", s.name, err))
				continue
			}
			val = string(bytes.TrimSpace(b))
			if val == "" {
				errs = append(errs, fmt.Errorf("providers.%s.key_file: %s is empty", s.name, s.cfg.KeyFile))
				continue
			}
			s.modTime, s.size = st.ModTime(), st.Size()
			if ks.log != nil && ks.keys.Load() != nil {
				ks.log.Info("provider key reloaded", "provider", s.name)
			}
		case s.cfg.KeyEnv != "":
			val = ks.getenv(s.cfg.KeyEnv)
			if val == "" {
				// Not an error: a provider may be configured but unused
				// (requests routed to it fail with a clear 502).
				delete(next, s.name)
				continue
			}
		default:
			continue
		}
		next[s.name] = ProviderKey{Provider: s.name, AuthHeader: s.cfg.AuthHeader, Secret: Secret{val}}
		changed = true
	}
	if changed {
		ks.keys.Store(&next)
	}
	return errors.Join(errs...)
}

// Watch re-reads key files every interval until ctx ends. Polling works
// with Kubernetes' atomic symlink swaps, where inotify on the file misses
// updates.
func (ks *KeyStore) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ks.Refresh(); err != nil && ks.log != nil {
				ks.log.Warn("provider key refresh failed; keeping previous key", "error", err)
			}
		}
	}
}
