package injection

import (
	"math/bits"
	"strings"
)

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
	mask    uint64 // c* concepts
	mask2   uint64 // d* concepts (lexicon.go)
	gap     int32
	imp     bool
	upper   bool
	bare    bool            // not followed by a topic word: "instructions for …" is a task
	head    uint64          // if set: followed by a clause end, a discourse noun or (after "the", "of" …) a word with one of these concepts
	label   bool            // followed by a colon: "Further instructions: …"
	notMy   bool            // not right after "my": "what is my password" is the user's own
	notI    bool            // no "I"/"ich"/"je" since the previous step: "forget what you were told", not "… what I said"
	dom     uint8           // not an instruction about the world (domainInstr): d steps fail on domTopic, o steps on domNamed only
	role    bool            // not followed by a human care or legal role: "act as my guarantor" (careRoleNext)
	addr    bool            // addresses the model: not "you will answer in Spanish", "your team" (addresseeOK)
	state   bool            // not followed by a state: "you are now checked in / eligible" (stateNext)
	next    map[string]bool // if set: the next word (past a reflexive "dich", "te") is in it
	prev    map[string]bool // if set: the word before is in it
	notPrev map[string]bool // if set: the word before is not in it

	checks bool // any of the neighbour checks above is set (computed at start-up)
}

type pattern struct {
	f      feature
	steps  []step
	union  uint64
	union2 uint64
	span   int32  // most words from the first step's word to the last's
	first  uint64 // steps[0].mask, kept here so most visits end without touching steps
	first2 uint64 // steps[0].mask2
}

func s(mask uint64, gap int32) step { return step{mask: mask, gap: gap} }

// d matches an instruction noun that is not about the world (domainInstr):
// "your instructions", not "your instructions for wound care".
func d(mask uint64, gap int32) step { return step{mask: mask, gap: gap, dom: domTopic} }

// o is d for overrides: only a named domain (a domain word, a human giver,
// a printed source) lets "ignore the instructions …" pass; a topic alone
// does not ("forget the instructions about confidentiality").
func o(mask uint64, gap int32) step { return step{mask: mask, gap: gap, dom: 2} }

// v is d for "… no longer apply / are void": a named domain or "apply to
// <someone>" ("the previous rules do not apply to members") lets it pass.
func v(mask uint64, gap int32) step { return step{mask: mask, gap: gap, dom: 4} }
func imp(mask uint64, gap int32) step {
	return step{mask: mask, gap: gap, imp: true}
}

// x matches a word with one of the c* concepts a or the d* concepts b.
func x(a, b uint64, gap int32) step { return step{mask: a, mask2: b, gap: gap} }
func ximp(a, b uint64, gap int32) step {
	return step{mask: a, mask2: b, gap: gap, imp: true}
}

// headNouns (and the discourse nouns: message, statement, input …) are
// what "previous" may qualify in an override: "ignore the previous
// instructions / message", "ignore the above", but not "ignore the previous
// lab value if haemolysed", which is clinical advice. Fillers ("and",
// "then", "please") mean the phrase ended there.
const headNouns = cInstr | cTask | cContext | cPrompt | cLimits | cPrior | cAll | cEvery | cFiller | cThat

// instrNouns are what an override can be about.
const instrNouns = cInstr | cTask | cContext | cPrompt | cLimits

// addressed words continue "from now on" as an order to the model or a new
// identity for it: "you", "your" (name, answers, rules …), "are", "act",
// "say", "AI" (addresseeOK). An ordinary request ("from now on, please
// answer in Spanish", "… send me the bills by email", "… ignore the old
// address on file") is not one; "never" only counts before a refusal word
// (refusals: "from now on never refuse"). Overrides ("from now on ignore
// your rules") are named by instruction_override on their own.
const addressed = cYou | cYour | cAre | cAct | cSay | cAI

