package phi

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

var defaultScanner = MustNew(Options{})

type want struct {
	t     Type
	value string
}

func findAll(text string) []want {
	var out []want
	for _, f := range defaultScanner.Scan(text, nil) {
		out = append(out, want{f.Type, text[f.Start:f.End]})
	}
	return out
}

func TestScan(t *testing.T) {
	tests := []struct {
		text string
		want []want
	}{
		// SSN: SSA rules.
		{"SSN: 078-05-1123 on file", []want{{SSN, "078-05-1123"}}},
		{"ssn 078 05 1123", []want{{SSN, "078 05 1123"}}},
		{"Social security 078051123", []want{{SSN, "078051123"}}},
		{"000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000 078-05-1120", nil},
		{"693-09.4444", nil},
		// ITIN.
		{"ITIN 911-70-1234", []want{{ITIN, "911-70-1234"}}},
		{"911-89-1234", nil},
		// Credit cards: Luhn + IIN, Mastercard 2-series.
		{"card 4111 1111 1111 1111 exp", []want{{CREDIT_CARD, "4111 1111 1111 1111"}}},
		{"2221000000000009", []want{{CREDIT_CARD, "2221000000000009"}}},
		{"378282246310005", []want{{CREDIT_CARD, "378282246310005"}}},
		{"4111111111111112", nil},
		{"9111111111111111", nil},
		// IBAN.
		{"IBAN GB82 WEST 1234 5698 7654 32.", []want{{IBAN, "GB82 WEST 1234 5698 7654 32"}}},
		{"GB82 WEST 1234 5698 7654 33", nil},
		// NPI, DEA, MBI, VIN, ABA.
		{"NPI 1234567893", []want{{NPI, "1234567893"}}},
		{"1234567890", nil},
		{"DEA# AB1234563", []want{{DEA, "AB1234563"}}},
		{"AB1234564", nil},
		{"Medicare 1EG4-TE5-MK73", []want{{MBI, "1EG4-TE5-MK73"}}},
		{"1SG4-TE5-MK73", nil},
		{"VIN 1HGCM82633A004352", []want{{VIN, "1HGCM82633A004352"}}},
		{"1HGCM82633A004353", nil},
		{"routing 121000358", []want{{ABA_ROUTING, "121000358"}}},
		// Phones and fax.
		{"call (415) 555-0132 now", []want{{PHONE, "(415) 555-0132"}}},
		{"Fax: 617-555-0199", []want{{FAX, "617-555-0199"}}},
		{"+44 20 7123 4567", []want{{PHONE, "+44 20 7123 4567"}}},
		{"(123) 555-0132", nil},
		{"call 617-555-0100 x123 or (617) 555-0101 ext. 45", []want{{PHONE, "617-555-0100 x123"}, {PHONE, "(617) 555-0101 ext. 45"}}},
		{"Phone: (99) 645-791", []want{{PHONE, "(99) 645-791"}}},
		{"SSN 078-05-1123x9", nil},
		// Email, URL, IPs.
		{"mail jane.doe+x@example.org.", []want{{EMAIL, "jane.doe+x@example.org"}}},
		{"see https://portal.example.com/a?b=1).", []want{{URL, "https://portal.example.com/a?b=1"}}},
		{"from 10.1.2.3 and 2001:db8::1", []want{{IP_ADDRESS, "10.1.2.3"}, {IP_ADDRESS, "2001:db8::1"}}},
		{"Time 12:34:56, version 1.2.3, std::cout", nil},
		// Dates and ages over 89.
		{"DOB 03/14/1931, seen 2024-01-05", []want{{DATE, "03/14/1931"}, {DATE, "2024-01-05"}}},
		{"admitted 5 May 2021", []want{{DATE, "5 May 2021"}}},
		{"on March 3, 2020", []want{{DATE, "March 3, 2020"}}},
		{"on the 3rd of March 2020 and May 5th", []want{{DATE, "3rd of March 2020"}, {DATE, "May 5th"}}},
		{"a 92-year-old man", []want{{AGE, "92"}}},
		{"a 45-year-old man", nil},
		// Context-driven identifiers.
		{"MRN: 00123456", []want{{MRN, "00123456"}}},
		{"Member ID: XJH448812", []want{{HEALTH_PLAN_ID, "XJH448812"}}},
		{"account number 12345678", []want{{ACCOUNT_NUMBER, "12345678"}}},
		{"passport A12803456", []want{{PASSPORT, "A12803456"}}},
		{"driver's license F16282354", []want{{DRIVER_LICENSE, "F16282354"}}},
		{"device UDI 00614141999996", []want{{DEVICE_ID, "00614141999996"}}},
		{"UDI (01)00614141999996(17)251231(10)A1B2 implanted", []want{{DEVICE_ID, "(01)00614141999996(17)251231(10)A1B2"}}},
		{"(01)00614141999997", nil},
		{"label +H123PROD12341Z", []want{{DEVICE_ID, "+H123PROD12341Z"}}},
		{"+H123PROD12341Y", nil},
		// Names and addresses.
		{"Patient: John Smith was seen", []want{{NAME, "John Smith"}}},
		{"seen by Dr. Maria Garcia today", []want{{NAME, "Maria Garcia"}}},
		{"From: Šárka Ottová\nTo: follow up", []want{{NAME, "Šárka Ottová"}}},
		{"Lives at 42 Elm Street, Springfield, IL 62704", []want{{ADDRESS, "42 Elm Street, Springfield, IL"}, {ZIP, "62704"}}},
		{"42 Elm Street\n  Apt. 4B", []want{{ADDRESS, "42 Elm Street\n  Apt. 4B"}}},
		{"send to P.O. Box 149 or Suite 377", []want{{ADDRESS, "P.O. Box 149"}, {ADDRESS, "Suite 377"}}},
		{"PSC 3294, Box 9168", []want{{ADDRESS, "PSC 3294, Box 9168"}}},
		{"Box 12 of the kit", nil},
		// Clean clinical text.
		{"Patient presents with chest pain, BP 120/80, HR 72, given 325 mg aspirin.", nil},
		{"", nil},
	}
	for _, tc := range tests {
		got := findAll(tc.text)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Scan(%q)\n got %v\nwant %v", tc.text, got, tc.want)
		}
	}
}

