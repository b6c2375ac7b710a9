package injection

import (
	"bytes"
	"strings"
)

// Concepts: each normalised word maps to a bit set of the concepts it can
// express, in every supported language. Rules are written over concepts, so
// "ignore all previous instructions", "vergiss alle vorherigen Anweisungen"
// and "olvida todas las instrucciones anteriores" share one rule.
const (
	cIgnore       uint64 = 1 << iota // ignore, forget, disregard, vergiss, olvida, oublie …
	cPrior                           // previous, above, earlier, vorherigen, anteriores …
	cAll                             // all, every, alle, todas, toutes …
	cEvery                           // everything, anything, alles, todo, tout …
	cInstr                           // instructions, rules, orders, Anweisungen, instrucciones …
	cTask                            // task(s), assignment(s), Aufgabe(n), tarea(s) …
	cContext                         // documents, articles, context, information …
	cYour                            // your, deine, tus, vos …
	cYou                             // you, du, Sie, tu, vous, usted
	cAre                             // are, bist, eres, es, êtes
	cNew                             // new, neue, nueva, nouvelle
	cNow                             // now, nun, jetzt, ahora, maintenant
	cFiller                          // please, now, just, ok, and … (skipped before an imperative)
	cReveal                          // show, print, reveal, repeat, tell, zeige, muestra …
	cPrompt                          // prompt, system prompt, Prompt-Text …
	cPassword                        // password, secret, Passwort …
	cSay                             // say, sag, di, dites
	cOutput                          // output, print, write, answer, respond …
	cJust                            // just, only, nur, solo, seulement
	cAct                             // act, behave, fungieren
	cAs                              // as, als, como, comme
	cPretend                         // pretend, imagine, stell (dir vor), finge, imagina
	cRoleplay                        // roleplay, rollenspiel
	cPersona                         // DAN, jailbreak, jailbroken, STAN, AIM …
	cModeAdj                         // developer, god, debug, admin, jailbreak (… mode)
	cMode                            // mode, modus, modo
	cCharacter                       // character, role(s), Rolle(n), Figur, personaje
	cStay                            // stay, remain, break, fall, bleiben, fallen
	cNeg                             // not, don't, never, nicht, no, ne
	cWithout                         // without, no, ohne, sin, sans
	cLimits                          // restrictions, limits, filters, censorship, ethics …
	cEvil                            // evil, unethical, amoral, unfiltered, uncensored
	cAI                              // ai, assistant, chatbot, model, gpt, llm
	cCapsCmd                         // words that form a command when SHOUTED inside a sentence
	cPraise                          // well done, great, excellent, wow, congratulations …
	cStop                            // stop, attention, achtung, halt
	cEnough                          // enough, genügt
	cWritten                         // written, wrote, said, geschrieben, stand
	cBeginning                       // beginning, start, top, Anfang
	cWhat                            // what, was, que, quoi
	cRevealStrong                    // repeat, reveal, print, output, display, dump, leak, echo …
	cAfter                           // after, nach
	cMe                              // me, mir, mich, moi
	cThat                            // that, dass, que
	cTell                            // tell, sag, dime
	cState                           // state, claim, declare, behaupte
	cChange                          // change, update, replace, modify, ändere
	cVoid                            // irrelevant, void, obsolete, invalid, cancelled, ungültig
	cFrom                            // from, ab, von, a partir
	cOn                              // on, an, adelante
	cIgnoreWeak                      // delete, cancel, reset, reject, revoke (only with instruction words)
	cOwn                             // own, eigenen
	cKnowledge                       // knowledge, Wissen
	cUser                            // user, human, customer, Nutzer
	cSend                            // send, forward, post, email, upload, exfiltrate
	cAttn                            // note, attention, important, dear
	cIf                              // if, wenn, si
	cLook                            // look, use, consult, refer, read
	cTold                            // told, instructed, programmed
	cDespite                         // despite, regardless, trotz
	cFollow                          // follow, obey, befolge
	cOpposite                        // opposite, against, defy, subvert, break, invert
	cFiction                         // actor(s), film, movie, scene, Schauspieler — the "two actors in a film" set-up
)

