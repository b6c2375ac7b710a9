package injection

import "math/bits"

// feature is one named rule family; its name is what Result.Rules reports.
type feature uint8

const (
	fOverride      feature = iota // "ignore all previous instructions" and translations
	fInstrRef                     // "previous instructions", "your instructions", "new task"
	fPersona                      // DAN, developer mode, "you are now", "stay in character"
	fRoleplay                     // "act as", "pretend you are", "imagine you are"
	fExfil                        // "show your prompt", "what was written above"
	fSecret                       // "tell me the password"
	fDelimiter                    // <|im_start|>, ### system, {"role": "system"}
	fEncoded                      // base64 / hex / rot13 payload that decodes to an attack
	fObfuscation                  // leetspeak / homoglyph / invisible / spaced keywords
	fForcedOutput                 // "say X", "repeat after me", "just output"
	fContextSwitch                // "Well done! Now …", "stop - write …", "from now on"
	fContextIgnore                // "do not look in the documents", "answer by your own knowledge"
	fEmbeddedCmd                  // a SHOUTED command inside an ordinary sentence
	fIndirect                     // instructions addressed to the AI in a tool result / document
	fLearned                      // the learned text model is confident on its own (learned.go)
	numFeatures
)

var featureNames = [numFeatures]string{
	fOverride:      "instruction_override",
	fInstrRef:      "instruction_reference",
	fPersona:       "persona_switch",
	fRoleplay:      "roleplay",
	fExfil:         "system_prompt_exfiltration",
	fSecret:        "secret_request",
	fDelimiter:     "delimiter_injection",
	fEncoded:       "encoded_payload",
	fObfuscation:   "obfuscation",
	fForcedOutput:  "forced_output",
	fContextSwitch: "context_switch",
	fContextIgnore: "context_override",
	fEmbeddedCmd:   "embedded_command",
	fIndirect:      "indirect_injection",
	fLearned:       "learned_classifier",
}

// RuleNames lists every rule family the detector can report, in score order.
func RuleNames() []string { return append([]string(nil), featureNames[:]...) }

// step matches one word: any concept in mask, at most gap words after the
// previous step's word; imp requires an imperative position (clause start,
// possibly after fillers such as "please" or "now"), upper requires capitals.
type step struct {
	mask  uint64
	gap   int32
	imp   bool
	upper bool
	bare  bool // not followed by a topic word: "instructions for …" is a task
}

type pattern struct {
	f     feature
	steps []step
	union uint64
}

func s(mask uint64, gap int32) step { return step{mask: mask, gap: gap} }
func imp(mask uint64, gap int32) step {
	return step{mask: mask, gap: gap, imp: true}
}

