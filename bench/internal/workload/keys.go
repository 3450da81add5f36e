package workload

import (
	"math/rand/v2"
	"strconv"
)

// KeyBytes is the length of every key of a KeySet.
const KeyBytes = 16

// KeySet holds the keys of the scale mode's keyed records. The clients partition them
// themselves, with murmur2 as the Java client does (kgo's StickyKeyPartitioner(nil),
// troupe's HashPartitioner); the set is chosen so that this spreads records evenly: every
// partition owns the same number of keys, and the records cycle through all the keys in
// one shuffled order. Random keys would leave some partitions of 10000 with no record at
// all in a cycle of a few keys each.
//
// A KeySet is built once, before the client is set up, and is read-only afterwards.
type KeySet struct {
	partitions int
	perPart    int
	slab       []byte  // every key, KeyBytes each, grouped by partition
	cycle      []int32 // offsets into slab, in the order records use them
}

// minCycle is the least number of keys in a KeySet's cycle, so that records of a topic
// with few partitions still change keys.
const minCycle = 8192

// NewKeySet chooses keys for a topic of the given number of partitions: at least 8 per
// partition, and at least minCycle in all.
func NewKeySet(partitions int) *KeySet {
	perPart := max(8, (minCycle+partitions-1)/partitions)
	ks := &KeySet{partitions: partitions, perPart: perPart}
	ks.slab = make([]byte, partitions*perPart*KeyBytes)
	filled := make([]int, partitions)
	left := partitions * perPart
	key := make([]byte, 0, KeyBytes)
	for c := 0; left > 0; c++ {
		key = candidateKey(key[:0], c)
		p := int(Murmur2(key)&0x7fffffff) % partitions
		if filled[p] == perPart {
			continue
		}
		copy(ks.slab[(p*perPart+filled[p])*KeyBytes:], key)
		filled[p]++
		left--
	}
	ks.cycle = make([]int32, partitions*perPart)
	for i := range ks.cycle {
		ks.cycle[i] = int32(i * KeyBytes)
	}
	shuffle := rand.New(rand.NewPCG(1, 2)) // fixed: every process uses the same order
	shuffle.Shuffle(len(ks.cycle), func(a, b int) { ks.cycle[a], ks.cycle[b] = ks.cycle[b], ks.cycle[a] })
	return ks
}

// candidateKey appends the c-th candidate key, "key-" and c in 12 decimal digits.
func candidateKey(b []byte, c int) []byte {
	b = append(b, "key-000000000000"...)
	digits := strconv.AppendInt(nil, int64(c), 10)
	copy(b[KeyBytes-len(digits):], digits)
	return b
}

// Key returns the key of record i. Callers must not modify it: it is shared.
func (ks *KeySet) Key(i int) []byte {
	off := ks.cycle[i%len(ks.cycle)]
	return ks.slab[off : off+KeyBytes : off+KeyBytes]
}

// ForPartition returns a key that murmur2 puts in partition p.
func (ks *KeySet) ForPartition(p int) []byte {
	off := (p % ks.partitions) * ks.perPart * KeyBytes
	return ks.slab[off : off+KeyBytes : off+KeyBytes]
}

// Len is the number of distinct keys, the length of the cycle records go through.
func (ks *KeySet) Len() int { return len(ks.cycle) }

// Murmur2 is the 32-bit MurmurHash2 with the seed and the tail handling of the Java
// client's Utils.murmur2: the hash every client here partitions keyed records by.
func Murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(data))
	for len(data) >= 4 {
		k := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
