package lifecycle

import (
	"runtime"
	"testing"
)

// TestApplyMaxProcs: a proxy's P cap is applied and restored, and an
// operator's GOMAXPROCS environment variable always wins.
func TestApplyMaxProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	restore := ApplyMaxProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS = %d while applied, want 1", got)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS = %d after restore, want %d", got, before)
	}
	ApplyMaxProcs(0)()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("MaxProcs 0 changed GOMAXPROCS to %d", got)
	}
	t.Setenv("GOMAXPROCS", "7")
	restore = ApplyMaxProcs(1)
	defer restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("with GOMAXPROCS set by the operator, ApplyMaxProcs changed it to %d", got)
	}
}
