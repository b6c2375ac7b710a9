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
	key8 uint64 // keys of up to 8 bytes, packed: compared without the arena
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
		t.slots[i] = rankSlot{key8: pack8(k), off: uint32(len(arena)), n: uint16(len(k)), tag: uint16(h >> 48), rank: int32(r)}
		arena = append(arena, k...)
	}
	t.arena = string(arena)
	return t
}

// get returns the rank of s, or noRank.
func (t *rankTable) get(s string) int32 {
	if len(s) <= 8 {
		// Most look-ups: one slot read, no arena access.
		v := pack8(s)
		h := mix(uint64(len(s))*m1^v, m1)
		for i := h & t.mask; ; i = (i + 1) & t.mask {
			sl := &t.slots[i]
			if sl.n == 0 {
				return noRank
			}
			if sl.key8 == v && int(sl.n) == len(s) {
				return sl.rank
			}
		}
	}
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
// For keys of up to 8 bytes it equals mix(len*m1 ^ pack8(s), m1), the
// fast path in get.
func hashString(s string) uint64 {
	h := uint64(len(s)) * m1
	for len(s) > 8 {
		h = mix(h^pack8(s[:8]), m2)
		s = s[8:]
	}
	return mix(h^pack8(s), m1)
}

const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9

func mix(x, m uint64) uint64 {
	hi, lo := bits.Mul64(x, m)
	return hi ^ lo
}

// pack8 packs up to 8 bytes little-endian.
func pack8(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	return v
}