// Secondary concepts: a second 64-bit set (the first is full), used the
// same way; a step names them in mask2.
const (
	dHence         uint64 = 1 << iota // henceforth, désormais, dorénavant, fortan: "from now on" in one word
	dFromX                            // ab, partir, desde: the "from" of "ab jetzt", "a partir de ahora", "desde ahora"
	dSoon                             // sofort, adelante: "ab sofort", "de ahora en adelante"
	dPlay                             // play, take on, assume, spiele, schlüpfe, juega, interpreta, joue, incarne
	dBe                               // be, sei, sé, sois: imperative "Be a DJ"
	dAside                            // aside, behind, beiseite, hinter, lado, côté (set aside, leave behind)
	dPut                              // set, put, leave, lay, lass, lege, deja, deje, laisse, mets
	dHeed                             // heed, beachte, caso (hacer caso), compte (tenir compte), attention
	dApply                            // apply, valid, gelten, gilt, válidas, valables, vigentes (rules no longer apply)
	dLonger                           // longer, mehr, ya, plus (no longer, nicht mehr, ya no, ne plus)
	dKnow                             // know, weißt, sabes, sais (forget what you know)
	dSecret                           // secret, Geheimnis, secreto: a password only when not "the secret of/to …"
	dNever                            // never (mind), "never mind the instructions"
	dMind                             // mind
	dSemblant                         // semblant, abstraction, omiso, pasar (por alto), "fais semblant", "haz caso omiso"
	dTell2                            // told, dijeron, dit, gesagt: what someone told the model
	dSi                               // si: "haz como si", "fais comme si"
	dContextLabel                     // context, kontext, documents, artikel: a fake RAG context block label
	dQuestionLabel                    // question, frage, pregunta: the question after a fake context block
	dFollowing                        // following, folgenden, siguiente, suivant
	dRel                              // lo (olvida lo que), ce (oublie ce que), what: a relative "what"
	dWhich                            // welche, cuál, quel, lautet: question words of de/es/fr
	dDo                               // haz, fais, mach: "haz como si", "fais semblant"
	dGive                             // gib, gebe: "gib dich als … aus"
	dSelf                             // dich, dir, ti, toi, yourself: "für dich", "pour toi"
	dYesNo                            // yes, no, ja, nein, sí, oui, non: "say yes"
	dPasse                            // passe, in "mot de passe"
	dModeWord                         // entwicklermodus, godmode: developer mode in one word
	dSayX                             // di, dis, dites, sag, sage: "say" in de/es/fr ("di que …")
	dWrite                            // write, generate, compose, verfasse, formuliere, redacta, rédige: a new piece of work
	dActFinal                         // fungieren, agieren: the verb-final "act" of "als … fungieren"
	dVerbatim                         // verbatim, wörtlich, textualmente, textuellement: "print your instructions verbatim"
)

// cmask is a word's concepts: a (c* constants) and b (d* constants).
type cmask struct{ a, b uint64 }

