package phi

// Numeric detectors: separated digit runs (SSN, cards, NPI, phones, ...),
// dates, ages, ZIP codes and street numbers.

func isSep(c byte) bool { return c == ' ' || c == '-' || c == '.' }

// number handles a token of digits s[i:j].
func (st *state) number(i, j int) int {
	s := st.v.s
	n := len(s)
	prev := byte(0)
	if i > 0 {
		prev = s[i-1]
	}
	if j-i == 1 && prev != '.' && prev != '+' && !(i >= 2 && isSep(prev) && isDigit(s[i-2])) {
		if e := st.spaced(i); e > 0 {
			return e
		}
	}
	if j < n && s[j] == '.' && j-i <= 3 {
		if e := st.ipv4(i); e > 0 {
			return e
		}
	}
	tight := i >= 2 && (prev == '-' || prev == '.' || prev == '/') && isDigit(s[i-2])
	if tight || prev == '+' || prev == '.' {
		return j
	}
	if e := st.date(i, j); e > 0 {
		return e
	}
	st.age(i, j)
	st.year(i, j)
	// A street is not re-read word by word as names: skip past it.
	street := st.address(i, j)
	if street < 0 {
		street = st.streetNum(i, j)
	}
	st.runs(i)
	return max(j, street)
}

// spaced reads digits written one by one with the same separator
// ("4 1 1 1 - ..." evasion) and classifies the compacted number.
func (st *state) spaced(i int) int {
	s := st.v.s
	if i+2 >= len(s) || !isSep(s[i+1]) {
		return -1
	}
	sep := s[i+1]
	d := st.digits[:0]
	p := i
	for {
		d = append(d, s[p])
		if len(d) > 19 {
			return -1
		}
		if p+2 < len(s) && s[p+1] == sep && isDigit(s[p+2]) && (p+3 >= len(s) || !isDigit(s[p+3])) {
			p += 2
			continue
		}
		break
	}
	end := p + 1
	if len(d) < 9 || !endOKNum(s, end) || (end < len(s) && isDigit(s[end])) {
		return -1
	}
	all, near := st.ctxAt(i)
	n := len(st.cands)
	st.window([]grp{{i, end, 0}}, d, i, end, all, near)
	if len(st.cands) == n {
		return -1
	}
	return end
}

// runs enumerates windows of the separated digit run starting at i: one
// group, two groups, ... while the digits fit in 19. A window may end
// inside the run only at a space (so "91-415-555-0132" is never split into
// "415-555-0132", but "20241 440-600-5124" yields the phone number).
func (st *state) runs(i int) {
	s := st.v.s
	g := st.groups[:0]
	p := i
	total := 0
	for len(g) <= maxWindowGroups {
		e := readDigits(s, p, 40)
		if e < len(s) && isDigit(s[e]) {
			return // absurdly long digit string: no identifier has 40 digits
		}
		total += e - p
		if total > 34 {
			break
		}
		sep, next := byte(0), e+1
		switch {
		case e+1 < len(s) && isSep(s[e]) && isDigit(s[e+1]):
			sep = s[e]
		case e+3 < len(s) && s[e] == ' ' && (s[e+1] == '-' || s[e+1] == '.') && s[e+2] == ' ' && isDigit(s[e+3]):
			sep, next = s[e+1], e+3 // "078 - 05 - 1123"
		}
		g = append(g, grp{p, e, sep})
		if sep == 0 {
			break
		}
		p = next
	}
	if len(g) == 0 {
		return
	}
	d := st.digits[:0]
	computed := false
	var all, near ctx
	for k := range g {
		if k == maxWindowGroups {
			break
		}
		d = append(d, s[g[k].s:g[k].e]...)
		if len(d) > 19 {
			break
		}
		last := k == len(g)-1
		if !last && g[k].sep != ' ' {
			continue
		}
		end := g[k].e
		ext := -1
		if last {
			ext = phoneExt(s, end)
		}
		if ext < 0 && last && !endOKNum(s, end) {
			continue
		}
		if ext < 0 && end < len(s) && isLetter(s[end]) {
			continue
		}
		if len(d) < 4 {
			continue
		}
		if !computed {
			all, near = st.ctxAt(i) // the same for every window starting at i
			computed = true
		}
		n0 := len(st.cands)
		st.window(g[:k+1], d, i, end, all, near)
		if ext > 0 {
			// Only a phone number takes an extension; drop the rest.
			kept := st.cands[:n0]
			for _, c := range st.cands[n0:] {
				if c.t == PHONE || c.t == FAX {
					c.end = ext
					kept = append(kept, c)
				}
			}
			st.cands = kept
		}
	}
}

