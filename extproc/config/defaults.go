// Package config holds Ward's configuration: embedded defaults, YAML parsing,
// validation that reports every error at once, and precomputed lookups.
package config

// Defaults that examples, Envoy configs and Kubernetes manifests depend on.
// A change here must fail the tests that check envoy/ and examples/.
const (
	// DefaultGRPCAddr is where the ext_proc gRPC server listens.
	DefaultGRPCAddr = "0.0.0.0:50051"
	// DefaultGRPCSocket is the unix socket path used when grpc.socket is set
	// to "default" (e.g. a shared emptyDir in a pod).
	DefaultGRPCSocket = "/var/run/ward/ward.sock"
	// DefaultAdminAddr serves /healthz, /readyz and /metrics.
	DefaultAdminAddr = "0.0.0.0:8081"
	// DefaultMaxRequestBodyBytes is the buffered request body limit (413 above).
	DefaultMaxRequestBodyBytes = 8 << 20
	// DefaultMaxGRPCMessageBytes bounds ext_proc messages both ways: a
	// buffered 8 MiB body plus its mutation fits. Envoy's envoy_grpc
	// max_receive_message_length is unlimited when unset; Ward's configs set
	// it to this value.
	DefaultMaxGRPCMessageBytes = 16 << 20
	// DynamicMetadataNamespace is the filter-metadata namespace Ward writes
	// its identity and decision into; Envoy routes, logs and RBAC read it.
	DynamicMetadataNamespace = "ward"
)

// Header names Ward sets on the upstream request. Client-sent headers with
// the x-ward- prefix are always removed first.
const (
	HeaderPrefix   = "x-ward-"
	HeaderTeam     = "x-ward-team"
	HeaderApp      = "x-ward-app"
	HeaderKeyID    = "x-ward-key-id"
	HeaderProvider = "x-ward-provider" // Envoy routes on this (clear_route_cache)
	HeaderModel    = "x-ward-model"    // model after policy routing
	HeaderProfile  = "x-ward-profile"  // route profile that applied
	HeaderDecision = "x-ward-decision"
	HeaderEventID  = "x-ward-event-id" // audit event id, also returned to the client
)
