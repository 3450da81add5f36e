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

// supervised is the options a supervisor spawns a child with: s, as the library's door
// (internal/actorhook) passes it.
func supervised(s actorhook.Supervision) actor.SpawnOptions {
	return actor.SpawnOptions{Supervision: s}
}
