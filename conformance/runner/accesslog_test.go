package runner

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pinnedLine is the reference ztunnel's plain line, as
// dataplane/ztunnel's TestAccessLogPlainFormat pins it.
const pinnedLine = "2026-11-22T03:05:06.789000Z\terror\taccess\tconnection complete\t" +
	`src.addr=10.0.0.1:4242 src.identity="spiffe://cluster.local/ns/a/sa/\"q\"" direction="inbound" bytes_sent=12 error="boom"`

func TestParseAccessLogLine(t *testing.T) {
	cases := []struct {
		name       string
		line       string
		wantErr    string
		wantMsg    string
		wantFields []LogField
	}{
		{name: "reference line", line: pinnedLine, wantMsg: "connection complete", wantFields: []LogField{
			{"src.addr", "10.0.0.1:4242", false}, {"src.identity", `spiffe://cluster.local/ns/a/sa/"q"`, true},
			{"direction", "inbound", true}, {"bytes_sent", "12", false}, {"error", "boom", true}}},
		{name: "no fields", line: "2026-01-02T03:04:05Z\tinfo\taccess\tconnection complete", wantMsg: "connection complete"},
		{name: "trailing newline", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\tk=v\n", wantMsg: "m", wantFields: []LogField{{"k", "v", false}}},
		{name: "quoted value with spaces and escapes", line: "2026-01-02T03:04:05Z\twarn\taccess\tconnection failed\t" + `error="policy rejection: \"x\" y" dst.addr=[::1]:80`,
			wantMsg: "connection failed", wantFields: []LogField{{"error", `policy rejection: "x" y`, true}, {"dst.addr", "[::1]:80", false}}},
		{name: "empty bare value", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\ta= b=1", wantMsg: "m", wantFields: []LogField{{"a", "", false}, {"b", "1", false}}},
		{name: "other scope", line: "2026-01-02T03:04:05Z\tinfo\txds\tconnected", wantErr: `scope "xds"`},
		{name: "not tab separated", line: "2026-01-02T03:04:05Z info access connection complete", wantErr: "not an access log line"},
		{name: "bad time", line: "yesterday\tinfo\taccess\tm", wantErr: "time"},
		{name: "unterminated quote", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\tk=\"abc", wantErr: "bad quoted value"},
		{name: "missing equals", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\tjustakey", wantErr: "want key=value"},
		{name: "two spaces", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\ta=\"1\"  b=2", wantErr: "field key"},
		{name: "garbage after quote", line: "2026-01-02T03:04:05Z\tinfo\taccess\tm\ta=\"1\"x", wantErr: "want one space"},
		{name: "empty message", line: "2026-01-02T03:04:05Z\tinfo\taccess\t", wantErr: "empty level or message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseAccessLogLine(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Message != tc.wantMsg || !reflect.DeepEqual(e.Fields, tc.wantFields) {
				t.Fatalf("got %q %#v\nwant %q %#v", e.Message, e.Fields, tc.wantMsg, tc.wantFields)
			}
		})
	}
	e, _ := ParseAccessLogLine(pinnedLine)
	if want := time.Date(2026, 11, 22, 3, 5, 6, 789000000, time.UTC); !e.Time.Equal(want) {
		t.Errorf("time %v, want %v", e.Time, want)
	}
	if e.Direction() != DirectionInbound || e.AddrPort(keySrcAddr) != netip.MustParseAddrPort("10.0.0.1:4242") || e.AddrPort("nope").IsValid() {
		t.Errorf("accessors: %s %s", e.Direction(), e.AddrPort(keySrcAddr))
	}
}

func TestParseAccessLogSkipsOtherLines(t *testing.T) {
	log := "2026-01-02T03:04:05Z\tinfo\tztunnel\tstarting\n" + pinnedLine + "\nnot a log line\n\n" +
		"2026-01-02T03:04:06Z\tinfo\taccess\tconnection complete\tdirection=\"outbound\"\n"
	got := ParseAccessLog(log)
	if len(got) != 2 || got[0].Get("error") != "boom" || got[1].Direction() != DirectionOutbound {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
}

// renderAccessLog writes an entry back in the plain format.
func renderAccessLog(e AccessLogEntry) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format(time.RFC3339Nano) + "\t" + e.Level + "\t" + accessScope + "\t" + e.Message)
	for i, f := range e.Fields {
		sep := byte(' ')
		if i == 0 {
			sep = '\t'
		}
		b.WriteByte(sep)
		b.WriteString(f.Key + "=")
		if f.Quoted {
			b.WriteString(strconv.Quote(f.Value))
		} else {
			b.WriteString(f.Value)
		}
	}
	return b.String()
}

// FuzzAccessLog: the parser never panics, and whatever it accepts renders
// back to a line it parses to the same entry.
func FuzzAccessLog(f *testing.F) {
	f.Add(pinnedLine)
	f.Add("2026-01-02T03:04:05Z\tinfo\taccess\tconnection complete\tsrc.addr=198.19.1.2:40000 dst.hbone_addr=198.19.0.3:80 direction=\"outbound\"")
	f.Add("2026-01-02T03:04:05Z\tinfo\taccess\tm\ta= b=\"\\u00e9\\x41\"")
	f.Add("x\ty\taccess\tz\tk=\"")
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseAccessLogLine(line)
		if err != nil {
			return
		}
		again, err := ParseAccessLogLine(renderAccessLog(e))
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", renderAccessLog(e), err)
		}
		if !again.Time.Equal(e.Time) || again.Level != e.Level || again.Message != e.Message || !reflect.DeepEqual(again.Fields, e.Fields) {
			t.Fatalf("round trip changed the entry:\n%#v\n%#v", e, again)
		}
	})
}