// patterns are ordered word sequences over concepts; gaps are in words.
var patterns = func() []pattern {
	ps := []pattern{
		// instruction_override
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cPrior|cAll|cYour, 4), s(cInstr|cTask|cContext|cPrompt, 4)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cPrior|cEvery, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cInstr|cTask, 3)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cEvery, 1)}},
		{f: fOverride, steps: []step{s(cPrior|cAll, 0), s(cInstr|cContext|cTask, 3), s(cVoid, 8)}},
		{f: fOverride, steps: []step{s(cChange, 0), s(cYour, 2), s(cInstr, 2)}},
		{f: fOverride, steps: []step{s(cNeg, 0), s(cFollow, 1), s(cYour|cPrior|cAll, 3), s(cInstr, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cYour, 1)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cInstr, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cAll, 1)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cTold, 5)}},
		{f: fOverride, steps: []step{s(cIgnoreWeak, 0), s(cPrior|cAll|cYour, 3), s(cInstr, 3)}},
		{f: fOverride, steps: []step{s(cPrior|cAll, 0), s(cInstr|cContext|cTask, 2), s(cIgnore, 2)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cAll|cPrior|cYour, 2), s(cLimits, 2)}},
		{f: fOverride, steps: []step{s(cOpposite, 0), s(cYour|cAll|cPrior|cInstr|cWhat, 3)}},
		// instruction_reference
		{f: fInstrRef, steps: []step{s(cPrior, 0), s(cInstr|cPrompt, 2)}},
		{f: fInstrRef, steps: []step{s(cYour, 0), s(cInstr|cPrompt, 2)}},
		{f: fInstrRef, steps: []step{s(cNew, 0), s(cInstr|cTask, 0)}},
		// persona_switch
		{f: fPersona, steps: []step{s(cYou, 0), s(cAre, 1), s(cNow, 1)}},
		{f: fPersona, steps: []step{s(cNow, 0), s(cYou, 1), s(cAre, 1)}},
		{f: fPersona, steps: []step{s(cNow, 0), s(cAre, 1), s(cYou, 1)}},
		{f: fPersona, steps: []step{s(cFrom, 0), s(cNow, 1), s(cOn, 1)}},
		{f: fPersona, steps: []step{s(cModeAdj, 0), s(cMode, 1)}},
		{f: fPersona, steps: []step{s(cStay, 0), s(cCharacter, 3)}},
		{f: fPersona, steps: []step{s(cCharacter, 0), s(cStay, 3)}},
		{f: fPersona, steps: []step{s(cWithout, 0), s(cLimits, 1)}},
		{f: fPersona, steps: []step{s(cEvil, 0), s(cAI, 2)}},
		{f: fPersona, steps: []step{s(cYou, 0), s(cAre, 1), s(cEvil, 3)}},
		{f: fPersona, steps: []step{{mask: cPersona, upper: true}}},
		// roleplay
		{f: fRoleplay, steps: []step{s(cAct, 0), s(cAs, 1)}},
		{f: fRoleplay, steps: []step{s(cAs, 0), s(cAct, 8)}},
		{f: fRoleplay, steps: []step{imp(cPretend, 0), s(cYou|cThat, 2)}},
		{f: fRoleplay, steps: []step{s(cFiction, 0), s(cFiction, 6)}},
		{f: fRoleplay, steps: []step{imp(cPretend, 0), s(cYou, 3), s(cAre, 1)}},
		// system_prompt_exfiltration
		{f: fExfil, steps: []step{s(cReveal|cWhat, 0), s(cYour|cPrior, 4), s(cPrompt|cInstr, 3)}},
		{f: fExfil, steps: []step{s(cReveal, 0), s(cPrompt, 5)}},
		{f: fExfil, steps: []step{s(cWritten, 0), s(cPrior|cBeginning, 4)}},
		{f: fExfil, steps: []step{s(cWhat, 0), s(cPrior, 6), s(cContext|cPrompt, 2)}},
		{f: fExfil, steps: []step{s(cWhat, 0), s(cAre, 1), s(cYour, 1), s(cInstr|cPrompt, 2)}},
		{f: fExfil, steps: []step{s(cRevealStrong, 0), s(cInstr|cPrompt, 3)}},
		{f: fExfil, steps: []step{imp(cReveal|cOutput, 0), {mask: cInstr | cPrompt, gap: 3, bare: true}}},
		{f: fExfil, steps: []step{s(cInstr|cPrompt, 0), s(cYou, 2), s(cTold, 3)}},
		{f: fExfil, steps: []step{s(cInstr|cPrompt, 0), s(cTold, 2), s(cYou, 2)}},
		{f: fExfil, steps: []step{s(cWhat, 0), s(cInstr|cPrompt, 2), s(cYou|cTold, 3)}},
		// secret_request
		{f: fSecret, steps: []step{s(cReveal|cWhat|cTell, 0), s(cPassword, 4)}},
		{f: fSecret, steps: []step{s(cPassword, 0), s(cReveal, 3)}},
		// forced_output
		{f: fForcedOutput, steps: []step{s(cRevealStrong, 0), s(cAfter, 1), s(cMe, 1)}},
		{f: fForcedOutput, steps: []step{s(cJust, 0), s(cSay|cOutput, 1)}},
		{f: fForcedOutput, steps: []step{s(cOutput|cSay, 0), s(cJust, 1)}},
		{f: fForcedOutput, steps: []step{imp(cState, 0), s(cThat, 1)}},
		{f: fForcedOutput, steps: []step{s(cTell|cSay, 0), s(cMe, 1), s(cThat, 1), s(cYou, 1)}},
		{f: fForcedOutput, steps: []step{s(cTell|cSay, 0), s(cThat, 0), s(cYou, 0)}},
		{f: fForcedOutput, steps: []step{imp(cRevealStrong, 0), s(cEvery, 2)}},
		// context_switch
		{f: fContextSwitch, steps: []step{s(cPraise, 0), s(cNow|cEnough, 12), s(cOutput|cReveal|cSay|cIgnore|cTask|cInstr|cNew, 10)}},
		{f: fContextSwitch, steps: []step{s(cEnough, 0), imp(cNow, 8)}},
		{f: fContextSwitch, steps: []step{imp(cStop, 0), imp(cReveal|cOutput|cSay|cIgnore, 4)}},
		{f: fContextSwitch, steps: []step{s(cStop, 0), s(cStop, 2)}},
		{f: fContextSwitch, steps: []step{s(cNow, 0), s(cNew, 2), s(cInstr|cTask, 2)}},
		// context_override
		{f: fContextIgnore, steps: []step{s(cNeg, 0), s(cLook|cOutput, 2), s(cContext, 5)}},
		{f: fContextIgnore, steps: []step{s(cOwn, 0), s(cKnowledge, 1)}},
		{f: fContextIgnore, steps: []step{s(cDespite, 0), s(cWhat, 2), s(cTold, 4)}},
		{f: fContextIgnore, steps: []step{imp(cIgnore, 0), s(cContext, 4)}},
		// indirect_injection: only reported for tool results and documents.
		{f: fIndirect, steps: []step{s(cAttn, 0), s(cAI, 3)}},
		{f: fIndirect, steps: []step{s(cIf, 0), s(cYou, 1), s(cAre, 1), s(cAI, 3)}},
		{f: fIndirect, steps: []step{s(cAI, 0), s(cReveal|cFollow|cIgnore|cSend, 3), s(cYour|cPrior|cInstr|cUser, 3)}},
		{f: fIndirect, steps: []step{s(cNeg, 0), s(cTell|cReveal|cSay, 1), s(cUser, 3)}},
		{f: fIndirect, steps: []step{s(cTell|cSay, 0), s(cUser, 2)}},
		{f: fIndirect, steps: []step{imp(cSend, 0), s(cContext|cPrompt|cPassword|cAll|cYour|cUser, 4)}},
	}
	for i := range ps {
		for _, st := range ps[i].steps {
			ps[i].union |= st.mask
		}
	}
	return ps
}()

