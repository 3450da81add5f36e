package actor_test

import (
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// supervised is the Options a supervisor spawns a child with: the zero Options with s
// attached through the library's door (internal/actorhook).
func supervised(s actorhook.Supervision) actor.Options {
	return actorhook.Supervise(actor.Options{}, s).(actor.Options)
}
