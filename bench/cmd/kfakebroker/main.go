// Command kfakebroker serves an in-memory kfake cluster for the bench driver, in a process
// of its own so that the broker's CPU time is never charged to a client.
//
// It prints one line, "addrs host:port,host:port,...", once the cluster listens, then
// answers commands read line by line from stdin until "quit" or end of input:
//
//	reset   zero the counters; answers "ok"
//	stats   answers one JSON line of counters (workload.BrokerStats), covering the time since the
//	        last reset, and the records stored since the start
//	quit    close the cluster and exit
//
// The counters come from observers (kfake ControlKey functions that return
// handled=false, so kfake then handles every request as usual): every Produce request
// is counted, with the record batches and records in it, read from the batch headers.
// That measures records per batch the same way for every client.
//
// With -group-heartbeat, the coordinator gives KIP-848 consumer-group members that heartbeat
// interval (kfake.BrokerConfigs, group.consumer.heartbeat.interval.ms).
//
// With -synthetic, every fetch is answered from one canned batch (kfake.SyntheticFetch):
// a topic of thousands of partitions can be read without storing it first.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// counters are updated by the observers (on kfake's goroutines) and read by the command
// loop.
type counters struct {
	produceRequests, batches, records, recordBytes, fetchRequests, totalRecords atomic.Int64
	cpuAtReset                                                                  atomic.Int64 // nanoseconds
}

func main() {
	blackhole := flag.Bool("blackhole", false, "accept produced records without storing them (kfake.BlackholeProduce)")
	partitions := flag.Int("partitions", workload.Partitions, "the partition count of the seeded topic")
	synthetic := flag.Int("synthetic", 0, "answer every fetch with a canned batch of this many records of workload.ValueBytes (kfake.SyntheticFetch), and store nothing produced; 0: off")
	groupHeartbeat := flag.Duration("group-heartbeat", 0, "the heartbeat interval the coordinator gives KIP-848 consumer-group members (group.consumer.heartbeat.interval.ms); 0: kfake's default")
	flag.Parse()
	log.SetPrefix("kfakebroker: ")
	log.SetFlags(0)
	if *partitions <= 0 || *partitions > 1<<20 {
		log.Fatalf("-partitions %d: must be between 1 and %d", *partitions, 1<<20)
	}

	opts := []kfake.Opt{kfake.NumBrokers(workload.Brokers), kfake.SeedTopics(int32(*partitions), workload.Topic)}
	if *blackhole || *synthetic > 0 {
		opts = append(opts, kfake.BlackholeProduce())
	}
	if *groupHeartbeat > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{
			"group.consumer.heartbeat.interval.ms": strconv.FormatInt(groupHeartbeat.Milliseconds(), 10),
		}))
	}
	if *synthetic > 0 {
		opts = append(opts, kfake.SyntheticFetch(kfake.SyntheticBatch{Records: *synthetic, RecordBytes: workload.ValueBytes}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var n counters
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		n.observeProduce(req.(*kmsg.ProduceRequest))
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		n.fetchRequests.Add(1)
		return nil, nil, false
	})
	n.cpuAtReset.Store(cpuNanos())

	fmt.Println("addrs", strings.Join(c.ListenAddrs(), ","))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch cmd := strings.TrimSpace(in.Text()); cmd {
		case "reset":
			n.reset()
			fmt.Println("ok")
		case "stats":
			line, _ := json.Marshal(n.snapshot())
			fmt.Println(string(line))
		case "quit":
			return
		default:
			fmt.Printf("error unknown command %q\n", cmd)
		}
	}
}

// observeProduce counts one Produce request: the record batches in every partition's
// records field, and the records each batch header declares.
func (n *counters) observeProduce(req *kmsg.ProduceRequest) {
	n.produceRequests.Add(1)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			batches, records := countBatches(p.Records)
			n.batches.Add(batches)
			n.records.Add(records)
			n.totalRecords.Add(records)
			n.recordBytes.Add(int64(len(p.Records)))
		}
	}
}

// countBatches walks the v2 record batches in b by their headers: baseOffset (8 bytes),
// batchLength (4) then, 45 bytes further, the record count (4). A truncated tail is
// ignored.
func countBatches(b []byte) (batches, records int64) {
	const countAt = 57
	for len(b) >= countAt+4 {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < countAt+4 || size > len(b) {
			break
		}
		batches++
		records += int64(int32(binary.BigEndian.Uint32(b[countAt : countAt+4])))
		b = b[size:]
	}
	return batches, records
}

func (n *counters) reset() {
	n.produceRequests.Store(0)
	n.batches.Store(0)
	n.records.Store(0)
	n.recordBytes.Store(0)
	n.fetchRequests.Store(0)
	n.cpuAtReset.Store(cpuNanos())
}

func (n *counters) snapshot() workload.BrokerStats {
	return workload.BrokerStats{
		ProduceRequests: n.produceRequests.Load(),
		Batches:         n.batches.Load(),
		Records:         n.records.Load(),
		RecordBytes:     n.recordBytes.Load(),
		FetchRequests:   n.fetchRequests.Load(),
		TotalRecords:    n.totalRecords.Load(),
		CPUSeconds:      time.Duration(cpuNanos() - n.cpuAtReset.Load()).Seconds(),
	}
}

// cpuNanos is this process's user+sys CPU time so far.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
