package phi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Word and mixed-token detectors: URLs, month-name dates, names, addresses
// and alphanumeric identifiers (IBAN, MBI, DEA, VIN, context IDs).

var (
	firstNames = wordSet(firstNamesData + "\n" + moreFirstNamesData)
	surnames   = wordSet(surnamesData + "\n" + moreSurnamesData)
)

func wordSet(data string) map[string]bool {
	m := make(map[string]bool, 1024)
	for _, w := range strings.Fields(data) {
		m[w] = true
	}
	return m
}

// notName are capitalised words that end or reject a name.
var notName = wordSet(`the a an and or of in on at to for with by from is was are were be been he she his her hers
they them this that these those it its i you we my your our their me us hospital clinic medical center centre health
street st road rd avenue ave patient name date phone mrn dob ssn address email dr mr mrs ms miss prof doctor
monday tuesday wednesday thursday friday saturday sunday january february march april june july august september
october november december inc llc ltd corp company university county city state department dept emergency room
unit ward history diagnosis plan assessment note notes report summary admitted discharged presents presented
reports denies has had will can could would should please thank thanks yes no not am if but so as then than
dear hi hello regards sincerely best md do rn np pa phd mba jr sr ii iii iv us usa uk er icu or ed id no mg ml
blood pressure heart rate chief complaint medication medications allergies follow followup male female`)

// lowerWord lowercases s into b (at most len(b) bytes); ok is false if too long.
func lowerWord(b []byte, s string) ([]byte, bool) {
	if len(s) > len(b) {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		b[i] = lower(s[i])
	}
	return b[:len(s)], true
}

func (st *state) word(i, j int) int {
	s := st.v.s
	n := len(s)
	var lb [16]byte
	lw, ok := lowerWord(lb[:], s[i:j])
	if !ok {
		return j
	}
	flags := wordFlags[wordHash(lw)]
	if flags&wfCtx != 0 {
		if c, ok := ctxWords[string(lw)]; ok {
			st.ctx.push(j, c)
		}
	}
	if flags&wfCue == 0 && !isUpper(s[i]) && (j+1 >= n || s[j] != '.') {
		return j
	}
	if j+2 < n && s[j] == ':' && s[j+1] == '/' && s[j+2] == '/' {
		switch string(lw) {
		case "http", "https", "ftp", "sftp":
			if e := st.url(i, j); e > 0 {
				return e
			}
		}
		return j
	}
	if j+1 < n && s[j] == '.' && isAlnum(s[j+1]) {
		if e := st.domain(i); e > 0 {
			return e
		}
	}
	if flags&wfCue == 0 {
		// None of the words below: straight to the capitalised-word rules.
		return st.names(i, j, nil)
	}
	if j-i >= 3 && j-i <= 9 {
		if monthNum(lw) > 0 {
			if e := st.monthDate(i); e > 0 {
				return e
			}
		}
	}
	switch string(lw) {
	case "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday":
		// A weekday is an element of a date (Safe Harbor: all elements
		// except the year).
		if isUpper(s[i]) && endOK(s, j) {
			st.add(DATE, i, j, 0.6)
		}
		return j
	case "corner":
		if e := st.corner(j); e > 0 {
			return e
		}
		return j
	case "apt", "apartment", "suite", "ste", "box":
		if isUpper(s[i]) {
			if e := st.unit(i, j); e > 0 {
				return e
			}
		}
	}
	return st.names(i, j, lw)
}

