package istiod

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// ensureNodeBootstraps gives each node a bootstrap credential. One already
// on disk that this CA still honours for that node (same root, bound to
// the node, not expired) is kept until half its lifetime: after an istiod
// restart the running ztunnels hold exactly those files, so nothing is
// reissued. Past half life a new one replaces it (the old stays valid to
// its expiry), and the ztunnel switches to it on its next CA call
// (identity.Bootstrap.Current); istiod checks on every renewal tick.
func ensureNodeBootstraps(lay Layout, authority *ca.CA, c *topology.Cluster, log *slog.Logger, now time.Time) error {
	for _, n := range c.Nodes {
		dir := lay.BootstrapDir(n.Name)
		b, ok, renew := currentCredential(dir, authority, now)
		if ok && b.Node == n.Name && !renew {
			continue
		}
		certPEM, keyPEM, err := authority.IssueBootstrap(n.Name)
		if err != nil {
			return err
		}
		if err := writeCredentialDir(dir, certPEM, keyPEM, authority.RootsPEM()); err != nil {
			return err
		}
		log.Info("node bootstrap credential issued", "node", n.Name, "dir", dir, "renewal", ok && b.Node == n.Name)
	}
	return nil
}

// currentCredential loads the credential in dir and returns its binding if
// it is one this CA honours at now; a missing, unreadable or stale
// directory is simply not current. renew says a current one is past half
// its lifetime.
func currentCredential(dir string, authority *ca.CA, now time.Time) (b ca.Binding, ok, renew bool) {
	root, err := os.ReadFile(filepath.Join(dir, bootstrapRoot))
	if err != nil || !bytes.Equal(root, authority.RootsPEM()) {
		return ca.Binding{}, false, false
	}
	certPEM, err1 := os.ReadFile(filepath.Join(dir, bootstrapCert))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, bootstrapKey))
	if err1 != nil || err2 != nil {
		return ca.Binding{}, false, false
	}
	cred, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil || cred.Leaf == nil {
		return ca.Binding{}, false, false
	}
	v, err := identity.NewVerifier(authority.Bundle(), func() time.Time { return now })
	if err != nil {
		return ca.Binding{}, false, false
	}
	if _, err := v.VerifyRaw(cred.Certificate, identity.UsageClient); err != nil {
		return ca.Binding{}, false, false
	}
	b, ok = authority.BindingOf(cred.Leaf)
	leaf := cred.Leaf
	renew = !now.Before(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2))
	return b, ok, renew
}

// podCredentials keeps one pod-bound credential per waypoint pod of the
// current input in Layout.PodBootstrapDir, and removes the credentials
// (binding first, then files) of pods that are gone or changed.
type podCredentials struct {
	lay       Layout
	authority *ca.CA
	log       *slog.Logger
}

// wantedPodCredentials are the waypoint pods of c, by pod key.
func wantedPodCredentials(c *topology.Cluster) map[string]ca.PodRef {
	out := map[string]ca.PodRef{}
	for _, p := range c.Pods {
		if IsWaypoint(p) {
			out[p.Key()] = ca.PodRef{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Identity: podIdentity(c.TrustDomain, p)}
		}
	}
	return out
}

// sync makes the credentials match c and returns how many pods could not be
// handled (retried on the next tick, like pending enrollments).
func (pc *podCredentials) sync(c *topology.Cluster, now time.Time) int {
	want := wantedPodCredentials(c)
	failed := 0
	// Forget first: a credential must stop working before its files go.
	for _, bound := range pc.authority.BoundPods() {
		if w, ok := want[bound.Key()]; ok && w == bound {
			continue
		}
		if err := pc.retire(bound.Namespace, bound.Name); err != nil {
			pc.log.Error("retiring pod credential", "pod", bound.Key(), "error", err)
			failed++
		}
	}
	for key, ref := range want {
		dir := pc.lay.PodBootstrapDir(ref.Namespace, ref.Name)
		b, ok, renew := currentCredential(dir, pc.authority, now)
		if ok && b.Pod == ref {
			if !renew {
				continue
			}
			// Renewal: the running waypoint keeps the old credential
			// (still bound, valid to its expiry) until it reads this one.
			if err := pc.write(ref, dir); err != nil {
				pc.log.Error("renewing pod credential", "pod", key, "error", err)
				failed++
			}
			continue
		}
		if err := pc.issue(ref, dir); err != nil {
			pc.log.Error("issuing pod credential", "pod", key, "error", err)
			failed++
		}
	}
	failed += pc.removeOrphans(want)
	return failed
}

func (pc *podCredentials) issue(ref ca.PodRef, dir string) error {
	// Whatever is there is stale (another UID, another root, damaged):
	// unbind it, and let a reader see no directory rather than a mix.
	if err := pc.retire(ref.Namespace, ref.Name); err != nil {
		return err
	}
	return pc.write(ref, dir)
}

// write issues a credential for ref and writes it to dir.
func (pc *podCredentials) write(ref ca.PodRef, dir string) error {
	certPEM, keyPEM, err := pc.authority.IssuePodBootstrap(ref)
	if err != nil {
		return err
	}
	if err := writeCredentialDir(dir, certPEM, keyPEM, pc.authority.RootsPEM()); err != nil {
		return err
	}
	pc.log.Info("pod credential issued", "pod", ref.Key(), "identity", ref.Identity.String(), "dir", dir)
	return nil
}

// retire forgets every binding of the pod, then removes its directory.
func (pc *podCredentials) retire(namespace, name string) error {
	if err := pc.authority.ForgetPod(namespace, name); err != nil {
		return err
	}
	dir := pc.lay.PodBootstrapDir(namespace, name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("istiod: removing %s: %w", dir, err)
	}
	pc.log.Info("pod credential removed", "pod", namespace+"/"+name)
	return nil
}

// removeOrphans deletes pod credential directories nobody wants (left by a
// crash between forgetting a binding and removing the files) and empty
// namespace directories.
func (pc *podCredentials) removeOrphans(want map[string]ca.PodRef) int {
	root := pc.lay.podBootstrapRoot()
	nss, err := os.ReadDir(root)
	if err != nil {
		return 0 // none written yet
	}
	failed := 0
	for _, ns := range nss {
		pods, err := os.ReadDir(filepath.Join(root, ns.Name()))
		if err != nil {
			continue
		}
		kept := 0
		for _, p := range pods {
			if _, ok := want[ns.Name()+"/"+p.Name()]; ok {
				kept++
				continue
			}
			if err := pc.retire(ns.Name(), p.Name()); err != nil {
				pc.log.Error("removing orphaned pod credential", "pod", ns.Name()+"/"+p.Name(), "error", err)
				failed++
				kept++
			}
		}
		if kept == 0 {
			os.Remove(filepath.Join(root, ns.Name()))
		}
	}
	return failed
}

// writeCredentialDir replaces dir with a credential: cert and key, then
// the root, each 0600 via temporary file and rename. The root goes last so
// a reader that finds it finds a complete directory; an existing directory
// is removed first so no reader ever pairs a new certificate with an old
// key.
func writeCredentialDir(dir string, certPEM, keyPEM, rootPEM []byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{bootstrapCert, certPEM}, {bootstrapKey, keyPEM}, {bootstrapRoot, rootPEM}} {
		tmp := filepath.Join(dir, "."+f.name)
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}
