package extproc

import "testing"

func TestMaskRedactor(t *testing.T) {
	all := []RedactRule{{Type: "*", Mode: "mask"}}
	tests := []struct {
		name, text string
		fs         []Finding
		rules      []RedactRule
		want       string
		wantRuns   int
	}{
		{"one", "SSN 123-45-6789.", []Finding{{Type: "SSN", Start: 4, End: 15}}, all, "SSN [SSN].", 1},
		{"overlap merged, no fragment left", "call 617-555-0142 now", []Finding{{Type: "PHONE", Start: 5, End: 17}, {Type: "ZIP", Start: 9, End: 14}}, all, "call [PHONE] now", 1},
		{"unsorted", "a b", []Finding{{Type: "X", Start: 2, End: 3}, {Type: "Y", Start: 0, End: 1}}, all, "[Y] [X]", 2},
		{"out of range ignored", "abc", []Finding{{Type: "X", Start: 2, End: 9}, {Type: "X", Start: -1, End: 1}}, all, "abc", 0},
		{"rule selects type", "a b", []Finding{{Type: "X", Start: 0, End: 1}, {Type: "Y", Start: 2, End: 3}}, []RedactRule{{Type: "Y"}}, "a [Y]", 1},
		{"nothing selected", "a", []Finding{{Type: "X", Start: 0, End: 1}}, nil, "a", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reds := MaskRedactor{}.Redact(tc.text, tc.fs, tc.rules)
			runs := 0
			for _, r := range reds {
				runs += r.Count
			}
			if got != tc.want || runs != tc.wantRuns {
				t.Fatalf("got %q (%d runs), want %q (%d)", got, runs, tc.want, tc.wantRuns)
			}
		})
	}
}
