package extproc

import "testing"

// TestWindowFromStartsAtAWord checks output.window's start: window
// characters before the last check point (a digit run counting once), then
// back to the start of the word, so "mistake" is never cut to "take".
func TestWindowFromStartsAtAWord(t *testing.T) {
	tests := []struct {
		text    string
		checked int
		window  int
		want    string
	}{
		{"abc mistake 2 tablets", len("abc mistake 2"), 6, "mistake 2 tablets"},
		{"abc mistake 2 tablets", len("abc mistake 2"), 2, "mistake 2 tablets"}, // starts after a word: back over it too
		{"abc mistake  2 tablets", len("abc mistake  2"), 2, " 2 tablets"},
		{"take 1234567890 mg daily", len("take 1234567890 mg"), 5, "take 1234567890 mg daily"},
		{"snake_case_take 2", len("snake_case_take"), 3, "snake_case_take 2"},
		{"é take 2", len("é take"), 5, " take 2"},
		{"short", 0, 64, "short"},
	}
	for _, tc := range tests {
		s := newTriggerScan([]string{"take"}, tc.window)
		s.checked = []int{tc.checked}
		if got := tc.text[s.windowFrom(0, []byte(tc.text)):]; got != tc.want {
			t.Errorf("%q checked %d window %d: got %q, want %q", tc.text, tc.checked, tc.window, got, tc.want)
		}
	}
}
