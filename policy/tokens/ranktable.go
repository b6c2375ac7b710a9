package tokens

import "math/bits"

// rankTable is a read-only open-addressing hash table from token bytes to
// BPE rank, built once from tiktoken-go's rank map. It exists because the
// merge loop is dominated by rank look-ups: a flat table with a cheap hash
// over one string arena is about twice as fast as a Go map here. The
// vocabulary is fixed, so probe lengths are fixed too; input cannot make
// look-ups slower than the longest cluster.
type rankTable struct {
	arena string
	slots []rankSlot
	mask  uint64
}

type rankSlot struct {
	off  uint32
	n    uint16 // 0 = empty (no token is empty)
	tag  uint16
	rank int32
}

func newRankTable(ranks map[string]int) *rankTable {
	size := 1
	for size < 2*len(ranks) {
		size <<= 1
	}
	t := &rankTable{slots: make([]rankSlot, size), mask: uint64(size - 1)}
	total := 0
	for k := range ranks {
		total += len(k)
	}
	arena := make([]byte, 0, total)
	for k, r := range ranks {
		if len(k) == 0 || len(k) > 0xffff {
			continue
		}
		h := hashString(k)
		i := h & t.mask
		for t.slots[i].n != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = rankSlot{off: uint32(len(arena)), n: uint16(len(k)), tag: uint16(h >> 48), rank: int32(r)}
		arena = append(arena, k...)
	}
	t.arena = string(arena)
	return t
}

// get returns the rank of s, or noRank.
func (t *rankTable) get(s string) int32 {
	h := hashString(s)
	tag := uint16(h >> 48)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		if sl.n == 0 {
			return noRank
		}
		if sl.tag == tag && int(sl.n) == len(s) && t.arena[sl.off:sl.off+uint32(sl.n)] == s {
			return sl.rank
		}
	}
}

// hashString is a small multiply-mix hash over 8-byte words; not
// cryptographic, and it need not be: the table's keys are fixed.
func hashString(s string) uint64 {
	const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := uint64(len(s)) * m1
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		hi, lo := bits.Mul64(h^v, m2)
		h = hi ^ lo
		s = s[8:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	hi, lo := bits.Mul64(h^v, m1)
	return hi ^ lo
}
