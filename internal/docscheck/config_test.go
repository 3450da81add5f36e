package docscheck_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

// M stands for the message type parameter of the generic Config structs; the page writes
// it as M.
type M struct{}

// def is what the code says about one field's default, for comparison with the page.
type def struct {
	value     any    // the default, from the package's exported constant
	enum      string // the constant's name, for an enumeration whose zero value is value
	none      bool   // no default value: required, or nil means off, or a nested struct
	observed  bool   // no constant: checked by TestObservedDefaults only
	unchecked string // no constant and nothing to observe: why (the page must list it)
}

func val(v any) def               { return def{value: v} }
func enum(name string, v any) def { return def{value: v, enum: name} }
func observed() def               { return def{observed: true} }
func unchecked(why string) def    { return def{unchecked: why} }

var none = def{none: true}

// configStruct is one struct of docs/configuration.md with the code's defaults.
type configStruct struct {
	typ    reflect.Type
	fields map[string]def // by field name as the page writes it ("Backoff.Min")
}

// configs lists every Config struct users set, keyed by its heading on the page. When a
// package gains a Config struct, add it here and to the page.
var configs = map[string]configStruct{
	"producer.Config": {reflect.TypeFor[producer.Config](), map[string]def{
		"Client":              none,
		"Seeds":               none,
		"Cluster":             none,
		"Acks":                enum("AcksAll", producer.AcksAll),
		"DisableIdempotence":  val(false),
		"Linger":              val(producer.DefaultLinger),
		"MaxBatchBytes":       val(producer.DefaultMaxBatchBytes),
		"MaxBatchRecords":     val(producer.DefaultMaxBatchRecords),
		"MaxRecordBytes":      observed(),
		"MaxInflightRequests": val(producer.DefaultMaxInflightRequests),
		"MaxRequestBytes":     val(producer.DefaultMaxRequestBytes),
		"Compression":         none,
		"Partitioner":         observed(),
		"RequestTimeout":      val(producer.DefaultRequestTimeout),
		"DeliveryTimeout":     val(producer.DefaultDeliveryTimeout),
		"Backoff.Min":         val(producer.DefaultBackoffMin),
		"Backoff.Max":         val(producer.DefaultBackoffMax),
		"MaxBufferedRecords":  val(producer.DefaultMaxBufferedRecords),
		"MaxBufferedBytes":    val(int(producer.DefaultMaxBufferedBytes)),
		"UnknownTopicWait":    val(producer.DefaultUnknownTopicWait),
		"UnknownTopicShare":   val(producer.DefaultUnknownTopicShare),
		"Stages":              none,
		"Logger":              none,
		"OnEvent":             none,
	}},
	"consumer.Config": {reflect.TypeFor[consumer.Config](), map[string]def{
		"Client":              none,
		"Seeds":               none,
		"Cluster":             none,
		"MinBytes":            val(int(consumer.DefaultMinBytes)),
		"MaxBytes":            val(int(consumer.DefaultMaxBytes)),
		"MaxPartitionBytes":   val(int(consumer.DefaultMaxPartitionBytes)),
		"MaxBufferedBytes":    unchecked("derived: the value of MaxBytes; the consumer package's TestDocumentedDefaultsAreTheRealOnes checks it"),
		"MaxPollRecords":      val(0),
		"MaxWait":             val(consumer.DefaultMaxWait),
		"MaxProcessingTime":   val(consumer.DefaultMaxProcessingTime),
		"OffsetReset":         enum("ResetEarliest", consumer.ResetEarliest),
		"IsolationLevel":      enum("ReadUncommitted", consumer.ReadUncommitted),
		"Backoff.Min":         val(consumer.DefaultBackoffMin),
		"Backoff.Max":         val(consumer.DefaultBackoffMax),
		"RequestTimeout":      val(consumer.DefaultRequestTimeout),
		"MaxDecompressedSize": val(record.DefaultMaxDecompressedSize),
		"Logger":              none,
		"OnEvent":             none,
	}},
	"consumer.Stage": {reflect.TypeFor[consumer.Stage](), map[string]def{
		"New":         none,
		"Capacity":    observed(),
		"Release":     none,
		"StopTimeout": val(supervisor.DefaultStopTimeout),
	}},
	"group.Config": {reflect.TypeFor[group.Config](), map[string]def{
		"Group":               none,
		"Protocol":            enum("group.Classic", group.Classic),
		"ServerAssignor":      none,
		"Topics":              none,
		"TopicPattern":        none,
		"MatchInternalTopics": val(false),
		"Assignors":           unchecked("a function value, group.Range(): consumer/group's TestConfigDefaultsAreTheDocumentedOnes checks it"),
		"InstanceID":          none,
		"SessionTimeout":      val(group.DefaultSessionTimeout),
		"HeartbeatInterval":   val(group.DefaultHeartbeatInterval),
		"ProcessingTime":      val(group.DefaultProcessingTime),
		"AutoCommitInterval":  val(group.DefaultAutoCommitInterval),
		"DisableAutoCommit":   val(false),
		"Backoff.Min":         val(group.DefaultBackoffMin),
		"Backoff.Max":         val(group.DefaultBackoffMax),
		"OnAssigned":          none,
		"OnRevoked":           none,
		"OnLost":              none,
		"Logger":              none,
	}},
	"group.CommitterConfig": {reflect.TypeFor[group.CommitterConfig](), map[string]def{
		"Reset":              enum("ResetEarliest", consumer.ResetEarliest),
		"AutoCommitInterval": val(group.DefaultAutoCommitInterval),
		"DisableAutoCommit":  val(false),
		"CommitTimeout":      val(group.DefaultCommitTimeout),
		"OnCommit":           none,
		"Logger":             none,
	}},
	"cluster.Config": {reflect.TypeFor[cluster.Config](), map[string]def{
		"Seeds":                  none,
		"Broker":                 none,
		"MinRefreshInterval":     val(cluster.DefaultMinRefreshInterval),
		"RefreshInterval":        val(cluster.DefaultRefreshInterval),
		"TopicRetries":           val(cluster.DefaultTopicRetries),
		"TopicBackoff.Min":       unchecked("derived: the value of MinRefreshInterval"),
		"TopicBackoff.Max":       val(cluster.DefaultTopicBackoffMax),
		"AllowAutoTopicCreation": val(false),
		"Breaker.Errors":         val(cluster.DefaultBreakerErrors),
		"Breaker.Successes":      unchecked("a literal (max(1, Successes)) in cluster.Open: no constant, and a breaker's closing is not observable without timing it"),
		"Breaker.Timeout":        val(cluster.DefaultBreakerTimeout),
		"Logger":                 none,
		"OnEvent":                none,
	}},
	"broker.Config": {reflect.TypeFor[broker.Config](), map[string]def{
		"ClientID":          val(broker.DefaultClientID),
		"SoftwareName":      val(broker.DefaultSoftwareName),
		"SoftwareVersion":   val(broker.DefaultSoftwareVersion),
		"Dial":              none,
		"TLS":               none,
		"SASL":              none,
		"ConnectTimeout":    val(broker.DefaultConnectTimeout),
		"RequestTimeout":    val(broker.DefaultRequestTimeout),
		"MaxInflight":       val(broker.DefaultMaxInflight),
		"MaxResponseBytes":  val(broker.DefaultMaxResponseBytes),
		"QueueSize":         observed(),
		"Breaker.Errors":    val(broker.DefaultBreakerErrors),
		"Breaker.Successes": unchecked("the supervisor's own default for a child's breaker (observed for supervisor.BreakerConfig), applied to connections inside the pool where nothing shows it"),
		"Breaker.Timeout":   val(broker.DefaultBreakerTimeout),
		"Backoff.Min":       val(supervisor.DefaultBackoffMin),
		"Backoff.Max":       val(broker.DefaultBackoffMax),
		"Logger":            none,
		"OnEvent":           none,
	}},
	"record.Compression": {reflect.TypeFor[record.Compression](), map[string]def{
		"Codec": enum("None", record.None),
		"Level": none,
	}},
	"supervisor.Config": {reflect.TypeFor[supervisor.Config](), map[string]def{
		"Name":        observed(),
		"Strategy":    enum("OneForOne", supervisor.OneForOne),
		"Intensity":   val(supervisor.DefaultIntensity),
		"Period":      val(supervisor.DefaultPeriod),
		"Backoff":     none,
		"ResetAfter":  val(supervisor.DefaultResetAfter),
		"OnEvent":     none,
		"Logger":      none,
		"StopTimeout": val(supervisor.DefaultSupervisorStopTimeout),
	}},
	"supervisor.ChildSpec": {reflect.TypeFor[supervisor.ChildSpec[M]](), map[string]def{
		"Name":          none,
		"New":           none,
		"Kind":          observed(),
		"Restart":       enum("Permanent", supervisor.Permanent),
		"Mailbox":       none,
		"StopTimeout":   val(supervisor.DefaultStopTimeout),
		"Breaker":       none,
		"DropQueued":    val(false),
		"DropsAnswered": val(false),
		"Release":       none,
	}},
	"supervisor.BreakerConfig": {reflect.TypeFor[supervisor.BreakerConfig](), map[string]def{
		"Errors":    val(supervisor.DefaultBreakerErrors),
		"Successes": observed(),
		"Timeout":   val(supervisor.DefaultBreakerTimeout),
	}},
	"supervisor.Backoff": {reflect.TypeFor[supervisor.Backoff](), map[string]def{
		"Min": val(supervisor.DefaultBackoffMin),
		"Max": val(supervisor.DefaultBackoffMax),
	}},
	"actor.MailboxConfig": {reflect.TypeFor[actor.MailboxConfig[M]](), map[string]def{
		"Capacity": val(actor.DefaultCapacity),
		"Overflow": enum("Block", actor.Block),
		"OnDrop":   none,
	}},
	"actor.Options": {reflect.TypeFor[actor.Options[M]](), map[string]def{
		"Mailbox":     none,
		"Kind":        observed(),
		"Logger":      none,
		"OnViolation": none,
	}},
}

