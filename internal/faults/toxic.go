package faults

import (
	"fmt"
	"time"
)

// Kind is a kind of network fault.
type Kind uint8

const (
	// Reset cuts a connection: data flowing in the toxic's direction is swallowed, and
	// Delay after the first of it the connection is closed abruptly (a TCP reset), so what
	// was in flight that way is lost (what toxiproxy calls reset_peer).
	Reset Kind = iota + 1
	// Timeout stalls a connection: all data in the toxic's direction is held, never
	// delivered, and the connection is closed Delay after the first of it. A
	// connection that lost data this way is closed when the toxic is healed, if it was not
	// before: its byte stream has a hole, and Kafka's framing cannot recover from one.
	Timeout
	// Latency delays data in the toxic's direction: each write the client makes, and each
	// read that returns data to it, waits Delay first.
	Latency
	// Down takes the broker off the network: its connections are closed and new ones
	// refused until healed. Dir and Delay do not apply.
	Down
)

func (k Kind) String() string {
	switch k {
	case Reset:
		return "reset"
	case Timeout:
		return "timeout"
	case Latency:
		return "latency"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Direction says which way the data a toxic affects flows.
type Direction uint8

const (
	// Upstream is from the client to the broker: requests.
	Upstream Direction = iota
	// Downstream is from the broker to the client: responses. A fault here lets the
	// broker act on a request whose answer the client never sees.
	Downstream
)

func (d Direction) String() string {
	if d == Downstream {
		return "downstream"
	}
	return "upstream"
}

// Toxic is one network fault on the path to one broker. It applies to the connections
// that exist when it is injected and to every new one, until it is healed.
type Toxic struct {
	Kind  Kind
	Dir   Direction
	Delay time.Duration
}

func (t Toxic) String() string {
	if t.Kind == Down {
		return "down"
	}
	return fmt.Sprintf("%v %v %v", t.Kind, t.Dir, t.Delay)
}

// Injector applies network faults to the brokers of a cluster, which it numbers 0..n-1
// in the order the cluster created their listeners (kfake's node IDs).
type Injector interface {
	// Inject adds t to broker node's path.
	Inject(node int, t Toxic) error
	// Heal removes every fault from broker node's path and brings it up.
	Heal(node int) error
}
