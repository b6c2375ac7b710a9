package injection

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// homoglyphs maps Cyrillic, Greek and other letters that look like Latin ones
// to that Latin letter, so "іgnоrе" (Cyrillic і, о, е) reads "ignore".
// Fullwidth and mathematical alphanumerics are already folded by NFKC.
var homoglyphs = map[rune]byte{
	// Cyrillic lower / upper
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ӏ': 'l', 'ԛ': 'q',
	'ԝ': 'w', 'һ': 'h', 'ɡ': 'g',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
	'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Ԁ': 'd', 'Ӏ': 'l',
	// Greek lower / upper
	'α': 'a', 'ο': 'o', 'ρ': 'p', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ϲ': 'c',
	'ε': 'e', 'η': 'n', 'μ': 'u', 'ω': 'w',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o',
	'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
	// Latin look-alikes outside the accent range
	'ı': 'i', 'ɩ': 'i', 'ɑ': 'a', 'ʏ': 'y', 'ɴ': 'n', 'ʀ': 'r', 'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c',
	'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ᴏ': 'o',
	'ᴘ': 'p', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ᴢ': 'z',
}

func homoglyph(r rune) (byte, bool) {
	b, ok := homoglyphs[r]
	return b, ok
}

// diacritics maps accented Latin letters (U+00C0..U+024F) to lower-case ASCII:
// "ä" → "a", "ß" → "ss". Built once from the NFD decomposition.
var diacritics = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'œ': "oe", 'Œ': "oe",
		'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'þ': "th"}
	for r := rune(0xC0); r <= 0x24F; r++ {
		if _, ok := m[r]; ok {
			continue
		}
		d := norm.NFD.String(string(r))
		c, _ := utf8.DecodeRuneInString(d)
		switch {
		case c >= 'a' && c <= 'z':
			m[r] = string(rune(c))
		case c >= 'A' && c <= 'Z':
			m[r] = string(rune(c + 'a' - 'A'))
		}
	}
	return m
}()

func foldDiacritic(r rune) string {
	if r < 0xC0 || r > 0x24F && r != 'ẞ' {
		return ""
	}
	return diacritics[r]
}
