package docscheck_test

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// surface is every exported func, type and method of the actor framework, as go doc
// -all lists them: what a user of actor/ and supervisor/ on their own has to hold in
// mind. What only the library needs (a supervisor's hold on its children's mailboxes and
// stops, checked mode's process-wide record) goes through internal/actorhook instead. A
// name added here is added to the API: say why in its doc comment, and in docs/actor.md.
var surface = map[string][]string{
	"actor": {
		"Ask", "Checked", "Earlier", "Hand", "Receive", "ReceiveBatch", "Start", "Spawn", "NewMailbox", "NewOwner",
		"Actor",
		"Alarm", "Alarm.At", "Alarm.C", "Alarm.Set", "Alarm.Stop",
		"Func", "Func.Run",
		"Inbox", "Inbox.Cap", "Inbox.Closed", "Inbox.Drain", "Inbox.DrainMax", "Inbox.Len", "Inbox.MarkHealthy",
		"Inbox.Name", "Inbox.Owner", "Inbox.Ready", "Inbox.Receive", "Inbox.Ref", "Inbox.Unread",
		"Info",
		"Mailbox", "Mailbox.Ref", "Mailbox.Stats", "MailboxConfig", "MailboxStats",
		"Options",
		"Overflow", "Overflow.String",
		"Ownable", "Owned", "Owned.Acquire", "Owned.Check", "Owned.Give", "Owned.Ownership", "Owned.Release", "Owned.Take",
		"Owner", "Owner.Close", "Owner.Name", "Owner.Owns",
		"PanicError", "PanicError.Error", "PanicError.Is", "PanicError.Unwrap",
		"Process", "Process.Cancel", "Process.Done", "Process.Err", "Process.Info", "Process.Name", "Process.State", "Process.Stop",
		"Ref", "Ref.Done", "Ref.IsZero", "Ref.Len", "Ref.Name", "Ref.Room", "Ref.Send", "Ref.SendBatch", "Ref.TrySend",
		"Reply", "Reply.Send",
		"State", "State.String",
		"StopTimeoutError", "StopTimeoutError.Error", "StopTimeoutError.Is", "StopTimeoutError.Unwrap",
		"Violation", "Violation.String", "ViolationKind", "ViolationKind.String",
	},
	"supervisor": {
		"Add", "New",
		"About", "About.ChildName", "About.Source", "About.SupervisorName",
		"Backoff", "Backoff.Delay",
		"BreakerClosed", "BreakerClosed.String", "BreakerConfig", "BreakerHalfOpen", "BreakerHalfOpen.String",
		"BreakerOpened", "BreakerOpened.String",
		"ChildSpec", "Config", "Event",
		"Exited", "Exited.String", "IntensityExceeded", "IntensityExceeded.String",
		"NewShared", "Shared", "Shared.Acquire", "Shared.Counts", "Shared.Release",
		"SharedChild", "SharedChild.Key", "SharedChild.Name", "SharedChild.Ref",
		"Restart", "Restart.String", "Restarted", "Restarted.String", "Started", "Started.String",
		"StopTimedOut", "StopTimedOut.String", "Strategy", "Strategy.String",
		"Supervisor", "Supervisor.AddSupervisor", "Supervisor.Children", "Supervisor.Name", "Supervisor.Remove",
		"Supervisor.RemoveAsync", "Supervisor.Start",
	},
}

// TestActorSurfaceIsDeliberate fails when actor/ or supervisor/ export a func, type or
// method that the list above does not name, or stop exporting one it does.
func TestActorSurfaceIsDeliberate(t *testing.T) {
	for pkg, want := range surface {
		got := exported(t, pkg)
		want = slices.Sorted(slices.Values(want))
		for _, name := range got {
			if !slices.Contains(want, name) {
				t.Errorf("%s exports %s, which the surface list does not name: is it for users, or only for the library (internal/actorhook)?", pkg, name)
			}
		}
		for _, name := range want {
			if !slices.Contains(got, name) {
				t.Errorf("%s no longer exports %s: update the surface list and the docs", pkg, name)
			}
		}
		t.Logf("%s: %d exported funcs, types and methods", pkg, len(got))
	}
}

// exported lists pkg's exported funcs, types and methods of exported types, as built
// without tags, sorted.
func exported(t *testing.T, pkg string) []string {
	t.Helper()
	dir := filepath.Join(root(t), pkg)
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, module+"/"+pkg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range p.Funcs {
		out = append(out, f.Name)
	}
	for _, typ := range p.Types {
		out = append(out, typ.Name)
		for _, f := range typ.Funcs {
			out = append(out, f.Name)
		}
		for _, m := range typ.Methods {
			if ast.IsExported(m.Name) && !strings.Contains(m.Recv, "embedded") {
				out = append(out, typ.Name+"."+m.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}
