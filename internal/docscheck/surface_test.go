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
// mind (docs/actor.md, "The surface", says what each group is for). What only the
// library needs (a supervisor's hold on its children's mailboxes, spawns and stops,
// checked mode's process-wide record) goes through internal/actorhook instead, and what
// only tests need through export_test.go. A name added here is added to the API: say why
// in its doc comment, and in docs/actor.md.
var surface = map[string][]string{
	"actor": {
		// Running an actor: the contract, its adapters, and the one way to start one.
		"Actor", "Func", "Func.Run", "Receive", "ReceiveBatch", "Start", "Options",
		"MailboxConfig", "Overflow", "Overflow.String",
		// Its owner's side: the running incarnation, and the actor's view of itself.
		"Process", "Process.Cancel", "Process.Done", "Process.Err", "Process.Info", "Process.Stop",
		"Info", "MailboxStats", "State", "State.String",
		"Inbox", "Inbox.Closed", "Inbox.Compact", "Inbox.Drain", "Inbox.DrainMax", "Inbox.MarkHealthy", "Inbox.Owner",
		"Inbox.Ready", "Inbox.Receive", "Inbox.Ref", "Inbox.Unread",
		"Alarm", "Alarm.At", "Alarm.C", "Alarm.Set", "Alarm.Stop", "Earlier",
		// A sender's side: the handle and request/reply.
		"Ref", "Ref.Done", "Ref.IsZero", "Ref.Name", "Ref.Nudge", "Ref.Room", "Ref.Send", "Ref.SendBatch", "Ref.TrySend",
		"Ask", "Reply", "Reply.Send",
		// The ownership hand-off and what checked mode reports.
		"Hand", "NewOwner", "Ownable", "Owned", "Owned.Acquire", "Owned.Check", "Owned.Give", "Owned.Release", "Owned.Take",
		"Owner", "Owner.Close", "Violation", "Violation.String", "ViolationKind", "ViolationKind.String",
		// Errors matched with errors.As.
		"PanicError", "PanicError.Error", "PanicError.Is", "PanicError.Unwrap",
		"StopTimeoutError", "StopTimeoutError.Error", "StopTimeoutError.Is", "StopTimeoutError.Unwrap",
	},
	"supervisor": {
		// A supervisor and its children.
		"New", "Config", "Strategy", "Strategy.String", "Backoff", "Backoff.Delay",
		"Supervisor", "Supervisor.Start", "Supervisor.AddSupervisor", "Supervisor.Children",
		"Supervisor.Remove", "Supervisor.RemoveAsync",
		"Add", "ChildSpec", "Restart", "Restart.String", "BreakerConfig",
		// Children shared by reference count (the talk's dynamic multiplexing).
		"NewShared", "Shared", "Shared.Acquire", "Shared.Counts", "Shared.Release",
		"SharedChild", "SharedChild.Key", "SharedChild.Name", "SharedChild.Ref",
		// What it reports, one type per decision.
		"Event", "About", "About.Source",
		"Started", "Started.String", "Exited", "Exited.String", "Restarted", "Restarted.String",
		"BreakerOpened", "BreakerOpened.String", "BreakerHalfOpen", "BreakerHalfOpen.String",
		"BreakerClosed", "BreakerClosed.String", "IntensityExceeded", "IntensityExceeded.String",
		"StopTimedOut", "StopTimedOut.String",
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
