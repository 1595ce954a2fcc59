package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// maxListed bounds how many offenders an assertion error names.
const maxListed = 5

// NoPlaintext fails when canary appears in any captured frame, or in any
// reassembled TCP stream (a canary cut across two segments is still
// plaintext on the wire). The error names where it was seen.
func NoPlaintext(packets []Packet, canary []byte) error {
	if len(canary) == 0 {
		return errors.New("no-plaintext check needs a non-empty canary")
	}
	var where []string
	seen := map[int]bool{}
	for i, p := range packets {
		if bytes.Contains(p.Data, canary) {
			seen[i] = true
			where = append(where, "frame "+describeFrame(i, p.Data))
		}
	}
	for _, f := range Flows(packets) {
		for _, dir := range []struct {
			st       *stream
			from, to netip.AddrPort
		}{{&f.toServer, f.Client, f.Server}, {&f.toClient, f.Server, f.Client}} {
			for _, c := range dir.st.reassemble() {
				if !bytes.Contains(c.data, canary) || slices.ContainsFunc(c.packets, func(i int) bool { return seen[i] }) {
					continue
				}
				where = append(where, fmt.Sprintf("TCP stream %s → %s, split across frames %s", dir.from, dir.to, frameList(c.packets)))
			}
		}
	}
	if len(where) == 0 {
		return nil
	}
	return fmt.Errorf("plaintext canary %q crossed the link %d time(s): %s", canary, len(where), listSome(where))
}

// describeFrame says which frame (1-based, as Wireshark numbers them) and,
// for TCP, which connection.
func describeFrame(i int, data []byte) string {
	if s, ok := tcpSegment(i, data); ok {
		return fmt.Sprintf("#%d (TCP %s → %s, %d payload bytes)", i+1, s.src, s.dst, len(s.payload))
	}
	return fmt.Sprintf("#%d (%d bytes)", i+1, len(data))
}

func frameList(idx []int) string {
	parts := make([]string, len(idx))
	for i, n := range idx {
		parts[i] = fmt.Sprintf("#%d", n+1)
	}
	return strings.Join(parts, ",")
}

func listSome(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:maxListed], "; ") + fmt.Sprintf("; and %d more", len(items)-maxListed)
}

// PayloadByServerPort sums the TCP payload bytes of flows by server port:
// the summary behind "all inter-node TCP payload is on port 15008".
func PayloadByServerPort(flows []*Flow) map[uint16]int {
	out := map[uint16]int{}
	for _, f := range flows {
		if n := f.ClientBytes + f.ServerBytes; n > 0 {
			out[f.Server.Port()] += n
		}
	}
	return out
}

// OnlyPorts fails when a flow carrying payload has a server port outside
// allowed. Flows with no payload (a refused SYN, bare ACKs) carry nothing
// that could leak and are ignored.
func OnlyPorts(flows []*Flow, allowed ...uint16) error {
	var bad []string
	for _, f := range flows {
		if f.ClientBytes+f.ServerBytes > 0 && !slices.Contains(allowed, f.Server.Port()) {
			bad = append(bad, f.String())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%d flow(s) carry TCP payload outside ports %v: %s", len(bad), allowed, listSome(bad))
}

// Involving returns the flows with addr at either end.
func Involving(flows []*Flow, addr netip.Addr) []*Flow {
	var out []*Flow
	for _, f := range flows {
		if f.Client.Addr() == addr || f.Server.Addr() == addr {
			out = append(out, f)
		}
	}
	return out
}
