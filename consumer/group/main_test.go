package group

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// When a go-resiliency breaker opens it starts a goroutine that sleeps for the
		// breaker's timeout and then half-opens it; the sleep cannot be cancelled. It
		// holds nothing and ends by itself, so it may outlive a test.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
	)
}
