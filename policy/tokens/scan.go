package tokens

// The scanners below replace the encodings' pre-tokenizer regular
// expressions. Each returns the end of the piece that starts at i, exactly
// where a leftmost-first (backtracking) engine would end the match of the
// whole alternation. Comments quote the alternative being emulated.

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i and returns its
// length in bytes, or 0. Case folding is ASCII-only, as in regexp2 (see
// docs/tokens.md for the one Unicode fold, U+017F, where engines differ).
func contraction(s string, i int) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	switch s[i+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && s[i+2]|0x20 == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && s[i+2]|0x20 == 'l' {
			return 3
		}
	}
	return 0
}

// whitespaceEnd handles the trailing whitespace alternatives shared by both
// encodings, for a piece starting at whitespace i:
//
//	\s*[\r\n]+ | \s+(?!\S) | \s+
func whitespaceEnd(s string, i int) int {
	lastNL, lastStart := -1, i
	j := i
	for j < len(s) {
		c, n := classAt(s, j)
		if c&cWS == 0 {
			break
		}
		if c&cNL != 0 {
			lastNL = j
		}
		lastStart = j
		j += n
	}
	switch {
	case lastNL >= 0: // \s*[\r\n]+ ends after the run's last newline
		return lastNL + 1
	case j == len(s): // \s+(?!\S) at end of text takes the whole run
		return j
	case lastStart > i: // \s+(?!\S) backs off one rune before \S
		return lastStart
	default: // \s+
		return j
	}
}

// punctEnd matches " ?[^\s\p{L}\p{N}]+" followed by trailing characters
// from tail (cl100k: [\r\n]*, o200k: [\r\n/]*) at i, or returns -1.
func punctEnd(s string, i int, slash bool) int {
	j := i
	if s[i] == ' ' {
		j++
	}
	if j >= len(s) {
		return -1
	}
	if c, _ := classAt(s, j); c&(cWS|cL|cN) != 0 {
		return -1
	}
	j = runEndNot(s, j, cWS|cL|cN)
	for j < len(s) && (s[j] == '\r' || s[j] == '\n' || (slash && s[j] == '/')) {
		j++
	}
	return j
}

// runEndNot returns the end of the run of runes from i whose class does not
// intersect mask.
func runEndNot(s string, i int, mask uint8) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c&mask != 0 {
			return i
		}
		i += n
	}
	return i
}

// digitsEnd matches \p{N}{1,3} at i (the rune at i is known to be \p{N}).
func digitsEnd(s string, i int) int {
	for k := 0; k < 3 && i < len(s); k++ {
		c, n := classAt(s, i)
		if c&cN == 0 {
			break
		}
		i += n
	}
	return i
}

// nextCL100K emulates cl100k_base's pattern:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func nextCL100K(s string, i int) int {
	if n := contraction(s, i); n > 0 {
		return i + n
	}
	c0, n0 := classAt(s, i)
	if c0&cL != 0 {
		return runEnd(s, i+n0, cL)
	}
	if c0&(cNL|cN) == 0 && i+n0 < len(s) {
		if c1, n1 := classAt(s, i+n0); c1&cL != 0 {
			return runEnd(s, i+n0+n1, cL)
		}
	}
	if c0&cN != 0 {
		return digitsEnd(s, i)
	}
	if e := punctEnd(s, i, false); e > 0 {
		return e
	}
	return whitespaceEnd(s, i)
}

// o200kWord tries, from j, the first alternative of o200k_base
// ([\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ then an
// optional contraction) and, if allowSecond, the second
// ([\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*). It returns
// the match end or -1.
func o200kWord(s string, j int, allowSecond bool) int {
	// U* greedily, remembering the last rune that is also in W: that is
	// where backtracking would restart W+ if the run is not followed by W.
	k, lastBothEnd := j, -1
	for k < len(s) {
		c, n := classAt(s, k)
		if c&cU == 0 {
			break
		}
		k += n
		if c&cW != 0 {
			lastBothEnd = k
		}
	}
	if k < len(s) {
		if c, _ := classAt(s, k); c&cW != 0 {
			e := runEnd(s, k, cW)
			return e + contraction(s, e)
		}
	}
	if lastBothEnd >= 0 {
		return lastBothEnd + contraction(s, lastBothEnd)
	}
	if allowSecond && k > j {
		// Second alternative: U+ then W*; the rune at k is not in W here.
		return k + contraction(s, k)
	}
	return -1
}

// nextO200K emulates o200k_base's pattern:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
func nextO200K(s string, i int) int {
	c0, n0 := classAt(s, i)
	prefix := c0&(cNL|cL|cN) == 0 && i+n0 < len(s)
	switch {
	case c0&(cU|cW) != 0 && prefix:
		// A mark: first alternative with the mark as prefix, then without
		// (which always matches, the mark itself being in both classes).
		if e := o200kWord(s, i+n0, false); e >= 0 {
			return e
		}
		return o200kWord(s, i, true)
	case c0&(cU|cW) != 0:
		return o200kWord(s, i, true)
	case prefix:
		if e := o200kWord(s, i+n0, true); e >= 0 {
			return e
		}
	}
	if c0&cN != 0 {
		return digitsEnd(s, i)
	}
	if e := punctEnd(s, i, true); e > 0 {
		return e
	}
	return whitespaceEnd(s, i)
}