// phoneExt returns the end of an extension right after a number at e
// ("x4587", " ext. 12", " ext 12"), or -1.
func phoneExt(s string, e int) int {
	p := e
	if p < len(s) && s[p] == ' ' {
		p++
	}
	switch {
	case p < len(s) && (s[p] == 'x' || s[p] == 'X'):
		p++
	case hasPrefixFold(s[p:], "ext"):
		p += 3
		if p < len(s) && s[p] == '.' {
			p++
		}
		if p < len(s) && s[p] == ' ' {
			p++
		}
	default:
		return -1
	}
	q := readDigits(s, p, 7)
	if q == p || q-p > 6 || !endOKNum(s, q) {
		return -1
	}
	return q
}

// maxWindowGroups: no identifier we know is written in more than 6 groups
// (1-3-3-4 phones, 4-4-4-4-3 cards); the cap keeps "1 1 1 1 ..." linear
// with a small constant.
const maxWindowGroups = 6

// shape describes the grouping of a window: group lengths and whether all
// separators are the same character.
func shape(g []grp) (lens [maxGroups]int8, uniform bool, sep byte) {
	uniform = true
	for k := range g {
		lens[k] = int8(g[k].e - g[k].s)
		if k < len(g)-1 {
			if sep == 0 {
				sep = g[k].sep
			} else if g[k].sep != sep {
				uniform = false
			}
		}
	}
	return
}

func is(lens [maxGroups]int8, n int, want ...int8) bool {
	if n != len(want) {
		return false
	}
	for k, w := range want {
		if lens[k] != w {
			return false
		}
	}
	return true
}

// window classifies one candidate number s[start:end] with digits d.
func (st *state) window(g []grp, d []byte, start, end int, all, near ctx) {
	L := len(d)
	ng := len(g)
	lens, uniform, _ := shape(g)
	plain := ng == 1
	phoneType := PHONE
	if all&cFax != 0 {
		phoneType = FAX
	}
	switch L {
	case 9:
		ssnShape := plain || (uniform && is(lens, ng, 3, 2, 4))
		if validSSN(d) {
			sc := 0.3
			if uniform && is(lens, ng, 3, 2, 4) {
				sc = 0.85
			}
			if all&cSSN != 0 && ssnShape {
				sc = 0.95
			}
			st.add(SSN, start, end, sc)
		}
		if validITIN(d) {
			sc := 0.3
			if uniform && is(lens, ng, 3, 2, 4) {
				sc = 0.85
			}
			if all&cITIN != 0 && ssnShape {
				sc = 0.95
			}
			st.add(ITIN, start, end, sc)
		}
		if validABA(d) && (plain || (uniform && is(lens, ng, 4, 4, 1))) {
			sc := 0.6
			if all&cRouting != 0 {
				sc = 0.95
			} else if all&cSSN != 0 {
				sc = 0.2
			}
			st.add(ABA_ROUTING, start, end, sc)
		}
		if plain && near&cPassport != 0 {
			st.add(PASSPORT, start, end, 0.8)
		}
	case 10:
		if validNPI(d) && (plain || (uniform && is(lens, ng, 4, 3, 3))) {
			sc := 0.7
			if all&cNPI != 0 {
				sc = 0.95
			}
			st.add(NPI, start, end, sc)
		}
		if validNANP(d) {
			sc := 0.0
			switch {
			case uniform && is(lens, ng, 3, 3, 4):
				sc = 0.75
			case plain && all&(cPhone|cFax) != 0:
				sc = 0.7
			case plain:
				sc = 0.4
			}
			if sc > 0 {
				st.add(phoneType, start, end, sc)
			}
		}
	case 11:
		if d[0] == '1' && validNANP(d[1:]) && ((uniform && is(lens, ng, 1, 3, 3, 4)) || (plain && all&(cPhone|cFax) != 0)) {
			st.add(phoneType, start, end, 0.75)
		}
		if plain && d[0] == '1' && d[1] >= '3' && d[1] <= '9' {
			st.add(phoneType, start, end, 0.5) // mainland China mobile
		}
	}
	// A country code before a NANP number: 91-415-555-0132.
	if L >= 11 && L <= 13 && ng >= 4 && uniform && lens[0] <= 3 && d[0] != '0' && validNANP(d[L-10:]) && is(lens, ng, lens[0], 3, 3, 4) {
		st.add(phoneType, start, end, 0.6)
	}
	// Any grouped number of 7-15 digits right after "phone", "fax", ...
	if all&(cPhone|cFax) != 0 && L >= 7 && L <= 15 && (ng >= 2 || L >= 9) {
		st.add(phoneType, start, end, 0.7)
	} else if L >= 7 && L <= 15 && ng >= 2 {
		// ... or right before a label: "416 60 039 office", "07700 063 966-Fax".
		if ok, fax := phoneLabelAfter(st.v.s, end); ok {
			t := PHONE
			if fax {
				t = FAX
			}
			st.add(t, start, end, 0.7)
		}
	}
	// National numbers with a trunk 0 (090-1234-5678, 09-7625400).
	if L >= 9 && L <= 11 && d[0] == '0' && d[1] != '0' && ng >= 2 && g[0].e-g[0].s <= 4 && !is(lens, ng, 3, 2, 4) {
		st.add(phoneType, start, end, 0.6)
	}
	if L >= 12 && L <= 19 && luhn(d) && cardIIN(d) && !allSame(d) {
		ok := plain
		if !ok && uniform {
			ok = true
			for k := 0; k < ng-1; k++ {
				if lens[k] != 4 {
					ok = false
				}
			}
			ok = ok || is(lens, ng, 4, 6, 5) || is(lens, ng, 4, 6, 4)
		}
		if ok {
			sc := 0.9
			if all&cCard != 0 {
				sc = 1
			}
			if L == 12 {
				sc -= 0.3
			}
			st.add(CREDIT_CARD, start, end, sc)
		}
	}
	if (L == 5 || (L == 9 && is(lens, ng, 5, 4) && g[0].sep == '-')) && (all&cZIP != 0 || stateBefore(st.v.s, start)) {
		st.add(ZIP, start, end, 0.8)
	}
	if (L == 8 || L == 12 || L == 13 || L == 14) && plain && all&cDevice != 0 && validGTIN(d) {
		st.add(DEVICE_ID, start, end, 0.85)
	}
	if L >= 4 {
		st.ctxID(all, near, start, end, L)
	}
}