// unit reports an address unit or box on its own: "Apt. 4B", "Suite 377",
// "P.O. Box 149", "PSC 3294, Box 9168".
func (st *state) unit(i, j int) int {
	s := st.v.s
	p := j
	if p < len(s) && s[p] == '.' {
		p++
	}
	p = skipSpaces(s, p)
	if p < len(s) && s[p] == '#' {
		p++
	}
	e := p
	nd := 0
	for e < len(s) && isAlnum(s[e]) && e-p < 8 {
		if isDigit(s[e]) {
			nd++
		}
		e++
	}
	if nd == 0 || !endOK(s, e) {
		return -1
	}
	start := i
	if s[i] == 'B' || s[i] == 'b' { // "P.O. Box", "PO Box", "PSC 123, Box"
		switch {
		case i >= 5 && s[i-5:i] == "P.O. ":
			start = i - 5
		case i >= 3 && (s[i-3:i] == "PO " || s[i-3:i] == "Po "):
			start = i - 3
		default:
			k := i
			for k > 0 && (s[k-1] == ' ' || s[k-1] == ',') && i-k < 3 {
				k--
			}
			q := k
			for q > 0 && isDigit(s[q-1]) {
				q--
			}
			if q < k && q >= 4 && (s[q-4:q] == "PSC " || s[q-4:q] == "CMR ") {
				start = q - 4
			} else if q < k && q >= 5 && s[q-5:q] == "Unit " {
				start = q - 5
			} else {
				return -1 // a bare "Box 12" is too common
			}
		}
	}
	if m := militaryLine(s, e); m > 0 {
		// "PSC 3294, Box 9168\nAPO AA 61487": one military address.
		st.add(ADDRESS, start, m, 0.75)
		return m
	}
	st.add(ADDRESS, start, e, 0.6)
	st.placeLines(e)
	return e
}

// militaryLine returns the end of an "APO AA 61487" line (APO/FPO/DPO, a
// two-letter military state and a ZIP) on the line after e, or -1.
func militaryLine(s string, e int) int {
	p := e
	for p < len(s) && (s[p] == ' ' || s[p] == ',') {
		p++
	}
	if p >= len(s) || s[p] != '\n' {
		return -1
	}
	p = skipSpaces(s, p+1)
	if p+12 > len(s) || s[p+1] != 'P' || s[p+2] != 'O' || s[p+3] != ' ' || (s[p] != 'A' && s[p] != 'F' && s[p] != 'D') {
		return -1
	}
	if st := s[p+4 : p+6]; st != "AA" && st != "AE" && st != "AP" || s[p+6] != ' ' {
		return -1
	}
	z := readDigits(s, p+7, 6)
	if z-p-7 != 5 || !endOK(s, z) {
		return -1
	}
	return z
}

// nameWordEnd returns the end of a capitalised name word at p (letters,
// including non-ASCII ones, apostrophes and hyphens inside) or -1.
func nameWordEnd(s string, p int) int {
	if p >= len(s) {
		return -1
	}
	if s[p] < utf8.RuneSelf {
		if !isUpper(s[p]) {
			return -1
		}
	} else {
		r, _ := utf8.DecodeRuneInString(s[p:])
		if !unicode.IsUpper(r) {
			return -1
		}
	}
	q := p
	for q < len(s) {
		c := s[q]
		switch {
		case isLetter(c):
			q++
		case c >= utf8.RuneSelf:
			r, sz := utf8.DecodeRuneInString(s[q:])
			if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
				return q
			}
			q += sz
		case (c == '\'' || c == '-') && q > p && q+1 < len(s) && isLetter(s[q+1]):
			if c == '\'' && s[q+1] == 's' && (q+2 == len(s) || !isLetter(s[q+2])) {
				return q // possessive: "Lemmens's", "Bell's"
			}
			q++
		default:
			return q
		}
	}
	return q
}

// nameSeq reads up to max capitalised name words (and middle initials)
// separated by single spaces at p. It returns the end of the last word
// and the number of words.
func nameSeq(s string, p, maxWords int) (end, words int, last int) {
	end = -1
	var lb [16]byte
	for words < maxWords {
		q := nameWordEnd(s, p)
		if q < 0 {
			break
		}
		if q-p == 1 && q < len(s) && s[q] == '.' { // middle initial
			if words == 0 {
				break
			}
			q++
		} else {
			if lw, ok := lowerWord(lb[:], s[p:q]); ok && wordFlags[wordHash(lw)]&wfNot != 0 && notName[string(lw)] {
				break
			}
			if q-p == 1 {
				break
			}
			last = p
		}
		end = q
		words++
		if q+1 < len(s) && s[q] == ' ' {
			p = q + 1
			continue
		}
		break
	}
	// Do not end on an initial.
	if end > 0 && s[end-1] == '.' && last > 0 {
		e := nameWordEnd(s, last)
		end = e
	}
	return end, words, last
}