// lexicon is built once: each entry is normalised like the input, so keys
// with accents or homoglyphs match whatever the normaliser produces.
var lexicon = func() map[string]cmask {
	m := make(map[string]cmask, 1024)
	add := func(bits uint64, words string) {
		for _, w := range strings.Fields(words) {
			k := Normalize(w)
			c := m[k]
			c.a |= bits
			m[k] = c
		}
	}
	add2 := func(bits uint64, words string) {
		for _, w := range strings.Fields(words) {
			k := Normalize(w)
			c := m[k]
			c.b |= bits
			m[k] = c
		}
	}
	addSecondary(add2)
	add(cIgnore, `ignore ignored ignores ignoring disregard disregarding forget forgetting skip bypass override overwrite
		overrule drop abandon discard dismiss neglect omit
		vergiss vergessen vergesse vergesst ignoriere ignorieren ignorier ignoriert missachte missachten
		verwirf verwerfe überspringe vernachlässige umgehe umgehen
		olvida olvide olvidate olvídate olvidad olvidar ignora ignorar ignoren ignores descarta descartar omite
		oublie oubliez oublier ignorez ignorer néglige négligez contourne contournez
		dimentica dimenticare esqueça esqueca esquece
		zaboravi zaboravite ignoriraj
		забудь забудьте игнорируй игнорируйте`)
	add(cPrior, `previous prior preceding above earlier before former foregoing initial aforementioned
		preceeding previously beforehand last past old
		vorherigen vorherige vorheriger vorherigem bisherigen bisherige obigen obige vorangehenden vorangegangenen
		vorangegangene vorigen vorige davor zuvor oben früheren frühere vorhergehenden vorhergehende vorstehenden
		anteriores anterior previas previos precedentes précédentes précédente antérieures
		antes arriba dessus precedenti
		prethodne prethodni
		предыдущие предыдущих прежние`)
	add(cAll, `all every any each
		alle allen aller jegliche sämtliche sämtlichen
		todas todos toutes tous
		tutte tutti sve svi все`)
	add(cEvery, `everything everthing evrything anything alles todo tout tutto sve всё все`)
	add(cInstr, `instructions instruction directions directives directive rules guidelines orders commands
		prompts programming constraints restrictions restriction guardrails requests command protocol directive
		sentences limitations directions instructed
		anweisungen anweisung instruktionen instruktion befehle vorgaben regeln richtlinien anordnungen direktiven
		instrucciones instrucción reglas órdenes indicaciones directrices directivas normas pautas consignas
		consignes règles directives ordres indications
		istruzioni regole instruções regras
		instrukcije upute
		инструкции инструкций указания правила`)
	add(cTask, `task tasks assignment assignments aufgabe aufgaben auftrag aufträge tarea tareas tâche tâches`)
	add(cContext, `documents document articles article context information texts text conversation
		provided discussed informationen angaben ausführungen gesagte dokumente artikel kontext
		información documentos contexto texto informations`)
	add(cYour, `your ur yours deine deinen deiner deinem dein ihre ihren tus tu tuyas vos votre tes ton ta`)
	add(cYou, `you u du sie tu vous usted ты вы`)
	add(cAre, `are bist eres es êtes sind estás`)
	add(cNew, `new neue neuen neuer neues nueva nuevas nuevo nuevos nouvelle nouvelles nouveau nouveaux`)
	add(cNow, `now nun jetzt ahora maintenant`)
	add(cFiller, `please now just ok okay and but then so also simply kindly instead well hey hi hello
		bitte nun jetzt und aber dann einfach also por favor ahora y pero solo alors et mais maintenant`)
	add(cReveal, `show print reveal repeat tell output display spell give list share leak dump disclose expose
		recite provide gimme describe
		zeige zeig zeigen gib verrate nenne wiederhole schreibe
		muestra muéstrame dime revela repite escribe
		montre affiche révèle répète écris donne`)
	add(cPrompt, `prompt prompts systemprompt prompttext prompt_text`)
	add(cPassword, `password passwords passwort kennwort contraseña passphrase pw`)
	add(cSay, `say sag sage sagen di dites dis decir`)
	add(cOutput, `output print write answer respond reply type return schreibe antworte antworten gib
		ausgeben escribe responde responda écris réponds`)
	add(cJust, `just only nur solo solamente seulement uniquement`)
	add(cAct, `act behave fungieren fungiere agiere agieren agierst verhalte actúa actua actúes actues agis agissez`)
	add(cAs, `as als como comme`)
	add(cPretend, `pretend imagine stell finge finja imagina imaginez imagines imagine suppose`)
	add(cRoleplay, `roleplay roleplaying rollenspiel`)
	add(cPersona, `dan jailbreak jailbroken stan dude aim kevin`)
	add(cModeAdj, `developer dev god debug admin jailbreak sudo unrestricted entwickler desarrollador développeur`)
	add(cMode, `mode modus modo`)
	add(cCharacter, `character role roles rolle rollen figur personaje personnage papel`)
	add(cStay, `stay remain break staying bleiben bleibst bleibt bleib bleibe fallen falling quédate mantente mantén reste restez`)
	add(cNeg, `not don't dont never nicht kein keine no ne pas nie`)
	add(cWithout, `without no ohne sin sans keine keinerlei ningún ninguna aucune aucun`)
	add(cLimits, `restrictions restriction limits limitations filters filter censorship ethics morals
		boundaries constraints rules guidelines regeln einschränkungen grenzen
		protocols safeguards training programming warning warnings warnung warnungen advertencia advertencias
		avertissement avertissements restricciones limitaciones límites filtros censura limites filtres censure`)
	add(cEvil, `evil unethical amoral unfiltered uncensored unrestricted immoral böse bose malvado
		unleashed unchained unlocked liberated jailbroken
		uneingeschränkte uneingeschränkter uneingeschränkten ungefilterte unzensierte`)
	add(cAI, `ai assistant chatbot gpt chatgpt llm bot ki ia claude gemini copilot`)
	add(cCapsCmd, `ignore forget disregard output say print write answer respond do not don't dont just only
		stop you your du bist prompt instructions command antworte vergiss ignoriere schreibe keine must`)
	add(cPraise, `great fantastic wow excellent congratulations perfect bravo super awesome brilliant
		good done amazing outstanding toll gut prima ausgezeichnet ausgezeichnete herzlichen hervorragend
		hervorragende großartig genial klasse sehr muy bien excelente genial fantástico bravo parfait
		excellent magnifique`)
	add(cStop, `stop stopp halt attention achtung alto arrête`)
	add(cEnough, `enough genügt genug basta assez suffit erledigt`)
	add(cWritten, `written wrote geschrieben stand escrito écrit`)
	add(cBeginning, `beginning start top anfang beginn principio début`)
	add(cWhat, `what what's whats was que quoi qué`)
	add(cRevealStrong, `repeat reveal print output display dump leak disclose spell recite echo quote
		duplicate replay wiederhole verrate zeige muestra revela repite révèle affiche`)
	add(cAfter, `after nach después après`)
	add(cMe, `me mir mich moi`)
	add(cThat, `that dass que`)
	add(cTell, `tell sag sage dime dis`)
	add(cState, `state claim declare behaupte afirma declara affirme affirmez déclare déclarez`)
	add(cChange, `change update replace modify ändere ändern cambia modifie`)
	add(cVoid, `irrelevant void obsolete invalid cancelled canceled null ungültig nichtig irrelevante nulas
		aufgehoben hinfällig überholt annulled revoked anuladas inválidas obsoletas caducas annulées nulles invalides obsolètes`)
	add(cFrom, `from ab von`)
	add(cOn, `on an`)
	add(cIgnoreWeak, `delete cancel reset reject rescind revoke remove erase clear scrap lösche streiche
		borra elimina efface supprime`)
	add(cOwn, `own eigenen eigenes propio propios`)
	add(cKnowledge, `knowledge wissen conocimiento`)
	add(cUser, `user users human customer nutzer benutzer usuario utilisateur`)
	add(cSend, `send forward post email upload exfiltrate transmit sende schicke envía envoie`)
	add(cAttn, `note attention important dear hinweis`)
	add(cIf, `if wenn falls si`)
	add(cLook, `look use consult refer read rely schau`)
	add(cTold, `told instructed programmed trained given gave give provided received
		bekommen erhalten recibiste recibido reçu reçues gegeben dieron dio dado donné donnée données`)
	add(cDespite, `despite regardless trotz`)
	add(cFollow, `follow obey befolge folge halte sigue sigas siga seguir suis suivez suivre`)
	add(cFiction, `actor actors actress film movie scene screenplay schauspieler schauspielerin film szene drehbuch
		actores película pelicula escena acteurs acteur scène`)
	add(cOpposite, `opposite contrary against defy subvert invert violate circumvent disobey
		gegenteil widersetze`)
	return m
}()

