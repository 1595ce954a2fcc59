package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/sim/netns"
)

// Defaults bound a capture so a runaway flow cannot exhaust memory or hang
// a run: evidence for one probe is a few hundred packets.
const (
	DefaultMaxPackets  = 100_000
	DefaultMaxBytes    = 64 << 20
	DefaultMaxDuration = 2 * time.Minute
	// DefaultSnapLen keeps whole frames: a canary may sit anywhere in one.
	DefaultSnapLen = 262144
)

// Options say where to capture and how much.
type Options struct {
	// Netns holds the link; nil means the calling thread's namespace.
	Netns *netns.NS
	// Interface is the link; default the fabric bridge (netns.BridgeName).
	Interface string
	// MaxPackets, MaxBytes (of captured frame data) and MaxDuration stop
	// recording once reached; Stats says whether a bound was hit.
	MaxPackets  int
	MaxBytes    int
	MaxDuration time.Duration
	SnapLen     int
}

func (o *Options) defaults() {
	if o.Interface == "" {
		o.Interface = netns.BridgeName
	}
	if o.MaxPackets <= 0 {
		o.MaxPackets = DefaultMaxPackets
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.SnapLen <= 0 {
		o.SnapLen = DefaultSnapLen
	}
}

// Packet is one captured frame (Ethernet) and when it was seen.
type Packet struct {
	Info gopacket.CaptureInfo
	Data []byte
}

// StopReason says why recording ended.
type StopReason int

const (
	StoppedByCaller StopReason = iota + 1
	StoppedMaxPackets
	StoppedMaxBytes
	StoppedMaxDuration
	StoppedReadError
)

func (r StopReason) String() string {
	switch r {
	case StoppedByCaller:
		return "stopped"
	case StoppedMaxPackets:
		return "packet limit reached"
	case StoppedMaxBytes:
		return "byte limit reached"
	case StoppedMaxDuration:
		return "time limit reached"
	case StoppedReadError:
		return "read error"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// Stats describe a finished capture.
type Stats struct {
	Interface string
	Packets   int
	Bytes     int
	Reason    StopReason
	// KernelDrops counts frames the socket's buffer overflowed on; any
	// drop makes "X never appeared" unprovable.
	KernelDrops uint32
	ReadErr     error
}

// Capture is a running capture. Stop ends it.
type Capture struct {
	opts Options
	fd   int
	done chan struct{}
	// stopping asks the reader to drain what is queued and return; the
	// first reason recorded wins.
	stopping chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	packets []Packet
	bytes   int
	reason  StopReason
	readErr error
	drops   uint32
}

// pollTimeout is how long one receive blocks: how soon the reader notices
// Stop or the time bound.
const pollTimeout = 20 * time.Millisecond

// rcvBuf is the socket buffer asked for: room for bursts while the reader
// copies frames out.
const rcvBuf = 8 << 20

// Start opens a promiscuous AF_PACKET socket on the link and records until
// Stop or a bound.
func Start(opts Options) (*Capture, error) {
	opts.defaults()
	fd := -1
	open := func() error {
		ifi, err := net.InterfaceByName(opts.Interface)
		if err != nil {
			return err
		}
		fd, err = openPacketSocket(ifi.Index)
		return err
	}
	var err error
	if opts.Netns != nil {
		err = opts.Netns.Do(open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", opts.Interface, err)
	}
	c := &Capture{opts: opts, fd: fd, done: make(chan struct{}), stopping: make(chan struct{})}
	go c.record()
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openPacketSocket(ifindex int) (int, error) {
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	setup := func() error {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		// On a bridge, promiscuous mode is what delivers frames forwarded
		// between ports to the bridge device, where the socket sees them.
		mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
			return fmt.Errorf("promiscuous mode: %w", err)
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf) // unprivileged: best effort
		}
		tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}
	if err := setup(); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// record reads frames until a bound is hit, or Stop is called and the
// socket's queue is empty: every frame that crossed the link before Stop is
// already queued (the kernel hands a copy to the socket as it forwards the
// frame), so draining makes the capture complete up to Stop.
func (c *Capture) record() {
	defer close(c.done)
	defer unix.Close(c.fd)
	deadline := time.Now().Add(c.opts.MaxDuration)
	buf := make([]byte, c.opts.SnapLen)
	stopping := false
	for {
		if !stopping {
			select {
			case <-c.stopping:
				stopping = true
			default:
			}
		}
		n, _, err := unix.Recvfrom(c.fd, buf, unix.MSG_TRUNC)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if stopping {
				c.finish(StoppedByCaller, nil)
				return
			}
			if time.Now().After(deadline) {
				c.finish(StoppedMaxDuration, nil)
				return
			}
			continue
		case err != nil:
			c.finish(StoppedReadError, err)
			return
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), Length: n, CaptureLength: min(n, len(buf))}
		c.mu.Lock()
		c.packets = append(c.packets, Packet{Info: ci, Data: bytes.Clone(buf[:ci.CaptureLength])})
		c.bytes += ci.CaptureLength
		full := StopReason(0)
		switch {
		case len(c.packets) >= c.opts.MaxPackets:
			full = StoppedMaxPackets
		case c.bytes >= c.opts.MaxBytes:
			full = StoppedMaxBytes
		case time.Now().After(deadline):
			full = StoppedMaxDuration
		}
		c.mu.Unlock()
		if full != 0 {
			c.finish(full, nil)
			return
		}
	}
}

// finish records why recording ended and the kernel's drop count.
func (c *Capture) finish(r StopReason, err error) {
	var drops uint32
	if st, serr := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); serr == nil {
		drops = st.Drops
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reason, c.readErr, c.drops = r, err, drops
}

// Stop ends the capture once every frame queued so far is recorded, and
// returns what it recorded. Stop may be called more than once.
func (c *Capture) Stop() ([]Packet, Stats) {
	c.stopOnce.Do(func() { close(c.stopping) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets, Stats{Interface: c.opts.Interface, Packets: len(c.packets), Bytes: c.bytes,
		Reason: c.reason, KernelDrops: c.drops, ReadErr: c.readErr}
}

// Complete reports whether the capture saw everything that crossed the link
// while it ran: no bound was hit, the kernel dropped nothing and reading
// never failed. An incomplete capture cannot prove an absence.
func (s Stats) Complete() error {
	switch {
	case s.Reason != StoppedByCaller:
		return fmt.Errorf("capture on %s incomplete: %s after %d packets (%v)", s.Interface, s.Reason, s.Packets, s.ReadErr)
	case s.KernelDrops > 0:
		return fmt.Errorf("capture on %s incomplete: the kernel dropped %d frames", s.Interface, s.KernelDrops)
	}
	return nil
}

// Available reports whether AF_PACKET capture works in the calling thread's
// network namespace (it needs CAP_NET_RAW), so a runner can decide whether
// it has the packet-capture capability without capturing anything.
func Available() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return fmt.Errorf("AF_PACKET sockets are not permitted here (need CAP_NET_RAW): %w", err)
		}
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	return unix.Close(fd)
}
