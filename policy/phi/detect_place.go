package phi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cue-free names, places and international street addresses, read from
// capitalisation and a few word lists. These rules trade some precision for
// recall (see docs/phi-evaluation.md); every score here is below the
// cue-based detectors', so a cue or a validated number wins an overlap.

// orgWords end or mark an organisation, a title or a product: a
// capitalised sequence containing one is not a person's name.
var orgWords = wordSet(`inc llc ltd corp corporation co company group insurance bank capital partners markets
investments holdings associates solutions systems services technologies technology labs software consulting
international global foundation institute university college school academy hospital clinic center centre
club orchestra band weekly times news journal magazine press act law court church museum library society
association council committee agency office department ministry bureau board trust fund records studios
pharmacy pharmaceuticals health healthcare medical care network networks data explorer public private national
royal princess prince queen king lord saint st mount mt lake river park beach island islands valley county
street avenue road boulevard lane drive court place way square country state states republic kingdom united
north south east west new old upper lower great little central airport station hotel restaurant cafe bar
project program programme service team division unit ward floor room building tower plaza mall force police army navy`)

// commonCap are frequent English words that are also given names or
// surnames ("Will", "Mark", "Brown"), medical eponyms, nationality
// adjectives and words that start sentences. Alone they are not a name.
var commonCap = wordSet(`will may mark bill rose grace hope joy faith long young white brown green black gray grey
king hill wood woods stone ford price bell day love page park lane case best good small short strong house
church branch wall rich golden snow moon person wise cross sharp little banks fields rivers holmes hunt
cook baker miller turner mason hunter carter porter parker walker fisher gardner sawyer taylor page frank
chase rush bush moss marsh field hall west north south east summer winter spring autumn april june august
parkinson alzheimer crohn hodgkin addison cushing graves wilson down turner bell raynaud kawasaki huntington
american english british french german polish norwegian swedish danish finnish dutch italian spanish greek
hungarian czech russian chinese japanese indian african european asian canadian mexican brazilian irish
what when where who why how which there here maybe have has do does did can could would should shall might
must also after before during since while because although however now today yesterday tomorrow unlike
celebrating title answer question yes okay ok sure sorry thank thanks hey welcome great nice good bad just
only even still every each all any some many most more less few other another such same first last next
new old big high low early late more very much well back over under about into onto upon within without
god lord jesus christ allah buddha internet web online email phone address billing shipping personal info
network computer systems administrator manager director engineer officer specialist analyst assistant
monday tuesday wednesday thursday friday saturday sunday bot user customer agent`)

// vocab are capitalised words of clinical and everyday English that are not
// names: a capitalised sequence containing one ("Internal Medicine",
// "Chief Complaint", "Heart Failure") is a heading or a term.
var vocab = wordSet(`medicine internal family general surgery surgical cardiology oncology neurology radiology
pediatrics paediatrics psychiatry dermatology urology nephrology pulmonology gastroenterology endocrinology
orthopedics obstetrics gynecology anesthesia anesthesiology pathology hematology rheumatology infectious
disease diseases emergency intensive critical primary physical occupational speech respiratory therapy
nursing urgent outpatient inpatient services service history exam examination review systems system past
social plan assessment impression diagnosis diagnoses discharge admission instructions education medication
medications allergies allergy vital vitals signs labs lab laboratory results imaging procedure procedures
operative note notes progress consult consultation chief complaint present illness problem problems list
heart failure blood pressure rate pulse oxygen saturation diabetes mellitus type hypertension cancer
chronic acute kidney renal liver lung lungs brain cardiac coronary artery pulmonary embolism stroke
infection sepsis pneumonia asthma copd injury fracture pain care unit units team hospital clinic center
health healthcare medical patient patients doctor doctors nurse nurses provider providers physician
physicians insurance medicare medicaid plan plans policy policies form forms consent order orders
report reports summary record records chart charts test tests testing screening protocol guideline
guidelines treatment treatments management follow followup visit visits appointment appointments
reason reasons status date time name names number numbers address phone email contact information
department dept division section floor room bed level grade stage class category group groups
normal abnormal positive negative left right bilateral upper lower anterior posterior total free
daily weekly monthly annual yearly morning evening night day week month year hours minutes
english spanish french german language languages version draft final copy page pages table figure
subject re fw fwd attachment attachments please note important urgent confidential private
home work school office business company account accounts bank billing payment payments price
street city state zip code country county region area district province town village
love life world peace war music song songs album film movie book novel story series show episode
dark light red blue green yellow orange purple pink white black brown gray grey gold silver
happy birthday christmas easter thanksgiving holiday holidays season summer winter spring fall autumn
mr mrs ms dr prof sir madam miss lady gentleman professor captain general president senator judge
southern northern eastern western central mission statement awarded
continue continued start started stop stopped increase increased decrease decreased hold held resume resumed
discontinue discontinued consider check order ordered obtain obtained refer referred monitor monitoring
given take taking treat treated start recommend recommended repeat schedule scheduled admit admitted
shock septic drugs drug coma score scale sign signs monitor holter sulfa insulin tablet tablets capsule
injection infusion dose doses therapy vaccine vaccination syndrome disorder deficiency failure
hospital course discharge emergency chest abdomen abdominal head neck back spine knee hip shoulder arm leg
foot hand skin eye ear nose throat urine stool culture cultures panel count lobe lobes extended release
immediate delayed sustained oral topical x-ray xray ray scan ultrasound echo fellow resident attending`)

