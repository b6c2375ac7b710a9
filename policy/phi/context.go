package phi

// Context words: a detector that needs more than the shape of a value (an
// MRN, an account number, a passport) looks at the few words before it.

type ctx uint32

const (
	cSSN ctx = 1 << iota
	cMRN
	cAcct
	cBank
	cPlan
	cMedicare
	cPassport
	cDriver
	cLicense
	cDEA
	cNPI
	cVIN
	cDevice
	cFax
	cPhone
	cCard
	cRouting
	cITIN
	cZIP
	cDate
	cAge
	cName
	cID
	cEmail
)

// idKinds are the contexts that turn an otherwise anonymous number into an
// identifier of a given type.
const idKinds = cMRN | cAcct | cBank | cPlan | cMedicare | cPassport | cDriver | cLicense | cDevice | cSSN | cITIN | cRouting | cNPI | cDEA | cVIN | cCard

var ctxWords = map[string]ctx{
	"ssn": cSSN, "social": cSSN, "ss#": cSSN,
	"mrn": cMRN, "medical": cMRN, "record": cMRN, "chart": cMRN, "mr": cMRN, "emr": cMRN, "ehr": cMRN,
	"account": cAcct, "acct": cAcct, "acc": cAcct, "invoice": cAcct, "billing": cAcct,
	"bank": cBank, "checking": cBank, "savings": cBank,
	"member": cPlan, "subscriber": cPlan, "beneficiary": cPlan, "policy": cPlan, "plan": cPlan, "insurance": cPlan,
	"insured": cPlan, "insurer": cPlan, "payer": cPlan, "coverage": cPlan,
	"medicare": cMedicare, "mbi": cMedicare, "medicaid": cPlan,
	"passport": cPassport,
	"driver":   cDriver, "drivers": cDriver, "driving": cDriver, "dl": cDriver,
	"license": cLicense, "licence": cLicense, "lic": cLicense, "certificate": cLicense, "permit": cLicense,
	"dea": cDEA,
	"npi": cNPI, "provider": cNPI,
	"vin": cVIN, "vehicle": cVIN, "chassis": cVIN,
	"device": cDevice, "serial": cDevice, "udi": cDevice, "imei": cDevice, "implant": cDevice, "pacemaker": cDevice,
	"fax": cFax, "facsimile": cFax,
	"phone": cPhone, "tel": cPhone, "telephone": cPhone, "mobile": cPhone, "cell": cPhone, "call": cPhone,
	"contact": cPhone, "pager": cPhone, "text": cPhone,
	"card": cCard, "cc": cCard, "visa": cCard, "mastercard": cCard, "amex": cCard, "credit": cCard, "debit": cCard,
	"routing": cRouting, "aba": cRouting, "rtn": cRouting,
	"itin": cITIN, "tin": cITIN, "tax": cITIN, "taxpayer": cITIN,
	"zip": cZIP, "postal": cZIP, "zipcode": cZIP,
	"dob": cDate, "born": cDate, "birth": cDate, "birthday": cDate, "admitted": cDate, "admission": cDate,
	"discharged": cDate, "discharge": cDate, "date": cDate, "visit": cDate, "seen": cDate, "died": cDate,
	"death": cDate, "deceased": cDate, "surgery": cDate, "on": cDate,
	"age": cAge, "aged": cAge,
	"name": cName, "patient": cName, "pt": cName,
	"id": cID, "number": cID, "no": cID, "num": cID, "nr": cID, "identifier": cID,
	"email": cEmail, "mail": cEmail,
}

// ctxAt reports the context words among the last few words before view
// offset pos: all of them, and those of the nearest word carrying an ID kind.
func (st *state) ctxAt(pos int) (all, nearest ctx) {
	s := st.v.s
	// Reuse the previous answer when no letter lies between the two
	// positions (the groups of "4111 1111 1111 1111" share one context).
	if st.ctxOK && st.ctxPos <= pos && pos-st.ctxPos < 32 {
		same := true
		for k := st.ctxPos; k < pos; k++ {
			if isLetter(s[k]) {
				same = false
				break
			}
		}
		if same {
			return st.ctxAll, st.ctxNear
		}
	}
	defer func() { st.ctxOK, st.ctxPos, st.ctxAll, st.ctxNear = true, pos, all, nearest }()
	lo := max(0, pos-48)
	words := 0
	var buf [16]byte
	for i := pos; i > lo && words < 5; {
		// skip non-letters
		for i > lo && !isLetter(s[i-1]) {
			i--
		}
		e := i
		for i > lo && isLetter(s[i-1]) {
			i--
		}
		if e == i {
			break
		}
		words++
		if e-i > len(buf) {
			continue
		}
		n := 0
		for k := i; k < e; k++ {
			buf[n] = lower(s[k])
			n++
		}
		if wordFlags[wordHash(buf[:n])]&wfCtx == 0 {
			continue
		}
		if c, ok := ctxWords[string(buf[:n])]; ok {
			all |= c
			if nearest == 0 && c&idKinds != 0 {
				nearest = c
			}
		}
	}
	return all, nearest
}
