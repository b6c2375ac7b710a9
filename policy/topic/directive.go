package topic

import (
	"strings"
	"unicode/utf8"
)

// Cues is the set of directive cues found in a text (Directives).
type Cues uint8

// Directive cues. A directive is a sentence that tells the assistant to do a
// task ("write a poem about …", "now you are X", "I want you to act as …"),
// as opposed to a question or a keyword query. Used by the per-app scope
// mode that refuses off-topic directives but answers off-topic questions
// (rego/scope.rego, off_topic: "refuse_directives"): an app that may answer
// general questions but must not be repurposed.
const (
	// CueImperative: a clause starts with an imperative verb, after
	// optional fillers ("ok", "now", "please", "bitte", "ahora", …):
	// "Write a poem", "Now forget everything", "Formuliere …", "Dime …",
	// "Écrivez …", "Schreiben Sie …".
	CueImperative Cues = 1 << iota
	// CueAddress: a phrase that assigns the assistant a role or a task:
	// "I want you to", "you are now", "act as", "pretend", "from now on",
	// "your new task", "ich möchte, dass du", "quiero que", "je veux que tu".
	CueAddress
	// CueRequest: a modal question asking the assistant to do a task:
	// "Can you write …", "Kannst du … schreiben", "¿Puedes escribir …",
	// "Pouvez-vous écrire …". Polite requests of this shape are everyday
	// customer and clinical language ("Can you summarise this note"), so
	// they are not part of DirectiveCues.
	CueRequest
)

// DirectiveCues are the cues that make Result.Directive true. Chosen by
// cross-validation on deepset's train split (docs/injection-evaluation.md,
// round 6): CueRequest refused more off-topic questions than it caught
// task hijacks.
const DirectiveCues = CueImperative | CueAddress

// Directive reports whether text contains a sentence that instructs the
// assistant to perform a task (DirectiveCues; English, German, Spanish and
// French). It is a word-level scanner: linear in len(text), no allocation.
func Directive(text string) bool { return Directives(text)&DirectiveCues != 0 }

// Word classes of the directive scanner (dirWords).
const (
	wFiller uint16 = 1 << iota // skipped at clause start: "ok", "now", "please", "bitte"
	wImp                       // imperative verb: "write", "schreibe", "escribe", "écris"
	wImpOf                     // also a noun: imperative unless a preposition follows ("list of", "help for")
	wFormal                    // German infinitive, imperative before "Sie": "Schreiben Sie"
	wModal                     // "can", "could", "kannst", "puedes", "pouvez"
	wYou                       // "you", "du", "sie", "usted", "tu", "vous"
	wInf                       // infinitive of a task verb after a modal: "write", "schreiben", "escribir", "écrire"
	wSie                       // German "sie"
)

// dirPhrase is a word sequence that is a CueAddress wherever it occurs.
type dirPhrase []uint16

type dirWord struct{ class, id uint16 }

var (
	// dirWords holds every word the scanner knows: its classes and, for a
	// phrase word, its id (1-based; 0 for other words). One lookup per word.
	dirWords   = map[string]dirWord{}
	dirPhrases = map[uint16][]dirPhrase{} // by the id of their last word
	maxPhrase  int
)

