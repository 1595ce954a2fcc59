package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
)

// pollInterval is the pause between attempts of a converging check: short,
// so time to consistency is measured to about this resolution.
const pollInterval = 100 * time.Millisecond

// attempt runs one try of a check and says whether it passed and, if not, why.
type attempt func(ctx context.Context) (ok bool, why string)

// convergeResult is how a converging check went.
type convergeResult struct {
	ok       bool
	attempts int
	// consistentAfter is when the final streak began (eventually) or 0.
	consistentAfter time.Duration
	why             string
}

// converge repeats try per c: eventually needs c.Consecutive passes in a row
// before c.Timeout (Gateway API's AwaitConvergence); consistently needs
// every try to pass for c.Duration. Tries are paced by pollInterval, never by
// longer sleeps.
func converge(ctx context.Context, c scenarios.Convergence, try attempt) convergeResult {
	start := time.Now()
	var r convergeResult
	switch c.Mode {
	case scenarios.ConvergeConsistently:
		deadline := start.Add(c.Duration)
		for {
			r.attempts++
			ok, why := try(ctx)
			if !ok {
				r.why = fmt.Sprintf("%s (attempt %d, %s into a %s consistently window)", why, r.attempts, since(start), c.Duration)
				return r
			}
			if time.Now().After(deadline) || !sleepCtx(ctx, pollInterval) {
				r.ok = ctx.Err() == nil
				if !r.ok {
					r.why = ctx.Err().Error()
				}
				return r
			}
		}
	default:
		deadline := start.Add(c.Timeout)
		streak, passes, streakStart := 0, 0, time.Duration(0)
		lastWhy := ""
		for {
			r.attempts++
			at := time.Since(start)
			ok, why := try(ctx)
			if ok {
				if streak == 0 {
					streakStart = at
				}
				streak++
				passes++
				if streak >= c.Consecutive {
					r.ok, r.consistentAfter = true, streakStart
					return r
				}
			} else {
				streak, lastWhy = 0, why
			}
			if time.Now().After(deadline) || !sleepCtx(ctx, pollInterval) {
				r.why = fmt.Sprintf("%s\n(not %d consecutive passes within %s: %d attempts, %d passed)",
					lastWhy, c.Consecutive, c.Timeout, r.attempts, passes)
				return r
			}
		}
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
