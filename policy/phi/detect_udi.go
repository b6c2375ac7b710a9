package phi

// Unique device identifiers (FDA UDI): GS1 element strings such as
// (01)00614141999996(17)251231(10)A1B2, and HIBCC +H123PROD1234L.

// gs1UDI parses "(01)" + GTIN-14 with a valid check digit, followed by any
// of the production identifiers (11)/(17) dates, (10) lot, (21) serial.
func (st *state) gs1UDI(i int) int {
	s := st.v.s
	p := i + 4
	e := readDigits(s, p, 15)
	if e-p != 14 || !validGTIN([]byte(s[p:e])) {
		return -1
	}
	end := e
	for end+4 < len(s) && s[end] == '(' && s[end+3] == ')' && isDigit(s[end+1]) && isDigit(s[end+2]) {
		ai := s[end+1 : end+3]
		q := end + 4
		switch ai {
		case "11", "17":
			if readDigits(s, q, 7)-q != 6 {
				return st.addUDI(i, end)
			}
			q += 6
		case "10", "21":
			r := q
			for r < len(s) && r-q < 20 && (isAlnum(s[r]) || s[r] == '-') {
				r++
			}
			if r == q {
				return st.addUDI(i, end)
			}
			q = r
		default:
			return st.addUDI(i, end)
		}
		end = q
	}
	return st.addUDI(i, end)
}

func (st *state) addUDI(i, end int) int {
	st.add(DEVICE_ID, i, end, 0.9)
	return end
}

const hibccChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"

func hibccValue(c byte) int {
	for k := 0; k < len(hibccChars); k++ {
		if hibccChars[k] == c {
			return k
		}
	}
	return -1
}

// hibcc parses a HIBCC primary data structure: '+', a 4-character labeler
// code starting with a letter, a 1-18 character product code, a unit of
// measure digit and a mod 43 check character.
func (st *state) hibcc(i int) int {
	s := st.v.s
	q := i + 1
	for q < len(s) && q-i <= 25 && (isUpper(s[q]) || isDigit(s[q])) {
		q++
	}
	n := q - i - 1 // characters after '+'
	if n < 7 || n > 24 || !endOK(s, q) || !isDigit(s[q-2]) {
		return -1
	}
	sum := hibccValue('+')
	for k := i + 1; k < q-1; k++ {
		sum += hibccValue(s[k])
	}
	if hibccChars[sum%43] != s[q-1] {
		return -1
	}
	st.add(DEVICE_ID, i, q, 0.85)
	return q
}