// lowerNameSeq reads a name typed in lower case after "my name is" or
// "Name:" ("my name is lena andersson", "name: eric g. samoylova"): up to
// three words, inner single-letter initials allowed, none a function or
// common word. Capitalisation cannot vouch for it, so a word must be in the
// name lists, or the name must end the sentence. It returns the end or -1.
func lowerNameSeq(s string, p int) int {
	n := len(s)
	var lb [16]byte
	end, words, listed := -1, 0, false
	for words < 4 && p < n && (isLower(s[p]) || s[p] >= utf8.RuneSelf) {
		q := letterWordEnd(s, p)
		if q == p {
			break
		}
		lw, ok := lowerWord(lb[:], s[p:q])
		if !ok || upperAt(s, p) {
			break
		}
		k := kindOf(lw)
		if q-p == 1 {
			if words == 0 || q+1 >= n {
				break
			}
			if s[q] == '.' {
				q++
			}
		} else {
			if k&(kNotName|kCommon|kVocab|kOrg) != 0 || medicalWord(lw) {
				break
			}
			listed = listed || k&(kFirst|kSurname) != 0
			end = q
		}
		words++
		if words < 4 && q+1 < n && s[q] == ' ' {
			p = q + 1
			continue
		}
		break
	}
	if end < 0 {
		return -1
	}
	if !listed && end < n && s[end] != '.' && s[end] != '!' && s[end] != '?' && s[end] != ',' && s[end] != '\n' {
		return -1
	}
	return end
}

func skipSpaces(s string, p int) int {
	for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
		p++
	}
	return p
}

// names finds person names from cue words (titles, "name is", "Patient:",
// sign-offs) and from the first-name frequency list. lw is the lowercased
// word, or nil when wordFlags already says it is no cue.
func (st *state) names(i, j int, lw []byte) int {
	s := st.v.s
	n := len(s)
	cue, score := -1, 0.0
	weak := false // a cue without punctuation: needs more evidence
	switch string(lw) {
	case "dr", "mr", "mrs", "ms", "miss", "mx", "prof", "doctor", "sister", "nurse":
		if isUpper(s[i]) {
			p := j
			if p < n && s[p] == '.' {
				p++
			}
			cue, score = skipSpaces(s, p), 0.85
		}
	case "name", "named", "called", "patient", "pt", "signed", "signature", "sincerely", "regards", "attending", "physician", "surgeon", "provider", "referred", "mother", "father", "wife", "husband", "son", "daughter", "spouse", "guardian":
		p := j
		if p+1 < n && s[p] == '\'' && s[p+1] == 's' {
			p += 2
		}
		p = skipSpaces(s, p)
		if p+1 < n && s[p] == 'i' && s[p+1] == 's' && (p+2 == n || s[p+2] == ' ' || s[p+2] == ':') {
			p += 2
		}
		if p < n && (s[p] == ':' || s[p] == ',' || s[p] == '-' || s[p] == '?') {
			p++
		} else if p > j && s[p-1] != 's' { // not "name is"
			weak = true
		}
		for p < n && (s[p] == ' ' || s[p] == '\n' || s[p] == '\r' || s[p] == '\t') && p-j < 8 {
			p++
		}
		cue, score = p, 0.8
	case "by", "from", "to", "user", "customer", "client", "author", "attn", "attention", "recipient", "sender", "cc":
		// Header-style fields: only with a colon ("From: Jane Doe").
		p := skipSpaces(s, j)
		if p < n && s[p] == ':' {
			p = skipSpaces(s, p+1)
			cue, score = p, 0.75
		}
	case "dear", "hi", "hello", "thanks":
		p := j
		if p < n && s[p] == ',' {
			p++
		}
		if p < n && s[p] == ' ' {
			cue, score = p+1, 0.65
		}
	case "i":
		p := j
		if p+2 < n && s[p] == '\'' && s[p+1] == 'm' && s[p+2] == ' ' {
			cue, score = p+3, 0.6
		} else if p+4 < n && s[p:p+4] == " am " {
			cue, score = p+4, 0.6
		}
	}
	if cue >= 0 {
		if e, words, _ := nameSeq(s, cue, 3); words > 0 && e > cue {
			listed := inSet(surnames, s, lastWordStart(s, cue, e), e) || inSet(firstNames, s, cue, nameWordEnd(s, cue))
			if listed {
				score += 0.1
			} else if weak && words < 2 {
				return j
			}
			st.add(NAME, cue, e, score)
			return e
		}
		if string(lw) == "name" && !weak {
			if e := lowerNameSeq(s, cue); e > cue {
				st.add(NAME, cue, e, 0.7)
				return e
			}
		}
		return j
	}
	if !isUpper(s[i]) {
		return j
	}
	if e := st.capitalised(i); e > 0 {
		return e
	}
	return j
}

