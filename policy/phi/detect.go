package phi

import "math"

// The detection pass: one left-to-right walk over the normalised view that
// dispatches on token shape (digits, letters, mixed, and a few punctuation
// triggers). Detectors append candidates; Scanner.scanSegment resolves
// overlaps and maps offsets back to the original text.

type cand struct {
	t          Type
	start, end int // view offsets
	score      float64
}

// grp is one digit group of a separated number such as 4012-8888-8888-1881.
type grp struct {
	s, e int
	sep  byte // separator after the group, 0 for the last
}

// maxGroups bounds the groups read from one run (maxWindowGroups + 1).
const maxGroups = maxWindowGroups + 1

type state struct {
	ctx ctxRing // context words seen so far in the segment

	v      view
	cands  []cand
	groups [maxGroups]grp
	digits [40]byte
}

func (st *state) add(t Type, s, e int, score float64) {
	// Two decimals keep scores stable in JSON (0.85+0.1 prints as 0.95).
	score = math.Round(min(score, 1)*100) / 100
	st.cands = append(st.cands, cand{t: t, start: s, end: e, score: score})
}

func (st *state) run() {
	s := st.v.s
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		if !isAlnum(c) {
			next := i + 1
			switch c {
			case '+':
				if i+1 < n && isDigit(s[i+1]) && (i == 0 || !isAlnum(s[i-1])) {
					next = max(next, st.e164(i))
				} else if i+1 < n && isUpper(s[i+1]) && (i == 0 || !isAlnum(s[i-1])) {
					next = max(next, st.hibcc(i))
				}
			case '(':
				if i+4 < n && s[i+1] == '0' && s[i+2] == '1' && s[i+3] == ')' {
					next = max(next, st.gs1UDI(i))
				} else if i+4 < n && isDigit(s[i+1]) {
					next = max(next, st.parenPhone(i))
				}
			case ':':
				if i+1 < n && s[i+1] == ':' && ipv6LeftOK(s, i) {
					next = max(next, st.ipv6(i))
				}
			case '@':
				st.email(i)
			default:
				// A word starting with a non-ASCII capital: "Árpád", "ΠΑΦΟΣ".
				if c >= 0xC0 && (i == 0 || (!isAlnum(s[i-1]) && s[i-1] < 0x80)) && upperAt(s, i) {
					next = max(next, st.capitalised(i))
				}
			}
			i = next
			continue
		}
		j, nd := i, 0
		for j < n && isAlnum(s[j]) {
			if isDigit(s[j]) {
				nd++
			}
			j++
		}
		next := j
		if j < n && s[j] == ':' && j-i <= 4 && allHex(s[i:j]) && ipv6LeftOK(s, i) {
			if e := st.ipv6(i); e > i {
				i = e
				continue
			}
		}
		switch {
		case nd == j-i:
			next = st.number(i, j)
		case nd == 0:
			next = st.word(i, j)
		default:
			next = st.mixed(i, j, nd)
		}
		i = max(next, j)
	}
}

