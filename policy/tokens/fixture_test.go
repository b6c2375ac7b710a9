package tokens

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const fixtureDir = "../../test/tokens/testdata"

type corpusText struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

func loadCorpus(t testing.TB) []corpusText {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, "corpus.jsonl"))
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	defer f.Close()
	var out []corpusText
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var c corpusText
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("corpus line %d: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCountMatchesNPMTiktokenFixture checks every corpus text against the
// counts OpenAI's own tokenizer (npm tiktoken, Rust compiled to WASM)
// produced; regenerate with `make -C test/tokens reference` (needs node).
func TestCountMatchesNPMTiktokenFixture(t *testing.T) {
	corpus := loadCorpus(t)
	f, err := os.Open(filepath.Join(fixtureDir, "reference.jsonl"))
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	defer f.Close()
	want := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		if header { // {"generator": ..., "version": ...}
			header = false
			continue
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		var id string
		if err := json.Unmarshal(rec["id"], &id); err != nil {
			t.Fatal(err)
		}
		want[id] = map[string]int{}
		for _, name := range encodingNames {
			var n int
			if err := json.Unmarshal(rec[name], &n); err != nil {
				t.Fatalf("%s %s: %v", id, name, err)
			}
			want[id][name] = n
		}
	}
	if len(want) != len(corpus) || len(corpus) < 200 {
		t.Fatalf("fixture has %d counts for %d corpus texts", len(want), len(corpus))
	}
	for _, name := range encodingNames {
		enc := mustEncoding(t, name)
		for _, c := range corpus {
			w, ok := want[c.ID][name]
			if !ok {
				t.Fatalf("no reference count for %s", c.ID)
			}
			if got := enc.Count(c.Text); got != w {
				t.Errorf("%s %s: Count = %d, npm tiktoken = %d", name, c.ID, got, w)
			}
		}
	}
}

// TestCountMatchesTiktokenGoCorpus is the differential test on the whole
// corpus against tiktoken-go's EncodeOrdinary.
func TestCountMatchesTiktokenGoCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	for _, name := range encodingNames {
		enc, ref := mustEncoding(t, name), reference(t, name)
		for _, c := range corpus {
			want := len(ref.EncodeOrdinary(c.Text))
			if got := enc.Count(c.Text); got != want {
				t.Errorf("%s %s: Count = %d, tiktoken-go = %d", name, c.ID, got, want)
			}
		}
	}
}