// docRow is one row of a struct's table on the page.
type docRow struct {
	line    int
	typ     string // the type column, without backticks
	value   string // the default column's leading `value`, or "" when it has none
	comment string // the whole default column
}

// configPage is docs/configuration.md, parsed: the rows of each struct's table, and the
// text of the section that lists what cannot be checked.
type configPage struct {
	rows        map[string]map[string]docRow
	cannotCheck string
}

var (
	headingRE = regexp.MustCompile("^## `([a-z]+\\.[A-Za-z]+)`")
	codeRE    = regexp.MustCompile("^`([^`]+)`")
)

const tableHeader = "| field | type | default | what it does |"

func readConfigPage(t *testing.T) configPage {
	t.Helper()
	f, err := os.Open(filepath.Join(root(t), "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := configPage{rows: map[string]map[string]docRow{}}
	current, inTable, inCannot := "", false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			current, inTable, inCannot = "", false, false
			if m := headingRE.FindStringSubmatch(line); m != nil {
				current = m[1]
				if page.rows[current] != nil {
					t.Errorf("configuration.md:%d: a second section for %s", n, current)
				}
				page.rows[current] = map[string]docRow{}
			}
			continue
		case strings.HasPrefix(line, "What it cannot check"):
			inCannot = true
		}
		if inCannot {
			page.cannotCheck += line + "\n"
		}
		if current == "" {
			continue
		}
		if line == tableHeader {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Errorf("configuration.md:%d: a row needs 4 cells (no | inside them): %s", n, line)
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		field := strings.Trim(cells[0], "`")
		row := docRow{line: n, typ: strings.Trim(cells[1], "`"), comment: cells[2]}
		if m := codeRE.FindStringSubmatch(cells[2]); m != nil {
			row.value = m[1]
		}
		if _, dup := page.rows[current][field]; dup {
			t.Errorf("configuration.md:%d: %s.%s documented twice", n, current, field)
		}
		page.rows[current][field] = row
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return page
}

// fieldByPath finds a (possibly nested, "Backoff.Min") field of typ.
func fieldByPath(typ reflect.Type, path string) (reflect.StructField, bool) {
	var f reflect.StructField
	for _, name := range strings.Split(path, ".") {
		if typ.Kind() != reflect.Struct {
			return f, false
		}
		var ok bool
		if f, ok = typ.FieldByName(name); !ok || !f.IsExported() {
			return f, false
		}
		typ = f.Type
	}
	return f, true
}

var pkgPathRE = regexp.MustCompile(`(?:[\w.-]+/)+(\w+)\.`)

// typeName is how the page writes a type: as Go prints it, with package paths cut to the
// package name and this test's M written as M.
func typeName(t reflect.Type) string {
	s := pkgPathRE.ReplaceAllString(t.String(), "$1.")
	return strings.ReplaceAll(s, "docscheck_test.M", "M")
}

// parseDefault reads the page's value as a value of want's type.
func parseDefault(value string, want reflect.Type) (any, error) {
	var v any
	switch {
	case want == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(value)
		if err != nil {
			return nil, err
		}
		v = d
	case want.Kind() == reflect.String:
		s, err := strconv.Unquote(value)
		if err != nil {
			return nil, fmt.Errorf("a string default is written quoted: %w", err)
		}
		v = s
	case want.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, err
		}
		v = b
	case want.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, err
		}
		v = f
	case want.Kind() >= reflect.Int && want.Kind() <= reflect.Int64:
		n, err := parseSize(value)
		if err != nil {
			return nil, err
		}
		v = n
	default:
		return nil, fmt.Errorf("no parser for a default of type %v", want)
	}
	return reflect.ValueOf(v).Convert(want).Interface(), nil
}

