package audit

import (
	"fmt"

	"github.com/google/uuid"
)

// Problem kinds reported by Verifier.
const (
	ProblemEdited        = "edited"         // stored fields do not match the event's hash
	ProblemContentEdited = "content-edited" // content present but does not match content_hash
	ProblemMissing       = "missing"        // seq gap: events deleted (or a corrupt spool record skipped)
	ProblemBrokenLink    = "broken-link"    // prev_hash is not the previous event's hash
	ProblemDuplicate     = "duplicate"      // two different events claim the same seq
	ProblemHeadMissing   = "head-missing"   // chain does not start at seq 1
)

// Problem is one integrity failure found by Verifier.
type Problem struct {
	Kind     string
	WriterID uuid.UUID
	Seq      uint64
	EventID  uuid.UUID
	Detail   string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s writer=%s seq=%d event=%s: %s", p.Kind, p.WriterID, p.Seq, p.EventID, p.Detail)
}

// Head is the last event of a writer's chain as seen by the verifier.
type Head struct {
	WriterID          uuid.UUID
	FirstSeq, LastSeq uint64
	Hash              string
}

// Verifier checks events fed in (writer_id, seq) order against their hash
// chain. It needs O(1) memory, so it can stream a whole table.
type Verifier struct {
	// AllowHeadGap accepts chains that start after seq 1 (old partitions
	// dropped by retention).
	AllowHeadGap bool

	Events         int // events checked (duplicate rows of one event counted once)
	Writers        int
	ContentExpired int // content columns empty though content_level kept some (TTL)
	Problems       []Problem
	Heads          []Head // one per writer: compare with anchored heads (Writer.ChainHead)

	cur      uuid.UUID
	started  bool
	lastSeq  uint64
	lastHash string
	lastID   uuid.UUID
	scratch  []byte
}

// Add checks the next event.
func (v *Verifier) Add(e *Event) {
	if !v.started || e.WriterID != v.cur {
		v.started = true
		v.cur = e.WriterID
		v.Writers++
		v.Heads = append(v.Heads, Head{WriterID: e.WriterID, FirstSeq: e.Seq})
		v.lastSeq, v.lastHash, v.lastID = 0, "", uuid.Nil
		if e.Seq != 1 && !v.AllowHeadGap {
			v.report(ProblemHeadMissing, e, fmt.Sprintf("chain starts at seq %d", e.Seq))
		}
	} else if e.Seq == v.lastSeq {
		if e.ID == v.lastID && e.Hash == v.lastHash {
			return // the same event stored twice (replay before merge)
		}
		v.report(ProblemDuplicate, e, fmt.Sprintf("seq also used by event %s", v.lastID))
	} else if e.Seq != v.lastSeq+1 {
		v.report(ProblemMissing, e, fmt.Sprintf("seq %d..%d missing", v.lastSeq+1, e.Seq-1))
	} else if e.PrevHash != v.lastHash {
		v.report(ProblemBrokenLink, e, "prev_hash does not match the previous event")
	}
	v.Events++

	var h string
	h, v.scratch = ComputeHash(e, v.scratch)
	if h != e.Hash && e.v1Shaped() {
		h, v.scratch = computeHashV1(e, v.scratch) // written before the streaming measures
	}
	if h != e.Hash {
		v.report(ProblemEdited, e, "hash mismatch")
	}
	if len(e.Prompt) == 0 && e.Completion == "" && len(e.ToolCalls) == 0 {
		if e.ContentLevel != "" && e.ContentLevel != ContentNone {
			var empty string
			empty, v.scratch = ComputeContentHash(e, v.scratch)
			if empty != e.ContentHash {
				v.ContentExpired++
			}
		}
	} else {
		var ch string
		ch, v.scratch = ComputeContentHash(e, v.scratch)
		if ch != e.ContentHash {
			v.report(ProblemContentEdited, e, "content does not match content_hash")
		}
	}
	v.lastSeq, v.lastHash, v.lastID = e.Seq, e.Hash, e.ID
	head := &v.Heads[len(v.Heads)-1]
	head.LastSeq, head.Hash = e.Seq, e.Hash
}

func (v *Verifier) report(kind string, e *Event, detail string) {
	v.Problems = append(v.Problems, Problem{Kind: kind, WriterID: e.WriterID, Seq: e.Seq, EventID: e.ID, Detail: detail})
}

// OK reports whether no problem was found.
func (v *Verifier) OK() bool { return len(v.Problems) == 0 }
