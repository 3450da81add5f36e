// Package docscheck holds no code, only tests that keep troupe's documentation honest:
//
//   - the configuration reference (docs/configuration.md) against the code: every
//     exported field of every Config struct is documented, and every documented default
//     is the one the code applies (from the package's exported Default constants, and,
//     where the public API shows it, by observing the defaulted behaviour);
//   - the getting-started guide (docs/getting-started.md): each Go snippet is part of an
//     Example or test here, so it compiles and runs against an in-process kfake cluster;
//   - the concurrency guide (docs/guide.md): the tests it names exist, the files it links
//     exist, and the lessons that no package test covered have a test here (no anonymous
//     goroutines in library code, every unbounded mailbox argued, broker producers shared
//     and stopped with their last partition, batches shaped by linger and limits, one
//     unknown topic not holding back another, a burst costing the owner one wake-up,
//     imports pointing down);
//   - the actor framework's public surface (actor/, supervisor/): every exported func,
//     type and method is on a list, so that what only the library needs stays behind
//     internal/actorhook.
//
// It is a test-only package: nothing imports it.
package docscheck