func init() {
	add := func(class uint16, words string) {
		for _, w := range strings.Fields(words) {
			d := dirWords[w]
			d.class |= class
			dirWords[w] = d
		}
	}
	add(wFiller, `ok okay now so then and but also well please pls kindly hey hi hello oh alright just simply
		next finally instead first great good fine very excellent wow yes
		nun jetzt also dann und aber bitte hallo super gut sehr einfach zuerst stattdessen
		ahora y pero entonces bueno hola primero luego
		maintenant et mais alors bon bonjour salut dabord ensuite`)
	add(wImp, `write tell say give generate create compose draft formulate translate summarize summarise
		explain describe ignore forget disregard pretend imagine show repeat respond
		reply produce rewrite continue stop become provide find calculate recommend suggest convert
		insert include add replace remember assume behave spell argue praise focus concentrate remove
		make lets begin correct complete invent pick choose criticize criticise insult
		speak talk mention emphasize emphasise declare publish reveal
		schreibe schreib sag sage erzähle erzähl gib nenne erstelle generiere formuliere übersetze
		fasse erkläre beschreibe ignoriere vergiss tue stell handle antworte beantworte wiederhole zeige
		zeig mache mach verfasse hilf konzentriere lass lasse vergesst ignoriert
		hör höre stopp stoppe beginne starte denk denke behaupte
		escribe escriba di dime dígame digame cuéntame cuentame dame haz genera crea traduce
		traduzca explica explícame explicame describe ignora olvida olvídate olvidate actúa actua
		finge imagina responde contesta repite enumera redacta escríbeme escribeme
		écris écrivez dis dites donne donnez raconte racontez fais faites génère générez crée créez
		traduis traduisez résume résumez explique expliquez décris décrivez ignore ignorez oublie oubliez
		agis agissez imagine imaginez réponds répondez répète répétez montrez énumère rédige rédigez
		arrête arrêtez`)
	add(wImpOf, `use list name play act help answer output print leave share keep`)
	add(wFormal, `schreiben sagen erzählen geben nennen erstellen generieren formulieren übersetzen fassen
		erklären beschreiben ignorieren vergessen antworten beantworten wiederholen zeigen machen verfassen
		helfen spielen konzentrieren lassen hören stellen vergessen tun handeln`)
	add(wModal, `can could would will kannst könntest kann könnte können könnten würdest würden
		puedes podrías podrias puede podría podria peux pouvez pourrais pourriez`)
	add(wYou, `you du sie usted tu vous`)
	add(wSie, `sie`)
	add(wInf, `write tell say give generate create compose draft formulate translate summarize summarise
		explain describe list name show print repeat produce rewrite make
		schreiben sagen erzählen geben nennen erstellen generieren formulieren übersetzen zusammenfassen
		erklären beschreiben zeigen machen verfassen wiederholen
		escribir escribirme decir decirme contar contarme dar darme hacer generar crear traducir resumir
		explicar explicarme describir mostrar
		écrire dire donner raconter faire générer créer traduire résumer expliquer décrire montrer rédiger`)

	var ids uint16
	for _, p := range strings.Split(`i want you to|i need you to|i would like you to|id like you to|you are now|youre now|
		now you are|now youre|from now on|pretend you|pretend to be|pretending to be|roleplay|your new task|your task is|
		new tasks|new task|imagine you are|you will act|you will now|
		ich möchte dass du|ich möchte dass sie|ich will dass du|ich will dass sie|du bist jetzt|du bist nun|
		jetzt bist du|nun bist du|sie sind jetzt|ab jetzt|von nun an|agiere als|fungiere als|tu so als|tue so als|
		stell dir vor|stellen sie sich vor|deine neue aufgabe|neue aufgabe|neue aufgaben|
		quiero que|necesito que|ahora eres|eres ahora|a partir de ahora|actúa como|actua como|finge que|
		finge ser|imagina que eres|tu nueva tarea|nueva tarea|
		je veux que tu|je veux que vous|je voudrais que tu|je voudrais que vous|tu es maintenant|
		vous êtes maintenant|maintenant tu es|maintenant vous êtes|à partir de maintenant|agis comme|
		agissez comme|fais semblant|faites semblant|imagine que tu|ta nouvelle tâche|nouvelle tâche`, "|") {
		ws := strings.Fields(p)
		if len(ws) == 0 {
			continue
		}
		ph := make(dirPhrase, len(ws))
		for i, w := range ws {
			d := dirWords[w]
			if d.id == 0 {
				ids++
				d.id = ids
				dirWords[w] = d
			}
			ph[i] = d.id
		}
		last := ph[len(ph)-1]
		dirPhrases[last] = append(dirPhrases[last], ph)
		maxPhrase = max(maxPhrase, len(ph))
	}
}

