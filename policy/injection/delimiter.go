package injection

import "bytes"

// Chat-template tokens and fake role markers, matched on the lower-cased
// normalised text. They are grouped by first byte so one pass over the text
// checks only the few positions that can start a marker.
var (
	markersLT = [][]byte{ // '<'
		[]byte("<|im_start|>"), []byte("<|im_end|>"), []byte("<|system|>"), []byte("<|user|>"),
		[]byte("<|assistant|>"), []byte("<|endoftext|>"), []byte("<|start_header_id|>"),
		[]byte("<|eot_id|>"), []byte("<<sys>>"), []byte("<</sys>>"), []byte("<system>"),
		[]byte("</system>"), []byte("<instructions>"), []byte("</instructions>"),
		[]byte("<system_prompt>"), []byte("</user>"), []byte("<|"), // generic special token
	}
	markersLB = [][]byte{ // '['
		[]byte("[inst]"), []byte("[/inst]"), []byte("[system]"), []byte("[system message]"),
		[]byte("[admin]"), []byte("[developer]"), []byte("[end of"),
	}
	markersHash = [][]byte{ // '#' — markdown headings posing as roles
		[]byte("### system"), []byte("###system"), []byte("### instruction"), []byte("###instruction"),
		[]byte("### new instruction"), []byte("## system"), []byte("# system"), []byte("### assistant"),
		[]byte("### response"), []byte("### human"), []byte("### user"),
	}
	// Line-start role labels: "system:" is a strong signal on its own,
	// "human:"/"assistant:" only when they fake a transcript.
	roleSystem = [][]byte{[]byte("system:"), []byte("system prompt:"), []byte("system message:"),
		[]byte("developer:"), []byte("admin:"), []byte("new instructions:"), []byte("instruction:"),
		[]byte("new instruction"),
		[]byte("end of prompt"), []byte("end of instructions"), []byte("begin new instructions")}
	roleChat = [][]byte{[]byte("human:"), []byte("assistant:"), []byte("ai:"), []byte("user:")}
)

// delimiters reports fake role / template injection in the normalised text.
func delimiters(b []byte) bool {
	chatRoles := 0
	lineStart := true
	for i := 0; i < len(b); i++ {
		if !lineStart {
			// Skip to the next byte that can start a marker.
			for i < len(b) && !delimStart[b[i]] {
				i++
			}
			if i == len(b) {
				break
			}
		}
		c := b[i]
		if lineStart && c != ' ' {
			lineStart = false
			if isASCIILetter(c) {
				rest := b[i:]
				for _, m := range roleSystem {
					if bytes.HasPrefix(rest, m) {
						return true
					}
				}
				for _, m := range roleChat {
					if bytes.HasPrefix(rest, m) {
						chatRoles++
						if chatRoles >= 2 {
							return true
						}
					}
				}
			}
		}
		switch c {
		case '\n':
			lineStart = true
		case '\\':
			// A literal "\n" typed into a prompt fakes a line break; a run
			// of three ("\n\n\n", "\ n \ n \ n") tries to push the
			// application's prompt out of view.
			if typedNewlines(b[i:]) >= 3 {
				return true
			}
			if i+1 < len(b) && b[i+1] == 'n' {
				lineStart = true
				i++
			}
		case '<':
			if hasAnyPrefix(b[i:], markersLT) {
				return true
			}
		case '[':
			if hasAnyPrefix(b[i:], markersLB) {
				return true
			}
		case '#':
			if hasAnyPrefix(b[i:], markersHash) {
				return true
			}
		case '"', '\'':
			if jsonRole(b[i+1:]) {
				return true
			}
		}
	}
	return false
}

// typedNewlines counts the typed "\n" escapes at the start of b, allowing
// spaces around them; it stops at the third.
func typedNewlines(b []byte) int {
	n, i := 0, 0
	for n < 3 && i < len(b) && b[i] == '\\' {
		i++
		if i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) || b[i] != 'n' {
			break
		}
		n++
		i++
		for i < len(b) && b[i] == ' ' {
			i++
		}
	}
	return n
}

func hasAnyPrefix(b []byte, ms [][]byte) bool {
	for _, m := range ms {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// jsonRole matches `role": "system"` (or developer) right after a quote.
func jsonRole(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("role")) {
		return false
	}
	b = b[4:]
	i := 0
	for i < len(b) && i < 8 && (b[i] == '"' || b[i] == '\'' || b[i] == ' ' || b[i] == ':' || b[i] == '=') {
		i++
	}
	b = b[i:]
	return bytes.HasPrefix(b, []byte("system")) || bytes.HasPrefix(b, []byte("developer"))
}

var delimStart = func() (t [256]bool) {
	for _, c := range []byte("\n<[#\"'\\") {
		t[c] = true
	}
	return t
}()
