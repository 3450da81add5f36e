package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

func Example() {
	restarted := make(chan struct{}, 1)
	sup := supervisor.New(supervisor.Config{
		Name:    "app",
		Backoff: supervisor.Backoff{Min: time.Millisecond},
		OnEvent: func(e supervisor.Event) {
			switch e := e.(type) {
			case supervisor.Exited:
				fmt.Println(e.Child, "exited:", e.Err)
			case supervisor.Restarted:
				fmt.Println(e.Child, "restarted, attempt", e.Attempt)
				restarted <- struct{}{}
			}
		},
	})
	// A child that fails on a negative number. Its Ref survives the restart.
	ref, _ := supervisor.Add(sup, supervisor.ChildSpec[int]{
		Name: "checker",
		New: func() actor.Actor[int] {
			return actor.Receive(func(ctx context.Context, n int) error {
				if n < 0 {
					return errors.New("negative input")
				}
				return nil
			})
		},
	})
	proc := sup.Start(context.Background())
	_ = ref.Send(context.Background(), -1)
	<-restarted
	_ = ref.Send(context.Background(), 1) // handled by the new incarnation

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println("stopped:", proc.Stop(ctx))
	// Output:
	// checker exited: negative input
	// checker restarted, attempt 1
	// stopped: <nil>
}

func ExampleSupervisor_AddSupervisor() {
	root := supervisor.New(supervisor.Config{Name: "root"})
	workers := supervisor.New(supervisor.Config{Name: "workers", Strategy: supervisor.OneForAll})
	for _, name := range []string{"fetch", "parse"} {
		_, _ = supervisor.Add(workers, supervisor.ChildSpec[string]{
			Name: name,
			New: func() actor.Actor[string] {
				return actor.Receive(func(ctx context.Context, s string) error { return nil })
			},
		})
	}
	_ = root.AddSupervisor(workers) // a supervisor is a child like any other
	proc := root.Start(context.Background())
	defer proc.Stop(context.Background())

	for _, c := range root.Children() {
		fmt.Println(c.Name, c.Kind)
		for _, g := range c.Children {
			fmt.Println(" ", g.Name)
		}
	}
	// Output:
	// workers supervisor
	//   fetch
	//   parse
}

func ExampleSupervisor_Remove() {
	sup := supervisor.New(supervisor.Config{Name: "app"})
	handled := make(chan string, 1)
	ref, _ := supervisor.Add(sup, supervisor.ChildSpec[string]{
		Name: "greeter",
		New: func() actor.Actor[string] {
			return actor.Receive(func(ctx context.Context, s string) error {
				handled <- "hello, " + s
				return nil
			})
		},
	})
	proc := sup.Start(context.Background())
	_ = ref.Send(context.Background(), "world")

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A drain stop of the child: what it accepted is handled before it goes.
	fmt.Println("remove:", sup.Remove(ctx, "greeter"))
	fmt.Println(<-handled)
	fmt.Println("send after:", errors.Is(ref.Send(ctx, "again"), actor.ErrStopped))
	fmt.Println(len(sup.Children()), "children;", "stop:", proc.Stop(ctx))
	// Output:
	// remove: <nil>
	// hello, world
	// send after: true
	// 0 children; stop: <nil>
}

// Shared gives many users one child per key: here two partitions led by the same broker
// share its sender, which stops when the last of them leaves.
func ExampleShared() {
	sup := supervisor.New(supervisor.Config{Name: "brokers"})
	proc := sup.Start(context.Background())
	senders := supervisor.NewShared(sup, func(broker int, name string) supervisor.ChildSpec[string] {
		return supervisor.ChildSpec[string]{
			New: func() actor.Actor[string] {
				return actor.Receive(func(ctx context.Context, s string) error { return nil })
			},
		}
	})
	p0, _ := senders.Acquire(1) // partition 0's leader is broker 1: its sender starts
	p1, _ := senders.Acquire(1) // so is partition 1's: the same sender
	fmt.Println(p0.Name(), p0 == p1, senders.Counts())
	_ = p1.Ref().Send(context.Background(), "batch")

	senders.Release(p0)
	senders.Release(p1) // the last user left: the sender drains and stops
	fmt.Println(senders.Counts())
	again, _ := senders.Acquire(1) // a fresh sender, under a new name
	fmt.Println(again.Name())
	senders.Release(again)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println("stopped:", proc.Stop(ctx))
	// Output:
	// 1 #1 true map[1:2]
	// map[]
	// 1 #2
	// stopped: <nil>
}
