package group

import (
	"fmt"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
)

// ProcessingTimeExceeded is the event of a member that left its group on its own because
// its user held the batches of a Poll for longer than Config.ProcessingTime without
// polling again (Java's max.poll.interval.ms). Lost are the partitions it owned: lost,
// nothing of theirs committed. The member sends nothing more until the user's next Poll,
// which rejoins. It goes to the consumer's OnEvent hook (consumer.Config.OnEvent), as a
// troupe.Event, on the member's goroutine, and is logged as a warning.
type ProcessingTimeExceeded struct {
	Group          string
	MemberID       string
	Protocol       Protocol
	Static         bool // an InstanceID: no LeaveGroup (Classic), or leave epoch -2 (Consumer)
	ProcessingTime time.Duration
	Lost           []consumer.About
}

// String says what happened, in one line.
func (e ProcessingTimeExceeded) String() string {
	return fmt.Sprintf("group %q: member %s left the group: its user did not poll within ProcessingTime %v; %d partitions lost (the next Poll rejoins)",
		e.Group, e.MemberID, e.ProcessingTime, len(e.Lost))
}

// Source names the member actor, as Member.Actors lists it.
func (e ProcessingTimeExceeded) Source() string { return "member " + e.Group }

var _ troupe.Event = ProcessingTimeExceeded{}
