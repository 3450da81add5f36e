package cluster

// partKeys numbers the (topic, partition) pairs of one call for its maps: a partition's
// key is its topic's number and its index in one uint64, and a topic's name is hashed
// once per run of its partitions, not once per lookup. Keyed by name and partition, the
// maps of a commit of a thousand partitions of one topic spent most of CommitOffsets' CPU
// hashing the same name again (BenchmarkCommitOffsets).
type partKeys struct {
	ids    map[string]uint64
	last   string
	lastID uint64
	has    bool
}

// key is the key of topic's partition, numbering topic if it is new.
func (k *partKeys) key(topic string, partition int32) uint64 {
	if key, ok := k.find(topic, partition); ok {
		return key
	}
	if k.ids == nil {
		k.ids = make(map[string]uint64)
	}
	id := uint64(len(k.ids))
	k.ids[topic] = id
	k.last, k.lastID, k.has = topic, id, true
	return id<<32 | uint64(uint32(partition))
}

// find is key for a topic already numbered; ok is false for one that is not (a response
// naming a topic the call did not ask about).
func (k *partKeys) find(topic string, partition int32) (key uint64, ok bool) {
	if !k.has || topic != k.last {
		id, found := k.ids[topic]
		if !found {
			return 0, false
		}
		k.last, k.lastID, k.has = topic, id, true
	}
	return k.lastID<<32 | uint64(uint32(partition)), true
}
