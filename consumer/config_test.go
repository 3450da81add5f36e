package consumer

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

// fieldDocs returns the doc comment of every field of the Config struct in config.go.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := make(map[string]string)
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range fl.Names {
				docs[name.Name] = strings.Join(strings.Fields(fl.Doc.Text()), " ")
			}
		}
		return false
	})
	return docs
}

func mib(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprint(n)
}

// TestDocumentedDefaultsAreTheRealOnes reads what each Config field's comment says zero
// means and checks it against what withDefaults does.
func TestDocumentedDefaultsAreTheRealOnes(t *testing.T) {
	c, err := Config{Seeds: []string{"127.0.0.1:9092"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	docs := fieldDocs(t)
	for field, says := range map[string]string{
		"MinBytes":            fmt.Sprintf("Zero means %d:", c.MinBytes),
		"MaxBytes":            fmt.Sprintf("Zero means %s.", mib(c.MaxBytes)),
		"MaxPartitionBytes":   fmt.Sprintf("Zero means %s,", mib(c.MaxPartitionBytes)),
		"MaxWait":             fmt.Sprintf("Zero means %v.", c.MaxWait),
		"MaxBufferedBytes":    "Zero means MaxBytes.",
		"MaxProcessingTime":   fmt.Sprintf("Zero means %v,", c.MaxProcessingTime),
		"OffsetReset":         "Zero means Reset" + strings.ToUpper(c.OffsetReset.String()[:1]) + c.OffsetReset.String()[1:] + ".",
		"Backoff":             fmt.Sprintf("Zero fields mean %v and %v.", c.Backoff.Min, c.Backoff.Max),
		"RequestTimeout":      fmt.Sprintf("Zero means %v.", c.RequestTimeout),
		"MaxDecompressedSize": fmt.Sprintf("Zero means record.DefaultMaxDecompressedSize (%d MiB).", c.MaxDecompressedSize>>20),
	} {
		if !strings.Contains(docs[field], says) {
			t.Errorf("Config.%s: the comment does not say %q:\n%s", field, says, docs[field])
		}
	}
	if c.IsolationLevel != ReadUncommitted || !strings.Contains(docs["IsolationLevel"], "Zero means ReadUncommitted") {
		t.Errorf("IsolationLevel: %v", c.IsolationLevel)
	}
	// And the exported constants are the values.
	for name, pair := range map[string][2]any{
		"MinBytes":            {c.MinBytes, int(DefaultMinBytes)},
		"MaxBytes":            {c.MaxBytes, int(DefaultMaxBytes)},
		"MaxPartitionBytes":   {c.MaxPartitionBytes, int(DefaultMaxPartitionBytes)},
		"MaxWait":             {c.MaxWait, DefaultMaxWait},
		"MaxProcessingTime":   {c.MaxProcessingTime, DefaultMaxProcessingTime},
		"Backoff.Min":         {c.Backoff.Min, DefaultBackoffMin},
		"Backoff.Max":         {c.Backoff.Max, DefaultBackoffMax},
		"RequestTimeout":      {c.RequestTimeout, DefaultRequestTimeout},
		"MaxDecompressedSize": {c.MaxDecompressedSize, record.DefaultMaxDecompressedSize},
		"OffsetReset":         {c.OffsetReset, ResetEarliest},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: %v, the constant says %v", name, pair[0], pair[1])
		}
	}
	if c.Logger == nil || c.Cluster.Logger != c.Logger || len(c.Cluster.Seeds) != 1 {
		t.Error("logger or seeds not passed on to the client")
	}
	// A smaller MaxBytes caps the per-partition default.
	if c, _ := (Config{Seeds: []string{"a:1"}, MaxBytes: 1000}).withDefaults(); c.MaxPartitionBytes != 1000 {
		t.Errorf("MaxPartitionBytes with MaxBytes 1000: %d", c.MaxPartitionBytes)
	}
}

// TestSeedsComeFromEitherPlace checks the one rule for seeds: the Consumer's own, or its
// Cluster's when its own are empty; the same seeds in both places are accepted.
func TestSeedsComeFromEitherPlace(t *testing.T) {
	seeds := []string{"127.0.0.1:9092"}
	for name, cfg := range map[string]Config{
		"Seeds":         {Seeds: seeds},
		"Cluster.Seeds": {Cluster: cluster.Config{Seeds: seeds}},
		"both, equal":   {Seeds: seeds, Cluster: cluster.Config{Seeds: []string{"127.0.0.1:9092"}}},
	} {
		c, err := cfg.withDefaults()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(c.Cluster.Seeds) != 1 || c.Cluster.Seeds[0] != seeds[0] {
			t.Errorf("%s: the client's seeds are %v", name, c.Cluster.Seeds)
		}
	}
}

func TestInvalidConfigsAreRefused(t *testing.T) {
	seeds := []string{"127.0.0.1:9092"}
	shared, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close(context.Background())
	small, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds, Broker: broker.Config{MaxResponseBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close(context.Background())
	for name, cfg := range map[string]Config{
		"no brokers":                             {},
		"negative MinBytes":                      {Seeds: seeds, MinBytes: -1},
		"negative MaxWait":                       {Seeds: seeds, MaxWait: -time.Second},
		"negative MaxPollRecords":                {Seeds: seeds, MaxPollRecords: -1},
		"MaxWait too long":                       {Seeds: seeds, MaxWait: 1000 * time.Hour},
		"partition above all":                    {Seeds: seeds, MaxBytes: 100, MaxPartitionBytes: 200},
		"MaxBytes above int32":                   {Seeds: seeds, MaxBytes: 1 << 31},
		"MaxBytes above the connections' limit":  {Seeds: seeds, MaxBytes: broker.DefaultMaxResponseBytes},
		"MaxBytes above a set limit":             {Seeds: seeds, MaxBytes: 2 << 20, Cluster: cluster.Config{Broker: broker.Config{MaxResponseBytes: 1 << 20}}},
		"MaxBytes above a shared client's limit": {Client: small, MaxBytes: 2 << 20},
		"MinBytes above int32":                   {Seeds: seeds, MinBytes: 1 << 31},
		"isolation level":                        {Seeds: seeds, IsolationLevel: 2},
		"reset policy":                           {Seeds: seeds, OffsetReset: 7},
		"bad seed":                               {Seeds: []string{"no port"}},
		"seeds differ":                           {Seeds: seeds, Cluster: cluster.Config{Seeds: []string{"127.0.0.1:9093"}}},
		"Client and Seeds":                       {Client: shared, Seeds: seeds},
		"Client and Cluster":                     {Client: shared, Cluster: cluster.Config{MinRefreshInterval: time.Second}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
