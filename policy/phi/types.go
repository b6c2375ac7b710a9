// Package phi finds protected health information (HIPAA Safe Harbor
// identifiers) and other personal identifiers in text, and redacts them.
//
// The detectors are hand-written scanners over a normalised view of the text
// (no regular expressions), so a Scanner is fast, allocation-free on clean
// text and safe for concurrent use. See docs/phi.md for the design.
package phi

// Type is the kind of identifier a Finding holds.
type Type uint8

// Identifier types. The names (Type.String) are a stable contract used by
// `ward scan`, policies and the audit trail.
const (
	TypeInvalid Type = iota
	NAME
	ADDRESS
	ZIP
	DATE
	AGE
	PHONE
	FAX
	EMAIL
	SSN
	MRN
	HEALTH_PLAN_ID
	MBI
	ACCOUNT_NUMBER
	LICENSE_NUMBER
	DEA
	VIN
	DEVICE_ID
	URL
	IP_ADDRESS
	CREDIT_CARD
	IBAN
	NPI
	ITIN
	PASSPORT
	DRIVER_LICENSE
	BANK_ACCOUNT
	ABA_ROUTING
	numTypes
)

var typeNames = [numTypes]string{
	"INVALID", "NAME", "ADDRESS", "ZIP", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN",
	"HEALTH_PLAN_ID", "MBI", "ACCOUNT_NUMBER", "LICENSE_NUMBER", "DEA", "VIN", "DEVICE_ID", "URL",
	"IP_ADDRESS", "CREDIT_CARD", "IBAN", "NPI", "ITIN", "PASSPORT", "DRIVER_LICENSE", "BANK_ACCOUNT",
	"ABA_ROUTING",
}

// String returns the stable upper-case name of t.
func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return "INVALID"
}

// ParseType returns the Type named s (as returned by String).
func ParseType(s string) (Type, bool) {
	for i := Type(1); i < numTypes; i++ {
		if typeNames[i] == s {
			return i, true
		}
	}
	return TypeInvalid, false
}

// AllTypes returns every valid Type in declaration order.
func AllTypes() []Type {
	out := make([]Type, 0, numTypes-1)
	for i := Type(1); i < numTypes; i++ {
		out = append(out, i)
	}
	return out
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
