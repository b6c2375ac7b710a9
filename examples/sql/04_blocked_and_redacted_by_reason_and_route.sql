-- Question: which requests did policy block or redact in November 2026, by
-- reason and by route (route profile and endpoint)?
SELECT
    profile,
    endpoint,
    decision,
    reason_code,
    count() AS requests
FROM ward.audit_events FINAL
WHERE decision IN ('deny', 'redact')
  AND ts >= toDateTime('2026-11-01 00:00:00', 'UTC')
  AND ts < toDateTime('2026-12-01 00:00:00', 'UTC')
GROUP BY profile, endpoint, decision, reason_code
ORDER BY requests DESC, profile, endpoint, decision, reason_code
