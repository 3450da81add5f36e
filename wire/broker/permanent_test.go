package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/wire/broker"
)

// errBadCredentials stands for a cause the security work defines (a SASL or TLS
// failure): it joins the permanent class through Permanent.
var errBadCredentials = errors.New("credentials refused")

// A connection that fails for a permanent cause reports it with the broker's name and
// address, keeps the cause matchable, and is not retriable even though it is a network
// failure too. A plain network failure stays retriable.
func TestPermanentCauseSurvivesTheConnectionAndIsNotRetriable(t *testing.T) {
	const addr = "127.0.0.1:9"
	p := startPool(t, broker.Config{Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, broker.Permanent(fmt.Errorf("handshake: %w", errBadCredentials))
	}})
	h, err := p.Conn(broker.Node{ID: 3, Addr: addr}, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Do(ctxT(t), metadataReq())
	switch {
	case !errors.Is(err, broker.ErrPermanent), !errors.Is(err, errBadCredentials):
		t.Fatalf("the cause's class and sentinel are lost: %v", err)
	case !errors.Is(err, broker.ErrNotSent), !errors.Is(err, broker.ErrNetwork):
		t.Fatalf("a dial failure: %v", err)
	case broker.Retriable(err):
		t.Fatalf("a permanent cause reads as retriable: %v", err)
	case !strings.Contains(err.Error(), addr), strings.Count(err.Error(), "credentials refused") != 1,
		strings.Count(err.Error(), "network error") != 1:
		t.Fatalf("the error does not name the broker's address once and its cause once: %v", err)
	}
	if transient := fmt.Errorf("%w: dial: refused", broker.ErrNetwork); !broker.Retriable(transient) {
		t.Fatalf("a network failure is not retriable: %v", transient)
	}
	if broker.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}
