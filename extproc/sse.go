package extproc

import (
	"github.com/wardhq/ward/extproc/llm"
)

// sseTap follows a streamed response to learn what the client received
// (text, tool calls, usage) for audit, without changing the bytes.
type sseTap struct {
	dec *llm.SSEDecoder
	asm *llm.StreamAssembler
}

func newSSETap(endpoint llm.Endpoint) *sseTap {
	return &sseTap{dec: llm.NewSSEDecoder(0), asm: llm.NewStreamAssembler(endpoint)}
}

// feed consumes one body chunk, split anywhere.
func (t *sseTap) feed(p []byte) error {
	t.dec.Feed(p)
	for {
		ev, ok, err := t.dec.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if _, err := t.asm.Consume(&ev); err != nil {
			return err
		}
	}
}

func (t *sseTap) response() *llm.Response {
	t.dec.Close()
	for {
		ev, ok, err := t.dec.Next()
		if err != nil || !ok {
			break
		}
		if _, err := t.asm.Consume(&ev); err != nil {
			break
		}
	}
	return t.asm.Response()
}

func (t *sseTap) unknown() int { return t.asm.Unknown() }