// ctxID reports an identifier whose type only its context word tells.
func (st *state) ctxID(all, near ctx, start, end, L int) {
	var t Type
	switch {
	case near&(cLicense|cDriver) != 0 && all&cDriver != 0:
		t = DRIVER_LICENSE
	case near&cMRN != 0:
		t = MRN
	case near&cBank != 0:
		t = BANK_ACCOUNT
	case near&cAcct != 0:
		t = ACCOUNT_NUMBER
	case near&cMedicare != 0, near&cPlan != 0:
		t = HEALTH_PLAN_ID
	case near&cPassport != 0:
		t = PASSPORT
	case near&cDriver != 0:
		t = DRIVER_LICENSE
	case near&cLicense != 0:
		t = LICENSE_NUMBER
	case near&cDevice != 0:
		t = DEVICE_ID
	default:
		return
	}
	if L < 5 && t != MRN {
		return
	}
	st.add(t, start, end, 0.8)
}

// usStates are the USPS state and territory codes.
var usStates = map[[2]byte]bool{}

func init() {
	const codes = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP"
	for i := 0; i+1 < len(codes); i += 3 {
		usStates[[2]byte{codes[i], codes[i+1]}] = true
	}
}

// stateBefore reports "XX " (a USPS state code) right before pos.
func stateBefore(s string, pos int) bool {
	p := pos
	for p > 0 && s[p-1] == ' ' && pos-p < 3 {
		p--
	}
	if p == pos || p < 2 || (p >= 3 && isAlnum(s[p-3])) {
		return false
	}
	return usStates[[2]byte{s[p-2], s[p-1]}]
}

// ---- phones ----