// placePrefix are words that begin place names.
var placePrefix = wordSet(`port porto puerto cite cité san santa santo são saint sankt sainte bad nueva nuevo villa
ciudad fort lake mount monte isla ilha vila`)

// placeVerbs precede "to/from/in/at <Place>" in statements about where
// someone lives, was born or travels.
var placeVerbs = wordSet(`flew fly flying moved move moving here up based lives live living lived located
originally travelling traveling travel travelled traveled arrived arrive born am trip visit visiting
relocated came come return returned went going go raised resides reside resident residing stay staying stayed`)

// streetPrefix are street-type words written before the name ("Rua do
// Arenque", "ul. Słowicza", "Via Franscini").
var streetPrefix = wordSet(`rua via viale rue avenida avda av calle carrer camino strada piazza plac ul ulica
aleja al travessa largo praça praca estrada rambla paseo chemin allee boulevard bd`)

// streetEndings are street-type endings written into the name in Nordic,
// German, Dutch, Hungarian and other languages ("Kiannonkatu",
// "Søndergade", "Magasinsgatan", "Hauptstraße").
var streetEndings = []string{"katu", "kuja", "tie", "polku", "gade", "vej", "stræde", "gata", "gatan", "vägen",
	"väg", "veien", "vegen", "gate", "straße", "strasse", "str", "weg", "gasse", "platz", "straat", "laan",
	"plein", "gracht", "utca", "út", "útja", "tér", "ulice", "náměstí", "tee", "iela", "gatve", "cesta", "ulica"}

func hasStreetEnding(lw []byte) bool {
	for _, e := range streetEndings {
		if len(lw) >= len(e) && string(lw[len(lw)-len(e):]) == e {
			return true
		}
	}
	return false
}

// streetScore is above the cue-free name scores: "Μεγάλη Άμμος 184" is a
// street even though its words look like a name.
const streetScore = 0.72

// Word kinds: one lookup (behind the bloom prefilter) tells every list a
// lower-cased word is in.
const (
	kNotName uint16 = 1 << iota
	kOrg
	kVocab
	kCommon
	kFirst
	kSurname
	kStreetSuffix
	kStreetPrefix
	kPersonCue
	kPlaceVerb
	kCountry     // a country name, or the first word of a two-word one
	kPlacePrefix // starts a place name: "Port Paien", "San Mateo"
)

var lexicon = func() map[string]uint16 {
	m := make(map[string]uint16, 4096)
	for _, x := range []struct {
		set  map[string]bool
		kind uint16
	}{{notName, kNotName}, {orgWords, kOrg}, {vocab, kVocab}, {commonCap, kCommon}, {firstNames, kFirst},
		{surnames, kSurname}, {streetSuffix, kStreetSuffix}, {streetPrefix, kStreetPrefix},
		{personCue, kPersonCue}, {placeVerbs, kPlaceVerb}, {countries, kCountry}, {countryFirst, kCountry},
		{placePrefix, kPlacePrefix}} {
		for w := range x.set {
			m[w] |= x.kind
		}
	}
	return m
}()

// kindOf returns the lexicon kinds of a lower-cased word (0 for most words).
func kindOf(lw []byte) uint16 {
	if len(lw) == 0 || wordFlags[wordHash(lw)]&wfLex == 0 {
		return 0
	}
	return lexicon[string(lw)]
}

// upperAt reports whether the character at p is an upper-case letter.
func upperAt(s string, p int) bool {
	if p >= len(s) {
		return false
	}
	if s[p] < utf8.RuneSelf {
		return isUpper(s[p])
	}
	r, _ := utf8.DecodeRuneInString(s[p:])
	return unicode.IsUpper(r)
}

// letterWordEnd returns the end of a word of letters (any case, any
// script, with inner apostrophes and hyphens) at p, or p.
func letterWordEnd(s string, p int) int {
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
			q++
		default:
			return q
		}
	}
	return q
}

// allCapsWord reports whether s[p:q] has no lower-case letter.
func allCapsWord(s string, p, q int) bool {
	for k := p; k < q; {
		c := s[k]
		if c < utf8.RuneSelf {
			if isLower(c) {
				return false
			}
			k++
			continue
		}
		r, sz := utf8.DecodeRuneInString(s[k:])
		if unicode.IsLower(r) {
			return false
		}
		k += sz
	}
	return true
}

// prevWord returns the word ending right before p (skipping spaces) and
// its start, lower-cased into b.
func prevWord(s string, p int, b []byte) ([]byte, int) {
	q := p
	for q > 0 && s[q-1] == ' ' && p-q < 3 {
		q--
	}
	k := q
	for k > 0 && isLetter(s[k-1]) && q-k < len(b) {
		k--
	}
	if k == q || (k > 0 && (isAlnum(s[k-1]) || s[k-1] >= utf8.RuneSelf)) {
		return nil, q
	}
	lw, _ := lowerWord(b, s[k:q])
	return lw, k
}

