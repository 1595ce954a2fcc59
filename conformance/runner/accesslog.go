package runner

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The ztunnel access log, plain format (ambient-semantics.md §13, as the
// reference ztunnel writes it):
//
//	<RFC 3339 UTC time>\t<level>\taccess\t<message>\tk=v k=v ...
//
// Strings are Debug-quoted ("..." with Go/Rust escapes); addresses, numbers
// and booleans are bare. The runner reads it black-box, from the pod's log,
// so the format is parsed here rather than shared with the data plane.

// Access-log scope, messages and keys the runner relies on.
const (
	accessScope           = "access"
	msgConnectionComplete = "connection complete"
	keySrcAddr            = "src.addr"
	keySrcIdentity        = "src.identity"
	keyDstAddr            = "dst.addr"
	keyDstHBONEAddr       = "dst.hbone_addr"
	keyDirection          = "direction"
)

// TrafficDirection is the access-log direction field.
type TrafficDirection string

const (
	DirectionInbound  TrafficDirection = "inbound"
	DirectionOutbound TrafficDirection = "outbound"
)

// LogField is one k=v pair; Value is unquoted.
type LogField struct {
	Key, Value string
	Quoted     bool
}

// AccessLogEntry is one parsed access-log line.
type AccessLogEntry struct {
	Time    time.Time
	Level   string
	Message string
	Fields  []LogField
	Raw     string
}

// Get returns a field's value ("" when absent).
func (e *AccessLogEntry) Get(key string) string {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// Direction is the entry's direction field.
func (e *AccessLogEntry) Direction() TrafficDirection { return TrafficDirection(e.Get(keyDirection)) }

// AddrPort parses an address field; the zero value when absent or invalid.
func (e *AccessLogEntry) AddrPort(key string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(e.Get(key))
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// ParseAccessLogLine parses one plain-format line. Lines of other scopes
// (ztunnel's own diagnostics share the stream) are errors, so callers can
// skip them.
func ParseAccessLogLine(line string) (AccessLogEntry, error) {
	line = strings.TrimSuffix(line, "\n")
	parts := strings.SplitN(line, "\t", 5)
	if len(parts) < 4 {
		return AccessLogEntry{}, fmt.Errorf("not an access log line: want time, level, scope and message separated by tabs")
	}
	if parts[2] != accessScope {
		return AccessLogEntry{}, fmt.Errorf("scope %q, want %q", parts[2], accessScope)
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return AccessLogEntry{}, fmt.Errorf("time: %w", err)
	}
	e := AccessLogEntry{Time: t, Level: parts[1], Message: parts[3], Raw: line}
	if e.Level == "" || e.Message == "" {
		return AccessLogEntry{}, fmt.Errorf("empty level or message")
	}
	if len(parts) == 5 {
		if e.Fields, err = parseLogFields(parts[4]); err != nil {
			return AccessLogEntry{}, err
		}
	}
	return e, nil
}

// parseLogFields parses `k=v k="quoted v" ...`.
func parseLogFields(s string) ([]LogField, error) {
	var out []LogField
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("field %q: want key=value", truncate(s, 40))
		}
		key := s[:eq]
		if strings.ContainsAny(key, " \t\"") {
			return nil, fmt.Errorf("field key %q contains a space or quote", key)
		}
		s = s[eq+1:]
		f := LogField{Key: key}
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("field %s: bad quoted value: %w", key, err)
			}
			f.Value, _ = strconv.Unquote(q) // QuotedPrefix validated it
			f.Quoted = true
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			f.Value, s = s[:end], s[end:]
		}
		out = append(out, f)
		if s == "" {
			break
		}
		if s[0] != ' ' || len(s) == 1 {
			return nil, fmt.Errorf("field %s: want one space before the next field", key)
		}
		s = s[1:]
	}
	return out, nil
}

// ParseAccessLog parses every access line of a log, skipping other lines.
func ParseAccessLog(text string) []AccessLogEntry {
	var out []AccessLogEntry
	for _, line := range strings.Split(text, "\n") {
		if e, err := ParseAccessLogLine(line); err == nil {
			out = append(out, e)
		}
	}
	return out
}
