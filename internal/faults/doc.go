// Package faults injects faults into a Kafka cluster for troupe's property tests, and
// checks what the client did under them. It is test support shared by property_test/ and
// any package that wants the same tools; nothing in the client depends on it.
//
// It has four parts:
//
//   - Network faults on the path between the client and each broker, described by one
//     Toxic type (cut, stall, delay, refuse) and applied by an Injector: Network, whose
//     Dial the client dials with. It wraps real sockets (a net.Dialer's) and kfake's
//     in-memory VirtualNetwork alike, so the same faults run in real time and under
//     testing/synctest, on the bubble's fake clock.
//   - Cluster: a kfake cluster that can be restarted with its data (kfake's DataDir) on
//     the same ports, and protocol faults (kfake Fault and ControlKey) that can be healed:
//     error codes before or after the append, closed connections. The ports it chose are
//     held while no broker listens on them (a socket bound and not listening, which
//     refuses connections as a closed port does), so that no other process's connection
//     takes one while a broker is down.
//   - ReadLog: an independent reader (franz-go's kgo) of a topic's whole log.
//   - Check: the log checker. Given what was produced and how each record's callback
//     ended, the log, and what consumers delivered, it reports every violated property
//     (see History and Check).
package faults