// sentenceStart reports whether the word at i begins a sentence (where
// capitalisation says nothing).
func sentenceStart(s string, i int) bool {
	p := i
	for p > 0 && (s[p-1] == ' ' || s[p-1] == '"') {
		p--
	}
	return p == 0 || s[p-1] == '.' || s[p-1] == '!' || s[p-1] == '?' || s[p-1] == '\n' || s[p-1] == ':'
}

// inSet reports whether s[a:b], lowercased, is in m, without allocating.
func inSet(m map[string]bool, s string, a, b int) bool {
	var buf [24]byte
	if a < 0 || b <= a || b-a > len(buf) {
		return false
	}
	lw, _ := lowerWord(buf[:], s[a:b])
	return m[string(lw)]
}

func lastWordStart(s string, a, e int) int {
	for k := e - 1; k > a; k-- {
		if s[k-1] == ' ' {
			return k
		}
	}
	return a
}

// ---- addresses ----

// streetSuffix are street types written after the name: the USPS
// Publication 28 (Appendix C1) street suffixes and their abbreviations, plus
// a few British and Commonwealth ones.
var streetSuffix = wordSet(`street st str avenue ave av road rd boulevard blvd lane ln drive dr court ct place pl way
circle cir parkway pkwy highway hwy terrace ter trail trl square sq alley loop crescent close plaza plz pike
turnpike expressway freeway causeway motorway bypass crossroad crossroads crossing junction extension extensions
mall mews gardens garden grove heights ridge run row walk vista view villages village ville union unions pass
point points port ports harbor harbors haven hollow knoll knolls landing lodge manor manors meadow meadows mill
mills orchard oval passage path pines plains prairie radial ramp ranch rapids rest shoal shoals shore shores
skyway spur stravenue stream summit throughway trace track trafficway tunnel underpass viaduct wells estate
estates gateway cliffs common commons corner corners course courts cove coves creek crest curve dale dam
divide drives falls flat flats fords forest forge fork forks fort glen glens greens hills inlet isle keys lakes
lights locks mountain mountains neck overpass parks parkways route squares stations streets streets springs
camp canyon cape centers fields fwy expy tpke hl hts jct mnr pt rdg sta trce trak vw vlg xing`)

var unitWords = wordSet(`apt apartment suite ste unit room rm floor fl bldg building`)

