package phi

// Validation rules for identifiers with a check digit or a registry-defined
// format. All functions take ASCII digits/letters already stripped of
// separators.

// luhn reports whether the digit string passes the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if dbl {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		dbl = !dbl
	}
	return sum%10 == 0
}

func num(d []byte) int {
	n := 0
	for _, c := range d {
		n = n*10 + int(c-'0')
	}
	return n
}

func allSame(d []byte) bool {
	for _, c := range d[1:] {
		if c != d[0] {
			return false
		}
	}
	return true
}

// cardIIN reports whether a card number of len(d) digits starts with an
// issuer identification number range that issues cards of that length.
func cardIIN(d []byte) bool {
	n := len(d)
	p1, p2, p3, p4 := num(d[:1]), num(d[:2]), num(d[:3]), num(d[:4])
	p6 := num(d[:6])
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65, p6 >= 622126 && p6 <= 622925: // Discover
		return n >= 16 && n <= 19
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p4 >= 2200 && p4 <= 2204: // Mir
		return n >= 16 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro and domestic schemes
		return n >= 12 && n <= 19
	case p4 == 2131 || p4 == 1800: // JCB, legacy 15-digit ranges
		return n == 15
	case p1 == 1: // UATP
		return n == 15
	}
	return false
}

// validSSN applies the SSA rules: area not 000, 666 or 900-999, group not
// 00, serial not 0000, plus numbers the SSA voided after public misuse.
func validSSN(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area, group, serial := num(d[:3]), num(d[3:5]), num(d[5:])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	switch num(d) {
	case 78051120, 219099999, 123456789, 111111111, 333333333, 555555555, 777777777, 888888888:
		return false
	}
	return true
}

// validITIN: 9XX-GG-XXXX with group 50-65, 70-88, 90-92 or 94-99.
func validITIN(d []byte) bool {
	if len(d) != 9 || d[0] != '9' {
		return false
	}
	g := num(d[3:5])
	return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || g >= 94
}

// validNPI: 10 digits starting 1 or 2, Luhn over the 80840 prefix.
func validNPI(d []byte) bool {
	if len(d) != 10 || (d[0] != '1' && d[0] != '2') || allSame(d[1:9]) {
		return false
	}
	var b [15]byte
	copy(b[:], "80840")
	copy(b[5:], d)
	return luhn(b[:])
}

// validABA: 9 digits, valid Federal Reserve prefix, 3-7-1 weighted checksum.
func validABA(d []byte) bool {
	if len(d) != 9 || allSame(d) {
		return false
	}
	p := num(d[:2])
	if !(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80) {
		return false
	}
	v := func(i int) int { return int(d[i] - '0') }
	s := 3*(v(0)+v(3)+v(6)) + 7*(v(1)+v(4)+v(7)) + v(2) + v(5) + v(8)
	return s%10 == 0
}

// validNANP: 10 digits NXX-NXX-XXXX, area not N11.
func validNANP(d []byte) bool {
	if len(d) != 10 || d[0] < '2' || d[3] < '2' {
		return false
	}
	if d[1] == '1' && d[2] == '1' {
		return false
	}
	return !(d[4] == '1' && d[5] == '1')
}

func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }
func upper(c byte) byte {
	if isLower(c) {
		return c - 32
	}
	return c
}
func lower(c byte) byte {
	if isUpper(c) {
		return c + 32
	}
	return c
}

// validDEA: two letters (registrant type, then the registrant's initial or
// 9) and seven digits whose last is (d1+d3+d5 + 2*(d2+d4+d6)) mod 10.
func validDEA(t []byte) bool {
	if len(t) != 9 {
		return false
	}
	switch upper(t[0]) {
	case 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'P', 'R', 'S', 'T', 'U', 'X':
	default:
		return false
	}
	if !isLetter(t[1]) && t[1] != '9' {
		return false
	}
	for _, c := range t[2:] {
		if !isDigit(c) {
			return false
		}
	}
	v := func(i int) int { return int(t[i] - '0') }
	s := v(2) + v(4) + v(6) + 2*(v(3)+v(5)+v(7))
	return s%10 == v(8)
}

// vinValue is the ISO 3779 transliteration; 0 marks an invalid character.
func vinValue(c byte) int {
	c = upper(c)
	switch {
	case isDigit(c):
		return int(c-'0') + 100 // offset so that '0' is not "invalid"
	case c == 'I' || c == 'O' || c == 'Q':
		return 0
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 1
	case c >= 'J' && c <= 'N':
		return int(c-'J') + 1
	case c == 'P':
		return 7
	case c == 'R':
		return 9
	case c >= 'S' && c <= 'Z':
		return int(c-'S') + 2
	}
	return 0
}

