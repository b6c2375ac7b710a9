package config

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration, the one `ward
// serve` runs with when no file is given.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Config is Ward's whole configuration. Zero values are filled from
// defaults before validation; see docs/config.md for every field.
type Config struct {
	Server    Server              `yaml:"server"`
	Log       Log                 `yaml:"log"`
	Keys      []Key               `yaml:"keys"`
	Providers map[string]Provider `yaml:"providers"`
	Profiles  map[string]Profile  `yaml:"profiles"`
	Routes    []Route             `yaml:"routes"`
	// DefaultProfile applies when no route matches.
	DefaultProfile string    `yaml:"default_profile"`
	Policy         Policy    `yaml:"policy"`
	PHI            PHI       `yaml:"phi"`
	Injection      Injection `yaml:"injection"`
	// Topics are per-app example prompts for the topic-scope classifier.
	Topics    map[string]TopicSpec `yaml:"topics"`
	Tokens    Tokens               `yaml:"tokens"`
	Audit     Audit                `yaml:"audit"`
	Telemetry Telemetry            `yaml:"telemetry"`
	Limits    Limits               `yaml:"limits"`

	// Precomputed by Load; not part of the YAML.
	keyByHash map[[32]byte]*Key
}

// Server holds listener and protocol limits.
type Server struct {
	GRPCAddr   string `yaml:"grpc_addr"`   // "" disables TCP
	GRPCSocket string `yaml:"grpc_socket"` // unix socket path; "" disables
	AdminAddr  string `yaml:"admin_addr"`  // "" disables the admin HTTP listener
	// ShutdownGrace bounds how long open ext_proc streams may run after
	// SIGTERM before they are cut.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// StreamIdleTimeout ends a stream on which Envoy sends nothing for
	// this long (a client that opens a stream and never sends).
	StreamIdleTimeout   Duration `yaml:"stream_idle_timeout"`
	MaxRequestBodyBytes int      `yaml:"max_request_body_bytes"`
	// MaxResponseBodyBytes bounds buffered response inspection; larger
	// buffered responses pass through uninspected (counted) per profile.
	MaxResponseBodyBytes int `yaml:"max_response_body_bytes"`
	MaxGRPCMessageBytes  int `yaml:"max_grpc_message_bytes"`
}

// Log configures Ward's own logs (never prompt text or secrets).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, text
}

// Key is a caller credential. Only the SHA-256 of the key is stored.
type Key struct {
	ID      string `yaml:"id"`
	SHA256  string `yaml:"sha256"`
	Team    string `yaml:"team"`
	App     string `yaml:"app"`
	Profile string `yaml:"profile"` // optional: profile for this key's traffic
	// Disabled keys are rejected like unknown ones (rotation without delete).
	Disabled bool `yaml:"disabled"`
}

// Provider is an upstream model API and the credential Ward injects for it.
type Provider struct {
	// Dialect is the API shape: openai or anthropic.
	Dialect string `yaml:"dialect"`
	// AuthHeader is where the key goes: "authorization" (Bearer),
	// "x-api-key" (Anthropic) or "api-key" (Azure OpenAI). Defaults by dialect.
	AuthHeader string `yaml:"auth_header"`
	KeyFile    string `yaml:"key_file"` // re-read when it changes
	KeyEnv     string `yaml:"key_env"`  // used when key_file is empty
	// BAA records that a Business Associate Agreement covers this provider;
	// the clinical policy reads it.
	BAA bool `yaml:"baa"`
}

