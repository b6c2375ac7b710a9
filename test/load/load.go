// Package load is Ward's load generator (`ward bench`): it opens N
// concurrent ext_proc streams, each one full exchange (request headers, a
// ~2 KB chat body, response headers, a ~1 KB JSON body or an SSE stream),
// against a target server and against an in-process no-op ext_proc server
// in the same invocation, and prints throughput, latency percentiles and
// the ratio between the two.
package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options drive one benchmark run.
type Options struct {
	Target      string // host:port or unix:///path of the server under test
	Key         string // Ward caller key sent as Authorization: Bearer
	Path        string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	SSE         bool
	SSEChunks   int
}

// Result is one side of the comparison.
type Result struct {
	Name       string
	Requests   int64
	Errors     int64
	Denied     int64
	Elapsed    time.Duration
	P50        time.Duration
	P99        time.Duration
	P999       time.Duration
	Max        time.Duration
	Throughput float64 // exchanges per second
}

// Exchange is the message sequence of one HTTP exchange as Envoy sends it
// with Ward's processing mode.
type Exchange struct {
	Msgs []*extprocv3.ProcessingRequest
}

// NewExchange builds the realistic messages once; they are reused by every
// stream (the proto messages are only read by the client).
func NewExchange(path, key string, sse bool, sseChunks int) Exchange {
	body := ChatRequest()
	hdr := func(kv ...string) *corev3.HeaderMap {
		hm := &corev3.HeaderMap{}
		for i := 0; i < len(kv); i += 2 {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
		}
		return hm
	}
	msgs := []*extprocv3.ProcessingRequest{
		{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: hdr(
			":method", "POST", ":path", path, ":authority", "gateway.local", ":scheme", "https",
			"content-type", "application/json", "content-length", strconv.Itoa(len(body)),
			"authorization", "Bearer "+key, "x-request-id", "bench", "user-agent", "ward-bench")}}},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}},
	}
	if !sse {
		resp := ChatResponse()
		msgs = append(msgs,
			&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdr(
				":status", "200", "content-type", "application/json", "content-length", strconv.Itoa(len(resp)))}}},
			&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: resp, EndOfStream: true}}},
		)
		return Exchange{Msgs: msgs}
	}
	msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdr(
		":status", "200", "content-type", "text/event-stream")}}})
	chunks := SSEChunks(sseChunks)
	for i, c := range chunks {
		msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: c, EndOfStream: i == len(chunks)-1}}})
	}
	return Exchange{Msgs: msgs}
}

// MessageProcessor is the per-stream interface of extproc.Processor, as
// the exchange drives it directly (benchmarks without gRPC).
type MessageProcessor interface {
	RequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	RequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
	ResponseHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, error)
	ResponseBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, error)
}

// Drive plays the exchange against p in process, failing on an error or
// an early local reply (the benchmarks expect the request to be allowed).
func (ex Exchange) Drive(ctx context.Context, p MessageProcessor) error {
	for _, m := range ex.Msgs {
		var r *extprocv3.ProcessingResponse
		var err error
		switch x := m.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			r, err = p.RequestHeaders(ctx, x.RequestHeaders)
		case *extprocv3.ProcessingRequest_RequestBody:
			r, err = p.RequestBody(ctx, x.RequestBody)
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			r, err = p.ResponseHeaders(ctx, x.ResponseHeaders)
		case *extprocv3.ProcessingRequest_ResponseBody:
			r, err = p.ResponseBody(ctx, x.ResponseBody)
		}
		if err != nil {
			return err
		}
		if ir := r.GetImmediateResponse(); ir != nil {
			return fmt.Errorf("exchange ended early with a local reply %d: %s", ir.GetStatus().GetCode(), ir.GetBody())
		}
	}
	return nil
}

// BodyBytes is the request and response body bytes of the exchange.
func (ex Exchange) BodyBytes() int64 {
	var n int64
	for _, m := range ex.Msgs {
		n += int64(len(m.GetRequestBody().GetBody()) + len(m.GetResponseBody().GetBody()))
	}
	return n
}

