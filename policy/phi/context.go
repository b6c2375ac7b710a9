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
	"contact": cPhone, "pager": cPhone, "text": cPhone, "answering": cPhone, "messages": cPhone, "message": cPhone,
	"reach": cPhone, "dial": cPhone, "sms": cPhone, "whatsapp": cPhone, "landline": cPhone,
	"card": cCard, "cc": cCard, "visa": cCard, "mastercard": cCard, "amex": cCard, "credit": cCard, "debit": cCard,
	"routing": cRouting, "aba": cRouting, "rtn": cRouting,
	"itin": cITIN, "tin": cITIN, "tax": cITIN, "taxpayer": cITIN,
	"zip": cZIP, "postal": cZIP, "zipcode": cZIP,
	// Only words that make "5/21" a date of the person (birth, death, an
	// explicit "date"); "admission 3/10" is too often a score or ratio.
	"dob": cDate, "born": cDate, "birth": cDate, "birthday": cDate, "date": cDate, "died": cDate,
	"death": cDate, "deceased": cDate, "expired": cDate,
	"age": cAge, "aged": cAge,
	"name": cName, "patient": cName, "pt": cName,
	"id": cID, "number": cID, "no": cID, "num": cID, "nr": cID, "identifier": cID,
	"email": cEmail, "mail": cEmail,
}

// ctxWindow is how far before a value its context words may end.
const ctxWindow = 48

// ctxRing remembers the last context words seen in the segment, so that
// ctxAt costs a few loads instead of re-reading the text.
type ctxRing struct {
	n    int
	end  [8]int
	kind [8]ctx
}

func (r *ctxRing) push(end int, c ctx) {
	k := r.n % len(r.end)
	r.end[k], r.kind[k] = end, c
	r.n++
}

// ctxAt reports the context words ending within ctxWindow bytes before view
// offset pos: all of them, and those of the nearest word carrying an ID
// kind. Words are recorded by the main walk as it passes them.
func (st *state) ctxAt(pos int) (all, nearest ctx) {
	return st.ctxWithin(pos, ctxWindow)
}

// ctxWithin is ctxAt with a custom window.
func (st *state) ctxWithin(pos, window int) (all, nearest ctx) {
	r := &st.ctx
	for k := r.n - 1; k >= 0 && k >= r.n-len(r.end); k-- {
		e := r.end[k%len(r.end)]
		if e > pos {
			continue
		}
		if pos-e > window {
			break
		}
		c := r.kind[k%len(r.end)]
		all |= c
		if nearest == 0 && c&idKinds != 0 {
			nearest = c
		}
	}
	return all, nearest
}
