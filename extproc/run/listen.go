// Package run runs Ward's listeners: the ext_proc gRPC server (TCP and/or
// unix socket) with the standard gRPC health service, and the admin HTTP
// server (/healthz, /readyz, /metrics). Listeners open synchronously so a
// bad address fails start-up, and shutdown runs in order: stop accepting,
// let open streams finish up to a deadline, then flush what the caller
// registered (audit, traces).
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Options are what Run needs beyond the ext_proc service itself.
type Options struct {
	GRPCAddr, GRPCSocket, AdminAddr string
	MaxGRPCMessageBytes             int
	ShutdownGrace                   time.Duration
	Service                         extprocv3.ExternalProcessorServer
	Gatherer                        prometheus.Gatherer
	// Ready reports readiness detail for /readyz (nil error = ready).
	Ready func() (map[string]any, error)
	// Flush runs after the gRPC server has stopped (audit drain, traces).
	Flush []func(ctx context.Context) error
	Log   *slog.Logger
	// OnListening is told the bound addresses (useful with port 0).
	OnListening func(Addrs)
}

// Addrs are the bound listener addresses.
type Addrs struct {
	GRPC, Socket, Admin string
}

// Listen serves until ctx ends, then shuts down in order.
func Listen(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lis []net.Listener
	closeAll := func() {
		for _, l := range lis {
			l.Close()
		}
	}
	var addrs Addrs
	if o.GRPCAddr != "" {
		l, err := net.Listen("tcp", o.GRPCAddr)
		if err != nil {
			return fmt.Errorf("grpc listener: %w", err)
		}
		lis = append(lis, l)
		addrs.GRPC = l.Addr().String()
	}
	if o.GRPCSocket != "" {
		if err := os.MkdirAll(filepath.Dir(o.GRPCSocket), 0o755); err != nil {
			closeAll()
			return fmt.Errorf("grpc socket dir: %w", err)
		}
		// A socket left by a crashed process would make Listen fail.
		if st, err := os.Lstat(o.GRPCSocket); err == nil && st.Mode()&os.ModeSocket != 0 {
			os.Remove(o.GRPCSocket)
		}
		l, err := net.Listen("unix", o.GRPCSocket)
		if err != nil {
			closeAll()
			return fmt.Errorf("grpc socket: %w", err)
		}
		lis = append(lis, l)
		addrs.Socket = o.GRPCSocket
	}
	var adminLis net.Listener
	if o.AdminAddr != "" {
		l, err := net.Listen("tcp", o.AdminAddr)
		if err != nil {
			closeAll()
			return fmt.Errorf("admin listener: %w", err)
		}
		adminLis = l
		addrs.Admin = l.Addr().String()
	}

	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(o.MaxGRPCMessageBytes),
		grpc.MaxSendMsgSize(o.MaxGRPCMessageBytes),
	)
	extprocv3.RegisterExternalProcessorServer(gs, o.Service)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	const svcName = "envoy.service.ext_proc.v3.ExternalProcessor"
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(svcName, healthpb.HealthCheckResponse_SERVING)

	var draining atomic.Bool
	var adminSrv *http.Server
	if adminLis != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("content-type", "text/plain")
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			detail := map[string]any{}
			var err error
			if o.Ready != nil {
				detail, err = o.Ready()
				if detail == nil {
					detail = map[string]any{}
				}
			}
			if draining.Load() {
				err = errors.Join(err, errors.New("shutting down"))
			}
			w.Header().Set("content-type", "application/json")
			if err != nil {
				detail["ready"] = false
				detail["error"] = err.Error()
				w.WriteHeader(http.StatusServiceUnavailable)
			} else {
				detail["ready"] = true
			}
			json.NewEncoder(w).Encode(detail)
		})
		if o.Gatherer != nil {
			mux.Handle("/metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
		}
		adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}

	errc := make(chan error, len(lis)+1)
	for _, l := range lis {
		go func(l net.Listener) { errc <- gs.Serve(l) }(l)
	}
	if adminSrv != nil {
		go func() {
			if err := adminSrv.Serve(adminLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("admin server: %w", err)
			}
		}()
	}
	log.Info("ward listening", "grpc", addrs.GRPC, "socket", addrs.Socket, "admin", addrs.Admin)
	if o.OnListening != nil {
		o.OnListening(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", o.ShutdownGrace.String())
	case err := <-errc:
		runErr = fmt.Errorf("server stopped: %w", err)
		log.Error("server failed; shutting down", "error", err)
	}

	// 1. Stop accepting; tell health checkers so Envoy stops sending.
	draining.Store(true)
	hs.Shutdown()
	// 2. Let open streams finish up to the grace period, then cut them.
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	t := time.NewTimer(o.ShutdownGrace)
	select {
	case <-stopped:
		t.Stop()
	case <-t.C:
		log.Warn("grace period over; closing open streams")
		gs.Stop()
		<-stopped
	}
	// 3. Flush audit and traces with their own deadline.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownGrace+10*time.Second)
	defer cancel()
	var flushErrs []error
	for _, f := range o.Flush {
		if err := f(fctx); err != nil {
			flushErrs = append(flushErrs, err)
		}
	}
	if adminSrv != nil {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		adminSrv.Shutdown(actx)
		acancel()
	}
	if addrs.Socket != "" {
		os.Remove(addrs.Socket)
	}
	return errors.Join(append([]error{runErr}, flushErrs...)...)
}
