package api

import (
	"fmt"
	"sync"
)

// apiInfo describes one implemented API (the table is generated).
type apiInfo struct {
	key              Key
	min, max         int16 // versions troupe speaks
	requestFlexible  int16 // first flexible request version, -1 if none
	responseFlexible int16 // first flexible response version, -1 if none
	newRequest       func() Request
	newResponse      func() Response
}

var byKey = sync.OnceValue(func() map[Key]*apiInfo {
	m := make(map[Key]*apiInfo, len(generated))
	for i := range generated {
		m[generated[i].key] = &generated[i]
	}
	return m
})

func lookup(k Key) (*apiInfo, error) {
	if info := byKey()[k]; info != nil {
		return info, nil
	}
	return nil, fmt.Errorf("%v: %w", k, ErrUnknownKey)
}

// SupportedVersions returns the versions of k troupe speaks, oldest and newest, and false
// when troupe does not implement k.
func SupportedVersions(k Key) (min, max int16, ok bool) {
	info, err := lookup(k)
	if err != nil {
		return 0, 0, false
	}
	return info.min, info.max, true
}

// SupportedKeys returns every key troupe implements, in key order.
func SupportedKeys() []Key {
	keys := make([]Key, 0, len(generated))
	for k := range Key(len(keyNames)) {
		if byKey()[k] != nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// NewRequest returns a new, zero request of API k; it fails with [ErrUnknownKey] when troupe
// does not implement k.
func NewRequest(k Key) (Request, error) {
	info, err := lookup(k)
	if err != nil {
		return nil, err
	}
	return info.newRequest(), nil
}

// NewResponse returns a new, zero response of API k; it fails with [ErrUnknownKey] when
// troupe does not implement k.
func NewResponse(k Key) (Response, error) {
	info, err := lookup(k)
	if err != nil {
		return nil, err
	}
	return info.newResponse(), nil
}

// RequestHeaderVersion returns the request header version for API k at version: 2 when the
// request is flexible, 1 otherwise.
func RequestHeaderVersion(k Key, version int16) (int16, error) {
	info, err := lookup(k)
	if err != nil {
		return 0, err
	}
	if info.requestFlexible >= 0 && version >= info.requestFlexible {
		return 2, nil
	}
	return 1, nil
}

// ResponseHeaderVersion returns the response header version for API k at version: 1 when
// the response is flexible, 0 otherwise. ApiVersions responses always use header version 0,
// so a client that sent a version the broker does not know can still read the reply.
func ResponseHeaderVersion(k Key, version int16) (int16, error) {
	info, err := lookup(k)
	if err != nil {
		return 0, err
	}
	if k != APIVersions && info.responseFlexible >= 0 && version >= info.responseFlexible {
		return 1, nil
	}
	return 0, nil
}

// PickVersion returns the highest version of API k that both troupe and the broker that
// sent resp support. It fails with [ErrNoCommonVersion] when the broker does not list k or
// the ranges do not overlap, and with [ErrUnknownKey] when troupe does not implement k.
func PickVersion(resp *APIVersionsResponse, k Key) (int16, error) {
	info, err := lookup(k)
	if err != nil {
		return 0, err
	}
	for _, bk := range resp.APIKeys {
		if Key(bk.APIKey) != k {
			continue
		}
		v := min(info.max, bk.MaxVersion)
		if v < info.min || v < bk.MinVersion {
			return 0, fmt.Errorf("%v: broker offers %d-%d, troupe speaks %d-%d: %w",
				k, bk.MinVersion, bk.MaxVersion, info.min, info.max, ErrNoCommonVersion)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%v: broker does not offer it: %w", k, ErrNoCommonVersion)
}