// capitalised handles a capitalised word at i that no cue claimed: a place
// after a residence or travel cue, a street name followed by its number, or
// a person's name. It returns the end of what it consumed, or -1.
func (st *state) capitalised(i int) int {
	s := st.v.s
	n := len(s)
	e0 := nameWordEnd(s, i)
	if e0 < 0 {
		return -1
	}
	// Fast path: a capitalised word starting a sentence and followed by a
	// lower-case word ("Denies chest pain", "Troponin negative") is a name
	// only before a verb such as "is", "had", "shouted".
	var lb, pb [16]byte
	if e0+1 < n && s[e0] == ' ' && isLower(s[e0+1]) && sentenceStart(s, i) && !afterColon(s, i) {
		if !personVerbAfter(s, e0) {
			return e0
		}
		if lw, ok := lowerWord(lb[:], s[i:e0]); !ok || kindOf(lw)&(kNotName|kCommon|kVocab|kOrg) != 0 {
			return e0 // "What is", "There was"
		}
	}
	// An all-caps ASCII word (SSN, DOB, IBAN, OSLO) is never part of a
	// name here; it can only be a place after a cue.
	if e0-i > 1 && allUpperASCII(s[i:e0]) {
		if e := st.ship(i, e0); e > 0 {
			return e
		}
		if e := st.place(i, false); e > 0 {
			return e
		}
		return e0
	}
	lw0, _ := lowerWord(lb[:], s[i:e0])
	if e := st.place(i, kindOf(lw0)&kCountry != 0); e > 0 {
		return e
	}
	// Read up to four words: capitalised name words and middle initials.
	p, end, words, initials := i, -1, 0, 0
	listed, nonASCII, org, street, place := false, false, false, false, false
	for words+initials < 4 {
		q := nameWordEnd(s, p)
		if q < 0 {
			if words > 0 && p < n && isLower(s[p]) {
				// A lower-case word inside: "Rua do Arenque 1634".
				q = letterWordEnd(s, p)
				if q-p > 3 || q+1 >= n || s[q] != ' ' {
					break
				}
				p = q + 1
				continue
			}
			break
		}
		if q-p == 1 || (q-p == 2 && s[p+1] == '.') {
			// A middle initial: "Faina D. Yefremova", "Kate M Begum".
			if words == 0 {
				break
			}
			if q < n && s[q] == '.' {
				q++
			}
			initials++
		} else {
			lw, ok := lowerWord(lb[:], s[p:q])
			k := kindOf(lw)
			if words > 0 && k&(kStreetSuffix|kFirst|kSurname) == kStreetSuffix && s[p] < utf8.RuneSelf && !allCapsWord(s, p, q) {
				// "Rennie Union", "Kishiev Squares": a street without its number.
				e := q
				if e < n && s[e] == '.' {
					e++
				}
				if hn := houseNumber(s, e+1); e+1 < n && s[e] == ' ' && hn > 0 {
					e = hn
				}
				st.add(ADDRESS, i, e, 0.6)
				st.placeLines(e)
				return e
			}
			if ok && strings.Contains(string(lw), "'") && !isUpper(s[min(p+2, q-1)]) && q-p-strings.IndexByte(string(lw), '\'') <= 3 {
				break // "You're", "Don't"
			}
			if words > 0 && k&kCountry != 0 && countries[string(lw)] {
				// "Moosleerau Switzerland": a place and its country.
				st.add(ADDRESS, i, q, 0.6)
				return q
			}
			if words == 0 && k&kPlacePrefix != 0 && q+1 < n && s[q] == ' ' && upperAt(s, q+1) {
				place = true // "Port Paien", "Cite Merzgui", "São Tiago"
			}
			if k&(kNotName|kOrg|kVocab) != 0 {
				org = org || k&kOrg != 0
				if words == 0 && k&kStreetPrefix != 0 {
					street = true
				} else {
					break
				}
			}
			if k&kStreetPrefix != 0 || (ok && q+1 < n && s[q] == ' ' && isDigit(s[q+1]) && hasStreetEnding(lw)) {
				street = true
			}
			if allCapsWord(s, p, q) && q-p > 1 {
				break
			}
			if k&(kFirst|kSurname) != 0 && k&kCommon == 0 {
				listed = true
			} else if k&(kFirst|kSurname) == 0 && ok && medicalWord(lw) {
				break // "Diabetic Neuropathy", "Klebsiella Pneumoniae"
			}
			if !ok || s[p] >= utf8.RuneSelf || hasNonASCII(s[p:q]) {
				nonASCII = true
			}
			words++
		}
		end = q
		if q+1 < n && s[q] == ' ' && (upperAt(s, q+1) || (street && isLower(s[q+1])) || (isDigit(s[q+1]) && words > 0)) {
			if isDigit(s[q+1]) {
				break
			}
			p = q + 1
			continue
		}
		break
	}
	if end < 0 || words == 0 {
		if org {
			return e0
		}
		return -1
	}
	// Street name then house number: "Puruntie 82", "Via Franscini 71".
	if e := st.streetTail(i, end, street); e > 0 {
		return e
	}
	if org || street {
		return end
	}
	if place && words >= 2 {
		st.add(ADDRESS, i, end, 0.6)
		return end
	}
	// Trim a trailing initial.
	if s[end-1] == '.' || (end-2 >= i && s[end-2] == ' ') {
		for end > i && s[end-1] != ' ' {
			end--
		}
		end--
		initials--
	}
	if end <= i || eponym(s, end) {
		return max(end, e0)
	}
	first := nameWordEnd(s, i)
	lw, _ := lowerWord(lb[:], s[i:first])
	start := sentenceStart(s, i)
	pw, _ := prevWord(s, i, pb[:])
	article := pw != nil && (string(pw) == "the" || string(pw) == "a" || string(pw) == "an")
	k := kindOf(lw)
	isListed := k&(kFirst|kSurname) != 0 && k&kCommon == 0
	if words == 1 && initials == 0 {
		if e := st.nameList(i, first); e > 0 {
			return e
		}
	}
	switch {
	case words >= 2:
		sc := 0.6
		if listed || initials > 0 || nonASCII {
			sc = 0.7
		}
		if start && !listed && initials == 0 && k&kCommon != 0 {
			return end
		}
		st.add(NAME, i, end, sc)
	case article:
		// "the Christiansen novel": could be either; not a cue.
	case pw != nil && kindOf(pw)&kPersonCue != 0 && !start:
		// "says Hartvigsson", "named him Frank", "call me Csanád".
		st.add(NAME, i, first, 0.6)
	case k&kCommon != 0:
	case possessivePerson(s, first):
		// "Matej's address", "Franciska's kid".
		st.add(NAME, i, first, 0.6)
	case start && vocative(s, first) && !(len(lw) > 2 && string(lw[len(lw)-2:]) == "ly"):
		// "Leif, can I please speak to your boss?"
		st.add(NAME, i, first, 0.55)
	case start && personVerbAfter(s, first) && (isListed || nonASCII || personVerbStrong(s, first)):
		// "Kevin had given…", "Nora is very reliable", "Mehrudin shouted".
		st.add(NAME, i, first, 0.55)
	case !isListed:
		// One unlisted word: a name only as a speaker label.
		if first < n && s[first] == ':' && lineStart(s, i) && first+1 < n && s[first+1] == ' ' && nonASCII {
			st.add(NAME, i, first, 0.5)
		}
	case !start:
		st.add(NAME, i, first, 0.55)
	case first < n && (s[first] == ',' || s[first] == ':') && k&kFirst != 0:
		st.add(NAME, i, first, 0.55)
	}
	return end
}