// parenPhone: (415) 555-0132 and (415)555-0132.
func (st *state) parenPhone(i int) int {
	s := st.v.s
	if i > 0 && isAlnum(s[i-1]) {
		return -1
	}
	p := i + 1
	e := readDigits(s, p, 5)
	if e == p || e >= len(s) || s[e] != ')' {
		return -1
	}
	all, _ := st.ctxAt(i)
	t := PHONE
	if all&cFax != 0 {
		t = FAX
	}
	if e-p != 3 {
		// "(20) 7123 4567", "(99) 645-791": other area codes, only after
		// a phone word.
		if all&(cPhone|cFax) == 0 {
			return -1
		}
		q := e + 1
		nd := e - p
		last := -1
		for q < len(s) {
			if s[q] == ' ' || s[q] == '-' {
				q++
			}
			r := readDigits(s, q, 9)
			if r == q {
				break
			}
			nd += r - q
			q, last = r, r
			if q >= len(s) || (s[q] != ' ' && s[q] != '-') || q+1 >= len(s) || !isDigit(s[q+1]) {
				break
			}
		}
		if last < 0 || nd < 6 || nd > 13 || !endOKNum(s, last) {
			return -1
		}
		st.add(t, i, last, 0.7)
		return last
	}
	var d [10]byte
	copy(d[:], s[p:e])
	p = e + 1
	if p < len(s) && s[p] == ' ' {
		p++
	}
	e = readDigits(s, p, 4)
	if e-p != 3 || e+1 >= len(s) || !isSep(s[e]) {
		return -1
	}
	copy(d[3:], s[p:e])
	p = e + 1
	e = readDigits(s, p, 5)
	if e-p != 4 {
		return -1
	}
	end := e
	if x := phoneExt(s, e); x > 0 {
		end = x
	} else if !endOKNum(s, e) {
		return -1
	}
	copy(d[6:], s[p:e])
	if !validNANP(d[:]) {
		return -1
	}
	st.add(t, i, end, 0.75)
	return end
}

// e164: +CC followed by 8-15 digits in groups separated by one space, dash
// or dot, optionally with a parenthesised area code.
func (st *state) e164(i int) int {
	s := st.v.s
	p := i + 1
	nd, end := 0, -1
	for p < len(s) {
		if s[p] == '(' {
			e := readDigits(s, p+1, 5)
			if e == p+1 || e >= len(s) || s[e] != ')' {
				break
			}
			nd += e - p - 1
			p = e + 1
		} else {
			e := readDigits(s, p, 16)
			if e == p {
				break
			}
			nd += e - p
			p = e
		}
		end = p
		if p+1 < len(s) && isSep(s[p]) && (isDigit(s[p+1]) || s[p+1] == '(') {
			p++
			continue
		}
		if p < len(s) && isDigit(s[p]) {
			continue
		}
		break
	}
	if end < 0 || nd < 8 || nd > 15 || !endOKNum(s, end) {
		return -1
	}
	t := PHONE
	if all, _ := st.ctxAt(i); all&cFax != 0 {
		t = FAX
	}
	st.add(t, i, end, 0.75)
	return end
}

// ---- ages over 89 ----

var ageSuffixes = []string{"-year-old", " year old", " years old", " year-old", "-years-old", " yo", " y/o", " y.o", " yrs", " years of age", "yo", " yr old"}

func (st *state) age(i, j int) {
	s := st.v.s
	if j-i < 2 || j-i > 3 {
		return
	}
	v := atoi(s[i:j])
	if v < 90 || v > 125 {
		return
	}
	for _, suf := range ageSuffixes {
		if hasPrefixFold(s[j:], suf) && endOK(s, j+len(suf)) {
			st.add(AGE, i, j, 0.85)
			return
		}
	}
	if all, _ := st.ctxAt(i); all&cAge != 0 {
		st.add(AGE, i, j, 0.85)
	}
}

// ---- dates ----

// monthNum returns 1-12 for a lower-case English month name or abbreviation.
func monthNum(w []byte) int {
	switch string(w) {
	case "jan", "january":
		return 1
	case "feb", "february":
		return 2
	case "mar", "march":
		return 3
	case "apr", "april":
		return 4
	case "may":
		return 5
	case "jun", "june":
		return 6
	case "jul", "july":
		return 7
	case "aug", "august":
		return 8
	case "sep", "sept", "september":
		return 9
	case "oct", "october":
		return 10
	case "nov", "november":
		return 11
	case "dec", "december":
		return 12
	}
	return 0
}

// monthAt returns the end of a month name at i, or -1.
func monthAt(s string, i int) int {
	j := i
	for j < len(s) && isLetter(s[j]) && j-i < 10 {
		j++
	}
	if j-i < 3 || (j < len(s) && isLetter(s[j])) {
		return -1
	}
	var b [10]byte
	for k := i; k < j; k++ {
		b[k-i] = lower(s[k])
	}
	if monthNum(b[:j-i]) == 0 {
		return -1
	}
	// "may" is a month only when capitalised.
	if j-i == 3 && b[0] == 'm' && b[1] == 'a' && b[2] == 'y' && !isUpper(s[i]) {
		return -1
	}
	if j < len(s) && s[j] == '.' && j-i <= 4 {
		j++
	}
	return j
}

