package ca

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// NodeAuthorizer answers "does a pod running as id currently run on node?".
// The control plane implements it from the cluster model; answers may
// change at any time (pods come and go), so it is asked on every request.
type NodeAuthorizer interface {
	IdentityOnNode(node string, id identity.Identity) bool
}

// ServerOptions configures a Server.
type ServerOptions struct {
	CA         *CA
	Authorizer NodeAuthorizer
	// Pods authorizes pod-bound credentials (IssuePodBootstrap); nil
	// refuses every one of them.
	Pods PodAuthorizer
	// ServerName is the DNS SAN of the serving certificate.
	ServerName string
	// MaxConcurrentRequests bounds in-flight signings; a request that cannot
	// get a slot within QueueTimeout is refused with ResourceExhausted.
	MaxConcurrentRequests int
	QueueTimeout          time.Duration
	// HandshakeTimeout bounds the TLS handshake of a new connection.
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

// DefaultServerOptions returns hardened defaults for ca and authz.
func DefaultServerOptions(ca *CA, authz NodeAuthorizer) ServerOptions {
	return ServerOptions{
		CA: ca, Authorizer: authz,
		ServerName:            identity.DefaultCAServerName,
		MaxConcurrentRequests: 64,
		QueueTimeout:          2 * time.Second,
		HandshakeTimeout:      10 * time.Second,
	}
}

// Server is IstioCertificateService over gRPC+TLS.
type Server struct {
	pb.UnimplementedIstioCertificateServiceServer

	opts     ServerOptions
	log      *slog.Logger
	verifier *identity.Verifier
	slots    chan struct{}
	grpc     *grpc.Server

	serving struct {
		sync.Mutex
		cert *tls.Certificate
	}
}

// NewServer validates opts and builds the gRPC server (not yet serving).
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.CA == nil || opts.Authorizer == nil {
		return nil, errors.New("ca: NewServer: CA and Authorizer are required")
	}
	if opts.MaxConcurrentRequests <= 0 || opts.QueueTimeout <= 0 || opts.HandshakeTimeout <= 0 || opts.ServerName == "" {
		return nil, fmt.Errorf("ca: NewServer: invalid options %+v", opts)
	}
	v, err := identity.NewVerifier(opts.CA.Bundle(), nil)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, verifier: v, slots: make(chan struct{}, opts.MaxConcurrentRequests)}
	tlsCfg := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		// Callers are authenticated in the handler, against the SPIFFE
		// rules, so a wrong certificate yields Unauthenticated (as istio)
		// rather than an opaque handshake failure. No certificate at all
		// fails the handshake: there is no token authentication here.
		ClientAuth:     tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.servingCert() },
	}
	// Hardening (reliability-tests §6): handshake deadline, bounded
	// message, header and stream sizes, keepalive with eviction of idlers.
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsCfg)),
		grpc.ConnectionTimeout(opts.HandshakeTimeout),
		grpc.MaxRecvMsgSize(opts.CA.opts.MaxCSRBytes+4<<10),
		grpc.MaxHeaderListSize(64<<10),
		grpc.MaxConcurrentStreams(200),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 5 * time.Minute, Time: 10 * time.Second, Timeout: 20 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second}),
	)
	pb.RegisterIstioCertificateServiceServer(s.grpc, s)
	return s, nil
}

// Serve accepts connections on lis until Stop; it blocks, so the caller owns
// the goroutine. It returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Stop closes listeners and connections and cancels in-flight requests.
func (s *Server) Stop() { s.grpc.Stop() }

// servingCert returns the serving certificate, re-issuing it past half life.
func (s *Server) servingCert() (*tls.Certificate, error) {
	s.serving.Lock()
	defer s.serving.Unlock()
	if c := s.serving.cert; c != nil {
		half := c.Leaf.NotBefore.Add(c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) / 2)
		if time.Now().Before(half) {
			return c, nil
		}
	}
	c, err := s.opts.CA.ServingCertificate(s.opts.ServerName)
	if err != nil {
		return nil, err
	}
	s.serving.cert = c
	return c, nil
}

