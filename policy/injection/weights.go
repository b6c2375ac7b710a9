package injection

// Logistic weights per rule family of the default, rules-only score. Fitted
// on deepset's train split only (see docs/injection.md); indirect-injection
// weights are set by hand (no public labelled data here). The same fit is
// printed by `go run ./policy/injection/internal/train` ("rules only"); the
// weights of the opt-in learned score are in weights_learned.go.
var weights = [numFeatures]float64{
	fOverride:      4.458,
	fInstrRef:      3.130,
	fPersona:       3.321,
	fRoleplay:      2.657,
	fExfil:         3.047,
	fSecret:        2.000,
	fDelimiter:     3.123,
	fEncoded:       3.000,
	fObfuscation:   1.700,
	fForcedOutput:  2.028,
	fContextSwitch: 2.721,
	fContextIgnore: 2.351,
	fEmbeddedCmd:   3.196,
	fIndirect:      3.000,
}

const (
	bias         = -1.875
	multiWeight  = 1.039
	indirectBias = 0.0
)