// personCue are words after which a single capitalised word is a person:
// "says Joly", "named him Frank", "call me Csanád", "my kid Lukas".
var personCue = wordSet(`says said asked told tells wrote writes him her me kid child son daughter brother sister
friend husband wife boyfriend girlfriend partner colleague boss mr mrs ms dear hi hello hey thanks thank`)

// pluralPersonVerb reports a verb after a pair of names: "Marrero and
// Murphy were precision engineers".
func pluralPersonVerb(s string, e int) bool {
	if e+1 >= len(s) || s[e] != ' ' {
		return false
	}
	k := e + 1
	for k < len(s) && isLower(s[k]) && k-e < 10 {
		k++
	}
	switch s[e+1 : k] {
	case "were", "are", "have", "had", "met", "married", "said", "went", "founded", "wrote":
		return true
	}
	return false
}

// possessivePerson reports "'s" and a word for a person's belongings or
// relations after e: "Matej's address", "Asya's kid".
func possessivePerson(s string, e int) bool {
	if e+3 >= len(s) || s[e] != '\'' || s[e+1] != 's' || s[e+2] != ' ' {
		return false
	}
	q := e + 3
	k := q
	for k < len(s) && isLower(s[k]) && k-q < 12 {
		k++
	}
	switch s[q:k] {
	case "address", "kid", "kids", "child", "children", "wife", "husband", "mother", "father", "son", "daughter",
		"brother", "sister", "family", "house", "home", "car", "phone", "email", "birthday", "friend", "friends",
		"boss", "office", "account", "number", "parents", "partner", "killers", "death", "funeral", "room":
		return true
	}
	return false
}

// vocative reports ", " and a word that opens a request after e: "Leif,
// can I…", "Danial, could you…".
func vocative(s string, e int) bool {
	if e+2 >= len(s) || s[e] != ',' || s[e+1] != ' ' {
		return false
	}
	q := e + 2
	k := q
	for k < len(s) && isLetter(s[k]) && k-q < 8 {
		k++
	}
	switch s[q:k] {
	case "can", "could", "would", "will", "please", "I", "you", "we":
		return true
	}
	return false
}

// personVerbAfter reports a verb that usually follows a person's name at
// the start of a sentence: "Kevin had given", "Scott is a very…".
func personVerbAfter(s string, e int) bool {
	if e+1 >= len(s) || s[e] != ' ' {
		return false
	}
	k := e + 1
	for k < len(s) && isLower(s[k]) && k-e < 12 {
		k++
	}
	switch s[e+1 : k] {
	case "is", "was", "had", "has", "will", "would", "can", "lives", "lived", "said", "says", "shouted", "spent",
		"began", "told", "asked", "wrote", "went", "came", "married", "works", "worked", "called", "met", "loves":
		return true
	}
	return false
}

// personVerbStrong reports verbs that need a person as subject, so even an
// unlisted capitalised word before them is a name ("Mehrudin shouted").
func personVerbStrong(s string, e int) bool {
	k := e + 1
	for k < len(s) && isLower(s[k]) && k-e < 12 {
		k++
	}
	switch s[e+1 : k] {
	case "shouted", "spent", "said", "told", "asked", "wrote", "married", "lives", "lived", "had":
		return true
	}
	return false
}

