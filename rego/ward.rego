# Ward's entry point: data.ward.decision dispatches on input.profile to the
# profile's policy. Every profile returns the same decision document
# (docs/policy-decision.md).
package ward

profiles := {"clinical", "internal", "passthrough"}

decision := data.ward.clinical.decision if input.profile == "clinical"

decision := data.ward.internal.decision if input.profile == "internal"

# passthrough: Ward forwards without inspection; the audit keeps metadata only.
decision := data.ward.lib.allow_decision([], {}, {}, "none", ["passthrough"]) if input.profile == "passthrough"

decision := data.ward.lib.deny_decision(
	data.ward.lib.denial("unknown_profile", sprintf("no policy for route profile %q", [input.profile]), 403, 0),
	"full",
	["unknown_profile"],
) if not input.profile in profiles
