package broker

import "errors"

// ErrPermanent marks a cause that waiting will not cure: a broker that refuses our
// credentials, speaks TLS where we do not (or the other way round), or asks for a SASL
// mechanism we do not offer. A connection can fail for two kinds of reasons, and callers
// treat them differently:
//
//   - Transient causes (ErrNetwork, ErrRequestTimeout, ErrConnStopped, ErrUnavailable): a
//     broker down, restarting or unreachable for a while. They match Retriable; the
//     producer keeps records through them until their DeliveryTimeout, and the cluster
//     client keeps asking for metadata.
//   - Permanent causes: every error that matches ErrPermanent. Retriable reports false for
//     them, even when they also match ErrNetwork; the cluster client fails the refreshes
//     waiting on a metadata request that failed with one at once, and the producer fails the
//     records that wait for that metadata at once instead of after UnknownTopicWait.
//
// A cause joins the permanent class by matching ErrPermanent with errors.Is: wrap it
// (fmt.Errorf("...: %w", ErrPermanent)), give its type an Is method that reports true for
// ErrPermanent, or pass it through Permanent. A connection's *Error keeps its cause
// wrapped, so the class survives to the caller together with the broker's name and
// address.
var ErrPermanent = errors.New("broker: failure that waiting will not cure")

// Permanent returns an error that reads and unwraps as err and also matches ErrPermanent.
// It returns nil for a nil err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// permanentError is err, marked as a permanent cause.
type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }
