package phi

import "strings"

// A one-hash filter in front of the word tables: most words in clinical
// text are in none of them, and one table load rejects them before any
// string switch or map lookup. False positives only cost the exact check.

const (
	wfCue     = 1 << iota // name cue, month or URL scheme: word() must look closer
	wfFirst               // maybe a first name
	wfCtx                 // maybe a context word
	wfLex                 // maybe in the name/place lexicon (kindOf)
	wfNot                 // maybe in notName
	bloomBits = 13
)

var wordFlags [1 << bloomBits]uint8

// wordHash mixes the length and three letters: cheap, and good enough for a
// prefilter over a few hundred words.
func wordHash(lw []byte) uint32 {
	n := len(lw)
	if n == 0 {
		return 0
	}
	h := uint32(n)*0x9E3779B1 ^ uint32(lw[0])*0x85EBCA77 ^ uint32(lw[n-1])*0xC2B2AE3D ^ uint32(lw[n/2])*0x27D4EB2F
	return (h ^ h>>15) & (1<<bloomBits - 1)
}

func init() {
	mark := func(f uint8, words ...string) {
		for _, w := range words {
			wordFlags[wordHash([]byte(w))] |= f
		}
	}
	mark(wfCue, strings.Fields(`http https ftp sftp dr mr mrs ms miss mx prof doctor sister nurse name named called
		patient pt signed signature sincerely regards attending physician surgeon provider referred mother father
		wife husband son daughter spouse guardian by from to user customer client author attn attention recipient sender cc apt apartment suite ste box dear hi hello thanks i jan january feb february mar march apr april may jun june jul
		july aug august sep sept september oct october nov november dec december
		monday tuesday wednesday thursday friday saturday sunday corner`)...)
	for w := range firstNames {
		mark(wfFirst, w)
	}
	for w := range ctxWords {
		mark(wfCtx, w)
	}
	for w := range lexicon {
		mark(wfLex, w)
	}
	for w := range notName {
		mark(wfNot, w)
	}
}