// address: "123 Main Street, Apt 4, Springfield, IL". It returns the end,
// or -1.
func (st *state) address(i, j int) int {
	s := st.v.s
	n := len(s)
	if j-i > 6 || j+2 >= n || s[j] != ' ' || !isUpper(s[j+1]) {
		return -1
	}
	p := j + 1
	end := -1
	numbered := false // the word before the suffix is a house number: "Magasinsgatan 7 St."
	var lb [16]byte
	for words := 0; words < 6 && p < n; words++ {
		q := p
		for q < n && (isAlnum(s[q]) || s[q] == '\'') {
			q++
		}
		if q == p {
			break
		}
		lw, ok := lowerWord(lb[:], s[p:q])
		if ok && words > 0 && streetSuffix[string(lw)] {
			end = q
			if end < n && s[end] == '.' {
				end++
			}
			break
		}
		numbered = words > 0 && readDigits(s, p, 6) == q
		if !isUpper(s[p]) && !isDigit(s[p]) {
			break
		}
		if q >= n || s[q] != ' ' {
			break
		}
		p = q + 1
	}
	if end < 0 {
		return -1
	}
	// Unit: ", Apt 4B", " #12", or on the next line.
	q := end
	if q < n && s[q] == ',' {
		q++
	}
	for q < n && q-end < 6 && (s[q] == ' ' || s[q] == '\n' || s[q] == '\r' || s[q] == '\t') {
		q++
	}
	if q < n && s[q] == '#' {
		e := q + 1
		for e < n && isAlnum(s[e]) {
			e++
		}
		if e > q+1 {
			end = e
		}
	} else {
		w := q
		for w < n && isLetter(s[w]) {
			w++
		}
		if lw, ok := lowerWord(lb[:], s[q:w]); ok && w > q && unitWords[string(lw)] {
			v := w
			if v < n && s[v] == '.' {
				v++
			}
			v = skipSpaces(s, v)
			if v < n && s[v] == '#' {
				v++
			}
			e := v
			for e < n && isAlnum(s[e]) {
				e++
			}
			if e > v {
				end = e
			}
		}
	}
	// City and state: ", Springfield, IL".
	q = end
	if q+2 < n && s[q] == ',' && s[q+1] == ' ' {
		ce, words, _ := nameSeq(s, q+2, 3)
		if words > 0 {
			r := ce
			if r < n && s[r] == ',' {
				r++
			}
			r = skipSpaces(s, r)
			if r+1 < n && usStates[[2]byte{s[r], s[r+1]}] && (r+2 == n || !isAlnum(s[r+2])) {
				end = r + 2
			}
		}
	}
	if numbered {
		// Two numbers, as in streetNum: the leading one is its own component.
		st.add(ADDRESS, i, j, 0.8)
		i = j + 1
	}
	st.add(ADDRESS, i, end, 0.8)
	st.placeLines(end)
	return end
}

// ---- mixed letter/digit tokens ----

