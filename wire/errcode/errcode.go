// Package errcode turns the error codes in Kafka responses into Go errors.
//
// Every code Kafka defines (as of Kafka 4.1) has an exported *[Error] value, named after
// Kafka's own name for it (NOT_LEADER_OR_FOLLOWER is [NotLeaderOrFollower]). [ForCode]
// maps a code from a response to that value, so callers match codes with [errors.Is] even
// through wrapping:
//
//	if err := errcode.ForCode(p.ErrorCode); errors.Is(err, errcode.NotLeaderOrFollower) {
//		// refresh metadata, then retry
//	}
//
// [Retriable] reports whether Kafka documents an error as retriable: the same request may
// succeed if sent again (possibly after a metadata refresh).
package errcode

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is one Kafka error code. The exported values of this package must not be modified.
type Error struct {
	// Code is the error code on the wire.
	Code int16
	// Name is Kafka's name for the code, such as "NOT_LEADER_OR_FOLLOWER".
	Name string
	// Retriable reports whether Kafka marks the error retriable: sending the same request
	// again (after refreshing metadata where the error implies it) may succeed.
	Retriable bool
}

// Error returns the name and code, such as "NOT_LEADER_OR_FOLLOWER (6)".
func (e *Error) Error() string {
	return e.Name + " (" + strconv.Itoa(int(e.Code)) + ")"
}

// Is reports whether target is an *Error with the same code, so that an error made for an
// unknown code matches another made for the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// byCode indexes known by code; UnknownServerError (-1) is handled apart.
var byCode = func() map[int16]*Error {
	m := make(map[int16]*Error, len(known))
	for _, e := range known {
		if _, dup := m[e.Code]; dup {
			panic(fmt.Sprintf("errcode: code %d listed twice", e.Code))
		}
		m[e.Code] = e
	}
	return m
}()

// ForCode returns the error for a code read from a response: nil for 0 (no error), the
// package's value for every known code, and for any other code a new non-retriable *Error
// named "UNKNOWN_ERROR_CODE_N", which still matches [errors.As] and, by code, [errors.Is].
func ForCode(code int16) error {
	if code == 0 {
		return nil
	}
	if e := byCode[code]; e != nil {
		return e
	}
	return &Error{Code: code, Name: "UNKNOWN_ERROR_CODE_" + strconv.Itoa(int(code))}
}

// Retriable reports whether err, or any error it wraps, is a Kafka error code marked
// retriable. It is false for nil and for errors that hold no Kafka code.
func Retriable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retriable
}
