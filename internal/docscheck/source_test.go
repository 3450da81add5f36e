package docscheck_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The checks in this file read troupe's source. They hold the rules of docs/guide.md that
// no behaviour test can see: how goroutines are started, where a queue may be unbounded,
// which way imports point.

const module = "github.com/troupe-go/troupe"

// root returns the module's root directory (where go.mod is).
func root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// libraryFile is one parsed non-test Go file of the library: the root package, actor/,
// supervisor/, wire/, producer/, consumer/. Examples, internal helpers, generators,
// tests and bench/ (a module of its own) are not library code.
type libraryFile struct {
	rel  string // slash-separated, relative to the module root
	pkg  string // its directory, relative to the root ("" for the root package)
	fset *token.FileSet
	file *ast.File
}

func libraryFiles(t *testing.T) []libraryFile {
	t.Helper()
	top := root(t)
	var out []libraryFile
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			first, _, _ := strings.Cut(rel, "/")
			switch {
			case strings.HasPrefix(d.Name(), "."), d.Name() == "testdata", d.Name() == "internal",
				first == "bench", first == "examples", first == "property_test", first == "docs":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		if pkg == "." {
			pkg = ""
		}
		out = append(out, libraryFile{rel: rel, pkg: pkg, fset: fset, file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d library files under %s: is the walk broken?", len(out), top)
	}
	return out
}

// TestEveryGoroutineIsAStructsRun holds the first lesson (structure your goroutines):
// library code starts a goroutine only as a struct's run method — the framework's actor
// runner, or a structured goroutine such as a connection's reader — never as a function
// literal, which would show up as an anonymous func1 in stack dumps, with no owner and no
// name.
func TestEveryGoroutineIsAStructsRun(t *testing.T) {
	found := 0
	for _, lf := range libraryFiles(t) {
		ast.Inspect(lf.file, func(n ast.Node) bool {
			g, ok := n.(*ast.GoStmt)
			if !ok {
				return true
			}
			found++
			at := lf.fset.Position(g.Pos())
			switch fun := g.Call.Fun.(type) {
			case *ast.FuncLit:
				t.Errorf("%s:%d: an anonymous goroutine (go func(){...}()): make it a struct's run, owned and named", lf.rel, at.Line)
			case *ast.SelectorExpr:
				if fun.Sel.Name != "run" {
					t.Errorf("%s:%d: go %s(...): goroutines are a struct's run method", lf.rel, at.Line, fun.Sel.Name)
				} else {
					t.Logf("%s:%d: go ...%s.run()", lf.rel, at.Line, exprString(fun.X))
				}
			default:
				t.Errorf("%s:%d: go statement calling a plain function: goroutines are a struct's run method", lf.rel, at.Line)
			}
			return true
		})
	}
	if found == 0 {
		t.Fatal("no go statement found at all: the actor runner (actor/process.go) starts one")
	}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return "?"
}

// boundedArgument is the house phrase that opens the comment next to every unbounded
// mailbox: the argument for what bounds the queue anyway.
const boundedArgument = "Unbounded, and bounded all the same"

// TestEveryUnboundedMailboxSaysWhatBoundsIt holds the lesson "infinite buffers smell":
// a mailbox may be actor.Unbounded only with the argument for what bounds it written
// right above the choice, in a comment that starts with boundedArgument.
func TestEveryUnboundedMailboxSaysWhatBoundsIt(t *testing.T) {
	uses := 0
	for _, lf := range libraryFiles(t) {
		if lf.pkg == "actor" {
			continue // where Unbounded is defined
		}
		ast.Inspect(lf.file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Unbounded" {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "actor" {
				return true
			}
			uses++
			line := lf.fset.Position(sel.Pos()).Line
			argued := false
			for _, cg := range lf.file.Comments {
				end := lf.fset.Position(cg.End()).Line
				text := cg.Text()
				if end >= line-1 && end <= line && strings.Contains(text, boundedArgument) &&
					len(strings.Fields(text)) >= 12 {
					argued = true
				}
			}
			if !argued {
				t.Errorf("%s:%d: actor.Unbounded without the argument: write, right above it, a comment starting %q that says what bounds the queue",
					lf.rel, line, boundedArgument+":")
			} else {
				t.Logf("%s:%d: unbounded, argued", lf.rel, line)
			}
			return true
		})
	}
	if uses == 0 {
		t.Fatal("no actor.Unbounded found: the producer's partition mailboxes use it")
	}
}

// layer ranks the library's packages: a package may import only packages of a lower
// rank. This is the picture in docs/architecture.md ("imports point down").
var layer = map[string]int{
	"":               0, // package troupe: Record, Header, errors
	"actor":          0,
	"supervisor":     1,
	"wire/codec":     2,
	"wire/errcode":   2,
	"wire/sasl":      2,
	"wire/api":       3,
	"wire/record":    3,
	"wire/broker":    4,
	"wire/cluster":   5,
	"producer":       6,
	"consumer":       6,
	"consumer/group": 7, // a group member hands partitions to a consumer.Reader
}

// door is the one internal package library code may import: package actor's door for the
// supervisor (internal/actorhook), below everything, importing nothing of the module.
const door = "internal/actorhook"

// TestImportsPointDown checks the layering of docs/architecture.md: root and actor import
// nothing of the module but the door, supervisor only actor and the door, wire/ only what
// is below it, producer and consumer everything below but not each other; no library
// package imports internal/ (the door aside) or examples/.
func TestImportsPointDown(t *testing.T) {
	seen := map[string]bool{}
	for _, lf := range libraryFiles(t) {
		from, ok := layer[lf.pkg]
		if !ok {
			t.Errorf("%s: package %q is not in the layer table of this test (and of docs/architecture.md): add it", lf.rel, lf.pkg)
			continue
		}
		seen[lf.pkg] = true
		for _, imp := range lf.file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path != module && !strings.HasPrefix(path, module+"/") {
				continue
			}
			to := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
			if to == door {
				continue
			}
			rank, known := layer[to]
			switch {
			case !known:
				t.Errorf("%s imports %s, which is not a library package", lf.rel, path)
			case rank >= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down only", lf.rel, from, path, rank)
			}
		}
	}
	for pkg := range layer {
		if !seen[pkg] {
			t.Errorf("package %q of the layer table has no files", pkg)
		}
	}
}
