-- Question: what kinds of PHI did each team send in November 2026, and how often?
-- Only types and counts are stored, never the values.
SELECT
    team,
    phi_type,
    sum(n) AS findings,
    count() AS requests
FROM ward.audit_events FINAL
ARRAY JOIN phi_types AS phi_type, phi_counts AS n
WHERE ts >= toDateTime('2026-11-01 00:00:00', 'UTC')
  AND ts < toDateTime('2026-12-01 00:00:00', 'UTC')
GROUP BY team, phi_type
ORDER BY team, findings DESC, phi_type