// nameList reports a list of three or more single capitalised words ("They
// had 6: Gaetane, Hannah, Anthony, Derek, Anna and Andrew.", "founders:
// Kónya, Becker and Vasquez") of which at least half are listed names; each
// item is a NAME. A list followed by an organisation word ("Davis, Reynolds
// and Williamson Orchestra") is a company name and is skipped. It returns
// the end of what it consumed, or -1.
func (st *state) nameList(i, first int) int {
	s := st.v.s
	n := len(s)
	var starts, ends [8]int
	items, listed := 0, 0
	var lb [16]byte
	p, e := i, first
	for items < len(starts) {
		lw, ok := lowerWord(lb[:], s[p:e])
		k := kindOf(lw)
		if !ok || k&(kNotName|kVocab|kOrg) != 0 {
			return -1
		}
		if k&(kFirst|kSurname) != 0 {
			listed++
		}
		starts[items], ends[items] = p, e
		items++
		switch {
		case e+2 < n && s[e] == ',' && s[e+1] == ' ':
			p = e + 2
			if hasPrefixFold(s[p:], "and ") {
				p += 4
			}
		case e+5 < n && s[e:e+5] == " and ":
			p = e + 5
		default:
			p = -1
		}
		if p < 0 {
			break
		}
		if e = nameWordEnd(s, p); e < 0 {
			return -1
		}
		if e < n && s[e] == ' ' && upperAt(s, e+1) {
			// "…and Williamson Orchestra": a company name.
			if q := nameWordEnd(s, e+1); q > 0 {
				if lw, ok := lowerWord(lb[:], s[e+1:q]); ok && kindOf(lw)&kOrg != 0 {
					return q
				}
			}
			return -1
		}
	}
	if items < 2 || listed*2 < items || (items == 2 && !pluralPersonVerb(s, ends[1])) {
		return -1
	}
	// "Jones, Mitchell and Williams" after "at"/"from" or on its own line,
	// all surnames: a firm. A list after a colon is a list of people.
	if c := skipBack(s, i); !(c > 0 && s[c-1] == ':') && items == 3 {
		firm := true
		for k := 0; k < items; k++ {
			lw, ok := lowerWord(lb[:], s[starts[k]:ends[k]])
			if !ok || kindOf(lw)&(kSurname|kFirst) != kSurname {
				firm = false
			}
		}
		if firm {
			return ends[items-1]
		}
	}
	last := ends[items-1]
	if last+1 < n && s[last] == ' ' {
		if q := nameWordEnd(s, last+1); q > 0 {
			if lw, ok := lowerWord(lb[:], s[last+1:q]); ok && kindOf(lw)&kOrg != 0 {
				return q // a company: consume it, report nothing
			}
		}
	}
	for k := 0; k < items; k++ {
		st.add(NAME, starts[k], ends[k], 0.6)
	}
	return last
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func allUpperASCII(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isUpper(w[i]) {
			return false
		}
	}
	return true
}

// skipBack returns i moved back over spaces.
func skipBack(s string, i int) int {
	for i > 0 && s[i-1] == ' ' {
		i--
	}
	return i
}

// countries are country names in English (one- and two-word). A country is
// not a Safe Harbor identifier, but it is location data that the synthetic
// evaluation set labels; it scores 0.5, exactly the default MinScore, so a
// deployment that wants only Safe Harbor elements raises MinScore a hair.
var countries = wordSet(`afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan
bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei
bulgaria burundi cambodia cameroon canada chad chile china colombia congo croatia cuba cyprus czechia denmark
djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia
germany ghana greece greenland grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia
iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati kosovo kuwait kyrgyzstan laos
latvia lebanon lesotho liberia libya liechtenstein lithuania luxembourg madagascar malawi malaysia maldives
mali malta mauritania mauritius mexico micronesia moldova monaco mongolia montenegro morocco mozambique
myanmar namibia nauru nepal netherlands nicaragua niger nigeria norway oman pakistan palau palestine panama
paraguay peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia seychelles
singapore slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania
thailand togo tonga tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela
vietnam yemen zambia zimbabwe england scotland wales`)

// countryPairs are two-word country names, keyed by their first word.
var countryPairs = map[string]string{"united": "states kingdom", "south": "africa korea sudan", "new": "zealand",
	"czech": "republic", "saudi": "arabia", "sri": "lanka", "costa": "rica", "el": "salvador", "north": "korea macedonia",
	"dominican": "republic", "puerto": "rico", "hong": "kong", "ivory": "coast", "sierra": "leone", "papua": "new"}

var countryFirst = func() map[string]bool {
	m := map[string]bool{}
	for w := range countryPairs {
		m[w] = true
	}
	return m
}()

// country reports a country name at i as ADDRESS 0.5 ("Estonia was super
// fun", "coming to Germany"), or -1.
func (st *state) country(i int) int {
	s := st.v.s
	e := nameWordEnd(s, i)
	if e < 0 || e-i > 15 || allCapsWord(s, i, e) && e-i > 3 {
		return -1
	}
	var lb [16]byte
	lw, ok := lowerWord(lb[:], s[i:e])
	if !ok || kindOf(lw)&kCountry == 0 {
		return -1
	}
	if countries[string(lw)] {
		if e < len(s) && s[e] == '\'' { // "Poland's": still a place
			return -1
		}
		st.add(ADDRESS, i, e, 0.5)
		return st.countryPostcode(e)
	}
	if seconds, ok := countryPairs[string(lw)]; ok && e+1 < len(s) && s[e] == ' ' {
		if q := nameWordEnd(s, e+1); q > 0 && q-e-1 < 16 {
			var b2 [16]byte
			w2, _ := lowerWord(b2[:], s[e+1:q])
			for _, c := range strings.Fields(seconds) {
				if c == string(w2) {
					st.add(ADDRESS, i, q, 0.5)
					return st.countryPostcode(q)
				}
			}
		}
	}
	return -1
}

