package injection

// Logistic weights per rule family. Fitted by
// `go run ./test/eval/injection -data ../shared/datasets/injection -fit`
// on deepset's train split only (see docs/injection.md); indirect-injection
// weights are set by hand (no public labelled data here).
var weights = [numFeatures]float64{
	fOverride:      4.434,
	fInstrRef:      3.127,
	fPersona:       3.354,
	fRoleplay:      2.560,
	fExfil:         3.044,
	fSecret:        2.000,
	fDelimiter:     3.041,
	fEncoded:       3.000,
	fObfuscation:   1.693,
	fForcedOutput:  1.803,
	fContextSwitch: 2.661,
	fContextIgnore: 2.336,
	fEmbeddedCmd:   3.186,
	fIndirect:      3.000,
}

const (
	bias         = -1.792
	multiWeight  = 1.050
	indirectBias = 0.0
)
