package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// sysctl is one /proc/sys setting. /proc/sys/net resolves against the network
// namespace of the thread that opens the file, so these must be written from a
// thread inside the target namespace (New's setup, or NS.Do).
type sysctl struct {
	key   string // dotted, e.g. "net.ipv4.ip_forward"
	value string
	// optional settings are skipped when the kernel lacks them (IPv6 compiled
	// out, tcp_migrate_req before Linux 5.14).
	optional bool
}

// Settings per namespace role. rp_filter is off everywhere because pod
// traffic enters nodes through per-pod veths whose reverse path differs from
// the forward one once redirection (ztunnel, kube-proxy) is in play. IPv6 is
// disabled to avoid DAD and router-solicitation noise on every new veth.
var (
	commonSysctls = []sysctl{
		{key: "net.ipv4.conf.all.rp_filter", value: "0"},
		{key: "net.ipv4.conf.default.rp_filter", value: "0"},
		{key: "net.ipv6.conf.all.disable_ipv6", value: "1", optional: true},
		{key: "net.ipv6.conf.default.disable_ipv6", value: "1", optional: true},
	}
	// Forwarders answer unroutable packets with ICMP unreachable at full rate
	// (the default limit is ~1/s per peer), so a pod dialing outside the plan
	// fails at once instead of timing out after a few attempts.
	forwardingSysctls = append([]sysctl{
		{key: "net.ipv4.ip_forward", value: "1"},
		{key: "net.ipv4.icmp_ratelimit", value: "0"},
	}, commonSysctls...)
	// Pods set tcp_migrate_req before any listener exists, so a reuseport
	// listener group (ztunnel handoff) migrates its queue instead of resetting it.
	podSysctls = append([]sysctl{{key: "net.ipv4.tcp_migrate_req", value: "1", optional: true}}, commonSysctls...)
)

func applySysctls(list []sysctl) error {
	for _, s := range list {
		path := "/proc/sys/" + strings.ReplaceAll(s.key, ".", "/")
		err := os.WriteFile(path, []byte(s.value), 0o644)
		if err != nil && s.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", s.key, s.value, err)
		}
	}
	return nil
}
