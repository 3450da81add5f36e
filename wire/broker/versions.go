package broker

import (
	"fmt"

	"github.com/troupe-go/troupe/wire/api"
)

// Versions is what a broker and troupe agreed in the ApiVersions handshake: for each API,
// the highest version both speak. It is immutable.
type Versions struct {
	max [128]int16 // by API key; -1: no version in common
}

func newVersions(resp *api.APIVersionsResponse) *Versions {
	v := &Versions{}
	for i := range v.max {
		v.max[i] = -1
	}
	for _, k := range api.SupportedKeys() {
		if int(k) >= len(v.max) {
			continue
		}
		if n, err := api.PickVersion(resp, k); err == nil {
			v.max[k] = n
		}
	}
	return v
}

// Max returns the highest version of key both sides speak, and false if there is none.
func (v *Versions) Max(key api.Key) (int16, bool) {
	if v == nil || key < 0 || int(key) >= len(v.max) || v.max[key] < 0 {
		return 0, false
	}
	return v.max[key], true
}

// Pick returns the version to send key at: the highest in common, capped by cap when it is
// positive. It fails, matching api.ErrNoCommonVersion, when there is none (or the cap is
// below troupe's minimum).
func (v *Versions) Pick(key api.Key, cap int16) (int16, error) {
	n, ok := v.Max(key)
	if !ok {
		return 0, fmt.Errorf("%v: %w", key, api.ErrNoCommonVersion)
	}
	if cap > 0 && cap < n {
		n = cap
		if min, _, _ := api.SupportedVersions(key); n < min {
			return 0, fmt.Errorf("%v capped at v%d, below troupe's minimum v%d: %w", key, cap, min, api.ErrNoCommonVersion)
		}
	}
	return n, nil
}
