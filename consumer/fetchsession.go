package consumer

import (
	"errors"
	"math"

	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// fetchSession is the client's side of a KIP-227 incremental fetch session with one
// broker: a plain deterministic struct (no goroutines, no clock, no I/O) that a broker
// consumer asks, before each fetch, which partitions the request must name, and tells
// how the fetch ended.
//
// A session is the broker's memory of the partitions a client fetches and the fetch
// position, leader epoch and byte limit of each. The first request of a session is a
// full fetch (session ID 0, epoch 0) naming every partition; if the broker answers with a
// session ID, each later request (the same ID, the next epoch) names only the partitions
// added or changed since the request before, and lists in ForgottenTopicsData those the
// client no longer wants. The broker fetches every partition of the session, named or not,
// and answers only for those with something new.
//
// What the session holds, and so what the broker fetches, is exactly the set of
// partitions the client wants in its latest request: a partition the client does not want
// fetched now (its feeder is full, it was paused or handed back) is forgotten, and added
// again when wanted. Keeping it in the session instead would have the broker go on
// fetching it from the position last named, and answering with records the client has
// already taken or has no room for; KIP-227 gives the client no way to keep a partition
// in a session without fetching it, so forgetting it is the one exact choice (it is also
// what Kafka's own consumer does with paused partitions).
//
// Anything that leaves the broker's view uncertain starts a new session with a full
// fetch: a request that failed (the connection, a timeout), a top-level error in the
// response (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH, ...), an answer
// under another session ID, a topic recreated under a new ID. A broker that answers a
// full fetch with session ID 0 refused a session (its cache is full, or it does not do
// them): every request stays a full fetch, each asking for a session again, as the
// protocol says. A broker consumer's incarnation owns one fetchSession, so a restart
// starts a new session.
type fetchSession struct {
	id    int32 // the broker's session ID, 0 when there is none
	epoch int32 // the epoch of the next request: 0 for a full fetch asking for a session
	// view is the broker's view of the session as of the last answered request: the
	// partitions it fetches, with what the client named for each.
	view map[fetchKey]sessionFields
	// next is what view becomes if the request in flight is answered; nil when no
	// request is in flight.
	next map[fetchKey]sessionFields
	// planned is the plan of the request in flight.
	planned fetchPlan
	// spare is a map no longer in use, for the next plan to fill: at thousands of
	// partitions, building a fresh one per fetch costs more than the fetch. It is kept
	// only while requests change the session: once one names nothing (an idle consumer),
	// it is dropped, as it would otherwise hold a second copy of the view for nothing.
	spare map[fetchKey]sessionFields
}

// The session epochs with a meaning of their own (KIP-227).
const (
	// epochInitial, with session ID 0, asks for a full fetch and a new session.
	epochInitial int32 = 0
	// epochFinal asks for a full fetch without a session; with a session ID, it also
	// closes that session.
	epochFinal int32 = -1
)

// sessionPart is what a request names for one partition: the fields a broker keeps in
// its session, and whose change the client must send.
type sessionPart struct {
	key fetchKey
	sessionFields
}

// sessionFields are a partition's fields in a session, as the session's maps hold them
// (under the partition's key: at thousands of partitions, a copy of the key in each
// value would cost a third more).
type sessionFields struct {
	topicID  codec.UUID
	offset   int64
	epoch    int32 // the current leader epoch
	maxBytes int32
}

// fetchPlan is what one fetch request carries for its session.
type fetchPlan struct {
	id, epoch int32
	// full says the request names every wanted partition and no forgotten ones.
	full bool
	// send are the indexes, in the wanted list, of the partitions to name.
	send []int
	// forget are the partitions to list in ForgottenTopicsData.
	forget []sessionPart
	// unchanged says the request names nothing and forgets nothing: the session's view
	// stays the very same map.
	unchanged bool
}

// nextEpoch is the epoch after e: epochs count up from 1 and wrap from the largest
// int32 back to 1 (0 and -1 have their own meanings).
func nextEpoch(e int32) int32 {
	if e < 0 || e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// plan says what the next request names, given the partitions wanted in it, in request
// order (each key at most once). sessions says whether the request can carry a session
// (the connection speaks Fetch v7 or later); when it cannot, the request is a full
// fetch without a session and the session is dropped. A plan must be followed by
// answered or failed before the next one.
func (f *fetchSession) plan(want []sessionPart, sessions bool) fetchPlan {
	if !sessions {
		f.reset()
		f.next = map[fetchKey]sessionFields{}
		f.planned = fetchPlan{id: 0, epoch: epochFinal, full: true, send: allIndexes(want)}
		return f.planned
	}
	if f.id != 0 && f.unchanged(want) {
		// The steady state of an idle or evenly busy consumer: nothing to name, nothing
		// to forget, and the view stays as it is (no map is built).
		f.next = f.view
		f.planned = fetchPlan{id: f.id, epoch: f.epoch, unchanged: true}
		return f.planned
	}
	next := f.spare
	f.spare = nil
	if next == nil {
		next = make(map[fetchKey]sessionFields, len(want))
	}
	clear(next)
	for _, w := range want {
		next[w.key] = w.sessionFields
	}
	if f.id == 0 {
		f.epoch = epochInitial
	} else {
		for _, w := range want {
			if v, ok := f.view[w.key]; ok && v.topicID != w.topicID {
				// A topic recreated: its partitions are new partitions under the same
				// names. Start over rather than forget and add the same name at once.
				f.reset()
				break
			}
		}
	}
	f.next = next
	if f.id == 0 {
		f.planned = fetchPlan{id: 0, epoch: epochInitial, full: true, send: allIndexes(want)}
		return f.planned
	}
	p := fetchPlan{id: f.id, epoch: f.epoch}
	for i, w := range want {
		if v, ok := f.view[w.key]; !ok || v != w.sessionFields {
			p.send = append(p.send, i)
		}
	}
	for k, v := range f.view {
		if _, ok := next[k]; !ok {
			p.forget = append(p.forget, sessionPart{key: k, sessionFields: v})
		}
	}
	f.planned = p
	return p
}

// unchanged reports whether want is exactly the session's view: the same partitions
// (keys are unique, so equal counts and every key found means no key is missing) with the
// same fields.
func (f *fetchSession) unchanged(want []sessionPart) bool {
	if len(want) != len(f.view) {
		return false
	}
	for _, w := range want {
		if v, ok := f.view[w.key]; !ok || v != w.sessionFields {
			return false
		}
	}
	return true
}

func allIndexes(want []sessionPart) []int {
	out := make([]int, len(want))
	for i := range out {
		out[i] = i
	}
	return out
}

// isSessionError reports whether a top-level fetch error is about the session, which a
// new session (a full fetch) clears.
func isSessionError(err error) bool {
	return errors.Is(err, errcode.FetchSessionIDNotFound) || errors.Is(err, errcode.InvalidFetchSessionEpoch) ||
		errors.Is(err, errcode.FetchSessionTopicIDError)
}

// answered records the response to the request in flight: its session ID and its
// top-level error (nil for none). After an error the next request is a full fetch
// asking for a new session.
func (f *fetchSession) answered(sessionID int32, err error) {
	p, next := f.planned, f.next
	f.next, f.planned = nil, fetchPlan{}
	switch {
	case next == nil:
		return // no request in flight: nothing to learn
	case err != nil:
		f.reset()
	case p.epoch == epochFinal:
		f.reset() // a sessionless full fetch
	case p.full:
		if sessionID == 0 {
			f.reset() // refused: the next request asks again
			return
		}
		f.id, f.epoch, f.view = sessionID, 1, next
	case sessionID != p.id:
		f.reset()
	default:
		if f.view != nil && !p.unchanged {
			f.spare = f.view // replaced: nothing refers to it any more; the next plan reuses it
		} else if p.unchanged {
			f.spare = nil // steady: no plan to fill it soon (see spare)
		}
		f.epoch, f.view = nextEpoch(f.epoch), next
	}
}

// failed records that the request in flight got no answer (or was never sent): the
// broker's view is unknown, so the next request starts a new session.
func (f *fetchSession) failed() {
	f.next, f.planned = nil, fetchPlan{}
	f.reset()
}

// withdrawn records that the planned request was not sent after all (the connection's
// queue was full): the broker's view is what it was before the plan, and the next plan
// starts from it.
func (f *fetchSession) withdrawn() {
	if f.next != nil && !f.planned.unchanged {
		f.spare = f.next // built for the plan, and referred to by nothing else
	}
	f.next, f.planned = nil, fetchPlan{}
}

// reset forgets the session: the next request is a full fetch asking for a new one.
func (f *fetchSession) reset() {
	f.id, f.epoch, f.view = 0, epochInitial, nil
}

// closing returns the session to close, if any, and forgets it: a request with this ID
// and epochFinal asks the broker to drop it.
func (f *fetchSession) closing() (int32, bool) {
	id := f.id
	f.failed()
	return id, id != 0
}
