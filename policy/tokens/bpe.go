package tokens

import (
	"math"
	"sync"
)

// smallPiece is the longest piece merged with the simple quadratic loop on
// stack arrays; longer pieces (long whitespace or punctuation runs) use the
// heap-based merge so a 10 MB single piece stays O(n log n).
const smallPiece = 64

const noRank = math.MaxInt32

// countPiece returns the number of BPE tokens of piece. It applies the same
// rule as tiktoken: repeatedly merge the adjacent pair whose concatenation
// has the lowest rank (leftmost on ties) until no pair is in the vocabulary.
// Only the number of parts is kept, never the token ids.
func (e *Encoding) countPiece(piece string) int {
	if len(piece) == 1 {
		return 1
	}
	if e.ranks.get(piece) != noRank {
		return 1
	}
	if len(piece) <= smallPiece {
		return e.countSmall(piece)
	}
	return e.countLarge(piece)
}

func (e *Encoding) rank(s string) int32 { return e.ranks.get(s) }

// countSmall mirrors tiktoken's byte_pair_merge on fixed-size arrays:
// start[i] is the first byte of part i and rank[i] the rank of merging part
// i with part i+1.
func (e *Encoding) countSmall(piece string) int {
	var start, rank [smallPiece + 1]int32
	n := len(piece) + 1 // boundaries, parts = n-1
	for i := 0; i < n; i++ {
		start[i] = int32(i)
		rank[i] = noRank
	}
	for i := 0; i+2 < n; i++ {
		rank[i] = e.pairs[uint16(piece[i])<<8|uint16(piece[i+1])]
	}
	pairRank := func(i int) int32 {
		if i+3 < n {
			return e.rank(piece[start[i]:start[i+3]])
		}
		return noRank
	}
	for n > 2 {
		minRank, minIdx := int32(noRank), -1
		for i := 0; i < n-2; i++ {
			if rank[i] < minRank {
				minRank, minIdx = rank[i], i
			}
		}
		if minIdx < 0 {
			break
		}
		i := minIdx
		rank[i] = pairRank(i)
		if i > 0 {
			rank[i-1] = pairRank(i - 1)
		}
		copy(start[i+1:n-1], start[i+2:n])
		copy(rank[i+1:n-1], rank[i+2:n])
		n--
	}
	return n - 1
}

// largeScratch holds the per-byte arrays of a heap-based merge; pooled so a
// steady stream of long pieces does not allocate.
type largeScratch struct {
	next, prev, pos []int32
	heap            []uint64
}

var largePool = sync.Pool{New: func() any { return new(largeScratch) }}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// countLarge is the same merge with parts in a linked list (a part is named
// by its first byte) and candidate pairs in an indexed min-heap keyed by
// rank<<32 | position, which reproduces "lowest rank, leftmost first".
// Memory is 20 bytes per byte of piece, time O(n log n).
func (e *Encoding) countLarge(piece string) int {
	n := len(piece)
	if n >= math.MaxInt32 {
		return n // unreachable in practice: callers bound request sizes
	}
	sc := largePool.Get().(*largeScratch)
	defer largePool.Put(sc)
	next, prev, pos := grow(sc.next, n), grow(sc.prev, n), grow(sc.pos, n)
	h := heap64{h: sc.heap[:0], pos: pos}
	sc.next, sc.prev, sc.pos = next, prev, pos

	// pairRank of part p with its successor.
	pairRank := func(p int32) int32 {
		q := next[p]
		if q < 0 {
			return noRank
		}
		end := int32(n)
		if next[q] >= 0 {
			end = next[q]
		}
		return e.rank(piece[p:end])
	}
	for i := 0; i < n; i++ {
		next[i], prev[i], pos[i] = int32(i+1), int32(i-1), -1
	}
	next[n-1] = -1
	for i := 0; i+1 < n; i++ {
		if r := e.pairs[uint16(piece[i])<<8|uint16(piece[i+1])]; r != noRank {
			pos[i] = int32(len(h.h))
			h.h = append(h.h, uint64(r)<<32|uint64(i))
		}
	}
	for k := len(h.h)/2 - 1; k >= 0; k-- {
		h.down(k)
	}
	parts := n
	for len(h.h) > 0 {
		p := int32(uint32(h.h[0]))
		q := next[p]
		next[p] = next[q] // merge q into p
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		h.set(q, noRank)
		parts--
		h.set(p, pairRank(p))
		if pp := prev[p]; pp >= 0 {
			h.set(pp, pairRank(pp))
		}
	}
	sc.heap = h.h
	return parts
}

// heap64 is an indexed binary min-heap of rank<<32|part entries; pos maps a
// part to its index in h, or -1.
type heap64 struct {
	h   []uint64
	pos []int32
}

// up and down move a hole rather than swapping, halving the writes.
func (h *heap64) up(k int) {
	x := h.h[k]
	for k > 0 {
		p := (k - 1) / 2
		if x >= h.h[p] {
			break
		}
		h.h[k] = h.h[p]
		h.pos[uint32(h.h[k])] = int32(k)
		k = p
	}
	h.h[k] = x
	h.pos[uint32(x)] = int32(k)
}

func (h *heap64) down(k int) {
	x := h.h[k]
	n := len(h.h)
	for {
		l := 2*k + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.h[r] < h.h[l] {
			m = r
		}
		if h.h[m] >= x {
			break
		}
		h.h[k] = h.h[m]
		h.pos[uint32(h.h[k])] = int32(k)
		k = m
	}
	h.h[k] = x
	h.pos[uint32(x)] = int32(k)
}

// set gives part p a new pair rank; noRank removes it from the heap.
func (h *heap64) set(p int32, r int32) {
	k := int(h.pos[p])
	key := uint64(r)<<32 | uint64(p)
	switch {
	case k < 0 && r != noRank:
		h.pos[p] = int32(len(h.h))
		h.h = append(h.h, key)
		h.up(len(h.h) - 1)
	case k >= 0 && r == noRank:
		last := len(h.h) - 1
		h.pos[p] = -1
		if k != last {
			h.h[k] = h.h[last]
			h.pos[uint32(h.h[k])] = int32(k)
		}
		h.h = h.h[:last]
		if k < last {
			h.down(k)
			h.up(k)
		}
	case k >= 0:
		old := h.h[k]
		h.h[k] = key
		if key < old {
			h.up(k)
		} else {
			h.down(k)
		}
	}
}
