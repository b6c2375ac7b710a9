package tokens

import "github.com/wardhq/ward/extproc/llm"

// Message is one chat message for Chat: the fields OpenAI's counting rules
// look at. Texts are the message's text parts (content string or text
// parts of a content array).
type Message struct {
	Role  string
	Name  string
	Texts []string
}

// Chat counts messages (and tool definitions) by OpenAI's chat rules:
// per message 3 tokens + tokens(role) + tokens(content) [+ tokens(name) +
// 1 when a name is present], + 3 for reply priming, + the tool formula.
// It is the `ward tokens` path; the proxy path is Request, whose
// llm.Request carries no message names.
func (c *Counter) Chat(model string, msgs []Message, tools []llm.Tool) Estimate {
	anth := IsAnthropic(model)
	enc, known := c.EncodingFor(model)
	if anth {
		enc, known = c.fallback, true
	}
	n := replyPriming
	for _, m := range msgs {
		role := m.Role
		if role == "" {
			role = string(llm.RoleUser)
		}
		n += tokensPerMessage + enc.Count(role)
		for _, t := range m.Texts {
			n += enc.Count(t)
		}
		if m.Name != "" {
			n += enc.Count(m.Name) + tokensPerName
		}
	}
	if len(tools) > 0 {
		n += c.toolsTokens(enc, tools)
	}
	if anth {
		return Estimate{Tokens: c.anthropic(n), Encoding: enc.name}
	}
	return Estimate{Tokens: int64(n), Encoding: enc.name, Exact: known, UnknownModel: !known}
}
