package stages

import (
	"context"

	"github.com/wardhq/ward/extproc"
	"github.com/wardhq/ward/policy/phi"
)

// NewStreamScanner implements extproc.StreamScannerFactory with the PHI
// engine's streaming scanner (policy/phi Stream): an identifier split
// across deltas is found before any byte of it is released.
func (d *phiDetector) NewStreamScanner(holdBackChars int) extproc.StreamScanner {
	return &phiStream{z: d.scanner.NewStream(holdBackChars)}
}

// phiStream adapts phi.Stream: its findings are offsets into everything
// written since the last Flush; the pipeline wants them relative to the
// text each call returns.
type phiStream struct {
	z    *phi.Stream
	base int // bytes released since the last Flush
	out  []extproc.Finding
}

func (p *phiStream) Write(text string) (string, []extproc.Finding) {
	safe, fs := p.z.Write(text)
	out := p.convert(fs)
	p.base += len(safe)
	return safe, out
}

func (p *phiStream) Flush() (string, []extproc.Finding) {
	safe, fs := p.z.Flush()
	out := p.convert(fs)
	p.base = 0
	return safe, out
}

func (p *phiStream) convert(fs []phi.Finding) []extproc.Finding {
	p.out = p.out[:0]
	for _, f := range fs {
		p.out = append(p.out, extproc.Finding{
			Type: f.Type.String(), Part: -1, Choice: -1,
			Start: f.Start - p.base, End: f.End - p.base, Score: f.Score,
		})
	}
	return p.out
}

// DecideChunk implements extproc.ChunkDecider: the response_chunk input
// carries the text streamed so far (output.text) and the newly released
// text (output.delta).
func (d *policyDecider) DecideChunk(ctx context.Context, ix *extproc.Interaction, delta string) (extproc.Decision, error) {
	in := d.input(extproc.PhaseResponseChunk, ix)
	if in.Output != nil {
		in.Output.Delta = delta
		if from := ix.OutputWindowFrom; from > 0 && from <= len(in.Output.Text) {
			in.Output.Window = in.Output.Text[from:]
		}
	}
	return d.decide(ctx, ix.Profile.PolicyEntrypoint, in)
}