// ParseFlags reads `ward bench` flags. An empty Target means the caller
// should start a Ward in-process.
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("ward bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{}
	fs.StringVar(&o.Target, "target", "", "ext_proc server to measure (host:port or unix:///path); empty = start Ward in-process on embedded defaults")
	fs.StringVar(&o.Key, "key", "ward-demo-internal", "Ward caller key")
	fs.StringVar(&o.Path, "path", "/v1/chat/completions", "request path")
	fs.IntVar(&o.Concurrency, "c", 16, "concurrent streams")
	fs.DurationVar(&o.Duration, "d", 5*time.Second, "measurement duration per server")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "warm-up per server (not measured)")
	fs.BoolVar(&o.SSE, "sse", false, "responses as SSE streams instead of JSON")
	fs.IntVar(&o.SSEChunks, "sse-chunks", 20, "body chunks per SSE response")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.Concurrency < 1 || o.Duration <= 0 {
		return o, errors.New("need -c >= 1 and -d > 0")
	}
	return o, nil
}

// Compare measures the target and an in-process no-op server with the same
// client, concurrency and messages.
func Compare(ctx context.Context, o Options) (ward, noop Result, err error) {
	addr, stop, err := StartNoop()
	if err != nil {
		return ward, noop, err
	}
	defer stop()
	ex := NewExchange(o.Path, o.Key, o.SSE, o.SSEChunks)
	if ward, err = Measure(ctx, "ward", o.Target, ex, o); err != nil {
		return ward, noop, err
	}
	if noop, err = Measure(ctx, "no-op", addr, ex, o); err != nil {
		return ward, noop, err
	}
	return ward, noop, nil
}

// Print writes the comparison table.
func Print(w io.Writer, o Options, ward, noop Result) {
	kind := "JSON"
	if o.SSE {
		kind = fmt.Sprintf("SSE (%d chunks)", o.SSEChunks)
	}
	fmt.Fprintf(w, "ward bench: %d concurrent streams, %s measured per server, %s responses, 2 KB chat requests\n", o.Concurrency, o.Duration, kind)
	fmt.Fprintf(w, "%-6s %10s %8s %8s %10s %10s %10s %10s\n", "server", "req/s", "errors", "denied", "p50", "p99", "p99.9", "max")
	for _, r := range []Result{ward, noop} {
		fmt.Fprintf(w, "%-6s %10.0f %8d %8d %10s %10s %10s %10s\n", r.Name, r.Throughput, r.Errors, r.Denied,
			r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.P999.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	}
	if noop.Throughput > 0 && noop.P50 > 0 {
		fmt.Fprintf(w, "ratio ward/no-op: throughput %.2fx, p50 %.2fx, p99 %.2fx (added p50 %s, p99 %s per exchange)\n",
			ward.Throughput/noop.Throughput, float64(ward.P50)/float64(noop.P50), float64(ward.P99)/float64(noop.P99),
			(ward.P50 - noop.P50).Round(time.Microsecond), (ward.P99 - noop.P99).Round(time.Microsecond))
	}
}

// Measure runs o.Concurrency workers, each doing exchanges back to back on
// fresh streams (one stream per HTTP request, as Envoy does).
func Measure(ctx context.Context, name, target string, ex Exchange, o Options) (Result, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	client := extprocv3.NewExternalProcessorClient(conn)
	// One probe exchange so a wrong target fails fast and clearly.
	if _, err := runExchange(ctx, client, ex); err != nil {
		return Result{}, fmt.Errorf("%s at %s: %w", name, target, err)
	}

	var (
		measuring atomic.Bool
		stop      atomic.Bool
		errs      atomic.Int64
		denied    atomic.Int64
		mu        sync.Mutex
		lat       []time.Duration
		wg        sync.WaitGroup
	)
	for i := 0; i < o.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				immediate, err := runExchange(ctx, client, ex)
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				switch {
				case err != nil:
					errs.Add(1)
				case immediate:
					denied.Add(1)
					local = append(local, d)
				default:
					local = append(local, d)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	sleep(ctx, o.Warmup)
	measuring.Store(true)
	start := time.Now()
	sleep(ctx, o.Duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := Result{Name: name, Requests: int64(len(lat)), Errors: errs.Load(), Denied: denied.Load(), Elapsed: elapsed}
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.P999, r.Max = pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999), lat[n-1]
		r.Throughput = float64(n) / elapsed.Seconds()
	}
	return r, nil
}

func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted)-1) * q)
	return sorted[i]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// runExchange plays one exchange; it reports whether the server ended it
