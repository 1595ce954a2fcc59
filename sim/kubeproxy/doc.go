// Package kubeproxy gives the simulated nodes Kubernetes Service semantics for
// traffic the mesh does not capture: ClusterIP VIPs are DNATed to ready
// endpoints chosen at random, Services without endpoints are rejected, and a pod
// reaching itself through its own Service is masqueraded (hairpin). Headless
// Services get no rules, as in Kubernetes.
//
// The rules live in one nftables table, "ip ambientlab-kube-proxy", inside a
// node's network namespace. Its layout follows kube-proxy's nftables mode
// (kubernetes pkg/proxy/nftables/proxier.go): base chains hooked at
// prerouting/output (DNAT) and postrouting (masquerade), a "service-ips"
// verdict map keyed by "ip daddr . meta l4proto . th dport", one chain per
// Service port with a "numgen random mod N" verdict map over one chain per
// endpoint, a "mark-for-masquerade"/"masquerading" pair for hairpin, and a
// "no-endpoint-services" map checked from filter chains that jumps to a
// reject chain. Deliberate differences from kube-proxy:
//   - no masquerade for traffic from outside the cluster CIDR: the simulated
//     fabric routes pod IPs, so the source IP is preserved except for hairpin;
//   - no NodePorts, LoadBalancers, external IPs, session affinity, traffic
//     policies or topology hints;
//   - the reject chain answers TCP with a reset (kube-proxy: ICMP
//     port-unreachable for everything), because ICMP errors are rate-limited
//     per peer together with the ICMP redirects hairpin traffic causes, which
//     turned refusals into 1 s SYN retransmissions; other protocols still get
//     ICMP port-unreachable;
//   - no conntrack cleanup for UDP flows to removed endpoints.
//
// Sync programs the table through netlink (github.com/google/nftables) in one
// atomic batch and never enters the namespace; Render prints the same table in
// nft syntax for golden tests and failure dumps. This package does not create
// namespaces, links or routes (that is sim/netns); the node must already forward
// (net.ipv4.ip_forward=1) and route the Service CIDR somewhere, or packets to a
// VIP without endpoints never reach the forward hook that rejects them.
package kubeproxy
