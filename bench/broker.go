package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// broker is a running bench/cmd/kfakebroker process: a 3-broker kfake cluster with the
// benchmark topic seeded, and counters of what it received.
type broker struct {
	p     *proc
	addrs string // comma-separated, as runners take them
}

// brokerOptions say how bench/cmd/kfakebroker serves: zero values are the usual mode's
// broker (6 partitions, storing what is produced).
type brokerOptions struct {
	blackhole  bool // discard produced records (kfake.BlackholeProduce)
	partitions int  // the topic's partition count; zero: workload.Partitions
	synthetic  int  // answer fetches with a canned batch of this many records (kfake.SyntheticFetch); zero: off
	// groupHeartbeat is the heartbeat interval the coordinator gives KIP-848 members
	// (group.consumer.heartbeat.interval.ms); zero: kfake's default (5s).
	groupHeartbeat time.Duration
}

// startBroker starts a fresh cluster.
func startBroker(bins string, bo brokerOptions, verbose bool) (*broker, error) {
	var args []string
	if bo.blackhole {
		args = append(args, "-blackhole")
	}
	if bo.partitions > 0 {
		args = append(args, "-partitions", strconv.Itoa(bo.partitions))
	}
	if bo.synthetic > 0 {
		args = append(args, "-synthetic", strconv.Itoa(bo.synthetic))
	}
	if bo.groupHeartbeat > 0 {
		args = append(args, "-group-heartbeat", bo.groupHeartbeat.String())
	}
	p, err := start("kfakebroker", bins+"/kfakebroker", args, verbose)
	if err != nil {
		return nil, err
	}
	line, err := p.readLine(30 * time.Second)
	if err != nil {
		p.kill()
		return nil, err
	}
	addrs, ok := strings.CutPrefix(line, "addrs ")
	if !ok {
		p.kill()
		return nil, fmt.Errorf("kfakebroker: unexpected first line %q", line)
	}
	return &broker{p: p, addrs: addrs}, nil
}

// reset zeroes the broker's counters.
func (b *broker) reset() error {
	if err := b.p.send("reset"); err != nil {
		return err
	}
	line, err := b.p.readLine(10 * time.Second)
	if err == nil && line != "ok" {
		err = fmt.Errorf("kfakebroker: reset answered %q", line)
	}
	return err
}

// stats reads the broker's counters.
func (b *broker) stats() (workload.BrokerStats, error) {
	var s workload.BrokerStats
	if err := b.p.send("stats"); err != nil {
		return s, err
	}
	line, err := b.p.readLine(10 * time.Second)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return s, fmt.Errorf("kfakebroker: stats answered %q: %w", line, err)
	}
	return s, nil
}

// stop closes the cluster and waits for the process to exit.
func (b *broker) stop() error {
	if err := b.p.send("quit"); err != nil {
		b.p.kill()
		return err
	}
	if err := b.p.wait(30 * time.Second); err != nil {
		b.p.kill()
		return err
	}
	return nil
}
