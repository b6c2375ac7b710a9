package run

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/wardhq/ward/extproc/config"
)

func startWard(t *testing.T, mutate func(*config.Config)) (Addrs, func() error) {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.GRPCAddr = "127.0.0.1:0"
	cfg.Server.AdminAddr = "127.0.0.1:0"
	cfg.Audit.Sink = "none"
	if mutate != nil {
		mutate(cfg)
	}
	t.Setenv("OPENAI_API_KEY", "sk-test")
	addrs, stop, err := InProcess(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return addrs, stop
}

func dial(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestAdminAndHealth(t *testing.T) {
	addrs, stop := startWard(t, nil)
	defer stop()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addrs.Admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	code, body := get("/readyz")
	var ready map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &ready) != nil || ready["ready"] != true || ready["policy"] == nil {
		t.Fatalf("/readyz %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "ward_extproc_streams_open") || !strings.Contains(body, "ward_policy_reloads_total") {
		t.Fatalf("/metrics %d", code)
	}
	hc := healthpb.NewHealthClient(dial(t, addrs.GRPC))
	r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "envoy.service.ext_proc.v3.ExternalProcessor"})
	if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("grpc health: %v %v", r, err)
	}
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ward.sock")
	addrs, stop := startWard(t, func(c *config.Config) { c.Server.GRPCAddr = ""; c.Server.GRPCSocket = sock })
	defer stop()
	hc := healthpb.NewHealthClient(dial(t, "unix://"+addrs.Socket))
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

// TestMessageOverTheGRPCLimit: a body larger than the gRPC limit fails that
// stream with RESOURCE_EXHAUSTED (Envoy then applies failure_mode_allow);
// the server keeps serving.
func TestMessageOverTheGRPCLimit(t *testing.T) {
	addrs, stop := startWard(t, func(c *config.Config) { c.Server.MaxGRPCMessageBytes = 1 << 20 })
	defer stop()
	client := extprocv3.NewExternalProcessorClient(dial(t, addrs.GRPC))
	st, err := client.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	big := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: make([]byte, 2<<20), EndOfStream: true}}}
	st.Send(big)
	if _, err := st.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("want ResourceExhausted, got %v", err)
	}
	hc := healthpb.NewHealthClient(dial(t, addrs.GRPC))
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
}

// TestGracefulShutdownLetsOpenStreamsFinish: on shutdown Ward stops
// accepting but an exchange in flight completes.
func TestGracefulShutdownLetsOpenStreamsFinish(t *testing.T) {
	addrs, stop := startWard(t, nil)
	client := extprocv3.NewExternalProcessorClient(dial(t, addrs.GRPC))
	st, err := client.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Start an exchange (unauthenticated GET to /healthz is passthrough).
	st.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: headers(":method", "GET", ":path", "/healthz")}})
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stop() }()
	time.Sleep(100 * time.Millisecond)
	// The open stream still works during the grace period.
	st.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: headers(":status", "200")}})
	if _, err := st.Recv(); err != nil {
		t.Fatalf("open stream cut during grace: %v", err)
	}
	st.CloseSend()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish after the stream ended")
	}
}

func headers(kv ...string) *extprocv3.HttpHeaders {
	h := &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Headers.Headers = append(h.Headers.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	h.EndOfStream = true
	return h
}