// countryPostcode reports a postcode that ends the line after a country
// name ending at e ("Finland 80896", "Spain 61709"): the last line of an
// address block that the block rules did not reach. A 4-digit number that
// reads as a year ("Germany 1990") is left alone. It returns the end.
func (st *state) countryPostcode(e int) int {
	s := st.v.s
	n := len(s)
	if e+1 >= n || s[e] != ' ' || !isDigit(s[e+1]) {
		return e
	}
	k := readDigits(s, e+1, 7)
	if d := k - e - 1; d < 4 || d > 6 || (d == 4 && (s[e+1:e+3] == "19" || s[e+1:e+3] == "20")) {
		return e
	}
	if k < n && s[k] != '\n' && s[k] != '\r' && !(s[k] == '.' && (k+1 == n || s[k+1] == '\n')) {
		return e
	}
	st.add(ADDRESS, e+1, k, 0.75)
	return k
}

// afterColon reports a ':' before i (spaces skipped): "Where: Beerze".
func afterColon(s string, i int) bool {
	for k := i - 1; k >= 0 && i-k < 8; k-- {
		if s[k] != ' ' {
			return s[k] == ':'
		}
	}
	return false
}

// lineStart reports whether only spaces (or quote marks) precede i on its line.
func lineStart(s string, i int) bool {
	for k := i - 1; k >= 0; k-- {
		switch s[k] {
		case ' ', '\t', '>':
			continue
		case '\n':
			return true
		}
		return false
	}
	return true
}

// eponym reports a capitalised word used in a disease or sign name:
// "Graves disease", "Bell's palsy", "Parkinson's".
func eponym(s string, e int) bool {
	if e+2 < len(s) && s[e] == '\'' && s[e+1] == 's' {
		e += 2 // "Bell's palsy", but "Maite Lemmens's killers" is a name
	}
	if e+1 >= len(s) || s[e] != ' ' {
		return false
	}
	q := e + 1
	k := q
	for k < len(s) && isLetter(s[k]) && k-q < 16 {
		k++
	}
	var b [16]byte
	lw, _ := lowerWord(b[:], s[q:k])
	switch string(lw) {
	case "disease", "syndrome", "palsy", "sign", "test", "score", "criteria", "scale", "procedure", "classification",
		"reflex", "phenomenon", "maneuver", "manoeuvre", "monitor", "catheter", "tube", "line", "node", "nodes",
		"fracture", "tumor", "tumour", "lymphoma", "sarcoma", "ulcer", "protocol", "index", "classification's":
		return true
	}
	return false
}

// medicalSuffixes mark drug, disease and procedure words ("Lipitor" is not
// caught, "Neuropathy", "Atorvastatin", "Appendectomy" are). A listed name
// is never rejected by them.
var medicalSuffixes = []string{"itis", "osis", "emia", "aemia", "ectomy", "otomy", "ostomy", "opathy", "pathy",
	"algia", "oma", "ase", "pril", "statin", "mab", "nib", "azole", "cillin", "mycin", "cycline", "sartan",
	"olol", "dipine", "glutide", "gliptin", "floxacin", "parin", "xaban", "profen", "coxib", "vir", "zepam",
	"azepam", "tidine", "prazole", "ine", "one", "ide", "ate", "gram", "graphy", "scopy", "plasty", "ic", "al",
	"ous", "iae", "ae", "tion", "sion"}

func medicalWord(lw []byte) bool {
	if len(lw) < 5 {
		return false
	}
	for _, x := range medicalSuffixes {
		if len(lw) > len(x)+2 && string(lw[len(lw)-len(x):]) == x {
			return true
		}
	}
	return false
}

// place reports a place name after a residence or travel cue: "flew to
// Loeches", "grew up in Remniku", "moved here from New Zealand",
// "Where: Erwetegem Country Club", and, if country is set, a country name
// without a cue.
func (st *state) place(i int, country bool) int {
	s := st.v.s
	var b1, b2 [16]byte
	w1, k := prevWord(s, i, b1[:])
	ok := false
	switch string(w1) {
	case "to", "from", "in", "at", "near":
		w2, k2 := prevWord(s, k, b2[:])
		ok = w2 != nil && kindOf(w2)&kPlaceVerb != 0
		// "I'm in Flateyri", "we're from Kenosha".
		ok = ok || (k2 >= 2 && s[k2-1] == '\'' && (string(w2) == "m" || string(w2) == "re"))
	case "visit", "visiting", "visited":
		ok = true
	case "":
		// A field label: "Where: Erwetegem Country Club", "City: Oulu".
		if c := skipBack(s, i); c > 0 && s[c-1] == ':' {
			w, _ := prevWord(s, c-1, b2[:])
			switch string(w) {
			case "where", "city", "town", "location", "hometown", "birthplace", "country", "residence":
				ok = true
			}
		}
	}
	if !ok {
		if !country {
			return -1
		}
		return st.country(i)
	}
	e, words := i, 0
	var lb [16]byte
	for p := i; words < 3; {
		q := nameWordEnd(s, p)
		if q < 0 {
			break
		}
		if lw, ok := lowerWord(lb[:], s[p:q]); ok && (kindOf(lw)&kNotName != 0 || kindOf(lw)&kOrg != 0 && words > 0) {
			break
		}
		e = q
		words++
		if q+1 < len(s) && s[q] == ' ' && upperAt(s, q+1) {
			p = q + 1
			continue
		}
		break
	}
	if words == 0 {
		return -1
	}
	// "Cyprus (Greek)", "Unionville (Orange)".
	if e+2 < len(s) && s[e] == ' ' && s[e+1] == '(' {
		if q := nameWordEnd(s, e+2); q > 0 && q < len(s) && s[q] == ')' {
			e = q + 1
		}
	}
	st.add(ADDRESS, i, e, 0.65)
	return e
}

