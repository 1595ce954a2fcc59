package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Files of a CA state directory (Open). The PEM names follow Istio's
// istio-ca-secret (ca-cert.pem, ca-key.pem) and cacerts plug-in
// (cert-chain.pem, root-cert.pem) layouts.
const (
	CAKeyFile     = "ca-key.pem"              // the signer's PKCS#8 key
	CACertFile    = "ca-cert.pem"             // the signer (root, or intermediate)
	CertChainFile = "cert-chain.pem"          // intermediates appended after leaves; empty when the root signs
	RootCertFile  = "root-cert.pem"           // the root, the mesh trust bundle
	BindingsFile  = "bootstrap-bindings.json" // bootstrap certificate serial → node or pod
)

// stateFiles in the order a new state is written: the root last, so its
// presence means the signing material is complete.
var stateFiles = []string{BindingsFile, CertChainFile, CACertFile, CAKeyFile, RootCertFile}

// store is a CA state directory.
type store struct{ dir string }

func (s *store) path(name string) string { return filepath.Join(s.dir, name) }

// Open returns the CA kept in dir, creating it (a fresh root, as New) when
// dir holds no CA state. Every bootstrap binding issued or forgotten later
// is written to dir before the call returns. Files are 0600 and replaced
// atomically (temporary file, fsync, rename). A partial or corrupt state is
// an error naming the file: Open never silently replaces a root that
// credentials in the field chain to. opts.Intermediate only shapes a new
// CA; a loaded one keeps the chain it has.
func Open(opts Options, dir string) (*CA, error) {
	td, log, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: state dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: state dir: %w", err)
	}
	s := &store{dir: dir}
	var present, missing []string
	for _, f := range stateFiles {
		switch _, err := os.Lstat(s.path(f)); {
		case err == nil:
			present = append(present, f)
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f)
		default:
			return nil, fmt.Errorf("ca: %w", err)
		}
	}
	if len(present) == 0 {
		m, err := generate(opts, td)
		if err != nil {
			return nil, err
		}
		c := fromMaterial(opts, td, log, m)
		c.store = s
		if err := s.create(m); err != nil {
			return nil, err
		}
		log.Info("CA created", "dir", dir, "root_serial", serialKey(m.root), "root_not_after", m.root.NotAfter)
		return c, nil
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("ca: incomplete CA state in %s: %s missing (present: %s); refusing to create a new root over it, remove the directory to start over",
			dir, strings.Join(missing, ", "), strings.Join(present, ", "))
	}
	m, err := s.loadMaterial(td)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(s.path(BindingsFile))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	c := fromMaterial(opts, td, log, m)
	c.store = s
	bindings, err := parseBindings(raw, c)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", s.path(BindingsFile), err)
	}
	c.mu.bindings = bindings
	c.mu.Lock()
	err = c.persistLocked() // drops bindings that expired while we were down
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	log.Info("CA loaded", "dir", dir, "root_serial", serialKey(m.root), "bindings", len(bindings))
	return c, nil
}

// create writes a new state, root last.
func (s *store) create(m *material) error {
	der, err := x509.MarshalPKCS8PrivateKey(m.key)
	if err != nil {
		return fmt.Errorf("ca: encode key: %w", err)
	}
	var chain strings.Builder
	for _, c := range m.chain {
		chain.WriteString(encodeCert(c))
	}
	if err := s.writeBindings(nil); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{CertChainFile, []byte(chain.String())},
		{CACertFile, []byte(encodeCert(m.signer))},
		{CAKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		{RootCertFile, []byte(encodeCert(m.root))},
	} {
		if err := writeFileAtomic(s.path(f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// loadMaterial reads and cross-checks the signing material: one self-signed
// root of trust domain td, a signer that chains to it through the stored
// intermediates, and the signer's key. Every error names its file.
func (s *store) loadMaterial(td spiffeid.TrustDomain) (*material, error) {
	read := func(name string, allowEmpty bool) ([]*x509.Certificate, error) {
		b, err := os.ReadFile(s.path(name))
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		certs, err := parsePEMCertificates(b)
		if err == nil && len(certs) == 0 && !allowEmpty {
			err = errors.New("no CERTIFICATE block")
		}
		if err != nil {
			return nil, fmt.Errorf("ca: %s: %w", s.path(name), err)
		}
		return certs, nil
	}
	roots, err := read(RootCertFile, false)
	if err != nil {
		return nil, err
	}
	signers, err := read(CACertFile, false)
	if err != nil {
		return nil, err
	}
	chain, err := read(CertChainFile, true)
	if err != nil {
		return nil, err
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("ca: %s: %s", s.path(name), fmt.Sprintf(format, args...))
	}
	if len(roots) != 1 || len(signers) != 1 {
		return nil, bad(RootCertFile+" / "+CACertFile, "want exactly one certificate each, have %d and %d", len(roots), len(signers))
	}
	root, signer := roots[0], signers[0]
	now := time.Now()
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		return nil, bad(RootCertFile, "not a self-signed CA certificate")
	}
	if len(root.URIs) != 1 || root.URIs[0].String() != td.ID().String() {
		return nil, bad(RootCertFile, "root is for %v, want trust domain %s", root.URIs, td.Name())
	}
	if now.After(root.NotAfter) {
		return nil, bad(RootCertFile, "root expired at %s", root.NotAfter.Format(time.RFC3339))
	}
	if !signer.IsCA {
		return nil, bad(CACertFile, "not a CA certificate")
	}
	if (len(chain) == 0) != signer.Equal(root) {
		return nil, bad(CACertFile, "must be the root when %s is empty, and an intermediate otherwise", CertChainFile)
	}
	if len(chain) > 0 && !chain[0].Equal(signer) {
		return nil, bad(CertChainFile, "must start with the signer of %s", CACertFile)
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := signer.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, bad(CACertFile, "does not chain to %s: %v", RootCertFile, err)
	}
	key, err := s.loadKey(signer)
	if err != nil {
		return nil, err
	}
	return &material{root: root, signer: signer, key: key, chain: chain}, nil
}

func (s *store) loadKey(signer *x509.Certificate) (crypto.Signer, error) {
	path := s.path(CAKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("ca: %s: want exactly one PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", path, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: %s: key type %T cannot sign", path, k)
	}
	if !publicKeyEqual(key.Public(), signer.PublicKey) {
		return nil, fmt.Errorf("ca: %s: key does not match the certificate in %s", path, CACertFile)
	}
	return key, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// parsePEMCertificates accepts only CERTIFICATE blocks and whitespace.
func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(strings.TrimSpace(string(b))) != 0 {
		return nil, errors.New("trailing data that is not PEM (truncated or corrupt file)")
	}
	return out, nil
}

func (s *store) writeBindings(b map[string]Binding) error {
	data, err := encodeBindings(b)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path(BindingsFile), data)
}

// writeFileAtomic replaces path with data, mode 0600: a temporary file in
// the same directory, synced, renamed over path, then the directory synced,
// so a crash leaves either the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("ca: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("ca: write %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ca: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ca: write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ca: write %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ca: write %s: sync directory: %w", path, err)
	}
	return nil
}
