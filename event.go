package troupe

import "fmt"

// Event is the one shape of what the library reports as it happens: a partition
// subscribed or reset, an actor restarted, a breaker opened. Each package has its own
// concrete event types (switch on them); every one of them, the supervisor's included,
// is an Event, and every OnEvent hook of a Kafka component (consumer.Config.OnEvent, and
// the configs it owns) receives them as Events, passed on as they are, never wrapped.
type Event interface {
	// String describes the event in one line, as it is logged.
	fmt.Stringer
	// Source names where it happened: the actor as its owner's Actors() lists it (a
	// supervisor's child, or the supervisor itself for an event about it), or the
	// partition ("topic[partition]") or reader an event of the consumer is about.
	Source() string
}
