package group

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/errcode"
)

// TestNoHeartbeatWakeupsWithoutACoordinator: while the coordinator is being looked up
// again, a heartbeat that is due must not wake the loop (it could not be sent, and an
// alarm set in the past rings at once: the loop would spin until the lookup answers).
func TestNoHeartbeatWakeupsWithoutACoordinator(t *testing.T) {
	cfg, err := testGroupConfig("g").withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	a := newMemberActor(&Member{cfg: cfg})
	scripts["stable"](a.mach)
	now := time.Now()
	a.aliveAt, a.hbDue = now, now.Add(-time.Second)
	a.haveCoord = true
	if got := a.next(); !got.Equal(a.hbDue) {
		t.Errorf("with a coordinator: wakes at %v, want the heartbeat's %v", got, a.hbDue)
	}
	a.haveCoord = false
	if got, want := a.next(), now.Add(cfg.SessionTimeout); !got.Equal(want) {
		t.Errorf("without a coordinator: wakes at %v, want the session's end %v", got, want)
	}
	// Giving its partitions up, it heartbeats still (the user may be slow to come back),
	// and no session deadline applies.
	a.mach.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	a.haveCoord = true
	if got := a.next(); !got.Equal(a.hbDue) {
		t.Errorf("revoking: wakes at %v, want the heartbeat's %v", got, a.hbDue)
	}
	a.hbFlight = true
	if got := a.next(); !got.IsZero() {
		t.Errorf("revoking, a heartbeat in flight: wakes at %v, want only when told", got)
	}
}

// TestOverdueNotWhileClosing: a closing member does not go away for a user past
// ProcessingTime (expire says no), so nothing may be due for it either: a deadline in
// the past that nothing acts on would wake the member actor again at once, for ever.
func TestOverdueNotWhileClosing(t *testing.T) {
	m := &Member{cfg: Config{ProcessingTime: time.Second}}
	m.inHand, m.inHandAt = true, time.Now().Add(-time.Hour)
	if m.overdue().IsZero() {
		t.Fatal("a batch in hand for an hour is not overdue")
	}
	m.closing = true
	if m.expire(time.Now()) {
		t.Fatal("a closing member went away")
	}
	if at := m.overdue(); !at.IsZero() {
		t.Fatalf("closing: overdue at %v, which nothing will act on", at)
	}
}

// TestNoHeartbeatWakeupsWhileFencedRevoking: a KIP-848 member whose session runs out
// (or which is fenced) while a revocation waits for its user sends no heartbeat until
// the revocation is done (then its partitions are lost), nor does one that is leaving
// before its revocation is done; a heartbeat timer past due must not wake its loop
// meanwhile. (It did: the loop woke at once, found nothing to send, and spun for as long
// as the user took, up to ProcessingTime; under synctest the bubble's clock froze and
// the group property suite's watchdog fired.)
func TestNoHeartbeatWakeupsWhileFencedRevoking(t *testing.T) {
	cfg, err := consumerConfig("g").withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"session expired", "fenced", "leaving"} {
		t.Run(how, func(t *testing.T) {
			a := newMemberActor848(&Member{cfg: cfg})
			a.mach = newTestReconciler("")
			joinWith848(t, a.mach, assignment848(topicA, []int32{0, 1}))
			mustNext848(t, a.mach)
			wantStep848(t, a.mach.answered(okResp848(2, assignment848(topicA, []int32{1}))), reconcileStep{Revoke: tps("a", 0)})
			now := time.Now()
			a.aliveAt, a.hbDue, a.haveCoord = now, now.Add(-time.Second), true
			if got := a.next(); !got.Equal(a.hbDue) {
				t.Fatalf("revoking: wakes at %v, want the heartbeat's %v (heartbeats go on while the user finishes)", got, a.hbDue)
			}
			switch how {
			case "session expired":
				a.mach.expired()
			case "fenced":
				mustNext848(t, a.mach)
				a.mach.answered(errResp848(errcode.FencedMemberEpoch))
			case "leaving":
				a.mach.leave()
			}
			if a.mach.next() != nil {
				t.Fatal("a heartbeat before the revocation is done")
			}
			if got := a.next(); !got.IsZero() && !got.After(now) {
				t.Errorf("wakes at %v, before now (%v), with no heartbeat to send: the loop would spin", got, now)
			}
		})
	}
}
