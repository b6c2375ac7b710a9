package injection

import (
	"encoding/base64"
	"encoding/hex"
	"unicode/utf8"
)

// Payload is a decoded run of base64 or hex found in a text.
type Payload struct {
	Kind string // "base64" or "hex"
	Text string
}

const (
	clB64 uint8 = 1 << iota // base64 (std or url alphabet, '=' padding)
	clHex
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isASCIILetter(b) || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '-' || b == '_' || b == '=' {
			t[c] |= clB64
		}
		if b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			t[c] |= clHex
		}
	}
	return t
}()

// minEncodedRun is the shortest run worth decoding: 16 base64 characters
// carry 12 bytes, enough for "ignore rules".
const minEncodedRun = 16

// Decode returns the base64 / hex runs of s that decode to readable text,
// decoding at most maxBytes in total. It runs in linear time and never
// panics; callers rescan the payloads with a depth bound.
func Decode(s string, maxBytes int) []Payload {
	var out []Payload
	decodeEach(s, &maxBytes, func(p Payload) { out = append(out, p) })
	return out
}

// decodeEach calls fn for each readable payload; *budget is the number of
// decoded bytes still allowed and is decremented.
func decodeEach(s string, budget *int, fn func(Payload)) {
	for i := 0; i < len(s) && *budget > 0; {
		// A run of >= minEncodedRun bytes starting in [i, i+minEncodedRun)
		// covers byte i+minEncodedRun-1: if that byte cannot be part of a
		// run, skip the whole window (most ordinary text is skipped here).
		if k := i + minEncodedRun - 1; k >= len(s) {
			break
		} else if charClass[s[k]]&clB64 == 0 {
			i = k + 1
			continue
		} else {
			for k > i && charClass[s[k-1]]&clB64 != 0 {
				k--
			}
			i = k
		}
		j, allHex, letters, digits := i, true, 0, 0
		for j < len(s) && charClass[s[j]]&clB64 != 0 {
			c := s[j]
			if charClass[c]&clHex == 0 {
				allHex = false
			}
			if c >= '0' && c <= '9' {
				digits++
			} else if isASCIILetter(c) {
				letters++
			}
			j++
		}
		run := s[i:j]
		i = j
		if len(run) < minEncodedRun {
			continue
		}
		// Plain long words ("internationalisation") and URLs paths are
		// cheap to reject: real payloads mix digits or cases.
		if digits == 0 && !mixedCase(run) {
			continue
		}
		if allHex && len(run)%2 == 0 && digits > 0 {
			if p, ok := decodeHex(run, budget); ok {
				fn(Payload{Kind: "hex", Text: p})
				continue
			}
		}
		if p, ok := decodeBase64(run, budget); ok {
			fn(Payload{Kind: "base64", Text: p})
		}
	}
}

func mixedCase(s string) bool {
	up, lo := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		up = up || c >= 'A' && c <= 'Z'
		lo = lo || c >= 'a' && c <= 'z'
	}
	return up && lo
}

func decodeHex(run string, budget *int) (string, bool) {
	if max := *budget * 2; len(run) > max {
		run = run[:max&^1]
	}
	b, err := hex.DecodeString(run)
	if err != nil {
		return "", false
	}
	*budget -= len(b)
	return string(b), readable(b)
}

func decodeBase64(run string, budget *int) (string, bool) {
	for len(run) > 0 && run[len(run)-1] == '=' {
		run = run[:len(run)-1]
	}
	if max := *budget / 3 * 4; len(run) > max {
		run = run[:max]
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	enc := base64.RawStdEncoding
	for i := 0; i < len(run); i++ {
		if run[i] == '-' || run[i] == '_' {
			enc = base64.RawURLEncoding
			break
		}
	}
	b, err := enc.DecodeString(run)
	if err != nil {
		return "", false
	}
	*budget -= len(b)
	return string(b), readable(b)
}

// readable accepts valid UTF-8 that is mostly letters and spaces.
func readable(b []byte) bool {
	if len(b) < 8 || !utf8.Valid(b) {
		return false
	}
	good, letters, alnum, n := 0, 0, 0, 0
	for _, r := range string(b) {
		n++
		switch {
		case r == ' ' || r == '\n' || r == '\t':
			good++
		case r >= 0x20 && r < 0x7f:
			good++
			if isASCIILetter(byte(r)) {
				letters++
				alnum++
			} else if r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' {
				alnum++
			}
		case r >= 0xa0:
			good++
			letters++
		}
	}
	// Mostly letters (text) or letters and digits (another encoding layer).
	return good*100 >= n*90 && (letters*2 >= n || alnum*10 >= n*9)
}

// rot13 maps ASCII letters 13 places on, in place.
func rot13(b []byte) {
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
}

// rot13Keywords are attack words; two or more words that become one of
// them once rotated suggest a rot13 payload ("vtaber cerivbhf vafgehpgvbaf").
var rot13Keywords = map[string]bool{"ignore": true, "previous": true, "instructions": true, "prompt": true,
	"password": true, "system": true, "reveal": true, "secret": true, "forget": true, "disregard": true,
	"rules": true, "above": true, "everything": true}

// rot13First marks bytes that rotate to the first letter of a keyword.
var rot13First = func() (t [256]bool) {
	for k := range rot13Keywords {
		b := []byte{k[0]}
		rot13(b)
		t[b[0]] = true
	}
	return t
}()
