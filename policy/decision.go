package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Reason codes the engine itself produces (policies produce their own).
const (
	ReasonOK          = "ok"
	ReasonPolicyError = "policy_error" // evaluation failed, timed out or returned a bad shape
	ReasonNoDecision  = "no_decision"  // the entrypoint was undefined: deny by default
	ReasonFailOpen    = "policy_error_fail_open"
)

// ResponseChecks values.
const (
	ResponseChecksEveryChunk = "every_chunk"
	ResponseChecksOnFindings = "on_findings"
	ResponseChecksNone       = "none"
)

// Bounds of response_triggers and response_trigger_window: Ward matches
// every trigger against each streamed chunk's window, so the list stays
// small enough for a plain substring loop.
const (
	MaxResponseTriggers          = 256
	MaxResponseTriggerBytes      = 64
	DefaultResponseTriggerWindow = 256  // characters
	MaxResponseTriggerWindow     = 4096 // characters
)

// Audit content levels.
const (
	AuditFull     = "full"
	AuditRedacted = "redacted"
	AuditNone     = "none"
)

// Decision is the policy decision document (docs/policy-decision.md).
type Decision struct {
	Allow  bool   `json:"allow"`
	Reason Reason `json:"reason"`
	// Status is the HTTP status for a denial (0 when allowed).
	Status  int               `json:"status"`
	Redact  []Redaction       `json:"redact"`
	Route   RouteTarget       `json:"route"`
	Headers map[string]string `json:"headers"`
	// Audit is the audit content level: "full", "redacted" or "none".
	Audit string   `json:"audit"`
	Tags  []string `json:"tags"`
	// ResponseChecks (request phase) says when this request's streamed
	// response needs a response_chunk decision: "every_chunk" (default),
	// "on_findings" (only chunks whose released text holds PHI findings:
	// the policy's chunk decision depends on nothing else) or "none".
	ResponseChecks string `json:"response_checks"`
	// ResponseTriggers (request phase, with "on_findings") are lower-case
	// strings: a chunk without findings is decided anyway when one of them
	// occurs in its trigger window (docs/policy-decision.md), a buffered
	// output when one occurs anywhere in it.
	ResponseTriggers []string `json:"response_triggers,omitempty"`
	// ResponseTriggerWindow is how many characters of output before the
	// newly arrived text the trigger window reaches back (0 when the
	// decision has no triggers; DefaultResponseTriggerWindow when it has
	// triggers but no window).
	ResponseTriggerWindow int `json:"response_trigger_window,omitempty"`

	// Revision identifies the policy that decided (bundle revision or a
	// content hash), for the audit trail.
	Revision string `json:"revision"`
	// Entrypoint is the query that was evaluated.
	Entrypoint string `json:"entrypoint"`
	// Err is why evaluation failed; the decision is then a fail-closed
	// deny (or fail-open allow, see FailOpen). Nil for a normal decision,
	// including a deny-by-default on an undefined entrypoint.
	Err error `json:"-"`
}

// Reason is a machine-readable code and a message safe to show the caller.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Redaction asks for every finding of Type to be redacted in Mode
// (e.g. "mask").
type Redaction struct {
	Type string `json:"type"`
	Mode string `json:"mode"`
}