func (st *state) mixed(i, j, nd int) int {
	s := st.v.s
	n := len(s)
	L := j - i
	if i > 0 && (s[i-1] == '.' || s[i-1] == '/' || s[i-1] == '_' || s[i-1] == '-') {
		return j
	}
	if e := st.ordinalDate(i, j, nd); e > 0 {
		return e
	}
	all, near := st.ctxAt(i)
	var buf [40]byte
	// MBI written 1EG4-TE5-MK73.
	if L == 4 && j+9 <= n && s[j] == '-' && s[j+4] == '-' {
		k := copy(buf[:], s[i:j])
		ok := true
		for q := j + 1; q < j+9; q++ {
			if q == j+4 {
				continue
			}
			if !isAlnum(s[q]) {
				ok = false
			}
			buf[k] = s[q]
			k++
		}
		if ok && validMBI(buf[:11]) && endOK(s, j+9) {
			st.add(MBI, i, j+9, 0.85)
			return j + 9
		}
	}
	// IBAN, possibly in groups of four.
	if L >= 4 && isLetter(s[i]) && isLetter(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
		if e := st.iban(i); e > 0 {
			return e
		}
	}
	if !endOK(s, j) {
		return j
	}
	t := s[i:j]
	switch L {
	case 11:
		if validMBI([]byte(t)) {
			sc := 0.5
			if all&(cMedicare|cPlan) != 0 {
				sc = 0.9
			}
			st.add(MBI, i, j, sc)
			return j
		}
	case 9:
		if validDEA([]byte(t)) {
			sc := 0.85
			if all&cDEA != 0 {
				sc = 0.95
			}
			st.add(DEA, i, j, sc)
			return j
		}
		if isLetter(t[0]) && nd == 8 && near&cPassport != 0 {
			st.add(PASSPORT, i, j, 0.85)
			return j
		}
	case 17:
		if charset, check := vinCheck([]byte(t)); charset {
			switch {
			case check:
				sc := 0.9
				if all&cVIN != 0 {
					sc = 1
				}
				st.add(VIN, i, j, sc)
				return j
			case t[0] < '1' || t[0] > '5':
				// Outside North America the check digit is optional.
				sc := 0.5
				if all&cVIN != 0 {
					sc = 0.75
				}
				st.add(VIN, i, j, sc)
				return j
			}
		}
	}
	// Context IDs such as "MRN: A1234567" or "Member ID XJH-448812".
	e := j
	for e+1 < n && s[e] == '-' && isAlnum(s[e+1]) && e-i < 24 {
		e++
		for e < n && isAlnum(s[e]) {
			e++
		}
	}
	if e-i >= 5 && e-i <= 24 && nd >= 3 {
		st.ctxID(all, near, i, e, e-i)
	}
	return e
}

// ordinalDate: "3rd March 2020", "21st of May", "5th Jan".
func (st *state) ordinalDate(i, j, nd int) int {
	s := st.v.s
	if nd < 1 || nd > 2 || j-i != nd+2 || j >= len(s) || s[j] != ' ' {
		return -1
	}
	switch s[i+nd : j] {
	case "st", "nd", "rd", "th":
	default:
		return -1
	}
	if d := atoi(s[i : i+nd]); d < 1 || d > 31 {
		return -1
	}
	p := j + 1
	if hasPrefixFold(s[p:], "of ") {
		p += 3
	}
	me := monthAt(s, p)
	if me < 0 {
		return -1
	}
	end, sc := me, 0.7
	q := me
	if q < len(s) && s[q] == ',' {
		q++
	}
	if q+1 < len(s) && s[q] == ' ' && isDigit(s[q+1]) {
		ye := readDigits(s, q+1, 5)
		if ye-q-1 == 4 && validYear(s[q+1:ye]) && endOKNum(s, ye) {
			end, sc = ye, 0.85
		}
	}
	if !endOK(s, end) && s[end-1] != '.' {
		return -1
	}
	st.add(DATE, i, end, sc)
	return end
}

// iban reads an IBAN at i, compact or in space-separated groups.
func (st *state) iban(i int) int {
	s := st.v.s
	want, ok := ibanLen[[2]byte{upper(s[i]), upper(s[i+1])}]
	if !ok || isUpper(s[i]) != isUpper(s[i+1]) {
		return -1
	}
	caseUpper := isUpper(s[i])
	var buf [34]byte
	k, p := 0, i
	var sep byte
	for p < len(s) {
		q := p
		for q < len(s) && isAlnum(s[q]) && k < want {
			if isLetter(s[q]) && isUpper(s[q]) != caseUpper {
				return -1 // mixed case: "LV80 bANK ..." is not an IBAN
			}
			buf[k] = upper(s[q])
			k++
			q++
		}
		if q < len(s) && isAlnum(s[q]) {
			return -1
		}
		p = q
		if k == want {
			break
		}
		if p+1 < len(s) && (s[p] == ' ' || s[p] == '-') && isAlnum(s[p+1]) && (sep == 0 || sep == s[p]) {
			sep = s[p]
			p++
			continue
		}
		return -1
	}
	if k != want || !endOK(s, p) || !validIBAN(buf[:k]) {
		return -1
	}
	st.add(IBAN, i, p, 0.95)
	return p
}
