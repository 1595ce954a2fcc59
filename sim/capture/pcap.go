package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// WritePcap writes packets as a classic pcap file (Ethernet link type), the
// evidence artefact a reader opens in Wireshark or tcpdump -r.
func WritePcap(path string, packets []Packet) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	bw := bufio.NewWriter(f)
	if err := writePcap(bw, packets); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return bw.Flush()
}

func writePcap(w io.Writer, packets []Packet) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(uint32(DefaultSnapLen), layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, p := range packets {
		ci := p.Info
		// A hand-made Packet may leave the lengths unset; the file must
		// still say how long the frame is.
		if ci.CaptureLength != len(p.Data) {
			ci.CaptureLength = len(p.Data)
		}
		if ci.Length < ci.CaptureLength {
			ci.Length = ci.CaptureLength
		}
		if err := pw.WritePacket(ci, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// ReadPcap reads a pcap file written by WritePcap (or any Ethernet pcap).
func ReadPcap(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("read %s: link type %s, want Ethernet", path, r.LinkType())
	}
	var out []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %s: packet %d: %w", path, len(out)+1, err)
		}
		out = append(out, Packet{Info: ci, Data: data})
	}
}
