package record

import (
	"encoding/binary"
	"fmt"
)

// ControlType is the type of a control record: which transaction marker it is.
type ControlType int16

// The control record types Kafka defines.
const (
	// ControlAbort marks the end of an aborted transaction.
	ControlAbort ControlType = 0
	// ControlCommit marks the end of a committed transaction.
	ControlCommit ControlType = 1
)

// ControlKey is the key of a control record: a version and a type, both int16.
type ControlKey struct {
	Version int16       // key schema version; 0 today
	Type    ControlType // abort or commit
}

// ParseControlKey reads the key of the record in a control batch. It returns an error
// wrapping [ErrCorrupt] when key is shorter than 4 bytes, and accepts (ignoring trailing
// bytes) any version, as later versions only append fields.
func ParseControlKey(key []byte) (ControlKey, error) {
	if len(key) < 4 {
		return ControlKey{}, fmt.Errorf("%w: control key of %d bytes", ErrCorrupt, len(key))
	}
	return ControlKey{
		Version: int16(binary.BigEndian.Uint16(key)),
		Type:    ControlType(binary.BigEndian.Uint16(key[2:])),
	}, nil
}
