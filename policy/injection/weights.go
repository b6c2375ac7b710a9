package injection

// Logistic weights per rule family. Fitted by
// `go run ./test/eval/injection -data ../shared/datasets/injection -fit`
// on deepset's train split only (see docs/injection.md); indirect-injection
// weights are set by hand (no public labelled data here).
var weights = [numFeatures]float64{
	fOverride:      4.419,
	fInstrRef:      3.125,
	fPersona:       3.350,
	fRoleplay:      2.550,
	fExfil:         3.043,
	fSecret:        2.000,
	fDelimiter:     3.040,
	fEncoded:       3.000,
	fObfuscation:   1.691,
	fForcedOutput:  1.875,
	fContextSwitch: 2.655,
	fContextIgnore: 2.333,
	fEmbeddedCmd:   3.183,
	fIndirect:      3.000,
}

const (
	bias         = -1.773
	multiWeight  = 1.047
	indirectBias = 0.0
)
