package scenarios

import (
	"testing"
)

func mustGrid(t *testing.T, text string) Grid {
	t.Helper()
	g, errs := ParseGrid(text)
	if len(errs) > 0 {
		t.Fatalf("%v", errs)
	}
	return g
}

func TestParseGrid(t *testing.T) {
	g := mustGrid(t, `
        httpbin  web
# comment lines are ignored
sleep   ok       200
rogue   reset    refused
`)
	if len(g.Columns) != 2 || len(g.Rows) != 2 || g.Cells[0][1] != (Cell{OutcomeOK, 200}) || g.Cells[1][0] != (Cell{Outcome: OutcomeReset}) {
		t.Fatalf("got %+v", g)
	}
	want := "       httpbin  web\nsleep  ok       200\nrogue  reset    refused\n"
	if g.String() != want {
		t.Errorf("String:\n%q\nwant\n%q", g.String(), want)
	}
}

func TestParseGridErrors(t *testing.T) {
	for text, want := range map[string]string{
		"":                     "line 1 of the grid: empty grid: want a header line of target labels, then one line per source",
		"a b\n":                "line 1 of the grid: grid has a header but no rows",
		"a a\nx ok ok\n":       `line 1 of the grid: column "a" appears twice`,
		"a\nx ok ok\n":         `line 2 of the grid: row "x" has 2 cells, want 1 (one per column: a)`,
		"a\nx 99\n":            `line 2 of the grid: row "x", column "a": HTTP status 99 out of range 100-599`,
		"a\nx OK\n":            `line 2 of the grid: row "x", column "a": cell "OK": want an outcome (ok, reset, refused, timeout, dns-error, error) or an HTTP status`,
		"a\nx ok\nx ok\n":      `line 3 of the grid: row "x" appears twice`,
		"a b\nx ok\ny ok ok\n": `line 2 of the grid: row "x" has 1 cells, want 2 (one per column: a b)`,
	} {
		_, errs := ParseGrid(text)
		if len(errs) == 0 || errs[0].Error() != want {
			t.Errorf("%q: got %v, want %s", text, errs, want)
		}
	}
}

// TestDiff: a mismatch renders the observed grid with every differing cell
// marked, then one line per difference.
func TestDiff(t *testing.T) {
	want := mustGrid(t, "        httpbin  web\nsleep   ok       200\nrogue   reset    ok\n")
	got := mustGrid(t, "        httpbin  web\nsleep   ok       403\nrogue   ok       ok\n")
	wantText := `matrix mismatch: 2 of 4 cells differ (observed grid, ✗ marks a difference)
       httpbin          web
sleep  ok               403 ✗ want 200
rogue  ok ✗ want reset  ok
  sleep → web: got 403, want 200
  rogue → httpbin: got ok, want reset
`
	if d := Diff(want, got); d != wantText {
		t.Errorf("diff:\n%s\nwant:\n%s", d, wantText)
	}
	if d := Diff(want, want); d != "" {
		t.Errorf("equal grids differ: %s", d)
	}
	// An "ok" cell accepts any status; a status cell needs that status.
	anyStatus := mustGrid(t, "a\nx ok\n")
	if Diff(anyStatus, Grid{Columns: []string{"a"}, Rows: []string{"x"}, Cells: [][]Cell{{{OutcomeOK, 503}}}}) != "" {
		t.Error("ok must match any status")
	}
}

func FuzzParseGrid(f *testing.F) {
	f.Add("  a  b\nx ok 200\ny reset refused\n")
	f.Add("a\n\n\nx\n")
	f.Add("\x00 ✗\nrow 1e9")
	f.Fuzz(func(t *testing.T, text string) {
		g, errs := ParseGrid(text)
		if len(errs) > 0 {
			return
		}
		if len(g.Rows) != len(g.Cells) {
			t.Fatalf("rows %d cells %d", len(g.Rows), len(g.Cells))
		}
		for _, row := range g.Cells {
			if len(row) != len(g.Columns) {
				t.Fatalf("ragged grid accepted: %+v", g)
			}
		}
		// What String renders parses back to the same grid.
		back, errs := ParseGrid(g.String())
		if len(errs) > 0 || Diff(g, back) != "" || len(back.Rows) != len(g.Rows) {
			t.Fatalf("round trip: %v %q", errs, g.String())
		}
	})
}
