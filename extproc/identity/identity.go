// Package identity authenticates callers by their Ward key and holds the
// real provider credentials Ward injects upstream, so no application ever
// sees a provider API key.
package identity

import (
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/wardhq/ward/extproc/config"
)

// Caller is who sent a request.
type Caller struct {
	KeyID   string
	Team    string
	App     string
	Profile string // the key's own profile, if set
}

// ErrNoCredential means the request carried no Ward key at all.
var ErrNoCredential = errors.New("no API key: send your Ward key as Authorization: Bearer <key> or x-api-key")

// ErrUnknownKey means the presented key matches no configured hash.
var ErrUnknownKey = errors.New("invalid API key")

// KeyLookup finds a configured key by the SHA-256 of its secret.
type KeyLookup interface {
	KeyByHash(h [32]byte) (*config.Key, bool)
}

// Authenticator maps a presented Ward key to a Caller.
type Authenticator struct {
	keys KeyLookup
}

// NewAuthenticator builds an authenticator over configured key hashes.
func NewAuthenticator(keys KeyLookup) *Authenticator { return &Authenticator{keys: keys} }

// Authenticate checks the credential from `authorization` (Bearer) or
// `x-api-key`. Keys are compared by SHA-256 hash only: the map lookup on a
// fixed-size digest does not leak the key through timing.
func (a *Authenticator) Authenticate(authorization, xAPIKey string) (Caller, error) {
	secret := bearer(authorization)
	if secret == "" {
		secret = strings.TrimSpace(xAPIKey)
	}
	if secret == "" {
		return Caller{}, ErrNoCredential
	}
	k, ok := a.keys.KeyByHash(sha256.Sum256([]byte(secret)))
	if !ok || k.Disabled {
		return Caller{}, ErrUnknownKey
	}
	return Caller{KeyID: k.ID, Team: k.Team, App: k.App, Profile: k.Profile}, nil
}

func bearer(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}
