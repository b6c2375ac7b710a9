package tokens

import (
	"sort"
	"strings"
)

// modelTable maps model names to values by exact name or family prefix: a
// key matches a model equal to it or starting with it followed by '-', '.',
// ':' or '@' (so "gpt-4" matches "gpt-4-0613" but not "gpt-4o"); the longest
// matching key wins. A provider prefix ("openai/gpt-4o") is ignored.
type modelTable[V any] struct {
	keys []string // longest first
	vals map[string]V
}

func newModelTable[V any](m map[string]V) modelTable[V] {
	t := modelTable[V]{vals: make(map[string]V, len(m))}
	for k, v := range m {
		k = normaliseModel(k)
		t.vals[k] = v
		t.keys = append(t.keys, k)
	}
	sort.Slice(t.keys, func(i, j int) bool {
		if len(t.keys[i]) != len(t.keys[j]) {
			return len(t.keys[i]) > len(t.keys[j])
		}
		return t.keys[i] < t.keys[j]
	})
	return t
}

func normaliseModel(m string) string {
	m = strings.ToLower(strings.TrimSpace(m))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	return m
}

// lookup returns the value for model and the key that matched.
func (t modelTable[V]) lookup(model string) (V, string, bool) {
	model = normaliseModel(model)
	if v, ok := t.vals[model]; ok {
		return v, model, true
	}
	for _, k := range t.keys {
		if len(model) > len(k) && strings.HasPrefix(model, k) {
			switch model[len(k)] {
			case '-', '.', ':', '@':
				return t.vals[k], k, true
			}
		}
	}
	var zero V
	return zero, "", false
}

// DefaultModelEncodings is the built-in model family → encoding table
// (from OpenAI's tiktoken model.py). Config entries are merged over it.
var DefaultModelEncodings = map[string]string{
	"gpt-5":                  O200KBase,
	"gpt-4.5":                O200KBase,
	"gpt-4.1":                O200KBase,
	"gpt-4o":                 O200KBase,
	"chatgpt-4o":             O200KBase,
	"o1":                     O200KBase,
	"o3":                     O200KBase,
	"o4":                     O200KBase,
	"gpt-4":                  CL100KBase,
	"gpt-3.5-turbo":          CL100KBase,
	"gpt-3.5":                CL100KBase,
	"gpt-35-turbo":           CL100KBase, // Azure spelling
	"text-embedding-3-small": CL100KBase,
	"text-embedding-3-large": CL100KBase,
	"text-embedding-ada-002": CL100KBase,
}
