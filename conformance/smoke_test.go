package conformance

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// The simulator smoke profile: a two-node cluster from the httpbin example
// carries real HTTP between real processes through Services, cluster DNS and
// pod IPs — the base every mesh profile builds on.
var _ = Describe("Simulator smoke", Ordered, ContinueOnFailure, Label("SMOKE", "Core"), func() {
	var (
		e       *env
		client  = "clients/deploy/client"
		httpbin topology.Pod // a replica on another node than the client
		clientP topology.Pod
		nodes   = map[string]bool{}
		svc     topology.Service
	)

	BeforeAll(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		e, err = startEnv(ctx, 2, testutil.RepoRoot()+"/scenarios/examples/httpbin.yaml")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(e.close)
		m := e.c.Model()
		for _, p := range m.Pods {
			if p.Namespace == "clients" && p.OwnerName == "client" {
				clientP = p
			}
		}
		for _, p := range m.Pods {
			if p.Namespace == "demo" && p.OwnerName == "httpbin" {
				nodes[p.Node] = true
				if p.Node != clientP.Node {
					httpbin = p
				}
			}
		}
		for _, s := range m.Services {
			if s.Key() == "demo/httpbin" {
				svc = s
			}
		}
		Expect(httpbin.Name).NotTo(BeEmpty(), "httpbin pod")
		Expect(clientP.Name).NotTo(BeEmpty(), "client pod")
		Expect(svc.ClusterIP.IsValid()).To(BeTrue(), "httpbin ClusterIP")
	})

	It("spreads Deployment replicas over the nodes", func() {
		Expect(nodes).To(HaveLen(2))
	})

	curl := func(url string) execResult {
		GinkgoHelper()
		r, err := e.exec(client, "curl", "-sS", "--max-time", "10", url)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Code).To(Equal(0), "curl %s: stderr=%s", url, r.Stderr)
		return r
	}

	DescribeTable("reaches httpbin /headers",
		func(urlFor func() string) {
			r := curl(urlFor() + "/headers")
			var body struct{ Headers map[string]string }
			Expect(json.Unmarshal([]byte(r.Stdout), &body)).To(Succeed(), r.Stdout)
			Expect(body.Headers).To(HaveKey("User-Agent"))
		},
		Entry("by short Service name", func() string { return "http://httpbin.demo:8000" }),
		Entry("by FQDN", func() string { return "http://httpbin.demo.svc.cluster.local:8000" }),
		Entry("by ClusterIP", func() string { return "http://" + svc.ClusterIP.String() + ":8000" }),
		Entry("by pod IP on another node, on the target port", func() string { return "http://" + httpbin.IP.String() + ":80" }),
	)

	It("shows the client's pod IP at /ip (no NAT between pods)", func() {
		r := curl("http://httpbin.demo:8000/ip")
		var body struct{ Origin string }
		Expect(json.Unmarshal([]byte(r.Stdout), &body)).To(Succeed(), r.Stdout)
		Expect(body.Origin).To(Equal(clientP.IP.String()))
	})

	It("resolves a headless Service to its pod IPs", func() {
		r, err := e.exec(client, "getent", "ahostsv4", "httpbin-headless.demo.svc.cluster.local")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(httpbin.IP.String()))
		Expect(r.Stdout).NotTo(ContainSubstring(svc.ClusterIP.String()))
	})

	It("answers NXDOMAIN for names that do not exist", func() {
		r, err := e.exec(client, "getent", "hosts", "nope.demo.svc.cluster.local")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Code).To(Equal(2), "getent exit 2 = not found; got %q", r.Stdout)
	})

	It("reports what the echo server observed in Istio's Field=value format", func() {
		r := curl("http://httpbin.demo:8000/some/path")
		Expect(r.Stdout).To(ContainSubstring("IP=" + clientP.IP.String()))
		Expect(r.Stdout).To(ContainSubstring("URL=/some/path"))
		Expect(strings.ToLower(r.Stdout)).To(ContainSubstring("host=httpbin.demo:8000"))
	})
})