// TestEvasion: invisible characters, fullwidth digits and Unicode dashes
// do not hide an identifier, and spans point into the original text.
func TestEvasion(t *testing.T) {
	tests := []struct{ text, value string }{
		{"SSN 078\u200b-05-\u200d1123", "078\u200b-05-\u200d1123"},
		{"SSN ０７８－０５－１１２３", "０７８－０５－１１２３"},
		{"SSN 078\u201105\u20111123", "078\u201105\u20111123"},
		{"card 4111\u00a01111\u00a01111\u00a01111", "4111\u00a01111\u00a01111\u00a01111"},
		{"SSN \u0660\u0667\u0668-05-1123", "\u0660\u0667\u0668-05-1123"},
		{"SSN 078 - 05 - 1123", "078 - 05 - 1123"},
		{"card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ok", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"},
		{"SSN 0.7.8.0.5.1.1.2.3", "0.7.8.0.5.1.1.2.3"},
	}
	for _, tc := range tests {
		fs := defaultScanner.Scan(tc.text, nil)
		if len(fs) != 1 || tc.text[fs[0].Start:fs[0].End] != tc.value {
			t.Errorf("Scan(%q) = %v, want one finding %q", tc.text, fs, tc.value)
		}
	}
}

func TestCodePointOffsets(t *testing.T) {
	text := "Né à Zürich, SSN 078-05-1123 ok"
	fs := defaultScanner.Scan(text, nil)
	CodePointOffsets(text, fs)
	if len(fs) != 1 || string([]rune(text)[fs[0].Start:fs[0].End]) != "078-05-1123" {
		t.Fatalf("got %v", fs)
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(Options{Types: []Type{99}, MinScore: 2, MaxSegment: 3}); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
	s := MustNew(Options{Types: []Type{EMAIL}})
	if fs := s.Scan("a@b.com 078-05-1123", nil); len(fs) != 1 || fs[0].Type != EMAIL {
		t.Fatalf("got %v", fs)
	}
	for _, ty := range AllTypes() {
		if got, ok := ParseType(ty.String()); !ok || got != ty {
			t.Errorf("ParseType(%s) = %v", ty, got)
		}
	}
}

func TestBadInput(t *testing.T) {
	inputs := []string{
		strings.Repeat("1", 1_000_000),
		strings.Repeat("1 ", 200_000),
		strings.Repeat("a@", 100_000),
		strings.Repeat("::", 100_000),
		strings.Repeat("\xff\xfe", 100_000),
		strings.Repeat("Dr. ", 100_000),
		strings.Repeat("4111-", 100_000),
		strings.Repeat("\u200b", 100_000),
	}
	for _, in := range inputs {
		checkInvariants(t, in, defaultScanner.Scan(in, nil))
	}
}

func checkInvariants(t *testing.T, text string, fs []Finding) {
	t.Helper()
	// Rune boundaries as Go decodes them (an invalid byte is one rune).
	boundary := make([]bool, len(text)+1)
	for i := range text {
		boundary[i] = true
	}
	boundary[len(text)] = true
	prevEnd := 0
	for _, f := range fs {
		if f.Start < prevEnd || f.End <= f.Start || f.End > len(text) {
			t.Fatalf("bad span %+v (prev end %d, len %d)", f, prevEnd, len(text))
		}
		if !boundary[f.Start] || !boundary[f.End] {
			t.Fatalf("span %+v not on rune boundaries", f)
		}
		if f.Type == TypeInvalid || f.Type >= numTypes || f.Score <= 0 || f.Score > 1 {
			t.Fatalf("bad finding %+v", f)
		}
		prevEnd = f.End
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{"SSN 078-05-1123", "4111 1111 1111 1111", "::ffff:1.2.3.4", "Dr. John Smith",
		"０７８－０５－１１２３", "GB82 WEST 1234 5698 7654 32", "a@b.co", "http://x.com/", "5-May-2021", "\xff1\u200b2",
		"41086 Kiannonkatu 98\n Suite 464\n OULU\n Finland 80896", "Kevin, Ánna and Derek's", "Where: Ürümqi (X",
		"10252 Μεγάλη Άμμος 184, ΠΑΦΟΣ", "flew to New Zealand on Monday in 1977", "A B. C D, E F and G Orchestra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fs := defaultScanner.Scan(text, nil)
		checkInvariants(t, text, fs)
		checkRedaction(t, text, fs)
		if ref := scanReference(defaultScanner, text); !slices.Equal(fs, ref) {
			t.Fatalf("Scan %v, reference resolution %v", fs, ref)
		}
	})
}

// scanReference resolves overlaps the plain way (sort all candidates by
// rank, keep each that overlaps none kept so far, sort by Start): Scan's
// fast paths must find exactly the same.
func scanReference(s *Scanner, text string) []Finding {
	var dst []Finding
	st := &state{}
	for p := 0; p < len(text); {
		e := segmentEnd(text, p, s.maxSeg)
		st.v.build(text[p:e])
		st.cands = st.cands[:0]
		st.ctx.n = 0
		st.run()
		c := st.cands
		slices.SortFunc(c, func(a, b cand) int {
			switch {
			case a.score != b.score:
				if a.score > b.score {
					return -1
				}
				return 1
			case a.end-a.start != b.end-b.start:
				return (b.end - b.start) - (a.end - a.start)
			}
			return a.start - b.start
		})
		first := len(dst)
		for _, x := range c {
			if !s.enabled[x.t] || x.score < s.minScore {
				continue
			}
			f := Finding{Type: x.t, Start: p + st.v.origStart(x.start), End: p + st.v.origEnd(x.end), Score: x.score}
			overlap := false
			for _, y := range dst[first:] {
				if f.Start < y.End && y.Start < f.End {
					overlap = true
					break
				}
			}
			if !overlap {
				dst = append(dst, f)
			}
		}
		slices.SortFunc(dst[first:], func(a, b Finding) int { return a.Start - b.Start })
		p = e
	}
	return dst
}

// The benchmark texts resolve as the reference does (the dense one takes
// the disjoint fast path, the fuzz seeds mostly the general one).
func TestScanMatchesReference(t *testing.T) {
	for _, text := range []string{cleanClinical, strings.Repeat(denseIdentifiers, 8),
		"Dr. John Smith, SSN 078-05-1123, 4111 1111 1111 1111 and 5-May-2021 on Monday"} {
		if fs, ref := defaultScanner.Scan(text, nil), scanReference(defaultScanner, text); !slices.Equal(fs, ref) {
			t.Errorf("Scan %v\nreference %v", fs, ref)
		}
	}
}

// The clean path allocates nothing (ASCII and non-ASCII text).
func TestScanCleanAllocatesNothing(t *testing.T) {
	dst := make([]Finding, 0, 8)
	for _, text := range []string{cleanClinical, "Le patient présente une douleur thoracique à l'effort."} {
		defaultScanner.Scan(text, dst) // warm the pool and the NFKC table
		if n := testing.AllocsPerRun(20, func() { defaultScanner.Scan(text, dst[:0]) }); n != 0 {
			t.Errorf("%.1f allocations per clean Scan of %q", n, text[:20])
		}
	}
}

// Segments: a long line is cut at a word boundary and detection still
// works on both sides; blank lines end segments.
func TestSegments(t *testing.T) {
	line := strings.Repeat("word ", 200) + "SSN 078-05-1123 " + strings.Repeat("more words ", 100)
	for p := 0; p < len(line); {
		e := segmentEnd(line, p, DefaultMaxSegment)
		if e <= p || e-p > DefaultMaxSegment {
			t.Fatalf("segment [%d,%d)", p, e)
		}
		if e < len(line) && line[e-1] != ' ' {
			t.Fatalf("cut inside a word at %d", e)
		}
		p = e
	}
	if got := findAll(line); len(got) != 1 || got[0].t != SSN {
		t.Fatalf("got %v", got)
	}
	if e := segmentEnd("a\n\nb", 0, 512); e != 3 {
		t.Fatalf("blank line cut at %d", e)
	}
}