// CreateCertificate authenticates the caller, decides the SAN (never from
// the CSR), and signs. Error codes follow istio server.go: Unauthenticated
// for authentication and impersonation failures (opaque message, reason
// logged), InvalidArgument for CSR and TTL errors, Internal otherwise.
func (s *Server) CreateCertificate(ctx context.Context, req *pb.IstioCertificateRequest) (*pb.IstioCertificateResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-s.slots }()

	who, err := s.authenticate(ctx)
	if err != nil {
		s.log.Warn("CSR authentication failed", "peer", peerAddr(ctx), "error", err)
		return nil, status.Error(codes.Unauthenticated, "request authenticate failure")
	}
	caller, node := who.id, who.node
	impersonated := req.GetMetadata().GetFields()[identity.ImpersonatedIdentityKey].GetStringValue()
	var san identity.Identity
	if who.podCredential {
		// A pod credential stands for a bound token: authenticated, but
		// allowed one identity only, so a refusal is PermissionDenied and
		// says why (the holder is the pod itself, not a stranger).
		if san, err = s.authorizePod(caller, who.pod, impersonated); err != nil {
			var de *DenyError
			errors.As(err, &de)
			s.log.Warn("pod credential refused", "caller", caller.String(), "pod", who.pod.Key(), "requested", impersonated, "error", err)
			return nil, status.Errorf(codes.PermissionDenied, "pod credential may not obtain this certificate: %s", de.Reason)
		}
	} else if san, err = s.authorize(caller, node, impersonated); err != nil {
		s.log.Warn("impersonation refused", "caller", caller.String(), "node", node, "requested", impersonated, "error", err)
		return nil, status.Error(codes.Unauthenticated, "request impersonation authentication failure")
	}
	var ttl time.Duration
	switch secs, maxSecs := req.GetValidityDuration(), int64(s.opts.CA.opts.MaxTTL/time.Second); {
	case secs <= 0:
		ttl = 0 // the CA's default
	case secs > maxSecs:
		// Clamp before multiplying (overflow); the CA refuses anything
		// above the cap, so the refusal is unchanged.
		ttl = time.Duration(maxSecs+1) * time.Second
	default:
		ttl = time.Duration(secs) * time.Second
	}
	chain, err := s.opts.CA.Sign([]byte(req.GetCsr()), san, ttl)
	if err != nil {
		var ce *Error
		code := codes.Internal
		if errors.As(err, &ce) && (ce.Kind == KindCSR || ce.Kind == KindTTL) {
			code = codes.InvalidArgument
		}
		s.log.Info("CSR signing error", "identity", san.String(), "error", err)
		return nil, status.Errorf(code, "CSR signing error (%v)", err)
	}
	if who.podCredential {
		s.log.Debug("certificate issued", "caller", caller.String(), "pod", who.pod.Key(), "identity", san.String())
	} else {
		s.log.Debug("certificate issued", "caller", caller.String(), "node", node, "identity", san.String())
	}
	return &pb.IstioCertificateResponse{CertChain: chain}, nil
}

func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.opts.QueueTimeout)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-t.C:
		return status.Error(codes.ResourceExhausted, "CA busy, retry later")
	}
}

// caller is an authenticated client of the CA.
type caller struct {
	id   identity.Identity
	node string // the node of a node account's bound bootstrap certificate
	// podCredential marks a pod bootstrap certificate; pod is its binding
	// (zero once forgotten).
	podCredential bool
	pod           PodRef
}

// authenticate verifies the caller's TLS client certificate as an SVID of
// our trust domain and finds what its bootstrap certificate, if it is one,
// is bound to.
func (s *Server) authenticate(ctx context.Context) (caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return caller{}, errors.New("no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return caller{}, errors.New("not a TLS connection")
	}
	certs := ti.State.PeerCertificates
	id, err := s.verifier.Verify(certs, identity.UsageClient)
	if err != nil {
		return caller{}, err
	}
	c := caller{id: id}
	switch {
	case IsPodBootstrap(certs[0]):
		c.podCredential = true
		c.pod, _ = s.opts.CA.PodOf(certs[0])
	case id == s.opts.CA.NodeAccount():
		c.node, _ = s.opts.CA.NodeOf(certs[0])
	}
	return c, nil
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
