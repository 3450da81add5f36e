// Package troupe holds the types shared by troupe's Kafka producer and consumer: [Record],
// [Header], and the error values users match with [errors.Is].
//
// troupe is two things in one module. The actor framework (packages actor and supervisor)
// knows nothing about Kafka: every concurrent thing is a named struct with a run loop, an
// owned mailbox and a documented owner. The Kafka client (packages wire, producer and
// consumer) is built on it, following the design of Sarama's producer and consumer pipelines.
//
// This package imports nothing from the module, so the producer and consumer share one
// Record type without depending on each other.
package troupe
