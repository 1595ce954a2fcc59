package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/ambientlab/ambientlab/sim/workload/clusterdns/dnsserver"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

func runDNS(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rt runtimeFlags
	rt.register(fs)
	listen := fs.String("listen", "0.0.0.0:53", "UDP and TCP address to serve on")
	zonePath := fs.String("zone", "", "zone file (JSON) written by the supervisor; reloaded on SIGHUP")
	logQueries := fs.Bool("log-queries", false, "log one line per query to stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *zonePath == "" {
		return fmt.Errorf("%w: --zone is required", errUsage)
	}
	rt.apply()

	zone, err := dnsserver.LoadZone(*zonePath)
	if err != nil {
		return err
	}
	srv := dnsserver.NewServer(zone)
	if *logQueries {
		srv.OnQuery = func(remote net.Addr, q dns.Question, rcode int) {
			fmt.Fprintf(stdout, "%s dns %s %s %s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
				remote, dns.TypeToString[q.Qtype], q.Name, dns.RcodeToString[rcode])
		}
	}
	// Subscribe before serving so that no signal arrives unhandled.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(term)

	if err := srv.Start(*listen); err != nil {
		return err
	}
	if err := ready.Signal(); err != nil {
		fmt.Fprintf(stderr, "ambientlab-workload dns: %v\n", err)
	}
	for {
		select {
		case <-hup:
			// A bad zone keeps the old one serving: a DNS outage is worse than stale records.
			z, err := dnsserver.LoadZone(*zonePath)
			if err != nil {
				fmt.Fprintf(stderr, "ambientlab-workload dns: reload failed, keeping the previous zone: %v\n", err)
				continue
			}
			srv.SetZone(z)
			fmt.Fprintf(stderr, "ambientlab-workload dns: zone reloaded (%d services, %d pods)\n", len(z.Services), len(z.Pods))
		case <-term:
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				fmt.Fprintf(stderr, "ambientlab-workload dns: shutdown: %v\n", err)
			}
			return nil
		}
	}
}
