package group

// TopicPartitions names some partitions of one topic.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// Subscription is what one member of a classic group tells the group's leader when it
// joins: Kafka's ConsumerProtocolSubscription (versions 0 to 3), decoded.
type Subscription struct {
	// MemberID is the member's ID, given by the coordinator.
	MemberID string
	// InstanceID is the member's static group.instance.id (KIP-345), or "".
	InstanceID string
	// Topics are the topics the member subscribes to.
	Topics []string
	// UserData is the member's assignor's own data (the sticky assignors' previous
	// assignment, for example), or nil.
	UserData []byte
	// Owned are the partitions the member owns now (version 1 and later).
	Owned []TopicPartitions
	// Generation is the generation in which the member last owned Owned (version 2 and
	// later), or -1 when unknown.
	Generation int32
	// Rack is the member's rack (version 3 and later), or "".
	Rack string
}

// Assignment is what the group's leader tells one member it now owns: Kafka's
// ConsumerProtocolAssignment, decoded.
type Assignment struct {
	Partitions []TopicPartitions
	// UserData is the assignor's own data for the member, or nil.
	UserData []byte
}

// An Assignor decides which member of a classic group reads which partitions. The member
// the coordinator elects leader runs it over every member's Subscription; the others only
// send their subscriptions and receive their assignments.
//
// Assign must be deterministic and must not block: it runs inside the leader's rebalance,
// which the coordinator bounds by the rebalance timeout.
//
// The package provides Kafka's four: [Range], [RoundRobin], [Sticky] and
// [CooperativeSticky], each interoperable with the Java client's assignor of the same
// name (a group may mix members of any client that offer the name). A user may supply
// their own, under a name of its own.
type Assignor interface {
	// Name is the protocol name sent in JoinGroup ("range", "roundrobin",
	// "cooperative-sticky"); every member of a group must offer the name the group uses.
	Name() string
	// Cooperative reports whether the assignor follows the incremental cooperative
	// protocol (KIP-429): a member keeps the partitions it still owns across a rebalance,
	// and a partition moves between members only after its owner has revoked it.
	Cooperative() bool
	// UserData is the assignor's data this member sends in its subscription, given what
	// it owns now and the generation in which it owned it; nil for assignors without any.
	UserData(owned []TopicPartitions, generation int32) []byte
	// Assign gives each member (by member ID) its partitions. partitions holds the
	// partition count of every topic some member subscribes to and the cluster knows.
	// Every member in members gets an entry, even an empty one.
	Assign(members []Subscription, partitions map[string]int32) (map[string]Assignment, error)
}