// early with an ImmediateResponse.
func runExchange(ctx context.Context, c extprocv3.ExternalProcessorClient, ex Exchange) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := c.Process(sctx)
	if err != nil {
		return false, err
	}
	for _, m := range ex.Msgs {
		if err := st.Send(m); err != nil {
			return false, err
		}
		r, err := st.Recv()
		if err != nil {
			return false, err
		}
		if r.GetImmediateResponse() != nil {
			st.CloseSend()
			return true, nil
		}
	}
	return false, st.CloseSend()
}

// noop answers every message with an empty response of the matching kind:
// the floor any ext_proc server pays (gRPC, protobuf, scheduling).
type noop struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (noop) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var resp extprocv3.ProcessingResponse
		switch req.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp.Response = &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp.Response = &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp.Response = &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}
		case *extprocv3.ProcessingRequest_ResponseBody:
			resp.Response = &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}
		default:
			resp.Response = &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}
		}
		if err := s.Send(&resp); err != nil {
			return err
		}
	}
}

// StartNoop serves the no-op ext_proc server on a loopback port.
func StartNoop() (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, noop{})
	go gs.Serve(lis)
	return lis.Addr().String(), gs.Stop, nil
}

// ChatRequest is a realistic ~2 KB OpenAI chat request (clinical prose
// with a few identifiers, system prompt, one prior turn).
func ChatRequest() []byte {
	note := "Discharge summary draft. The patient was admitted with community-acquired pneumonia, " +
		"treated with ceftriaxone and azithromycin, and improved on hospital day three. Oxygen was weaned " +
		"to room air. Follow-up chest imaging is recommended in six weeks. Medication reconciliation: continue " +
		"lisinopril 10 mg daily and metformin 500 mg twice daily; hold ibuprofen. "
	user := strings.Repeat(note, 4) + "Contact the patient at 617-555-0142 to arrange follow-up. Summarise for the primary care physician."
	return []byte(`{"model":"gpt-4o","temperature":0.2,"user":"clinician-17","messages":[` +
		`{"role":"system","content":"You are a careful clinical documentation assistant. Write concise, accurate summaries for clinicians. Never invent findings."},` +
		`{"role":"user","content":"Summarise the attached note for the ward round."},` +
		`{"role":"assistant","content":"Please paste the note."},` +
		`{"role":"user","content":` + strconv.Quote(user) + `}]}`)
}

const answer = "Summary for the primary care physician: admitted with community-acquired pneumonia, treated with " +
	"ceftriaxone and azithromycin with improvement by day three, weaned to room air. Continue lisinopril and " +
	"metformin; ibuprofen held. Repeat chest imaging in six weeks. Please arrange follow-up with the patient. " +
	"No new diagnoses were made during the admission and no complications occurred. Discharged home in stable condition."

// ChatResponse is a realistic ~1 KB OpenAI chat completion.
func ChatResponse() []byte {
	return []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1767225600,"model":"gpt-4o-2024-08-06",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":` + strconv.Quote(answer+" "+answer[:300]) + `,"refusal":null},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":512,"completion_tokens":180,"total_tokens":692,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},` +
		`"system_fingerprint":"fp_bench"}`)
}

// SSEChunks splits an OpenAI chat stream of the same answer into n body
// chunks at arbitrary byte positions (not event boundaries), ending with a
// usage chunk and [DONE].
func SSEChunks(n int) [][]byte {
	var b strings.Builder
	words := strings.Fields(answer)
	for i, w := range words {
		if i > 0 {
			w = " " + w
		}
		fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},\"finish_reason\":null}]}\n\n", strconv.Quote(w))
	}
	b.WriteString("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	b.WriteString("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":512,\"completion_tokens\":70,\"total_tokens\":582}}\n\n")
	b.WriteString("data: [DONE]\n\n")
	s := b.String()
	if n < 1 {
		n = 1
	}
	size := (len(s) + n - 1) / n
	var out [][]byte
	for i := 0; i < len(s); i += size {
		out = append(out, []byte(s[i:min(i+size, len(s))]))
	}
	return out
}
