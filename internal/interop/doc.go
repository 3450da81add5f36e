// Package interop holds troupe's interoperability tests with independent Kafka clients:
// kcat (librdkafka) and franz-go's kgo. Records written by troupe must be read back by
// them byte for byte, and the other way round, for every compression codec, with keys,
// headers and timestamps. The kcat tests skip, naming the Debian package to install, when
// kcat is not on the PATH; .ci/run installs it, so CI always runs them.
package interop
