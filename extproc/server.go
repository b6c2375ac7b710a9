// Package extproc implements Envoy's ext_proc ExternalProcessor service:
// one Processor per HTTP stream, driven through Envoy's protocol rules.
package extproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Processor handles one ext_proc stream (one HTTP request/response). Each
// method must return exactly one ProcessingResponse of the matching kind,
// or an ImmediateResponse, because Envoy treats anything else as a
// protocol error (external_processor.proto: "the server must send back
// exactly one ProcessingResponse message" per request message).
type Processor interface {
	RequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
	ResponseHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	ResponseBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
	// Close runs once when the stream ends, with the error that ended it
	// (nil for a clean end). It emits the audit event.
	Close(ctx context.Context, streamErr error)
}

// ProcessorFactory creates the Processor for a new stream.
type ProcessorFactory func(ctx context.Context) Processor

// Server is the gRPC ExternalProcessor service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	newProcessor ProcessorFactory
	idleTimeout  time.Duration
	log          *slog.Logger
	metrics      *Metrics
}

// NewServer builds the service. idleTimeout ends streams on which Envoy
// sends nothing for that long.
func NewServer(f ProcessorFactory, idleTimeout time.Duration, m *Metrics, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Server{newProcessor: f, idleTimeout: idleTimeout, log: log, metrics: m}
}

// errIdle ends a stream on which Envoy went quiet.
var errIdle = errors.New("stream idle timeout")

type recvResult struct {
	req *extprocv3.ProcessingRequest
	err error
}

// Process runs one stream: receive a message, hand it to the Processor,
// send its single response, until Envoy half-closes or the stream breaks.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) (err error) {
	ctx := stream.Context()
	p := s.newProcessor(ctx)
	s.metrics.streamsOpen.Inc()
	defer func() {
		s.metrics.streamsOpen.Dec()
		p.Close(ctx, err)
	}()

	// Recv blocks and cannot be cancelled from the server side, so it runs
	// in its own goroutine; returning from this handler ends the RPC and
	// unblocks it.
	msgs := make(chan recvResult, 1)
	go func() {
		for {
			req, err := stream.Recv()
			select {
			case msgs <- recvResult{req, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	idle := time.NewTimer(s.idleTimeout)
	defer idle.Stop()
	for {
		var r recvResult
		select {
		case r = <-msgs:
		case <-idle.C:
			s.metrics.streamErrors.WithLabelValues("idle_timeout").Inc()
			return status.Error(codes.DeadlineExceeded, errIdle.Error())
		case <-ctx.Done():
			// Envoy closed the stream (client reset, timeout): not our error.
			s.metrics.streamErrors.WithLabelValues("peer_cancelled").Inc()
			return nil
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				return nil
			}
			if c := status.Code(r.err); c == codes.Canceled || c == codes.DeadlineExceeded {
				s.metrics.streamErrors.WithLabelValues("peer_cancelled").Inc()
				return nil
			}
			s.metrics.streamErrors.WithLabelValues("recv").Inc()
			return r.err
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(s.idleTimeout)

		resp, perr := s.dispatch(ctx, p, r.req)
		if perr != nil {
			s.metrics.streamErrors.WithLabelValues("processor").Inc()
			s.log.Error("ext_proc processing failed", "error", perr)
			return toStatus(perr)
		}
		if err := stream.Send(resp); err != nil {
			s.metrics.streamErrors.WithLabelValues("send").Inc()
			return err
		}
		if _, done := resp.Response.(*extprocv3.ProcessingResponse_ImmediateResponse); done {
			// Envoy sends a local reply and ends the exchange; nothing more
			// will arrive on this stream that needs an answer.
			return nil
		}
	}
}

func (s *Server) dispatch(ctx context.Context, p Processor, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	start := time.Now()
	var (
		resp  *extprocv3.ProcessingResponse
		err   error
		phase string
	)
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		phase = "request_headers"
		resp, err = p.RequestHeaders(ctx, r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		phase = "request_body"
		resp, err = p.RequestBody(ctx, r.RequestBody)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		phase = "response_headers"
		resp, err = p.ResponseHeaders(ctx, r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		phase = "response_body"
		resp, err = p.ResponseBody(ctx, r.ResponseBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		// Ward asks for trailers to be skipped; if a filter config sends them
		// anyway, answer with the matching empty kind so Envoy continues.
		phase = "request_trailers"
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		phase = "response_trailers"
		resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		return nil, fmt.Errorf("%w: unknown ProcessingRequest kind %T", ErrProtocol, req.Request)
	}
	s.metrics.phaseSeconds.WithLabelValues(phase).Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", phase, err)
	}
	if resp == nil {
		return nil, fmt.Errorf("%s: %w: processor returned no response", phase, ErrProtocol)
	}
	return resp, nil
}

// ErrProtocol marks a message Envoy should never have sent (or a response
// Ward could not form).
var ErrProtocol = errors.New("ext_proc protocol error")

// toStatus turns an internal error into a gRPC status at the edge.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, ErrProtocol) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
