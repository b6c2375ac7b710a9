package stages

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/extproc/audit"
	"github.com/wardhq/ward/policy"
)

// registerAuditMetrics exports the audit pipeline's health: queue depth,
// spool bytes, oldest unsent event age, replays and drops.
func registerAuditMetrics(reg prometheus.Registerer, w *audit.Writer) {
	gauge := func(name, help string, f func(audit.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(w.Stats()) })
	}
	counter := func(name, help string, f func(audit.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(w.Stats()) })
	}
	reg.MustRegister(
		gauge("ward_audit_queue_depth", "Audit events waiting in memory.", func(s audit.Stats) float64 { return float64(s.QueueDepth) }),
		gauge("ward_audit_spool_bytes", "Spooled audit bytes not yet confirmed by the sink.", func(s audit.Stats) float64 { return float64(s.SpoolBytes) }),
		gauge("ward_audit_oldest_unsent_seconds", "Age of the oldest audit event not yet confirmed by the sink.", func(s audit.Stats) float64 { return s.OldestUnsentAge.Seconds() }),
		counter("ward_audit_events_spooled_total", "Audit events fsynced to the spool.", func(s audit.Stats) float64 { return float64(s.Spooled) }),
		counter("ward_audit_events_sent_total", "Audit events confirmed by the sink.", func(s audit.Stats) float64 { return float64(s.Sent) }),
		counter("ward_audit_events_replayed_total", "Audit events shipped from spool files after a sink outage or restart.", func(s audit.Stats) float64 { return float64(s.Replayed) }),
		counter("ward_audit_dropped_queue_total", "Audit events refused because the in-memory queue was full.", func(s audit.Stats) float64 { return float64(s.DroppedQueue) }),
		counter("ward_audit_dropped_spool_total", "Audit events refused because the spool was full or failed.", func(s audit.Stats) float64 { return float64(s.DroppedSpool) }),
		counter("ward_audit_corrupt_records_total", "Spool records skipped for a bad checksum.", func(s audit.Stats) float64 { return float64(s.CorruptRecords) }),
		counter("ward_audit_sink_errors_total", "Failed sink writes (each retried).", func(s audit.Stats) float64 { return float64(s.SinkErrors) }),
	)
}

// registerPolicyMetrics exports policy reloads and decision failures.
func registerPolicyMetrics(reg prometheus.Registerer, e *policy.Engine) {
	counter := func(name, help string, f func(policy.Status) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(e.Status()) })
	}
	reg.MustRegister(
		counter("ward_policy_reloads_total", "Successful policy loads.", func(s policy.Status) float64 { return float64(s.Reloads) }),
		counter("ward_policy_reload_failures_total", "Policy reloads that failed (the last good policy stayed active).", func(s policy.Status) float64 { return float64(s.ReloadFailures) }),
		counter("ward_policy_decisions_total", "Policy decisions evaluated.", func(s policy.Status) float64 { return float64(s.Decisions) }),
		counter("ward_policy_decision_errors_total", "Policy decisions that failed (timeouts included).", func(s policy.Status) float64 { return float64(s.Errors) }),
		counter("ward_policy_decision_timeouts_total", "Policy decisions over the deadline.", func(s policy.Status) float64 { return float64(s.Timeouts) }),
		counter("ward_policy_undefined_total", "Decisions denied because the policy defined none.", func(s policy.Status) float64 { return float64(s.Undefined) }),
	)
}
