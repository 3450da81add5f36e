package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

func TestBudgetBlocksAndUnblocks(t *testing.T) {
	b := newBudget(2, 100)
	ctx := context.Background()
	g1, err := b.acquire(ctx, 40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	// Third record: over the record budget. It waits until one is released.
	got := make(chan error, 1)
	go func() {
		_, err := b.acquire(ctx, 10)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("acquire past the budget returned %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	b.release([]Pending{{size: 40, gen: g1}})
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("acquire did not unblock after a release")
	}
	if r, by := b.held(); r != 2 || by != 50 {
		t.Fatalf("held %d records, %d bytes", r, by)
	}
}

func TestBudgetBytesAndContext(t *testing.T) {
	b := newBudget(100, 100)
	if _, err := b.acquire(context.Background(), 90); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(ctx, 20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("over the byte budget: %v", err)
	}
	// Alone, a record bigger than what is left is let in once the budget is empty.
	b2 := newBudget(10, 100)
	if _, err := b2.acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetCloseWakesWaiters(t *testing.T) {
	b := newBudget(1, 100)
	if _, err := b.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.acquire(context.Background(), 1)
		got <- err
	}()
	b.close()
	select {
	case err := <-got:
		if !errors.Is(err, troupe.ErrClosed) {
			t.Fatalf("waiter woken with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not wake the waiter")
	}
}

func TestFlushGenerations(t *testing.T) {
	b := newBudget(100, 1000)
	ctx := context.Background()
	gA, _ := b.acquire(ctx, 1)
	gB, _ := b.acquire(ctx, 1)
	mark := b.mark()
	gC, _ := b.acquire(ctx, 1) // after the flush point: Flush must not wait for it
	if gA != mark || gB != mark || gC == mark {
		t.Fatalf("generations %d %d %d, mark %d", gA, gB, gC, mark)
	}
	done := make(chan error, 1)
	go func() { done <- b.waitFor(ctx, mark) }()
	b.release([]Pending{{size: 1, gen: gA}})
	select {
	case <-done:
		t.Fatal("flush returned with a record of its generation outstanding")
	case <-time.After(10 * time.Millisecond):
	}
	b.release([]Pending{{size: 1, gen: gB}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flush did not return after its generation drained")
	}
	// Nothing outstanding at all: returns at once.
	if err := newBudget(1, 1).waitFor(ctx, newBudget(1, 1).mark()); err != nil {
		t.Fatal(err)
	}
}
