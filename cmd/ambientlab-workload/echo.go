package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ambientlab/ambientlab/sim/workload/echo"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

// shutdownGrace is how long in-flight requests get after SIGTERM.
const shutdownGrace = 2 * time.Second

func runEcho(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rt runtimeFlags
	rt.register(fs)
	httpPorts := fs.String("http", "", "comma-separated HTTP (HTTP/1.1 + h2c) ports")
	tcpPorts := fs.String("tcp", "", "comma-separated raw TCP echo ports")
	pod := fs.String("pod", "", "pod as namespace/name")
	node := fs.String("node", "", "node name")
	sa := fs.String("sa", "", "service account")
	cluster := fs.String("cluster", "", "cluster name")
	hostname := fs.String("hostname", "", "pod hostname (default: the pod name)")
	version := fs.String("version", "", "version label reported as ServiceVersion")
	listenIP := fs.String("listen-ip", "0.0.0.0", "address to bind every port on")
	seed := fs.Uint64("seed", 0, "seed for weighted /status and ?codes= picks and /bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rt.apply()

	cfg := echo.Config{ListenIP: *listenIP, Log: stdout, ErrorLog: stderr, Seed: *seed}
	var err error
	if cfg.HTTPPorts, err = parsePorts(*httpPorts); err != nil {
		return err
	}
	if cfg.TCPPorts, err = parsePorts(*tcpPorts); err != nil {
		return err
	}
	if len(cfg.HTTPPorts)+len(cfg.TCPPorts) == 0 {
		return fmt.Errorf("%w: need at least one --http or --tcp port", errUsage)
	}
	ns, name, ok := strings.Cut(*pod, "/")
	if *pod != "" && (!ok || ns == "" || name == "") {
		return fmt.Errorf("%w: --pod %q: want namespace/name", errUsage, *pod)
	}
	if *hostname == "" {
		*hostname = name
	}
	cfg.Identity = echo.Identity{
		Namespace: ns, Pod: name, Node: *node, ServiceAccount: *sa,
		Cluster: *cluster, Hostname: *hostname, Version: *version,
	}

	// Subscribe before binding so a SIGTERM sent right after readiness is not lost.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := echo.Start(cfg)
	if err != nil {
		return err
	}
	if err := ready.Signal(); err != nil {
		fmt.Fprintf(stderr, "ambientlab-workload echo: %v\n", err)
	}
	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Cutting stragglers after the grace period is the expected outcome of a
		// stop, not a failure of the workload.
		fmt.Fprintf(stderr, "ambientlab-workload echo: %v\n", err)
	}
	return nil
}

func runIdle(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rt runtimeFlags
	rt.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rt.apply()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	if err := ready.Signal(); err != nil {
		fmt.Fprintf(stderr, "ambientlab-workload idle: %v\n", err)
	}
	<-sig
	return nil
}
