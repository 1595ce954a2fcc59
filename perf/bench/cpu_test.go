package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 1-17 of proc_pid_stat(5); utime is 14 and stime 15.
	const tail = " S 1 2 3 4 5 6 7 8 9 10 1234 56 17 18 19 20"
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr string
	}{
		{"plain name", "42 (ambientlab)" + tail, 1290, ""},
		{"name with spaces and parentheses", "42 (a b) (c))" + tail, 1290, ""},
		{"no name", "42 ambientlab" + tail, 0, "no command name"},
		{"truncated", "42 (x) S 1 2", 0, "fields after"},
		{"not a number", "42 (x) S 1 2 3 4 5 6 7 8 9 10 12x4 56", 0, "utime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseStatCPU = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestProcessCPUOfSelf(t *testing.T) {
	// Burn a little CPU so the reading is not a lucky zero at 10 ms ticks.
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	after, err := TotalCPU([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if after < before || x < 0 {
		t.Errorf("CPU went backwards: %v then %v", before, after)
	}
}
