package group

// A KIP-848 member whose user overran the processing time goes away from its group and
// comes back: the reconciler's side of Config.ProcessingTime (the driver notices the
// overrun, Member.pollOverrun; the classic member's is membership.pollExpired).

// pollExpired: the member's user has not come back from the batches in hand for the
// processing time (Java's max.poll.interval.ms). The member leaves the group so that the
// others can take its partitions: they are lost (dropped without a commit: another
// member may own them soon), and once the driver has dropped them (lost) the next
// heartbeat is a leave, epoch -1, or -2 for a
// static member (the coordinator then keeps the static member's partitions for it for
// its session timeout), as Java's consumer does. A heartbeat in flight is forgotten.
// The member then sends nothing until back. Only a stable member goes away: a
// revocation waits for the user itself (the driver's bound), and a member joining owns
// nothing.
func (r *reconciler) pollExpired() reconcileStep {
	if r.state != reconcileStable || r.leaving || !r.joined {
		return reconcileStep{}
	}
	lost := r.named(r.owned) // owned until the driver has dropped them (lost)
	r.acked, r.target, r.revoking = nil, nil, nil
	r.inflight, r.sentOwned, r.full = nil, nil, true
	r.state, r.joined, r.awayLeave, r.awayBack, r.awayDrop = reconcileAway, false, true, false, len(lost) > 0
	return reconcileStep{Lost: lost}
}

// back: the user came back after pollExpired. The member joins again, epoch 0 with the
// same member ID, once its leave heartbeat has gone and been answered (or failed).
func (r *reconciler) back() reconcileStep {
	if r.state != reconcileAway || r.leaving {
		return reconcileStep{}
	}
	if r.inflight != nil || r.awayLeave {
		r.awayBack = true
		return reconcileStep{}
	}
	r.rejoin()
	return reconcileStep{}
}

// awayLeft: the leave heartbeat of a member away was answered or failed (best effort:
// the session timeout removes a member that could not say).
func (r *reconciler) awayLeft() reconcileStep {
	switch {
	case r.leaving:
		r.state = reconcileLeft
		return reconcileStep{Left: true}
	case r.awayBack:
		r.awayBack = false
		r.rejoin()
	}
	return reconcileStep{}
}