// streetTail completes a street written name first: the name s[i:end] is
// followed by a house number ("Puruntie 82", "Erzsébet tér 19.") and must
// look like a street (a street-type word or ending) unless a house number
// also precedes it, which the number path handles. It returns the end.
func (st *state) streetTail(i, end int, street bool) int {
	s := st.v.s
	n := len(s)
	if !street || end+1 >= n || s[end] != ' ' || !isDigit(s[end+1]) {
		return -1
	}
	e := houseNumber(s, end+1)
	if e < 0 {
		return -1
	}
	st.add(ADDRESS, i, e, streetScore)
	st.placeLines(e)
	return e
}

// houseNumber reads "82", "12B", "19." at p and returns its end or -1.
func houseNumber(s string, p int) int {
	n := len(s)
	e := readDigits(s, p, 5)
	if e == p || e-p > 4 {
		return -1
	}
	if e < n && isLetter(s[e]) && (e+1 >= n || !isAlnum(s[e+1])) {
		e++
	}
	if !endOK(s, e) {
		return -1
	}
	if e+1 < n && s[e] == '.' && (s[e+1] == ' ' || s[e+1] == '\n') {
		e++
	} else if e+1 == n && s[e] == '.' {
		e++
	}
	if e+1 < n && (s[e] == '.' || s[e] == ',' || s[e] == '/' || s[e] == '-') && isDigit(s[e+1]) {
		return -1
	}
	// A dose or measurement, not a house: "Tylenol 500 mg".
	if e+1 < n && s[e] == ' ' {
		k := e + 1
		for k < n && isLower(s[k]) && k-e < 8 {
			k++
		}
		switch s[e+1 : k] {
		case "mg", "mcg", "g", "kg", "ml", "l", "mm", "cm", "m", "km", "units", "iu", "mmol", "meq", "tabs", "tablets", "times", "x", "mmhg", "bpm", "percent", "years", "days", "hours", "weeks", "months":
			return -1
		}
	}
	return e
}

// streetNum reads a street written number first when the US rule did not
// match: "86036 Rua do Arenque 1634", "450 Præstevænget 15",
// "1987 74 Diakou Street", "0605 Πεντέλης 210".
func (st *state) streetNum(i, j int) int {
	s := st.v.s
	n := len(s)
	if j-i > 6 || j+2 >= n || s[j] != ' ' {
		return -1
	}
	if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '-' || s[i-1] == '.' || s[i-1] == '/' || s[i-1] == ':' || s[i-1] == '$' || s[i-1] == '#' || s[i-1] == ',') {
		return -1
	}
	p := j + 1
	numbered := false  // the street carries its own house number
	if isDigit(s[p]) { // Faker's "building number + street": "17151 2450 Crown St"
		q := readDigits(s, p, 6)
		if q-p > 4 || q+1 >= n || s[q] != ' ' {
			return -1
		}
		numbered = true
	}
	p0 := p
	if numbered {
		p = readDigits(s, p, 6) + 1
	}
	var lb [16]byte
	end, words, street := -1, 0, false
	for words < 5 && p < n {
		q := letterWordEnd(s, p)
		if q == p {
			break
		}
		lw, ok := lowerWord(lb[:], s[p:q])
		k := kindOf(lw)
		if words == 0 {
			if !upperAt(s, p) && k&kStreetPrefix == 0 {
				return -1
			}
			if k&(kNotName|kStreetPrefix) == kNotName || (ok && (unitWords[string(lw)] || string(lw) == "box")) {
				return -1
			}
		}
		if words > 0 && upperAt(s, p) && k&(kNotName|kStreetSuffix) == kNotName {
			return -1 // "5 Musicians Of The 70s"
		}
		if words > 0 && k&kStreetSuffix != 0 {
			end = q
			if end < n && s[end] == '.' {
				end++
			}
			break
		}
		if k&kStreetPrefix != 0 || (ok && hasStreetEnding(lw)) {
			street = true
		}
		if q < n && s[q] == '.' {
			q++
		}
		words++
		if q+1 < n && s[q] == ' ' && isDigit(s[q+1]) {
			if e := houseNumber(s, q+1); e > 0 {
				end = e
				numbered = true
			}
			break
		}
		if q+1 < n && s[q] == ' ' {
			p = q + 1
			continue
		}
		if street && words <= 2 && (q >= n || s[q] == ',' || s[q] == '\n') {
			end = q // "Harjukuja," without a house number
		}
		break
	}
	if end < 0 {
		return -1
	}
	if numbered {
		// Two numbers ("28245 Puruntie 82", "975 3968 Bay Street"): the
		// leading one is a separate building or postal number, reported as
		// its own component like the unit, city and postcode lines.
		st.add(ADDRESS, i, j, streetScore)
		i = p0
	}
	st.add(ADDRESS, i, end, streetScore)
	st.placeLines(end)
	return end
}

