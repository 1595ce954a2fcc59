package hbone

import (
	"crypto/tls"
)

// alpnH2 is the only protocol HBONE negotiates; there is no h2c and no
// HTTP/1.1 fallback.
const alpnH2 = "h2"

// EnforceTLS returns a clone of cfg pinned to TLS 1.3 and ALPN h2, whatever
// cfg asked for. Both Dialer and Server apply it; callers building listeners
// for Server.ServeConn should apply it too.
func EnforceTLS(cfg *tls.Config) *tls.Config {
	var c *tls.Config
	if cfg == nil {
		c = &tls.Config{}
	} else {
		c = cfg.Clone()
	}
	c.MinVersion = tls.VersionTLS13
	c.MaxVersion = tls.VersionTLS13
	c.NextProtos = []string{alpnH2}
	return c
}

// checkNegotiated verifies what the handshake actually produced, because a
// server's tls.Conn may have been built from a caller's unconstrained config.
func checkNegotiated(st tls.ConnectionState) error {
	if st.Version != tls.VersionTLS13 {
		return ErrTLSVersion
	}
	if st.NegotiatedProtocol != alpnH2 {
		return ErrALPN
	}
	return nil
}