// parseSize reads "1 MiB", "16 KiB" or a plain integer.
func parseSize(s string) (int64, error) {
	num, unit, _ := strings.Cut(s, " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	switch unit {
	case "":
		return n, nil
	case "KiB":
		return n << 10, nil
	case "MiB":
		return n << 20, nil
	case "GiB":
		return n << 30, nil
	}
	return 0, fmt.Errorf("unknown unit %q", unit)
}

// TestConfigurationReference checks docs/configuration.md against the code: every exported
// field of every Config struct has a row, every row names a field, the type column is the
// field's type, and every default written as a value is the code's (its exported
// constant, or for an enumeration the constant its zero value equals).
func TestConfigurationReference(t *testing.T) {
	page := readConfigPage(t)
	for name := range page.rows {
		if _, ok := configs[name]; !ok {
			t.Errorf("configuration.md documents %s, which this test does not know: add it to configs", name)
		}
	}
	for name, cs := range configs {
		rows, ok := page.rows[name]
		if !ok {
			t.Errorf("configuration.md has no section \"## `%s`\"", name)
			continue
		}
		// Every exported field has a row (a nested struct may be documented field by field).
		for i := range cs.typ.NumField() {
			f := cs.typ.Field(i)
			if !f.IsExported() {
				continue
			}
			documented := false
			for field := range rows {
				if field == f.Name || strings.HasPrefix(field, f.Name+".") {
					documented = true
				}
			}
			if !documented {
				t.Errorf("%s.%s (%s) is not documented in configuration.md", name, f.Name, typeName(f.Type))
			}
		}
		for field, row := range rows {
			at := fmt.Sprintf("configuration.md:%d: %s.%s", row.line, name, field)
			f, ok := fieldByPath(cs.typ, field)
			if !ok {
				t.Errorf("%s: no such field", at)
				continue
			}
			if got := typeName(f.Type); row.typ != got {
				t.Errorf("%s: type %q on the page, %q in the code", at, row.typ, got)
			}
			d, ok := cs.fields[field]
			if !ok {
				t.Errorf("%s: documented, but this test does not say what the code's default is: add it to configs", at)
				continue
			}
			checkDefault(t, at, name+"."+field, f.Type, row, d, page)
		}
		for field := range cs.fields {
			if _, ok := rows[field]; !ok {
				t.Errorf("configuration.md: %s.%s has no row", name, field)
			}
		}
	}
}

