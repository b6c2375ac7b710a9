# Topic restriction per app: an app with configured topics only answers
# requests the topic detector places inside them (a burrito-ordering
# assistant does not write code).
package ward.scope

import data.ward.lib

topics := {t | some t in object.get(data.ward.config.apps, [input.identity.app, "topics"], [])}

off_topic if {
	input.detectors.topic.in_scope == false
}

off_topic if {
	n := input.detectors.topic.nearest
	n != ""
	not n in topics
}

deny contains lib.denial(
	"off_topic",
	sprintf("this assistant can only help with: %s", [concat(", ", topics)]),
	403, 40,
) if {
	input.phase == "request"
	count(topics) > 0
	off_topic
}
