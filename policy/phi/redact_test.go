package phi

import (
	"strings"
	"testing"
)

var testKey = []byte("0123456789abcdef-tenant-a")

func TestRedact(t *testing.T) {
	r, err := NewRedactor(RedactorOptions{
		Default: Mask,
		Modes:   map[Type]Mode{SSN: Partial, ZIP: Partial, EMAIL: Pseudonym, DATE: Partial},
		Key:     testKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	text := "Pt John Smith, SSN 078-05-1123, zip IL 62704, zip 03601, a@b.com, DOB 03/14/1931, MRN: 998877"
	got := r.Redact(text, defaultScanner.Scan(text, nil))
	tok := r.Pseudonym(EMAIL, "a@b.com")
	want := "Pt [NAME], SSN ***-**-1123, zip IL 627**, zip 000**, [EMAIL:" + tok + "], DOB [DATE:1931], MRN: [MRN]"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// Pseudonyms are stable across formatting and differ across keys.
	if r.Pseudonym(SSN, "078-05-1123") != r.Pseudonym(SSN, "078 05 1123") {
		t.Error("pseudonym not stable across separators")
	}
	r2, _ := NewRedactor(RedactorOptions{Default: Pseudonym, Key: []byte("another-tenant-key-000")})
	if r.Pseudonym(SSN, "078-05-1123") == r2.Pseudonym(SSN, "078-05-1123") {
		t.Error("pseudonym does not depend on the key")
	}
}

func TestRedactOverlapAndBounds(t *testing.T) {
	r, _ := NewRedactor(RedactorOptions{Default: Partial})
	text := "abc 123456789012 def"
	fs := []Finding{{Type: ACCOUNT_NUMBER, Start: 4, End: 16}, {Type: PHONE, Start: 8, End: 18}, {Type: SSN, Start: -5, End: 1000}}
	if got := r.Redact(text, fs); got != "[SSN]" {
		t.Fatalf("got %q", got)
	}
	fs = fs[:2]
	if got := r.Redact(text, fs); got != "abc [ACCOUNT_NUMBER]ef" {
		t.Fatalf("merged spans must be masked, got %q", got)
	}
}

func TestRedactorOptions(t *testing.T) {
	if _, err := NewRedactor(RedactorOptions{Modes: map[Type]Mode{SSN: Pseudonym, 99: Mask, EMAIL: 9}}); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
	if _, err := ParseMode("blur"); err == nil {
		t.Fatal("want error")
	}
}

var maskRedactor, _ = NewRedactor(RedactorOptions{})

// checkRedaction: masked output contains no detected value, except copies
// that also occur outside every finding in the original.
func checkRedaction(t *testing.T, text string, fs []Finding) {
	t.Helper()
	out := maskRedactor.Redact(text, fs)
	var rest strings.Builder
	pos := 0
	for _, f := range fs {
		rest.WriteString(text[pos:f.Start])
		rest.WriteByte(0)
		pos = f.End
	}
	rest.WriteString(text[pos:])
	for _, f := range fs {
		v := text[f.Start:f.End]
		if len(v) < 4 {
			continue
		}
		if strings.Count(out, v) > strings.Count(rest.String(), v) {
			t.Fatalf("redacted %q still contains %q: %q", text, v, out)
		}
	}
}