func checkDefault(t *testing.T, at, qualified string, ft reflect.Type, row docRow, d def, page configPage) {
	t.Helper()
	switch {
	case d.none:
		if row.value != "" {
			t.Errorf("%s: the page gives the default `%s`, but the code has no default value for it", at, row.value)
		}
	case row.value == "":
		t.Errorf("%s: the page gives no default value (%q); the code's is %v", at, row.comment, d.value)
	case d.observed:
		// TestObservedDefaults compares it with what the code does.
	case d.unchecked != "":
		if !strings.Contains(page.cannotCheck, "`"+qualified+"`") {
			t.Errorf("%s: its default cannot be checked (%s), and the page's \"What it cannot check\" does not say so", at, d.unchecked)
		}
		t.Logf("%s: not checked: %s", at, d.unchecked)
	case d.enum != "":
		if row.value != d.enum {
			t.Errorf("%s: default `%s` on the page, %s in the code", at, row.value, d.enum)
		}
		if zero := reflect.Zero(ft).Interface(); zero != d.value {
			t.Errorf("%s: the zero value is %v, not %s (%v): the zero value must mean the default", at, zero, d.enum, d.value)
		}
	default:
		got, err := parseDefault(row.value, reflect.TypeOf(d.value))
		if err != nil {
			t.Errorf("%s: cannot read the default `%s`: %v", at, row.value, err)
			return
		}
		if got != d.value {
			t.Errorf("%s: default `%s` on the page, %v in the code", at, row.value, d.value)
		}
	}
}

// docDefault is the page's default of a field, read as a value of want's type.
func docDefault[T any](t *testing.T, page configPage, structName, field string) T {
	t.Helper()
	row, ok := page.rows[structName][field]
	if !ok || row.value == "" {
		t.Fatalf("configuration.md gives no default for %s.%s", structName, field)
	}
	var zero T
	v, err := parseDefault(row.value, reflect.TypeOf(zero))
	if err != nil {
		t.Fatalf("configuration.md: %s.%s: %v", structName, field, err)
	}
	return v.(T)
}

// docText is the page's default of a field that is not a plain value (a function call).
func docText(t *testing.T, page configPage, structName, field string) string {
	t.Helper()
	row, ok := page.rows[structName][field]
	if !ok || row.value == "" {
		t.Fatalf("configuration.md gives no default for %s.%s", structName, field)
	}
	return row.value
}
