package injection

// Logistic weights per rule family. Fitted by
// `go run ./test/eval/injection -data ../shared/datasets/injection -fit`
// on deepset's train split only (see docs/injection.md); indirect-injection
// weights are set by hand (no public labelled data here).
var weights = [numFeatures]float64{
	fOverride:      4.404,
	fInstrRef:      3.178,
	fPersona:       3.395,
	fRoleplay:      2.519,
	fExfil:         3.003,
	fSecret:        2.000,
	fDelimiter:     3.038,
	fEncoded:       3.000,
	fObfuscation:   1.684,
	fForcedOutput:  1.861,
	fContextSwitch: 2.512,
	fContextIgnore: 2.319,
	fEmbeddedCmd:   3.142,
	fIndirect:      3.000,
}

const (
	bias         = -1.687
	multiWeight  = 1.040
	indirectBias = 0.0
)
