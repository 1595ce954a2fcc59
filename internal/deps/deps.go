//go:build tools

// Package deps pins the modules the project builds on so `go mod tidy` keeps them.
package deps

import (
	_ "github.com/containernetworking/plugins/pkg/ns"
	_ "github.com/google/nftables"
	_ "github.com/gopacket/gopacket"
	_ "github.com/miekg/dns"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "go.uber.org/goleak"
	_ "golang.org/x/net/http2"
	_ "golang.org/x/sys/unix"
	_ "istio.io/api/security/v1"
	_ "istio.io/client-go/pkg/apis/security/v1"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/runtime/serializer"
	_ "k8s.io/client-go/kubernetes/scheme"
	_ "sigs.k8s.io/gateway-api/apis/v1"
	_ "sigs.k8s.io/yaml"
)