// patterns are ordered word sequences over concepts; gaps are in words.
var patterns = func() []pattern {
	ps := []pattern{
		// instruction_override
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cPrior|cAll|cYour, 4), o(cInstr|cTask|cContext|cPrompt, 4)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cEvery, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), {mask: cPrior, gap: 3, head: headNouns, notMy: true}}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), o(cInstr|cTask, 3)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cEvery, 1)}},
		{f: fOverride, steps: []step{s(cPrior|cAll, 0), v(cInstr|cContext|cTask, 3), s(cVoid, 8)}},
		{f: fOverride, steps: []step{s(cChange, 0), s(cYour, 2), s(cInstr, 2)}},
		{f: fOverride, steps: []step{s(cNeg, 0), s(cFollow, 1), s(cYour|cPrior|cAll, 3), s(cInstr, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cYour, 1)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), o(cInstr, 3)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cAll, 1)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cTold, 5)}},
		{f: fOverride, steps: []step{s(cIgnoreWeak, 0), s(cPrior|cAll|cYour, 3), s(cInstr, 3)}},
		{f: fOverride, steps: []step{s(cPrior|cAll, 0), o(cInstr|cContext|cTask, 2), s(cIgnore, 2)}},
		{f: fOverride, steps: []step{s(cIgnore, 0), s(cAll|cPrior|cYour, 2), s(cLimits, 2)}},
		{f: fOverride, steps: []step{imp(cIgnore, 0), s(cLimits, 2)}},
		{f: fOverride, steps: []step{s(cOpposite, 0), s(cYour|cAll|cPrior|cInstr|cWhat, 3)}},
		// "set aside / leave behind the instructions", "lass … hinter dir", "deja de lado", "laisse de côté"
		{f: fOverride, steps: []step{ximp(0, dPut, 0), s(instrNouns, 4), x(0, dAside, 3)}},
		{f: fOverride, steps: []step{ximp(0, dPut, 0), x(0, dAside, 2), s(instrNouns, 4)}},
		// "never mind the instructions"
		{f: fOverride, steps: []step{x(0, dNever, 0), x(0, dMind, 0), s(instrNouns, 3)}},
		{f: fOverride, steps: []step{x(0, dNever, 0), x(0, dMind, 0), {mask: cPrior, gap: 2, head: headNouns}}},
		// "pay no attention to", "don't heed", "no hagas caso de", "ne tenez pas compte de", "nicht beachten"
		{f: fOverride, steps: []step{s(cNeg, 0), x(0, dHeed, 2), s(instrNouns, 5)}},
		{f: fOverride, steps: []step{x(0, dHeed, 0), s(instrNouns, 4), s(cNeg, 3)}},
		{f: fOverride, steps: []step{s(instrNouns, 0), s(cNeg, 2), x(0, dHeed, 1)}},
		{f: fOverride, steps: []step{x(0, dHeed|dSemblant, 0), x(0, dSemblant, 0), s(instrNouns, 4)}},
		{f: fOverride, steps: []step{x(0, dSemblant, 0), s(instrNouns, 4)}},
		// "your previous instructions no longer apply", "die vorherigen Anweisungen gelten nicht mehr",
		// "las instrucciones anteriores ya no son válidas", "les règles précédentes ne sont plus valables"
		{f: fOverride, steps: []step{s(cPrior|cYour|cAll, 0), v(instrNouns, 2), s(cNeg, 4), x(0, dApply|dLonger, 2)}},
		{f: fOverride, steps: []step{s(cPrior|cYour|cAll, 0), v(instrNouns, 2), x(0, dApply, 2), s(cNeg, 2)}},
		{f: fOverride, steps: []step{v(instrNouns, 0), s(cPrior, 1), s(cNeg, 3), x(0, dApply|dLonger, 3)}},
		// "stop following / no longer follow your rules", "halte dich nicht mehr an deine Regeln"
		{f: fOverride, steps: []step{s(cFollow, 0), s(cNeg, 2), s(cYour|cPrior|cAll, 3), s(cInstr, 3)}},
		// "forget what you were told / know", "vergiss, was man dir gesagt hat", "olvida lo que te dijeron",
		// "oublie ce qu'on t'a dit" (not "forget what I said": the model must be the one told)
		{f: fOverride, steps: []step{imp(cIgnore, 0), x(cWhat, dRel, 1), {mask: cTold, mask2: dTell2 | dKnow, gap: 4, notI: true}}},
		// instruction_reference
		{f: fInstrRef, steps: []step{s(cPrior, 0), d(cInstr|cPrompt, 2)}},
		{f: fInstrRef, steps: []step{{mask: cYour, notPrev: usedWords}, d(cInstr|cPrompt, 2)}},
		{f: fInstrRef, steps: []step{s(cNew, 0), d(cInstr|cTask, 0)}},
		// "your next task", "deine nächste Aufgabe", "another task for you", "further instructions:"
		{f: fInstrRef, steps: []step{s(cYour, 0), {mask: cTask, gap: 1, prev: otherWords}}},
		{f: fInstrRef, steps: []step{{mask: cTask, prev: otherWords}, x(cYou, dSelf, 1)}},
		{f: fInstrRef, steps: []step{{mask: cInstr | cTask, label: true, prev: otherWords}}},
		{f: fInstrRef, steps: []step{s(cNew, 0), {mask: cInstr | cTask, label: true}}},
		// persona_switch
		// "you are now …", "now you are …" (not "you are now checked in / eligible / all set")
		{f: fPersona, steps: []step{s(cYou, 0), s(cAre, 1), {mask: cNow, gap: 1, state: true}}},
		{f: fPersona, steps: []step{s(cNow, 0), s(cYou, 1), {mask: cAre, gap: 1, state: true}}},
		{f: fPersona, steps: []step{s(cNow, 0), s(cAre, 1), {mask: cYou, gap: 1, state: true}}},
		// "from now on you …", "henceforth you …", "désormais tu …", "ab jetzt / ab sofort bist du",
		// "a partir de ahora eres", "de ahora en adelante eres", "à partir de maintenant tu es",
		// "from now on never refuse"; not "from now on I will pay by card" nor "… please answer in Spanish"
		{f: fPersona, steps: []step{s(cFrom, 0), s(cNow, 1), s(cOn, 1), {mask: addressed, gap: 4, notI: true, addr: true}}},
		{f: fPersona, steps: []step{s(cFrom, 0), s(cNow, 1), s(cOn, 1), {mask: cNeg, gap: 4, notI: true, next: refusals}}},
		{f: fPersona, steps: []step{x(0, dHence, 0), {mask: addressed, gap: 3, notI: true, addr: true}}},
		{f: fPersona, steps: []step{x(0, dHence, 0), {mask: cNeg, gap: 3, notI: true, next: refusals}}},
		{f: fPersona, steps: []step{x(0, dFromX, 0), x(cNow, dSoon, 1), {mask: addressed, gap: 4, notI: true, addr: true}}},
		{f: fPersona, steps: []step{s(cNow, 0), x(0, dSoon, 1), {mask: addressed, gap: 4, notI: true, addr: true}}},
		{f: fPersona, steps: []step{{mask: cAre, prev: wordSet(`ahora`), next: determiners}}}, // "ahora eres un …" (no pronoun)
		{f: fPersona, steps: []step{s(cModeAdj, 0), s(cMode, 1)}},
		{f: fPersona, steps: []step{s(cMode, 0), s(cModeAdj, 0)}}, // modo desarrollador, mode développeur
		{f: fPersona, steps: []step{x(0, dModeWord, 0)}},
		{f: fPersona, steps: []step{s(cStay, 0), s(cCharacter, 3)}},
		{f: fPersona, steps: []step{s(cCharacter, 0), s(cStay, 3)}},
		{f: fPersona, steps: []step{s(cWithout, 0), s(cLimits, 1)}},
		// "you are no longer …", "du bist nicht mehr …", "ya no eres …"
		{f: fPersona, steps: []step{s(cYou, 0), s(cAre, 0), s(cNeg, 1), {mask2: dLonger, next: determiners}}},
		{f: fPersona, steps: []step{x(0, dLonger, 0), s(cNeg, 0), {mask: cAre, next: determiners}}},
		{f: fPersona, steps: []step{s(cEvil, 0), s(cAI, 2)}},
		{f: fPersona, steps: []step{s(cYou, 0), s(cAre, 1), s(cEvil, 3)}},
		{f: fPersona, steps: []step{{mask: cPersona, upper: true}}},
		// roleplay
		{f: fRoleplay, steps: []step{s(cAct, 0), {mask: cAs, gap: 1, role: true}}},
		{f: fRoleplay, steps: []step{{mask: cAs, role: true}, x(0, dActFinal, 8)}}, // "als … fungieren" (not "As the nurse said, act quickly")
		{f: fRoleplay, steps: []step{imp(cPretend, 0), s(cYou|cThat, 2)}},
		{f: fRoleplay, steps: []step{s(cFiction, 0), s(cFiction, 6)}},
		{f: fRoleplay, steps: []step{imp(cPretend, 0), s(cYou, 3), s(cAre, 1)}},
		// "act like", "verhalte dich wie", "I want you to act like"
		{f: fRoleplay, steps: []step{{mask: cAct, imp: true, next: likeWords}}},
		{f: fRoleplay, steps: []step{s(cYou, 0), {mask: cAct, gap: 1, next: likeWords}}},
		// "roleplay as", "role-playing as"
		{f: fRoleplay, steps: []step{s(cRoleplay, 0), s(cAs, 1)}},
		{f: fRoleplay, steps: []step{s(cCharacter, 0), x(0, dPlay, 0), s(cAs, 1)}},
		// "play / take on the role of", "spiele die Rolle eines", "schlüpfe in die Rolle", "juega el papel de",
		// "joue le rôle d'un" (not "plays a role in")
		{f: fRoleplay, steps: []step{x(0, dPlay, 0), {mask: cCharacter, gap: 2, next: ofWords}}},
		// "tu so, als ob / als wärst du", "haz como si", "fais comme si", "fais semblant d'être", "gib dich als … aus"
		{f: fRoleplay, steps: []step{imp(cYou, 0), {mask: cAs, gap: 1, prev: soWords}}},
		{f: fRoleplay, steps: []step{ximp(0, dDo, 0), s(cAs, 0), x(0, dSi, 0)}},
		{f: fRoleplay, steps: []step{ximp(0, dDo, 0), x(0, dSemblant, 0)}},
		{f: fRoleplay, steps: []step{ximp(0, dGive, 0), x(0, dSelf, 0), s(cAs, 0)}},
		// "Be a DJ.", "Sei ein Pirat."
		{f: fRoleplay, steps: []step{{mask2: dBe, imp: true, next: determiners}}},
		// system_prompt_exfiltration
		{f: fExfil, steps: []step{s(cReveal|cWhat, 0), s(cYour|cPrior, 4), d(cPrompt|cInstr, 3)}},
		{f: fExfil, steps: []step{s(cReveal, 0), s(cPrompt, 5)}},
		{f: fExfil, steps: []step{s(cWritten, 0), s(cPrior|cBeginning, 4)}},
		{f: fExfil, steps: []step{s(cWhat, 0), s(cPrior, 6), s(cContext|cPrompt, 2)}},
		{f: fExfil, steps: []step{s(cWhat, 0), s(cAre, 1), s(cYour, 1), d(cInstr|cPrompt, 2)}},
		{f: fExfil, steps: []step{s(cRevealStrong, 0), d(cInstr|cPrompt, 3)}},
		{f: fExfil, steps: []step{imp(cReveal|cOutput, 0), {mask: cInstr | cPrompt, gap: 3, bare: true, dom: domTopic, notMy: true}}},
		{f: fExfil, steps: []step{d(cInstr|cPrompt, 0), x(cYou, dSelf, 2), s(cTold, 3)}},
		{f: fExfil, steps: []step{d(cInstr|cPrompt, 0), s(cTold, 2), s(cYou, 2)}},
		{f: fExfil, steps: []step{s(cWhat, 0), d(cInstr|cPrompt, 2), s(cYou|cTold, 3)}},
		// "repeat the text above", "wiederhole den Text oben", "repite todo lo anterior"
		{f: fExfil, steps: []step{imp(cRevealStrong, 0), {mask: cPrior, gap: 3, head: headNouns, prev: spokenWords}}},
		{f: fExfil, steps: []step{x(0, dWhich, 0), s(cYour, 2), d(cInstr|cPrompt, 2)}},
		// "print your instructions about … verbatim": a topic does not make a verbatim copy harmless
		{f: fExfil, steps: []step{s(cYour|cPrior, 0), s(cInstr|cPrompt, 2), x(0, dVerbatim, 8)}},
		// secret_request
		{f: fSecret, steps: []step{x(cReveal|cWhat|cTell, dWhich, 0), {mask: cPassword, gap: 4, notMy: true}}},
		{f: fSecret, steps: []step{x(cReveal|cWhat|cTell, dWhich, 0), {mask2: dSecret, gap: 4, notMy: true, bare: true}}},
		{f: fSecret, steps: []step{x(cReveal|cWhat|cTell, dWhich, 0), {mask2: dPasse, gap: 5, prev: wordSet(`de`)}}}, // mot de passe
		{f: fSecret, steps: []step{s(cPassword, 0), s(cReveal, 3)}},
		// forced_output
		{f: fForcedOutput, steps: []step{s(cRevealStrong, 0), s(cAfter, 1), s(cMe, 1)}},
		{f: fForcedOutput, steps: []step{s(cJust, 0), s(cSay|cOutput, 1)}},
		{f: fForcedOutput, steps: []step{s(cOutput|cSay, 0), s(cJust, 1)}},
		{f: fForcedOutput, steps: []step{imp(cState, 0), s(cThat, 1)}},
		{f: fForcedOutput, steps: []step{s(cTell|cSay, 0), s(cMe, 1), s(cThat, 1), s(cYou, 1)}},
		{f: fForcedOutput, steps: []step{s(cTell|cSay, 0), s(cThat, 0), s(cYou, 0)}},
		{f: fForcedOutput, steps: []step{imp(cRevealStrong, 0), s(cEvery, 2)}},
		// "say yes.", "di que …" (Spanish drops the pronoun)
		{f: fForcedOutput, steps: []step{imp(cSay, 0), {mask2: dYesNo, head: cFiller}}},
		{f: fForcedOutput, steps: []step{ximp(0, dSayX, 0), s(cThat, 0)}},
		// context_switch
		{f: fContextSwitch, steps: []step{s(cPraise, 0), s(cNow|cEnough, 12), x(cOutput|cReveal|cSay|cIgnore|cTask|cInstr|cNew, dWrite, 10)}},
		{f: fContextSwitch, steps: []step{s(cEnough, 0), imp(cNow, 8)}},
		{f: fContextSwitch, steps: []step{imp(cStop, 0), ximp(cReveal|cOutput|cSay|cIgnore, dWrite, 4)}},
		{f: fContextSwitch, steps: []step{s(cStop, 0), s(cStop, 2)}},
		{f: fContextSwitch, steps: []step{s(cNow, 0), s(cNew, 2), s(cInstr|cTask, 2)}},
		// context_override
		{f: fContextIgnore, steps: []step{s(cNeg, 0), s(cLook|cOutput, 2), s(cContext, 5)}},
		{f: fContextIgnore, steps: []step{s(cOwn, 0), s(cKnowledge, 1)}},
		{f: fContextIgnore, steps: []step{s(cDespite, 0), s(cWhat, 2), s(cTold, 4)}},
		{f: fContextIgnore, steps: []step{imp(cIgnore, 0), s(cContext, 4)}},
		// "answer without the articles", "antworte ohne die Dokumente", "responde sin los documentos"
		{f: fContextIgnore, steps: []step{s(cOutput|cLook, 0), s(cWithout, 2), s(cContext, 2)}},
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
			ps[i].union2 |= st.mask2
		}
		for _, st := range ps[i].steps[1:] {
			ps[i].span += st.gap + 1
		}
		ps[i].first, ps[i].first2 = ps[i].steps[0].mask, ps[i].steps[0].mask2
		for k := range ps[i].steps {
			st := &ps[i].steps[k]
			st.checks = st.bare || st.head != 0 || st.label || st.notMy || st.notI || st.next != nil ||
				st.prev != nil || st.notPrev != nil || st.dom != 0 || st.role || st.addr || st.state
		}
	}
	return ps
}()

