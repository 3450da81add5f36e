package errcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestForCode(t *testing.T) {
	if ForCode(0) != nil {
		t.Fatal("code 0 must be no error")
	}
	err := ForCode(6)
	if err != NotLeaderOrFollower || !errors.Is(err, NotLeaderOrFollower) {
		t.Fatalf("code 6: %v", err)
	}
	if err.Error() != "NOT_LEADER_OR_FOLLOWER (6)" {
		t.Fatalf("message %q", err.Error())
	}
	if ForCode(-1) != UnknownServerError {
		t.Fatal("code -1")
	}
}

func TestUnknownCode(t *testing.T) {
	err := ForCode(32000)
	var e *Error
	if !errors.As(err, &e) || e.Code != 32000 || e.Retriable {
		t.Fatalf("unknown code: %#v", err)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", err), ForCode(32000)) {
		t.Fatal("two errors for the same unknown code must match")
	}
	if errors.Is(err, UnknownServerError) {
		t.Fatal("unknown code matched another code")
	}
}

func TestRetriableThroughWrapping(t *testing.T) {
	wrapped := fmt.Errorf("produce to t-0: %w", ForCode(NotLeaderOrFollower.Code))
	if !Retriable(wrapped) || !errors.Is(wrapped, NotLeaderOrFollower) {
		t.Fatal("NOT_LEADER_OR_FOLLOWER is retriable through wrapping")
	}
	if Retriable(fmt.Errorf("x: %w", TopicAuthorizationFailed)) {
		t.Fatal("TOPIC_AUTHORIZATION_FAILED is not retriable")
	}
	if Retriable(nil) || Retriable(errors.New("plain")) {
		t.Fatal("non-Kafka errors are not retriable")
	}
}

// TestAgainstKerr checks every code against franz-go's kerr, an independent list of the
// same facts: same names and retriability, none missing. The kerr linked here may predate
// the newest codes; codes above the highest it knows are only checked to be contiguous.
func TestAgainstKerr(t *testing.T) {
	kerrKnows := func(code int16) (*kerr.Error, bool) {
		var ke *kerr.Error
		if !errors.As(kerr.ErrorForCode(code), &ke) || (ke == kerr.UnknownServerError && code != -1) {
			return nil, false
		}
		return ke, true
	}
	highest := int16(0)
	for code := int16(-1); code < 1000; code++ {
		ke, ok := kerrKnows(code)
		if !ok {
			continue
		}
		highest = code
		e, known := byCode[code]
		if !known {
			t.Errorf("code %d (%s) missing", code, ke.Message)
			continue
		}
		name := ke.Message
		if code == 6 {
			// Kafka renamed NOT_LEADER_FOR_PARTITION to NOT_LEADER_OR_FOLLOWER (KIP-392);
			// kerr keeps the old name.
			name = "NOT_LEADER_OR_FOLLOWER"
		}
		if e.Name != name || e.Retriable != ke.Retriable {
			t.Errorf("code %d: troupe %s retriable=%v, kerr %s retriable=%v", code, e.Name, e.Retriable, name, ke.Retriable)
		}
	}
	if highest < 100 {
		t.Fatalf("kerr knows codes only up to %d; the comparison is broken", highest)
	}
	for code := int16(-1); code <= int16(len(known))-1; code++ {
		if _, ok := byCode[code]; !ok && code != 0 {
			t.Errorf("codes not contiguous: %d missing", code)
		}
	}
	t.Logf("compared codes -1..%d with kerr; troupe also knows %d..%d", highest, highest+1, len(known)-1)
}