func validYear(s string) bool {
	if len(s) == 2 {
		return true
	}
	if len(s) != 4 {
		return false
	}
	y := atoi(s)
	return y >= 1800 && y <= 2199
}

// timeAt parses hh:mm[:ss[.frac]][Z|±hh:mm] at p; returns end or -1.
func timeAt(s string, p int) int {
	e := readDigits(s, p, 3)
	if e-p != 2 || atoi(s[p:e]) > 23 || e >= len(s) || s[e] != ':' {
		return -1
	}
	p = e + 1
	e = readDigits(s, p, 3)
	if e-p != 2 || atoi(s[p:e]) > 59 {
		return -1
	}
	p = e
	if p+2 < len(s) && s[p] == ':' && isDigit(s[p+1]) {
		e = readDigits(s, p+1, 3)
		if e-p-1 != 2 {
			return -1
		}
		p = e
		if p+1 < len(s) && s[p] == '.' && isDigit(s[p+1]) {
			p = readDigits(s, p+1, 9)
		}
	}
	if p < len(s) && s[p] == 'Z' {
		p++
	} else if p+5 < len(s) && (s[p] == '+' || s[p] == '-') && isDigit(s[p+1]) {
		e = readDigits(s, p+1, 3)
		if e-p-1 == 2 && e < len(s) && s[e] == ':' {
			e2 := readDigits(s, e+1, 3)
			if e2-e-1 == 2 {
				p = e2
			}
		}
	}
	return p
}

// date parses a date starting with the digits s[i:j]; it returns the end or
// -1. Numeric dates need the same separator twice; month-name dates accept
// "5-May-2021", "21 May", "05-May".
func (st *state) date(i, j int) int {
	s := st.v.s
	n := len(s)
	if j >= n {
		return -1
	}
	sep := s[j]
	if sep != '/' && sep != '-' && sep != '.' && sep != ' ' {
		return -1
	}
	a := atoi(s[i:j])
	la := j - i
	// Day then month name.
	if la <= 2 && a >= 1 && a <= 31 && j+1 < n && isLetter(s[j+1]) {
		if me := monthAt(s, j+1); me > 0 {
			end := me
			if me+1 < n && (s[me] == sep || s[me] == ' ' || (s[me] == ',' && me+2 < n && s[me+1] == ' ')) {
				q := me + 1
				if s[me] == ',' {
					q++
				}
				ye := readDigits(s, q, 5)
				if validYear(s[q:ye]) && endOKNum(s, ye) {
					end = ye
				}
			}
			if endOK(s, end) || s[end-1] == '.' {
				sc := 0.7
				if end > me {
					sc = 0.85
				}
				st.add(DATE, i, end, sc)
				return end
			}
		}
		return -1
	}
	if sep == ' ' || j+1 >= n || !isDigit(s[j+1]) {
		return -1
	}
	p := j + 1
	e := readDigits(s, p, 5)
	b, lb := atoi(s[p:e]), e-p
	// Partial numeric dates: M/D, M/YYYY (weak).
	if e >= n || s[e] != sep || e+1 >= n || !isDigit(s[e+1]) {
		if sep != '/' || la > 2 || !endOKNum(s, e) || (e < n && s[e] == '/') {
			return -1
		}
		ok := a >= 1 && a <= 12 && ((lb <= 2 && b >= 1 && b <= 31) || (lb == 4 && validYear(s[p:e])))
		if !ok {
			return -1
		}
		sc := 0.3
		if all, _ := st.ctxWithin(i, 12); all&cDate != 0 {
			sc = 0.6
		}
		st.add(DATE, i, e, sc)
		return e
	}
	q := e + 1
	f := readDigits(s, q, 5)
	c, lc := atoi(s[q:f]), f-q
	var ok bool
	if la == 4 {
		ok = validYear(s[i:j]) && lb <= 2 && lc <= 2 && b >= 1 && b <= 12 && c >= 1 && c <= 31
	} else if la <= 2 && lb <= 2 && (lc == 2 || lc == 4) {
		ok = validYear(s[q:f]) && a >= 1 && b >= 1 && ((a <= 12 && b <= 31) || (a <= 31 && b <= 12))
	}
	if !ok {
		return -1
	}
	end := f
	if la == 4 && end+1 < n && (s[end] == 'T' || s[end] == ' ') && isDigit(s[end+1]) {
		if te := timeAt(s, end+1); te > 0 && endOK(s, te) {
			end = te
		}
	}
	if !endOKNum(s, end) {
		return -1
	}
	st.add(DATE, i, end, 0.85)
	return end
}