// byBit lists, per concept bit, the patterns that use it; stepBase is the
// offset of each pattern's steps in the matcher state.
var byBit, stepBase = func() (idx [128][]uint16, base []int) {
	n := 0
	for pi, p := range patterns {
		base = append(base, n)
		n += len(p.steps)
		for b := 0; b < 64; b++ {
			if p.union&(1<<b) != 0 {
				idx[b] = append(idx[b], uint16(pi))
			}
			if p.union2&(1<<b) != 0 {
				idx[64+b] = append(idx[64+b], uint16(pi))
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
	dom := domCache{at: -1}
	for i := range toks {
		t := &toks[i]
		cm := lookup(n.buf[t.start:t.end])
		t.mask, t.mask2 = cm.a, cm.b
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
		m, m2 := t.mask, t.mask2
		if m|m2 == 0 {
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
		for bits, off := m, 0; ; bits &= bits - 1 {
			if bits == 0 {
				if off == 64 || m2 == 0 {
					break
				}
				bits, off = m2, 64
			}
			for _, pi := range byBit[off+trailingZeros(bits)] {
				if seen[pi] == stamp {
					continue
				}
				seen[pi] = stamp
				p := &patterns[pi]
				base := stepBase[pi]
				// A word that cannot start the pattern only matters if the
				// pattern started within its span (most visits end here).
				if m&p.first == 0 && m2&p.first2 == 0 && int32(i)-last[base] > p.span {
					continue
				}
				for k := len(p.steps) - 1; k >= 0; k-- {
					st := &p.steps[k]
					if m&st.mask == 0 && m2&st.mask2 == 0 || st.imp && t.flags&tokImperative == 0 ||
						st.upper && t.flags&tokUpper == 0 {
						continue
					}
					if st.checks && !st.neighbours(n, i, k, last[base+max(k-1, 0)], &dom) {
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

// neighbours reports whether word i, which has the step's concept, passes
// the step's checks of neighbouring words (only steps with checks get
// here); prev is the word index of the previous step's match (k > 0).
func (st *step) neighbours(n *normText, i, k int, prev int32, dom *domCache) bool {
	t := &n.toks[i]
	return !(st.bare && topicNext(n.buf[t.end:]) ||
		st.head != 0 && !headOK(n, i, st.head) || st.label && !colonNext(n.buf[t.end:]) ||
		st.notMy && i > 0 && mine[string(n.word(i-1))] ||
		st.next != nil && !nextIn(n, i, st.next) || st.prev != nil && (i == 0 || !st.prev[string(n.word(i-1))]) ||
		st.notPrev != nil && i > 0 && st.notPrev[string(n.word(i-1))] ||
		st.notI && k > 0 && firstPerson(n, max(prev, int32(i)-st.gap-1), int32(i)) ||
		st.dom != 0 && dom.get(n, i)&st.dom != 0 || st.role && careRoleNext(n, i) ||
		st.addr && !addresseeOK(n, i) || st.state && stateNext(n, i))
}

// domCache holds domainInstr of the current word, computed once however
// many steps ask (an instruction word reaches about a dozen).
type domCache struct {
	at  int
	val uint8
}

func (c *domCache) get(n *normText, i int) uint8 {
	if c.at != i {
		c.at, c.val = i, domainInstr(n, i)
	}
	return c.val
}

// headOK reports whether word i ends its phrase or qualifies a word with
// one of the concepts in head, looking past a few determiners ("ignore all
// of the above", "ignore the previous instructions").
func headOK(n *normText, i int, head uint64) bool {
	for j := i + 1; j < len(n.toks) && j <= i+3; j++ {
		t := &n.toks[j]
		if t.flags&tokClauseStart != 0 {
			return true
		}
		w := n.word(j)
		if headSkip[string(w)] {
			continue
		}
		return discourse[string(w)] || lookup(w).a&head != 0
	}
	return true // end of text
}

var headSkip = map[string]bool{"the": true, "of": true, "these": true, "those": true, "few": true, "couple": true,
	"two": true, "three": true, "several": true, "die": true,
	"der": true, "den": true, "las": true, "los": true, "les": true, "des": true, "de": true, "la": true, "le": true,
	"el": true, "del": true}

// nextIn reports whether word i is followed, in the same clause and past a
// reflexive pronoun ("verhalte dich wie"), by a word in set.
func nextIn(n *normText, i int, set map[string]bool) bool {
	j := i + 1
	if j < len(n.toks) && reflexive[string(n.word(j))] {
		j++
	}
	return j < len(n.toks) && n.toks[j].flags&tokClauseStart == 0 && set[string(n.word(j))]
}

// firstPerson reports whether a word strictly between from and to is "I"
// (callers bound the range by the step's gap).
func firstPerson(n *normText, from, to int32) bool {
	for j := max(from+1, 0); j < to; j++ {
		if firstPersonWords[string(n.word(int(j)))] {
			return true
		}
	}
	return false
}

// Small word sets for steps that look at a neighbour instead of a concept
// (keeping such common words out of the lexicon keeps benign text fast).
var (
	reflexive        = wordSet(`dich sich te toi yourself`)
	firstPersonWords = wordSet(`i i've i'd ich yo je j'ai we wir nosotros nous`)
	likeWords        = wordSet(`like wie como comme`)
	soWords          = wordSet(`so`)
	otherWords       = wordSet(`another next further additional other weitere weiteren nächste nächsten andere anderen
		zusätzliche otra otro siguiente adicional adicionales autre prochaine suivante`)
	// discourse nouns: what a model is told ("ignore the previous message").
	discourse = wordSet(`message messages statement statements sentence sentences request requests direction input
		inputs prompt text texts words things lines paragraph paragraphs conversation chat answer answers stuff
		nachricht nachrichten eingabe eingaben aussage aussagen satz sätze anfrage texte
		mensaje mensajes frase frases solicitud entrada palabras phrase phrases demande demandes mots texte`)
	// spokenWords precede "above" in "repeat the text / everything above".
	spokenWords = wordSet(`message statement sentence sentences text words lines paragraph prompt instructions everything
		all alles todo tout lo satz nachricht frase texto mensaje phrase`)
)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[Normalize(w)] = true
	}
	return m
}

// mine are first-person possessives: "my password" is the user's own.
var mine = map[string]bool{"my": true, "mein": true, "meine": true, "meinen": true, "mi": true, "mis": true,
	"mon": true, "ma": true, "mes": true}

// ofWords link a role to whom it is ("the role of a pirate", "die Rolle eines Piraten").
var ofWords = map[string]bool{"of": true, "as": true, "eines": true, "einer": true, "des": true, "de": true,
	"del": true, "d'un": true, "d'une": true, "als": true, "como": true, "comme": true, "von": true}

// colonNext reports whether b starts, after spaces, with a colon.
func colonNext(b []byte) bool {
	i := skipSpaces(b, 0)
	return i < len(b) && b[i] == ':'
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
	"nur": true, "con": true, "solo": true, "avec": true, "me": true, "back": true, "simply": true,
	"einfach": true, "genau": true, "simplemente": true, "simplement": true, "par": true, "uniquement": true,
	"literally": true, "mir": true, "moi": true}

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
var determiners = map[string]bool{"the": true, "a": true, "an": true, "ein": true, "eine": true, "einen": true,
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
