// Package capture records the frames crossing one link of a network
// namespace (by default the sandbox's fabric bridge, which every inter-node
// packet crosses) into memory and a pcap file, and asserts things about
// them: a secret canary appears in no packet and no reassembled TCP stream,
// TCP payload flows only to allowed ports, and payload on the HBONE port
// looks like TLS records.
//
// Capturing uses an AF_PACKET socket (golang.org/x/sys/unix, no libpcap)
// in promiscuous mode: on a bridge that is what makes the kernel hand the
// bridge device a copy of frames forwarded between its ports, not only those
// addressed to the bridge itself. Files are written with gopacket/pcapgo.
package capture
