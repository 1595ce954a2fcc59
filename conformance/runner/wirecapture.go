package runner

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/ambientlab/ambientlab/sim/capture"
)

// hbonePort is where ztunnels tunnel pod traffic between nodes (HBONE).
const hbonePort = 15008

// WireEvidence is what a capture on the fabric showed for one probe.
type WireEvidence struct {
	// File is the pcap, relative to the dump root (empty when none is kept).
	File    string `json:"file,omitempty"`
	Link    string `json:"link"`
	Packets int    `json:"packets"`
	Canary  string `json:"canary"`
	// Flows are the TCP connections of the source pod seen on the link.
	Flows []string `json:"flows,omitempty"`
}

// wireAttempt is one attempt's capture, kept until the step ends so the
// last attempt's pcap can be written.
type wireAttempt struct {
	packets  []capture.Packet
	evidence WireEvidence
}

// checkNoPlaintext judges a capture taken around a probe from the pod at
// src: it must be complete, must have seen the probe's traffic (or it
// proves nothing), must not contain the canary, and HBONE payload must be
// TLS records.
func checkNoPlaintext(pkts []capture.Packet, st capture.Stats, canary string, src netip.Addr) (WireEvidence, string) {
	ev := WireEvidence{Link: st.Interface, Packets: st.Packets, Canary: canary}
	flows := capture.Involving(capture.Flows(pkts), src)
	carried := 0
	for _, f := range flows {
		v, _ := f.TLS()
		ev.Flows = append(ev.Flows, fmt.Sprintf("%s [%s]", f, v))
		carried += f.ClientBytes + f.ServerBytes
	}
	if err := st.Complete(); err != nil {
		return ev, "no plaintext: " + err.Error()
	}
	if err := capture.NoPlaintext(pkts, []byte(canary)); err != nil {
		return ev, "no plaintext: " + err.Error()
	}
	if carried == 0 {
		return ev, fmt.Sprintf("no plaintext: the capture on %s (%d frames) saw no TCP payload to or from %s, so it proves nothing: "+
			"the probe did not cross nodes (place source and destination on different nodes)", st.Interface, st.Packets, src)
	}
	if _, err := capture.OnlyTLSOnPort(flows, hbonePort); err != nil {
		return ev, "no plaintext: " + err.Error()
	}
	return ev, ""
}

// keepCapture writes the attempt's pcap under the dump root and records its
// relative path; without a dump root the summary is the only evidence.
func (e *env) keepCapture(step int, w *wireAttempt) {
	if e.opts.DumpRoot == "" || w == nil {
		return
	}
	rel := filepath.Join(e.name, "captures", fmt.Sprintf("step-%02d.pcap", step+1))
	if err := capture.WritePcap(filepath.Join(e.opts.DumpRoot, rel), w.packets); err != nil {
		e.opts.Log.Warn("capture not kept", "scenario", e.name, "err", err)
		return
	}
	w.evidence.File = rel
}