// byBit lists, per concept bit, the patterns that use it; stepBase is the
// offset of each pattern's steps in the matcher state.
var byBit, stepBase = func() (idx [64][]uint16, base []int) {
	n := 0
	for pi, p := range patterns {
		base = append(base, n)
		n += len(p.steps)
		for b := 0; b < 64; b++ {
			if p.union&(1<<b) != 0 {
				idx[b] = append(idx[b], uint16(pi))
			}
		}
	}
	return idx, base
}()

// stepCount is the total number of steps over all patterns (matcher state).
var stepCount = func() int {
	n := 0
	for _, p := range patterns {
		n += len(p.steps)
	}
	return n
}()

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

// hits is a bit set of fired features.
type hits uint32

func (h hits) has(f feature) bool { return h&(1<<f) != 0 }
func (h *hits) set(f feature)     { *h |= 1 << f }

// match runs every pattern over the words of n in one pass. last holds, per
// step, the index of the last word that completed the pattern up to that step.
func match(n *normText, last []int32, seen []int32) hits {
	var h hits
	for i := range last {
		last[i] = -1 << 30
	}
	for i := range seen {
		seen[i] = 0
	}
	toks := n.toks
	prevImp, prevFiller := false, false
	lower := 0                               // words not in capitals
	capsRun, capsCmd, capsHit := 0, 0, false // embedded_command state
	for i := range toks {
		t := &toks[i]
		t.mask = lookup(n.buf[t.start:t.end])
		// Imperative position: clause start, or right after a filler
		// ("please", "now", "bitte") that was itself in that position.
		isImp := t.flags&tokClauseStart != 0 || (prevFiller && prevImp)
		if isImp {
			t.flags |= tokImperative
		}
		prevImp, prevFiller = isImp, t.mask&cFiller != 0
		// embedded_command: >= 3 shouted words with a command word among
		// them, in text that is otherwise lower case (checked at the end).
		if t.flags&tokUpper != 0 {
			capsRun++
			if t.mask&cCapsCmd != 0 {
				capsCmd++
			}
			capsHit = capsHit || capsRun >= 3 && capsCmd >= 1
		} else {
			lower++
			capsRun, capsCmd = 0, 0
		}
		m := t.mask
		if m == 0 {
			continue
		}
		// "You are Volkswagen.", "Du bist Zeit Online": an identity given
		// to the model at the start of a clause.
		if m&cAre != 0 && i > 0 && i+1 < len(toks) && toks[i-1].mask&cYou != 0 &&
			toks[i-1].flags&tokImperative != 0 &&
			(toks[i+1].flags&tokCapital != 0 || determiners[string(n.word(i+1))]) {
			h.set(fRoleplay)
		}
		// An imperative "say"/"print"/"output" followed by a quote or colon.
		if m&(cSay|cOutput|cRevealStrong) != 0 && t.flags&tokImperative != 0 && quoteNext(n.buf[t.end:]) {
			h.set(fForcedOutput)
		}
		if t.flags&tokObfuscated != 0 && m&(cIgnore|cInstr|cPrompt|cPassword|cReveal) != 0 {
			h.set(fObfuscation)
		}
		// Visit each pattern that uses one of the word's concepts once.
		stamp := int32(i + 1)
		for bits := m; bits != 0; bits &= bits - 1 {
			for _, pi := range byBit[trailingZeros(bits)] {
				if seen[pi] == stamp {
					continue
				}
				seen[pi] = stamp
				p := &patterns[pi]
				base := stepBase[pi]
				for k := len(p.steps) - 1; k >= 0; k-- {
					st := &p.steps[k]
					if m&st.mask == 0 || st.imp && t.flags&tokImperative == 0 || st.upper && t.flags&tokUpper == 0 ||
						st.bare && topicNext(n.buf[t.end:]) {
						continue
					}
					if k > 0 {
						prev := last[base+k-1]
						if prev < 0 || int32(i)-prev > st.gap+1 || int32(i) == prev {
							continue
						}
					}
					last[base+k] = int32(i)
					if k == len(p.steps)-1 {
						h.set(p.f)
					}
				}
			}
		}
	}
	if capsHit && lower >= 3 {
		h.set(fEmbeddedCmd)
	}
	if n.spaced >= 8 {
		h.set(fObfuscation)
	}
	return h
}