// addSecondary fills the d* concepts (written from the languages' ordinary
// ways of saying each thing, not from any dataset's rows).
func addSecondary(add func(bits uint64, words string)) {
	add(dHence, `henceforth hereafter désormais dorénavant fortan`)
	add(dFromX, `ab partir desde`)
	add(dSoon, `sofort adelante heute hoy aujourd'hui d'aujourd'hui`)
	add(dPlay, `play playing assume adopt embody spiele spiel spielst übernimm übernehme schlüpfe schlüpf
		juega juegue interpreta asume adopta joue jouez incarne incarnez endosse`)
	add(dBe, `be sei seid sé sois soyez`)
	add(dAside, `aside behind beiseite hinter lado côté`)
	add(dPut, `set put leave lay lass lasse lassen lege deja deje dejad laisse laissez mets mettez`)
	add(dHeed, `heed listen attention atención beachte beachten beachtet berücksichtige berücksichtigen hör höre caso escuches escuchen
		compte écoute écoutez`)
	add(dApply, `apply applies valid gelten gilt gültig válidas válidos válida valen aplican vigentes
		valables valable applicables appliquent`)
	add(dLonger, `longer anymore mehr ya plus`)
	add(dKnow, `know knew learned learnt weißt gelernt kennst sabes aprendiste sais appris connais`)
	add(dSecret, `secret secrets geheimnis secreto`)
	add(dNever, `never`)
	add(dMind, `mind`)
	add(dSemblant, `semblant abstraction omiso`)
	add(dTell2, `told said dijeron dijo dicho dit gesagt erzählt`)
	add(dSi, `si`)
	add(dContextLabel, `context kontext contexto contexte document documents dokument dokumente artikel article
		documento documentos`)
	add(dQuestionLabel, `question frage pregunta`)
	add(dFollowing, `following folgenden folgende siguiente siguientes suivant suivante suivantes`)
	add(dRel, `what lo ce`)
	add(dWhich, `welche welches welcher cuál cuáles quel quelle quels quelles lautet lauten`)
	add(dDo, `haz hagas fais faites mach`)
	add(dGive, `gib gebe`)
	add(dSelf, `dich dir ti toi yourself`)
	add(dYesNo, `yes ja sí oui`)
	add(dSayX, `di dis dites sag sage`)
	add(dPasse, `passe`)
	add(dModeWord, `entwicklermodus godmode jailbreakmodus devmode`)
	add(dActFinal, `fungieren fungiere fungierst agieren agiere agierst`)
	add(dVerbatim, `verbatim wortwörtlich wörtlich textualmente literalmente textuellement littéralement`)
	add(dWrite, `write generate compose draft formulate create verfasse verfassen formuliere erstelle generiere schreib
		redacta escribe genera compone crea rédige rédigez génère écris compose`)
}

