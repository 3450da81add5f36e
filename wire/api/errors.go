package api

import "errors"

// Errors of this package; match them with [errors.Is].
var (
	// ErrUnsupportedVersion means a message was asked to encode, decode or validate at a
	// version outside the range troupe speaks for its API.
	ErrUnsupportedVersion = errors.New("api: unsupported version")
	// ErrNoCommonVersion means the broker and troupe share no version of an API, or the
	// broker does not offer the API at all.
	ErrNoCommonVersion = errors.New("api: no version in common with the broker")
	// ErrUnknownKey means troupe does not implement the API key asked for.
	ErrUnknownKey = errors.New("api: API key not implemented")
	// ErrFieldNotInVersion means a message holds a non-default value in a field that the
	// version being encoded lacks and that the schema does not mark ignorable, so encoding
	// would silently drop it.
	ErrFieldNotInVersion = errors.New("api: field not in this version")
	// ErrCorrelationMismatch means a response's correlation ID is not the one expected.
	ErrCorrelationMismatch = errors.New("api: correlation ID mismatch")
)
