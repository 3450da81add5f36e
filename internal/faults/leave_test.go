package faults

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataBrokers asks the cluster, directly, which brokers its metadata lists, as
// "node=address".
func metadataBrokers(ctx context.Context, c *Cluster) ([]string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	resp, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		out = append(out, fmt.Sprintf("%d=%s:%d", b.NodeID, b.Host, b.Port))
	}
	slices.Sort(out)
	return out, nil
}

// A broker that leaves is missing from metadata until it returns, at the address it had;
// the controller cannot leave; a cluster stopped and started again lists every broker.
func TestBrokersLeaveAndReturnAtTheirAddress(t *testing.T) {
	c, err := StartCluster(ClusterConfig{Brokers: 3, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all, err := metadataBrokers(ctx30(t), c)
	if err != nil || len(all) != 3 {
		t.Fatalf("metadata lists %v (%v), want 3 brokers", all, err)
	}
	if err := c.Leave(c.Controller()); err == nil {
		t.Fatal("the controller left")
	}
	if err := c.Leave(0); err != nil {
		t.Fatal(err)
	}
	if got := c.Away(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("away: %v, want [0]", got)
	}
	without, err := metadataBrokers(ctx30(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(without, all[1:]) {
		t.Fatalf("with node 0 away metadata lists %v, want %v", without, all[1:])
	}
	if err := c.Return(0); err != nil {
		t.Fatal(err)
	}
	back, err := metadataBrokers(ctx30(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, all) {
		t.Fatalf("after node 0 returned metadata lists %v, want %v", back, all)
	}

	if err := c.Leave(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if !c.Stopped() || c.Kfake() != nil {
		t.Fatal("the cluster does not say it is stopped")
	}
	if err := c.Start(true); err != nil {
		t.Fatal(err)
	}
	if len(c.Away()) != 0 {
		t.Fatalf("after a start, nodes %v are still away", c.Away())
	}
	restarted, err := metadataBrokers(ctx30(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(restarted, all) {
		t.Fatalf("after the restart metadata lists %v, want %v", restarted, all)
	}
}
