// Package llm normalises OpenAI- and Anthropic-style request and response
// bodies (JSON and SSE) into one provider-neutral shape that detectors,
// policy, token counting and audit read. Nothing here knows about Envoy.
package llm

// Provider is the API dialect a request speaks (and so the shape of its
// errors and streams), not necessarily the company hosting the model.
type Provider string

const (
	ProviderUnknown   Provider = ""
	ProviderOpenAI    Provider = "openai"
	ProviderAnthropic Provider = "anthropic"
)

// Endpoint names the API operation.
type Endpoint string

const (
	EndpointUnparsed        Endpoint = "unparsed"
	EndpointChatCompletions Endpoint = "chat_completions" // OpenAI POST /v1/chat/completions
	EndpointResponses       Endpoint = "responses"        // OpenAI POST /v1/responses
	EndpointMessages        Endpoint = "messages"         // Anthropic POST /v1/messages
)

// Route maps a request path to an endpoint and provider dialect.
func Route(path string) (Endpoint, Provider) {
	// Strip a query string: Envoy's :path carries it.
	for i := 0; i < len(path); i++ {
		if path[i] == '?' {
			path = path[:i]
			break
		}
	}
	switch path {
	case "/v1/chat/completions", "/chat/completions", "/openai/v1/chat/completions":
		return EndpointChatCompletions, ProviderOpenAI
	case "/v1/responses", "/responses", "/openai/v1/responses":
		return EndpointResponses, ProviderOpenAI
	case "/v1/messages", "/anthropic/v1/messages":
		return EndpointMessages, ProviderAnthropic
	}
	return EndpointUnparsed, ProviderUnknown
}

// Role of a message part. Tool results and retrieved documents keep their own
// role so detectors can treat indirect injection differently.
type Role string

const (
	RoleSystem    Role = "system" // includes OpenAI "developer" and Anthropic top-level system
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool" // tool/function results
)

// Part is one text part of a request, in document order.
type Part struct {
	Role Role
	Text string
	// Message is the index of the message this part belongs to (-1 for a
	// top-level system prompt or `instructions`).
	Message int
	// Start and End are byte offsets of the JSON string literal (quotes
	// included) in the raw body, so a redaction can splice a re-encoded
	// string in place without re-serialising the whole body.
	Start, End int
	// Kind tells prose from tool-call arguments (the zero value is text).
	Kind PartKind
}

// Tool is a tool (function) definition offered to the model.
type Tool struct {
	Name        string
	Description string
	Parameters  string // raw JSON schema text, as sent
}

// ToolCall is a tool invocation the model made (in a request's history or a
// response).
type ToolCall struct {
	ID        string
	Name      string
	Arguments string // raw arguments text (usually JSON), as sent
}

// Request is the normalised view of one LLM API request body.
type Request struct {
	Endpoint Endpoint
	Provider Provider
	Model    string
	Stream   bool
	// IncludeUsage reports OpenAI chat `stream_options.include_usage: true`.
	IncludeUsage bool
	// EndUser is OpenAI's `user` / `safety_identifier`, or Anthropic's
	// `metadata.user_id`.
	EndUser   string
	Parts     []Part
	Tools     []Tool
	ToolCalls []ToolCall
	// MaxOutputTokens is max_tokens / max_completion_tokens /
	// max_output_tokens when present, else 0.
	MaxOutputTokens int64
	// NonTextParts counts image, audio, file and other non-text parts: they
	// are not inspected or counted, but recorded.
	NonTextParts int
}

// Usage is token accounting as reported by the provider (or estimated).
type Usage struct {
	InputTokens      int64
	OutputTokens     int64
	CachedTokens     int64 // prompt tokens served from cache (subset of input for OpenAI; Anthropic cache reads)
	CacheWriteTokens int64 // Anthropic cache_creation_input_tokens
	ReasoningTokens  int64 // subset of output
	// Present is true when the provider reported usage at all.
	Present bool
}

// Response is the normalised view of a complete (buffered or reassembled)
// LLM API response.
type Response struct {
	ID    string
	Model string
	// Choices holds the output text per choice (OpenAI n>1) or per content
	// block concatenated (Anthropic, Responses): index 0 is the main output.
	Choices      []string
	ToolCalls    []ToolCall
	FinishReason string
	Usage        Usage
	// Error is the provider's error message when the body is an error
	// object.
	Error string
	// Parts are the output text string literals with their byte spans in
	// a buffered JSON body (Role assistant), so a redactor can splice
	// responses as it does requests. Empty for reassembled streams.
	Parts []Part
}
