package injection

// Logistic weights per rule family of the default, rules-only score. Fitted
// on deepset's train split only (see docs/injection.md); indirect-injection
// weights are set by hand (no public labelled data here). The same fit is
// printed by `go run ./policy/injection/internal/train` ("rules only"); the
// weights of the opt-in learned score are in weights_learned.go.
var weights = [numFeatures]float64{
	fOverride:      4.435,
	fInstrRef:      3.127,
	fPersona:       3.306,
	fRoleplay:      2.563,
	fExfil:         3.044,
	fSecret:        2.000,
	fDelimiter:     3.041,
	fEncoded:       3.000,
	fObfuscation:   1.693,
	fForcedOutput:  1.804,
	fContextSwitch: 2.662,
	fContextIgnore: 2.337,
	fEmbeddedCmd:   3.186,
	fIndirect:      3.000,
}

const (
	bias         = -1.796
	multiWeight  = 1.052
	indirectBias = 0.0
)
