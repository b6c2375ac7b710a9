# Prompt-injection screening. Ward's detector gives a calibrated score in
# [0,1] and the rules that fired (input.detectors.injection); the threshold
# is the policy's choice, per profile, in data.ward.config.injection.
package ward.injection

import data.ward.lib

default threshold := 0.5

threshold := t if {
	t := data.ward.config.injection.threshold[input.profile]
}

suspected if {
	input.phase == "request"
	input.detectors.injection.score >= threshold
}

deny contains lib.denial(
	"prompt_injection",
	"this request looks like an attempt to override the assistant's instructions",
	403, 15,
) if suspected
