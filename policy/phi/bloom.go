package phi

import "strings"

// A one-hash filter in front of the word tables: most words in clinical
// text are in none of them, and one table load rejects them before any
// string switch or map lookup. False positives only cost the exact check.

const (
	wfCue     = 1 << iota // name cue, month or URL scheme: word() must look closer
	wfFirst               // maybe a first name
	wfCtx                 // maybe a context word
	bloomBits = 13
)

var wordFlags [1 << bloomBits]uint8

func wordHash(lw []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range lw {
		h ^= uint32(c)
		h *= 16777619
	}
	return h & (1<<bloomBits - 1)
}

func init() {
	mark := func(f uint8, words ...string) {
		for _, w := range words {
			wordFlags[wordHash([]byte(w))] |= f
		}
	}
	mark(wfCue, strings.Fields(`http https ftp sftp dr mr mrs ms miss mx prof doctor sister nurse name named called
		patient pt signed signature sincerely regards attending physician surgeon provider referred mother father
		wife husband son daughter spouse guardian dear hi hello thanks i jan january feb february mar march apr april may jun june jul
		july aug august sep sept september oct october nov november dec december`)...)
	for w := range firstNames {
		mark(wfFirst, w)
	}
	for w := range ctxWords {
		mark(wfCtx, w)
	}
}
