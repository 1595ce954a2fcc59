package workloadapi

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

// FuzzXDSResource feeds arbitrary bytes through the xDS edge as an Address
// and as an Authorization: conversion must never panic, and whatever it
// accepts must be internally consistent (every workload reachable by each of
// its IPs, every service by each VIP, a dump that renders).
func FuzzXDSResource(f *testing.F) {
	w := wireWorkload("uid", "ns", "name", "198.19.0.2")
	w.Services = map[string]*workloadapi.PortList{"ns/svc.ns.svc.cluster.local": {Ports: []*workloadapi.Port{{ServicePort: 80, TargetPort: 8080}}}}
	for _, m := range []proto.Message{
		asWorkload(w), asService(wireService("ns", "svc", "198.18.16.20", 80, 8080)),
		wireAllowFrom("ns", "p", "cluster.local/ns/ns/sa/x"),
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		addr := &workloadapi.Address{}
		if proto.Unmarshal(b, addr) == nil {
			if s, err := FromWire([]*workloadapi.Address{addr}, nil); err == nil {
				checkConsistent(t, s)
			}
		}
		auth := &security.Authorization{}
		if proto.Unmarshal(b, auth) == nil {
			if s, err := FromWire(nil, []*security.Authorization{auth}); err == nil {
				if s.Policies().Len() != 1 {
					t.Fatalf("accepted authorization missing from policies")
				}
				checkConsistent(t, s)
			}
		}
	})
}

func checkConsistent(t *testing.T, s *Snapshot) {
	for _, w := range s.Workloads() {
		for _, ip := range w.IPs {
			if got, ok := s.WorkloadByIP(ip); !ok || got != w {
				t.Fatalf("workload %q not found by its IP %v", w.UID, ip)
			}
		}
		if w.Protocol != TunnelTCP && w.Protocol != TunnelHBONE {
			t.Fatalf("invalid protocol %v accepted", w.Protocol)
		}
	}
	for _, svc := range s.Services() {
		for _, ip := range svc.VIPs {
			if got, ok := s.ServiceByVIP(ip); !ok || got != svc {
				t.Fatalf("service %s not found by VIP %v", svc.Key(), ip)
			}
		}
	}
	if _, err := s.Dump(); err != nil {
		t.Fatalf("Dump: %v", err)
	}
}
