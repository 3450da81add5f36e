package consumer

import (
	"errors"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
)

// How a broker consumer carries its fetchSession on the wire.

// minSessionVersion is the first Fetch version with sessions (KIP-227).
const minSessionVersion = 7

// errSessionVersion fails an incremental fetch that would go at a version without
// sessions.
var errSessionVersion = errors.New("fetch: an incremental fetch needs Fetch v7 or later")

// sessions reports whether b's connection speaks a Fetch version with sessions. Before
// the connection's first handshake it is true: the first request is a full fetch, which
// is valid at any version, and asks for a session only where the version has one.
func (b *brokerConsumer) sessions() bool {
	v := b.conn.Versions()
	if v == nil {
		return true
	}
	top, ok := v.Max(api.Fetch)
	return ok && top >= minSessionVersion
}

// forgottenTopics groups the partitions to forget by topic, for ForgottenTopicsData
// (named by topic name up to v12, by topic ID from v13; both are filled in).
func forgottenTopics(forget []sessionPart) []api.FetchRequestForgottenTopic {
	if len(forget) == 0 {
		return nil
	}
	var out []api.FetchRequestForgottenTopic
	at := make(map[string]int)
	for _, f := range forget {
		i, ok := at[f.key.topic]
		if !ok {
			i = len(out)
			at[f.key.topic] = i
			out = append(out, api.FetchRequestForgottenTopic{Topic: f.key.topic, TopicID: f.topicID})
		}
		out[i].Partitions = append(out[i].Partitions, f.key.partition)
	}
	return out
}

// closeSession asks the broker, without waiting, to drop b's fetch session: a fetch with
// the session's ID, the final epoch and no partitions. It is a courtesy (the broker
// evicts idle sessions anyway), so a refusal is ignored.
func (b *brokerConsumer) closeSession() {
	id, ok := b.session.closing()
	if !ok || b.conn == nil {
		return
	}
	req := &api.FetchRequest{}
	req.Default()
	req.SessionID, req.SessionEpoch = id, epochFinal
	req.MinBytes = 1
	_ = b.conn.TrySend(&broker.Call{
		Request: req,
		Done:    func(*broker.Call) {}, // nobody waits for the answer
	})
}
