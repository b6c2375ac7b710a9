package tokens

import (
	"strings"
	"sync"
	"testing"

	tiktoken "github.com/pkoukk/tiktoken-go"
)

var (
	refMu    sync.Mutex
	refCache = map[string]*tiktoken.Tiktoken{}
)

// reference returns tiktoken-go's encoder (offline ranks) for name.
func reference(t testing.TB, name string) *tiktoken.Tiktoken {
	t.Helper()
	refMu.Lock()
	defer refMu.Unlock()
	if r, ok := refCache[name]; ok {
		return r
	}
	r, err := tiktoken.GetEncoding(name)
	if err != nil {
		t.Fatalf("tiktoken-go %s: %v", name, err)
	}
	refCache[name] = r
	return r
}

func mustEncoding(t testing.TB, name string) *Encoding {
	t.Helper()
	e, err := GetEncoding(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var encodingNames = []string{O200KBase, CL100KBase}

// edgeCases exercise each regex alternative and its backtracking.
var edgeCases = []string{
	"", "a", " ", "  ", "\n", "\r\n", " \n ", "hello world", "Hello, World!",
	"I'm you're we've he'll she'd it's THEY'RE I'M 'S 'sam 'x",
	"  leading", "trailing  ", "mid   spaces  here", "\t\ttab\tseparated",
	"line1\nline2\r\n\r\nline3\n\n\n  indented", " \n\n \t x", "a \n b",
	"123 4567 1234567890 ½ ¾ ① Ⅻ", "3.14159 -42 +7e10 0x1F",
	"path/to/file.go //comment /*c*/ \n/\n//\n", "!!! ??? ... --- ***\n\n",
	" !x", " !", "!\n\r\n/", "emoji 😀👍🏽👨‍👩‍👧 flags 🇺🇸🇫🇷",
	"日本語のテキスト。中文文本，한국어 텍스트", "Ελληνικά Русский текст العربية עברית",
	"e\u0301 \u0301 \u0301\u0301a A\u0301B ÉCOLE école ǅungla ʰello ˢtuff",
	"ABCdef ABC DEF aBC HTTPServer XMLHttpRequest iPhone McDonald's O'NEIL'S",
	"ABC'S ABC'll a'b", "\u00a0nbsp\u3000ideographic\u2028sep\u0085nel",
	"\u200bzero\ufeffwidth", "<|endoftext|> <|fim_prefix|>",
	strings.Repeat(" ", 200), strings.Repeat("\n", 100) + "x", strings.Repeat("ab", 300),
	strings.Repeat("=", 1000), strings.Repeat("😀", 100), strings.Repeat(" \t", 100) + "x",
	"\xff\xfe invalid \xc3 utf8 \xe2\x82", "'ſ 'ſtuff K",
}

func TestCountMatchesTiktokenGoEdgeCases(t *testing.T) {
	for _, name := range encodingNames {
		enc, ref := mustEncoding(t, name), reference(t, name)
		for _, s := range edgeCases {
			want := len(ref.EncodeOrdinary(s))
			if got := enc.Count(s); got != want {
				t.Errorf("%s Count(%q) = %d, tiktoken-go = %d", name, s, got, want)
			}
		}
	}
}
