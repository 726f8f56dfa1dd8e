package keylock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLockSerialisesOneKeyAndNotOthers(t *testing.T) {
	var l Locks
	unlock, err := l.Lock(t.Context(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is free.
	u2, err := l.Lock(t.Context(), "p2")
	if err != nil {
		t.Fatal(err)
	}
	u2()
	// The same key waits until unlocked, or until ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "p1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held key: %v, want DeadlineExceeded", err)
	}
	got := make(chan struct{})
	go func() {
		u, err := l.Lock(t.Context(), "p1")
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second Lock did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	<-got
	if n := l.Len(); n != 0 {
		t.Fatalf("%d entries left, want 0", n)
	}
}

func TestLockCountsUnderContention(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := l.Lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
				return
			}
			n++ // data race unless Lock excludes
			u()
		}()
	}
	wg.Wait()
	if n != 50 || l.Len() != 0 {
		t.Fatalf("n=%d, entries=%d", n, l.Len())
	}
}