// RouteTarget overrides the upstream model and/or provider; empty fields
// mean "unchanged".
type RouteTarget struct {
	Model    string `json:"model,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// FailOpen converts a failed decision (d.Err != nil) into an allow for
// profiles configured to fail open. Err, Revision and a policy_error tag are
// kept so the failure is still counted and audited.
func FailOpen(d Decision) Decision {
	if d.Err == nil {
		return d
	}
	return Decision{
		Allow:      true,
		Reason:     Reason{Code: ReasonFailOpen, Message: "policy evaluation failed; allowed because the profile fails open"},
		Audit:      AuditFull,
		Tags:       []string{"policy_error", "fail_open"},
		Revision:   d.Revision,
		Entrypoint: d.Entrypoint,
		Err:        d.Err,
	}
}

func failClosed(err error) Decision {
	return Decision{
		Reason: Reason{Code: ReasonPolicyError, Message: "the request could not be evaluated against policy"},
		Status: 500,
		Audit:  AuditFull,
		Tags:   []string{"policy_error"},
		Err:    err,
	}
}

func undefinedDecision() Decision {
	return Decision{
		Reason: Reason{Code: ReasonNoDecision, Message: "no policy decision for this request"},
		Status: 403,
		Audit:  AuditFull,
		Tags:   []string{ReasonNoDecision},
	}
}

// ShapeError says which field of a decision document was wrong.
type ShapeError struct {
	Field string // e.g. "reason.code", "redact[1].type"
	Want  string
	Got   string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("policy decision field %q: want %s, got %s", e.Field, e.Want, e.Got)
}

// ErrShape matches every *ShapeError with errors.Is.
var ErrShape = errors.New("policy decision has the wrong shape")

func (e *ShapeError) Is(target error) bool { return target == ErrShape }

func shapeErr(field, want string, got ast.Value) error {
	return &ShapeError{Field: field, Want: want, Got: typeName(got)}
}

func typeName(v ast.Value) string {
	if v == nil {
		return "nothing"
	}
	return ast.ValueName(v)
}

var (
	fAllow   = ast.StringTerm("allow")
	fReason  = ast.StringTerm("reason")
	fStatus  = ast.StringTerm("status")
	fRedact  = ast.StringTerm("redact")
	fRoute   = ast.StringTerm("route")
	fHeaders = ast.StringTerm("headers")
	fAudit   = ast.StringTerm("audit")
	fTags    = ast.StringTerm("tags")
	fRespChk = ast.StringTerm("response_checks")
	fTrig    = ast.StringTerm("response_triggers")
	fTrigWin = ast.StringTerm("response_trigger_window")
	fCode    = ast.StringTerm("code")
	fMessage = ast.StringTerm("message")
	fType    = ast.StringTerm("type")
	fMode    = ast.StringTerm("mode")
	fModel   = ast.StringTerm("model")
	fProv    = ast.StringTerm("provider")
)

// DecodeDecision reads a decision document straight from the OPA value.
// allow is required; every other field is optional but must have the
// documented type. Unknown fields are ignored so policies can carry extra
// detail for explain output.
func DecodeDecision(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, shapeErr("decision", "object", v)
	}
	allow := obj.Get(fAllow)
	if allow == nil {
		return d, &ShapeError{Field: "allow", Want: "boolean", Got: "nothing (missing)"}
	}
	b, ok := allow.Value.(ast.Boolean)
	if !ok {
		return d, shapeErr("allow", "boolean", allow.Value)
	}
	d.Allow = bool(b)

	if t := obj.Get(fReason); t != nil {
		r, ok := t.Value.(ast.Object)
		if !ok {
			return d, shapeErr("reason", "object", t.Value)
		}
		var err error
		if d.Reason.Code, err = optString(r, fCode, "reason.code"); err != nil {
			return d, err
		}
		if d.Reason.Message, err = optString(r, fMessage, "reason.message"); err != nil {
			return d, err
		}
	}
	if t := obj.Get(fStatus); t != nil {
		n, ok := t.Value.(ast.Number)
		if !ok {
			return d, shapeErr("status", "integer", t.Value)
		}
		i, ok := n.Int()
		if !ok || i < 0 || i > 599 {
			return d, &ShapeError{Field: "status", Want: "integer 0..599", Got: n.String()}
		}
		d.Status = i
	}
	if t := obj.Get(fRedact); t != nil {
		arr, ok := t.Value.(*ast.Array)
		if !ok {
			return d, shapeErr("redact", "array", t.Value)
		}
		if n := arr.Len(); n > 0 {
			d.Redact = make([]Redaction, n)
			for i := range n {
				el, ok := arr.Elem(i).Value.(ast.Object)
				if !ok {
					return d, shapeErr(fmt.Sprintf("redact[%d]", i), "object", arr.Elem(i).Value)
				}
				// Field names are formatted only on error: this runs per
				// redacted type on every decision.
				var err error
				if d.Redact[i].Type, err = optString(el, fType, ""); err != nil {
					return d, indexed(err, fmt.Sprintf("redact[%d].type", i))
				}
				if d.Redact[i].Type == "" {
					return d, &ShapeError{Field: fmt.Sprintf("redact[%d].type", i), Want: "non-empty string", Got: "nothing"}
				}
				if d.Redact[i].Mode, err = optString(el, fMode, ""); err != nil {
					return d, indexed(err, fmt.Sprintf("redact[%d].mode", i))
				}
			}
		}
	}
	if t := obj.Get(fRoute); t != nil {
		r, ok := t.Value.(ast.Object)
		if !ok {
			return d, shapeErr("route", "object", t.Value)
		}
		var err error
		if d.Route.Model, err = optString(r, fModel, "route.model"); err != nil {
			return d, err
		}
		if d.Route.Provider, err = optString(r, fProv, "route.provider"); err != nil {
			return d, err
		}
	}
	if t := obj.Get(fHeaders); t != nil {
		h, ok := t.Value.(ast.Object)
		if !ok {
			return d, shapeErr("headers", "object", t.Value)
		}
		if h.Len() > 0 {
			// The callback fills a map of its own: capturing d would move
			// the whole Decision to the heap.
			headers := make(map[string]string, h.Len())
			var err error
			h.Foreach(func(k, v *ast.Term) {
				if err != nil {
					return
				}
				ks, ok := k.Value.(ast.String)
				if !ok {
					err = shapeErr("headers key", "string", k.Value)
					return
				}
				vs, ok := v.Value.(ast.String)
				if !ok {
					err = shapeErr("headers."+string(ks), "string", v.Value)
					return
				}
				headers[strings.ToLower(string(ks))] = string(vs)
			})
			if err != nil {
				return d, err
			}
			d.Headers = headers
		}
	}
	audit, err := optString(obj, fAudit, "audit")
	if err != nil {
		return d, err
	}
	switch audit {
	case "":
		d.Audit = AuditFull
	case AuditFull, AuditRedacted, AuditNone:
		d.Audit = audit
	default:
		return d, &ShapeError{Field: "audit", Want: `"full", "redacted" or "none"`, Got: fmt.Sprintf("%q", audit)}
	}
	if t := obj.Get(fTags); t != nil {
		var tags []string
		add := func(i int, v *ast.Term) error {
			s, ok := v.Value.(ast.String)
			if !ok {
				return shapeErr(fmt.Sprintf("tags[%d]", i), "string", v.Value)
			}
			tags = append(tags, string(s))
			return nil
		}
		switch x := t.Value.(type) {
		case *ast.Array:
			tags = make([]string, 0, x.Len())
			for i := range x.Len() {
				if err := add(i, x.Elem(i)); err != nil {
					return d, err
				}
			}
		case ast.Set:
			tags = make([]string, 0, x.Len())
			i := 0
			for _, v := range x.Slice() {
				if err := add(i, v); err != nil {
					return d, err
				}
				i++
			}
		default:
			return d, shapeErr("tags", "array of strings", t.Value)
		}
		d.Tags = tags
	}
	checks, err := optString(obj, fRespChk, "response_checks")
	if err != nil {
		return d, err
	}
	switch checks {
	case "":
		d.ResponseChecks = ResponseChecksEveryChunk
	case ResponseChecksEveryChunk, ResponseChecksOnFindings, ResponseChecksNone:
		d.ResponseChecks = checks
	default:
		return d, &ShapeError{Field: "response_checks", Want: `"every_chunk", "on_findings" or "none"`, Got: fmt.Sprintf("%q", checks)}
	}
	if err := decodeTriggers(obj, &d); err != nil {
		return d, err
	}
	if !d.Allow && d.Status == 0 {
		d.Status = 403
	}
	return d, nil
}

// decodeTriggers reads response_triggers (an array or set of non-empty
// lower-case strings) and response_trigger_window (characters).
func decodeTriggers(obj ast.Object, d *Decision) error {
	t := obj.Get(fTrig)
	if t != nil {
		var elems []*ast.Term
		switch x := t.Value.(type) {
		case *ast.Array:
			elems = make([]*ast.Term, x.Len())
			for i := range x.Len() {
				elems[i] = x.Elem(i)
			}
		case ast.Set:
			elems = x.Slice()
		default:
			return shapeErr("response_triggers", "array or set of strings", t.Value)
		}
		if len(elems) > MaxResponseTriggers {
			return &ShapeError{Field: "response_triggers", Want: fmt.Sprintf("at most %d triggers", MaxResponseTriggers), Got: fmt.Sprint(len(elems))}
		}
		if len(elems) > 0 {
			d.ResponseTriggers = make([]string, len(elems))
		}
		for i, e := range elems {
			s, ok := e.Value.(ast.String)
			if !ok {
				return shapeErr(fmt.Sprintf("response_triggers[%d]", i), "string", e.Value)
			}
			v := string(s)
			if v == "" || len(v) > MaxResponseTriggerBytes || v != strings.ToLower(v) {
				return &ShapeError{Field: fmt.Sprintf("response_triggers[%d]", i),
					Want: fmt.Sprintf("non-empty lower-case string of at most %d bytes", MaxResponseTriggerBytes), Got: fmt.Sprintf("%q", v)}
			}
			d.ResponseTriggers[i] = v
		}
	}
	if w := obj.Get(fTrigWin); w != nil {
		n, ok := w.Value.(ast.Number)
		if !ok {
			return shapeErr("response_trigger_window", "integer", w.Value)
		}
		i, ok := n.Int()
		if !ok || i < 1 || i > MaxResponseTriggerWindow {
			return &ShapeError{Field: "response_trigger_window", Want: fmt.Sprintf("integer 1..%d", MaxResponseTriggerWindow), Got: n.String()}
		}
		d.ResponseTriggerWindow = i
	}
	if len(d.ResponseTriggers) == 0 {
		d.ResponseTriggerWindow = 0
	} else if d.ResponseTriggerWindow == 0 {
		d.ResponseTriggerWindow = DefaultResponseTriggerWindow
	}
	return nil
}

// indexed names the field of a ShapeError returned without one.
func indexed(err error, field string) error {
	var se *ShapeError
	if errors.As(err, &se) {
		se.Field = field
	}
	return err
}

func optString(obj ast.Object, k *ast.Term, field string) (string, error) {
	t := obj.Get(k)
	if t == nil {
		return "", nil
	}
	s, ok := t.Value.(ast.String)
	if !ok {
		return "", shapeErr(field, "string", t.Value)
	}
	return string(s), nil
}
