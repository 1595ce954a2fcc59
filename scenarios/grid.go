package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// Cell is one expected or observed matrix entry: an outcome, and for HTTP an
// exact status when the grid wrote a number.
type Cell struct {
	Outcome Outcome
	Status  int // 0: any status (or not HTTP)
}

// String renders a cell as it is written in a grid.
func (c Cell) String() string {
	if c.Outcome == OutcomeOK && c.Status != 0 {
		return strconv.Itoa(c.Status)
	}
	if c.Outcome == "" {
		return "?"
	}
	return string(c.Outcome)
}

// ParseCell parses "ok", "reset", ... or an HTTP status such as "403"
// (which means the connection succeeded with that status).
func ParseCell(s string) (Cell, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 100 || n > 599 {
			return Cell{}, fmt.Errorf("HTTP status %d out of range 100-599", n)
		}
		return Cell{Outcome: OutcomeOK, Status: n}, nil
	}
	o, err := ParseOutcome(s)
	if err != nil {
		return Cell{}, fmt.Errorf("cell %q: want an outcome (%s) or an HTTP status", s, outcomeList())
	}
	return Cell{Outcome: o}, nil
}

func outcomeList() string {
	names := make([]string, len(Outcomes))
	for i, o := range Outcomes {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

// Matches reports whether an observed cell satisfies the expected one: same
// outcome, and the same status when a status was expected.
func (want Cell) Matches(got Cell) bool {
	if want.Outcome != got.Outcome {
		return false
	}
	return want.Status == 0 || want.Status == got.Status
}

// Grid is a truth table: Rows are source labels, Columns target labels,
// Cells[r][c] the entry for Rows[r] → Columns[c].
type Grid struct {
	Columns []string
	Rows    []string
	Cells   [][]Cell
}

// GridError is a problem in a grid's text; Line is 1-based within the text.
type GridError struct {
	Line int
	Msg  string
}

func (e GridError) Error() string { return fmt.Sprintf("line %d of the grid: %s", e.Line, e.Msg) }

// ParseGrid parses a grid: the first non-blank line lists the column labels,
// each further non-blank line a row label and one cell per column, separated
// by whitespace. It returns every problem found.
func ParseGrid(text string) (Grid, []GridError) {
	var g Grid
	var errs []GridError
	seenRow := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		n := i + 1
		if g.Columns == nil {
			seen := map[string]bool{}
			for _, c := range fields {
				if seen[c] {
					errs = append(errs, GridError{n, fmt.Sprintf("column %q appears twice", c)})
				}
				seen[c] = true
			}
			g.Columns = fields
			continue
		}
		label, cells := fields[0], fields[1:]
		if seenRow[label] {
			errs = append(errs, GridError{n, fmt.Sprintf("row %q appears twice", label)})
		}
		seenRow[label] = true
		if len(cells) != len(g.Columns) {
			errs = append(errs, GridError{n, fmt.Sprintf("row %q has %d cells, want %d (one per column: %s)",
				label, len(cells), len(g.Columns), strings.Join(g.Columns, " "))})
		}
		row := make([]Cell, len(g.Columns))
		for j, s := range cells {
			if j >= len(row) {
				break
			}
			c, err := ParseCell(s)
			if err != nil {
				errs = append(errs, GridError{n, fmt.Sprintf("row %q, column %q: %v", label, g.Columns[j], err)})
			}
			row[j] = c
		}
		g.Rows = append(g.Rows, label)
		g.Cells = append(g.Cells, row)
	}
	switch {
	case g.Columns == nil:
		errs = append(errs, GridError{1, "empty grid: want a header line of target labels, then one line per source"})
	case len(g.Rows) == 0:
		errs = append(errs, GridError{1, "grid has a header but no rows"})
	}
	return g, errs
}

// String renders the grid with aligned columns.
func (g Grid) String() string {
	cells := make([][]string, len(g.Rows))
	for r := range g.Rows {
		cells[r] = make([]string, len(g.Columns))
		for c := range g.Columns {
			cells[r][c] = g.Cells[r][c].String()
		}
	}
	return renderGrid(g.Columns, g.Rows, cells)
}

// Diff compares an observed grid with the expected one (same labels, in the
// same order) and returns "" when every cell matches. Otherwise it renders the
// observed grid with every mismatch marked `got ✗ want X`, followed by one
// line per mismatch, so a reader sees the whole picture and the exact cells.
func Diff(want, got Grid) string {
	cells := make([][]string, len(want.Rows))
	var lines []string
	for r, row := range want.Rows {
		cells[r] = make([]string, len(want.Columns))
		for c, col := range want.Columns {
			w, g := want.Cells[r][c], got.Cells[r][c]
			if w.Matches(g) {
				cells[r][c] = g.String()
				continue
			}
			cells[r][c] = fmt.Sprintf("%s ✗ want %s", g, w)
			lines = append(lines, fmt.Sprintf("  %s → %s: got %s, want %s", row, col, g, w))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	total := len(want.Rows) * len(want.Columns)
	return fmt.Sprintf("matrix mismatch: %d of %d cells differ (observed grid, ✗ marks a difference)\n%s%s\n",
		len(lines), total, renderGrid(want.Columns, want.Rows, cells), strings.Join(lines, "\n"))
}

func renderGrid(cols, rows []string, cells [][]string) string {
	width := make([]int, len(cols)+1)
	for _, r := range rows {
		width[0] = max(width[0], len([]rune(r)))
	}
	for c, col := range cols {
		width[c+1] = len([]rune(col))
		for r := range rows {
			width[c+1] = max(width[c+1], len([]rune(cells[r][c])))
		}
	}
	var b strings.Builder
	line := func(first string, rest []string) {
		parts := []string{pad(first, width[0])}
		for i, s := range rest {
			parts = append(parts, pad(s, width[i+1]))
		}
		b.WriteString(strings.TrimRight(strings.Join(parts, "  "), " "))
		b.WriteByte('\n')
	}
	line("", cols)
	for r, row := range rows {
		line(row, cells[r])
	}
	return b.String()
}

func pad(s string, w int) string {
	if n := len([]rune(s)); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