// Profile is a named set of behaviours a route selects.
type Profile struct {
	// InspectRequest parses and evaluates request bodies.
	InspectRequest *bool `yaml:"inspect_request"`
	// InspectResponse parses, scans and evaluates response bodies.
	InspectResponse *bool `yaml:"inspect_response"`
	// FailOpen lets traffic through when a guardrail errors (policy error,
	// unparseable body, audit spool full). Clinical routes fail closed.
	FailOpen bool `yaml:"fail_open"`
	// PolicyEntrypoint is the Rego rule evaluated for this profile.
	PolicyEntrypoint string `yaml:"policy_entrypoint"`
	// UnknownPaths: "pass" (audited as unparsed) or "deny".
	UnknownPaths string `yaml:"unknown_paths"`
	// RequireAuth rejects requests without a Ward key (401).
	RequireAuth *bool `yaml:"require_auth"`
	// AuditDurability: "async" (default) or "strict" (event durable before
	// the final response is returned to Envoy).
	AuditDurability string `yaml:"audit_durability"`
	// AllowedPHI lists PHI types this profile's routes may carry unredacted
	// (the policy input's route.allowed_phi).
	AllowedPHI []string `yaml:"allowed_phi"`
}

// Enabled reports a tri-state bool with its default.
func Enabled(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Route selects a profile for matching requests. First match wins.
type Route struct {
	PathPrefix string `yaml:"path_prefix"`
	Team       string `yaml:"team"`
	App        string `yaml:"app"`
	Profile    string `yaml:"profile"`
}

// Policy selects where Rego comes from.
type Policy struct {
	// Dir loads .rego and data files from a directory instead of the
	// embedded library.
	Dir string `yaml:"dir"`
	// Bundle is an OPA bundle path or http(s) URL.
	Bundle       string   `yaml:"bundle"`
	PollInterval Duration `yaml:"poll_interval"`
	// Timeout bounds one decision; past it the profile's fail mode applies.
	Timeout Duration `yaml:"timeout"`
	// Evaluator is "plan" (default: OPA's query plan, run by Ward's plan
	// evaluator, with topdown for any entrypoint it cannot run) or
	// "topdown" (OPA's reference evaluator only). See
	// docs/policy-evaluation.md.
	Evaluator string `yaml:"evaluator"`
	// VerificationKeyFile enables bundle signature verification (OPA's
	// .signatures.json): a PEM public key or an HMAC secret.
	VerificationKeyFile   string `yaml:"verification_key_file"`
	VerificationKeyID     string `yaml:"verification_key_id"`
	VerificationAlgorithm string `yaml:"verification_algorithm"` // default RS256
	// Data is deep-merged over the policy's data documents (team model
	// allowlists, routes, app settings) so common changes need no Rego.
	Data map[string]any `yaml:"data"`
}

// Injection configures the prompt-injection detector.
type Injection struct {
	Enabled *bool `yaml:"enabled"`
}

// TopicSpec is one app's topic examples: allowed and disallowed topics,
// each with example prompts.
type TopicSpec struct {
	Allowed    map[string][]string `yaml:"allowed"`
	Disallowed map[string][]string `yaml:"disallowed"`
}

// Tokens configures token counting and pricing.
type Tokens struct {
	// Models maps model names or prefixes to encodings (o200k_base,
	// cl100k_base), over the built-in table.
	Models         map[string]string `yaml:"models"`
	Fallback       string            `yaml:"fallback"`
	AnthropicRatio float64           `yaml:"anthropic_ratio"`
	// Pricing overrides the embedded price table (USD per million tokens).
	Pricing          map[string]Price `yaml:"pricing"`
	PricingEffective string           `yaml:"pricing_effective"`
}

// Price is USD per million tokens.
type Price struct {
	Input       float64 `yaml:"input"`
	CachedInput float64 `yaml:"cached_input"`
	Output      float64 `yaml:"output"`
	CacheWrite  float64 `yaml:"cache_write"`
}

// PHI configures the detector and redaction.
type PHI struct {
	Enabled *bool `yaml:"enabled"`
	// PseudonymKeyEnv names the env var holding the HMAC key for
	// pseudonym redaction (per tenant stable tokens).
	PseudonymKeyEnv string `yaml:"pseudonym_key_env"`
	// HoldBackChars bounds the streaming scanner's hold-back window.
	HoldBackChars int `yaml:"hold_back_chars"`
	// HoldBackMs, when positive, releases held-back stream text after this
	// long even if the scanner wanted more context: lower latency at the
	// cost of the split-identifier guarantee. 0 (the default) never does;
	// keep it 0 on clinical routes.
	HoldBackMs int `yaml:"hold_back_ms"`
}

// Audit selects the audit sink.
type Audit struct {
	// Sink: stdout, file or clickhouse.
	Sink string `yaml:"sink"`
	File string `yaml:"file"`
	// SpoolDir holds the durable spool. Empty: a fresh temporary directory
	// (not durable across restarts; set it in production).
	SpoolDir      string     `yaml:"spool_dir"`
	SpoolMaxBytes int64      `yaml:"spool_max_bytes"`
	ClickHouse    ClickHouse `yaml:"clickhouse"`
	// Content is the ceiling on stored prompt/completion text: full,
	// redacted or none. Policy may lower it per request, never raise it.
	Content       string   `yaml:"content"`
	FlushInterval Duration `yaml:"flush_interval"`
	BatchSize     int      `yaml:"batch_size"`
	QueueSize     int      `yaml:"queue_size"`
}

// ClickHouse connection settings.
type ClickHouse struct {
	Addr        string `yaml:"addr"`
	Database    string `yaml:"database"`
	User        string `yaml:"user"`
	PasswordEnv string `yaml:"password_env"`
	// ContentTTLDays expires prompt/completion columns on ClickHouse >= 20.
	ContentTTLDays int `yaml:"content_ttl_days"`
}

// Telemetry configures OpenTelemetry export.
type Telemetry struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint"` // "" = no export
	SampleRatio  float64 `yaml:"sample_ratio"`
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q: %w", n.Line, s, err)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads a config file; path "" means the embedded defaults.
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse(defaultYAML)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML strictly (unknown fields are errors), applies
// defaults, validates everything at once and precomputes lookups.
func Parse(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse: %w", err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.precompute()
	return c, nil
}

func (c *Config) applyDefaults() {
	s := &c.Server
	if s.ShutdownGrace == 0 {
		s.ShutdownGrace = Duration(20 * time.Second)
	}
	if s.StreamIdleTimeout == 0 {
		s.StreamIdleTimeout = Duration(5 * time.Minute)
	}
	if s.MaxRequestBodyBytes == 0 {
		s.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	if s.MaxResponseBodyBytes == 0 {
		s.MaxResponseBodyBytes = DefaultMaxRequestBodyBytes
	}
	if s.MaxGRPCMessageBytes == 0 {
		s.MaxGRPCMessageBytes = DefaultMaxGRPCMessageBytes
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	for name, p := range c.Providers {
		if p.AuthHeader == "" {
			switch p.Dialect {
			case "anthropic":
				p.AuthHeader = "x-api-key"
			default:
				p.AuthHeader = "authorization"
			}
		}
		c.Providers[name] = p
	}
	for name, p := range c.Profiles {
		if p.PolicyEntrypoint == "" {
			p.PolicyEntrypoint = "data.ward.decision"
		}
		if p.UnknownPaths == "" {
			p.UnknownPaths = "pass"
		}
		if p.AuditDurability == "" {
			p.AuditDurability = "async"
		}
		c.Profiles[name] = p
	}
	if c.Policy.Timeout == 0 {
		c.Policy.Timeout = Duration(250 * time.Millisecond)
	}
	if c.Policy.PollInterval == 0 {
		c.Policy.PollInterval = Duration(30 * time.Second)
	}
	if c.PHI.HoldBackChars == 0 {
		c.PHI.HoldBackChars = 64
	}
	if c.Audit.Sink == "" {
		c.Audit.Sink = "stdout"
	}
	if c.Audit.Content == "" {
		c.Audit.Content = "redacted"
	}
	if c.Audit.FlushInterval == 0 {
		c.Audit.FlushInterval = Duration(time.Second)
	}
	if c.Audit.BatchSize == 0 {
		c.Audit.BatchSize = 1000
	}
	if c.Audit.QueueSize == 0 {
		c.Audit.QueueSize = 65536
	}
	if c.Audit.ClickHouse.Database == "" {
		c.Audit.ClickHouse.Database = "ward"
	}
	if c.Telemetry.SampleRatio == 0 {
		c.Telemetry.SampleRatio = 1
	}
}

// errList collects validation errors with their config paths.
type errList []error

func (e *errList) add(path, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// Validate reports every problem at once, each with its path.
func (c *Config) Validate() error {
	var errs errList
	s := c.Server
	if s.GRPCAddr == "" && s.GRPCSocket == "" {
		errs.add("server", "one of grpc_addr or grpc_socket is required")
	}
	if s.GRPCAddr != "" {
		if _, _, err := net.SplitHostPort(s.GRPCAddr); err != nil {
			errs.add("server.grpc_addr", "%v", err)
		}
	}
	if s.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(s.AdminAddr); err != nil {
			errs.add("server.admin_addr", "%v", err)
		}
	}
	if s.MaxRequestBodyBytes < 0 {
		errs.add("server.max_request_body_bytes", "must be positive")
	}
	if s.MaxGRPCMessageBytes < 1<<20 {
		errs.add("server.max_grpc_message_bytes", "must be at least 1048576")
	}
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		errs.add("log.level", "unknown level %q (debug, info, warn, error)", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "json", "text") {
		errs.add("log.format", "unknown format %q (json, text)", c.Log.Format)
	}

	seenID := map[string]bool{}
	seenHash := map[string]bool{}
	for i, k := range c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		if k.ID == "" {
			errs.add(p+".id", "required")
		} else if seenID[k.ID] {
			errs.add(p+".id", "duplicate key id %q", k.ID)
		}
		seenID[k.ID] = true
		h := strings.ToLower(k.SHA256)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			errs.add(p+".sha256", "must be 64 hex characters (sha256 of the key; see `ward keys hash`)")
		} else if seenHash[h] {
			errs.add(p+".sha256", "duplicate key hash")
		}
		seenHash[h] = true
		if k.Team == "" {
			errs.add(p+".team", "required")
		}
		if k.Profile != "" {
			if _, ok := c.Profiles[k.Profile]; !ok {
				errs.add(p+".profile", "unknown profile %q", k.Profile)
			}
		}
	}
	for _, name := range sortedKeys(c.Providers) {
		pr := c.Providers[name]
		p := "providers." + name
		if !oneOf(pr.Dialect, "openai", "anthropic") {
			errs.add(p+".dialect", "unknown dialect %q (openai, anthropic)", pr.Dialect)
		}
		if !oneOf(pr.AuthHeader, "authorization", "x-api-key", "api-key") {
			errs.add(p+".auth_header", "unknown auth header %q (authorization, x-api-key, api-key)", pr.AuthHeader)
		}
		if pr.KeyFile != "" && pr.KeyEnv != "" {
			errs.add(p, "set key_file or key_env, not both")
		}
	}
	if len(c.Profiles) == 0 {
		errs.add("profiles", "at least one profile is required")
	}
	for _, name := range sortedKeys(c.Profiles) {
		pr := c.Profiles[name]
		p := "profiles." + name
		if !oneOf(pr.UnknownPaths, "pass", "deny") {
			errs.add(p+".unknown_paths", "unknown value %q (pass, deny)", pr.UnknownPaths)
		}
		if !oneOf(pr.AuditDurability, "async", "strict") {
			errs.add(p+".audit_durability", "unknown value %q (async, strict)", pr.AuditDurability)
		}
		if !strings.HasPrefix(pr.PolicyEntrypoint, "data.") {
			errs.add(p+".policy_entrypoint", "must be a data reference such as data.ward.decision, got %q", pr.PolicyEntrypoint)
		}
	}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			errs.add(p+".path_prefix", "must start with /, got %q", r.PathPrefix)
		}
		if _, ok := c.Profiles[r.Profile]; !ok {
			errs.add(p+".profile", "unknown profile %q", r.Profile)
		}
	}
	if c.DefaultProfile == "" {
		errs.add("default_profile", "required")
	} else if _, ok := c.Profiles[c.DefaultProfile]; !ok {
		errs.add("default_profile", "unknown profile %q", c.DefaultProfile)
	}
	if c.Policy.Dir != "" && c.Policy.Bundle != "" {
		errs.add("policy", "set dir or bundle, not both")
	}
	if c.Policy.VerificationKeyFile != "" && c.Policy.VerificationKeyID == "" {
		errs.add("policy.verification_key_id", "required with verification_key_file")
	}
	if c.Policy.Timeout < 0 {
		errs.add("policy.timeout", "must be positive")
	}
	switch c.Policy.Evaluator {
	case "", "plan", "topdown":
	default:
		errs.add("policy.evaluator", "must be plan or topdown, got %q", c.Policy.Evaluator)
	}
	if c.PHI.HoldBackMs < 0 || c.PHI.HoldBackMs > 60000 {
		errs.add("phi.hold_back_ms", "must be between 0 and 60000, got %d", c.PHI.HoldBackMs)
	}
	if c.PHI.HoldBackChars < 16 || c.PHI.HoldBackChars > 4096 {
		errs.add("phi.hold_back_chars", "must be between 16 and 4096, got %d", c.PHI.HoldBackChars)
	}
	a := c.Audit
	if !oneOf(a.Sink, "stdout", "file", "clickhouse", "none") {
		errs.add("audit.sink", "unknown sink %q (stdout, file, clickhouse, none)", a.Sink)
	}
	if a.Sink == "file" && a.File == "" {
		errs.add("audit.file", "required when audit.sink is file")
	}
	if a.Sink == "clickhouse" && a.ClickHouse.Addr == "" {
		errs.add("audit.clickhouse.addr", "required when audit.sink is clickhouse")
	}
	if !oneOf(a.Content, "full", "redacted", "none") {
		errs.add("audit.content", "unknown level %q (full, redacted, none)", a.Content)
	}
	if a.BatchSize < 1 || a.QueueSize < a.BatchSize {
		errs.add("audit", "need 1 <= batch_size <= queue_size")
	}
	for _, name := range sortedKeys(c.Profiles) {
		for i, t := range c.Profiles[name].AllowedPHI {
			if t == "" || strings.ToUpper(t) != t {
				errs.add(fmt.Sprintf("profiles.%s.allowed_phi[%d]", name, i), "PHI type names are upper case, got %q", t)
			}
		}
	}
	for _, app := range sortedKeys(c.Topics) {
		if len(c.Topics[app].Allowed) == 0 {
			errs.add("topics."+app+".allowed", "at least one allowed topic with examples is required")
		}
	}
	if f := c.Tokens.Fallback; f != "" && f != "o200k_base" && f != "cl100k_base" {
		errs.add("tokens.fallback", "unknown encoding %q (o200k_base, cl100k_base)", f)
	}
	if c.Audit.SpoolMaxBytes < 0 {
		errs.add("audit.spool_max_bytes", "must be positive")
	}
	if c.Telemetry.SampleRatio < 0 || c.Telemetry.SampleRatio > 1 {
		errs.add("telemetry.sample_ratio", "must be within [0,1]")
	}
	c.Limits.validate(&errs)
	return errors.Join(errs...)
}

func (c *Config) precompute() {
	c.keyByHash = make(map[[32]byte]*Key, len(c.Keys))
	for i := range c.Keys {
		var h [32]byte
		b, _ := hex.DecodeString(strings.ToLower(c.Keys[i].SHA256))
		copy(h[:], b)
		c.keyByHash[h] = &c.Keys[i]
	}
}

// KeyByHash finds a caller key by the SHA-256 of the presented secret.
func (c *Config) KeyByHash(h [32]byte) (*Key, bool) {
	k, ok := c.keyByHash[h]
	return k, ok
}

// ProfileFor returns the profile name for a request: the first matching
// route, else the key's own profile, else the default.
func (c *Config) ProfileFor(path, team, app, keyProfile string) string {
	for _, r := range c.Routes {
		if r.PathPrefix != "" && !strings.HasPrefix(path, r.PathPrefix) {
			continue
		}
		if r.Team != "" && r.Team != team {
			continue
		}
		if r.App != "" && r.App != app {
			continue
		}
		return r.Profile
	}
	if keyProfile != "" {
		return keyProfile
	}
	return c.DefaultProfile
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
