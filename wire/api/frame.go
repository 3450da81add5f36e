package api

import (
	"fmt"

	"github.com/troupe-go/troupe/wire/codec"
)

// AppendRequest appends req as one complete frame ready for the socket: the 4-byte size,
// the request header (its version chosen by [RequestHeaderVersion]) and the body encoded at
// version.
func AppendRequest(dst []byte, req Request, version int16, correlationID int32, clientID *string) ([]byte, error) {
	return AppendRequestSpliced(dst, req, version, correlationID, clientID, nil)
}

// AppendRequestSpliced is AppendRequest leaving the request's record batches (those of a
// produce request) to sp when sp is not nil: the frame in dst then lacks their bytes,
// which belong at the offsets sp notes, and its size prefix counts them. See
// [codec.Splicer].
func AppendRequestSpliced(dst []byte, req Request, version int16, correlationID int32, clientID *string, sp *codec.Splicer) ([]byte, error) {
	hv, err := RequestHeaderVersion(req.APIKey(), version)
	if err != nil {
		return dst, err
	}
	if min, max, _ := SupportedVersions(req.APIKey()); version < min || version > max {
		return dst, fmt.Errorf("api: %v v%d: %w", req.APIKey(), version, ErrUnsupportedVersion)
	}
	dst, mark := codec.BeginFrame(dst)
	h := codec.RequestHeader{APIKey: int16(req.APIKey()), APIVersion: version, CorrelationID: correlationID, ClientID: clientID}
	dst = h.AppendTo(dst, hv)
	if sp == nil {
		return codec.EndFrame(req.Encode(dst, version), mark), nil
	}
	before := sp.Len()
	dst = req.encodeSpliced(dst, version, sp)
	return codec.EndFrameSpliced(dst, mark, sp.Len()-before), nil
}

// ReadResponse decodes a response frame body (as [codec.ReadFrame] returns it: without the
// size prefix) into resp, which must be the response type of the request sent at version.
// It checks the correlation ID against the one expected ([ErrCorrelationMismatch]).
func ReadResponse(frame []byte, resp Response, version int16, correlationID int32) error {
	hv, err := ResponseHeaderVersion(resp.APIKey(), version)
	if err != nil {
		return err
	}
	var d codec.Decoder
	d.Reset(frame)
	var h codec.ResponseHeader
	h.ReadFrom(&d, hv)
	if err := d.Err(); err != nil {
		return fmt.Errorf("api: %v response header: %w", resp.APIKey(), err)
	}
	if h.CorrelationID != correlationID {
		return fmt.Errorf("api: %v response: got correlation ID %d, want %d: %w",
			resp.APIKey(), h.CorrelationID, correlationID, ErrCorrelationMismatch)
	}
	return resp.Decode(frame[d.Offset():], version)
}
