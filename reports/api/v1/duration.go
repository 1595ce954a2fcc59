package v1

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes as Go duration text
// ("1.25s") rather than integer nanoseconds, so reports stay readable.
type Duration time.Duration

// D converts for callers holding a time.Duration.
func D(d time.Duration) Duration { return Duration(d) }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses Go duration text.
func (d *Duration) UnmarshalText(b []byte) error {
	p, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(p)
	return nil
}
