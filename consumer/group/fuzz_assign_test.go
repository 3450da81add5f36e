package group

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// FuzzAssign feeds every assignor subscriptions decoded from arbitrary bytes (a member
// count, then each member's metadata behind a 2-byte length), as a hostile or buggy member
// could send them: negative and huge partitions, stale and absurd generations, garbage user
// data, claims on topics nobody reads. No assignor may panic, and each must still give
// every partition exactly once to a subscriber (cooperative-sticky may hold some back).
func FuzzAssign(f *testing.F) {
	seed := func(subs ...Subscription) []byte {
		b := []byte{byte(len(subs))}
		for _, s := range subs {
			meta, _ := s.Encode(nil, 3)
			b = binary.BigEndian.AppendUint16(b, uint16(len(meta)))
			b = append(b, meta...)
		}
		return b
	}
	f.Add(seed(
		Subscription{Topics: []string{"a", "b"}, Owned: tps("a", 0, 1, 2, "b", -1, 9), Generation: 3},
		Subscription{Topics: []string{"b"}, Owned: tps("b", 0, 1), Generation: 3, UserData: []byte{0, 0, 0, 1}},
	))
	f.Add(seed(
		Subscription{Topics: []string{"a"}, UserData: appendStickyUserData(nil, tps("a", 0, 1, 2), 7), Generation: -1},
		Subscription{Topics: []string{"a", "b", "c"}, Owned: tps("a", 1, "c", 0), Generation: 1 << 30},
	))
	f.Add([]byte{3, 0, 2, 0, 0, 0, 0})
	parts := map[string]int32{"a": 3, "b": 5}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		n := int(b[0] % 9)
		b = b[1:]
		var subs []Subscription
		for i := 0; i < n && len(b) >= 2; i++ {
			l := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
			s := Subscription{MemberID: fmt.Sprintf("m%d", i)}
			if _, err := s.Decode(b[2 : 2+l]); err != nil {
				s = Subscription{MemberID: s.MemberID, Generation: -1}
			}
			b = b[2+l:]
			subs = append(subs, s)
		}
		in := groupInput{members: subs, partitions: parts}
		for _, a := range allAssignors() {
			out, err := a.Assign(subs, parts)
			if err != nil {
				t.Fatalf("%s: %v", a.Name(), err)
			}
			if a.Cooperative() {
				out = intended(subs, parts, a)
			}
			checkComplete(t, in, out)
		}
	})
}
