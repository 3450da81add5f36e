package docscheck_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The pages this package keeps honest.
var pages = []string{"guide.md", "getting-started.md", "configuration.md", "architecture.md", "security.md"}

func readPage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var goBlockRE = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestGettingStartedSnippetsAreCompiled checks that every Go snippet of
// docs/getting-started.md is, character for character, part of getting_started_test.go,
// whose Examples compile and run them.
func TestGettingStartedSnippetsAreCompiled(t *testing.T) {
	page := readPage(t, "getting-started.md")
	src, err := os.ReadFile("getting_started_test.go")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlockRE.FindAllStringSubmatch(page, -1)
	if len(blocks) < 8 {
		t.Fatalf("getting-started.md has %d Go snippets; expected the produce, consume, stage and supervision ones at least", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(string(src), b[1]) {
			first, _, _ := strings.Cut(strings.TrimSpace(b[1]), "\n")
			t.Errorf("a snippet of getting-started.md is not in getting_started_test.go (edit both): %s ...", first)
		}
	}
}

// TestReadingATopicTakesNoMoreLinesThanKgo keeps getting-started.md's "read a whole
// topic until caught up" (readTopic) within the 26 lines franz-go's kgo needs for the same
// job (a client, ListEndOffsets, a PollFetches loop comparing each partition's offset
// with its end) — issue 20's target.
func TestReadingATopicTakesNoMoreLinesThanKgo(t *testing.T) {
	page := readPage(t, "getting-started.md")
	for _, b := range goBlockRE.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(b[1], "func readTopic(") {
			continue
		}
		lines := 0
		for _, l := range strings.Split(b[1], "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "//") {
				lines++
			}
		}
		if lines > 26 {
			t.Fatalf("readTopic has %d lines of code; kgo's equivalent has 26", lines)
		}
		return
	}
	t.Fatal("getting-started.md has no readTopic snippet")
}

var (
	linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// A test, example, benchmark or fuzz target named in backticks, optionally qualified
	// by its package's name: `producer.TestLeaderMovesKeepOrderWithoutDuplicates`.
	testRefRE = regexp.MustCompile("`(?:([a-z]+)\\.)?((?:Test|Example|Benchmark|Fuzz)[A-Za-z0-9_]*)`")
	funcRE    = regexp.MustCompile(`(?m)^func ((?:Test|Example|Benchmark|Fuzz)[A-Za-z0-9_]*)\(`)
)

// testFuncs maps every test, example, benchmark and fuzz target of the module to the
// base names of the directories that define it.
func testFuncs(t *testing.T) map[string][]string {
	t.Helper()
	top := root(t)
	out := map[string][]string{}
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(top, path); rel == "bench" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = append(out[m[1]], filepath.Base(filepath.Dir(path)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocsCiteRealTestsAndFiles checks the pages of this package: every relative link
// leads to a file or directory that exists, and every test they name exists (in the
// package they name, if they name one). The guide's promise — "this test fails if the
// lesson is broken" — is only worth something if the test is there.
func TestDocsCiteRealTestsAndFiles(t *testing.T) {
	funcs := testFuncs(t)
	docs := filepath.Join(root(t), "docs")
	for _, name := range pages {
		page := readPage(t, name)
		for _, m := range linkRE.FindAllStringSubmatch(page, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, fragment, _ := strings.Cut(target, "#")
			if target == "" {
				target = name
			}
			path := filepath.Join(docs, filepath.FromSlash(target))
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, m[1])
				continue
			}
			if fragment != "" && !anchors(t, path)[fragment] {
				t.Errorf("%s links to %s: %s has no heading with that anchor", name, m[1], target)
			}
		}
		cited := 0
		for _, m := range testRefRE.FindAllStringSubmatch(page, -1) {
			pkg, fn := m[1], m[2]
			dirs, ok := funcs[fn]
			switch {
			case !ok:
				t.Errorf("%s names %s, which no _test.go file defines", name, m[0])
			case pkg != "" && !contains(dirs, pkg):
				t.Errorf("%s names %s, but it is defined in %v", name, m[0], dirs)
			}
			cited++
		}
		t.Logf("%s: %d tests named", name, cited)
	}
}

var notInSlug = regexp.MustCompile(`[^\p{L}\p{N} _-]`)

// anchors returns the anchors of a markdown file's headings, as GitHub makes them:
// lower case, punctuation dropped, spaces made hyphens.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := notInSlug.ReplaceAllString(strings.ToLower(title), "")
		out[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