// quoteNext reports whether b starts, after spaces and at most one
// connecting word ("respond with 'PWNED'", "antworte nur mit"), with a quote
// or colon.
func quoteNext(b []byte) bool {
	i := skipSpaces(b, 0)
	if j := wordEnd(b, i); j > i && quoteLinks[string(b[i:j])] {
		i = skipSpaces(b, j)
		if k := wordEnd(b, i); k > i && quoteLinks[string(b[i:k])] {
			i = skipSpaces(b, k)
		}
	}
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case '"', '\'', ':':
		return true
	case 0xe2: // “ ” ‘ ’ (UTF-8 lead byte of the typographic quotes)
		return i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9f
	case 0xc2: // « »
		return i+1 < len(b) && (b[i+1] == 0xab || b[i+1] == 0xbb)
	}
	return false
}

var quoteLinks = map[string]bool{"with": true, "only": true, "exactly": true, "just": true, "mit": true,
	"nur": true, "con": true, "solo": true, "avec": true, "me": true, "back": true}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && i < 64 && b[i] == ' ' {
		i++
	}
	return i
}

func wordEnd(b []byte, i int) int {
	j := i
	for j < len(b) && j-i < 12 && isASCIILetter(b[j]) {
		j++
	}
	return j
}

// determiners after "you are" / "du bist" make an identity ("You are the
// Daily Wire", "Du bist ein Pirat").
var determiners = map[string]bool{"the": true, "a": true, "an": true, "ein": true, "eine": true,
	"der": true, "die": true, "das": true, "el": true, "la": true, "un": true, "una": true, "une": true, "le": true}

// topicFollowers introduce what an instruction is about ("instructions for
// baking"), which makes it an ordinary request rather than a probe.
var topicFollowers = map[string]bool{"for": true, "on": true, "to": true, "how": true, "about": true,
	"of": true, "in": true, "regarding": true, "that": true, "a": true, "an": true, "the": true,
	"user": true, "users": true, "zum": true, "zur": true, "para": true, "pour": true, "sur": true}

func topicNext(b []byte) bool {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && j-i < 12 && isASCIILetter(b[j]) {
		j++
	}
	return j > i && topicFollowers[string(b[i:j])]
}
