-- Question: which prompts sent in the week of 16-22 November 2026 looked like
-- prompt-injection attempts (injection score >= 0.5), which app were they
-- aimed at, which rules fired, and what did Ward decide?
-- last_user_prompt is the latest user message as stored at content_level
-- (empty when the policy kept no content); the whole conversation is in
-- prompt_roles / prompt_texts, or: ward audit find --user END_USER --at TIME.
SELECT
    start_ms,
    event_id,
    team,
    app,
    end_user,
    injection_score,
    injection_rules,
    topic_in_scope,
    topic_nearest,
    decision,
    reason_code,
    policy_revision,
    content_level,
    arrayElement(arrayFilter((text, role) -> role = 'user', prompt_texts, prompt_roles), -1) AS last_user_prompt
FROM ward.audit_events FINAL
WHERE ts >= toDateTime('2026-11-16 00:00:00', 'UTC')
  AND ts < toDateTime('2026-11-23 00:00:00', 'UTC')
  AND injection_score >= 0.5
ORDER BY injection_score DESC, start_ms, event_id