// vinCheck returns (charset ok, North American check digit ok).
func vinCheck(t []byte) (bool, bool) {
	if len(t) != 17 {
		return false, false
	}
	weights := [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, c := range t {
		v := vinValue(c)
		if v == 0 {
			return false, false
		}
		if v >= 100 {
			v -= 100
		}
		sum += v * weights[i]
	}
	r := sum % 11
	c := upper(t[8])
	if r == 10 {
		return true, c == 'X'
	}
	return true, c == byte('0'+r)
}

// mbiLetter: MBI letters exclude S, L, O, I, B and Z.
func mbiLetter(c byte) bool {
	c = upper(c)
	if !isUpper(c) {
		return false
	}
	switch c {
	case 'S', 'L', 'O', 'I', 'B', 'Z':
		return false
	}
	return true
}

// validMBI checks the 11-character CMS Medicare Beneficiary Identifier
// layout: C A AN N A AN N A A N N (C = 1-9).
func validMBI(t []byte) bool {
	if len(t) != 11 || t[0] < '1' || t[0] > '9' {
		return false
	}
	const layout = "CAxNAxNAANN"
	for i := 1; i < 11; i++ {
		c := t[i]
		switch layout[i] {
		case 'A':
			if !mbiLetter(c) {
				return false
			}
		case 'N':
			if !isDigit(c) {
				return false
			}
		case 'x':
			if !isDigit(c) && !mbiLetter(c) {
				return false
			}
		}
	}
	return true
}

// ibanLen is the registered IBAN length per country (SWIFT IBAN registry).
var ibanLen = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28, {'B', 'A'}: 20,
	{'B', 'E'}: 16, {'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'I'}: 27, {'B', 'R'}: 29, {'B', 'Y'}: 28,
	{'C', 'H'}: 21, {'C', 'R'}: 22, {'C', 'Y'}: 28, {'C', 'Z'}: 24, {'D', 'E'}: 22, {'D', 'J'}: 27,
	{'D', 'K'}: 18, {'D', 'O'}: 28, {'E', 'E'}: 20, {'E', 'G'}: 29, {'E', 'S'}: 24, {'F', 'I'}: 18,
	{'F', 'K'}: 18, {'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22, {'G', 'E'}: 22, {'G', 'I'}: 23,
	{'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28, {'H', 'R'}: 21, {'H', 'U'}: 28, {'I', 'E'}: 22,
	{'I', 'L'}: 23, {'I', 'Q'}: 23, {'I', 'S'}: 26, {'I', 'T'}: 27, {'J', 'O'}: 30, {'K', 'W'}: 30,
	{'K', 'Z'}: 20, {'L', 'B'}: 28, {'L', 'C'}: 32, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20,
	{'L', 'V'}: 21, {'L', 'Y'}: 25, {'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19,
	{'M', 'N'}: 20, {'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'I'}: 28, {'N', 'L'}: 18,
	{'N', 'O'}: 15, {'O', 'M'}: 23, {'P', 'K'}: 24, {'P', 'L'}: 28, {'P', 'S'}: 29, {'P', 'T'}: 25,
	{'Q', 'A'}: 29, {'R', 'O'}: 24, {'R', 'S'}: 22, {'R', 'U'}: 33, {'S', 'A'}: 24, {'S', 'C'}: 31,
	{'S', 'D'}: 18, {'S', 'E'}: 24, {'S', 'I'}: 19, {'S', 'K'}: 24, {'S', 'M'}: 27, {'S', 'O'}: 23,
	{'S', 'T'}: 25, {'S', 'V'}: 28, {'T', 'L'}: 23, {'T', 'N'}: 24, {'T', 'R'}: 26, {'U', 'A'}: 29,
	{'V', 'A'}: 22, {'V', 'G'}: 24, {'X', 'K'}: 20, {'Y', 'E'}: 30,
}

// validIBAN checks the country length and the ISO 7064 mod 97-10 checksum
// over upper-case alphanumerics.
func validIBAN(t []byte) bool {
	if len(t) < 15 || len(t) > 34 {
		return false
	}
	want, ok := ibanLen[[2]byte{upper(t[0]), upper(t[1])}]
	if !ok || want != len(t) || !isDigit(t[2]) || !isDigit(t[3]) {
		return false
	}
	rem := 0
	add := func(c byte) bool {
		c = upper(c)
		switch {
		case isDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case isUpper(c):
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
		return true
	}
	for _, c := range t[4:] {
		if !add(c) {
			return false
		}
	}
	for _, c := range t[:4] {
		if !add(c) {
			return false
		}
	}
	return rem == 1
}

// validGTIN checks a GS1 GTIN-8/12/13/14 mod 10 check digit (UDI device
// identifiers issued by GS1).
func validGTIN(d []byte) bool {
	n := len(d)
	if n != 8 && n != 12 && n != 13 && n != 14 {
		return false
	}
	sum := 0
	for i := 0; i < n-1; i++ {
		v := int(d[n-2-i] - '0')
		if i%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return (10-sum%10)%10 == int(d[n-1]-'0')
}

// restrictedZIP3 are the three-digit ZIP prefixes whose population is 20,000
// or fewer (2000 Census, per HHS Safe Harbor guidance); they must become 000.
var restrictedZIP3 = [...]string{"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890", "893"}

// RestrictedZIP3 reports whether the 3-digit ZIP prefix must be replaced by
// 000 under the Safe Harbor rule.
func RestrictedZIP3(p string) bool {
	for _, r := range restrictedZIP3 {
		if r == p {
			return true
		}
	}
	return false
}
