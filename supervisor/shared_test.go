package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// sharedLife reports the starts and exits of shared children by name.
type sharedLife struct {
	starts, exits chan string
	hold          chan struct{} // a draining child waits for it to close before it exits
}

func newSharedLife() *sharedLife {
	return &sharedLife{starts: make(chan string, 100), exits: make(chan string, 100), hold: make(chan struct{})}
}

// sharedWorker is a shared child: it reports its start, handles nothing, and on a drain
// stop waits for hold before it exits.
type sharedWorker struct {
	name string
	life *sharedLife
}

func (w *sharedWorker) Run(ctx context.Context, in *actor.Inbox[int]) error {
	w.life.starts <- w.name
	defer func() { w.life.exits <- w.name }()
	var batch []int
	for {
		var closed bool
		var err error
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		if closed {
			<-w.life.hold
			return nil
		}
	}
}

func newShared(sup *supervisor.Supervisor, life *sharedLife) *supervisor.Shared[string, int] {
	return supervisor.NewShared(sup, func(key, name string) supervisor.ChildSpec[int] {
		return supervisor.ChildSpec[int]{
			Kind: "shared",
			New:  func() actor.Actor[int] { return &sharedWorker{name: name, life: life} },
		}
	})
}

// next returns what ch reports next, failing if nothing comes within a minute (of
// synctest's clock).
func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(time.Minute):
		t.Fatal("nothing reported within a minute")
		return ""
	}
}

// none fails if ch has something to report once every goroutine is idle.
func none(t *testing.T, ch <-chan string, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case s := <-ch:
		t.Fatalf("%s: %s", what, s)
	default:
	}
}

func stopSup(t *testing.T, proc *actor.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := proc.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestSharedLastReleaseStopsChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		life := newSharedLife()
		close(life.hold)
		sup := supervisor.New(supervisor.Config{Name: "brokers"})
		proc := sup.Start(context.Background())
		defer stopSup(t, proc)
		s := newShared(sup, life)

		a, err := s.Acquire("a")
		if err != nil {
			t.Fatal(err)
		}
		a2, err := s.Acquire("a")
		if err != nil {
			t.Fatal(err)
		}
		if a != a2 {
			t.Fatalf("two acquires of one key gave two children: %q and %q", a.Name(), a2.Name())
		}
		if got := next(t, life.starts); got != a.Name() {
			t.Fatalf("started %q, want %q", got, a.Name())
		}
		none(t, life.starts, "a second child started for one key")
		if got := s.Counts()["a"]; got != 2 {
			t.Fatalf("references on a: %d, want 2", got)
		}

		s.Release(a)
		none(t, life.exits, "the child stopped while a reference remained")
		if err := a.Ref().Send(context.Background(), 1); err != nil {
			t.Fatalf("send with a reference left: %v", err)
		}

		s.Release(a2)
		if got := next(t, life.exits); got != a.Name() {
			t.Fatalf("exited %q, want %q", got, a.Name())
		}
		if n := len(s.Counts()); n != 0 {
			t.Fatalf("keys in use after the last release: %v", s.Counts())
		}
		synctest.Wait()
		if kids := sup.Children(); len(kids) != 0 {
			t.Fatalf("the supervisor still has %d children after the last release", len(kids))
		}
		if err := a.Ref().Send(context.Background(), 1); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("send to a released child: %v, want actor.ErrStopped", err)
		}
	})
}

func TestSharedAcquireAfterReleaseStartsFreshChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		life := newSharedLife() // hold stays open: a released child keeps draining
		sup := supervisor.New(supervisor.Config{Name: "brokers"})
		proc := sup.Start(context.Background())
		defer stopSup(t, proc)
		defer close(life.hold)
		s := newShared(sup, life)

		old, err := s.Acquire("a")
		if err != nil {
			t.Fatal(err)
		}
		next(t, life.starts)
		s.Release(old)
		none(t, life.exits, "the released child exited before its drain ended")

		fresh, err := s.Acquire("a")
		if err != nil {
			t.Fatalf("acquire while the old child drains: %v", err)
		}
		if fresh == old || fresh.Name() == old.Name() {
			t.Fatalf("the fresh child is the old one (%q)", old.Name())
		}
		if got := next(t, life.starts); got != fresh.Name() {
			t.Fatalf("started %q, want %q", got, fresh.Name())
		}
		if err := fresh.Ref().Send(context.Background(), 1); err != nil {
			t.Fatalf("send to the fresh child: %v", err)
		}
		s.Release(fresh)
	})
}

func TestSharedConcurrentAcquireRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		life := newSharedLife()
		close(life.hold)
		life.starts = make(chan string, 10000)
		life.exits = make(chan string, 10000)
		sup := supervisor.New(supervisor.Config{Name: "brokers"})
		proc := sup.Start(context.Background())
		defer stopSup(t, proc)
		s := newShared(sup, life)

		// Every user holds one reference on "base" throughout, so its child must start
		// once and stay; the others come and go.
		base, err := s.Acquire("base")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for u := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					key := fmt.Sprint("k", (u+i)%3)
					c, err := s.Acquire(key)
					if err != nil {
						errs <- err
						return
					}
					b, err := s.Acquire("base")
					if err != nil {
						errs <- err
						return
					}
					if b != base || c.Key() != key {
						errs <- fmt.Errorf("acquired %q for %q", c.Name(), key)
					}
					s.Release(b)
					s.Release(c)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := s.Counts(); len(got) != 1 || got["base"] != 1 {
			t.Fatalf("references after every user left: %v, want only base: 1", got)
		}
		s.Release(base)
		synctest.Wait()
		if kids := sup.Children(); len(kids) != 0 {
			t.Fatalf("children after the last release: %d", len(kids))
		}
		started, exited := map[string]int{}, map[string]int{}
		for len(life.starts) > 0 {
			started[<-life.starts]++
		}
		for len(life.exits) > 0 {
			exited[<-life.exits]++
		}
		for name, n := range started {
			if n != 1 || exited[name] != 1 {
				t.Errorf("%s started %d times, exited %d times", name, n, exited[name])
			}
		}
		if started[base.Name()] != 1 {
			t.Errorf("the held child %s started %d times", base.Name(), started[base.Name()])
		}
	})
}

func TestSharedAcquireOnStoppedSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		life := newSharedLife()
		close(life.hold)
		sup := supervisor.New(supervisor.Config{Name: "brokers"})
		proc := sup.Start(context.Background())
		s := newShared(sup, life)
		stopSup(t, proc)

		c, err := s.Acquire("a")
		if err == nil {
			t.Fatalf("acquire on a stopped supervisor gave %q", c.Name())
		}
		if !errors.Is(err, actor.ErrStopped) || !strings.Contains(err.Error(), "a #1") || !strings.Contains(err.Error(), `"brokers"`) {
			t.Fatalf("error %q: want actor.ErrStopped, naming the child and the supervisor", err)
		}
		if n := len(s.Counts()); n != 0 {
			t.Fatalf("a failed acquire counted a reference: %v", s.Counts())
		}
	})
}
