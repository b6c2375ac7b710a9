// Package tokens counts LLM tokens exactly as OpenAI's tokenizers do, fast
// enough for the request path, estimates Anthropic counts, and prices usage.
//
// Counting uses tiktoken-go's own BPE ranks (loaded from the embedded
// offline files, never the network) with a hand-written pre-tokenizer and a
// count-only merge; see docs/tokens.md for the design and its proofs of
// equivalence (differential tests and fuzzing against tiktoken-go, and a
// fixture of reference counts produced by OpenAI's npm tiktoken).
package tokens

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding names Ward supports.
const (
	O200KBase  = "o200k_base"
	CL100KBase = "cl100k_base"
)

func init() {
	// tiktoken-go defaults to downloading rank files; Ward never touches the
	// network at run time.
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
}

// Encoding is a loaded BPE vocabulary with its pre-tokenizer. It is safe for
// concurrent use.
type Encoding struct {
	name  string
	ranks *rankTable
	// pairs holds the rank of every two-byte string: the first round of
	// every merge looks only these up.
	pairs *[1 << 16]int32
	next  func(s string, i int) int
}

var (
	encMu    sync.Mutex
	encCache = map[string]*Encoding{}
)

// GetEncoding loads (once per process) and returns the named encoding.
func GetEncoding(name string) (*Encoding, error) {
	encMu.Lock()
	defer encMu.Unlock()
	if e, ok := encCache[name]; ok {
		return e, nil
	}
	var next func(string, int) int
	switch name {
	case O200KBase:
		next = nextO200K
	case CL100KBase:
		next = nextCL100K
	default:
		return nil, fmt.Errorf("tokens: unsupported encoding %q (want %s or %s)", name, O200KBase, CL100KBase)
	}
	// The same files and loader tiktoken-go itself uses offline.
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(name + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("tokens: load %s ranks: %w", name, err)
	}
	initClasses()
	e := &Encoding{name: name, ranks: newRankTable(ranks), pairs: new([1 << 16]int32), next: next}
	for i := range e.pairs {
		e.pairs[i] = e.ranks.get(string([]byte{byte(i >> 8), byte(i)}))
	}
	encCache[name] = e
	return e, nil
}

// Name returns the encoding name, e.g. "o200k_base".
func (e *Encoding) Name() string { return e.name }

// Count returns the number of tokens tiktoken's encode_ordinary would
// produce for text (special-token strings such as "<|endoftext|>" count as
// ordinary text, as the OpenAI API treats user content). Invalid UTF-8 is
// first replaced byte by byte with U+FFFD, which is what tiktoken-go sees
// after its []rune conversion; valid input is counted without allocating.
func (e *Encoding) Count(text string) int {
	if !utf8.ValidString(text) {
		text = sanitize(text)
	}
	n := 0
	for i := 0; i < len(text); {
		j := e.next(text, i)
		n += e.countPiece(text[i:j])
		i = j
	}
	return n
}

// Pieces calls fn with each pre-tokenizer piece of valid UTF-8 text; for
// tests and debugging.
func (e *Encoding) Pieces(text string, fn func(piece string)) {
	for i := 0; i < len(text); {
		j := e.next(text, i)
		fn(text[i:j])
		i = j
	}
}

// sanitize replaces every invalid byte with U+FFFD, matching Go's []rune
// conversion (one replacement per invalid byte, unlike strings.ToValidUTF8).
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
