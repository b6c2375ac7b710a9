package llm

import "strconv"

// openAIErrorType maps an HTTP status to the "type" OpenAI uses in error
// bodies; SDKs pick the exception class from the status, not the type.
func openAIErrorType(status int) string {
	switch {
	case status == 401:
		return "invalid_request_error"
	case status == 403:
		return "permission_error"
	case status == 429:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// anthropicErrorType maps an HTTP status to Anthropic's documented error
// types (https://docs.anthropic.com/en/api/errors).
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func appendOpenAIError(dst []byte, status int, code, message string) []byte {
	dst = append(dst, `{"message":`...)
	dst = AppendJSONString(dst, message)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, openAIErrorType(status))
	dst = append(dst, `,"param":null,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, code)
	}
	return append(dst, '}')
}

func appendAnthropicError(dst []byte, status int, message string) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendJSONString(dst, anthropicErrorType(status))
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, message)
	return append(dst, '}')
}

// ErrorBody returns a JSON error body in the provider's own shape, for an
// ImmediateResponse with the given HTTP status, so SDKs surface it as their
// normal API error:
//
//	OpenAI:    {"error":{"message":…,"type":…,"param":null,"code":…}}
//	Anthropic: {"type":"error","error":{"type":…,"message":…}}
//
// The type is derived from status. Anthropic bodies have no code field, so
// code is dropped there (put anything the caller must see in message).
// An unknown provider gets the OpenAI shape, the de-facto lingua franca.
func ErrorBody(provider Provider, status int, code, message string) []byte {
	if provider == ProviderAnthropic {
		b := append(make([]byte, 0, 64+len(message)), `{"type":"error","error":`...)
		b = appendAnthropicError(b, status, message)
		return append(b, '}')
	}
	b := append(make([]byte, 0, 96+len(message)+len(code)), `{"error":`...)
	b = appendOpenAIError(b, status, code, message)
	return append(b, '}')
}

// StreamErrorEvent returns an SSE event that makes the official SDKs raise
// their API error mid-stream, in the endpoint's dialect:
//
//	chat completions: data: {"error":{…}}
//	Responses:        event: error / data: {"type":"error","code","message","param":null,"error":{…}}
//	Anthropic:        event: error / data: {"type":"error","error":{"type","message"}}
//
// The OpenAI SDKs (node and python) raise when an event's data has an
// "error" member, hence the extra member on the Responses event.
func StreamErrorEvent(endpoint Endpoint, status int, code, message string) []byte {
	var b []byte
	switch endpoint {
	case EndpointMessages:
		b = append(b, "event: error\ndata: "...)
		b = append(b, `{"type":"error","error":`...)
		b = appendAnthropicError(b, status, message)
		b = append(b, '}')
	case EndpointResponses:
		b = append(b, "event: error\ndata: "...)
		b = append(b, `{"type":"error","code":`...)
		if code == "" {
			code = strconv.Itoa(status)
		}
		b = AppendJSONString(b, code)
		b = append(b, `,"message":`...)
		b = AppendJSONString(b, message)
		b = append(b, `,"param":null,"error":`...)
		b = appendOpenAIError(b, status, code, message)
		b = append(b, '}')
	default:
		b = append(b, `data: {"error":`...)
		b = appendOpenAIError(b, status, code, message)
		b = append(b, '}')
	}
	return append(b, "\n\n"...)
}

// StreamTerminator returns the bytes that end a stream cleanly in the
// endpoint's dialect: "data: [DONE]" for chat completions, a message_stop
// event for Anthropic. OpenAI Responses streams have no terminator (the
// error or response.completed event is last), so it returns nil.
func StreamTerminator(endpoint Endpoint) []byte {
	switch endpoint {
	case EndpointMessages:
		return []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	case EndpointResponses:
		return nil
	}
	return []byte("data: [DONE]\n\n")
}