// placeLines reports the rest of an address block after a street line
// ending at p, one ADDRESS finding per component: a city after a comma
// ("…, Goiânia") and up to four short lines of units, place words, state
// codes and postcodes ("Suite 501", "OULU", ", CO", "Finland 80896"). Units
// on the street line are found by the unit detector. Separate findings
// (rather than one block) keep each Safe Harbor element (street, city,
// postcode) visible to policies; redaction masks them all the same. It
// returns the end of the last component.
func (st *state) placeLines(p int) int {
	s := st.v.s
	n := len(s)
	if p+2 < n && s[p] == ',' && s[p+1] == ' ' {
		if e := placeLine(s, p+2); e > p+2 {
			st.addPlaceLine(p+2, e)
			p = e
		}
	}
	for lines := 0; lines < 4; lines++ {
		q := p
		for q < n && (s[q] == ' ' || s[q] == '\t' || s[q] == '\r') {
			q++
		}
		if q >= n || s[q] != '\n' {
			return p
		}
		q++
		for q < n && (s[q] == ' ' || s[q] == '\t' || s[q] == '>' || s[q] == '?') {
			q++
		}
		if q < n && s[q] == ',' {
			q = skipSpaces(s, q+1)
		}
		e := placeLine(s, q)
		if e <= q {
			return p
		}
		st.addPlaceLine(q, e)
		p = e
	}
	return p
}

// addPlaceLine reports the address line s[q:e]; a trailing postcode
// ("Finland 80896", "Aalborg NO 9100") is its own finding, as a ZIP is its
// own Safe Harbor element.
func (st *state) addPlaceLine(q, e int) {
	s := st.v.s
	k := e
	for k > q && isDigit(s[k-1]) {
		k--
	}
	w := k
	for w > q && (s[w-1] == ' ' || s[w-1] == ',') {
		w--
	}
	if k < e && w > q && w < k && e-k >= 4 {
		st.add(ADDRESS, q, w, 0.75)
		st.add(ADDRESS, k, e, 0.75)
		return
	}
	st.add(ADDRESS, q, e, 0.75)
}

// placeLine reads one line of an address block at p: place words, unit
// designators with numbers, two-letter codes and postcodes, at most 48
// bytes. It returns the end (before trailing spaces) or -1.
func placeLine(s string, p int) int {
	n := len(s)
	e, tokens, q := -1, 0, p
	for q < n && q-p < 48 {
		c := s[q]
		switch {
		case c == '\n' || c == '?' || c == '!':
			return e
		case c == ' ' || c == ',' || c == '-' || c == '.' || c == '(' || c == ')':
			q++
			continue
		case isDigit(c):
			k := readDigits(s, q, 7)
			if k-q > 6 {
				return -1
			}
			e, q = k, k
		default:
			k := letterWordEnd(s, q)
			if k == q {
				return -1
			}
			if !upperAt(s, q) && s[q:k] != "nan" && !(tokens > 0 && k-q <= 3) {
				return -1
			}
			e, q = k, k
		}
		tokens++
		if tokens > 6 {
			return -1
		}
	}
	if q < n && q-p >= 48 && s[q] != '\n' {
		return -1
	}
	if e > 0 && e < n && s[e] != '\n' && s[e] != ' ' && s[e] != ',' && s[e] != '.' && s[e] != '?' && s[e] != '!' && s[e] != ')' {
		return -1
	}
	return e
}

// corner reports an intersection, "corner of Beiteveien 2 and Sieda Radial",
// as one ADDRESS (0.75, above the street rules it contains). j is the end
// of the word "corner".
func (st *state) corner(j int) int {
	s := st.v.s
	n := len(s)
	if !hasPrefixFold(s[j:], " of ") {
		return -1
	}
	p := j + 4
	if p >= n || !(upperAt(s, p) || isDigit(s[p])) {
		return -1
	}
	and, end, afterAnd := false, -1, 0
	for q := p; q < n && q-p < 96; {
		c := s[q]
		switch {
		case c == '\n' || c == ',' || c == '?' || c == '!' || c == ';' || c == '"':
			q = n
			continue
		case c == '.' && (q+1 >= n || s[q+1] == ' ' || s[q+1] == '\n'):
			end = q + 1 // "St." or "39." ends a word; after "and <street>" it ends the address
			if afterAnd > 0 {
				q = n
				continue
			}
			q++
			continue
		case c == ' ':
			if hasPrefixFold(s[q:], " and ") {
				and = true
				q += 5
				continue
			}
			q++
			continue
		}
		e := letterWordEnd(s, q)
		if e == q {
			e = q + 1
			for e < n && isAlnum(s[e]) {
				e++
			}
		}
		end = e
		q = e
		if and {
			afterAnd++
		}
	}
	if !and || afterAnd == 0 || end <= p {
		return -1
	}
	for end > p && (s[end-1] == ' ') {
		end--
	}
	st.add(ADDRESS, p, end, 0.75)
	return end
}

// ship reports a military ship address, "USNS Lopez\nFPO AE 44941", as
// one ADDRESS; e0 is the end of the first word.
func (st *state) ship(i, e0 int) int {
	s := st.v.s
	switch s[i:e0] {
	case "USNS", "USNV", "USS", "USCGC":
	default:
		return -1
	}
	e := e0
	for words := 0; words < 3 && e+1 < len(s) && s[e] == ' '; words++ {
		q := nameWordEnd(s, e+1)
		if q < 0 {
			break
		}
		e = q
	}
	if e == e0 {
		return -1
	}
	m := militaryLine(s, e)
	if m < 0 {
		return -1
	}
	st.add(ADDRESS, i, m, 0.75)
	return m
}