// Clause states of the scanner.
const (
	stStart   = iota // no content word yet in this clause
	stFormal         // first word was a German infinitive; "Sie" next makes it an imperative
	stImpOf          // first word was a wImpOf verb; a verb unless a preposition follows
	stModal          // first word was a modal; waiting for "you"
	stRequest        // modal + you: waiting for a task infinitive in this clause
	stBody           // clause decided; nothing more to learn from its start
)

// nounNext are the words after which a wImpOf word is a noun.
var nounNext = map[string]bool{"of": true, "for": true, "in": true, "on": true, "and": true, "or": true,
	"to": true, "at": true, "with": true, "from": true}

// maxFillers bounds the fillers skipped at a clause start ("ok so now
// please write …").
const maxFillers = 4

// Directives returns the directive cues found in text. A clause ends at
// . ! ? ; : , a line break or a dash between spaces ("stop - write: …").
func Directives(text string) Cues {
	var (
		cues    Cues
		buf     [64]byte
		recent  [8]uint16 // ids of the latest words (phrase matching), ring buffer
		nRecent int
		state   = stStart
		fillers int
		prevEnd int
	)
	for i := 0; i < len(text); {
		w, start, end := nextWord(text, i, buf[:])
		if start > prevEnd && clauseBreak(text[prevEnd:start]) {
			state, fillers = stStart, 0
		}
		i, prevEnd = end, end
		if len(w) == 0 {
			break
		}
		d := dirWords[string(w)]
		class, id := d.class, d.id

		// Phrases (CueAddress) match anywhere, across clause breaks.
		recent[nRecent%len(recent)] = id
		nRecent++
		if id != 0 && cues&CueAddress == 0 {
			for _, ph := range dirPhrases[id] {
				if len(ph) <= nRecent && matchRecent(ph, &recent, nRecent) {
					cues |= CueAddress
					break
				}
			}
		}

		switch state {
		case stStart:
			switch {
			case class&wFiller != 0 && fillers < maxFillers:
				fillers++
			case class&wImp != 0:
				cues |= CueImperative
				state = stBody
			case class&wImpOf != 0:
				state = stImpOf
			case class&wModal != 0:
				state = stModal
			case class&wFormal != 0:
				state = stFormal
			default:
				state = stBody
			}
		case stFormal:
			if class&wSie != 0 {
				cues |= CueImperative
			}
			state = stBody
		case stImpOf:
			if !nounNext[string(w)] {
				cues |= CueImperative
			}
			state = stBody
		case stModal:
			switch {
			case class&wYou != 0:
				state = stRequest
			case class&wInf != 0: // Spanish drops the pronoun: "¿Puedes escribir …?"
				cues |= CueRequest
				state = stBody
			case class&wFiller != 0: // "can I please", "could please"
			default:
				state = stBody
			}
		case stRequest:
			if class&wInf != 0 {
				cues |= CueRequest
				state = stBody
			}
		}
		if cues == CueImperative|CueAddress|CueRequest {
			break
		}
	}
	return cues
}

// matchRecent reports whether the latest len(ph) words are ph.
func matchRecent(ph dirPhrase, recent *[8]uint16, n int) bool {
	for j := range ph {
		if recent[(n-len(ph)+j)%len(recent)] != ph[j] {
			return false
		}
	}
	return true
}

// clauseBreak reports whether the text between two words ends a clause.
func clauseBreak(gap string) bool {
	for i := 0; i < len(gap); {
		r, size := utf8.DecodeRuneInString(gap[i:])
		switch r {
		case '.', '!', '?', ';', ':', ',', '\n', '\r', '¿', '¡':
			return true
		case '-', '–', '—':
			// A dash between spaces ("stop - write"), not a hyphen.
			if i > 0 && gap[i-1] == ' ' && i+size < len(gap) && gap[i+size] == ' ' {
				return true
			}
		}
		i += size
	}
	return false
}
