# Ward's entry point: data.ward.decision dispatches on input.profile to the
# profile's policy. Every profile returns the same decision document
# (docs/policy-decision.md).
package ward

import data.ward.lib

profiles := {"clinical", "internal", "passthrough"}

# One else-chain: the profile's branch is found by the rule index and the
# unknown-profile check runs only when no profile matched.
decision := data.ward.clinical.decision if {
	input.profile == "clinical"
} else := data.ward.internal.decision if {
	input.profile == "internal"
} else := lib.allow_decision([], {}, {}, "none", ["passthrough"]) if {
	# passthrough: Ward forwards without inspection; the audit keeps metadata only.
	input.profile == "passthrough"
} else := lib.deny_decision(
	lib.denial("unknown_profile", sprintf("no policy for route profile %q", [input.profile]), 403, 0),
	"full",
	["unknown_profile"],
) if {
	not input.profile in profiles
}
