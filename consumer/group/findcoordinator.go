package group

import (
	"fmt"
	"net"
	"strconv"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The member actor's own coordinator lookup: one FindCoordinator as a Call whose answer
// comes back to the actor's mailbox, so the actor never blocks on it (the cluster
// client's GroupCoordinator waits, retrying, for its answer, which is right for the
// commits and offset fetches made on callers' goroutines, and wrong for the loop that
// heartbeats). The member's state machine decides when to ask again.

// findCoordinatorCall returns the Call that asks any broker for group's coordinator.
func findCoordinatorCall(group string) *broker.Call {
	req := &api.FindCoordinatorRequest{}
	req.Default()
	return &broker.Call{
		Request: req,
		// Version 4 batched the keys: fill in whichever field the version sent has.
		Prepare: func(v int16) error {
			req.Key, req.CoordinatorKeys = "", nil
			if v >= 4 {
				req.CoordinatorKeys = []string{group}
			} else {
				req.Key = group
			}
			return nil
		},
	}
}

// coordinatorOf reads the answer to findCoordinatorCall.
func coordinatorOf(call *broker.Call, group string) (broker.Node, error) {
	if call.Err != nil {
		return broker.Node{}, call.Err
	}
	resp, ok := call.Response.(*api.FindCoordinatorResponse)
	if !ok {
		return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w: unexpected response", group, broker.ErrProtocol)
	}
	code, id, host, port := resp.ErrorCode, resp.NodeID, resp.Host, resp.Port
	if call.Version >= 4 {
		if len(resp.Coordinators) != 1 || resp.Coordinators[0].Key != group {
			return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w: no answer for the group", group, broker.ErrProtocol)
		}
		c := resp.Coordinators[0]
		code, id, host, port = c.ErrorCode, c.NodeID, c.Host, c.Port
	}
	if err := errcode.ForCode(code); err != nil {
		return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w", group, err)
	}
	return broker.Node{ID: id, Addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}