// lexFilter is a 65536-bit Bloom-style filter over (length, first, second,
// last byte) of the lexicon keys: most ordinary words skip the map lookup.
var lexFilter = func() (f [1024]uint64) {
	for k := range lexicon {
		h := lexKey([]byte(k))
		f[h>>6] |= 1 << (h & 63)
	}
	return f
}()

func lexKey(w []byte) uint32 {
	h := uint32(len(w))*0x9E3779B1 ^ uint32(w[0])<<16 ^ uint32(w[len(w)/2])<<8 ^ uint32(w[len(w)-1])
	h *= 0x85EBCA6B
	return h >> 16 // 16 bits
}

func lookup(w []byte) cmask {
	if len(w) == 0 || len(w) > 24 {
		return cmask{}
	}
	if h := lexKey(w); lexFilter[h>>6]&(1<<(h&63)) != 0 {
		if m, ok := lexicon[string(w)]; ok {
			return m
		}
	}
	return fuzzy(w)
}

// Misspellings of the key words ("instrucions", "promt", "ingore") are
// matched by edit distance; only words with the right first letter and
// length reach the distance computation.
func fuzzy(w []byte) cmask {
	if len(w) < 5 || len(w) > 14 {
		return cmask{}
	}
	// Cheap filters on the second and last letters (typos rarely hit both).
	c1, cl := w[1], w[len(w)-1]
	switch w[0] {
	case 'i':
		if len(w) >= 9 && (c1 == 'n' || c1 == 's') && (cl == 's' || cl == 'n' || cl == 'e') &&
			(within(w, "instructions", 2) || within(w, "instruction", 2)) {
			return lexicon["instructions"]
		}
		if len(w) <= 7 && (c1 == 'g' || c1 == 'n') && within(w, "ignore", 1) {
			return lexicon["ignore"]
		}
	case 'p':
		if len(w) <= 7 && (c1 == 'r' || c1 == 'o') && (cl == 't' || cl == 'm' || cl == 'p') && within(w, "prompt", 1) {
			return lexicon["prompt"]
		}
		if len(w) >= 7 && len(w) <= 10 {
			if (c1 == 'a' || c1 == 's') && bytes.IndexByte(w[:4], 's') >= 0 && within(w, "password", 1) {
				return lexicon["password"]
			}
			if (c1 == 'r' || c1 == 'e') && (cl == 's' || cl == 'u' || cl == 'e') && bytes.IndexByte(w, 'v') >= 0 &&
				within(w, "previous", 2) {
				return lexicon["previous"]
			}
		}
	}
	return cmask{}
}

// within reports whether the optimal-string-alignment distance between a
// and b is at most k (a and b are short; this is O(len(a)·len(b))).
func within(a []byte, b string, k int) bool {
	if d := len(a) - len(b); d > k || -d > k {
		return false
	}
	var rows [3][16]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > k {
			return false
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)] <= k
}
