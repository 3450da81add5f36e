package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
)

// Open's context is the client's life, as its documentation now says: a client opened
// with a context that ends stops. (property_test opened a shared client with its setup
// context, and the client died under it 60 s later, silently: the documentation said
// nothing about what the context was for.)
func TestOpenContextBoundsTheClientsLife(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cluster.Open(ctx, cluster.Config{Seeds: []string{"localhost:1"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client's actors did not stop when Open's context ended")
	}
	refresh, cancelRefresh := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelRefresh()
	if _, err := c.Refresh(refresh, "t"); err == nil {
		t.Fatal("a client whose context ended answered a refresh")
	}
}