func allDigits(b string) bool {
	for i := 0; i < len(b); i++ {
		if !isDigit(b[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

func allHex(b string) bool {
	for i := 0; i < len(b); i++ {
		if !isHex(b[i]) {
			return false
		}
	}
	return true
}

// endOK reports whether an identifier may end at view offset e: the next
// character must not continue a word or number.
func endOK(s string, e int) bool { return e >= len(s) || !isAlnum(s[e]) }

// endOKNum additionally rejects an end followed by a separator and a digit
// (the value would be a prefix of a longer number).
func endOKNum(s string, e int) bool {
	if !endOK(s, e) {
		return false
	}
	if e+1 < len(s) && (s[e] == '-' || s[e] == '.' || s[e] == '/') && isDigit(s[e+1]) {
		return false
	}
	return true
}

func ipv6LeftOK(s string, i int) bool {
	if i == 0 {
		return true
	}
	c := s[i-1]
	return !isAlnum(c) && c != ':' && c != '.'
}

// readDigits returns the end of the digit run starting at i (at most lim).
func readDigits(s string, i, lim int) int {
	j := i
	for j < len(s) && j-i < lim && isDigit(s[j]) {
		j++
	}
	return j
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 9; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ---- IP addresses ----

// ipv4 parses a dotted quad at i; it returns the end or -1.
func ipv4At(s string, i int) int {
	p := i
	for k := 0; k < 4; k++ {
		if k > 0 {
			if p >= len(s) || s[p] != '.' {
				return -1
			}
			p++
		}
		e := readDigits(s, p, 4)
		if e == p || e-p > 3 || atoi(s[p:e]) > 255 || (e-p > 1 && s[p] == '0') {
			return -1
		}
		p = e
	}
	return p
}

func (st *state) ipv4(i int) int {
	s := st.v.s
	if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.') {
		return -1
	}
	e := ipv4At(s, i)
	if e < 0 || !endOK(s, e) {
		return -1
	}
	end := e
	if e+1 < len(s) && s[e] == '/' {
		ce := readDigits(s, e+1, 3)
		if ce > e+1 && endOK(s, ce) && atoi(s[e+1:ce]) <= 32 {
			end = ce
		}
	}
	st.add(IP_ADDRESS, i, end, 0.9)
	return end
}

// ipv6 parses an IPv6 address (with "::" compression, an embedded IPv4
// tail, a zone and a prefix length) starting at i. It returns the end, or
// -1 when there is none.
func (st *state) ipv6(i int) int {
	s := st.v.s
	n := len(s)
	p, groups, dbl := i, 0, false
	if p+1 < n && s[p] == ':' && s[p+1] == ':' {
		dbl = true
		p += 2
	}
	for p < n {
		h := p
		for h < n && h-p < 5 && isHex(s[h]) {
			h++
		}
		if h == p {
			break
		}
		if h+1 < n && s[h] == '.' && isDigit(s[h+1]) && allDigits(s[p:h]) {
			e := ipv4At(s, p)
			if e < 0 || groups > 6 || (dbl && groups > 5) {
				return -1
			}
			groups += 2
			p = e
			break
		}
		if h-p > 4 {
			return -1
		}
		groups++
		p = h
		if p+1 < n && s[p] == ':' && s[p+1] == ':' {
			if dbl {
				return -1
			}
			dbl = true
			p += 2
			continue
		}
		if p+1 < n && s[p] == ':' && isHex(s[p+1]) {
			p++
			continue
		}
		break
	}
	if (dbl && groups > 7) || (!dbl && groups != 8) {
		return -1
	}
	if p < n {
		c := s[p]
		if isAlnum(c) || (c == ':' && p+1 < n && (isHex(s[p+1]) || s[p+1] == ':')) || (c == '.' && p+1 < n && isDigit(s[p+1])) {
			return -1
		}
	}
	end := p
	if end+1 < n && s[end] == '%' && isAlnum(s[end+1]) {
		z := end + 1
		for z < n && z-end < 16 && isAlnum(s[z]) {
			z++
		}
		end = z
	}
	if end+1 < n && s[end] == '/' {
		ce := readDigits(s, end+1, 4)
		if ce > end+1 && endOK(s, ce) && atoi(s[end+1:ce]) <= 128 {
			end = ce
		}
	}
	score := 0.9
	if groups == 0 {
		score = 0.1 // "::" alone is usually not an address
	}
	st.add(IP_ADDRESS, i, end, score)
	return end
}

// ---- email and URL ----

func isLocalPart(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// hostAt parses dot-separated DNS labels at i. It returns the end, the
// number of labels and the start of the last label.
func hostAt(s string, i int) (end, labels, last int) {
	p := i
	for p < len(s) && p-i < 253 {
		q := p
		for q < len(s) && q-p < 63 && (isAlnum(s[q]) || s[q] == '-') {
			q++
		}
		if q == p || s[p] == '-' {
			break
		}
		labels++
		last = p
		end = q
		if q+1 < len(s) && s[q] == '.' && isAlnum(s[q+1]) {
			p = q + 1
			continue
		}
		break
	}
	return end, labels, last
}

func validTLD(t string) bool {
	if len(t) >= 4 && (t[:4] == "xn--" || t[:4] == "XN--") {
		return true
	}
	if len(t) < 2 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isLetter(t[i]) {
			return false
		}
	}
	return true
}

func (st *state) email(at int) {
	s := st.v.s
	k := at
	for k > 0 && at-k < 64 && isLocalPart(s[k-1]) {
		k--
	}
	for k < at && (s[k] == '.' || s[k] == '-') {
		k++
	}
	if k == at || s[at-1] == '.' {
		return
	}
	end, labels, last := hostAt(s, at+1)
	if labels < 2 || !validTLD(s[last:end]) || !endOK(s, end) {
		return
	}
	st.add(EMAIL, k, end, 0.95)
}

// commonTLD lists top-level domains accepted for bare domain names (no
// scheme): generic ones plus frequent country codes, leaving out codes that
// collide with abbreviations in clinical text.
var commonTLD = map[string]bool{
	"com": true, "net": true, "org": true, "edu": true, "gov": true, "mil": true, "int": true, "info": true,
	"biz": true, "io": true, "co": true, "ai": true, "app": true, "dev": true, "site": true, "online": true,
	"store": true, "tech": true, "xyz": true, "me": true, "tv": true, "us": true, "uk": true, "de": true,
	"fr": true, "it": true, "es": true, "nl": true, "be": true, "ch": true, "at": true, "se": true, "no": true,
	"dk": true, "fi": true, "pl": true, "pt": true, "br": true, "ar": true, "mx": true, "ca": true, "au": true,
	"nz": true, "jp": true, "cn": true, "in": true, "ru": true, "il": true, "za": true, "kr": true, "gr": true,
	"hu": true, "cz": true, "sk": true, "ro": true, "bg": true, "hr": true, "si": true, "rs": true, "tr": true,
	"ua": true, "ie": true, "eu": true, "asia": true, "mobi": true, "health": true, "care": true, "clinic": true,
	"hospital": true, "webcam": true, "vlaanderen": true, "cloud": true, "shop": true, "blog": true,
	"news": true, "live": true, "life": true, "world": true, "email": true, "link": true, "club": true,
	"ee": true, "lt": true, "lv": true, "is": true, "cy": true, "tw": true, "hk": true, "sg": true,
}

func isURLChar(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '`' && c != '\\' && c != '{' && c != '}' && c != '|' && c != '^'
}

// urlTail extends a URL over port, path, query and fragment and trims
// trailing punctuation.
func urlTail(s string, p int) int {
	if p < len(s) && (s[p] == ':' || s[p] == '/' || s[p] == '?' || s[p] == '#') {
		for p < len(s) && isURLChar(s[p]) {
			p++
		}
	}
	for p > 0 {
		switch s[p-1] {
		case '.', ',', ';', ':', '!', '?', ')', ']':
			p--
			continue
		}
		break
	}
	return p
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// url handles a scheme URL at i (the scheme word). Returns end or -1.
func (st *state) url(i, j int) int {
	s := st.v.s
	p := j + 3
	if p >= len(s) {
		return -1
	}
	var end int
	// A URL whose host is an IP literal is left to the IP detector: the
	// address is the identifier.
	e, labels, last := hostAt(s, p)
	if labels < 2 || !validTLD(s[last:e]) {
		return -1
	}
	end = e
	end = urlTail(s, end)
	st.add(URL, i, end, 0.9)
	return end
}

// domain handles a bare domain name starting at word i.
func (st *state) domain(i int) int {
	s := st.v.s
	if i > 0 {
		c := s[i-1]
		if c == '.' || c == '@' || c == '/' || c == '-' || c == '_' {
			return -1
		}
	}
	e, labels, last := hostAt(s, i)
	if labels < 2 || !endOK(s, e) {
		return -1
	}
	var tb [16]byte
	tld := s[last:e]
	if len(tld) > len(tb) {
		return -1
	}
	for k := 0; k < len(tld); k++ {
		tb[k] = lower(tld[k])
	}
	if !commonTLD[string(tb[:len(tld)])] {
		return -1
	}
	www := hasPrefixFold(s[i:], "www.")
	if www && labels < 3 {
		return -1
	}
	score := 0.6
	if www {
		score = 0.8
	}
	end := e
	if end < len(s) && s[end] == '/' {
		end = urlTail(s, end)
	}
	st.add(URL, i, end, score)
	return end
}