// monthDate parses dates that start with a month name at i (word end j).
func (st *state) monthDate(i int) int {
	s := st.v.s
	n := len(s)
	me := monthAt(s, i)
	if me < 0 || me >= n {
		return -1
	}
	sep := s[me]
	if sep != ' ' && sep != '-' && sep != '/' {
		return -1
	}
	p := me + 1
	e := readDigits(s, p, 5)
	if e == p {
		return -1
	}
	v, lv := atoi(s[p:e]), e-p
	end, sc := -1, 0.0
	switch {
	case lv == 4 && validYear(s[p:e]):
		end, sc = e, 0.75
	case lv <= 2 && v >= 1 && v <= 31:
		end, sc = e, 0.7
		if e+1 < n && (s[e] == 's' || s[e] == 'n' || s[e] == 'r' || s[e] == 't') && isLetter(s[e+1]) {
			e += 2 // ordinal 1st, 2nd, 3rd, 4th
			end = e
		}
		q := e
		if q < n && s[q] == ',' {
			q++
		}
		if q+1 < n && (s[q] == ' ' || s[q] == sep) && isDigit(s[q+1]) {
			ye := readDigits(s, q+1, 5)
			if ye-q-1 == 4 && validYear(s[q+1:ye]) && endOKNum(s, ye) {
				end, sc = ye, 0.85
			}
		}
	}
	if end < 0 || !endOKNum(s, end) {
		return -1
	}
	st.add(DATE, i, end, sc)
	return end
}

// yearCue are the words that make a bare four-digit number a year: "in
// 1977", "During 1971", "Act of 2001", "a 2017 film", "since 2004".
var yearCue = wordSet(`in of during since until till by from year a the early late mid before after circa
around about founded born established until between and`)

// year reports a bare year 1900-2099 after a cue word (DATE 0.55). Safe
// Harbor allows years; the synthetic evaluation set labels them, and
// partial redaction keeps the year anyway ("[DATE:1977]").
func (st *state) year(i, j int) {
	s := st.v.s
	if j-i != 4 || (s[i] != '1' && s[i] != '2') || !endOKNum(s, j) {
		return
	}
	y := atoi(s[i:j])
	if y < 1900 || y > 2099 {
		return
	}
	if j < len(s) && s[j] == '%' {
		return
	}
	var b [16]byte
	w, _ := prevWord(s, i, b[:])
	if w == nil || !yearCue[string(w)] {
		return
	}
	// Not a quantity: "in 2000 mg", "by 1500 patients".
	if j+1 < len(s) && s[j] == ' ' && isLower(s[j+1]) {
		k := j + 1
		for k < len(s) && isLower(s[k]) && k-j < 12 {
			k++
		}
		switch s[j+1 : k] {
		case "mg", "mcg", "g", "kg", "ml", "l", "mm", "cm", "m", "km", "units", "iu", "patients", "people", "persons",
			"cases", "subjects", "participants", "steps", "calories", "kcal", "dollars", "usd", "eur", "times", "x",
			"mmhg", "bpm", "words", "pages", "feet", "ft", "miles", "meters", "metres", "hours", "minutes", "min",
			"days", "weeks", "months", "years", "cells", "copies", "items", "rows", "records", "employees", "members":
			return
		}
	}
	st.add(DATE, i, j, 0.55)
}

// phoneLabelAfter reports a phone label right after a number ending at e
// (" office", "-Mobile", " fax"), and whether it says fax.
func phoneLabelAfter(s string, e int) (ok, fax bool) {
	if e+1 >= len(s) || (s[e] != ' ' && s[e] != '-') {
		return false, false
	}
	q := e + 1
	k := q
	for k < len(s) && isLetter(s[k]) && k-q < 8 {
		k++
	}
	if !endOK(s, k) {
		return false, false
	}
	var b [8]byte
	lw, okw := lowerWord(b[:], s[q:k])
	if !okw {
		return false, false
	}
	switch string(lw) {
	case "office", "mobile", "cell", "home", "work", "phone", "tel":
		return true, false
	case "fax":
		return true, true
	}
	return false, false
}
